"""The conference population: determinism, realism, evolution, cost."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import aiohttp
import pytest

from ccgw_simulator import Population
from ccgw_simulator.clock import SimClock
from ccgw_simulator.population import FIRST_CONF_ID, JOIN_EVENT, LEAVE_EVENT, Listener

from .wire import Gateway, StartSim

EPOCH = 1_700_000_000.0
ALLOWED_APPLY = {4, 10, 15, 30, 45, 60, 90, 120, 180, 240, 480, 1440}


def frozen(target: int, seed: int = 1, listener: Listener | None = None) -> Population:
    return Population(target, seed=seed, clock=SimClock(0.0, epoch=EPOCH), listener=listener)


def snapshot(pop: Population) -> list[bytes]:
    now = pop.now_ms()
    out = []
    for conf_id in pop.conf_ids():
        conf = pop.get(conf_id)
        assert conf is not None
        out.append(conf.to_json(now))
    return out


def test_same_seed_same_population_and_same_evolution() -> None:
    a, b = frozen(80, seed=7), frozen(80, seed=7)
    assert snapshot(a) == snapshot(b)
    a.advance(3600)  # one jump ...
    for _ in range(60):  # ... or sixty small steps: same state
        b.advance(60)
    assert snapshot(a) == snapshot(b)
    assert a.ended_total == b.ended_total > 0


def test_different_seed_different_population() -> None:
    assert snapshot(frozen(30, seed=1)) != snapshot(frozen(30, seed=2))


def test_initial_population_looks_real() -> None:
    pop = frozen(400)
    assert len(pop) == 400
    ids = pop.conf_ids()
    assert ids[0] == FIRST_CONF_ID
    assert ids == sorted(ids)
    sizes, applies, elapsed, types = [], [], set(), set()
    for conf_id in ids:
        conf = pop.render(conf_id)
        assert conf is not None
        sizes.append(len(conf["addresses"]))
        applies.append(conf["applyConfTime"])
        assert 0 <= conf["confHaveBeenTime"] < conf["applyConfTime"]
        elapsed.add(conf["confHaveBeenTime"])
        assert sum(p["role"] == 1 for p in conf["addresses"]) == 1
        for p in conf["addresses"]:
            types.add(p["addressType"])
            assert p["enterTime"] >= conf["startTime"]
            assert p["deviceType"] == (6 if p["addressType"] == "9" else p["deviceType"])
    assert min(sizes) >= 2
    assert max(sizes) <= 6
    assert 2.7 <= statistics.mean(sizes) <= 3.6
    assert set(applies) <= ALLOWED_APPLY
    assert sum(a in (30, 60, 120) for a in applies) > 0.6 * len(applies)
    assert len(elapsed) > 30  # mid-flight with varied elapsed times
    assert types == {"6", "9"}


def test_evolution_keeps_the_count_near_target_and_never_overruns() -> None:
    pop = frozen(200, seed=3)
    seen_states = set()
    for _ in range(180):  # three simulated hours, minute by minute
        pop.advance(60)
        assert 0.85 * 200 <= len(pop) <= 200
        now = pop.now_ms()
        for conf_id in pop.conf_ids():
            conf = pop.get(conf_id)
            assert conf is not None
            assert conf.elapsed_minutes(now) <= conf.apply_minutes  # ends at applied time
            assert 1 <= len(conf.participants) <= 6
            if conf.conf_state == 1:  # an announcement: nobody is talking
                assert all(p.channel_state != 0 for p in conf.participants.values())
            for p in conf.participants.values():
                seen_states.add((conf.conf_state, p.channel_state))
    assert pop.ended_total > 200
    assert pop.started_total > 400
    assert {(0, 0), (0, 1), (1, 2)} <= seen_states


def test_test_made_conference_ends_exactly_at_applied_time() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference(apply_minutes=10, elapsed_minutes=9)
    pop.advance(59)
    assert conf_id in pop
    assert (pop.render(conf_id) or {})["confHaveBeenTime"] == 9
    pop.advance(1)
    assert conf_id not in pop


def test_overrun_conference_stays_past_applied_time_until_released() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference(apply_minutes=10, elapsed_minutes=9, overrun=True)
    pop.advance(5 * 60)
    conf = pop.render(conf_id)
    assert conf is not None
    assert (conf["confHaveBeenTime"], conf["applyConfTime"]) == (14, 10)
    pop.set_apply(conf_id, 12)  # still past: stays
    pop.tick()
    assert conf_id in pop
    pop.set_overrun(conf_id, False)
    assert conf_id in pop  # until the next tick
    pop.tick()
    assert conf_id not in pop


def test_test_made_conference_does_not_change_by_itself() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference(apply_minutes=600)
    before = pop.render(conf_id)
    pop.advance(3 * 3600)
    after = pop.render(conf_id)
    assert after is not None
    assert before is not None
    assert after["confHaveBeenTime"] == 180
    assert after["addresses"] == before["addresses"]


def test_conference_ends_when_it_empties() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference()
    assert pop.remove_participant(conf_id, "70005")
    assert conf_id in pop
    assert pop.remove_participant(conf_id, "70006")
    assert conf_id not in pop


def test_agents_get_join_and_leave_events() -> None:
    events: list[tuple[str, str, dict[str, Any]]] = []
    pop = frozen(0, listener=lambda *e: events.append(e))
    conf_id = pop.add_conference(participants=[{"address": "154", "address_type": "9"}])
    pop.add_participant(conf_id, "155", addressType="9")
    pop.set_participant(conf_id, "156")  # a phone: no event of its own
    pop.set_participant(conf_id, "156", addressType="9")  # now an agent: joins
    pop.remove_participant(conf_id, "155")
    pop.end_conference(conf_id)
    own = [(a, kind, c) for a, kind, c in events if kind in (JOIN_EVENT, LEAVE_EVENT)]
    assert [(a, kind, c["confId"]) for a, kind, c in own] == [
        ("154", JOIN_EVENT, conf_id),
        ("155", JOIN_EVENT, conf_id),
        ("156", JOIN_EVENT, conf_id),
        ("155", LEAVE_EVENT, conf_id),
        ("154", LEAVE_EVENT, conf_id),
        ("156", LEAVE_EVENT, conf_id),
    ]
    assert not pop.visible_to(conf_id, "154")


def test_test_api_changes_and_errors() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference(apply_minutes=60)
    pop.set_participant(conf_id, "70005", channel_state=1, channelAttrib=1, role=0)
    pop.set_elapsed(conf_id, 42)
    pop.set_apply(conf_id, 90)
    pop.set_conf_state(conf_id, 1)
    conf = pop.render(conf_id)
    assert conf is not None
    assert (conf["confHaveBeenTime"], conf["applyConfTime"], conf["confState"]) == (42, 90, 1)
    assert conf["addresses"][0]["channelState"] == 1
    assert conf["addresses"][0]["channelAttrib"] == 1
    with pytest.raises(KeyError):
        pop.set_elapsed(1, 3)
    with pytest.raises(ValueError, match="already"):
        pop.add_participant(conf_id, "70005")
    with pytest.raises(ValueError, match="unknown participant key"):
        pop.set_participant(conf_id, "70005", colour=1)
    with pytest.raises(ValueError, match="integer"):
        pop.set_participant(conf_id, "70005", channelState="1")
    assert not pop.end_conference(1)
    pop.set_elapsed(conf_id, 90)
    pop.tick()
    assert conf_id not in pop


def test_values_outside_the_tables_are_allowed_for_clients_to_count_as_unknown() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference(participants=[{"address": "1", "addressType": "7", "role": 5}])
    conf = pop.render(conf_id)
    assert conf is not None
    assert conf["addresses"][0]["addressType"] == "7"
    assert conf["addresses"][0]["role"] == 5


def test_rendering_is_cached_until_something_changes() -> None:
    pop = frozen(0)
    conf_id = pop.add_conference()
    conf = pop.get(conf_id)
    assert conf is not None
    now = pop.now_ms()
    first = conf.to_json(now)
    assert conf.to_json(now) is first
    pop.set_participant(conf_id, "70005", channelState=1)
    assert conf.to_json(now) is not first
    second = conf.to_json(now)
    assert conf.to_json(now + 60_000) != second  # a minute later confHaveBeenTime moves


def test_set_target_grows_and_shrinks() -> None:
    pop = frozen(10)
    pop.set_target(100)
    assert len(pop) == 100
    pop.set_target(3)
    assert len(pop) == 3
    pop.advance(600)
    assert len(pop) <= 3
    with pytest.raises(ValueError, match="conferences"):
        pop.set_target(20001)


def test_time_scale_runs_simulated_time() -> None:
    monotonic = [1000.0]  # the injected clock: exact, and no real time spent
    clock = SimClock(60.0, epoch=EPOCH, monotonic=lambda: monotonic[0])
    start = clock.now_ms()
    monotonic[0] += 0.0625  # exact in binary: no rounding in the milliseconds
    assert clock.now_ms() - start == 3750  # 0.0625 s x 60
    clock.time_scale = 0.0
    frozen_at = clock.now_ms()
    monotonic[0] += 20.0
    assert clock.now_ms() == frozen_at
    clock.time_scale = 2.0  # no jump when the scale changes
    assert clock.now_ms() == frozen_at
    monotonic[0] += 1.5
    assert clock.now_ms() == frozen_at + 3000


def test_twenty_thousand_conferences_quickly() -> None:
    start = time.perf_counter()
    pop = frozen(20000)
    created = time.perf_counter() - start
    assert len(pop) == 20000
    assert created < 3.0, created
    start = time.perf_counter()
    pop.advance(1)
    ids = pop.conf_ids()[:20]
    now = pop.now_ms()
    for conf_id in ids:
        conf = pop.get(conf_id)
        assert conf is not None
        conf.to_json(now)
    assert time.perf_counter() - start < 0.1


async def test_ten_thousand_conferences_over_http(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    """The benchmark's shape in miniature: all IDs, then batches of 20 at concurrency 16."""
    sim = await start_sim(conferences=10000, time_scale=1.0)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    ids = (await gw.conf_ids("153", guid)).body["result"]["confIds"]
    assert len(ids) >= 9950  # time runs: a few may have ended already
    batches = [ids[i : i + 20] for i in range(0, len(ids), 20)]
    semaphore = asyncio.Semaphore(16)
    returned = 0

    async def one(batch: list[int]) -> None:
        nonlocal returned
        async with semaphore:
            reply = await gw.conf_infos("153", guid, batch)
            returned += len(reply.body["result"]["confs"])

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in batches))
    elapsed = time.perf_counter() - start
    assert returned >= 9900
    assert sim.stats.max_in_flight["queryConfInfos"] <= 16
    assert elapsed < 15.0, elapsed
