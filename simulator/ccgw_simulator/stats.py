"""Counters of what the simulator was asked and what it answered.

Tests assert on them ("the exporter signed in once", "never more than 16 queries in flight")
and the admin API serves them as JSON. Plain counters, no locking: everything runs on one
event loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """Counters; :meth:`reset` zeroes them all but the live in-flight gauge."""

    #: requests by vendor method name ("login", "queryConfInfos", ...)
    calls: Counter[str] = field(default_factory=Counter)
    #: envelope answers by (method, retcode); retcode "0" is success
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: injected faults by kind: latency, slow, http_error, retcode, malformed, reset
    faults: Counter[str] = field(default_factory=Counter)
    #: a second sign-in for an agent while the first was being answered (000-007)
    concurrent_signins_rejected: int = 0
    #: every Guid handed out: sign-in, rotation, updateGuid
    guids_issued: int = 0
    #: successful sign-ins by method (login, forceLogin, loginEx, forceLoginEx)
    signins: Counter[str] = field(default_factory=Counter)
    #: agent licences taken, by the sign-in variant that took them (login, forceLogin): a test
    #: of a monitoring account asserts this stays empty
    licences_taken: Counter[str] = field(default_factory=Counter)
    #: sessions ended by reason: logout, forcelogout, forcelogin, forceloginex, qualitycontrol,
    #: admin, idle, restart, node_down
    signouts: Counter[str] = field(default_factory=Counter)
    #: agent events put on a session's queue, and handed out by getAgentEvent (also by type)
    events_queued: int = 0
    events_delivered: int = 0
    events_delivered_by_type: Counter[str] = field(default_factory=Counter)
    #: requests for an agent ID outside the gateway's range (agent_id_range), answered 404
    agent_id_not_found: int = 0
    #: queryConfInfos: IDs asked for and conferences answered
    conf_ids_requested: int = 0
    confs_returned: int = 0
    #: requests by load-balancer node that served them
    requests_by_node: Counter[int] = field(default_factory=Counter)
    #: requests being answered now, and the most at once since the last reset, by method
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    #: HTTPS connections, counted at their first request: "full" handshake or "resumed"
    #: session (the exporter offers the last session it had; tests and the bench check it)
    tls_connections: Counter[str] = field(default_factory=Counter)

    def call_started(self, method: str) -> None:
        self.calls[method] += 1
        self.in_flight[method] += 1
        if self.in_flight[method] > self.max_in_flight[method]:
            self.max_in_flight[method] = self.in_flight[method]

    def call_finished(self, method: str) -> None:
        self.in_flight[method] -= 1

    def answered(self, method: str, retcode: str) -> None:
        self.answers[(method, retcode)] += 1

    def answer_count(self, method: str, retcode: str) -> int:
        return self.answers[(method, retcode)]

    def reset(self) -> None:
        in_flight = Counter({k: v for k, v in self.in_flight.items() if v})
        fresh = Stats()
        self.__dict__.update(fresh.__dict__)
        self.in_flight = in_flight
        self.max_in_flight = Counter(in_flight)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape served at ``GET /simulator/stats``."""
        answers: dict[str, dict[str, int]] = {}
        for (method, retcode), n in sorted(self.answers.items()):
            answers.setdefault(method, {})[retcode] = n
        return {
            "calls": dict(sorted(self.calls.items())),
            "answers": answers,
            "faults": dict(sorted(self.faults.items())),
            "concurrent_signins_rejected": self.concurrent_signins_rejected,
            "guids_issued": self.guids_issued,
            "signins": dict(sorted(self.signins.items())),
            "licences_taken": dict(sorted(self.licences_taken.items())),
            "signouts": dict(sorted(self.signouts.items())),
            "events_queued": self.events_queued,
            "events_delivered": self.events_delivered,
            "events_delivered_by_type": dict(sorted(self.events_delivered_by_type.items())),
            "agent_id_not_found": self.agent_id_not_found,
            "conf_ids_requested": self.conf_ids_requested,
            "confs_returned": self.confs_returned,
            "requests_by_node": {str(k): v for k, v in sorted(self.requests_by_node.items())},
            "in_flight": {k: v for k, v in sorted(self.in_flight.items()) if v},
            "max_in_flight": dict(sorted(self.max_in_flight.items())),
            "tls_connections": dict(sorted(self.tls_connections.items())),
        }
