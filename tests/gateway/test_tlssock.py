"""HTTPS through the lean exchange (exporter/gateway/wire.py) and its TLS transport
(exporter/gateway/tlssock.py).

The raw answers of tests/test_wire.py again, now over TLS and ended each way a TLS server can
end a connection: close_notify, the TCP close without it, a reset, bytes that are no TLS
record, or never. aiohttp's client (asyncio's TLS layer) is the oracle, as in test_wire.py:
the same answer must end the same way through both (these tests passed on asyncio's TLS
before the transport replaced it). Then what TLS adds: certificate and handshake failures, a
connect or handshake that never ends (timeout and cancellation, with every socket closed),
answers of many TLS records, and sessions resumed by the pool's new connections. Last the
transport itself: what a protocol is told, reads drained past what the socket signals, a
write larger than the socket buffers, abort and close, and the two waits Python's ssl cannot
provoke (a read that must write, a write that must read), made by the test.

The server is a thread per connection on blocking `ssl` sockets, so that a test controls each
byte and how the connection ends, and can see when the client closed its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import os
import socket
import ssl
import struct
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import trustme

from exporter.gateway import tlssock
from exporter.gateway.boundary import TooLarge
from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.tls import ResumingSSLContext, TLSSettings, build_ssl_context
from exporter.gateway.tlssock import TLSTransport
from exporter.gateway.wire import WirePool

from ..conftest import INSPECTOR, deadline, wait_for
from ..support import await_until
from ..test_wire import BODY, OK, Outcome, ask, chunked, ok

# -- a TLS server whose every byte and ending a test chooses -------------------------------------


@dataclass(frozen=True)
class Certs:
    ca_file: str
    server: ssl.SSLContext

    def client(self) -> ResumingSSLContext:
        context = build_ssl_context(TLSSettings(ca_file=self.ca_file))
        assert isinstance(context, ResumingSSLContext)
        return context


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "::1", "localhost").configure_cert(server)
    return Certs(str(ca_file), server)


@dataclass
class Server:
    url: str
    stop: threading.Event
    connections: int = 0
    hellos: int = 0  # connections whose first bytes (the ClientHello) arrived
    requests: list[bytes] = field(default_factory=list)
    received: list[int] = field(default_factory=list)  # bytes read by `sink`
    client_closed: int = 0  # connections the client closed (EOF or reset seen)
    handlers: list[threading.Thread] = field(default_factory=list)


Handler = Callable[[socket.socket, Server], None]


class Reader:
    """Requests off a blocking socket, head and Content-Length body."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def request(self) -> bytes | None:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if not self._more():
                return None
        length = 0
        for line in self.buffer[:end].split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        size = end + 4 + length
        while len(self.buffer) < size:
            if not self._more():
                return None
        request = bytes(self.buffer[:size])
        del self.buffer[:size]
        return request

    def _more(self) -> bool:
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            return False
        self.buffer += data
        return bool(data)


def wait_closed(sock: socket.socket, server: Server) -> None:
    """Read and drop until the client closes its end (or the test ends)."""
    sock.settimeout(0.05)
    while not server.stop.is_set():
        try:
            if not sock.recv(65536):
                break
        except TimeoutError:
            continue
        except OSError:  # a reset, or the TLS layer's error for a cut connection
            break
    else:
        return
    server.client_closed += 1


def close_notify(sock: socket.socket) -> None:
    """Send close_notify without waiting for the client's (it may never send one)."""
    assert isinstance(sock, ssl.SSLSocket)
    sock.setblocking(False)
    with contextlib.suppress(ssl.SSLError, OSError):
        sock.unwrap()


RESET = struct.pack("ii", 1, 0)  # linger on, for 0 s: the close sends a reset


