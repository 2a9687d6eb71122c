"""Load-balancer mode: sticky cookies at an IP host, round-robin, nodes going down."""

from __future__ import annotations

import aiohttp

from ccgw_simulator import GatewaySimulator

from .wire import AGENT, Gateway, StartSim


def _route(gw: Gateway) -> str | None:
    for cookie in gw.http.cookie_jar:
        if cookie.key == "NSLB_ROUTE":
            return cookie.value
    return None


async def _cluster(start_sim: StartSim, nodes: int = 3) -> GatewaySimulator:
    return await start_sim(nodes=nodes)


async def test_signin_sets_sticky_cookie_and_requests_stick(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await _cluster(start_sim)
    gw = Gateway(sim, http)
    reply = await gw.login()
    assert reply.retcode == "0"
    assert "NSLB_ROUTE=node" in reply.headers["Set-Cookie"]
    assert "Path=/" in reply.headers["Set-Cookie"]
    route = _route(gw)
    assert route is not None
    node = int(route.removeprefix("node"))
    guid = reply.set_guid
    assert guid is not None
    assert guid.endswith(f".AgentGateway{node}")
    for _ in range(5):
        assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert sim.stats.requests_by_node[node] == 6
    assert "153" in sim.nodes[node].sessions
    assert all("153" not in n.sessions for n in sim.nodes if n.index != node)


async def test_without_cookie_requests_land_on_a_node_that_does_not_know_the_guid(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await _cluster(start_sim)
    guid = await Gateway(sim, http).sign_in()
    # The classic mistake: a default cookie jar drops cookies from IP hosts.
    async with aiohttp.ClientSession() as careless:
        gw = Gateway(sim, careless)
        for _ in range(6):
            assert (await gw.conf_ids("153", guid)).retcode == "100-006"


async def test_signins_are_spread_round_robin(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await _cluster(start_sim)
    await Gateway(sim, http).sign_in()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        await Gateway(sim, other).sign_in(*AGENT)
    holders = {
        agent: [n.index for n in sim.nodes if agent in n.sessions] for agent in ("153", "154")
    }
    assert len(holders["153"]) == len(holders["154"]) == 1
    assert holders["153"] != holders["154"]


async def test_node_down_reroutes_with_a_new_cookie(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await _cluster(start_sim)
    gw = Gateway(sim, http)
    guid = await gw.sign_in()
    before = _route(gw)
    assert before is not None
    sim.set_node_up(int(before.removeprefix("node")), False)
    reply = await gw.conf_ids("153", guid)
    assert reply.retcode == "100-006"  # the other node does not know the Guid
    after = _route(gw)
    assert after is not None
    assert after != before
    # signing in again lands on the new node (cookie) and works there
    guid = await gw.sign_in(kind="login")
    assert guid.endswith(".AgentGateway" + after.removeprefix("node"))
    assert (await gw.conf_ids("153", guid)).retcode == "0"
    assert sim.stats.signouts["node_down"] == 1


async def test_all_nodes_down_is_503(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    sim = await _cluster(start_sim, nodes=2)
    gw = Gateway(sim, http)
    sim.set_node_up(0, False)
    sim.set_node_up(1, False)
    reply = await gw.login()
    assert reply.status == 503
    assert "<html>" in reply.text
    sim.set_node_up(1, True)
    assert (await gw.login()).retcode == "0"


async def test_single_node_sets_no_cookie(gw: Gateway) -> None:
    reply = await gw.login()
    assert "Set-Cookie" not in reply.headers
    assert reply.set_guid is not None
    assert reply.set_guid.endswith(".AgentGateway0")
