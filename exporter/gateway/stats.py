"""Counters of one gateway's calls, kept across scrapes for the `_total` and histogram series.

These are the only numbers that survive from one scrape to the next (the exporter's own work, in
client_python's words); everything about conferences is built fresh on each collection. They
live with the session, so a reload that leaves a gateway unchanged keeps its counters.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

# Latency buckets in seconds; the top ones hold the ~10 s event long poll.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    15.0,
    30.0,
)


@dataclass(slots=True)
class Histogram:
    """Non-cumulative bucket counts; the exposition makes them cumulative."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass(slots=True)
class CallStats:
    """What the client and the session report for `ccgw_responses_total` and friends."""

    responses: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    latency: dict[str, Histogram] = field(default_factory=dict)
    sign_ins: dict[str, int] = field(default_factory=dict)
    guid_renewals: int = 0

    def observe(self, method: str, outcome: str, *, error: bool, seconds: float) -> None:
        """One gateway call: `outcome` is the retcode, or the error reason when `error`."""
        table = self.errors if error else self.responses
        key = (method, outcome)
        table[key] = table.get(key, 0) + 1
        histogram = self.latency.get(method)
        if histogram is None:
            histogram = self.latency[method] = Histogram()
        histogram.observe(seconds)

    def sign_in(self, outcome: str) -> None:
        self.sign_ins[outcome] = self.sign_ins.get(outcome, 0) + 1

    def guid_renewed(self) -> None:
        self.guid_renewals += 1
