"""HTTP to the two processes: scrapes of the exporter, and the simulator's admin API.

A scrape is timed from sending the request to the last byte of the body, as Prometheus sees it,
and checked: a fast scrape that lost conferences or failed calls would be no result at all.
"""

from __future__ import annotations

import gzip
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from .procs import Exporter, Simulator
from .transport import client_ssl

TEXT = "text/plain;version=0.0.4"
OPENMETRICS = "application/openmetrics-text;version=1.0.0"
# What Prometheus sends: the scrape's budget, which becomes the collection's deadline (-0.5 s).
SCRAPE_TIMEOUT = "10"


class ScrapeError(RuntimeError):
    """A scrape that did not produce a complete, successful collection."""


@dataclass(frozen=True, slots=True)
class Scrape:
    wall: float
    status: int
    wire_bytes: int  # as sent (compressed when gzip was negotiated)
    body: bytes  # decompressed
    content_type: str

    def gauge(self, name: str) -> float:
        """A gateway-level value of this scrape, e.g. `ccgw_conferences`."""
        match = re.search(rb"^" + name.encode() + rb'\{gateway="bench"\} (\S+)$', self.body, re.M)
        if match is None:
            raise ScrapeError(f"{name} missing from the scrape")
        return float(match.group(1))

    def check(self, conferences: int) -> None:
        """Complete: up, no failed call, every conference of the population reported."""
        if self.status != 200:
            raise ScrapeError(f"HTTP {self.status}: {self.body[:200]!r}")
        up, failed = self.gauge("ccgw_up"), self.gauge("ccgw_collection_failed_requests")
        seen = self.gauge("ccgw_conferences")
        if up != 1 or failed != 0 or seen != conferences:
            raise ScrapeError(
                f"incomplete collection: up={up:g} failed={failed:g} "
                f"conferences={seen:g} of {conferences}"
            )


class ExporterClient:
    def __init__(self, exporter: Exporter) -> None:
        self.url = exporter.url
        # No automatic decompression: the compressed size is one of the results.
        self._http = aiohttp.ClientSession(auto_decompress=False)
        self.scrapes = 0

    async def close(self) -> None:
        await self._http.close()

    async def ready(self) -> bool:
        async with self._http.get(self.url + "/-/ready") as response:
            await response.read()
            return response.status == 200

    async def scrape(self, *, accept: str = TEXT, gzipped: bool = False) -> Scrape:
        headers = {
            "Accept": accept,
            "Accept-Encoding": "gzip" if gzipped else "identity",
            "X-Prometheus-Scrape-Timeout-Seconds": SCRAPE_TIMEOUT,
        }
        started = time.perf_counter()
        async with self._http.get(self.url + "/metrics", headers=headers) as response:
            raw = await response.read()
            wall = time.perf_counter() - started
            encoding = response.headers.get("Content-Encoding", "")
            content_type = response.headers.get("Content-Type", "")
            status = response.status
        self.scrapes += 1
        body = gzip.decompress(raw) if encoding == "gzip" else raw
        if gzipped and encoding != "gzip":
            raise ScrapeError("asked for gzip, got an uncompressed answer")
        return Scrape(wall, status, len(raw), body, content_type)


class SimulatorAdmin:
    """The few admin calls the scenarios need (see simulator/README.md)."""

    def __init__(self, sim: Simulator) -> None:
        self._base = sim.url + "/simulator"
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl(sim)))

    async def close(self) -> None:
        await self._http.close()

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        async with self._http.request(method, self._base + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                raise RuntimeError(f"simulator {method} {path}: {response.status} {data}")
            return data

    async def population(self, conferences: int) -> int:
        answer = await self._json("PUT", "/population", {"conferences": conferences})
        return int(answer["count"])

    async def replace(self, count: int, conferences: int) -> None:
        """End `count` conferences and start as many new ones (new IDs): churn between scrapes."""
        await self.population(conferences - count)
        await self.population(conferences)

    async def latency(self, ms: float) -> None:
        await self._json("PUT", "/faults", {"latency_ms": ms})

    async def calls(self) -> dict[str, int]:
        stats = await self._json("GET", "/stats")
        return {str(k): int(v) for k, v in stats["calls"].items()}
