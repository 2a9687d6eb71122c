"""The table `make bench` prints and the JSON it writes (bench/results/latest.json)."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .floors import MB, Verdict
from .handshakes import HandshakeRow
from .handshakes import table as handshake_table
from .scenarios import CpuResult, LatencyRow, LoadRow, MemoryResult, RatioRow, ServingResult


@dataclass
class Results:
    plan: dict[str, Any]
    machine: dict[str, Any]
    latency: list[LatencyRow] = field(default_factory=list)
    cpu: CpuResult | None = None
    memory: MemoryResult | None = None
    load: list[LoadRow] = field(default_factory=list)
    serving: ServingResult | None = None
    handshakes: list[HandshakeRow] = field(default_factory=list)
    ratios: list[RatioRow] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0
    # Seconds each phase took (start-up, floors in run order): the 2-minute budget is kept
    # by knowing where it goes.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return bool(self.verdicts) and all(v.met for v in self.verdicts)


def speed_index() -> float:
    """Milliseconds of a fixed pure-Python workload (dict lookups and f-strings, like the hot
    paths): on a shared machine, numbers from runs with different indexes differ by about
    their ratio, which is what lets two runs be compared."""
    table = {i: str(i) for i in range(64)}
    started = time.process_time()
    parts = [f'x{{a="{table[i & 63]}"}} {i}\n' for i in range(300_000)]
    "".join(parts)
    return (time.process_time() - started) * 1000


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "kernel": platform.release(),
        "load_before": list(os.getloadavg()),
        "speed_index_ms_before": speed_index(),
    }


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def _us(result: CpuResult, seconds: float) -> str:
    return f"{result.per_conference_us(seconds):.1f}"


def table(results: Results) -> str:
    lines: list[str] = []
    out = lines.append
    m = results.machine
    out(
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, aiohttp {m['aiohttp']}; "
        f"load {m['load_before'][0]:.2f} before, {m.get('load_after', [0])[0]:.2f} after; "
        f"speed index {m['speed_index_ms_before']:.0f} ms before, "
        f"{m.get('speed_index_ms_after', 0):.0f} ms after (lower is faster); "
        f"{results.seconds:.0f} s"
    )
    if results.phases:
        out("phases (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results.phases.items()))
    if results.latency:
        out("")
        out("floor 1 - wall time, median of runs (ms); simulator latency per call as shown")
        out(f"{'N':>7} {'latency':>8} {'transport':>10} {'scrape':>8} {'collect':>8} {'ratio':>6}")
        for r in results.latency:
            out(
                f"{r.conferences:>7,} {r.latency_ms:>6g}ms {_ms(r.transport_s):>10} "
                f"{_ms(r.scrape_s):>8} {_ms(r.collection_s):>8} {r.ratio:>5.2f}x"
            )
    if results.cpu:
        c = results.cpu
        out("")
        out(f"floor 2 - CPU per conference at N={c.conferences:,} (us, median)")
        out(
            f"  exporter in-process: parse {_us(c, statistics.median(c.parse_s))} + "
            f"build+render {_us(c, statistics.median(c.render_s))} = "
            f"{_us(c, c.exporter_inprocess_s)}"
        )
        reference = _us(c, statistics.median(c.reference_s))
        out(f"  reference (GaugeMetricFamily + generate_latest): {reference} ({c.ratio:.1f}x)")
        out(
            f"  exporter process, whole scrape incl. network: {_us(c, c.exporter_cpu_s)}; "
            f"bare client's network CPU alone: {_us(c, c.transport_cpu_s)}; "
            f"simulator per collection: {_us(c, c.simulator_cpu_s)}"
        )
        out(
            f"  connections to the gateway: {c.connections} kept alive, "
            f"{c.new_connections} opened during {c.scrapes} scrapes"
        )
    if results.ratios:
        out("")
        out(
            "floor 6 - CPU per whole scrape: exporter process vs the naive client "
            "(aiohttp + json.loads, same calls), median ms"
        )
        out(
            f"  {'N':>7} {'latency':>8} {'conc':>5} {'exporter':>9} {'naive':>7} "
            f"{'us/conf':>13} {'ratio':>6} {'load':>10}"
        )
        for rr in results.ratios:
            ours = rr.per_conference_us(rr.exporter_cpu_s)
            naive = rr.per_conference_us(rr.naive_cpu_s)
            out(
                f"  {rr.conferences:>7,} {rr.latency_ms:>6g}ms {rr.concurrency:>5} "
                f"{_ms(rr.exporter_cpu_s):>9} {_ms(rr.naive_cpu_s):>7} "
                f"{f'{ours:.1f}/{naive:.1f}':>13} "
                f"{rr.ratio:>5.2f}x {rr.load[0]:>4.1f}-{rr.load[-1]:<4.1f}"
            )
    if results.memory:
        mem = results.memory
        out("")
        out(
            f"floor 3 - exporter RSS (MB) at N={mem.conferences:,}, "
            f"{mem.replaced_per_scrape:,} conferences replaced before each scrape after "
            f"scrape {mem.baseline_scrape}"
        )
        points = sorted(mem.rss_bytes.items())
        if len(points) > 12:
            points = [*points[:: max(1, len(points) // 10)], points[-1]]
        out("  " + "  ".join(f"#{n}: {rss / MB:.1f}" for n, rss in dict(points).items()))
    if results.load:
        out("")
        out("floor 4 - gateway calls per collection (queryConfInfos + queryAllConfIds)")
        for load in results.load:
            out(
                f"  N={load.conferences:,}, {load.scrapers:>2} scraper(s) at once: "
                f"{load.query_calls} + {load.discovery_calls} (expected "
                f"{load.expected_query_calls} + 1), {load.complete_scrapes} complete scrapes"
            )
    if results.serving:
        s = results.serving
        out("")
        out(f"floor 5 - serving at N={s.conferences:,} (median ms; collect = exporter's own)")
        head = f"  {'format':<12} {'gzip':<5} {'wire MB':>8} {'body MB':>8}"
        out(f"{head} {'scrape':>7} {'collect':>8}")
        for row in s.rows:
            out(
                f"  {row.format:<12} {'yes' if row.gzip else 'no':<5} "
                f"{row.wire_bytes / MB:>8.2f} {row.body_bytes / MB:>8.2f} "
                f"{_ms(row.wall_s):>7} {_ms(row.collection_s):>8}"
            )
        out(f"  promtool check metrics: {s.promtool} ({s.promtool_s:.1f} s)")
    if results.handshakes:
        out("")
        out("new connections to the gateway (not a floor; per connection, best of two passes)")
        out(handshake_table(results.handshakes))
    out("")
    width = max((len(v.name) for v in results.verdicts), default=10)
    for v in results.verdicts:
        mark = "MET " if v.met else "MISS"
        out(f"[{mark}] {v.floor}. {v.name:<{width}}  {v.measured}   (target {v.target})")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, with the derived numbers a reader of the JSON wants."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("ratio", "growth", "baseline", "exporter_inprocess_s", "met"):
            if hasattr(type(value), name) and isinstance(getattr(type(value), name), property):
                data[name] = getattr(value, name)
        return data
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(results), indent=2) + "\n")
