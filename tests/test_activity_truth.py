"""The activity counters equal the simulator's ground truth, exactly (issue 16's proof).

A living population (seeded churn: conferences start and end, participants join and leave,
applied time is prolonged) is driven through many collections, with failed batches and
collections cut by their deadline mixed in. The simulator's `served` truth counts what its
intact answers showed; an exporter that reads every answer must count exactly that, and must
not take a failed batch or a deadline cut for an ended conference.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ccgw_simulator import GatewaySimulator
from exporter.collector import GatewayTarget
from exporter.config import parse_config

from .conftest import INSPECTOR, SimFactory, wait_for

ROUNDS = 60
STEP_SECONDS = 45.0  # simulated time between two collections


def target_for(sim: GatewaySimulator, tmp_path: Any) -> GatewayTarget:
    entry = {
        "name": "gw",
        "url": sim.url,
        "agent_id": INSPECTOR[0],
        "password": INSPECTOR[1],
        "timeout": "3s",
        "max_concurrency": 4,
        "conferences": {"keep_stale_for": "10m"},
    }
    config = parse_config({"gateways": [entry]}, base_dir=tmp_path).config.gateways[0]
    return GatewayTarget(config)


def truth(sim: GatewaySimulator) -> dict[str, Any]:
    served: dict[str, Any] = sim.population.truth.to_dict(0, 0, records=False)["served"]
    return served


async def test_counters_equal_the_simulators_truth_through_failures(
    make_sim: SimFactory, tmp_path: Any
) -> None:
    sim = await make_sim(conferences=60, seed=11)
    sim.population.set_churn(activity_mean_s=60.0, replacement_mean_s=30.0,
                             prolong_probability=0.3)  # fmt: skip
    target = target_for(sim, tmp_path)
    target.start()
    try:
        await wait_for(lambda: target.session.signed_in)
        first = await target.collect(3.0)
        assert first.complete
        sim.population.reset_truth()  # the exporter's baseline is the simulator's
        faults = sim.faults
        cut = 0
        failed = 0
        for n in range(ROUNDS):
            sim.population.advance(STEP_SECONDS)
            faults.retcodes, faults.slow_rate, faults.limit = {}, 0.0, None
            faults.methods = ["queryConfInfos"]
            if n % 5 == 1:  # some batches answer 100-007 (their retries too, sometimes)
                faults.retcodes = {"100-007": 1.0}
                faults.limit = 3
            elif n % 7 == 3:  # a batch slower than the deadline: the collection is cut
                faults.slow_rate = 1.0
                faults.slow_seconds = 30.0
                faults.limit = 1
            result = await target.collect(0.8 if n % 7 == 3 else 3.0)
            cut += result.error is not None and "timeout" in result.error
            failed += not result.complete
        faults.retcodes, faults.slow_rate, faults.limit = {}, 0.0, None
        final = await target.collect(3.0)  # a complete answer settles every pending end
        assert final.complete
        assert failed >= 6, "the faults must have bitten"
        assert cut >= 3
    finally:
        await target.stop()
    t = truth(sim)
    a = target.activity
    assert t["started"] > 10, "the population must have lived"
    assert a.started == t["started"]
    assert a.ended == t["ended"]
    assert a.prolongations == t["prolongations"]
    assert a.joined == t["participants_joined"] + t["participants_at_start"]
    assert a.left == t["participants_left"] + t["participants_at_end"]
    assert a.duration.count == t["duration_seconds"]["count"]
    assert a.duration.total == t["duration_seconds"]["sum"]
    assert a.applied_share.count == t["applied_share"]["count"]
    assert abs(a.applied_share.total - t["applied_share"]["sum"]) < 1e-9
    assert a.peak_participants.count == t["peak_participants"]["count"]
    assert a.peak_participants.total == t["peak_participants"]["sum"]
    await asyncio.sleep(0)
