"""Ground truth of conference activity, so a test can hold an exporter's counters against it.

The exporter counts conferences started and ended, their final durations, the share of the
applied time they used, their peak participants, prolongations, joins and leaves, all from
what the gateway answers (issue 16). The simulator knows what really happened, on two sides:

``gateway``
    What happened at the gateway: every conference created, every participant who joined or
    left, every raise of the applied time, and each conference's ``confHaveBeenTime`` and
    ``applyConfTime`` at the last moment before it ended, in the API's own minutes. A client
    that samples can miss some of this (a conference shorter than its interval).
``served``
    What the intact ``queryconfinfos`` answers said (an answer broken by a malformed or reset
    fault does not count; a retcode fault carries no conferences): a conference is "started"
    when first served, "ended" by its last served minutes, joins and leaves are the differences
    between consecutive served participant sets. A client that read every answer and missed
    none must count exactly this, whatever the scrape interval.

Both count from the last reset (:meth:`Truth.reset`, ``POST /simulator/truth/reset``): the
conferences live at that moment are the baseline (an exporter's first complete collection:
not "started"), but their end is counted. Ended conferences are also listed one by one (the
most recent ``MAX_RECORDS``) so a test can rebuild any histogram with the exporter's buckets.

Outcomes: ``within_applied`` when the final elapsed minutes are at most the applied minutes,
else ``over_applied``. Duration: the final minutes x 60 seconds. Share: minutes / applied
(not recorded when the applied time is 0). Peak: the most participants at once.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .conference import Conference, Served

WITHIN, OVER = "within_applied", "over_applied"
MAX_RECORDS = 10_000


def outcome(minutes: int, apply_minutes: int) -> str:
    return WITHIN if minutes <= apply_minutes else OVER


@dataclass
class Tally:
    """Count and sum, as a Prometheus histogram's ``_count`` and ``_sum``."""

    count: int = 0
    sum: float = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "sum": self.sum}


@dataclass(frozen=True)
class Ending:
    """How one conference ended, on one side."""

    minutes: int
    apply_minutes: int
    peak: int

    @property
    def outcome(self) -> str:
        return outcome(self.minutes, self.apply_minutes)

    @property
    def share(self) -> float | None:
        return self.minutes / self.apply_minutes if self.apply_minutes > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "minutes": self.minutes,
            "applied_minutes": self.apply_minutes,
            "duration_seconds": self.minutes * 60,
            "applied_share": self.share,
            "peak_participants": self.peak,
        }


@dataclass
class Side:
    """The counters of one side (``gateway`` or ``served``)."""

    started: int = 0
    ended: Counter[str] = field(default_factory=Counter)
    prolongations: int = 0
    #: joined / left a running conference (not its first participants, not the last ones)
    participants_joined: int = 0
    participants_left: int = 0
    #: participants of the started conferences when they started (first served)
    participants_at_start: int = 0
    #: participants still there when a conference ended (last served)
    participants_at_end: int = 0
    duration_seconds: Tally = field(default_factory=Tally)
    applied_share: Tally = field(default_factory=Tally)
    peak_participants: Tally = field(default_factory=Tally)

    def end(self, ending: Ending, participants: int) -> None:
        self.ended[ending.outcome] += 1
        self.participants_at_end += participants
        self.duration_seconds.add(ending.minutes * 60)
        share = ending.share
        if share is not None:
            self.applied_share.add(share)
        self.peak_participants.add(ending.peak)

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "ended": {WITHIN: self.ended[WITHIN], OVER: self.ended[OVER]},
            "prolongations": self.prolongations,
            "participants_joined": self.participants_joined,
            "participants_left": self.participants_left,
            "participants_at_start": self.participants_at_start,
            "participants_at_end": self.participants_at_end,
            "duration_seconds": self.duration_seconds.to_dict(),
            "applied_share": self.applied_share.to_dict(),
            "peak_participants": self.peak_participants.to_dict(),
        }