def answer(data: bytes, then: str = "keep") -> Handler:
    """Each request gets `data`; then the connection is kept, ended with close_notify, closed
    without it ("ragged": the socket closed under the TLS layer), reset, or held open."""

    def handle(sock: socket.socket, server: Server) -> None:
        reader = Reader(sock)
        while (request := reader.request()) is not None:
            server.requests.append(request)
            sock.sendall(data)
            if then == "close_notify":
                close_notify(sock)
                wait_closed(sock, server)
                return
            if then == "ragged":
                return
            if then == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
                return
            if then == "garbage":  # bytes that are no TLS record, under the TLS layer
                socket.socket.sendall(sock, b"HTTP/1.1 200 OK\r\n\r\n")
            if then in ("hang", "garbage"):
                wait_closed(sock, server)
                return
        server.client_closed += 1

    return handle


@contextlib.asynccontextmanager
async def tls_server(
    certs: Certs,
    handler: Handler,
    *,
    handshake: bool = True,
    host: str = "127.0.0.1",
    context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    """`handler` runs in a thread for each connection, on the TLS socket (or on the TCP one
    when `handshake` is False), which is closed without close_notify when it returns."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, 0), family=family)
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    name = f"[{host}]" if ":" in host else host
    server = Server(f"https://{name}:{port}", threading.Event())
    tls = context or certs.server

    def run(conn: socket.socket) -> None:
        sock: socket.socket = conn
        try:
            conn.settimeout(5.0)
            first = conn.recv(1, socket.MSG_PEEK)
            server.hellos += bool(first)
            if handshake:
                sock = tls.wrap_socket(conn, server_side=True)
            handler(sock, server)
        except OSError:  # the client gave up (a failed handshake, a timeout): its business
            pass
        finally:
            sock.close()
            conn.close()

    def accept() -> None:
        while not server.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections += 1
            thread = threading.Thread(target=run, args=(conn,), daemon=True)
            server.handlers.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.stop.set()
        # The event loop runs meanwhile: a client socket asyncio closes in a callback must
        # close for the handler reading from it to end.
        threads = [acceptor, *server.handlers]
        try:
            await await_until(lambda: not any(t.is_alive() for t in threads), 10.0, "handlers")
        finally:
            listener.close()


def never_answer_the_hello(sock: socket.socket, server: Server) -> None:
    wait_closed(sock, server)


def close_after_the_hello(sock: socket.socket, server: Server) -> None:
    sock.recv(65536)


def plain_http_answer(sock: socket.socket, server: Server) -> None:
    sock.recv(65536)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def no_unclosed_resources() -> Iterator[None]:
    """No socket or transport is left for the garbage collector to close: the fd count alone
    would not see one that refcounting closed as it was dropped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def pool_for(url: str, context: ssl.SSLContext | bool, size: int = 4) -> WirePool:
    jar = aiohttp.CookieJar(unsafe=True)
    return WirePool(url, context, size=size, cookie_jar=jar, user_agent="t", limit=16 << 20)


async def post(
    pool: WirePool, url: str, data: bytes = b"{}", timeout: float = 2.0
) -> tuple[int, bytes]:
    async with pool.request(
        "POST", url + "/x", data=data, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as response:
        body = b""
        while piece := await response.content.readany():
            body += piece
        return response.status, body


async def both(
    certs: Certs, handler: Handler, *, handshake: bool = True, **settings: object
) -> tuple[Outcome, Outcome]:
    """The outcome of one batch through aiohttp and through the wire, each against a server
    running `handler`."""
    results = []
    for wire in (False, True):
        async with tls_server(certs, handler, handshake=handshake) as server:
            results.append(await ask(server.url, wire, 1.0, ssl=certs.client(), **settings))
    return results[0], results[1]


# -- answers end as they end through aiohttp ----------------------------------------------------

BIG = json.dumps({"message": "m" * 300_000, "retcode": "0", "result": {"confs": [json.loads(
    BODY)["result"]["confs"][0]]}}).encode()  # fmt: skip
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + BODY
SHORT_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + BODY[:100]
SHORT_HEAD = b"HTTP/1.1 200 OK\r\nContent-Len"
FAILED_CONNECT = ("failed", "connect")
FAILED_TLS = ("failed", "tls")

ENDINGS = [
    pytest.param(ok(), "keep", OK, id="content-length"),
    pytest.param(chunked(), "keep", OK, id="chunked"),
    pytest.param(ok(BIG), "keep", OK, id="many-records"),
    pytest.param(chunked(BIG, sizes=(70_000, 3, 100_000)), "keep", OK, id="many-records-chunked"),
    pytest.param(ok(gzip.compress(BIG), b"Content-Encoding: gzip\r\n"), "keep", OK, id="gzip"),
    pytest.param(ok(extra=b"Connection: close\r\n"), "close_notify", OK, id="connection-close"),
    pytest.param(UNTIL_CLOSE, "close_notify", OK, id="until-close_notify"),
    pytest.param(UNTIL_CLOSE, "ragged", OK, id="until-ragged-eof"),
    pytest.param(SHORT_BODY, "close_notify", FAILED_CONNECT, id="short-body-close_notify"),
    pytest.param(SHORT_BODY, "ragged", FAILED_CONNECT, id="short-body-ragged-eof"),
    pytest.param(SHORT_BODY, "reset", FAILED_CONNECT, id="short-body-reset"),
    pytest.param(SHORT_HEAD, "close_notify", FAILED_CONNECT, id="short-head-close_notify"),
    pytest.param(SHORT_HEAD, "ragged", FAILED_CONNECT, id="short-head-ragged-eof"),
    pytest.param(b"", "close_notify", FAILED_CONNECT, id="nothing-close_notify"),
    pytest.param(b"", "ragged", FAILED_CONNECT, id="nothing-ragged-eof"),
    pytest.param(b"", "reset", FAILED_CONNECT, id="nothing-reset"),
    # Bytes that are no TLS record: aiohttp reports the connection dropped; the wire (as it
    # did on asyncio's TLS layer too) fails with the TLS layer's error.
    pytest.param(b"", "garbage", (FAILED_CONNECT, FAILED_TLS), id="not-a-tls-record"),
    pytest.param(SHORT_BODY, "garbage", (FAILED_CONNECT, FAILED_TLS), id="cut-by-not-a-record"),
    pytest.param(SHORT_BODY, "hang", ("failed", "timeout"), id="short-body-hang"),
    pytest.param(b"", "hang", ("failed", "timeout"), id="no-answer"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "then", "expected"), ENDINGS)
async def test_answers_over_tls_end_as_they_end_through_aiohttp(
    certs: Certs, data: bytes, then: str, expected: Outcome | tuple[Outcome, Outcome]
) -> None:
    """`expected`: the one outcome of both, or aiohttp's and the wire's where they differ."""
    through_aiohttp, through_wire = await both(certs, answer(data, then))
    if expected[0] in ("ok", "failed"):
        expected = (expected, expected)
    assert (through_aiohttp, through_wire) == expected


HANDSHAKES = [
    pytest.param(close_after_the_hello, False, FAILED_CONNECT, id="closed-in-handshake"),
    pytest.param(plain_http_answer, False, ("failed", "tls"), id="plain-http-answer"),
    pytest.param(never_answer_the_hello, False, ("failed", "timeout"), id="handshake-hangs"),
]


@pytest.mark.parametrize(("handler", "handshake", "expected"), HANDSHAKES)
async def test_handshake_failures_end_as_they_end_through_aiohttp(
    certs: Certs, handler: Handler, handshake: bool, expected: Outcome
) -> None:
    through_aiohttp, through_wire = await both(certs, handler, handshake=handshake)
    assert through_aiohttp == expected
    assert through_wire == expected


async def test_a_certificate_of_another_ca_is_a_tls_failure(certs: Certs, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    context = build_ssl_context(TLSSettings(ca_file=str(other)))
    async with tls_server(certs, answer(ok())) as server:
        assert await ask(server.url, True, 2.0, ssl=context) == ("failed", "tls")
        pool = pool_for(server.url, context)
        with no_unclosed_resources():
            try:
                with pytest.raises(ssl.SSLCertVerificationError):
                    await post(pool, server.url)
            finally:
                pool.close()
    assert server.requests == []


async def test_a_certificate_for_another_name_is_a_tls_failure(certs: Certs) -> None:
    async with tls_server(certs, answer(ok())) as server:
        outcome = await ask(
            server.url, True, 2.0, ssl=certs.client(), server_name="gateway.example"
        )
        assert outcome == ("failed", "tls")
        # ... and the name the certificate does carry verifies, though the URL has an IP.
        assert await ask(server.url, True, 2.0, ssl=certs.client(), server_name="localhost") == OK
    assert len(server.requests) == 1


async def test_a_refused_connection_is_a_connect_failure(certs: Certs) -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    assert await ask(url, False, 2.0, ssl=certs.client()) == FAILED_CONNECT
    with no_unclosed_resources():
        assert await ask(url, True, 2.0, ssl=certs.client()) == FAILED_CONNECT


async def test_ipv6_and_host_names_connect(certs: Certs) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            pass
    except OSError:
        pytest.skip("no IPv6 loopback")
    async with tls_server(certs, answer(ok()), host="::1") as server:
        assert await ask(server.url, True, 2.0, ssl=certs.client()) == OK
    # A host name: resolved, and each address it has tried in turn (a ::1 listed first is
    # refused here) until one takes the connection.
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 443)}
    if "127.0.0.1" not in addresses:
        pytest.skip("localhost is not 127.0.0.1 here")
    async with tls_server(certs, answer(ok())) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        assert await ask(url, True, 2.0, ssl=certs.client()) == OK


async def test_keep_alive_over_tls_reuses_one_connection(certs: Certs) -> None:
    async with tls_server(certs, answer(ok())) as server:
        pool = pool_for(server.url, certs.client())
        try:
            for _ in range(5):
                assert await post(pool, server.url) == (200, BODY)
            assert pool.idle_connections == 1
        finally:
            pool.close()
        await wait_for(lambda: server.client_closed == 1)
    assert (server.connections, len(server.requests)) == (1, 5)


async def test_a_large_request_is_sent_whole(certs: Certs) -> None:
    """A request far over the socket buffers: what the kernel does not take at once is sent
    as the server reads (the server starts reading late, so the first send cannot take it)."""
    data = os.urandom(12 << 20)

    def late_reader(sock: socket.socket, server: Server) -> None:
        server.stop.wait(0.3)
        request = Reader(sock).request()
        assert request is not None
        server.requests.append(request)
        sock.sendall(ok(b"%d" % len(request.partition(b"\r\n\r\n")[2])))
        wait_closed(sock, server)

    async with tls_server(certs, late_reader) as server:
        pool = pool_for(server.url, certs.client())
        try:
            assert await post(pool, server.url, data, timeout=10.0) == (200, b"%d" % len(data))
        finally:
            pool.close()
        await wait_for(lambda: server.client_closed == 1)
    assert server.requests[0].endswith(data)


# -- sockets are closed on every path ------------------------------------------------------------


async def test_a_handshake_that_never_ends_times_out_and_closes_its_socket(certs: Certs) -> None:
    async with tls_server(certs, never_answer_the_hello, handshake=False) as server:
        pool = pool_for(server.url, certs.client())
        before = open_fds()
        with no_unclosed_resources():
            try:
                for _ in range(5):
                    with pytest.raises(asyncio.TimeoutError):
                        await post(pool, server.url, timeout=0.2)
            finally:
                pool.close()
            # Each connection got as far as the ClientHello, and the client closed each one.
            await wait_for(lambda: server.client_closed == 5)
            await wait_for(lambda: open_fds() == before)
    assert server.hellos == server.connections == 5


async def test_cancelled_in_the_handshake_the_socket_is_closed(certs: Certs) -> None:
    async with tls_server(certs, never_answer_the_hello, handshake=False) as server:
        pool = pool_for(server.url, certs.client())
        before = open_fds()
        with no_unclosed_resources():
            try:
                for n in range(1, 4):
                    task = asyncio.create_task(post(pool, server.url, timeout=30.0))
                    await wait_for(lambda n=n: server.hellos == n)  # type: ignore[misc]
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
            finally:
                pool.close()
            await wait_for(lambda: server.client_closed == 3)
            await wait_for(lambda: open_fds() == before)


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose TCP connects hang: its listener's accept queue (backlog 0) is full and
    nothing accepts, so the kernel drops further SYNs and the connect waits for its retries."""
    with socket.socket() as listener, contextlib.ExitStack() as held:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                filler.close()
                break
            held.enter_context(filler)
        else:
            pytest.skip("the accept queue never filled")
        yield port


async def test_timed_out_or_cancelled_in_the_tcp_connect_the_socket_is_closed(
    certs: Certs,
) -> None:
    with unanswered_port() as port:
        url = f"https://127.0.0.1:{port}"
        assert await ask(url, True, 0.3, ssl=certs.client()) == ("failed", "timeout")
        pool = pool_for(url, certs.client())
        before = open_fds()
        with no_unclosed_resources():
            try:
                with pytest.raises(asyncio.TimeoutError):
                    await post(pool, url, timeout=0.2)
                task = asyncio.create_task(post(pool, url, timeout=30.0))
                await asyncio.sleep(0.2)
                assert open_fds() == before + 1  # the connecting socket
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert open_fds() == before
            finally:
                pool.close()


CLOSING: list[tuple[Handler, bool, type[BaseException] | None]] = [
    (plain_http_answer, False, ssl.SSLError),
    (close_after_the_hello, False, ConnectionResetError),
    (answer(SHORT_BODY, "ragged"), True, ConnectionResetError),
    (answer(SHORT_BODY, "hang"), True, asyncio.TimeoutError),
    (answer(ok(b"x" * 70_000)), True, TooLarge),  # over the pool's cap below
    (answer(ok(b"x" * 70_000)[:-1000], "hang"), True, TooLarge),  # ... found on the wire
    (answer(ok()), True, None),  # kept idle, closed by pool.close()
]


async def test_failed_and_closed_connections_leave_no_socket_open(certs: Certs) -> None:
    """Handshake failures, answers cut short, a timeout in the body, answers over the cap, idle
    connections dropped by the pool's close: every client socket is closed in the end."""
    pool_context = certs.client()
    before = open_fds()
    with no_unclosed_resources():
        for handler, handshake, error in CLOSING:
            async with tls_server(certs, handler, handshake=handshake) as server:
                pool = WirePool(server.url, pool_context, size=2, cookie_jar=aiohttp.CookieJar(),
                                user_agent="t", limit=65536)  # fmt: skip
                try:
                    for _ in range(2):
                        if error is None:
                            assert (await post(pool, server.url, timeout=0.3))[0] == 200
                        else:
                            with pytest.raises(error):
                                await post(pool, server.url, timeout=0.3)
                finally:
                    pool.close()
        await wait_for(lambda: open_fds() == before)


# -- sessions are resumed on the pool's new connections ------------------------------------------


@pytest.mark.parametrize("tls_version", ["TLSv1_3", "TLSv1_2"])
async def test_the_pools_new_connections_resume_sessions(make_sim, tls_version: str) -> None:
    """The sign-in's session (aiohttp's connection) is forgotten, so that every resumption
    below is of a session a connection of the wire pool handed back."""
    sim = await make_sim(https=True)
    context = build_ssl_context(TLSSettings(ca_file=sim.ca_file or ""))
    assert isinstance(context, ResumingSSLContext)
    context.maximum_version = ssl.TLSVersion[tls_version]
    c = GatewayClient(
        ClientSettings(base_url=sim.url, agent_id=INSPECTOR[0], ssl=context, wire=True)
    )
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        context._unused.clear()
        context._newest.clear()
        for _ in range(4):
            await c.close()  # drops the pool's connections, as its idle timeout does
            result = await c.query_conf_batch([1], deadline())
            assert not result.failed
    finally:
        await c.close()
    assert sim.stats.tls_connections == {"full": 2, "resumed": 3}
    assert context.offered == 3


async def test_a_plain_context_connects_without_resumption(make_sim) -> None:
    sim = await make_sim(https=True)
    context = ssl.create_default_context(cafile=sim.ca_file)
    c = GatewayClient(
        ClientSettings(base_url=sim.url, agent_id=INSPECTOR[0], ssl=context, wire=True)
    )
    try:
        await c.loginEx(INSPECTOR[1], "", deadline())
        for _ in range(3):
            await c.close()
            assert not (await c.query_conf_batch([1], deadline())).failed
    finally:
        await c.close()
    assert sim.stats.tls_connections == {"full": 4}


# -- the transport itself ------------------------------------------------------------------------


class Recorder(asyncio.BufferedProtocol):
    """What the transport hands a buffered protocol, in order; reads into `size` bytes."""

    def __init__(self, size: int = 65536) -> None:
        self.inbox = bytearray(size)
        self.data = bytearray()
        self.events: list[object] = []
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.inbox

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.inbox[:nbytes]

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", type(exc)))
        self.lost.set_result(exc)


async def connect(
    server: Server, context: ssl.SSLContext, size: int = 65536
) -> tuple[TLSTransport, Recorder]:
    port = int(server.url.rsplit(":", 1)[1])
    made = tlssock.create_connection(
        asyncio.get_running_loop(), lambda: Recorder(size), "127.0.0.1", port, context
    )
    return await asyncio.wait_for(made, 5.0)


def send_then(data: bytes, then: str) -> Handler:
    """Sends `data` at once (no request awaited), then ends as `answer` ends."""

    def handle(sock: socket.socket, server: Server) -> None:
        sock.sendall(data)
        if then == "close_notify":
            close_notify(sock)
        if then == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        if then == "garbage":  # bytes that are no TLS record, under the TLS layer
            socket.socket.sendall(sock, b"HTTP/1.1 200 OK\r\n\r\n")
        if then in ("hang", "garbage"):
            wait_closed(sock, server)

    return handle


async def test_the_pool_makes_its_https_connections_with_the_tls_transport(certs: Certs) -> None:
    async with tls_server(certs, answer(ok())) as server:
        pool = pool_for(server.url, certs.client())
        try:
            assert await post(pool, server.url) == (200, BODY)
            (conn,) = pool._idle
            assert isinstance(conn.transport, TLSTransport)
        finally:
            pool.close()


EOF_THEN_LOST = ["made", "eof", ("lost", type(None))]


@pytest.mark.parametrize(
    ("then", "endings"),
    [
        ("close_notify", [EOF_THEN_LOST]),
        ("ragged", [EOF_THEN_LOST]),  # the TCP close without close_notify
        # OpenSSL 3 reports a reset as an unexpected EOF, the ragged one's SSLEOFError
        # (asyncio's TLS sees the socket's ECONNRESET instead); either way an answer it cuts
        # fails as `connect` (ENDINGS above).
        ("reset", [EOF_THEN_LOST, ["made", ("lost", ConnectionResetError)]]),
        ("garbage", [["made", ("lost", ssl.SSLError)]]),
    ],
)
async def test_how_the_server_ends_is_what_the_protocol_is_told(
    certs: Certs, then: str, endings: list[list[object]]
) -> None:
    data = b"" if then == "reset" else os.urandom(40_000)
    async with tls_server(certs, send_then(data, then)) as server:
        transport, recorder = await connect(server, certs.client())
        await asyncio.wait_for(recorder.lost, 5.0)
        assert transport.is_closing()
    assert recorder.data == data
    events = [
        (e[0], ssl.SSLError) if isinstance(e, tuple) and issubclass(e[1], ssl.SSLError) else e
        for e in recorder.events
    ]
    assert events in endings


async def test_decrypted_bytes_are_read_on_without_the_socket_signalling(certs: Certs) -> None:
    """A protocol buffer of 1000 bytes: each 16 KiB record leaves most of it decrypted inside
    OpenSSL, which the socket (drained) never signals; and 4 MiB is more than one turn of
    reads. All of it arrives, in order, though the server then sends nothing more."""
    data = os.urandom(4 << 20)
    async with tls_server(certs, send_then(data, "hang")) as server:
        transport, recorder = await connect(server, certs.client(), size=1000)
        try:
            await wait_for(lambda: len(recorder.data) == len(data))
            assert recorder.data == data
            assert recorder.events == ["made"]
        finally:
            transport.abort()


async def test_a_write_the_socket_cannot_take_at_once_is_finished_as_it_drains(
    certs: Certs,
) -> None:
    data = os.urandom(16 << 20)
    go = threading.Event()

    def sink(sock: socket.socket, server: Server) -> None:
        go.wait(10)
        got = bytearray()
        while len(got) < len(data) and (piece := sock.recv(1 << 20)):
            got += piece
        server.requests.append(bytes(got))
        wait_closed(sock, server)

    async with tls_server(certs, sink) as server:
        transport, recorder = await connect(server, certs.client())
        transport.write(data)
        # OpenSSL writes all of it or reports it could not: the whole of it waits, and
        # goes out as the server reads.
        assert transport.get_write_buffer_size() == len(data)
        transport.write(b"and more")
        transport.close()  # once all of that is sent
        assert transport.is_closing()
        go.set()
        assert await asyncio.wait_for(recorder.lost, 10.0) is None
        await wait_for(lambda: server.client_closed == 1)
    assert transport.get_write_buffer_size() == 0
    assert server.requests == [data]  # what was asked: len(data) bytes
    assert recorder.events == ["made", ("lost", type(None))]


async def test_abort_closes_at_once_and_tells_the_protocol_once_soon_after(
    certs: Certs,
) -> None:
    async with tls_server(certs, send_then(b"", "hang")) as server:
        transport, recorder = await connect(server, certs.client())
        sock = transport.get_extra_info("socket")
        assert sock.fileno() >= 0
        transport.write(b"x" * 100)
        transport.abort()
        assert sock.fileno() == -1  # closed then and there
        assert transport.is_closing()
        assert recorder.events == ["made"]  # not from within abort(), as asyncio does
        transport.abort()
        transport.close()
        transport.write(b"dropped")
        assert await asyncio.wait_for(recorder.lost, 5.0) is None
        await asyncio.sleep(0.01)
        assert recorder.events == ["made", ("lost", type(None))]
        await wait_for(lambda: server.client_closed == 1)


async def test_a_session_openssl_refuses_is_dropped_and_the_connection_made(
    certs: Certs,
) -> None:
    """A session of another context: offered, refused at once, the connection made without."""
    async with tls_server(certs, send_then(b"", "hang")) as server:
        first, second = certs.client(), certs.client()
        transport, _ = await connect(server, first)
        await wait_for(lambda: bool(first._unused.get("127.0.0.1")))
        transport.abort()
        (session,) = first._unused["127.0.0.1"]
        second.keep("127.0.0.1", session)
        transport, _ = await connect(server, second)
        transport.abort()
    assert second.offered == 0
    assert second._newest.get("127.0.0.1") is not session


async def test_a_read_that_needs_to_write_is_done_once_the_socket_is_writable(
    certs: Certs,
) -> None:
    """OpenSSL's read wants the socket writable when the server renegotiates (TLS 1.2), having
    taken the server's bytes off the socket; Python's ssl cannot make a server ask for that, so
    the first read here does the same: takes the bytes, keeps them, reports SSLWantWriteError.
    The socket will not signal them again: the read is done again once it is writable."""
    data = os.urandom(3000)
    context = certs.client()
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # no tickets after the handshake
    async with tls_server(certs, send_then(data, "hang")) as server:
        transport, recorder = await connect(server, context)
        recv_into = transport._recv_into
        calls: list[str] = []
        kept = bytearray(65536)

        def wants_write_once(buffer: memoryview, nbytes: int) -> int:
            if not calls:
                size = recv_into(memoryview(kept), len(kept))  # taken off the socket
                del kept[size:]
                calls.append("wants write")
                raise ssl.SSLWantWriteError
            calls.append("read")
            if kept:
                buffer[: len(kept)] = kept
                size, kept[:] = len(kept), b""
                return size
            return recv_into(buffer, nbytes)

        transport._recv_into = wants_write_once
        try:
            await wait_for(lambda: len(recorder.data) == len(data))
            assert not transport._writing  # the writer callback is gone again
        finally:
            transport.abort()
    assert recorder.data == data
    assert calls[:2] == ["wants write", "read"]


async def test_a_write_that_needs_to_read_is_done_once_the_socket_is_readable(
    certs: Certs,
) -> None:
    """The other way round (SSLWantReadError from a write): the write is done again when the
    socket is readable, here when the server's first bytes arrive, before they are read."""
    go = threading.Event()

    def echo_after_go(sock: socket.socket, server: Server) -> None:
        go.wait(10)
        sock.sendall(b"hello")
        got = sock.recv(100)
        server.requests.append(got)
        wait_closed(sock, server)

    context = certs.client()
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 tickets would be read first
    async with tls_server(certs, echo_after_go) as server:
        transport, recorder = await connect(server, context)
        send = transport._send
        calls: list[str] = []

        def wants_read_once(data: bytes) -> int:
            if not calls:
                calls.append("wants read")
                raise ssl.SSLWantReadError
            calls.append("sent")
            return send(data)

        transport._send = wants_read_once
        try:
            transport.write(b"request")
            await asyncio.sleep(0.05)
            # Not tried again on a writable socket: it waits for a readable one.
            assert calls == ["wants read"]
            assert transport.get_write_buffer_size() == len(b"request")
            go.set()
            await wait_for(lambda: server.requests == [b"request"])
            await wait_for(lambda: recorder.data == b"hello")
        finally:
            transport.abort()
    assert calls == ["wants read", "sent"]
    assert transport.get_write_buffer_size() == 0


@pytest.mark.parametrize("fails", ["get_buffer", "buffer_updated", "empty buffer"])
async def test_a_protocol_that_raises_is_dropped_as_asyncio_drops_it(
    certs: Certs, fails: str
) -> None:
    class Failing(Recorder):
        def get_buffer(self, sizehint: int) -> bytearray:
            if fails == "get_buffer":
                raise ValueError("no buffer")
            return bytearray() if fails == "empty buffer" else self.inbox

        def buffer_updated(self, nbytes: int) -> None:
            raise ValueError("cannot take it")

    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        async with tls_server(certs, send_then(b"answer", "hang")) as server:
            port = int(server.url.rsplit(":", 1)[1])
            made = tlssock.create_connection(loop, Failing, "127.0.0.1", port, certs.client())
            transport, protocol = await asyncio.wait_for(made, 5.0)
            lost = await asyncio.wait_for(protocol.lost, 5.0)
            assert transport.get_extra_info("socket").fileno() == -1
    finally:
        loop.set_exception_handler(None)
    expected = RuntimeError if fails == "empty buffer" else ValueError
    assert isinstance(lost, expected)
    assert [(c["exception"], c["transport"]) for c in reported] == [(lost, transport)]
    assert protocol.events == ["made", ("lost", expected)]
