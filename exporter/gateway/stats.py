"""Counters of one gateway's calls, kept across scrapes for the `_total` and histogram series.

These are the only numbers that survive from one scrape to the next (the exporter's own work, in
client_python's words); everything about conferences is built fresh on each collection. They
live with the session, so a reload that leaves a gateway unchanged keeps its counters.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from .boundary import RetcodeLabels
from .vendor import DOCUMENTED_RETCODES

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


def _labels() -> RetcodeLabels:
    return RetcodeLabels(DOCUMENTED_RETCODES)


@dataclass(slots=True)
class CallStats:
    """What the client and the session report for `ccgw_responses_total` and friends.

    Retcodes arrive already in the vendor's shape or as `invalid` (boundary.retcode_label);
    `labels` bounds how many distinct ones a method may add beyond its documented codes.
    """

    responses: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    latency: dict[str, Histogram] = field(default_factory=dict)
    sign_ins: dict[str, int] = field(default_factory=dict)
    guid_renewals: int = 0
    # Set-GUID headers refused because they did not hold a usable Guid, by method.
    guids_rejected: dict[str, int] = field(default_factory=dict)
    # The session lost soon after signing in, or 100-002 at sign-in: two clients on one account.
    conflicts: int = 0
    # AgentConf_Timeout events: the gateway warns a conference's applied time is nearly used up.
    timeout_warnings: int = 0
    labels: RetcodeLabels = field(default_factory=_labels)

    def observe(self, method: str, outcome: str, *, error: bool, seconds: float) -> None:
        """One gateway call: `outcome` is the retcode, or the error reason when `error`."""
        if error:
            table = self.errors
        else:
            table = self.responses
            outcome = self.labels.label(method, outcome)
        key = (method, outcome)
        table[key] = table.get(key, 0) + 1
        histogram = self.latency.get(method)
        if histogram is None:
            histogram = self.latency[method] = Histogram()
        histogram.observe(seconds)

    def sign_in(self, outcome: str, method: str = "loginEx") -> None:
        """A sign-in attempt's result: the retcode (bounded like the responses) or a reason."""
        if outcome[:1].isdigit() or outcome == "invalid":
            outcome = self.labels.label(method, outcome)
        self.sign_ins[outcome] = self.sign_ins.get(outcome, 0) + 1

    def guid_renewed(self) -> None:
        self.guid_renewals += 1

    def guid_rejected(self, method: str) -> None:
        self.guids_rejected[method] = self.guids_rejected.get(method, 0) + 1
