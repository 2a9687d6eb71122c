"""The transport bound: a bare aiohttp client making the exporter's calls, and nothing else.

Discovery, then ceil(N/20) `queryconfinfos` POSTs by `concurrency` workers pulling from one
queue, over keep-alive connections, bodies read and discarded (or kept, for the CPU
comparison). No parsing, no models, no rendering: whatever time this takes, an exporter cannot
beat, so the exporter's scrape time is judged against it (floor 1).

With `decode=True` it is the naive client of floor 6: every body also goes through
`json.loads`, which is what fetching and decoding the answers "the plain way" costs. Its CPU
is the yardstick the exporter's whole process is held to.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from .answers import Answers
from .procs import BARE_AGENT

BATCH = 20
_API = "/agentgateway/resource/"
_JSON = {"Content-Type": "application/json; charset=UTF-8"}


@dataclass(frozen=True, slots=True)
class TransportRun:
    wall: float
    cpu: float  # of this (the bench's) process, in seconds
    calls: int
    body_bytes: int
    answers: Answers | None = None


class Endpoint(Protocol):
    """A simulator to talk to: the bench's process, or a test's in-process one."""

    @property
    def url(self) -> str: ...

    @property
    def ca_file(self) -> str | None: ...


def client_ssl(sim: Endpoint) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=sim.ca_file) if sim.ca_file else True


class BareClient:
    """Signed in as its own inspector; one keep-alive session, like the exporter's client."""

    def __init__(self, sim: Endpoint, concurrency: int) -> None:
        self.sim = sim
        self.concurrency = concurrency
        self._base = sim.url + _API
        self._headers = dict(_JSON)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency + 2, ssl=client_ssl(sim)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )

    async def close(self) -> None:
        await self._http.close()

    async def sign_in(self) -> None:
        """forceloginex: a fresh Guid whatever the state of an earlier session, no licence
        and no phonenum (which forcelogin requires, cec_07_1203)."""
        agent, password = BARE_AGENT
        async with self._http.put(
            f"{self._base}onlineagent/{agent}/forceloginex",
            data=json.dumps({"password": password}),
            headers=_JSON,
        ) as response:
            body = await response.json(content_type=None)
            guid = response.headers.get("Set-GUID", "")
        if body.get("retcode") != "0" or "=" not in guid:
            raise RuntimeError(f"bare client sign-in failed: {body}")
        self._headers = {**_JSON, "Guid": guid.split("=", 1)[1].split(";", 1)[0]}

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from the simulator")
        guid = response.headers.get("Set-GUID")
        if guid and "=" in guid:
            self._headers = {**_JSON, "Guid": guid.split("=", 1)[1].split(";", 1)[0]}
        return body

    async def collect(self, *, keep: bool = False, decode: bool = False) -> TransportRun:
        """One collection's calls; the bodies are kept only when asked (the CPU comparison),
        and decoded with `json.loads` when asked (floor 6's naive client)."""
        agent = BARE_AGENT[0]
        cpu, started = time.process_time(), time.perf_counter()
        async with self._http.get(
            f"{self._base}agentconf/{agent}/queryvdnconfid", headers=self._headers
        ) as response:
            discovery = await self._read(response)
        ids = json.loads(discovery)["result"]["confIds"]
        batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
        bodies: list[bytes] = [b""] * len(batches)
        received = 0
        pending = iter(enumerate(batches))
        url = f"{self._base}agentconf/{agent}/queryconfinfos"

        async def worker() -> None:
            nonlocal received
            for index, batch in pending:
                async with self._http.post(
                    url, data=json.dumps({"confIds": batch}), headers=self._headers
                ) as response:
                    body = await self._read(response)
                if decode:
                    json.loads(body)
                received += len(body)
                if keep:
                    bodies[index] = body

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(batches)) or 1)))
        wall = time.perf_counter() - started
        answers = Answers(discovery, tuple(bodies)) if keep else None
        return TransportRun(
            wall, time.process_time() - cpu, 1 + len(batches), len(discovery) + received, answers
        )
