"""The vendor's rules the simulator enforces (issue 14), each with the page it comes from, so
that a client breaking one fails here as it would against a real gateway."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from ccgw_simulator import Account, GatewaySimulator

from .wire import AGENT, INSPECTOR, PHONE, Gateway, StartSim

# ------------------------------------------------------------------ sign-in bodies


@pytest.mark.parametrize("kind", ["login", "forcelogin"])
async def test_phonenum_is_mandatory_for_login_and_forcelogin(gw: Gateway, kind: str) -> None:
    """cec_07_1202 and cec_07_1203 mark phonenum mandatory: refused as a bad sign-in
    parameter, and no session, no licence."""
    assert (await gw.login(kind=kind, phonenum=None)).retcode == "100-001"
    assert (await gw.login(kind=kind, phonenum="")).retcode == "100-001"
    assert gw.sim.stats.signins == {}
    assert gw.sim.stats.licences_taken == {}
    assert (await gw.login(kind=kind, phonenum=PHONE)).retcode == "0"


@pytest.mark.parametrize("kind", ["loginex", "forceloginex"])
async def test_phonenum_is_optional_for_the_loginex_family(gw: Gateway, kind: str) -> None:
    """cec_07_1224 / cec_07_0357: phonenum optional; forceloginex follows loginex."""
    assert (await gw.login(kind=kind)).retcode == "0"


GOOD_FIELDS: list[dict[str, Any]] = [
    {"status": 3},
    {"status": "5"},
    {"autoanswer": False, "autoenteridle": "false", "releasephone": "true"},
    {"agenttype": 11},
    {"agenttype": "4"},
    {"ip": "10.1.2.3"},
    {"checkInWebm": False, "checkInMailm": True, "listenStatus": False, "phonelinkage": "false"},
    {"vcPhoneNumber": "1" * 24, "entryIp": "10.0.0.1"},
    {"password": "sim-inspector", "unknownField": [1, 2]},  # unknown fields are ignored
]


@pytest.mark.parametrize("fields", GOOD_FIELDS)
async def test_documented_fields_of_the_documented_types_are_accepted(
    gw: Gateway, fields: dict[str, Any]
) -> None:
    assert (await gw.login(kind="loginex", **fields)).retcode == "0"


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"status": 2}, "100-001"),  # 3 busy, 4 idle, 5 wrap-up only
    ({"status": "busy"}, "100-001"),
    ({"status": True}, "100-001"),
    ({"status": 4.0}, "100-001"),
    ({"autoanswer": "yes"}, "100-001"),  # booleans: true/false, as JSON or strings
    ({"releasephone": 0}, "100-001"),
    ({"checkInWebm": "1"}, "100-001"),
    ({"agenttype": 5}, "100-012"),  # 4 PC + phone, 11 PC + video phone
    ({"agenttype": "video"}, "100-012"),
    ({"ip": "::1"}, "100-016"),  # IPv4 only, at most 15 characters
    ({"ip": "10.0.0.256"}, "100-016"),
    ({"ip": 167772161}, "100-016"),
    ({"password": "x" * 33}, "100-001"),  # at most 32
    ({"password": 1234}, "100-001"),
    ({"phonenum": "1" * 25}, "100-001"),  # at most 24
    ({"phonenum": 40038}, "100-001"),
    ({"vcPhoneNumber": "1" * 25}, "100-001"),
    ({"serviceToken": "t" * 51}, "100-001"),
]


@pytest.mark.parametrize(("fields", "retcode"), BAD_FIELDS)
async def test_documented_fields_are_checked_by_type_and_range(
    gw: Gateway, fields: dict[str, Any], retcode: str
) -> None:
    for kind in ("loginex", "login"):
        assert (await gw.login(kind=kind, **fields)).retcode == retcode, kind
    assert gw.sim.stats.signins == {}


@pytest.mark.parametrize(
    ("status", "events"),
    [
        (3, ["AgentOther_InService", "AgentState_Ready", "AgentState_SetNotReady_Success"]),
        (4, ["AgentOther_InService", "AgentState_Ready"]),
        (5, ["AgentOther_InService", "AgentState_Ready", "AgentState_Work"]),
    ],
)
async def test_the_status_signed_in_with_is_kept_and_announced(
    gw: Gateway, status: int, events: list[str]
) -> None:
    """cec_07_1224: the events a sign-in triggers depend on its status; agentstatus
    (cec_07_0355) answers the state."""
    guid = await gw.sign_in(status=str(status))
    seen = []
    hold, gw.sim.config.poll_hold = gw.sim.config.poll_hold, 0.01
    while "event" in (reply := await gw.poll("153", guid)).body:
        seen.append(reply.body["event"]["eventType"])
    gw.sim.config.poll_hold = hold
    assert seen == events
    reply = await gw.call("GET", "/onlineagent/153/agentstatus", guid=reply.set_guid or guid)
    assert reply.body == {
        "message": "",
        "retcode": "0",
        "result": {"agentState": status, "isWorking": False},
    }
    [session] = (await gw.admin("GET", "/sessions")).body
    assert session["status"] == status


async def test_status_defaults_to_idle(gw: Gateway) -> None:
    """ "Default idle" (cec_07_1202, cec_07_1224): a client that sends no status is offered
    calls."""
    await gw.sign_in()
    [session] = (await gw.admin("GET", "/sessions")).body
    assert session["status"] == 4


async def test_push_mode_sign_in_cannot_poll(gw: Gateway) -> None:
    """callBackUri and serviceToken together switch to push mode (cec_07_0450); polling is
    then the wrong way of getting events (000-001)."""
    guid = await gw.sign_in(callBackUri="https://10.0.0.1/cb", serviceToken="token")
    assert (await gw.poll("153", guid)).retcode == "000-001"
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    guid = await gw.sign_in(kind="forceloginex", callBackUri="https://10.0.0.1/cb")
    assert (await gw.poll("153", guid)).retcode == "0"  # one of the two: still polling


# ------------------------------------------------------------------ held agents and licences


@pytest.mark.parametrize("first", ["login", "loginex", "forcelogin", "forceloginex"])
@pytest.mark.parametrize("second", ["login", "loginex"])
async def test_a_held_agent_answers_100_002_to_every_unforced_variant(
    gw: Gateway, first: str, second: str
) -> None:
    guid = await gw.sign_in(kind=first)
    assert (await gw.login(kind=second)).retcode == "100-002"
    assert (await gw.conf_ids("153", guid)).retcode == "0"  # untouched


@pytest.mark.parametrize("forced", ["forcelogin", "forceloginex"])
async def test_the_forced_variants_take_the_agent_over(gw: Gateway, forced: str) -> None:
    old = await gw.sign_in(kind="loginex")
    new = await gw.sign_in(kind=forced)
    assert (await gw.conf_ids("153", old)).retcode in ("100-006", "000-003")
    assert (await gw.conf_ids("153", new)).retcode == "0"
    assert gw.sim.stats.signouts[forced] == 1


async def test_held_on_another_node_is_held(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    """The CTI holds the sign-in, not the node: a second client, whose sign-in the balancer
    sends to another node, still gets 100-002; a forced one takes over there."""
    sim = await start_sim(nodes=3)
    first = Gateway(sim, http)
    guid = await first.sign_in()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other_http:
        other = Gateway(sim, other_http)
        assert (await other.login(kind="loginex")).retcode == "100-002"
        assert (await other.login(kind="login")).retcode == "100-002"
        taken = await other.sign_in(kind="forceloginex")
        assert (await other.conf_ids("153", taken)).retcode == "0"
    assert (await first.conf_ids("153", guid)).retcode == "100-006"
    assert sum(len(n.sessions) for n in sim.nodes) == 1


async def test_licences_by_variant(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    """loginex signs in to the CCS only and takes no licence (cec_07_0357, cec_07_1224);
    login and forcelogin are taken to (inferred); forceloginex is taken not to (its name)."""
    sim = await start_sim(
        accounts=[Account(str(n), "pw") for n in (201, 202, 203, 204)],
    )
    gw = Gateway(sim, http)
    for agent, kind in (("201", "loginex"), ("202", "forceloginex")):
        await gw.sign_in(agent, "pw", kind)
    licences = (await gw.admin("GET", "/licences")).body
    assert licences == {"in_use": 0, "taken": {}, "holders": []}
    for agent, kind in (("203", "login"), ("204", "forcelogin")):
        await gw.sign_in(agent, "pw", kind)
    licences = (await gw.admin("GET", "/licences")).body
    assert licences["in_use"] == 2
    assert licences["taken"] == {"login": 1, "forceLogin": 1}
    assert {(h["agent_id"], h["method"]) for h in licences["holders"]} == {
        ("203", "login"),
        ("204", "forceLogin"),
    }
    stats = (await gw.admin("GET", "/stats")).body
    assert stats["licences_taken"] == {"login": 1, "forceLogin": 1}
    sessions = {s["agent_id"]: s["licence"] for s in (await gw.admin("GET", "/sessions")).body}
    assert sessions == {"201": False, "202": False, "203": True, "204": True}


async def test_forceloginex_can_be_absent_like_on_a_gateway_without_it(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    """Only the gateway's generated JS client lists forceloginex: a build without it is
    played with forceloginex: false, and answers the container's 404."""
    sim = await start_sim(forceloginex=False)
    gw = Gateway(sim, http)
    reply = await gw.login(kind="forceloginex")
    assert reply.status == 404
    assert (await gw.login(kind="loginex")).retcode == "0"


