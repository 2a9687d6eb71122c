"""The lean exchange (exporter/gateway/wire.py) against aiohttp's client, its oracle.

`GatewayClient._exchange` reads a `wire` response exactly as it reads aiohttp's, so the same
raw answer must end the same way through both: the same conferences, or a failed batch with
the same error label (retcode or transport reason). A raw socket server answers each request
with canned bytes: well-formed answers in every framing (Content-Length, chunked, until close,
gzip), and broken ones (bad status lines, control characters, conflicting lengths, endless or
oversized bodies, hangs, bytes after the answer). Then what only the wire has: keep-alive
reuse, `Connection: close`, the idle limit, the Guid and the balancer's cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from exporter.gateway.client import ClientSettings, ConferenceQuery, GatewayClient
from exporter.gateway.wire import KEEPALIVE, WirePool

CONF = {
    "confId": 1001,
    "confState": 0,
    "startTime": 1475745454000,
    "applyConfTime": 60,
    "confHaveBeenTime": 29,
    "addresses": [
        {"addressType": "6", "address": "70005", "deviceCallType": 0, "deviceType": 0,
         "channelAttrib": 3, "channelState": 0, "role": 0, "enterTime": 1475745464000},
    ],
}  # fmt: skip
BODY = json.dumps({"message": "", "retcode": "0", "result": {"confs": [CONF]}}).encode()
JSON = b"Content-Type: application/json;charset=UTF-8\r\n"


def ok(body: bytes = BODY, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (
        b"HTTP/" + version + b" 200 OK\r\n" + JSON + extra
        + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip


def chunked(
    body: bytes = BODY, sizes: tuple[int, ...] = (7, 100, 5000), extra: bytes = b""
) -> bytes:
    out = b"HTTP/1.1 200 OK\r\n" + JSON + extra + b"Transfer-Encoding: chunked\r\n\r\n"
    at = 0
    for size in (*sizes, len(body)):
        piece = body[at : at + size]
        if not piece:
            continue
        out += b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n"
        at += len(piece)
    return out + b"0\r\nTrailer: x\r\n\r\n"


@dataclass
class Script:
    """What the server does with the next requests: bytes to send, then close or not."""

    answers: list[tuple[bytes, str]] = field(default_factory=list)  # (bytes, "keep"|"close"|"hang")
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0


@contextlib.asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                script.requests.append(head + await reader.readexactly(length))
                data, then = script.answers.pop(0) if script.answers else (ok(), "keep")
                writer.write(data)
                await writer.drain()
                if then == "close":
                    break
                if then == "hang":
                    await asyncio.sleep(30)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def client(url: str, wire: bool, **settings: object) -> GatewayClient:
    return GatewayClient(
        ClientSettings(base_url=url, agent_id="153", wire=wire, **settings)  # type: ignore[arg-type]
    )


Outcome = tuple[str, object]


def outcome(result: ConferenceQuery) -> Outcome:
    if result.failed:
        return ("failed", result.failed[0].error.label)
    return ("ok", [(c.conf_id, c.channel_counts, c.members) for c in result.conferences])


async def ask(url: str, wire: bool, timeout: float = 2.0, **settings: object) -> Outcome:
    gateway = client(url, wire, **settings)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        return outcome(await gateway.query_conf_batch([1001, 1002], deadline))
    finally:
        await gateway.close()


async def both(
    answer: bytes, then: str = "close", timeout: float = 2.0, **settings: object
) -> tuple[Outcome, Outcome]:
    results = []
    for wire in (False, True):
        script = Script([(answer, then)])
        async with raw_server(script) as url:
            results.append(await ask(url, wire, timeout, **settings))
    return results[0], results[1]


OK = ("ok", [(1001, (1, 0, 0, 0), (("70005", 1475745464000),))])

SAME = [
    pytest.param(ok(), "keep", OK, id="content-length"),
    pytest.param(ok(version=b"1.0"), "close", OK, id="http/1.0"),
    pytest.param(chunked(), "keep", OK, id="chunked"),
    pytest.param(chunked(sizes=(1,) * 40), "keep", OK, id="chunked-small"),
    pytest.param(b"HTTP/1.1 200 OK\r\n" + JSON + b"\r\n" + BODY, "close", OK, id="until-close"),
    pytest.param(
        ok(gzip.compress(BODY), b"Content-Encoding: gzip\r\n"), "keep", OK, id="gzip"
    ),
    pytest.param(ok(extra=b"Connection: close\r\n"), "close", OK, id="connection-close"),
    pytest.param(
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(), "keep", OK, id="interim-100"
    ),
    pytest.param(
        ok(extra=b"Set-Cookie: lb=node1; Path=/\r\nX-A:  padded value \t\r\n"), "keep", OK,
        id="cookies-and-padding",
    ),
    pytest.param(ok(b"not json"), "keep", ("failed", "decode"), id="not-json"),
    pytest.param(ok(b""), "keep", ("failed", "decode"), id="empty"),
    pytest.param(
        ok(json.dumps({"retcode": "100-006", "message": "x"}).encode()), "keep",
        ("failed", "100-006"), id="retcode",
    ),
    pytest.param(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
                 "keep", ("failed", "http_status"), id="redirect"),
    pytest.param(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy", "keep",
                 ("failed", "http_status"), id="503"),
    pytest.param(ok(extra=b"Content-Length: 99999999999\r\n")[:0] + (
        b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{"), "keep",
        ("failed", "too_large"), id="declared-too-large"),
    pytest.param(ok(extra=b"Content-Encoding: br\r\n"), "keep", ("failed", "decode"),
                 id="unknown-encoding"),
    pytest.param(ok(b"\x1f\x8b garbage", b"Content-Encoding: gzip\r\n"), "keep",
                 ("failed", "decode"), id="bad-gzip"),
    pytest.param(b"", "close", ("failed", "connect"), id="closed-at-once"),
    pytest.param(b"SSH-2.0-OpenSSH\r\n\r\n", "close", ("failed", "connect"), id="not-http"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", "close",
                 ("failed", "connect"), id="short-body"),
    pytest.param(b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\n{}", "close",
                 ("failed", "connect"), id="nul-in-header"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "close",
                 ("failed", "connect"), id="conflicting-lengths"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", "close",
                 ("failed", "connect"), id="negative-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "close",
                 ("failed", "connect"), id="bad-chunk-size"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}", "hang",
                 ("failed", "timeout"), id="chunked-never-ends"),
    pytest.param(b"HTTP/1.1 200 OK\r\n", "hang", ("failed", "timeout"), id="head-never-ends"),
    pytest.param(b"", "hang", ("failed", "timeout"), id="no-answer"),
    pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X-Junk: j\r\n" * 8000 + b"\r\n", "close",
                 ("failed", "connect"), id="huge-head"),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "then", "expected"), SAME)
async def test_the_wire_ends_each_answer_as_aiohttp_does(
    answer: bytes, then: str, expected: Outcome
) -> None:
    through_aiohttp, through_wire = await both(answer, then, timeout=1.0)
    assert through_aiohttp == expected
    assert through_wire == expected


CHUNK = b"2\r\n{}\r\n0\r\n\r\n"


def h(
    *fields: bytes, status: bytes = b"HTTP/1.1 200 OK", length: bool = True, body: bytes = b"{}"
) -> bytes:
    """A response head with these fields (and Content-Length of `body` unless told not)."""
    lines = [status, *fields]
    if length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# Oddities aiohttp's parser (llhttp) takes or refuses: the wire must agree, whichever it is.
ODD = {
    "nul": h(b"X-Bad: a\x00b"),
    "ctl01": h(b"X-Bad: a\x01b"),
    "del": h(b"X-Bad: a\x7fb"),
    "bare-cr": h(b"X-Bad: a\rb"),
    "lf-only": b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
    "obs-fold": h(b"X-Bad: a", b" b"),
    "space-before-colon": h(b"X-Bad : a"),
    "bad-name": h(b"X(Bad): a"),
    "non-ascii-value": h(b"X-Bad: \xff\xfe"),
    "no-colon": h(b"XBad"),
    "te-gzip-chunked": h(b"Transfer-Encoding: gzip, chunked", length=False, body=CHUNK),
    "te+cl": h(b"Transfer-Encoding: chunked", body=CHUNK),
    "te-identity": h(b"Transfer-Encoding: identity", length=False),
    "te-chunked-case": h(b"Transfer-Encoding: Chunked", length=False, body=CHUNK),
    "cl-5-lie": h(b"Content-Length: 5", length=False),
    "cl-plus": h(b"Content-Length: +2", length=False),
    "cl-same-twice": h(b"Content-Length: 2"),
    "cl-comma": h(b"Content-Length: 2, 2", length=False),
    "http2": h(status=b"HTTP/2 200 OK"),
    "http09": h(status=b"HTTP/0.9 200 OK"),
    "status-4digit": h(status=b"HTTP/1.1 2000 OK"),
    "no-reason": h(status=b"HTTP/1.1 200"),
    "reason-ctl": h(status=b"HTTP/1.1 200 O\x01K"),
    "101": h(b"Upgrade: x", status=b"HTTP/1.1 101 Switching", length=False),
    "204": h(status=b"HTTP/1.1 204 No Content", length=False, body=b""),
    "chunk-no-crlf": h(b"Transfer-Encoding: chunked", length=False, body=b"2\r\n{}XX0\r\n\r\n"),
    "chunk-size-huge": h(b"Transfer-Encoding: chunked", length=False, body=b"f" * 18 + b"\r\n{}"),
    "chunk-size-space": h(
        b"Transfer-Encoding: chunked", length=False, body=b"2 \r\n{}\r\n0\r\n\r\n"
    ),
    "long-header-9000": h(b"X-Huge: " + b"h" * 9000),
    "long-header-8000": h(b"X-Huge: " + b"h" * 8000),
    "many-headers-1000": h(*[b"X-J: j"] * 1000),
    "many-headers-120": h(*[b"X-J: j"] * 120),
    "many-headers-200": h(*[b"X-J: j"] * 200),
    "ctype-utf16": h(b"Content-Type: application/json; charset=utf-16"),
    "ctype-ctl": h(b"Content-Type: \x01\x02"),
}


@pytest.mark.parametrize("answer", list(ODD.values()), ids=list(ODD))
async def test_odd_heads_end_as_aiohttp_ends_them(answer: bytes) -> None:
    through_aiohttp, through_wire = await both(answer, "close", timeout=1.0)
    assert through_wire == through_aiohttp


async def test_bodies_over_the_cap_are_dropped_unbuffered() -> None:
    big = b'{"message":"' + b"x" * 300_000 + b'","retcode":"0","result":[]}'
    for answer in (ok(big), chunked(big, sizes=(1000,) * 50)):
        through_aiohttp, through_wire = await both(answer, "close", max_response_size=65536)
        assert through_aiohttp == through_wire == ("failed", "too_large")


async def test_keep_alive_reuses_one_connection_and_close_opens_another() -> None:
    script = Script([(ok(), "keep"), (ok(), "keep"), (ok(extra=b"Connection: close\r\n"), "close"),
                     (ok(), "keep")])  # fmt: skip
    async with raw_server(script) as url:
        gateway = client(url, True)
        try:
            for _ in range(4):
                deadline = asyncio.get_running_loop().time() + 2
                assert outcome(await gateway.query_conf_batch([1001], deadline)) == OK
        finally:
            await gateway.close()
    assert script.connections == 2
    assert len(script.requests) == 4


async def test_bytes_after_an_answer_retire_the_connection() -> None:
    script = Script([(ok() + b"HTTP/1.1 200 OK\r\n", "keep"), (ok(), "keep")])
    async with raw_server(script) as url:
        gateway = client(url, True)
        try:
            for _ in range(2):
                deadline = asyncio.get_running_loop().time() + 2
                assert outcome(await gateway.query_conf_batch([1001], deadline)) == OK
        finally:
            await gateway.close()
    assert script.connections == 2


async def test_guid_cookies_and_headers_are_those_aiohttp_sends() -> None:
    """The Guid header goes with every call, Set-GUID renews it, the balancer's cookie comes
    back; the request line, Host, Content-Type and body are the vendor's (cec_07_0485)."""
    guid = "279fe21d-0000-4000-8000-000000000001.AgentGateway0"
    first_answer = ok(
        extra=f"Set-GUID: JSESSIONID={guid}\r\nSet-Cookie: lb=n1; Path=/\r\n".encode()
    )
    answers = [(first_answer, "keep"), (ok(), "keep")]
    for wire in (False, True):
        script = Script(list(answers))
        async with raw_server(script) as url:
            gateway = client(url, wire)
            gateway._guid = "first-guid"
            try:
                for _ in range(2):
                    deadline = asyncio.get_running_loop().time() + 2
                    await gateway.query_conf_batch([1001, 1002], deadline)
                assert gateway.guid == guid
            finally:
                await gateway.close()
        first, second = (r.decode("latin-1") for r in script.requests)
        port = url.rsplit(":", 1)[1]
        for request, sent_guid in ((first, "first-guid"), (second, guid)):
            head, _, body = request.partition("\r\n\r\n")
            lines = head.split("\r\n")
            assert lines[0] == "POST /agentgateway/resource/agentconf/153/queryconfinfos HTTP/1.1"
            fields = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            assert fields["host"] == f"127.0.0.1:{port}"
            assert fields["guid"] == sent_guid
            assert fields["content-type"] == "application/json; charset=UTF-8"
            assert fields["user-agent"] == "ccgw-exporter"
            assert json.loads(body) == {"confIds": [1001, 1002]}
        assert "cookie" not in first.lower()
        assert "Cookie: lb=n1" in second


async def test_idle_connections_are_closed_after_the_keepalive_time() -> None:
    script = Script()
    async with raw_server(script) as url:
        pool = WirePool(url, True, size=4, cookie_jar=_jar(), user_agent="t", limit=1 << 20)
        loop = asyncio.get_running_loop()
        async with pool.request("POST", url + "/x", data="{}", headers={}) as response:
            assert response.status == 200
            assert await response.content.readany() == BODY
            assert await response.content.readany() == b""
        assert pool.idle_connections == 1
        pool._idle[0].idle_since = loop.time() - KEEPALIVE - 1
        pool._prune()
        assert pool.idle_connections == 0
        pool.close()


def _jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)


async def test_a_header_value_with_a_line_break_is_refused() -> None:
    """As aiohttp refuses it: a Guid with CR LF would inject a header."""
    script = Script()
    async with raw_server(script) as url:
        pool = WirePool(url, True, size=1, cookie_jar=_jar(), user_agent="t", limit=1 << 20)
        with pytest.raises(ValueError, match="CR or LF"):
            async with pool.request("POST", url + "/x", data="{}", headers={"Guid": "a\r\nX: 1"}):
                pass
        pool.close()
    assert script.requests == []
