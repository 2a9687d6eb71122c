"""The client's error classes, Guid handling and batching, against mocked HTTP (aioresponses).

The same behaviours are exercised against the real simulator over sockets in test_session.py;
here every error path is forced exactly.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from exporter.gateway.boundary import parse_set_guid
from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.errors import RetcodeError, TransportError

BASE = "https://gw.example:8043"
QUERY = re.compile(r"^https://gw\.example:8043/agentgateway/resource/agentconf/153/queryconfinfos$")
VDN = f"{BASE}/agentgateway/resource/agentconf/153/queryvdnconfid"
EVENTS = f"{BASE}/agentgateway/resource/agentevent/153"
LOGIN_EX = f"{BASE}/agentgateway/resource/onlineagent/153/loginex"


def ok(result: Any = None) -> dict[str, Any]:
    return {"message": "", "retcode": "0", "result": result}


@pytest.fixture
async def client() -> AsyncIterator[GatewayClient]:
    c = GatewayClient(ClientSettings(base_url=BASE, agent_id="153"))
    yield c
    await c.close()


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_sign_in_takes_guid_from_set_guid(client: GatewayClient) -> None:
    with aioresponses() as mock:
        mock.put(
            LOGIN_EX,
            payload=ok({"workno": "153"}),
            headers={"Set-GUID": "JSESSIONID=279fe21d-2caa-4437.AgentGateway0"},
        )
        result = await client.loginEx("pw", "", deadline())
    assert result.workno == "153"
    assert client.guid == "279fe21d-2caa-4437.AgentGateway0"
    assert client.stats.responses == {("loginEx", "0"): 1}


async def test_sign_in_without_set_guid_is_a_decode_error(client: GatewayClient) -> None:
    with aioresponses() as mock:
        mock.put(LOGIN_EX, payload=ok())
        with pytest.raises(TransportError) as info:
            await client.loginEx("pw", "", deadline())
    assert info.value.reason == "decode"


async def test_sign_in_sends_password_and_phone_and_no_guid(client: GatewayClient) -> None:
    seen: dict[str, Any] = {}

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen.update(json.loads(kwargs["data"]))
        seen["guid_header"] = kwargs["headers"].get("Guid")
        return CallbackResult(payload=ok(), headers={"Set-GUID": "JSESSIONID=g1"})

    with aioresponses() as mock:
        mock.put(f"{BASE}/agentgateway/resource/onlineagent/153", callback=capture)
        await client.login("secret", "70005", deadline())
    # The vendor's body (cec_07_1202): phonenum mandatory; status 3 (busy) so that the
    # monitoring account is not offered calls; nothing answers or goes idle by itself.
    assert seen == {
        "password": "secret",
        "phonenum": "70005",
        "status": 3,
        "autoanswer": False,
        "autoenteridle": False,
        "releasephone": True,
        "agenttype": 4,
        "checkInWebm": False,
        "guid_header": None,
    }


async def test_every_set_guid_renews_the_guid_and_is_counted() -> None:
    renewed: list[str] = []
    c = GatewayClient(ClientSettings(base_url=BASE, agent_id="153"), on_guid_renewed=renewed.append)
    try:
        with aioresponses() as mock:
            mock.put(LOGIN_EX, payload=ok(), headers={"Set-GUID": "JSESSIONID=g1"})
            mock.get(EVENTS, payload=ok(), headers={"Set-GUID": "JSESSIONID=g2"})
            mock.get(EVENTS, payload=ok(), headers={"Set-GUID": "JSESSIONID=g2"})
            mock.get(EVENTS, payload=ok(), headers={"set-guid": "JSESSIONID=g3"})
            await c.loginEx("pw", "", deadline())
            for _ in range(3):
                await c.getAgentEvent(deadline())
        assert c.guid == "g3"
        assert renewed == ["g2", "g3"]
    finally:
        await c.close()


async def test_guid_header_is_sent_on_authenticated_calls(client: GatewayClient) -> None:
    headers: list[str | None] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        headers.append(kwargs["headers"].get("Guid"))
        return CallbackResult(payload=ok({"confIds": [1]}))

    with aioresponses() as mock:
        mock.put(LOGIN_EX, payload=ok(), headers={"Set-GUID": "JSESSIONID=abc.AgentGateway1"})
        mock.get(VDN, callback=capture)
        await client.loginEx("pw", "", deadline())
        assert await client.queryAllConfIds(deadline()) == [1]
    assert headers == ["abc.AgentGateway1"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"exception": asyncio.TimeoutError()}, "timeout"),
        ({"exception": aiohttp.ServerTimeoutError("read")}, "timeout"),
        ({"exception": aiohttp.ClientConnectionError("refused")}, "connect"),
        ({"exception": aiohttp.ServerDisconnectedError()}, "connect"),
        ({"exception": aiohttp.ClientPayloadError("reset mid-body")}, "connect"),
        ({"exception": ConnectionResetError("reset")}, "connect"),
        ({"exception": ssl.SSLCertVerificationError("certificate verify failed")}, "tls"),
        ({"status": 502, "body": "<html><h1>502 Bad Gateway</h1></html>"}, "http_status"),
        ({"status": 503, "body": "<html>busy</html>"}, "http_status"),
        ({"status": 404, "body": "Not Found"}, "http_status"),
        ({"status": 200, "body": "<html>login page</html>"}, "decode"),
        ({"status": 200, "body": '{"retcode": "0", "result": {"confIds": ['}, "decode"),
        ({"status": 200, "body": '{"retcode": "0", "result": {"confIds": "1"}}'}, "decode"),
    ],
)
async def test_transport_failures_are_classified(
    client: GatewayClient, kwargs: dict[str, Any], reason: str
) -> None:
    with aioresponses() as mock:
        mock.get(VDN, **kwargs)
        with pytest.raises(TransportError) as info:
            await client.queryAllConfIds(deadline())
    assert info.value.reason == reason
    assert info.value.method == "queryAllConfIds"
    assert client.stats.errors == {("queryAllConfIds", reason): 1}
    assert client.stats.latency["queryAllConfIds"].count == 1


async def test_http_status_error_keeps_the_status(client: GatewayClient) -> None:
    with aioresponses() as mock:
        mock.get(VDN, status=503, body="<html/>")
        with pytest.raises(TransportError) as info:
            await client.queryAllConfIds(deadline())
    assert info.value.status == 503


async def test_expired_deadline_fails_without_a_request(client: GatewayClient) -> None:
    with aioresponses() as mock:
        with pytest.raises(TransportError) as info:
            await client.queryAllConfIds(asyncio.get_running_loop().time() - 1)
        assert not mock.requests
    assert info.value.reason == "timeout"


async def test_retcode_is_a_retcode_error_and_counted(client: GatewayClient) -> None:
    with aioresponses() as mock:
        mock.get(VDN, payload={"message": "not an inspector", "retcode": "101-004"})
        with pytest.raises(RetcodeError) as info:
            await client.queryAllConfIds(deadline())
    assert info.value.retcode == "101-004"
    assert not info.value.needs_sign_in
    assert client.stats.responses == {("queryAllConfIds", "101-004"): 1}


def query_callback(answer_for: dict[int, Any]) -> Any:
    """A queryconfinfos mock answering the IDs it is asked for; records the batch sizes."""
    sizes: list[int] = []

    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        ids = json.loads(kwargs["data"])["confIds"]
        sizes.append(len(ids))
        confs = [answer_for[i] for i in ids if i in answer_for]
        return CallbackResult(payload=ok({"confs": confs}))

    callback.sizes = sizes  # type: ignore[attr-defined]
    return callback


async def test_45_ids_go_in_batches_of_20_20_5(client: GatewayClient) -> None:
    confs = {i: {"confId": i, "addresses": []} for i in range(1, 46)}
    callback = query_callback(confs)
    with aioresponses() as mock:
        mock.post(QUERY, callback=callback, repeat=True)
        result = await client.queryConfInfos(list(confs), deadline(), concurrency=2)
    assert sorted(callback.sizes) == [5, 20, 20]
    assert sorted(c.conf_id for c in result.conferences) == list(range(1, 46))
    assert result.calls == 3
    assert result.failed == []


async def test_a_collection_lets_go_of_cached_participants_it_did_not_see() -> None:
    """queryConfInfos brackets a collection for the AddressCache (fastpath.py): it holds the
    conferences answered, and none of the collection before that this one did not answer
    (here every batch fails)."""
    client = GatewayClient(ClientSettings(base_url=BASE, agent_id="153", participants=False))
    from ..test_fastpath import SAMPLE  # the vendor's sample conference

    confs = [{**SAMPLE["result"]["confs"][0], "confId": i} for i in (1, 2)]
    try:
        with aioresponses() as mock:
            mock.post(QUERY, payload=ok({"confs": confs}))
            answer = await client.queryConfInfos([1, 2], deadline())
            assert [c.conf_id for c in answer.conferences] == [1, 2]
            assert len(client.addresses) == 2
            answer = await client.queryConfInfos([1, 2], deadline())  # not mocked: fails
            assert answer.failed
            assert len(client.addresses) == 0
    finally:
        await client.close()


async def test_a_batch_body_is_what_json_dumps_writes(client: GatewayClient) -> None:
    """The body of a batch is built by hand (once per batch, issue 18): byte for byte what
    json.dumps made before, large IDs included."""
    ids = [1, 20, 2**63 - 1, 1029888]
    bodies: list[bytes] = []

    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        bodies.append(kwargs["data"])
        return CallbackResult(payload=ok({"confs": []}))

    with aioresponses() as mock:
        mock.post(QUERY, callback=callback)
        result = await client.query_conf_batch(ids, deadline())
    assert result.failed == []
    assert bodies == [json.dumps({"confIds": ids}).encode()]


async def test_a_failed_batch_is_reported_and_the_others_kept(client: GatewayClient) -> None:
    answers = iter(
        [
            CallbackResult(payload=ok({"confs": [{"confId": i} for i in range(1, 21)]})),
            CallbackResult(status=502, body="<html>bad gateway</html>"),
            CallbackResult(payload=ok([{"confId": 45}])),
        ]
    )
    with aioresponses() as mock:
        mock.post(QUERY, callback=lambda url, **kw: next(answers), repeat=True)
        result = await client.queryConfInfos(list(range(1, 46)), deadline(), concurrency=1)
    assert len(result.conferences) == 21
    (failed,) = result.failed
    assert failed.ids == list(range(21, 41))
    assert isinstance(failed.error, TransportError)
    assert failed.error.reason == "http_status"


async def test_batch_concurrency_is_bounded(client: GatewayClient) -> None:
    in_flight = 0
    peak = 0

    async def slow(url: Any, **kwargs: Any) -> CallbackResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return CallbackResult(payload=ok({"confs": []}))

    with aioresponses() as mock:
        mock.post(QUERY, callback=slow, repeat=True)
        result = await client.queryConfInfos(list(range(1, 201)), deadline(), concurrency=3)
    assert result.calls == 10
    assert peak == 3


async def test_empty_id_list_makes_no_call(client: GatewayClient) -> None:
    with aioresponses() as mock:
        result = await client.queryConfInfos([], deadline())
        assert not mock.requests
    assert result.calls == 0


class FakeReAuth:
    """Stands in for the session: "signs in" by handing the client a new Guid."""

    def __init__(self, client: GatewayClient, heal: bool) -> None:
        self.client = client
        self.heal = heal
        self.calls: list[tuple[str, str | None]] = []

    async def recover(self, error: RetcodeError, guid_used: str | None, deadline: float) -> bool:
        self.calls.append((error.retcode, guid_used))
        if self.heal:
            self.client._guid = "fresh"
        return self.heal


@pytest.mark.parametrize("retcode", ["100-006", "000-003", "105-005", "105-006", "105-007"])
async def test_auth_retcodes_are_retried_once_after_recovery(
    client: GatewayClient, retcode: str
) -> None:
    reauth = FakeReAuth(client, heal=True)
    client.reauth = reauth
    client._guid = "stale"
    guids: list[str | None] = []
    answers = iter([{"retcode": retcode, "message": ""}, ok({"confs": [{"confId": 5}]})])

    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        guids.append(kwargs["headers"].get("Guid"))
        return CallbackResult(payload=next(answers))

    with aioresponses() as mock:
        mock.post(QUERY, callback=callback, repeat=True)
        result = await client.queryConfInfos([5], deadline())
    assert [c.conf_id for c in result.conferences] == [5]
    assert result.failed == []
    assert result.calls == 2
    assert reauth.calls == [(retcode, "stale")]
    assert guids == ["stale", "fresh"]


async def test_only_one_retry_and_none_for_other_retcodes(client: GatewayClient) -> None:
    reauth = FakeReAuth(client, heal=True)
    client.reauth = reauth
    with aioresponses() as mock:
        mock.post(QUERY, payload={"retcode": "100-006", "message": ""}, repeat=True)
        result = await client.queryConfInfos([5], deadline())
        assert result.calls == 2
        assert isinstance(result.failed[0].error, RetcodeError)
        mock.post(QUERY, payload={"retcode": "100-007", "message": "Unknown ERROR._10007"})
    reauth.calls.clear()
    with aioresponses() as mock:
        mock.post(QUERY, payload={"retcode": "100-007", "message": ""}, repeat=True)
        result = await client.queryConfInfos([5], deadline())
    assert reauth.calls == []
    assert result.calls == 1


async def test_no_retry_when_the_session_cannot_recover(client: GatewayClient) -> None:
    client.reauth = FakeReAuth(client, heal=False)
    with aioresponses() as mock:
        mock.post(QUERY, payload={"retcode": "000-003", "message": ""}, repeat=True)
        result = await client.queryConfInfos([5], deadline())
    assert result.calls == 1
    assert result.failed[0].ids == [5]


async def test_logout_forgets_guid_and_cookies(client: GatewayClient) -> None:
    with aioresponses() as mock:
        mock.put(LOGIN_EX, payload=ok(), headers={"Set-GUID": "JSESSIONID=g1"})
        mock.delete(f"{BASE}/agentgateway/resource/onlineagent/153/logout", payload=ok())
        await client.loginEx("pw", "", deadline())
        await client.logout(deadline())
    assert client.guid is None


async def test_late_set_guid_from_a_previous_session_is_ignored(client: GatewayClient) -> None:
    release = asyncio.Event()

    async def held_poll(url: Any, **kwargs: Any) -> CallbackResult:
        await release.wait()
        return CallbackResult(payload=ok(), headers={"Set-GUID": "JSESSIONID=old-session"})

    with aioresponses() as mock:
        mock.put(LOGIN_EX, payload=ok(), headers={"Set-GUID": "JSESSIONID=first"})
        mock.get(EVENTS, callback=held_poll)
        mock.put(LOGIN_EX, payload=ok(), headers={"Set-GUID": "JSESSIONID=second"})
        await client.loginEx("pw", "", deadline())
        poll = asyncio.ensure_future(client.getAgentEvent(deadline()))
        await asyncio.sleep(0.01)
        await client.loginEx("pw", "", deadline())
        release.set()
        await poll
    assert client.guid == "second"


@pytest.mark.parametrize(
    ("header", "guid"),
    [
        ("JSESSIONID=279fe21d.AgentGateway0", "279fe21d.AgentGateway0"),
        ("jsessionid=abc; Path=/", "abc"),
        ("abc.AgentGateway2", "abc.AgentGateway2"),
        ("OTHER=abc", None),
        ("JSESSIONID=", None),
    ],
)
def test_parse_set_guid(header: str, guid: str | None) -> None:
    assert parse_set_guid(header) == guid


def test_settings_and_errors_never_show_a_password() -> None:
    error = RetcodeError("loginEx", "100-004", "wrong password")
    assert "pw" not in str(error)
