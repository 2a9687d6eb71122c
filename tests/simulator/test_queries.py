"""queryvdnconfid (queryAllConfIds) and queryconfinfos (queryConfInfos) rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ccgw_simulator import GatewaySimulator

from .wire import AGENT, Gateway, StartSim

PARTICIPANT_KEYS = [
    "addressType",
    "address",
    "deviceCallType",
    "deviceType",
    "channelAttrib",
    "channelState",
    "role",
    "enterTime",
]


async def test_inspector_gets_every_conference_id(sim: GatewaySimulator, gw: Gateway) -> None:
    ids = [sim.population.add_conference() for _ in range(3)]
    guid = await gw.sign_in()
    reply = await gw.conf_ids("153", guid)
    assert reply.body == {"message": "success", "retcode": "0", "result": {"confIds": ids}}
    sim.population.end_conference(ids[1])
    assert (await gw.conf_ids("153", guid)).body["result"]["confIds"] == [ids[0], ids[2]]


async def test_ordinary_agent_may_not_list_ids(gw: Gateway) -> None:
    guid = await gw.sign_in(*AGENT)
    assert (await gw.conf_ids("154", guid)).retcode == "101-004"


async def test_conference_fields_follow_the_spec(sim: GatewaySimulator, gw: Gateway) -> None:
    conf_id = sim.population.add_conference(
        apply_minutes=60,
        elapsed_minutes=29.5,
        participants=[
            {"address": "70005", "addressType": "6", "deviceType": 0},
            {"address": "153", "addressType": "9", "role": 1},
        ],
    )
    guid = await gw.sign_in()
    reply = await gw.conf_infos("153", guid, [conf_id])
    assert reply.headers["Content-Type"] == "application/json;charset=UTF-8"
    body = reply.body
    assert (body["retcode"], body["message"]) == ("0", "")
    [conf] = body["result"]["confs"]
    assert list(conf) == [
        "confId",
        "confState",
        "startTime",
        "applyConfTime",
        "confHaveBeenTime",
        "addresses",
    ]
    assert conf["confId"] == conf_id
    assert conf["confState"] == 0
    assert conf["applyConfTime"] == 60
    assert conf["confHaveBeenTime"] == 29
    assert conf["startTime"] == sim.population.now_ms() - 29.5 * 60_000
    phone, agent = conf["addresses"]
    assert list(phone) == PARTICIPANT_KEYS
    assert phone == {
        "addressType": "6",
        "address": "70005",
        "deviceCallType": 0,
        "deviceType": 0,
        "channelAttrib": 3,
        "channelState": 0,
        "role": 0,
        "enterTime": conf["startTime"],
    }
    assert (agent["addressType"], agent["deviceType"], agent["role"]) == ("9", 6, 1)


@pytest.mark.parametrize(
    "ids",
    [
        [],
        list(range(1029888, 1029888 + 21)),
        [1029888, "1029889"],
        [1029888, True],
        [1029888.0],
        [None],
        "1029888",
        None,
    ],
)
async def test_bad_conf_ids_are_000_002(gw: Gateway, ids: Any) -> None:
    guid = await gw.sign_in()
    reply = await gw.conf_infos("153", guid, ids)
    assert reply.retcode == "000-002"


async def test_bad_bodies_are_000_002(gw: Gateway) -> None:
    guid = await gw.sign_in()
    path = "/agentconf/153/queryconfinfos"
    assert (await gw.call("POST", path, guid=guid)).retcode == "000-002"
    assert (await gw.call("POST", path, guid=guid, raw=b"{oops")).retcode == "000-002"
    assert (await gw.call("POST", path, guid=guid, body={"ids": [1]})).retcode == "000-002"


async def test_twenty_ids_are_fine_and_unknown_ids_are_left_out(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    known = [sim.population.add_conference() for _ in range(3)]
    ended = sim.population.add_conference()
    sim.population.end_conference(ended)
    asked = [*known, ended, 5, -1, *range(2_000_000, 2_000_000 + 14)]
    assert len(asked) == 20
    guid = await gw.sign_in()
    reply = await gw.conf_infos("153", guid, asked)
    assert reply.retcode == "0"
    assert [c["confId"] for c in reply.body["result"]["confs"]] == known
    assert sim.stats.conf_ids_requested == 20
    assert sim.stats.confs_returned == 3


async def test_ordinary_agent_sees_only_its_own_conference(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    mine = sim.population.add_conference(
        participants=[{"address": "154", "addressType": "9", "role": 1}, {"address": "70001"}]
    )
    phone_154 = sim.population.add_conference(participants=[{"address": "154"}])  # type "6"
    other = sim.population.add_conference()
    guid = await gw.sign_in(*AGENT)
    reply = await gw.conf_infos("154", guid, [mine, phone_154, other])
    assert [c["confId"] for c in reply.body["result"]["confs"]] == [mine]


async def test_bare_result_shape(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(result_shape="bare")
    gw = Gateway(sim, http)
    conf_id = sim.population.add_conference()
    guid = await gw.sign_in()
    reply = await gw.conf_infos("153", guid, [conf_id, 1])
    assert isinstance(reply.body["result"], list)
    assert [c["confId"] for c in reply.body["result"]] == [conf_id]


async def test_confs_result_shape_is_the_default(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in()
    reply = await gw.conf_infos("153", guid, [1])
    assert reply.body["result"] == {"confs": []}


async def test_stringly_numbers_sends_some_numbers_as_strings(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(conferences=60, stringly_numbers=True)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    ids = (await gw.conf_ids("153", guid)).body["result"]["confIds"]
    strings = 0
    for start in range(0, len(ids), 20):
        reply = await gw.conf_infos("153", guid, ids[start : start + 20])
        for conf in reply.body["result"]["confs"]:
            values = [conf[k] for k in ("confId", "confState", "startTime")]
            values += [conf["applyConfTime"], conf["confHaveBeenTime"]]
            for p in conf["addresses"]:
                values += [p[k] for k in PARTICIPANT_KEYS[2:]]
            strings += any(isinstance(v, str) for v in values)
    assert 5 <= strings < len(ids)


async def test_query_needs_authentication(sim: GatewaySimulator, gw: Gateway) -> None:
    assert (await gw.conf_infos("153", None, [1])).retcode == "000-003"
    assert (await gw.conf_infos("153", "x", [1])).retcode == "100-006"


async def test_wrong_path_404_and_wrong_method_405(gw: Gateway) -> None:
    guid = await gw.sign_in()
    assert (await gw.call("GET", "/agentconf/153/queryconfinfos", guid=guid)).status == 405
    assert (await gw.call("PUT", "/agentconf/153/queryconfinfos", guid=guid)).status == 405
    assert (await gw.call("DELETE", "/agentconf/153/queryconfinfos", guid=guid)).status == 405
    assert (await gw.call("POST", "/agentconf/153/queryvdnconfid", guid=guid)).status == 405
    assert (await gw.call("GET", "/agentconf/153/nosuch", guid=guid)).status == 404
    assert (await gw.call("GET", "/nosuch")).status == 404
