"""One collection against the simulator over real sockets (issue 13): partial collections keep
what is known, deadlines are shared as the latest, workers stop at the deadline, the account's
kind is detected, and `max_ids` caps what is asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ccgw_simulator import GatewaySimulator
from exporter.collector import GatewayTarget, scrape_timeout
from exporter.config import parse_config

from .conftest import AGENT, INSPECTOR, SimFactory, wait_for

TargetFactory = Callable[..., GatewayTarget]


@pytest.fixture
async def make_target(tmp_path: Any) -> AsyncIterator[TargetFactory]:
    targets: list[GatewayTarget] = []

    def factory(sim: GatewaySimulator, account: tuple[str, str] = INSPECTOR,
                start: bool = True, **overrides: Any) -> GatewayTarget:  # fmt: skip
        entry: dict[str, Any] = {
            "name": "gw",
            "url": sim.url,
            "agent_id": account[0],
            "password": account[1],
            "timeout": "3s",
        }
        entry.update(overrides)
        config = parse_config({"gateways": [entry]}, base_dir=tmp_path).config.gateways[0]
        target = GatewayTarget(config)
        targets.append(target)
        if start:
            target.start()
        return target

    yield factory
    await asyncio.gather(*(t.stop() for t in targets))


async def signed_in(target: GatewayTarget) -> None:
    await wait_for(lambda: target.session.signed_in)


def ids(collection: Any) -> set[int]:
    return {c.conf_id for c in collection.conferences}


async def test_a_complete_collection(make_sim: SimFactory, make_target: TargetFactory) -> None:
    sim = await make_sim()
    confs = {sim.population.add_conference() for _ in range(45)}
    target = make_target(sim)
    await signed_in(target)
    result = await target.collect(3.0)
    assert result.up
    assert result.complete
    assert ids(result) == confs
    assert result.stale == 0
    assert result.account.role == "inspector"
    assert result.account.vdn == "1"
    assert result.account.node.startswith("AgentGateway")


async def test_a_batch_that_keeps_failing_is_served_stale_then_gone_when_answered(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    confs = {sim.population.add_conference() for _ in range(45)}
    target = make_target(sim)
    await signed_in(target)
    assert ids(await target.collect(3.0)) == confs
    sim.faults.retcodes = {"100-007": 1.0}
    sim.faults.methods = ["queryConfInfos"]
    result = await target.collect(3.0)
    assert result.up, "the gateway is reachable and the session valid"
    assert not result.complete
    assert ids(result) == confs, "nothing vanishes because a batch failed"
    assert result.stale == 45
    # one conference ends while the batches fail: still served (stale), not counted as ended
    ended = min(confs)
    sim.population.end_conference(ended)
    result = await target.collect(3.0)
    assert ended in ids(result)
    assert sum(target.activity.ended.values()) == 0
    # the gateway answers again: now, and only now, it is gone
    sim.faults.retcodes = {}
    result = await target.collect(3.0)
    assert result.complete
    assert ids(result) == confs - {ended}
    assert target.activity.ended["within_applied"] + target.activity.ended["over_applied"] == 1


async def test_stale_conferences_expire_after_keep_stale_for(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    confs = {sim.population.add_conference() for _ in range(3)}
    # Kept long enough for the second collection to fall within it on a loaded machine.
    target = make_target(sim, conferences={"keep_stale_for": "1s"})
    await signed_in(target)
    assert ids(await target.collect(3.0)) == confs
    sim.faults.retcodes = {"100-007": 1.0}
    sim.faults.methods = ["queryConfInfos"]
    assert ids(await target.collect(3.0)) == confs
    await asyncio.sleep(1.05)
    result = await target.collect(3.0)
    assert ids(result) == set()
    assert result.stale == 0


async def test_known_conferences_are_asked_when_discovery_fails(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    confs = {sim.population.add_conference() for _ in range(5)}
    target = make_target(sim)
    await signed_in(target)
    await target.collect(3.0)
    sim.faults.retcodes = {"100-007": 1.0}
    sim.faults.methods = ["queryAllConfIds"]
    result = await target.collect(3.0)
    assert ids(result) == confs
    assert result.stale == 0, "answered by queryconfinfos, fresh"
    assert not result.complete


async def test_an_ordinary_agent_is_detected_not_paged(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    mine = sim.population.add_conference(participants=[{"address": "154", "addressType": "9"}])
    sim.population.add_conference()
    target = make_target(sim, AGENT, conferences={"ids": [mine]})
    await signed_in(target)
    for _ in range(3):
        result = await target.collect(3.0)
    assert result.up
    assert result.complete
    assert result.account.role == "agent"
    assert ids(result) == {mine}
    assert sim.stats.calls["queryAllConfIds"] == 1, "not asked again"
    assert target.discovery_failures == 0


async def test_a_tiny_timeout_cannot_shorten_a_shared_collection(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    """An unauthenticated loop of /metrics with the timeout header at -1 made the real
    Prometheus's scrapes come back nearly empty (issue 12, item 7)."""
    sim = await make_sim()
    confs = {sim.population.add_conference() for _ in range(200)}
    target = make_target(sim, max_concurrency=2)
    await signed_in(target)
    sim.faults.latency_ms = 50
    sim.faults.methods = ["queryConfInfos"]
    poisoned = asyncio.ensure_future(target.collect(scrape_timeout(3.0, "-1")))
    await asyncio.sleep(0.01)
    real = await target.collect(3.0)
    await poisoned
    assert ids(real) == confs
    assert real.complete


async def test_workers_stop_at_the_deadline(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    for _ in range(2000):
        sim.population.add_conference()
    target = make_target(sim, max_concurrency=4, conferences={"discover": True})
    await signed_in(target)
    sim.faults.latency_ms = 100
    sim.faults.methods = ["queryConfInfos"]
    loop = asyncio.get_running_loop()
    calls = sim.stats.calls["queryConfInfos"]
    started = loop.time()
    result = await target.collect(0.5)
    elapsed = loop.time() - started
    assert elapsed < 0.5 + 0.3
    asked = sim.stats.calls["queryConfInfos"] - calls
    assert asked < 100, f"{asked} calls for a 0.5 s budget"
    assert not result.complete
    assert result.error is not None
    assert "not asked" in result.error
    errors = sum(v for (m, _), v in target.stats.errors.items() if m == "queryConfInfos")
    assert errors <= 4 * 2, "at most the calls in flight time out"


async def test_max_ids_caps_what_one_collection_asks(
    make_sim: SimFactory, make_target: TargetFactory
) -> None:
    sim = await make_sim()
    for _ in range(50):
        sim.population.add_conference()
    target = make_target(sim, max_ids=20)
    await signed_in(target)
    result = await target.collect(3.0)
    assert result.requested == 20
    assert result.ids_dropped == 30
    assert not result.complete
    assert sim.stats.calls["queryConfInfos"] == 1
