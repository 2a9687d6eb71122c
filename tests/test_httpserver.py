"""The exporter's own listener over real loopback sockets: the header and idle timeouts, the
connection cap and whom it gives way to, HTTPS handshakes counted from accept, stalled
readers, and the throttled accept-error log (issue 12, item 10)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trustme
from aiohttp import web

from exporter import httpserver
from exporter.httpserver import (
    AcceptErrorLog,
    HardenedSite,
    HTTPStats,
    Limits,
    connection_budget,
    track_requests,
)

from .conftest import wait_for

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@dataclass
class Served:
    port: int
    stats: HTTPStats
    release: asyncio.Event  # lets requests to /block finish
    blocked: list[int]

    async def connect(self, *, tls: ssl.SSLContext | None = None) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=tls)
        return Conn(reader, writer)


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def request(self, path: str = "/") -> bytes:
        """One request on this connection; the status line and headers."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        await asyncio.wait_for(self.reader.readexactly(length), 5)
        return head

    async def closed_within(self, seconds: float) -> bytes:
        """What the server sent before closing; fails if it does not close in time."""
        return await asyncio.wait_for(self.reader.read(), seconds)

    def close(self) -> None:
        self.writer.transport.abort()


Start = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []
    opened: list[Conn] = []

    async def start(limits: Limits, ssl_context: ssl.SSLContext | None = None) -> Served:
        release = asyncio.Event()
        blocked: list[int] = []

        async def block(request: web.Request) -> web.Response:
            blocked.append(1)
            await release.wait()
            return web.Response(text="done\n")

        async def big(request: web.Request) -> web.Response:
            return web.Response(body=b"x" * (8 << 20))

        async def ok(request: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        app = web.Application(middlewares=[track_requests])
        app.router.add_get("/", ok)
        app.router.add_get("/block", block)
        app.router.add_get("/big", big)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        runners.append(runner)
        stats = HTTPStats()
        site = HardenedSite(
            runner, "127.0.0.1", 0, limits=limits, stats=stats, ssl_context=ssl_context
        )
        await site.start()
        port = runner.addresses[0][1]
        return Served(port, stats, release, blocked)

    yield start
    for conn in opened:
        conn.close()
    for runner in runners:
        await runner.cleanup()


async def test_a_connection_that_never_sends_a_head_is_closed_at_the_header_timeout(
    serve: Start,
) -> None:
    served = await serve(Limits(header_timeout=0.3))
    silent = await served.connect()
    drip = await served.connect()
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def dripping() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in HEAD[:-2]:
                drip.writer.write(bytes([byte]))
                await asyncio.sleep(0.02)  # a byte every 20 ms: never a whole head in 0.3 s

    task = asyncio.ensure_future(dripping())
    assert await silent.closed_within(2) == b""
    assert await drip.closed_within(2) == b""
    assert 0.25 < loop.time() - started < 1.5
    task.cancel()
    assert served.stats.rejected["header_timeout"] == 2
    await wait_for(lambda: served.stats.connections == 0)
    # The control: a client that sends its head is answered.
    conn = await served.connect()
    assert (await conn.request()).startswith(b"HTTP/1.1 200")
    conn.close()


async def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(serve: Start) -> None:
    # Idle gaps of 0.2 s within a 1 s timeout: kept even on a loaded machine.
    served = await serve(Limits(header_timeout=5, idle_timeout=1.0))
    conn = await served.connect()
    loop = asyncio.get_running_loop()
    for number in range(3):  # requests within the idle timeout keep it
        assert (await conn.request()).startswith(b"HTTP/1.1 200")
        answered = loop.time()
        if number < 2:
            await asyncio.sleep(0.2)
    assert await conn.closed_within(5) == b""
    assert 0.5 < loop.time() - answered < 3.0  # ~1 s after the last answer
    assert served.stats.rejected["header_timeout"] == 0  # idle is not a refusal


async def test_at_the_cap_a_new_connection_takes_the_place_of_one_that_asks_nothing(
    serve: Start,
) -> None:
    served = await serve(Limits(max_connections=5, header_timeout=30))
    idle = await served.connect()
    await idle.request()
    holders = [await served.connect() for _ in range(4)]  # sent nothing yet
    await wait_for(lambda: served.stats.connections == 5)
    # Scrapers keep arriving (and keep their connections, as Prometheus does): each gets in.
    scrapers = []
    for number in range(6):
        scraper = await served.connect()
        assert (await scraper.request()).startswith(b"HTTP/1.1 200")
        scrapers.append(scraper)
        if number == 3:  # the four silent ones gave way first, oldest first
            for holder in holders:
                assert await holder.closed_within(2) == b""
            assert not idle.reader.at_eof()
    # Then the connections idle longest: the first kept-alive one, then the first scraper's.
    assert await idle.closed_within(2) == b""
    assert await scrapers[0].closed_within(2) == b""
    assert served.stats.rejected["connection_limit"] == 6
    assert served.stats.connections == 5
    assert (await scrapers[-1].request()).startswith(b"HTTP/1.1 200")
    for scraper in scrapers:
        scraper.close()


async def test_when_every_connection_is_in_a_request_a_new_one_is_refused_in_one_line(
    serve: Start,
) -> None:
    served = await serve(Limits(max_connections=3, header_timeout=30))
    busy = [await served.connect() for _ in range(3)]
    for conn in busy:
        conn.writer.write(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
    await wait_for(lambda: len(served.blocked) == 3)
    refused = await served.connect()
    answer = await refused.closed_within(2)
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Retry-After: 1" in answer
    assert answer.endswith(b"too many connections to ccgw-exporter; try again\n")
    assert served.stats.rejected["connection_limit"] == 1
    served.release.set()
    for conn in busy:  # the requests in progress were not disturbed
        head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        conn.close()


async def test_an_oversized_head_closes_the_connection(serve: Start) -> None:
    served = await serve(Limits(header_timeout=30))
    conn = await served.connect()
    conn.writer.write(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 4000 + b"\r\n")
    for _ in range(10):
        conn.writer.write(b"X-More: " + b"b" * 4000 + b"\r\n")
    with contextlib.suppress(ConnectionError):
        await conn.closed_within(2)
    await wait_for(lambda: served.stats.connections == 0)


async def test_a_client_that_stops_reading_is_cut_after_the_idle_timeout(serve: Start) -> None:
    served = await serve(Limits(header_timeout=5, idle_timeout=0.5))
    conn = await served.connect()
    transport = conn.writer.transport
    assert isinstance(transport, asyncio.Transport)
    transport.pause_reading()  # and the kernel's buffers fill up
    conn.writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    await wait_for(lambda: served.stats.connections == 0, timeout=5)
    conn.close()


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for 127.0.0.1."""
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="on Python 3.10 asyncio runs the handshake (bounded by the header timeout) and a "
    "connection is counted from its end (httpserver.HardenedSite.start says why)",
)
async def test_https_connections_count_and_time_out_from_accept(serve: Start, tls: Any) -> None:
    """A client that opens TCP and never says hello holds a descriptor: it is counted, timed
    and pushed out like any other."""
    server_context, client_context = tls
    served = await serve(Limits(max_connections=3, header_timeout=0.5), server_context)
    silent = [await served.connect() for _ in range(3)]
    await wait_for(lambda: served.stats.connections == 3)
    scraper = await served.connect(tls=client_context)
    assert (await scraper.request()).startswith(b"HTTP/1.1 200")
    assert served.stats.rejected["connection_limit"] >= 1
    for conn in silent:
        assert await conn.closed_within(2) == b""
    assert served.stats.rejected["header_timeout"] >= 1
    scraper.close()
    await wait_for(lambda: served.stats.connections == 0)


async def test_an_https_request_after_a_handshake_is_served(serve: Start, tls: Any) -> None:
    server_context, client_context = tls
    served = await serve(Limits(header_timeout=2, idle_timeout=0.5), server_context)
    conn = await served.connect(tls=client_context)
    for _ in range(3):
        assert (await conn.request()).startswith(b"HTTP/1.1 200")
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await conn.closed_within(2)  # idle timeout
    await wait_for(lambda: served.stats.connections == 0)


def test_accept_errors_are_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    passed: list[dict[str, Any]] = []
    handler = AcceptErrorLog(10.0, clock=lambda: now[0], previous=lambda _, c: passed.append(c))
    loop = asyncio.new_event_loop()
    caplog.set_level(logging.INFO)
    context = {"message": AcceptErrorLog.MESSAGE, "exception": OSError(24, "Too many open files")}
    try:
        for _ in range(5000):  # what a full listen queue makes asyncio report in a second
            handler(loop, context)
            now[0] += 0.001
        now[0] += 10
        handler(loop, context)
        handler(loop, {"message": "something else"})
    finally:
        loop.close()
    lines = [r for r in caplog.records if r.name == "exporter.httpserver"]
    assert len(lines) == 2
    assert lines[0].kv["error"] == "Too many open files"  # type: ignore[attr-defined]
    assert lines[1].kv["failures"] == 5000  # type: ignore[attr-defined]
    assert all(r.exc_info is None for r in lines)  # no traceback
    assert passed == [{"message": "something else"}]


def test_the_cap_leaves_room_under_the_open_files_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 4096))
    cap, warning = connection_budget(512, reserve=80)
    assert cap == 256 - 80 - httpserver.ACCEPT_BATCH
    assert f"lowered from 512 to {cap}" in warning
    assert "LimitNOFILE" in warning
    assert connection_budget(100, reserve=80) == (100, "")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (64, 64))
    assert connection_budget(512, reserve=80)[0] == httpserver.MIN_CONNECTIONS
