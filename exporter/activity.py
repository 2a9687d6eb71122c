"""Conference activity: how many conferences start and end, how long they last, how many run
over, kept across collections (issue 16).

Every other series is a snapshot of one scrape, and PromQL cannot count from snapshots what
happened between them. The exporter sees every conference of the VDN on every collection, so
it can: this tracker compares each collection with the previous one, per gateway, and keeps
counters and histograms that Prometheus's increase() then reads per hour or day.

What counts, and what does not:
- **started**: a conference first seen after the exporter's first complete collection.
  Those running at that first collection are the baseline, not starts (a restart would
  otherwise count every running conference again).
- **ended**: a conference asked for in a batch that was answered, and absent from the answer
  (the vendor leaves out a conference that has ended, queryconfinfos.md). A conference missing
  because its batch failed, because the collection ran out of time, or because the gateway
  answered an error has NOT ended; it is decided by a later answer. The outcome compares the
  elapsed and applied minutes at the last sight (`over_applied` when elapsed > applied).
- **duration / applied share / peak participants**: observed once per ended conference, from
  its last sight (elapsed) and every sight (peak).
- **prolonged**: applied duration raised between two sights of a running conference.
- **joined / left**: participants (address and enterTime, so a participant who left and came
  back counts twice) that appear or disappear between two sights; a started conference's
  first participants joined, an ended conference's last participants left.

Nothing is counted before the first complete collection: the counters describe what happened
from then on.

Sampling: a conference that starts and ends between two collections is never seen and counts
nowhere; neither do joins and leaves between two collections. The counters are as exact as the
scrape interval is short. Counters restart at 0 when the exporter restarts (Prometheus's
increase() handles that); a reload keeps the tracker of a gateway whose settings did not change.
Memory: one small record per live conference.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from .gateway.models import Conference

Outcome = Literal["within_applied", "over_applied"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("within_applied", "over_applied")

# Buckets. Durations: the gateway reports whole minutes, and an applied time is 4 to 1440
# minutes (requestagentconf, cec_07_1283), default 60: minute steps at the short end, then the
# usual meeting lengths, up to the 24 h maximum.
DURATION_BUCKETS: Final[tuple[float, ...]] = tuple(
    m * 60.0 for m in (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 480, 720, 1440)
)
# Share of the applied duration used at the end: fine around 1 (the line between within and
# over applied), coarse below; above 1 only conferences kept past their time.
SHARE_BUCKETS: Final[tuple[float, ...]] = (
    0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0,
)  # fmt: skip
# Peak participants: the vendor's memberNum is 1 to 120 (cec_07_1283).
PEAK_BUCKETS: Final[tuple[float, ...]] = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 80, 120)


@dataclass(slots=True)
class Histogram:
    """Non-cumulative bucket counts (the exposition makes them cumulative)."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1


@dataclass(slots=True)
class _Live:
    """What the tracker remembers of a conference between two sights."""

    applied: float | None
    elapsed: float | None
    peak: int
    members: tuple[tuple[object, object], ...]


@dataclass(slots=True)
class ConferenceActivity:
    """The counters and histograms of one gateway, and the state they are computed from."""

    started: int = 0
    ended: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    prolongations: int = 0
    joined: int = 0
    left: int = 0
    duration: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))
    applied_share: Histogram = field(default_factory=lambda: Histogram(SHARE_BUCKETS))
    peak_participants: Histogram = field(default_factory=lambda: Histogram(PEAK_BUCKETS))
    _live: dict[int, _Live] = field(default_factory=dict)
    _baseline_done: bool = False

    @property
    def live(self) -> int:
        return len(self._live)

    def update(self, seen: Iterable[Conference], gone: Iterable[int], *, complete: bool) -> None:
        """One collection: `seen` were in answers, `gone` were asked for in an answered batch
        and absent. `complete`: every source and every batch answered (the first complete
        collection closes the baseline)."""
        counting = self._baseline_done
        live = self._live
        for conference in seen:
            record = live.get(conference.conf_id)
            members = conference.members
            count = conference.participant_count
            if record is None:
                live[conference.conf_id] = _Live(
                    conference.applied_seconds, conference.elapsed_seconds, count, members
                )
                if counting:
                    self.started += 1
                    self.joined += len(set(members))
                continue
            applied = conference.applied_seconds
            if (
                counting
                and applied is not None
                and record.applied is not None
                and applied > record.applied
            ):
                self.prolongations += 1
            # Unchanged participants are usually the very same tuple (the client's
            # AddressCache hands it on), so identity settles most conferences at once.
            if counting and members is not record.members and members != record.members:
                before = set(record.members)
                after = set(members)
                self.joined += len(after - before)
                self.left += len(before - after)
            record.members = members
            record.applied = applied
            record.elapsed = conference.elapsed_seconds
            if count > record.peak:
                record.peak = count
        for conf_id in gone:
            record = live.pop(conf_id, None)
            if record is not None and counting:
                self._ended(record)
        if complete:
            self._baseline_done = True

    def _ended(self, record: _Live) -> None:
        elapsed, applied = record.elapsed, record.applied
        over = elapsed is not None and applied is not None and elapsed > applied
        self.ended["over_applied" if over else "within_applied"] += 1
        if elapsed is not None:
            self.duration.observe(elapsed)
            if applied:
                self.applied_share.observe(elapsed / applied)
        self.peak_participants.observe(record.peak)
        self.left += len(set(record.members))
