"""The ground truth of conference activity (issue 16): what happened at the gateway and what
its answers said, counted so that a test can hold an exporter's counters against it."""

from __future__ import annotations

from typing import Any

import aiohttp

from ccgw_simulator import FaultConfig, Population
from ccgw_simulator.clock import SimClock

from .wire import Gateway, StartSim

EPOCH = 1_700_000_000.0


def frozen(target: int = 0, seed: int = 1) -> Population:
    return Population(target, seed=seed, clock=SimClock(0.0, epoch=EPOCH))


def gateway_side(pop: Population) -> dict[str, Any]:
    side: dict[str, Any] = pop.truth.to_dict(pop.now_ms(), len(pop))["gateway"]
    return side


def people(pop: Population) -> int:
    confs = [pop.get(i) for i in pop.conf_ids()]
    return sum(len(conf.participants) for conf in confs if conf is not None)


def test_a_conference_within_its_applied_time() -> None:
    pop = frozen()
    conf_id = pop.add_conference(apply_minutes=10, elapsed_minutes=2)
    pop.add_participant(conf_id, "70007")
    pop.remove_participant(conf_id, "70005")
    pop.advance(8 * 60)  # ends at its applied time
    assert conf_id not in pop
    side = gateway_side(pop)
    assert side["started"] == 1
    assert side["ended"] == {"within_applied": 1, "over_applied": 0}
    assert (side["participants_at_start"], side["participants_joined"]) == (2, 1)
    assert (side["participants_left"], side["participants_at_end"]) == (1, 2)
    # the last moment before the end showed 9 of 10 minutes (confHaveBeenTime is whole minutes)
    assert side["duration_seconds"] == {"count": 1, "sum": 540}
    assert side["applied_share"] == {"count": 1, "sum": 0.9}
    assert side["peak_participants"] == {"count": 1, "sum": 3}
    [record] = pop.truth.records
    assert record["gateway"] == {
        "outcome": "within_applied",
        "minutes": 9,
        "applied_minutes": 10,
        "duration_seconds": 540,
        "applied_share": 0.9,
        "peak_participants": 3,
    }
    assert record["served"] is None  # nobody asked


def test_an_overrun_conference_ends_over_its_applied_time() -> None:
    pop = frozen()
    conf_id = pop.add_conference(apply_minutes=10, elapsed_minutes=9, overrun=True)
    pop.advance(5 * 60)  # 14 minutes
    pop.set_apply(conf_id, 12)  # a prolongation, still past
    pop.set_overrun(conf_id, False)  # the gateway lets it go: at once
    pop.tick()
    side = gateway_side(pop)
    assert side["ended"] == {"within_applied": 0, "over_applied": 1}
    assert side["prolongations"] == 1
    assert side["duration_seconds"]["sum"] == 14 * 60
    assert side["applied_share"]["sum"] == 14 / 12


def test_lowering_the_applied_time_is_no_prolongation() -> None:
    pop = frozen()
    conf_id = pop.add_conference(apply_minutes=60)
    pop.set_apply(conf_id, 90)
    pop.set_apply(conf_id, 30)
    pop.set_apply(conf_id, 45)
    assert gateway_side(pop)["prolongations"] == 2


def test_a_conference_emptied_ends_with_its_last_participant() -> None:
    pop = frozen()
    conf_id = pop.add_conference(apply_minutes=60, elapsed_minutes=30)
    pop.remove_participant(conf_id, "70005")
    pop.remove_participant(conf_id, "70006")
    side = gateway_side(pop)
    assert (side["participants_left"], side["participants_at_end"]) == (1, 1)
    assert side["ended"]["within_applied"] == 1
    assert side["duration_seconds"]["sum"] == 30 * 60


def test_reset_makes_the_live_conferences_the_baseline() -> None:
    pop = frozen(20, seed=3)
    assert gateway_side(pop)["started"] == 0  # the initial population is the baseline
    pop.advance(3600)
    started = gateway_side(pop)["started"]
    assert started > 0
    pop.reset_truth()
    assert gateway_side(pop)["started"] == 0
    assert pop.truth.records == type(pop.truth.records)()
    pop.advance(3600)
    side = gateway_side(pop)
    assert side["started"] > 0
    ended = side["ended"]["within_applied"] + side["ended"]["over_applied"]
    assert ended == side["duration_seconds"]["count"] == side["peak_participants"]["count"]


def test_a_living_population_balances_its_books() -> None:
    """Over hours of churn: conferences started - ended = the change in the live count, and
    participants in = participants out + those still there."""
    pop = frozen(200, seed=5)
    live_before = len(pop)
    people_before = people(pop)
    pop.advance(4 * 3600)
    side = gateway_side(pop)
    ended = side["ended"]["within_applied"] + side["ended"]["over_applied"]
    assert side["started"] > 200
    assert side["started"] - ended == len(pop) - live_before
    people_now = people(pop)
    came = people_before + side["participants_at_start"] + side["participants_joined"]
    went = side["participants_left"] + side["participants_at_end"]
    assert came - went == people_now
    assert side["prolongations"] > 0
    assert side["ended"]["over_applied"] == 0  # the population never keeps one past its time
    assert pop.truth.timeout_warnings > 0


def test_the_truth_is_deterministic_under_a_seed_whatever_the_steps() -> None:
    a, b = frozen(100, seed=9), frozen(100, seed=9)
    a.advance(2 * 3600)
    for _ in range(120):
        b.advance(60)
    assert a.truth.to_dict(a.now_ms(), len(a)) == b.truth.to_dict(b.now_ms(), len(b))
    c = frozen(100, seed=10)
    c.advance(2 * 3600)
    assert gateway_side(c) != gateway_side(a)


