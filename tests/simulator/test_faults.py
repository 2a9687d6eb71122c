"""Fault injection: every fault type, method scoping, limits, determinism from the seed."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from ccgw_simulator import FaultConfig, FaultRule, GatewaySimulator

from ..support import await_until
from .wire import Gateway, StartSim


async def _query(gw: Gateway, guid: str) -> str:
    return (await gw.conf_infos("153", guid, [1])).retcode


async def test_retcode_fault_limited_to_one_method(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.retcodes = {"100-007": 1.0}
    sim.faults.methods = ["queryConfInfos"]
    reply = await gw.conf_infos("153", guid, [1])
    assert reply.status == 200
    assert reply.body == {"message": "Unknown ERROR._10007", "retcode": "100-007"}
    assert (await gw.conf_ids("153", guid)).retcode == "0"  # other methods untouched
    assert sim.stats.faults["retcode"] == 1
    assert sim.stats.answer_count("queryConfInfos", "100-007") == 1


async def test_retcode_fault_skips_the_operation(sim: GatewaySimulator, gw: Gateway) -> None:
    sim.faults.retcodes = {"000-003": 1.0}
    sim.faults.methods = ["loginEx"]
    assert (await gw.login()).retcode == "000-003"
    assert "153" not in sim.nodes[0].sessions


async def test_retcode_rates_mix(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.replace_with(
        FaultConfig.from_mapping({"methods": ["queryConfInfos"], "retcodes": {"100-007": 0.5}})
    )
    codes = [await _query(gw, guid) for _ in range(40)]
    assert 5 < codes.count("100-007") < 35
    assert codes.count("0") == 40 - codes.count("100-007")


async def test_limit_fires_a_given_number_of_times(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.rules = [FaultRule(methods=["queryConfInfos"], retcodes={"100-007": 1.0}, limit=2)]
    codes = [await _query(gw, guid) for _ in range(4)]
    assert codes == ["100-007", "100-007", "0", "0"]


async def test_latency_only_where_asked(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.rules = [FaultRule(methods=["queryConfInfos"], latency_ms=250, jitter_ms=50)]
    start = time.monotonic()
    assert await _query(gw, guid) == "0"
    assert 0.19 <= time.monotonic() - start < 1.0
    start = time.monotonic()
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert time.monotonic() - start < 0.15
    assert sim.stats.faults["latency"] == 1


@pytest.mark.parametrize("status", [502, 503])
async def test_http_error_is_html(sim: GatewaySimulator, gw: Gateway, status: int) -> None:
    sim.faults.http_error_rate = 1.0
    sim.faults.http_error_status = status
    reply = await gw.login()
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("text/html")
    assert f"<title>{status}" in reply.text
    assert sim.stats.faults["http_error"] == 1


async def test_reset_aborts_mid_answer(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.reset_rate = 1.0
    sim.faults.methods = ["queryConfInfos"]
    with pytest.raises(aiohttp.ClientError):
        await gw.conf_infos("153", guid, [1])
    assert sim.stats.faults["reset"] == 1
    sim.faults.reset_rate = 0.0
    assert await _query(gw, guid) == "0"  # the server is fine afterwards


async def test_malformed_json_with_200(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.malformed_rate = 1.0
    for _ in range(6):
        reply = await gw.conf_infos("153", guid, [1])
        assert reply.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(reply.text)
    assert sim.stats.faults["malformed"] == 6


async def test_slow_answer_blocks_nothing_else(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    sim.faults.rules = [FaultRule(methods=["queryConfInfos"], slow_rate=1.0, slow_seconds=3600)]
    slow = asyncio.create_task(gw.conf_infos("153", guid, [1], timeout=2.0))
    await await_until(lambda: sim.stats.in_flight["queryConfInfos"] == 1, 10, "slow call")
    start = time.monotonic()
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert time.monotonic() - start < 1.0  # not held behind the slow answer (an hour)
    with pytest.raises(asyncio.TimeoutError):
        await slow
    assert sim.stats.faults["slow"] == 1
    assert sim.stats.in_flight["queryConfInfos"] == 1  # still sleeping server-side


async def test_faults_are_deterministic_from_the_seed(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    faults = {"methods": ["queryConfInfos"], "retcodes": {"100-007": 0.3, "000-003": 0.2}}

    async def run(seed: int) -> list[str]:
        sim = await start_sim(seed=seed, faults=FaultConfig.from_mapping(faults))
        gw = Gateway(sim, http)
        guid = await gw.sign_in()
        return [await _query(gw, guid) for _ in range(25)]

    first, second, other = await run(5), await run(5), await run(6)
    assert first == second
    assert first != other
    assert {"0", "100-007", "000-003"} <= set(first)


async def test_fault_draws_do_not_touch_unscoped_methods(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    sim.faults.methods = ["queryConfInfos"]
    sim.faults.http_error_rate = 1.0
    assert (await gw.login()).retcode == "0"
    assert sim.stats.faults == {}
