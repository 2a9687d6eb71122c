"""The boundary (issue 12, items 2-5 and 9): caps, safe text, retcode shape, Set-GUID, charset.

Unit tests of each rule, then the same rules over real loopback sockets against a raw server
that can send any bytes (tests/hostile/ goes further with hypothesis and the whole process).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.gateway import boundary
from exporter.gateway.boundary import (
    RetcodeLabels,
    TooLarge,
    Undecodable,
    guid_node,
    parse_set_guid,
    read_capped,
    retcode_label,
    safe_text,
)
from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.errors import TransportError
from exporter.logs import SECRETS, redact

# -- text ----------------------------------------------------------------------------------------


@given(st.text())
def test_safe_text_is_always_printable_utf8_and_bounded(text: str) -> None:
    safe = safe_text(text, 50)
    safe.encode("utf-8")  # no lone surrogate survives
    assert len(safe) <= 50
    assert all(c.isprintable() for c in safe)


def test_safe_text_keeps_ordinary_text() -> None:
    assert safe_text("Unknown ERROR._12345") == "Unknown ERROR._12345"
    assert safe_text("会议 ok") == "会议 ok"
    assert safe_text("a\rb\u202ec\ud800") == "a\ufffdb\ufffdc\ufffd"


# -- retcodes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "label"),
    [("0", "0"), (0, "0"), ("100-006", "100-006"), (" 000-003 ", "000-003"), ("\ud800", "invalid"),
     ("100-0066", "invalid"), ("x" * 100_000, "invalid"), (None, "invalid"), (True, "invalid"),
     (1.0, "invalid"), ("\uff11\uff10\uff10-\uff10\uff10\uff16", "invalid")],
)  # fmt: skip
def test_only_the_vendors_shape_is_a_retcode(raw: object, label: str) -> None:
    assert retcode_label(raw) == label


def test_undocumented_retcodes_are_bounded_per_method() -> None:
    labels = RetcodeLabels({"queryConfInfos": frozenset({"100-007"})}, extra=3)
    seen = {labels.label("queryConfInfos", f"999-{i:03d}") for i in range(300)}
    assert seen == {"999-000", "999-001", "999-002", "other"}
    assert labels.label("queryConfInfos", "100-007") == "100-007"
    assert labels.label("queryConfInfos", "999-001") == "999-001"
    assert labels.label("getAgentEvent", "999-100") == "999-100", "per method"


# -- Set-GUID --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "guid"),
    [
        ("JSESSIONID=279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0",
         "279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0"),
        ("jsessionid=abc; Path=/", "abc"),
        ("abc.AgentGateway2", "abc.AgentGateway2"),
        ("JSESSIONID=ab\x01cd", None),
        ("JSESSIONID=ab\x7fcd", None),
        ("JSESSIONID=ab cd", None),
        ("JSESSIONID=" + "a" * 201, None),
        ("JSESSIONID=ab\u00e9", None),
        ("OTHER=abc", None),
        ("JSESSIONID=", None),
    ],
)  # fmt: skip
def test_set_guid_must_look_like_a_guid(header: str, guid: str | None) -> None:
    assert parse_set_guid(header) == guid


def test_the_issuing_node_comes_from_the_guid() -> None:
    assert guid_node("279fe21d.AgentGateway1") == "AgentGateway1"
    assert guid_node("279fe21d") == ""
    assert guid_node(None) == ""


# -- bodies ----------------------------------------------------------------------------------------


class Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    async def readany(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


async def test_a_body_over_the_cap_is_refused_on_the_wire() -> None:
    with pytest.raises(TooLarge):
        await read_capped(Chunks(b"x" * 600, b"x" * 600), "", 1000)
    assert await read_capped(Chunks(b"x" * 600, b"y" * 400), "", 1000) == b"x" * 600 + b"y" * 400


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compression_bomb_is_refused_after_a_cap_worth_of_inflating(encoding: str) -> None:
    """1 MB compressed, gigabytes inflated (issue 12, item 2): stops at the cap."""
    payload = b"\0" * (64 * 1024 * 1024)
    packed = gzip.compress(payload) if encoding == "gzip" else zlib.compress(payload)
    assert len(packed) < 1024 * 1024
    with pytest.raises(TooLarge):
        await read_capped(Chunks(packed), encoding, 1024 * 1024)


async def test_compressed_answers_under_the_cap_are_read() -> None:
    body = json.dumps({"retcode": "0", "message": "", "result": list(range(1000))}).encode()
    assert await read_capped(Chunks(gzip.compress(body)), "gzip", 1 << 20) == body


async def test_an_unknown_encoding_is_undecodable() -> None:
    with pytest.raises(Undecodable):
        await read_capped(Chunks(b"x"), "br", 100)


def test_answers_are_read_in_their_declared_charset() -> None:
    text = '{"retcode": "0", "message": "会议已结束"}'
    assert boundary.decode_json(text.encode("gbk"), "GBK")["message"] == "会议已结束"
    assert boundary.decode_json(text.encode(), None)["message"] == "会议已结束"
    # invalid UTF-8 does not cost the retcode
    assert boundary.decode_json(b'{"retcode": "100-007", "message": "\xff"}', None)["retcode"] == (
        "100-007"
    )
    with pytest.raises(Undecodable):
        boundary.decode_json(b"{}", "rot13")
    with pytest.raises(Undecodable):
        boundary.decode_json(b"{}", "no-such-charset")


def test_secrets_are_redacted_from_text_an_answer_echoes() -> None:
    SECRETS.password("pw-in-echo-1234")
    SECRETS.guid("0a1b2c3d-echo-guid.AgentGateway0")
    text = redact("bad header 'Guid: 0a1b2c3d-echo-guid.AgentGateway0' body pw-in-echo-1234")
    assert "pw-in-echo-1234" not in text
    assert "0a1b2c3d-echo-guid" not in text
    assert "0a1b2c3d…" in text


# -- over real sockets ---------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[bytes | Handler], Awaitable[str]]]:
    """A gateway that answers every request with the given raw bytes (or runs a handler)."""
    servers: list[asyncio.Server] = []

    async def start(answer: bytes | Handler) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                if callable(answer):
                    await answer(reader, writer)
                else:
                    writer.write(answer)
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


def http(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def client_for(url: str, **settings: object) -> GatewayClient:
    return GatewayClient(ClientSettings(base_url=url, agent_id="153", **settings))  # type: ignore[arg-type]


def deadline(seconds: float = 3.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_an_endless_chunked_body_is_too_large(raw_server) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    client = client_for(await raw_server(endless), max_response_size=1 << 20)
    try:
        answer = await client.queryConfInfos([1], deadline())
    finally:
        await client.close()
    assert answer.failed[0].error.label == "too_large"
    assert client.stats.errors[("queryConfInfos", "too_large")] == 1


async def test_a_declared_length_over_the_cap_is_refused_unread(raw_server) -> None:
    url = await raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n")
    client = client_for(url, max_response_size=1 << 20)
    try:
        with pytest.raises(TransportError) as info:
            await client.getAgentEvent(deadline())
    finally:
        await client.close()
    assert info.value.reason == "too_large"


async def test_a_gzip_bomb_is_too_large_and_cheap(raw_server) -> None:
    bomb = gzip.compress(b" " * (256 * 1024 * 1024), compresslevel=9)
    url = await raw_server(http(bomb, "Content-Encoding: gzip"))
    client = client_for(url, max_response_size=4 << 20)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await client.queryConfInfos([1], deadline(10))
        assert loop.time() - started < 2.0
    finally:
        await client.close()
    assert answer.failed[0].error.label == "too_large"


async def test_a_control_character_in_set_guid_is_never_stored(raw_server) -> None:
    body = json.dumps({"retcode": "0", "message": "", "result": {}}).encode()
    url = await raw_server(http(body, "Set-GUID: JSESSIONID=abc\x01def.AgentGateway0"))
    client = client_for(url)
    try:
        with pytest.raises(TransportError) as info:
            await client.sign_in("loginex", "pw", "", deadline())
        assert info.value.reason == "decode"
        assert client.guid is None
        assert client.stats.guids_rejected == {"loginEx": 1}
    finally:
        await client.close()


async def test_a_lone_surrogate_retcode_is_counted_as_invalid(raw_server) -> None:
    url = await raw_server(http(b'{"retcode": "\\ud800", "message": "\\ud800\\u0007"}'))
    client = client_for(url)
    try:
        answer = await client.queryConfInfos([1], deadline())
    finally:
        await client.close()
    assert client.stats.responses == {("queryConfInfos", "invalid"): 1}
    error = answer.failed[0].error
    assert error.label == "invalid"
    str(error).encode("utf-8")


async def test_a_gbk_answer_keeps_its_retcode_and_message(raw_server) -> None:
    body = '{"retcode": "100-007", "message": "内部错误"}'.encode("gbk")
    url = await raw_server(http(body, "Content-Type: application/json; charset=GBK"))
    client = client_for(url)
    try:
        answer = await client.queryConfInfos([1], deadline())
    finally:
        await client.close()
    error = answer.failed[0].error
    assert error.label == "100-007"
    assert "内部错误" in str(error)


async def test_a_not_json_answer_never_quotes_the_body(raw_server) -> None:
    """The 60-character preview could carry the full Guid (issue 12, item 9)."""
    guid = "0f0e0d0c-full-guid-in-body.AgentGateway0"
    url = await raw_server(http(f"<html>Guid: {guid}</html>".encode()))
    client = client_for(url)
    try:
        with pytest.raises(TransportError) as info:
            await client.getAgentEvent(deadline())
    finally:
        await client.close()
    assert info.value.reason == "decode"
    assert guid not in str(info.value)


async def test_a_large_answer_is_decoded_off_the_event_loop(raw_server) -> None:
    """Over OFFLOAD_BYTES the JSON is decoded in a helper process: the loop (and with it
    /-/healthy and other scrapes) keeps running while it parses."""
    from exporter.gateway import client as client_module

    people = [
        {"address": f"{i:08d}", "addressType": "6", "channelState": 1, "channelAttrib": 3,
         "enterTime": 1475745464000, "role": 0, "deviceType": 0, "deviceCallType": 0}
        for i in range(3000)
    ]  # fmt: skip
    confs = [{"confId": n, "confState": 0, "applyConfTime": 60, "confHaveBeenTime": 5,
              "startTime": 1475745454000, "addresses": people} for n in range(1, 11)]  # fmt: skip
    body = json.dumps({"retcode": "0", "message": "", "result": {"confs": confs}}).encode()
    assert len(body) > client_module.OFFLOAD_BYTES
    client = client_for(await raw_server(http(body)), max_participants=5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    running = asyncio.ensure_future(ticker())
    try:
        answer = await client.queryConfInfos(list(range(1, 11)), deadline(20))
    finally:
        running.cancel()
        await client.close()
    assert answer.failed == [], answer.failed
    assert len(answer.conferences) == 10
    assert all(c.participant_count == 3000 for c in answer.conferences)
    assert all(len(c.participants) == 5 for c in answer.conferences)
    assert all(c.channel_counts[1] == 3000 for c in answer.conferences)
    assert ticks > 3, "the event loop kept running during the decode"


@pytest.mark.parametrize("wire", [False, True])
async def test_a_slowly_sent_bomb_is_cut_at_the_cap_not_at_its_end(raw_server, wire: bool) -> None:
    """The first compressed chunk already inflates past the cap; the rest drips. Both
    exchanges (aiohttp's and the lean one, wire.py) must stop at the cap at once instead of
    waiting for every compressed byte (a loaded gateway took longer than the deadline)."""
    first = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = first.compress(b" " * (8 << 20)) + first.flush(zlib.Z_FULL_FLUSH)

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(b"%x\r\n%s\r\n" % (len(head), head))
        await writer.drain()
        while True:  # then a compressed space a second, for ever
            piece = first.compress(b" ") + first.flush(zlib.Z_FULL_FLUSH)
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(1.0)

    client = client_for(await raw_server(drip), max_response_size=1 << 20, wire=wire)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        answer = await client.queryConfInfos([1], deadline(10))
    finally:
        await client.close()
    assert loop.time() - started < 2.0
    assert answer.failed[0].error.label == "too_large"