def test_churn_is_tunable() -> None:
    calm, busy = frozen(100, seed=4), frozen(100, seed=4)
    busy.set_churn(activity_mean_s=30, prolong_probability=1.0)
    calm.advance(3600)
    busy.advance(3600)
    assert gateway_side(busy)["participants_joined"] > 3 * gateway_side(calm)["participants_joined"]
    assert gateway_side(busy)["prolongations"] > gateway_side(calm)["prolongations"]


# ------------------------------------------------------------------ the served side, by HTTP


async def test_served_side_counts_what_the_answers_said(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    pop = sim.population
    seen_early = pop.add_conference(apply_minutes=30, elapsed_minutes=1)
    unseen = pop.add_conference(apply_minutes=30)
    assert (await gw.conf_infos("153", guid, [seen_early])).retcode == "0"
    pop.add_participant(seen_early, "70007")
    pop.add_participant(seen_early, "70008")  # ...
    pop.remove_participant(seen_early, "70008")  # ... gone before anybody looked
    pop.set_apply(seen_early, 40)
    pop.set_apply(seen_early, 50)  # two raises, one seen
    pop.advance(5 * 60)
    assert (await gw.conf_infos("153", guid, [seen_early])).retcode == "0"
    pop.end_conference(unseen)
    pop.advance(10 * 60)  # 16 minutes in
    pop.end_conference(seen_early)
    truth = (await gw.admin("GET", "/truth")).body
    served, at_gateway = truth["served"], truth["gateway"]
    assert (served["started"], at_gateway["started"]) == (1, 2)
    assert served["ended"] == {"within_applied": 1, "over_applied": 0}
    assert at_gateway["ended"]["within_applied"] == 2
    assert (served["participants_joined"], at_gateway["participants_joined"]) == (1, 2)
    assert (served["participants_left"], at_gateway["participants_left"]) == (0, 1)
    assert (served["prolongations"], at_gateway["prolongations"]) == (1, 2)
    assert served["participants_at_start"] == 2
    assert served["participants_at_end"] == 3
    # last served at 6 minutes; the gateway's own last moment was 16 minutes
    assert served["duration_seconds"] == {"count": 1, "sum": 360}
    assert served["applied_share"] == {"count": 1, "sum": 6 / 50}
    assert served["peak_participants"] == {"count": 1, "sum": 3}
    record = next(r for r in truth["ended_conferences"] if r["confId"] == seen_early)
    assert record["served"]["minutes"] == 6
    assert record["gateway"]["minutes"] == 16
    assert record["prolongations"] == 2


async def test_broken_answers_are_not_served(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    conf_id = sim.population.add_conference()
    for fault in ({"malformed_rate": 1.0}, {"retcodes": {"100-007": 1.0}}):
        sim.set_faults(FaultConfig.from_mapping({"methods": ["queryConfInfos"], **fault}))
        await gw.conf_infos("153", guid, [conf_id])
    sim.set_faults(FaultConfig())
    assert sim.population.truth.served.started == 0
    assert (await gw.conf_infos("153", guid, [conf_id])).retcode == "0"
    assert sim.population.truth.served.started == 1


async def test_truth_admin_api(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(conferences=5)
    gw = Gateway(sim, http)
    truth = (await gw.admin("GET", "/truth")).body
    assert set(truth) == {
        "vdn",
        "since_ms",
        "now_ms",
        "live",
        "gateway",
        "served",
        "timeout_warnings",
        "ended_conferences",
        "ended_conferences_dropped",
    }
    assert (truth["vdn"], truth["live"], truth["gateway"]["started"]) == (1, 5, 0)
    assert (
        set(truth["gateway"])
        == set(truth["served"])
        == {
            "started",
            "ended",
            "prolongations",
            "participants_joined",
            "participants_left",
            "participants_at_start",
            "participants_at_end",
            "duration_seconds",
            "applied_share",
            "peak_participants",
        }
    )
    await gw.admin("POST", "/conferences", {"applyConfTime": 10})
    await gw.admin("POST", "/advance", {"seconds": 600})
    truth = (await gw.admin("GET", "/truth?conferences=false")).body
    assert "ended_conferences" not in truth
    assert truth["gateway"]["started"] >= 1
    reset = (await gw.admin("POST", "/truth/reset")).body
    assert reset["ok"] is True
    assert reset["since_ms"] == sim.population.now_ms()
    truth = (await gw.admin("GET", "/truth")).body
    assert truth["gateway"]["started"] == 0
    assert truth["ended_conferences"] == []
    other = (await gw.admin("GET", "/truth?vdn=2")).body
    assert (other["vdn"], other["live"], other["gateway"]["started"]) == (2, 0, 0)
    assert (await gw.admin("GET", "/truth?vdn=x")).status == 400


async def test_churn_through_the_admin_api_is_deterministic(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    """Two simulators with one seed, driven by the same admin calls, tell the same truth."""
    truths = []
    for _ in range(2):
        sim = await start_sim(conferences=50, seed=11)
        gw = Gateway(sim, http)
        reply = await gw.admin(
            "PUT", "/population", {"activity_mean_seconds": 60, "prolong_probability": 0.5}
        )
        assert reply.body["activity_mean_seconds"] == 60
        for _ in range(30):
            await gw.admin("POST", "/advance", {"seconds": 120})
        truth = (await gw.admin("GET", "/truth")).body
        # the same but for the clock's epoch (the wall clock when each one started)
        for record in truth["ended_conferences"]:
            record["ended_ms"] -= truth["since_ms"]
        truths.append({k: v for k, v in truth.items() if k not in ("since_ms", "now_ms")})
    assert truths[0] == truths[1]
    assert truths[0]["gateway"]["started"] > 20
    assert (
        await Gateway(sim, http).admin("PUT", "/population", {"prolong_probability": 2})
    ).status == 400
