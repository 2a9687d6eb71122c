"""The five floors of issue 5 and issue 18's whole-process CPU ratio (floor 6), one scenario
each, run against the two processes.

Every scenario returns a dataclass of what it measured; `report.py` turns them into the table
and the JSON. The scenarios only measure; which numbers meet which floor is decided in
`floors.py`, so the thresholds live in one place.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from exporter.exposition import Renderer

from . import pipeline, reference
from .answers import counters_for
from .clients import OPENMETRICS, TEXT, ExporterClient, Scrape, SimulatorAdmin
from .procs import Exporter, Simulator, promtool
from .transport import BATCH, BareClient


@dataclass
class Bench:
    """The running processes and the clients every scenario shares."""

    sim: Simulator
    exporter: Exporter
    admin: SimulatorAdmin
    scraper: ExporterClient
    bare: BareClient
    workdir: Path
    conferences: int = 0  # the simulator's population right now

    async def population(self, conferences: int) -> None:
        if conferences != self.conferences:
            count = await self.admin.population(conferences)
            if count != conferences:
                raise RuntimeError(f"simulator holds {count} conferences, not {conferences}")
            self.conferences = conferences

    async def scrape(self, **kwargs: bool | str) -> Scrape:
        result = await self.scraper.scrape(**kwargs)  # type: ignore[arg-type]
        result.check(self.conferences)
        return result

    async def calls_of(self, scrapers: int) -> tuple[int, int, list[Scrape]]:
        """(queryConfInfos, queryAllConfIds) calls the simulator counted while `scrapers`
        scrapes arrived at once, and the scrapes."""
        before = await self.admin.calls()
        scrapes = await asyncio.gather(*(self.scrape() for _ in range(scrapers)))
        after = await self.admin.calls()
        return (
            after.get("queryConfInfos", 0) - before.get("queryConfInfos", 0),
            after.get("queryAllConfIds", 0) - before.get("queryAllConfIds", 0),
            list(scrapes),
        )


def expected_calls(conferences: int) -> int:
    return math.ceil(conferences / BATCH)


# -- floor 1: wall time against the transport bound ---------------------------------------------


@dataclass
class LatencyRow:
    conferences: int
    latency_ms: float
    transport_s: list[float]
    scrape_s: list[float]
    collection_s: list[float]  # the exporter's own ccgw_collection_duration_seconds
    query_calls: list[int]  # per scrape, counted at the simulator
    discovery_calls: list[int]

    @property
    def ratio(self) -> float:
        return statistics.median(self.scrape_s) / statistics.median(self.transport_s)


async def latency(bench: Bench, conferences: int, latency_ms: float, runs: int) -> LatencyRow:
    """Bare client and exporter alternately, so that both see the same machine load."""
    await bench.population(conferences)
    await bench.admin.latency(latency_ms)
    await bench.bare.sign_in()
    await bench.bare.collect()  # warm: connections open on both sides
    await bench.scrape()
    row = LatencyRow(conferences, latency_ms, [], [], [], [], [])
    for _ in range(runs):
        row.transport_s.append((await bench.bare.collect()).wall)
        queries, discoveries, (scrape,) = await bench.calls_of(1)
        row.scrape_s.append(scrape.wall)
        row.collection_s.append(scrape.gauge("ccgw_collection_duration_seconds"))
        row.query_calls.append(queries)
        row.discovery_calls.append(discoveries)
    return row


# -- floor 2: CPU --------------------------------------------------------------------------------


@dataclass
class CpuResult:
    conferences: int
    scrapes: int
    exporter_cpu_s: float  # per scrape, whole exporter process (network included)
    simulator_cpu_s: float  # per collection, the simulator answering it
    transport_cpu_s: float  # per collection, the bare client (bench process)
    parse_s: list[float]  # in-process: the exporter's code on the kept answers
    render_s: list[float]
    reference_s: list[float]  # in-process: prometheus_client on the same answers
    answer_bytes: int
    output_bytes: int
    reference_bytes: int
    # Connections the exporter held to the simulator before the scrapes, and those opened
    # during them (0: keep-alive reuse, no TCP or TLS handshake per scrape).
    connections: int = 0
    new_connections: int = 0

    def per_conference_us(self, seconds: float) -> float:
        return seconds / self.conferences * 1e6

    @property
    def exporter_inprocess_s(self) -> float:
        return statistics.median(p + r for p, r in zip(self.parse_s, self.render_s, strict=True))

    @property
    def ratio(self) -> float:
        return statistics.median(self.reference_s) / self.exporter_inprocess_s


async def cpu(
    bench: Bench, conferences: int, scrapes: int, runs: int, reference_runs: int
) -> CpuResult:
    await bench.population(conferences)
    await bench.admin.latency(0)
    await bench.bare.sign_in()
    await bench.scrape()
    port = int(bench.sim.url.rsplit(":", 1)[1])
    open_before = bench.exporter.connections_to(port)
    started, sim_started = bench.exporter.cpu_seconds(), bench.sim.cpu_seconds()
    for _ in range(scrapes):
        await bench.scrape()
    exporter_cpu = (bench.exporter.cpu_seconds() - started) / scrapes
    simulator_cpu = (bench.sim.cpu_seconds() - sim_started) / scrapes
    open_after = bench.exporter.connections_to(port)
    transport = [await bench.bare.collect() for _ in range(scrapes)]
    kept = (await bench.bare.collect(keep=True)).answers
    assert kept is not None
    renderer, counters = Renderer(), counters_for(kept)
    timings = [pipeline.timed_scrape(renderer, kept, counters) for _ in range(runs)]
    reference_s, reference_bytes = [], 0
    for _ in range(reference_runs):
        gc.collect()
        before = time.process_time()
        reference_bytes = len(reference.scrape(kept, counters))
        reference_s.append(time.process_time() - before)
    return CpuResult(
        conferences=conferences,
        scrapes=scrapes,
        exporter_cpu_s=exporter_cpu,
        simulator_cpu_s=simulator_cpu,
        transport_cpu_s=statistics.median(t.cpu for t in transport),
        parse_s=[t.parse for t in timings],
        render_s=[t.render for t in timings],
        reference_s=reference_s,
        answer_bytes=kept.size,
        output_bytes=timings[-1].output_bytes,
        reference_bytes=reference_bytes,
        connections=len(open_before),
        new_connections=len(open_after - open_before),
    )


# -- floor 6: the whole exporter process against the naive client ------------------------------


@dataclass
class RatioRow:
    """CPU of one whole scrape (the exporter process: fetch, decode, parse, activity, render,
    serve) and of the naive client making the same calls (aiohttp + `json.loads`, in the
    bench's process), run alternately so that both see the same machine load."""

    conferences: int
    latency_ms: float
    concurrency: int
    exporter_cpu_s: list[float]  # per scrape, utime+stime of the exporter process
    naive_cpu_s: list[float]  # per collection, process time of the naive client
    load: list[float] = field(default_factory=list)  # 1-minute load average before and after

    @property
    def ratio(self) -> float:
        return statistics.median(self.exporter_cpu_s) / statistics.median(self.naive_cpu_s)

    def per_conference_us(self, seconds: list[float]) -> float:
        return statistics.median(seconds) / self.conferences * 1e6


async def cpu_ratio(
    bench: Bench, conferences: int, latency_ms: float, runs: int, concurrency: int
) -> RatioRow:
    """Floor 6. The exporter's CPU is read from /proc around each scrape (10 ms clock ticks:
    a scrape of 10,000 conferences is ~30 of them), the naive client's with `process_time`.
    One warm-up of each first (connections open, the exporter's first sight of the
    population counted as starts, not steady state)."""
    await bench.population(conferences)
    await bench.admin.latency(latency_ms)
    await bench.bare.sign_in()
    await bench.bare.collect(decode=True)
    await bench.scrape()
    row = RatioRow(conferences, latency_ms, concurrency, [], [], [os.getloadavg()[0]])
    for _ in range(runs):
        row.naive_cpu_s.append((await bench.bare.collect(decode=True)).cpu)
        before = bench.exporter.cpu_seconds()
        await bench.scrape()
        row.exporter_cpu_s.append(bench.exporter.cpu_seconds() - before)
    row.load.append(os.getloadavg()[0])
    return row


# -- floor 3: memory -----------------------------------------------------------------------------


@dataclass
class MemoryResult:
    conferences: int
    replaced_per_scrape: int
    baseline_scrape: int
    last_scrape: int
    rss_bytes: dict[int, int] = field(default_factory=dict)  # scrape number -> RSS after it
    seconds: float = 0.0

    @property
    def baseline(self) -> int:
        return self.rss_bytes[self.baseline_scrape]

    @property
    def growth(self) -> float:
        return self.rss_bytes[self.last_scrape] / self.baseline - 1


async def memory(
    bench: Bench, conferences: int, baseline_scrape: int, last_scrape: int, every: int
) -> MemoryResult:
    """Scrapes counted from the exporter's start (earlier scenarios' scrapes included): RSS
    after scrape `baseline_scrape`, then a tenth of the conferences replaced before every
    scrape up to `last_scrape`."""
    started = time.perf_counter()
    await bench.population(conferences)
    await bench.admin.latency(0)
    result = MemoryResult(conferences, conferences // 10, baseline_scrape, last_scrape)
    while bench.scraper.scrapes < baseline_scrape:
        await bench.scrape()
    result.rss_bytes[bench.scraper.scrapes] = bench.exporter.rss_bytes()
    result.baseline_scrape = bench.scraper.scrapes
    while bench.scraper.scrapes < last_scrape:
        await bench.admin.replace(result.replaced_per_scrape, conferences)
        await bench.scrape()
        if bench.scraper.scrapes % every == 0 or bench.scraper.scrapes == last_scrape:
            result.rss_bytes[bench.scraper.scrapes] = bench.exporter.rss_bytes()
    result.last_scrape = bench.scraper.scrapes
    result.seconds = time.perf_counter() - started
    return result


# -- floor 4: gateway load -----------------------------------------------------------------------


@dataclass
class LoadRow:
    conferences: int
    scrapers: int
    query_calls: int
    discovery_calls: int
    expected_query_calls: int
    complete_scrapes: int


# While scrapers arrive "at once" the collection must still be in flight: with a short
# latency and few conferences (the smoke run) it could end before the last scraper's request
# arrived on a loaded machine, and that scraper rightly got a collection of its own. About a
# second per collection is plenty; 100 ms per call at N = 10,000 (3.2 s a collection) cost
# the full bench 7 s of its 2 minutes.
LOAD_LATENCY_MS = 100.0
LOAD_COLLECTION_S = 1.0


def load_latency_ms(conferences: int, concurrency: int) -> float:
    """The gateway latency that makes a collection of `conferences` last about a second."""
    rounds = -(-expected_calls(conferences) // concurrency)
    return min(LOAD_LATENCY_MS, max(LOAD_COLLECTION_S * 1000 / rounds, 20.0))


async def gateway_load(bench: Bench, conferences: int, scrapers: int, concurrency: int) -> LoadRow:
    await bench.population(conferences)
    await bench.admin.latency(load_latency_ms(conferences, concurrency))
    queries, discoveries, scrapes = await bench.calls_of(scrapers)
    return LoadRow(
        conferences, scrapers, queries, discoveries, expected_calls(conferences), len(scrapes)
    )


# -- floor 5: serving ----------------------------------------------------------------------------


@dataclass
class ServingRow:
    format: str
    gzip: bool
    wall_s: list[float]
    collection_s: list[float]
    wire_bytes: int
    body_bytes: int


@dataclass
class ServingResult:
    conferences: int
    rows: list[ServingRow]
    promtool: str  # "ok", "skipped: ...", or the problems it printed
    promtool_s: float


async def serving(bench: Bench, conferences: int, runs: int) -> ServingResult:
    await bench.population(conferences)
    await bench.admin.latency(0)
    rows: list[ServingRow] = []
    text_body = b""
    for name, accept in (("text", TEXT), ("openmetrics", OPENMETRICS)):
        for gzipped in (False, True):
            row = ServingRow(name, gzipped, [], [], 0, 0)
            for _ in range(runs):
                scrape = await bench.scrape(accept=accept, gzipped=gzipped)
                row.wall_s.append(scrape.wall)
                row.collection_s.append(scrape.gauge("ccgw_collection_duration_seconds"))
                row.wire_bytes, row.body_bytes = scrape.wire_bytes, len(scrape.body)
                if name == "text" and not gzipped:
                    text_body = scrape.body
            rows.append(row)
    verdict, seconds = check_with_promtool(text_body, bench.workdir / "metrics-10k.prom")
    return ServingResult(conferences, rows, verdict, seconds)


def check_with_promtool(body: bytes, path: Path) -> tuple[str, float]:
    tool = promtool()
    if tool is None:
        return "skipped: promtool not installed", 0.0
    path.write_bytes(body)
    started = time.perf_counter()
    with path.open("rb") as handle:
        result = subprocess.run(
            [tool, "check", "metrics"], stdin=handle, capture_output=True, check=False, timeout=60
        )
    seconds = time.perf_counter() - started
    output = (result.stdout + result.stderr).decode(errors="replace").strip()
    if result.returncode == 0 and not output:
        return "ok", seconds
    return f"exit {result.returncode}: {output[:500]}", seconds
