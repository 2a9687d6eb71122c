"""The rig every fault runs in: a real exporter on a loopback port, scraped over HTTP, with two
gateways, `faulty` (the one the fault is done to) and `healthy` (the control whose metrics must
not move), and every log record captured.

The exporter is the production wiring (`Targets`, `Exporter`, `make_app`) with the production
session timings; only the gateway `timeout` (2 s) and the scrape timeout header (2 s) are
short, so a fault costs seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from ccgw_simulator import GatewaySimulator
from exporter.app import reload_function
from exporter.collector import GatewayTarget
from exporter.config import load_config
from exporter.targets import Targets
from exporter.web import Exporter, make_app

SCRAPE_TIMEOUT = 2.0  # sent as X-Prometheus-Scrape-Timeout-Seconds; /metrics must answer in it
GATEWAY_TIMEOUT = "2s"  # each gateway's `timeout`
FAULTY, HEALTHY = "faulty", "healthy"
HEALTHY_CONFERENCES = 3


class Metrics:
    """One exposition, parsed with prometheus_client's own parser (so it is also validated)."""

    def __init__(self, text: str) -> None:
        self.samples = [
            (sample.name, sample.labels, float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def matching(self, name: str, labels: dict[str, str]) -> list[float]:
        return [
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The one sample with these labels; a missing or ambiguous series is a test error."""
        found = self.matching(name, labels)
        if len(found) != 1:
            raise KeyError(f"{name}{labels}: {len(found)} samples")
        return found[0]

    def total(self, name: str, **labels: str) -> float:
        """Sum over every sample with these labels (0 when there is none)."""
        return sum(self.matching(name, labels))


@dataclass
class Scrape:
    """One GET of /metrics as Prometheus does it, and what was logged while it ran."""

    status: int
    seconds: float
    text: str
    started: float  # event-loop time
    logs: list[logging.LogRecord] = field(default_factory=list)
    metrics: Metrics | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.seconds < SCRAPE_TIMEOUT and self.metrics is not None

    def gauge(self, name: str, gateway: str = FAULTY) -> float:
        assert self.metrics is not None, f"HTTP {self.status}: {self.text[:200]}"
        return self.metrics.value(name, gateway=gateway)

    def counter(self, name: str, gateway: str = FAULTY, **labels: str) -> float:
        assert self.metrics is not None, f"HTTP {self.status}: {self.text[:200]}"
        return self.metrics.total(name, gateway=gateway, **labels)


class LogCapture(logging.Handler):
    """Every record any exporter logger emits, with the text the real formatter would write."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        # The exporter's own formatter, in both formats: what an operator's log shipper gets.
        from exporter.logs import _Formatter

        self._formatters = (_Formatter("logfmt"), _Formatter("json"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.extend(f.format(record) for f in self._formatters)

    def since(self, index: int) -> list[logging.LogRecord]:
        return self.records[index:]


def gateway_of(record: logging.LogRecord) -> str | None:
    fields = getattr(record, "kv", None)
    return fields.get("gateway") if isinstance(fields, dict) else None


def about(records: Iterable[logging.LogRecord], gateway: str) -> list[logging.LogRecord]:
    return [r for r in records if gateway_of(r) == gateway]


class Rig:
    """The exporter under test, its config file, its simulators and an HTTP client for it."""

    def __init__(self, directory: Path, password: str) -> None:
        self.directory = directory
        self.password = password
        self.path = directory / "exporter.yaml"
        self.password_file = directory / "gateway.password"
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        self.sims: dict[str, GatewaySimulator] = {}
        self.targets: Targets | None = None
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None
        self.logs = LogCapture()
        self.scrapes: list[Scrape] = []
        self.answers: list[str] = []  # every body the exporter served, for the secrets test
        self.undo: list[Callable[[], object]] = []  # test-only patches to take back at close
        self.extra: dict[str, Any] = {}  # what a fault case keeps between its steps

    # -- set-up ------------------------------------------------------------------------------

    def entry(self, name: str, sim: GatewaySimulator, **overrides: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "url": sim.url,
            "agent_id": "153",
            "password_file": str(self.password_file),
            "timeout": GATEWAY_TIMEOUT,
        }
        if sim.ca_file:
            entry["tls"] = {"ca_file": sim.ca_file}
        entry.update(overrides)
        return entry

    def write_config(self, gateways: list[dict[str, Any]]) -> None:
        self.path.write_text(yaml.safe_dump({"gateways": gateways}))

    async def start(self, gateways: list[dict[str, Any]]) -> None:
        self.write_config(gateways)
        self.targets = Targets(load_config(self.path).config, path=str(self.path))
        # The lifecycle API on (as with --web.enable-lifecycle): the secrets test reloads bad
        # configs through it.
        app = make_app(Exporter(self.targets), reloader=reload_function(self.targets, None))
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.http = aiohttp.ClientSession()
        self.targets.start()

    async def close(self) -> None:
        for undo in reversed(self.undo):
            undo()
        if self.http is not None:
            await self.http.close()
        if self.server is not None:
            await self.server.close()
        if self.targets is not None:
            await self.targets.stop()

    def target(self, name: str = FAULTY) -> GatewayTarget:
        assert self.targets is not None
        target = self.targets.get(name)
        assert target is not None
        return target

    async def wait(self, predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError(f"{what} not met within {timeout}s")
            await asyncio.sleep(0.01)

    # -- scraping ----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        assert self.http is not None
        async with self.http.request(
            method, self.url(path), timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT + 5)
        ) as resp:
            text = await resp.text()
        self.answers.append(text)
        return resp.status, text

    async def scrape(self, path: str = "/metrics") -> Scrape:
        """As Prometheus scrapes: the timeout header, and a client that gives up after it."""
        assert self.http is not None
        loop = asyncio.get_running_loop()
        mark = len(self.logs.records)
        started = loop.time()
        headers = {"X-Prometheus-Scrape-Timeout-Seconds": f"{SCRAPE_TIMEOUT:g}"}
        try:
            async with self.http.get(
                self.url(path),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT + 5),
            ) as resp:
                status, text = resp.status, await resp.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            status, text = 0, f"no answer: {error!r}"
        seconds = loop.time() - started
        self.answers.append(text)
        scrape = Scrape(status, seconds, text, started)
        if status == 200:
            scrape.metrics = Metrics(text)
        scrape.logs = self.logs.since(mark)
        self.scrapes.append(scrape)
        return scrape
