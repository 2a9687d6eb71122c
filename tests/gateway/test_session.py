"""The session against the simulator over real loopback sockets: it signs in, keeps itself
alive through Guid rotations, heals after sign-outs and restarts, and never hammers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.errors import RetcodeError, TransportError
from exporter.gateway.session import Session, SessionSettings

from ..conftest import AGENT, INSPECTOR, client_for, deadline, wait_for


async def test_signs_in_with_loginex_and_polls_events(make_sim, make_session) -> None:
    sim = await make_sim(https=True)
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    assert session.client.guid is not None
    assert session.client.guid.endswith(".AgentGateway0")
    assert sim.stats.signins["loginEx"] == 1
    await wait_for(lambda: sim.stats.calls["getAgentEvent"] >= 2)
    assert session.client.stats.responses[("loginEx", "0")] == 1


@pytest.mark.parametrize(("variant", "method"), [("login", "login"), ("forcelogin", "forceLogin")])
async def test_configured_sign_in_variant_is_used(make_sim, make_session, variant, method) -> None:
    sim = await make_sim()
    # login and forcelogin require phonenum (cec_07_1202, cec_07_1203): the simulator refuses
    # them without it, as a real gateway would.
    session = make_session(sim, sign_in=variant, phone_number="70005")
    await wait_for(lambda: session.signed_in)
    assert dict(sim.stats.signins) == {method: 1}


async def test_login_without_phonenum_is_refused_and_retried_slowly(make_sim, make_session) -> None:
    sim = await make_sim()
    session = make_session(sim, sign_in="login", credential_retry=60.0)
    await wait_for(lambda: session.sign_in_attempted)
    assert session.state == "rejected"
    assert "100-001" in (session.last_error or "")
    await asyncio.sleep(0.2)
    assert sum(sim.stats.signins.values()) <= 1


async def test_queries_succeed_across_three_guid_rotations(make_sim, make_session) -> None:
    sim = await make_sim(auth_mode="dynamic", guid_interval=0.25, guid_timeout=0.75,
                         poll_hold=0.1)  # fmt: skip
    conf = sim.population.add_conference()
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    guids = {session.client.guid}
    loop = asyncio.get_running_loop()
    end = loop.time() + 15  # three rotations take ~0.75 s; the deadline only bounds a failure
    answered = 0
    while len(guids) < 4 or session.client.stats.guid_renewals < 3:
        assert loop.time() < end, f"{len(guids) - 1} rotation(s) in 15 s"
        result = await session.client.queryConfInfos([conf], deadline())
        assert result.failed == [], result.failed[0].error
        assert [c.conf_id for c in result.conferences] == [conf]
        answered += 1
        guids.add(session.client.guid)
        await asyncio.sleep(0.05)
    assert sim.stats.signins["loginEx"] == 1, "rotation must not need a new sign-in"
    assert answered >= 4  # each new Guid was seen after a query that succeeded


async def test_static_auth_keeps_the_sign_in_guid(make_sim, make_session) -> None:
    sim = await make_sim(auth_mode="static")
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    first = session.client.guid
    await wait_for(lambda: sim.stats.calls["getAgentEvent"] >= 3)
    assert session.client.guid == first
    assert session.client.stats.guid_renewals == 0


async def test_a_query_after_a_forced_sign_out_signs_in_again_and_succeeds(
    make_sim, make_session
) -> None:
    sim = await make_sim()
    conf = sim.population.add_conference()
    session = make_session(sim, poll_events=False)
    await wait_for(lambda: session.signed_in)
    # Another client takes the agent's session over, as a supervisor's forcelogout would.
    async with aiohttp.ClientSession() as http:
        url = f"{sim.url}/agentgateway/resource/onlineagent/153/forcelogout"
        async with http.delete(url, headers={"Guid": session.client.guid or ""}) as resp:
            assert (await resp.json())["retcode"] == "0"
    result = await session.client.queryConfInfos([conf], deadline())
    assert result.failed == []
    assert [c.conf_id for c in result.conferences] == [conf]
    assert sim.stats.signins["loginEx"] == 2
    assert session.client.stats.responses[("queryConfInfos", "100-006")] == 1


async def test_recovers_from_a_gateway_restart_through_its_event_poll(
    make_sim, make_session
) -> None:
    sim = await make_sim()
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    old = session.client.guid
    sim.restart()
    await wait_for(lambda: sim.stats.signins["loginEx"] == 2)
    await wait_for(lambda: session.signed_in and session.client.guid != old)
    assert sim.stats.concurrent_signins_rejected == 0


async def test_concurrent_failures_make_one_sign_in(make_sim, make_session) -> None:
    sim = await make_sim(signin_delay=0.1)
    confs = [sim.population.add_conference() for _ in range(3)]
    session = make_session(sim, poll_events=False)
    await wait_for(lambda: session.signed_in)
    sim.restart()
    results = await asyncio.gather(
        *(session.client.queryConfInfos([c], deadline()) for c in confs * 4)
    )
    assert all(r.failed == [] for r in results)
    assert sim.stats.signins["loginEx"] == 2
    assert sim.stats.concurrent_signins_rejected == 0


async def test_already_signed_in_takes_over_without_a_licence_after_loginex(
    make_sim, make_session
) -> None:
    """Under loginex (no licence) the forced variant is forceloginex: taking a session over
    must not start taking a licence (issue 14, item 2)."""
    sim = await make_sim()
    first = make_session(sim)
    await wait_for(lambda: first.signed_in)
    second = make_session(sim, force_on_conflict=True)
    await wait_for(lambda: second.signed_in)
    assert sim.stats.signins["forceLoginEx"] == 1
    assert sim.stats.signins["forceLogin"] == 0
    assert second.client.stats.sign_ins == {"100-002": 1, "0": 1}
    assert not any(s.licence for node in sim.nodes for s in node.sessions.sessions())


async def test_already_signed_in_uses_forcelogin_when_configured(make_sim, make_session) -> None:
    sim = await make_sim()
    first = make_session(sim)
    await wait_for(lambda: first.signed_in)
    second = make_session(
        sim, force_on_conflict=True, force_sign_in="forcelogin", phone_number="70005"
    )
    await wait_for(lambda: second.signed_in)
    assert sim.stats.signins["forceLogin"] == 1


async def test_forceloginex_missing_on_the_gateway_is_said_not_replaced(
    make_sim, make_session
) -> None:
    """A gateway build without forceloginex answers 404: the session says so and does not
    fall back to the licence-taking forcelogin on its own."""
    sim = await make_sim(forceloginex=False)
    first = make_session(sim)
    await wait_for(lambda: first.signed_in)
    second = make_session(sim, force_on_conflict=True, backoff_initial=5.0, backoff_max=5.0)
    await wait_for(lambda: second.sign_in_attempted)
    assert not second.signed_in
    assert "forceloginex is not offered" in (second.last_error or "")
    assert sim.stats.signins["forceLogin"] == 0


async def test_already_signed_in_without_force_backs_off(make_sim, make_session) -> None:
    sim = await make_sim()
    first = make_session(sim)
    await wait_for(lambda: first.signed_in)
    second = make_session(sim, force_on_conflict=False, backoff_initial=0.3, backoff_max=0.3)
    await wait_for(lambda: second.sign_in_attempted)
    await asyncio.sleep(0.4)
    assert not second.signed_in
    assert "100-002" in (second.last_error or "")
    assert sim.stats.signins["forceLogin"] == 0
    assert second.client.stats.sign_ins["100-002"] <= 3


@pytest.mark.parametrize("lock", [False, True])
async def test_wrong_password_or_locked_account_is_retried_slowly(
    make_sim, make_session, caplog, lock
) -> None:
    sim = await make_sim(lock_after=1)
    password = "wrong-pw-123"
    if lock:
        # Lock the account first; then even the right password is refused with 110-016.
        async with aiohttp.ClientSession() as http:
            url = f"{sim.url}/agentgateway/resource/onlineagent/153/loginex"
            async with http.put(url, json={"password": "nope"}) as resp:
                assert (await resp.json())["retcode"] == "100-004"
        password = INSPECTOR[1]
    session = make_session(sim, account=("153", password), credential_retry=60.0)
    await wait_for(lambda: session.state == "rejected")
    await asyncio.sleep(0.5)
    assert sim.stats.calls["loginEx"] == (2 if lock else 1), "retried in a tight loop"
    assert session.retry_in > 50
    expected = "account locked (110-016)" if lock else "wrong password (100-004)"
    assert expected in (session.last_error or "")
    assert any(expected in r.getMessage() for r in caplog.records)
    assert password not in caplog.text, "password leaked to logs"
    assert not await session.ensure_signed_in(deadline()), "back-off must answer at once"
    assert sim.stats.calls["loginEx"] == (2 if lock else 1)


async def test_sign_in_failures_back_off_exponentially(make_session) -> None:
    # A port nothing listens on: connection refused on every attempt.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = GatewayClient(ClientSettings(base_url=f"http://127.0.0.1:{port}", agent_id="153"))
    session = Session(
        "down",
        SessionSettings(agent_id="153", password="pw", backoff_initial=0.05, backoff_max=10.0),
        client,
    )
    session.start()
    try:
        await asyncio.sleep(1.2)
        attempts = client.stats.sign_ins.get("connect", 0)
        # 0.05 * (1+2+4+8+16) = 1.55 s at most without jitter: at most ~6 attempts in 1.2 s
        assert 2 <= attempts <= 7, attempts
        assert session.sign_in_attempted
        assert session.last_error == "sign-in failed: connect"
    finally:
        await session.stop()


async def test_load_balancer_stickiness_at_an_ip_address(make_sim, make_session) -> None:
    sim = await make_sim(nodes=3, host="127.0.0.1")
    conf = sim.population.add_conference()
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    for _ in range(10):
        result = await session.client.queryConfInfos([conf], deadline())
        assert result.failed == []
    assert sim.stats.signins["loginEx"] == 1
    assert len([n for n, count in sim.stats.requests_by_node.items() if count]) >= 1


async def test_without_ip_cookies_the_balancer_loses_the_session(make_sim) -> None:
    """The control for the test above: a default (safe) cookie jar drops IP-host cookies."""
    sim = await make_sim(nodes=3, host="127.0.0.1")
    async with aiohttp.ClientSession() as http:  # default CookieJar(unsafe=False)
        base = f"{sim.url}/agentgateway/resource"
        async with http.put(f"{base}/onlineagent/153/loginex",
                            json={"password": "sim-inspector"}) as resp:  # fmt: skip
            guid = resp.headers["Set-GUID"].split("=", 1)[1]
        codes = []
        for _ in range(3):
            async with http.get(f"{base}/agentconf/153/queryvdnconfid",
                                headers={"Guid": guid}) as resp:  # fmt: skip
                codes.append((await resp.json())["retcode"])
    assert any(code != "0" for code in codes)


async def test_load_balancer_node_down_is_healed_by_a_new_sign_in(make_sim, make_session) -> None:
    sim = await make_sim(nodes=2, host="127.0.0.1")
    conf = sim.population.add_conference()
    session = make_session(sim, poll_events=False)
    await wait_for(lambda: session.signed_in)
    node = int((session.client.guid or "").rsplit("AgentGateway", 1)[1])
    sim.set_node_up(node, False)
    result = await session.client.queryConfInfos([conf], deadline())
    assert result.failed == []
    assert session.client.guid is not None
    assert not session.client.guid.endswith(f"AgentGateway{node}")


async def test_45_ids_are_answered_through_batches_of_20_20_and_5(make_sim, make_session) -> None:
    sim = await make_sim()
    confs = [sim.population.add_conference() for _ in range(45)]
    session = make_session(sim, poll_events=False)
    await wait_for(lambda: session.signed_in)
    result = await session.client.queryConfInfos(confs, deadline(), concurrency=4)
    assert sorted(c.conf_id for c in result.conferences) == sorted(confs)
    assert sim.stats.calls["queryConfInfos"] == 3
    assert sim.stats.conf_ids_requested == 45
    assert sim.stats.max_in_flight["queryConfInfos"] <= 3


async def test_ordinary_agent_sees_only_its_own_conference_learned_from_events(
    make_sim, make_session
) -> None:
    sim = await make_sim()
    other = sim.population.add_conference()
    session = make_session(sim, account=AGENT)
    await wait_for(lambda: session.signed_in)
    mine = sim.population.add_conference(
        participants=[{"address": "70005", "addressType": "6", "role": 1},
                      {"address": AGENT[0], "addressType": "9"}]
    )  # fmt: skip
    await wait_for(lambda: mine in session.event_conference_ids)
    with pytest.raises(RetcodeError) as info:
        await session.client.queryAllConfIds(deadline())
    assert info.value.retcode == "101-004"
    result = await session.client.queryConfInfos([mine, other], deadline())
    assert [c.conf_id for c in result.conferences] == [mine]
    sim.population.remove_participant(mine, AGENT[0])
    await wait_for(lambda: mine not in session.event_conference_ids)


async def test_stop_signs_out(make_sim, make_session) -> None:
    sim = await make_sim()
    session = make_session(sim)
    await wait_for(lambda: session.signed_in)
    await session.stop()
    assert sim.stats.signouts["logout"] == 1
    assert session.state == "stopped"


async def test_tls_verification_uses_the_ca_and_fails_without_it(make_sim) -> None:
    sim = await make_sim(https=True)
    good = client_for(sim)
    bad = GatewayClient(ClientSettings(base_url=sim.url, agent_id=INSPECTOR[0]))
    try:
        await good.loginEx(INSPECTOR[1], "", deadline())
        with pytest.raises(TransportError) as info:
            await bad.loginEx(INSPECTOR[1], "", deadline())
        assert info.value.reason == "tls"
    finally:
        await good.close()
        await bad.close()
