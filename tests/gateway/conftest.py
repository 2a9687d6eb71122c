"""Test-only compatibility shim for aioresponses on aiohttp >= 3.14.

aiohttp 3.14 (a security release we do not want to avoid) added a required `stream_writer`
argument to `ClientResponse`, which aioresponses 0.7.x does not pass (upstream issue
pnuckowski/aioresponses#289, open). aioresponses builds responses from the `ClientResponse` name
in its own module, so pointing that name at a subclass that supplies a stand-in writer is
enough. Nothing outside the tests is touched.
"""

from __future__ import annotations

import inspect
from typing import Any
from unittest.mock import Mock

import aioresponses.core
from aiohttp import ClientResponse

if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:

    class _CompatResponse(ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", Mock(output_size=0))
            super().__init__(*args, **kwargs)

    aioresponses.core.ClientResponse = _CompatResponse  # type: ignore[misc]
