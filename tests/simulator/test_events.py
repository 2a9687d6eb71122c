"""getAgentEvent: long-poll hold, immediate events, conference join/leave events."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from ccgw_simulator import GatewaySimulator

from ..support import await_until
from .wire import AGENT, Gateway, StartSim


async def test_poll_holds_then_answers_without_event(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(poll_hold=0.4)
    gw = Gateway(sim, http)
    guid = await gw.drain("153", await gw.sign_in())
    start = time.monotonic()
    reply = await gw.poll("153", guid)
    elapsed = time.monotonic() - start
    assert 0.35 <= elapsed < 1.0, elapsed
    assert reply.body == {"message": "", "retcode": "0"}


async def test_queued_event_is_answered_at_once(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(poll_hold=5.0)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    start = time.monotonic()
    reply = await gw.poll("153", guid)
    assert time.monotonic() - start < 0.5
    assert reply.body["event"] == {
        "eventType": "AgentOther_InService",
        "workNo": "153",
        "content": None,
        "eventGenTime": sim.population.now_ms(),  # time is frozen in these tests
    }
    assert sim.stats.events_delivered == 1


async def test_join_and_leave_events_for_an_agent(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(poll_hold=5.0)
    gw = Gateway(sim, http)
    guid = await gw.drain(AGENT[0], await gw.sign_in(*AGENT))
    conf_id = sim.population.add_conference()
    waiting = asyncio.create_task(gw.poll("154", guid))
    await await_until(lambda: sim.stats.in_flight["getAgentEvent"] == 1, 10, "poll held")
    await asyncio.sleep(0.1)
    assert not waiting.done()  # held: nothing for 154 yet
    start = time.monotonic()
    sim.population.add_participant(conf_id, "154", addressType="9")
    reply = await waiting
    assert time.monotonic() - start < 2.5  # a held poll wakes up for the event (hold: 5 s)
    assert reply.body["event"] == {
        "eventType": "AgentConf_SelfJoinResult",
        "workNo": "154",
        "content": {"confId": conf_id},
        "eventGenTime": sim.population.now_ms(),
    }
    sim.population.end_conference(conf_id)
    # the others leave with the conference (changeReason 3), then the agent itself
    for phone in ("70005", "70006"):
        event = (await gw.poll("154", guid)).body["event"]
        assert event["eventType"] == "AgentConf_ParticipantChanged"
        assert event["content"]["participant"] == phone
        assert (event["content"]["changeType"], event["content"]["changeReason"]) == (1, 3)
    reply = await gw.poll("154", guid)
    assert reply.body["event"]["eventType"] == "AgentConf_SelfLeaveResult"
    assert reply.body["event"]["content"] == {"confId": conf_id}


async def test_phone_participants_and_other_agents_make_no_events(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    guid = await gw.drain("154", await gw.sign_in(*AGENT))
    conf_id = sim.population.add_conference()
    sim.population.add_participant(conf_id, "154")  # addressType "6": a phone, not the agent
    sim.population.add_participant(conf_id, "155", addressType="9")
    reply = await gw.poll("154", guid)
    assert "event" not in reply.body


async def test_events_for_a_signed_out_agent_are_dropped(
    sim: GatewaySimulator, gw: Gateway
) -> None:
    conf_id = sim.population.add_conference()
    sim.population.add_participant(conf_id, "154", addressType="9")
    guid = await gw.sign_in(*AGENT)
    reply = await gw.poll("154", guid)
    assert reply.body["event"]["eventType"] == "AgentOther_InService"
    reply = await gw.poll("154", guid)
    assert reply.body["event"]["eventType"] == "AgentState_Ready"
    reply = await gw.poll("154", guid)
    assert "event" not in reply.body


async def test_signout_during_a_held_poll_answers_100_006(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(poll_hold=5.0)
    gw = Gateway(sim, http)
    guid = await gw.drain("153", await gw.sign_in())
    waiting = asyncio.create_task(gw.poll("153", guid))
    await await_until(lambda: sim.stats.in_flight["getAgentEvent"] == 1, 10, "poll held")
    sim.restart()
    reply = await asyncio.wait_for(waiting, 2.5)  # at once, not at the end of the 5 s hold
    assert reply.retcode == "100-006"


async def test_stop_releases_held_polls(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await start_sim(poll_hold=30.0)
    gw = Gateway(sim, http)
    guid = await gw.drain("153", await gw.sign_in())
    waiting = asyncio.create_task(gw.poll("153", guid))
    await await_until(lambda: sim.stats.in_flight["getAgentEvent"] == 1, 10, "poll held")
    start = time.monotonic()
    await sim.stop()
    assert time.monotonic() - start < 2.0
    reply = await waiting
    assert reply.retcode == "0"
