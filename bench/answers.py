"""What one collection received from the gateway, kept as raw bodies.

Both sides of the CPU comparison (the exporter's own code in `pipeline.py` and the
prometheus_client reference in `reference.py`) start from the same bytes, so the comparison is of
parsing, building and rendering only, never of the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.gateway.stats import CallStats

GATEWAY = "bench"
# Gateway-level values both sides print; fixed so that their outputs can be compared exactly.
DURATION = 0.5
TIMEOUT = 9.5
METHODS = ("loginEx", "getAgentEvent", "queryConfInfos", "queryAllConfIds")


@dataclass(frozen=True, slots=True)
class Answers:
    """The discovery answer and every `queryconfinfos` answer of one collection."""

    discovery: bytes
    batches: tuple[bytes, ...]
    gateway: str = GATEWAY

    @property
    def size(self) -> int:
        return len(self.discovery) + sum(len(b) for b in self.batches)


@dataclass(slots=True)
class Counters:
    """The running counters both sides render (`ccgw_responses_total` and friends)."""

    stats: CallStats = field(default_factory=CallStats)
    methods: tuple[str, ...] = METHODS
    discovery_failures: int = 0


def counters_for(answers: Answers) -> Counters:
    """Counters as an exporter would hold them after this collection: one observation per call."""
    stats = CallStats()
    stats.sign_in("0")
    stats.observe("loginEx", "0", error=False, seconds=0.021)
    stats.observe("queryAllConfIds", "0", error=False, seconds=0.02)
    for _ in answers.batches:
        stats.observe("queryConfInfos", "0", error=False, seconds=0.02)
    return Counters(stats)
