"""Guids: the authentication rule, static and dynamic modes, updateGuid, idle sign-out."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from ..support import await_until
from .wire import AGENT, Gateway, StartSim


async def test_authentication_codes(gw: Gateway) -> None:
    guid = await gw.sign_in()
    other = await gw.sign_in(*AGENT)
    assert (await gw.conf_ids("153", None)).retcode == "000-003"
    assert (await gw.conf_ids("153", "")).retcode == "000-003"
    assert (await gw.conf_ids("153", "not-a-guid.AgentGateway0")).retcode == "000-003"
    assert (await gw.conf_ids("153", other)).retcode == "000-003"  # another agent's Guid
    assert (await gw.conf_ids("160", guid)).retcode == "100-006"  # not signed in
    assert (await gw.conf_ids("abc", guid)).retcode == "000-002"
    assert (await gw.conf_ids("153", guid)).retcode == "0"


async def test_guid_header_name_is_case_insensitive(gw: Gateway) -> None:
    guid = await gw.sign_in()
    for name in ("guid", "GUID", "gUiD"):
        reply = await gw.call("GET", "/agentconf/153/queryvdnconfid", headers={name: guid})
        assert reply.retcode == "0", name


async def test_static_guid_holds_until_signout(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(auth_mode="static", guid_interval=0.1, guid_timeout=0.2, poll_hold=0.1)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    await asyncio.sleep(0.35)
    reply = await gw.poll("153", guid)
    assert reply.retcode == "0"
    assert reply.set_guid is None  # no rotation in static mode
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert sim.stats.guids_issued == 1


async def test_dynamic_rotation_overlap_and_expiry(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    # Times in seconds of its own: wide enough that a loaded machine's delays (each call may
    # take a few hundred ms) cannot carry a check past the next Guid event.
    interval, timeout = 1.0, 2.0
    sim = await start_sim(guid_interval=interval, guid_timeout=timeout, poll_hold=5.0)
    gw = Gateway(sim, http)
    t0 = time.monotonic()
    g0 = await gw.sign_in()
    t1 = time.monotonic()  # g0 was issued in [t0, t1], the rotation comes `interval` later
    first = await gw.poll("153", g0)  # the queued InService event, at once, current Guid
    assert first.body["event"]["eventType"] == "AgentOther_InService"
    assert first.set_guid == g0
    ready = await gw.poll("153", g0)  # then AgentState_Ready (cec_07_1224), at once too
    assert ready.body["event"]["eventType"] == "AgentState_Ready"
    held = await gw.poll("153", g0)  # held until the rotation, then answered early
    answered = time.monotonic()
    assert t0 + interval <= answered < t1 + timeout, (answered - t0, t1 - t0)
    assert "event" not in held.body
    g1 = held.set_guid
    assert g1 is not None
    assert g1 != g0
    assert g1.endswith(".AgentGateway0")
    # overlap: the previous Guid stays valid until its own timeout
    assert (await gw.conf_ids("153", g0)).retcode == "0"
    assert (await gw.conf_ids("153", g1)).retcode == "0"
    await asyncio.sleep(max(0.0, t1 + timeout + 0.05 - time.monotonic()))
    assert (await gw.conf_ids("153", g0)).retcode == "000-003"  # expired by t1 + timeout
    assert (await gw.conf_ids("153", g1)).retcode == "0"  # valid to t0 + interval + timeout
    assert sim.stats.guids_issued >= 3


async def test_dynamic_guid_expires_without_polling(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(guid_interval=0.5, guid_timeout=1.0, idle_signout=10.0)
    gw = Gateway(sim, http)
    before = time.monotonic()
    guid = await gw.sign_in()
    retcodes = [(await gw.conf_ids("153", guid)).retcode]
    while retcodes[-1] == "0" and time.monotonic() - before < 10:
        retcodes.append((await gw.conf_ids("153", guid)).retcode)
    # Valid until its timeout (no earlier), and then refused for good.
    assert time.monotonic() - before >= 1.0
    assert retcodes[-1] == "000-003", retcodes[-3:]
    assert set(retcodes[:-1]) == {"0"}
    assert (await gw.conf_ids("153", guid)).retcode == "000-003"
    # the poll that a client should have made hands out the newest Guid
    reply = await gw.poll("153", guid)
    assert reply.retcode == "000-003"


async def test_every_dynamic_poll_answer_carries_the_current_guid(gw: Gateway) -> None:
    guid = await gw.sign_in()
    guid = await gw.drain("153", guid)
    reply = await gw.poll("153", guid)
    assert reply.retcode == "0"
    assert reply.set_guid == guid  # no rotation within 60 s, but the header is there


async def test_update_guid(gw: Gateway) -> None:
    old = await gw.sign_in()
    reply = await gw.call("PUT", "/onlineagent/153/updateGuid", guid=old)
    assert reply.retcode == "0"
    new = reply.body["result"]["guid"]
    assert reply.set_guid == new != old
    assert (await gw.conf_ids("153", new)).retcode == "0"
    assert (await gw.conf_ids("153", old)).retcode == "0"  # within its own validity
    assert (await gw.call("PUT", "/onlineagent/153/updateGuid")).retcode == "000-003"
    assert gw.sim.stats.calls["updateGuid"] == 2


async def test_idle_agent_is_signed_out(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(idle_signout=0.3)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    await asyncio.sleep(0.45)
    assert (await gw.conf_ids("153", guid)).retcode == "100-006"
    assert sim.stats.signouts["idle"] == 1


async def test_housekeeping_signs_out_idle_agents_unasked(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(idle_signout=0.2)
    gw = Gateway(sim, http)
    await gw.sign_in()
    assert "153" in sim.nodes[0].sessions
    await await_until(lambda: "153" not in sim.nodes[0].sessions, 10, "idle sign-out")
    assert sim.stats.signouts["idle"] == 1


async def test_polling_keeps_the_session_alive(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    # a held poll counts as activity: the hold is longer than the idle limit (the gaps between
    # polls, up to 0.4 s on a loaded machine, stay within it)
    sim = await start_sim(idle_signout=1.0, poll_hold=0.6)
    gw = Gateway(sim, http)
    guid = await gw.drain("153", await gw.sign_in())
    for _ in range(2):
        reply = await gw.poll("153", guid)
        assert reply.retcode == "0"
    sim.config.poll_hold = 1.5
    assert (await gw.poll("153", guid)).retcode == "0"
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert sim.stats.signouts["idle"] == 0
