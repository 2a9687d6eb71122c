"""Child processes for the end-to-end tests: found, started, awaited, and always stopped.

The machinery is tests/support (shared with bench/ and soak/); this adds what only the e2e
suite needs: binaries that are skipped on a developer's machine but required in CI, and the
names the e2e modules use. Every process logs to its own file, command line first, because a
failure in the middle of a 30-second run is explained by what Prometheus or the exporter said
at the time, not by the test's traceback; conftest.py attaches the tails of these files to a
failing test's report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from ..support import Process as _Process
from ..support import free_port, http_status, start_with_port

__all__ = [
    "STOP_GRACE",
    "Process",
    "find_binary",
    "free_port",
    "http_status",
    "start_with_port",
    "stop_all",
    "wait_for_listen_address",
    "wait_until_ready",
]

#: How long a process gets to stop on SIGTERM before SIGKILL (the exporter signs out first).
STOP_GRACE = 5.0


def find_binary(names: Sequence[str], package: str) -> str:
    """The first of `names` on PATH. Missing: a skip on a developer's machine, a failure in
    CI (CI=true), so that a CI image without the binaries cannot pass by skipping."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    message = f"{' or '.join(names)} not found (Debian: apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class Process(_Process):
    """A support Process whose log starts with its command line."""

    announce: bool = True


def wait_until_ready(process: _Process, url: str, timeout: float) -> None:
    """Poll `url` until it answers 200; fail at once, with the log, if the process dies."""
    process.wait_for_http(url, timeout)


def wait_for_listen_address(process: _Process, timeout: float) -> str:
    """The exporter binds port 0 and logs where it listens: read the address from its log."""
    return process.wait_listening(timeout)


def stop_all(processes: Sequence[_Process]) -> None:
    """Stop in reverse start order; one failing stop must not leave the others running."""
    for process in reversed(processes):
        with contextlib.suppress(Exception):
            process.stop(STOP_GRACE)