# ------------------------------------------------------------------ sign-out


async def test_an_inspector_signs_another_agent_out(gw: Gateway) -> None:
    """qualitycontrol/{agentid}/forcelogout/{workNo} (cec_07_0441, cec_07_2407)."""
    inspector = await gw.sign_in()
    agent = await gw.sign_in(*AGENT)
    path = "/qualitycontrol/{}/forcelogout/{}"
    assert (await gw.call("POST", path.format("154", "153"), guid=agent)).retcode == "000-003"
    assert (await gw.call("POST", path.format("153", "154"), guid=inspector)).retcode == "0"
    assert (await gw.poll("154", agent)).retcode == "100-006"
    assert (await gw.call("POST", path.format("153", "154"), guid=inspector)).retcode == ("100-006")
    assert gw.sim.stats.signouts["qualitycontrol"] == 1


async def test_admin_signs_an_agent_out(gw: Gateway) -> None:
    guid = await gw.sign_in()
    assert (await gw.admin("DELETE", "/sessions/153")).body == {"ok": True}
    assert (await gw.conf_ids("153", guid)).retcode == "100-006"
    assert (await gw.admin("DELETE", "/sessions/153")).status == 404


# ------------------------------------------------------------------ agent ID ranges


def _accounts(*ids: str) -> list[Account]:
    return [Account(INSPECTOR[0], INSPECTOR[1], inspector=True)] + [Account(i, "pw") for i in ids]


