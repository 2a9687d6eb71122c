"""Issue 5's floors and issue 18's (floor 6): the thresholds, and the verdict on what the
scenarios measured."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .scenarios import (
    CpuResult,
    LatencyRow,
    LoadRow,
    MemoryResult,
    RatioRow,
    ServingResult,
    expected_calls,
)

MAX_TRANSPORT_RATIO = 1.3
MAX_US_PER_CONFERENCE = 20.0
MIN_REFERENCE_RATIO = 3.0
MAX_RSS_BYTES = 150 * 2**20
MAX_RSS_GROWTH = 0.05
MB = 2**20
# Floor 6 (issue 18): the exporter's whole process per scrape against the naive client's
# fetch + json.loads of the same answers. 1.0: all of the exporter's work costs less than
# merely fetching and decoding the plain way; 0.7 is the moonshot, reported only.
MAX_NAIVE_RATIO = 1.0
MOONSHOT_NAIVE_RATIO = 0.7


@dataclass(frozen=True, slots=True)
class Verdict:
    floor: int
    name: str
    target: str
    measured: str
    met: bool


def transport(rows: list[LatencyRow], judged_at: int) -> Verdict:
    """Judged at the largest N (the issue's 10,000); the smaller ones are reported beside it."""
    judged = [r for r in rows if r.conferences == judged_at]
    measured = ", ".join(f"N={r.conferences:,}: {r.ratio:.2f}x" for r in rows)
    met = bool(judged) and all(r.ratio <= MAX_TRANSPORT_RATIO for r in judged)
    return Verdict(
        1,
        "scrape wall / transport bound",
        f"<= {MAX_TRANSPORT_RATIO}x at N={judged_at:,}",
        measured,
        met,
    )


def cpu(result: CpuResult) -> Verdict:
    ours = result.per_conference_us(result.exporter_inprocess_s)
    process = result.per_conference_us(result.exporter_cpu_s)
    reference = result.per_conference_us(statistics.median(result.reference_s))
    return Verdict(
        2,
        "CPU per conference (parse+build+render)",
        f"<= {MAX_US_PER_CONFERENCE:g} us and >= {MIN_REFERENCE_RATIO:g}x less than reference",
        f"{ours:.1f} us vs reference {reference:.1f} us ({result.ratio:.1f}x); "
        f"whole process incl. network {process:.1f} us",
        ours <= MAX_US_PER_CONFERENCE and result.ratio >= MIN_REFERENCE_RATIO,
    )


def memory(result: MemoryResult) -> Verdict:
    return Verdict(
        3,
        f"RSS at N={result.conferences:,}",
        f"<= {MAX_RSS_BYTES // MB} MB after scrape 100; growth <= {MAX_RSS_GROWTH:.0%} "
        "to scrape 1,000",
        f"{result.baseline / MB:.1f} MB after scrape {result.baseline_scrape}; "
        f"{result.growth:+.1%} by scrape {result.last_scrape}"
        + (" (--full runs to 1,000)" if result.last_scrape < 1000 else ""),
        result.baseline <= MAX_RSS_BYTES and result.growth <= MAX_RSS_GROWTH,
    )


def gateway_load(rows: list[LoadRow], latency_rows: list[LatencyRow]) -> Verdict:
    """Every collection, the concurrent ones and floor 1's sequential ones alike."""
    exact = all(
        r.query_calls == r.expected_query_calls and r.discovery_calls == 1 for r in rows
    ) and all(
        all(q == expected_calls(r.conferences) for q in r.query_calls)
        and all(d == 1 for d in r.discovery_calls)
        for r in latency_rows
    )
    measured = ", ".join(
        f"{r.scrapers} scraper(s): {r.query_calls}+{r.discovery_calls}" for r in rows
    )
    n = rows[0].conferences if rows else 0
    return Verdict(
        4,
        "gateway calls per collection",
        f"exactly ceil(N/20)+1 = {expected_calls(n)}+1 at N={n:,}",
        measured,
        exact and bool(rows),
    )


def serving(result: ServingResult) -> Verdict:
    text = next(r for r in result.rows if r.format == "text" and not r.gzip)
    gz = next(r for r in result.rows if r.format == "text" and r.gzip)
    return Verdict(
        5,
        f"serving at N={result.conferences:,}",
        "reported; text passes promtool check metrics",
        f"text {text.body_bytes / MB:.1f} MB in {statistics.median(text.wall_s):.2f} s, "
        f"gzip {gz.wire_bytes / MB:.2f} MB in {statistics.median(gz.wall_s):.2f} s; "
        f"promtool: {result.promtool}",
        result.promtool == "ok",
    )


def cpu_ratio(rows: list[RatioRow]) -> Verdict:
    """Judged at every (N, latency) measured: the issue's 10,000 at 20 ms and 20,000 at 50 ms."""
    measured = "; ".join(
        f"N={r.conferences:,}/{r.latency_ms:g}ms: {r.ratio:.2f}x "
        f"({r.per_conference_us(r.exporter_cpu_s):.1f} vs {r.per_conference_us(r.naive_cpu_s):.1f}"
        f" us/conference, load {max(r.load):.1f})"
        for r in rows
    )
    moonshot = bool(rows) and all(r.ratio <= MOONSHOT_NAIVE_RATIO for r in rows)
    return Verdict(
        6,
        "exporter CPU / naive fetch+json.loads",
        f"<= {MAX_NAIVE_RATIO:g}x (moonshot {MOONSHOT_NAIVE_RATIO:g}x"
        + (": reached)" if moonshot else ")"),
        measured,
        bool(rows) and all(r.ratio <= MAX_NAIVE_RATIO for r in rows),
    )
