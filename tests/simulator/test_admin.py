"""The /simulator/ admin API, as a test or benchmark in another process would use it."""

from __future__ import annotations

import aiohttp

from ccgw_simulator import GatewaySimulator

from .wire import AGENT, Gateway, StartSim


async def test_index_describes_the_simulator(gw: Gateway) -> None:
    reply = await gw.admin("GET", "/")
    assert reply.status == 200
    assert reply.body["auth_mode"] == "dynamic"
    assert reply.body["accounts"] == [
        {"agent_id": "153", "inspector": True, "vdn": 1},
        {"agent_id": "154", "inspector": False, "vdn": 1},
    ]
    assert reply.body["vdn"] == 1
    assert reply.body["agent_id_range"] == "current"
    assert reply.body["forceloginex"] is True
    assert (reply.body["charset"], reply.body["messages"]) == ("UTF-8", "en")


async def test_stats_and_reset(gw: Gateway) -> None:
    guid = await gw.sign_in()
    await gw.conf_infos("153", guid, [])
    stats = (await gw.admin("GET", "/stats")).body
    assert stats["calls"] == {"loginEx": 1, "queryConfInfos": 1}
    assert stats["answers"] == {"loginEx": {"0": 1}, "queryConfInfos": {"000-002": 1}}
    assert stats["guids_issued"] == 1
    assert stats["signins"] == {"loginEx": 1}
    assert set(stats) >= {
        "faults",
        "concurrent_signins_rejected",
        "signouts",
        "events_queued",
        "events_delivered",
        "conf_ids_requested",
        "confs_returned",
        "requests_by_node",
        "in_flight",
        "max_in_flight",
    }
    assert (await gw.admin("POST", "/stats/reset")).body == {"ok": True}
    stats = (await gw.admin("GET", "/stats")).body
    assert stats["calls"] == {}
    assert stats["guids_issued"] == 0


async def test_faults_get_put_and_clear(sim: GatewaySimulator, gw: Gateway) -> None:
    faults = sim.faults
    put = {"methods": ["queryConfInfos"], "retcodes": {"100-007": 1.0}, "latency_ms": 5}
    reply = await gw.admin("PUT", "/faults", put)
    assert reply.status == 200
    assert reply.body["retcodes"] == {"100-007": 1.0}
    assert sim.faults is faults  # replaced in place
    assert faults.methods == ["queryConfInfos"]
    guid = await gw.sign_in()
    assert (await gw.conf_infos("153", guid, [1])).retcode == "100-007"
    got = (await gw.admin("GET", "/faults")).body
    assert got["latency_ms"] == 5
    assert got["rules"] == []
    assert (await gw.admin("PUT", "/faults", {})).status == 200
    assert (await gw.conf_infos("153", guid, [1])).retcode == "0"


async def test_faults_put_refuses_mistakes(gw: Gateway) -> None:
    for bad in (
        {"retcodes": {"100-007": 2}},
        {"methods": ["nosuch"]},
        {"latency": 5},
        {"http_error_status": 500},
        {"rules": [{"reset_rate": -1}]},
    ):
        reply = await gw.admin("PUT", "/faults", bad)
        assert reply.status == 400, bad
        assert "message" in reply.body
    assert (await gw.call("PUT", "/simulator/faults", raw=b"{no")).status == 400


async def test_restart(gw: Gateway) -> None:
    guid = await gw.sign_in()
    assert (await gw.admin("POST", "/restart")).body == {"ok": True, "signed_out": 1}
    assert (await gw.conf_ids("153", guid)).retcode == "100-006"