class Truth:
    """The two sides' counters since the last reset, fed by the population and the API."""

    def __init__(self, vdn: int, now_ms: int) -> None:
        self.vdn = vdn
        self.since_ms = now_ms
        self.gateway = Side()
        self.served = Side()
        #: AgentConf_Timeout warnings the gateway issued: one per conference and applied end,
        #: sent to the conference's agents (stats.events_delivered_by_type counts deliveries)
        self.timeout_warnings = 0
        self.records: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDS)
        self.records_dropped = 0

    def reset(self, now_ms: int, live: list[Conference]) -> None:
        """Start counting now; the live conferences become the baseline."""
        self.since_ms = now_ms
        self.gateway = Side()
        self.served = Side()
        self.timeout_warnings = 0
        self.records.clear()
        self.records_dropped = 0
        for conf in live:
            conf.baseline = True
            conf.peak = len(conf.participants)
            if conf.served is not None:
                conf.served.peak = len(conf.served.addresses)

    # ------------------------------------------------------------------ the gateway's side

    def created(self, conf: Conference) -> None:
        conf.peak = len(conf.participants)
        self.gateway.started += 1
        self.gateway.participants_at_start += len(conf.participants)

    def joined(self, conf: Conference) -> None:
        conf.peak = max(conf.peak, len(conf.participants))
        self.gateway.participants_joined += 1

    def left(self, conf: Conference) -> None:
        self.gateway.participants_left += 1

    def prolonged(self, conf: Conference) -> None:
        conf.prolongations += 1
        self.gateway.prolongations += 1

    def warned(self) -> None:
        self.timeout_warnings += 1

    def ended(self, conf: Conference, last_visible_ms: int, ended_ms: int) -> None:
        """``conf`` is gone; ``last_visible_ms`` is the last moment a query could see it."""
        at_gateway = Ending(conf.elapsed_minutes(last_visible_ms), conf.apply_minutes, conf.peak)
        self.gateway.end(at_gateway, len(conf.participants))
        record: dict[str, Any] = {
            "confId": conf.conf_id,
            "ended_ms": ended_ms,
            "baseline": conf.baseline,
            "prolongations": conf.prolongations,
            "gateway": at_gateway.to_dict(),
            "served": None,
        }
        served = conf.served
        if served is not None:
            seen = Ending(served.minutes, served.apply_minutes, served.peak)
            self.served.end(seen, len(served.addresses))
            record["served"] = seen.to_dict()
        if len(self.records) == self.records.maxlen:
            self.records_dropped += 1
        self.records.append(record)

    # ------------------------------------------------------------------ the served side

    def served_now(self, conf: Conference, minutes: int) -> None:
        """``conf`` went out in an intact queryconfinfos answer, ``minutes`` elapsed."""
        view = conf.served
        if view is None:
            addresses = frozenset(conf.participants)
            conf.served = Served(
                minutes, conf.apply_minutes, len(addresses), addresses, conf.version
            )
            if not conf.baseline:
                self.served.started += 1
                self.served.participants_at_start += len(addresses)
            return
        view.minutes = minutes
        if view.version == conf.version:
            return
        if conf.apply_minutes > view.apply_minutes:
            self.served.prolongations += 1
        view.apply_minutes = conf.apply_minutes
        addresses = frozenset(conf.participants)
        if addresses != view.addresses:
            self.served.participants_joined += len(addresses - view.addresses)
            self.served.participants_left += len(view.addresses - addresses)
            view.addresses = addresses
            view.peak = max(view.peak, len(addresses))
        view.version = conf.version

    def to_dict(self, now_ms: int, live: int, *, records: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "vdn": self.vdn,
            "since_ms": self.since_ms,
            "now_ms": now_ms,
            "live": live,
            "gateway": self.gateway.to_dict(),
            "served": self.served.to_dict(),
            "timeout_warnings": self.timeout_warnings,
        }
        if records:
            out["ended_conferences"] = list(self.records)
            out["ended_conferences_dropped"] = self.records_dropped
        return out


def empty_truth(vdn: int, since_ms: int, now_ms: int) -> dict[str, Any]:
    """The truth of a VDN without conferences (an account of another tenant sees nothing)."""
    return Truth(vdn, since_ms).to_dict(now_ms, 0)
