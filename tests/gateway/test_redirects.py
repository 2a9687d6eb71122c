"""A redirect from the gateway is an error, never followed (issue 12, item 1).

Over real loopback sockets: the "gateway" answers 301/302/307/308 with a `Location` naming a
second server that records every request it gets. Following the redirect would hand it the
sign-in body (the password) or the Guid header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.errors import TransportError


@pytest.fixture
async def foreign() -> AsyncIterator[tuple[TestServer, list[web.Request]]]:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"retcode": "0", "message": "", "result": {"confs": []}},
                                 headers={"Set-GUID": "JSESSIONID=foreign-guid"})  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, seen
    await server.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_errors_and_never_followed(
    status: int, foreign: tuple[TestServer, list[web.Request]]
) -> None:
    target, seen = foreign
    location = str(target.make_url("/agentgateway/resource/onlineagent/153/loginex"))

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    gateway = TestServer(app, host="127.0.0.1")
    await gateway.start_server()
    client = GatewayClient(ClientSettings(base_url=str(gateway.make_url("")), agent_id="153"))
    try:
        deadline = asyncio.get_running_loop().time() + 3
        with pytest.raises(TransportError) as info:
            await client.sign_in("loginex", "the-password", "", deadline)
        assert info.value.reason == "http_status"
        assert info.value.status == status
        assert "the-password" not in str(info.value)
        assert location not in str(info.value)
        # A Guid-bearing call as well.
        client._guid = "0123456789abcdef-guid.AgentGateway0"  # as after a sign-in
        answer = await client.queryConfInfos([1, 2], deadline)
        assert answer.failed
        assert answer.failed[0].error.label == "http_status"
        assert client.stats.errors[("queryConfInfos", "http_status")] == 1
    finally:
        await client.close()
        await gateway.close()
    assert seen == []
