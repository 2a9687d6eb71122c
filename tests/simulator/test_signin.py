"""Sign-in, sign-out and the account rules of the simulated gateway."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp

from ccgw_simulator import GatewaySimulator

from .wire import AGENT, INSPECTOR, Gateway, StartSim

GUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.AgentGateway0$"
)


async def test_login_sets_guid_header_and_answers_json(gw: Gateway) -> None:
    reply = await gw.login(kind="login")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert reply.body["retcode"] == "0"
    assert reply.body["result"]["workno"] == "153"
    assert reply.body["result"]["vdnid"] == 1
    assert reply.set_guid is not None
    assert GUID_RE.match(reply.set_guid), reply.set_guid
    assert gw.sim.stats.signins["login"] == 1
    assert gw.sim.stats.guids_issued == 1


async def test_every_signin_variant_works_and_is_counted(gw: Gateway) -> None:
    for agent, password in (INSPECTOR, AGENT):
        assert (await gw.login(agent, password, "loginex")).retcode == "0"
    assert (await gw.login(*AGENT, kind="forcelogin")).retcode == "0"
    calls = gw.sim.stats.calls
    assert (calls["loginEx"], calls["forceLogin"]) == (2, 1)


async def test_second_login_is_100_002_and_forcelogin_replaces_session(gw: Gateway) -> None:
    first = await gw.sign_in(kind="login")
    assert (await gw.login(kind="login")).retcode == "100-002"
    assert (await gw.login(kind="loginex")).retcode == "100-002"
    second = await gw.sign_in(kind="forcelogin")
    assert second != first
    assert (await gw.conf_ids("153", first)).retcode == "000-003"
    assert (await gw.conf_ids("153", second)).retcode == "0"
    assert gw.sim.stats.signouts["forcelogin"] == 1


async def test_wrong_password_and_unknown_agent_are_100_004(gw: Gateway) -> None:
    assert (await gw.login("153", "nope")).retcode == "100-004"
    assert (await gw.login("999", "whatever")).retcode == "100-004"
    assert (await gw.login("153", "sim-inspector")).retcode == "0"


async def test_lockout_after_consecutive_failures(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    # A lock long enough for the two calls made during it, even on a loaded machine.
    sim = await start_sim(lock_after=3, lock_seconds=1.0)
    gw = Gateway(sim, http)
    for _ in range(3):
        assert (await gw.login("153", "bad")).retcode == "100-004"
    locked = time.monotonic()
    assert (await gw.login("153", "sim-inspector")).retcode == "110-016"
    assert (await gw.login("153", "bad")).retcode == "110-016"
    await asyncio.sleep(max(0.0, locked + 1.05 - time.monotonic()))
    assert (await gw.login("153", "sim-inspector")).retcode == "0"


async def test_correct_password_resets_failure_count(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(lock_after=2)
    gw = Gateway(sim, http)
    assert (await gw.login("153", "bad")).retcode == "100-004"
    assert (await gw.login("153", "sim-inspector", "forcelogin")).retcode == "0"
    assert (await gw.login("153", "bad")).retcode == "100-004"
    assert (await gw.login("153", "sim-inspector", "forcelogin")).retcode == "0"


async def test_concurrent_signin_is_000_007(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(signin_delay=0.2)
    gw = Gateway(sim, http)
    first, second = await asyncio.gather(gw.login(), gw.login(kind="forcelogin"))
    assert sorted([first.retcode, second.retcode]) == ["0", "000-007"]
    assert sim.stats.concurrent_signins_rejected == 1
    # once answered, the next sign-in is accepted again
    assert (await gw.login(kind="forcelogin")).retcode == "0"


async def test_missing_or_invalid_signin_body_is_100_001(gw: Gateway) -> None:
    path = "/onlineagent/153/loginex"
    assert (await gw.call("PUT", path)).retcode == "100-001"
    assert (await gw.call("PUT", path, raw=b"{not json")).retcode == "100-001"
    assert (await gw.call("PUT", path, body={"phonenum": "1"})).retcode == "100-001"
    assert (await gw.call("PUT", path, body=["sim-inspector"])).retcode == "100-001"
    assert (await gw.call("PUT", "/onlineagent/abc/loginex", body={"password": "x"})).retcode == (
        "100-001"
    )


async def test_optional_signin_fields_are_accepted(gw: Gateway) -> None:
    body = {
        "password": "sim-inspector",
        "phonenum": "40038",
        "status": "4",
        "releasephone": "false",
        "agenttype": "4",
        "autoanswer": True,
    }
    reply = await gw.call("PUT", "/onlineagent/153", body=body)
    assert reply.retcode == "0"
    # the result's fields as the vendor's sample (cec_07_1224) has them
    result = reply.body["result"]
    assert set(result) == {
        "vdnid",
        "workno",
        "mediatype",
        "loginTime",
        "isForceChange",
        "serverName",
        "timeRemaining",
    }
    assert (result["vdnid"], result["workno"], result["mediatype"]) == (1, "153", "TTF")
    assert (result["isForceChange"], result["serverName"]) == ("false", "AgentGateway")
    assert result["loginTime"].isdigit()


async def test_logout_needs_valid_guid_and_ends_session(gw: Gateway) -> None:
    guid = await gw.sign_in()
    assert (await gw.call("DELETE", "/onlineagent/153/logout")).retcode == "000-003"
    assert (await gw.call("DELETE", "/onlineagent/153/logout", guid="bogus")).retcode == "000-003"
    assert (await gw.call("DELETE", "/onlineagent/153/logout", guid=guid)).retcode == "0"
    assert (await gw.conf_ids("153", guid)).retcode == "100-006"
    assert (await gw.call("DELETE", "/onlineagent/153/logout", guid=guid)).retcode == "100-008"
    assert gw.sim.stats.signouts["logout"] == 1


async def test_forcelogout_needs_the_guid(gw: Gateway) -> None:
    """cec_07_0353 and cec_07_1220 list the Guid header as mandatory for forcelogout."""
    guid = await gw.sign_in()
    path = "/onlineagent/153/forcelogout"
    assert (await gw.call("DELETE", path)).retcode == "000-003"
    assert (await gw.call("DELETE", path, guid="bogus")).retcode == "000-003"
    assert (await gw.conf_ids("153", guid)).retcode == "0"  # still signed in
    assert (await gw.call("DELETE", path, guid=guid)).retcode == "0"
    assert (await gw.conf_ids("153", guid)).retcode == "100-006"
    assert (await gw.call("DELETE", path, guid=guid)).retcode == "100-008"
    assert gw.sim.stats.signouts["forcelogout"] == 1
    assert (await gw.login(kind="login")).retcode == "0"


async def test_restart_signs_everybody_out(sim: GatewaySimulator, gw: Gateway) -> None:
    g1 = await gw.sign_in()
    g2 = await gw.sign_in(*AGENT)
    assert sim.restart() == 2
    assert (await gw.conf_ids("153", g1)).retcode == "100-006"
    assert (await gw.poll("154", g2)).retcode == "100-006"
    assert sim.stats.signouts["restart"] == 2
    assert (await gw.login(kind="login")).retcode == "0"