async def test_nodes(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(nodes=2)
    gw = Gateway(sim, http)
    assert (await gw.admin("PUT", "/nodes/1", {"up": False})).body == {"node": 1, "up": False}
    assert sim.nodes[1].up is False
    nodes = (await gw.admin("GET", "/nodes")).body
    assert nodes == [
        {"node": 0, "up": True, "sessions": 0},
        {"node": 1, "up": False, "sessions": 0},
    ]
    assert (await gw.admin("PUT", "/nodes/2", {"up": True})).status == 404
    assert (await gw.admin("PUT", "/nodes/0", {"up": "yes"})).status == 400


async def test_sessions_listing(gw: Gateway) -> None:
    await gw.sign_in()
    [session] = (await gw.admin("GET", "/sessions")).body
    assert session["agent_id"] == "153"
    assert session["method"] == "loginEx"
    assert session["queued_events"] == 2  # AgentOther_InService, AgentState_Ready
    assert session["licence"] is False
    assert session["status"] == 4
    assert session["body_fields"] == ["password"]


async def test_conference_lifecycle(sim: GatewaySimulator, gw: Gateway) -> None:
    reply = await gw.admin(
        "POST",
        "/conferences",
        {
            "applyConfTime": 30,
            "confHaveBeenTime": 10,
            "addresses": [
                {"address": "154", "addressType": "9", "role": 1},
                {"address": "70001", "channelState": 1},
            ],
        },
    )
    assert reply.status == 201
    conf_id = reply.body["confId"]
    conf = (await gw.admin("GET", f"/conferences/{conf_id}")).body
    assert (conf["applyConfTime"], conf["confHaveBeenTime"]) == (30, 10)
    assert [p["address"] for p in conf["addresses"]] == ["154", "70001"]
    assert conf["addresses"][1]["channelState"] == 1

    summary = (await gw.admin("GET", "/conferences")).body
    assert summary["count"] == 1
    assert summary["confIds"] == [conf_id]
    assert summary["held"] == 1

    patched = await gw.admin(
        "PATCH", f"/conferences/{conf_id}", {"applyConfTime": 45, "confState": 1}
    )
    assert (patched.body["applyConfTime"], patched.body["confState"]) == (45, 1)
    patched = await gw.admin("PATCH", f"/conferences/{conf_id}", {"confHaveBeenTime": 44})
    assert patched.body["confHaveBeenTime"] == 44

    reply = await gw.admin("PUT", f"/conferences/{conf_id}/participants/155", {"addressType": "9"})
    assert reply.status == 201
    assert sim.population.visible_to(conf_id, "155")
    reply = await gw.admin("PUT", f"/conferences/{conf_id}/participants/155", {"channelState": 2})
    assert reply.status == 200
    assert reply.body["addresses"][2]["channelState"] == 2
    reply = await gw.admin("DELETE", f"/conferences/{conf_id}/participants/155")
    assert reply.body == {"ok": True, "ended": False}
    assert (await gw.admin("DELETE", f"/conferences/{conf_id}/participants/155")).status == 404

    assert (await gw.admin("DELETE", f"/conferences/{conf_id}")).body == {"ok": True}
    assert (await gw.admin("GET", f"/conferences/{conf_id}")).status == 404
    assert (await gw.admin("DELETE", f"/conferences/{conf_id}")).status == 404


async def test_conference_admin_events_reach_the_agent(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.drain("154", await gw.sign_in(*AGENT))
    conf_id = (await gw.admin("POST", "/conferences", {})).body["confId"]
    await gw.admin("PUT", f"/conferences/{conf_id}/participants/154", {"addressType": "9"})
    reply = await gw.poll("154", guid)
    assert reply.body["event"]["eventType"] == "AgentConf_SelfJoinResult"
    infos = await gw.conf_infos("154", guid, [conf_id])
    assert [c["confId"] for c in infos.body["result"]["confs"]] == [conf_id]


async def test_conference_admin_refuses_mistakes(gw: Gateway) -> None:
    assert (await gw.admin("POST", "/conferences", {"nosuch": 1})).status == 400
    assert (await gw.admin("POST", "/conferences", {"applyConfTime": "60"})).status == 400
    assert (await gw.admin("POST", "/conferences", {"addresses": [{"addr": "1"}]})).status == 400
    assert (await gw.admin("POST", "/conferences", {"addresses": "x"})).status == 400
    assert (await gw.admin("PATCH", "/conferences/5", {"confState": 1})).status == 404
    assert (await gw.admin("GET", "/conferences/abc")).status == 404
    conf_id = (await gw.admin("POST", "/conferences", {})).body["confId"]
    assert (await gw.admin("PATCH", f"/conferences/{conf_id}", {"confState": "1"})).status == 400
    bad = await gw.admin("PUT", f"/conferences/{conf_id}/participants/1", {"role": "chair"})
    assert bad.status == 400
    assert (await gw.admin("PUT", "/conferences/5/participants/1", {})).status == 404


async def test_overrun_through_the_admin_api(sim: GatewaySimulator, gw: Gateway) -> None:
    body = {"applyConfTime": 10, "confHaveBeenTime": 12, "overrun": True}
    conf_id = (await gw.admin("POST", "/conferences", body)).body["confId"]
    conf = (await gw.admin("GET", f"/conferences/{conf_id}")).body
    assert (conf["confHaveBeenTime"], conf["applyConfTime"]) == (12, 10)
    bad = await gw.admin("PATCH", f"/conferences/{conf_id}", {"overrun": "no"})
    assert (bad.status, conf_id in sim.population) == (400, True)
    reply = await gw.admin("PATCH", f"/conferences/{conf_id}", {"overrun": False})
    assert reply.body == {"confId": conf_id, "ended": True}
    assert conf_id not in sim.population
    normal = (await gw.admin("POST", "/conferences", {"confHaveBeenTime": 61})).body["confId"]
    assert (await gw.admin("GET", f"/conferences/{normal}")).status == 404


async def test_advance_ends_conferences(sim: GatewaySimulator, gw: Gateway) -> None:
    conf_id = sim.population.add_conference(apply_minutes=10, elapsed_minutes=9)
    reply = await gw.admin("POST", "/advance", {"seconds": 61})
    assert reply.body["changes"] == 1
    assert conf_id not in sim.population
    assert (await gw.admin("POST", "/advance", {"seconds": -1})).status == 400


async def test_population_size(sim: GatewaySimulator, gw: Gateway) -> None:
    assert (await gw.admin("PUT", "/population", {"conferences": 50})).body == {
        "target": 50,
        "count": 50,
        "activity_mean_seconds": 240.0,
        "replacement_mean_seconds": 20.0,
        "prolong_probability": 0.1,
    }
    assert len(sim.population) == 50
    assert (await gw.admin("PUT", "/population", {"conferences": 5})).body["count"] == 5
    assert (await gw.admin("PUT", "/population", {"conferences": 20001})).status == 400


async def test_admin_is_not_under_agentgateway(gw: Gateway) -> None:
    assert (await gw.call("GET", "/simulator/stats")).status == 200
    async with gw.http.get(gw.sim.url + "/agentgateway/resource/simulator/stats") as resp:
        assert resp.status == 404