@pytest.mark.parametrize("agent", ["60000", "999999", "0153", "1x"])
async def test_an_old_gateway_routes_no_agent_id_over_59999(
    start_sim: StartSim, http: aiohttp.ClientSession, agent: str
) -> None:
    """Older pages and the gateway's JS client: {agentid:[1-9][\\d]{0,3}|[1-5][\\d]{4}}, so
    anything else matches no resource: 404, on every route."""
    sim = await start_sim(agent_id_range="old", accounts=_accounts("60000", "999999"))
    gw = Gateway(sim, http)
    assert (await gw.login(agent, "pw")).status == 404
    assert (await gw.poll(agent, "guid")).status == 404
    assert (await gw.conf_infos(agent, "guid", [1])).status == 404
    assert sim.stats.agent_id_not_found == 3
    assert sim.stats.calls == {}
    assert (await gw.login("59999", "pw")).retcode == "100-004"  # routed: unknown account


async def test_a_current_gateway_takes_agent_ids_up_to_999999(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(accounts=_accounts("60000", "999999"))
    gw = Gateway(sim, http)
    for agent in ("60000", "999999"):
        assert (await gw.login(agent, "pw")).retcode == "0"


# ------------------------------------------------------------------ VDNs


async def test_an_inspector_of_another_vdn_sees_none_of_the_conferences(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(
        accounts=[Account("153", "a", inspector=True), Account("160", "b", inspector=True, vdn=2)]
    )
    conf_id = sim.population.add_conference()
    gw = Gateway(sim, http)
    reply = await gw.login("160", "b")
    assert reply.body["result"]["vdnid"] == 2
    guid = reply.set_guid
    assert (await gw.conf_ids("160", guid)).body["result"]["confIds"] == []
    assert (await gw.conf_infos("160", guid, [conf_id])).body["result"]["confs"] == []
    mine = await gw.sign_in("153", "a")
    assert (await gw.conf_ids("153", mine)).body["result"]["confIds"] == [conf_id]


# ------------------------------------------------------------------ participants and events


async def test_phone_participants_have_device_type_0_as_in_the_vendor_sample(
    sim: GatewaySimulator,
) -> None:
    conf_id = sim.population.add_conference()
    rendered = sim.population.render(conf_id)
    assert rendered is not None
    assert [p["deviceType"] for p in rendered["addresses"]] == [0, 0]
    sim.population.set_target(200)
    types = {
        (p["addressType"], p["deviceType"])
        for i in sim.population.conf_ids()
        for p in (sim.population.render(i) or {"addresses": []})["addresses"]
    }
    assert types == {("6", 0), ("6", 5), ("9", 6)}  # fixed-line, mobile, agent


async def _events(gw: Gateway, agent: str, guid: str) -> list[dict[str, Any]]:
    sim = gw.sim
    hold, sim.config.poll_hold = sim.config.poll_hold, 0.01
    out = []
    try:
        while "event" in (reply := await gw.poll(agent, guid)).body:
            out.append(reply.body["event"])
    finally:
        sim.config.poll_hold = hold
    return out


async def test_participant_changed_by_the_documented_fields(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    """AgentConf_ParticipantChanged (cec_07_1414 / cec_07_0564) to the other agents:
    changeType 0 join, 1 leave, 2 chair, 3 muted, 4 unmuted, 5 held, 6 unheld; changeReason
    for leaves, 255 otherwise (the vendor's sample)."""
    guid = await gw.sign_in(*AGENT)
    conf_id = sim.population.add_conference(
        participants=[{"address": "154", "addressType": "9", "role": 1}]
    )
    await _events(gw, "154", guid)  # sign-in events, SelfJoinResult
    population = sim.population
    population.add_participant(conf_id, "70001", deviceCallType=1)
    population.set_participant(conf_id, "70001", channelState=1)
    population.set_participant(conf_id, "70001", channelState=0, channelAttrib=1)
    population.set_participant(conf_id, "70001", channelAttrib=3)
    population.add_participant(conf_id, "155", addressType="9")
    population.set_participant(conf_id, "155", role=1)
    population.remove_participant(conf_id, "70001", reason=2)
    events = await _events(gw, "154", guid)
    assert {e["eventType"] for e in events} == {"AgentConf_ParticipantChanged"}
    assert {e["workNo"] for e in events} == {"154"}
    contents = [e["content"] for e in events]
    assert [(c["participant"], c["changeType"], c["changeReason"]) for c in contents] == [
        ("70001", 0, 255),
        ("70001", 5, 255),
        ("70001", 3, 255),  # one change of both: muted, then unheld
        ("70001", 6, 255),
        ("70001", 4, 255),
        ("155", 0, 255),
        ("155", 2, 255),
        ("70001", 1, 2),
    ]
    assert contents[0] == {
        "result": 0,
        "changeType": 0,
        "changeReason": 255,
        "confId": conf_id,
        "participant": "70001",
        "participantType": 6,
        "deviceCallType": 1,
        "deviceType": 0,
    }
    assert (contents[5]["participantType"], contents[5]["deviceType"]) == (9, 6)
    population.end_conference(conf_id)
    ended = await _events(gw, "154", guid)
    assert [(e["eventType"], e["content"].get("participant")) for e in ended] == [
        ("AgentConf_ParticipantChanged", "155"),
        ("AgentConf_SelfLeaveResult", None),
    ]
    assert (ended[0]["content"]["changeType"], ended[0]["content"]["changeReason"]) == (1, 3)


async def test_admin_removal_carries_the_change_reason(sim: GatewaySimulator, gw: Gateway) -> None:
    guid = await gw.sign_in(*AGENT)
    conf_id = sim.population.add_conference(
        participants=[
            {"address": "154", "addressType": "9"},
            {"address": "70001"},
            {"address": "70002"},
        ]
    )
    await _events(gw, "154", guid)
    path = f"/conferences/{conf_id}/participants/70001"
    assert (await gw.admin("DELETE", path + "?changeReason=5")).status == 400
    assert (await gw.admin("DELETE", path + "?changeReason=6")).status == 200
    assert (await gw.admin("DELETE", f"/conferences/{conf_id}/participants/70002")).status == 200
    reasons = [e["content"]["changeReason"] for e in await _events(gw, "154", guid)]
    assert reasons == [6, 1]  # default: removed


async def test_timeout_warns_the_agents_prompt_minutes_before_the_applied_end(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    """AgentConf_Timeout {confId} (cec_07_1412) when promptTime minutes (default 3,
    cec_07_1283) of the applied time are left; again after a prolongation."""
    sim = await start_sim(prompt_minutes=3)
    gw = Gateway(sim, http)
    guid = await gw.sign_in(*AGENT)
    conf_id = sim.population.add_conference(
        apply_minutes=10,
        elapsed_minutes=5,
        participants=[{"address": "154", "addressType": "9"}, {"address": "70001"}],
    )
    await _events(gw, "154", guid)
    sim.population.advance(119)
    assert await _events(gw, "154", guid) == []
    sim.population.advance(1)  # 7 minutes in: 3 left
    assert await _events(gw, "154", guid) == [
        {
            "eventType": "AgentConf_Timeout",
            "workNo": "154",
            "content": {"confId": conf_id},
            "eventGenTime": sim.population.now_ms(),
        }
    ]
    sim.population.set_apply(conf_id, 20)
    sim.population.advance(10 * 60)
    assert [e["eventType"] for e in await _events(gw, "154", guid)] == ["AgentConf_Timeout"]
    assert sim.population.truth.timeout_warnings == 2
    assert sim.stats.events_delivered_by_type["AgentConf_Timeout"] == 2


# ------------------------------------------------------------------ encodings


async def test_answers_in_another_charset(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    """The vendor documents UTF-8 only; charset: GBK with Chinese messages makes the bytes
    differ, so a client that decodes UTF-8 regardless is caught."""
    sim = await start_sim(charset="GBK", messages="zh")
    url = f"{sim.url}/agentgateway/resource/onlineagent/153/loginex"
    async with http.put(url, json={"password": "wrong"}) as resp:
        assert resp.headers["Content-Type"] == "application/json;charset=GBK"
        raw = await resp.read()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk") == '{"message":"用户名或密码错误","retcode":"100-004"}'
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    async with http.get(
        f"{sim.url}/agentgateway/resource/agentconf/153/queryvdnconfid", headers={"Guid": guid}
    ) as resp:
        assert (await resp.read()).decode("gbk").startswith('{"message":"成功"')


async def test_unknown_charset_is_refused() -> None:
    from ccgw_simulator import ConfigError, SimulatorConfig

    with pytest.raises(ConfigError, match="charset"):
        SimulatorConfig(charset="klingon")
    with pytest.raises(ConfigError, match="messages"):
        SimulatorConfig(messages="fr")
    with pytest.raises(ConfigError, match="agent_id_range"):
        SimulatorConfig(agent_id_range="ancient")


async def test_a_charset_that_cannot_hold_the_message_still_answers_json(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(charset="ISO-8859-1", messages="zh")
    url = f"{sim.url}/agentgateway/resource/onlineagent/153/loginex"
    async with http.put(url, json={"password": "wrong"}) as resp:
        assert resp.status == 200
        body = json.loads((await resp.read()).decode("iso-8859-1"))
    assert body["retcode"] == "100-004"
    assert set(body["message"]) == {"?"}
