"""Conference activity from consecutive collections (issue 16): what counts, and what does not."""

from __future__ import annotations

from typing import Any

from exporter.activity import ConferenceActivity
from exporter.gateway.models import Conference


def conf(conf_id: int, elapsed: int = 10, applied: int = 60, people: int = 3,
         enter: int = 1000, **extra: Any) -> Conference:  # fmt: skip
    members = extra.pop("members", None)
    if members is None:
        members = [(f"7000{i}", enter) for i in range(people)]
    raw = {
        "confId": conf_id,
        "confHaveBeenTime": elapsed,
        "applyConfTime": applied,
        "addresses": [{"address": a, "enterTime": t, "channelState": 0} for a, t in members],
    }
    parsed = Conference.parse(raw)
    assert parsed is not None
    return parsed


def test_the_first_complete_collection_is_the_baseline() -> None:
    a = ConferenceActivity()
    a.update([conf(1), conf(2)], [], complete=False)  # partial: still baseline
    a.update([conf(1), conf(2), conf(3)], [], complete=True)  # closes the baseline
    assert (a.started, a.joined) == (0, 0)
    a.update([conf(1), conf(2), conf(3), conf(4, people=2)], [], complete=True)
    assert a.started == 1
    assert a.joined == 2


def test_ended_only_when_an_answer_lacks_it_and_by_outcome() -> None:
    a = ConferenceActivity()
    a.update([conf(1, elapsed=30, applied=60), conf(2, elapsed=61, applied=60)], [], complete=True)
    # batch failed: neither seen nor gone, so nothing ended
    a.update([], [], complete=False)
    assert sum(a.ended.values()) == 0
    a.update([], [1, 2], complete=True)
    assert a.ended == {"within_applied": 1, "over_applied": 1}
    assert a.duration.count == 2
    assert a.duration.total == 30 * 60 + 61 * 60
    assert a.applied_share.count == 2
    assert a.peak_participants.count == 2
    assert a.left == 6, "the last participants of an ended conference left"
    assert a.live == 0


def test_prolongations_joins_leaves_and_peak() -> None:
    a = ConferenceActivity()
    a.update([conf(1, applied=60, members=[("a", 1), ("b", 1)])], [], complete=True)
    a.update([conf(1, applied=90, members=[("a", 1), ("b", 1), ("c", 2), ("d", 2)])], [],
             complete=True)  # fmt: skip
    a.update([conf(1, applied=90, members=[("a", 1), ("c", 2)])], [], complete=True)
    # b rejoins: a new enter time, so it counts as a join again
    a.update([conf(1, applied=120, members=[("a", 1), ("c", 2), ("b", 9)])], [], complete=True)
    assert a.prolongations == 2
    assert a.joined == 3
    assert a.left == 2
    a.update([], [1], complete=True)
    assert a.peak_participants.count == 1
    assert a.peak_participants.total == 4
    assert a.left == 5


def test_an_id_gone_that_was_never_seen_ends_nothing() -> None:
    a = ConferenceActivity()
    a.update([], [], complete=True)
    a.update([], [42], complete=True)
    assert sum(a.ended.values()) == 0


def test_memory_is_one_record_per_live_conference() -> None:
    a = ConferenceActivity()
    a.update([], [], complete=True)
    for round_ in range(50):
        live = [conf(round_ * 100 + i + 1) for i in range(100)]
        gone = [(round_ - 1) * 100 + i + 1 for i in range(100)] if round_ else []
        a.update(live, gone, complete=True)
    assert a.live == 100
    assert a.started == 50 * 100
    assert sum(a.ended.values()) == 49 * 100
