"""The exporter's own listener: a bounded number of connections, each on a clock.

aiohttp's server takes every connection the kernel hands it and keeps it for as long as the
client likes: an idle or drip-feeding connection lived for an hour (its keep-alive default),
and about a thousand of them used up the process's file descriptors, after which every
``accept()`` failed and asyncio logged a traceback for each failure (issue 12, item 10). This
module sits between the socket and aiohttp's protocol (``web.Server``, unchanged) and adds what
Go's ``http.Server`` and Prometheus's ``--web.max-connections`` give an exporter written in Go:

- **A header timeout**: a new connection, or a kept-alive one whose client has started its
  next request, has ``header_timeout`` to deliver a whole request head (for HTTPS the TLS
  handshake is part of it). Dripping a byte at a time does not extend it.
- **An idle timeout** for kept-alive connections between requests, and the same bound on a
  client that stops reading an answer (a stalled write).
- **A connection cap.** At the cap a new connection takes the place of the connection that
  has been waiting longest for a request head, then of the longest idle one; only when every
  connection is in the middle of a request is the new one refused (plain HTTP: a one-line
  ``503``; HTTPS: closed). So connections that hold a slot without asking anything cannot lock
  out a scraper that asks: a slowloris only ever pushes its own older connections out.
- **Throttled accept errors**: "socket.accept() out of system resource" is logged at most once
  per ``ACCEPT_ERROR_INTERVAL`` with a count, instead of once per failure with a traceback.

How it plugs into aiohttp: :class:`HardenedSite` replaces ``web.TCPSite``; each accepted
socket gets a :class:`_Connection`, which forwards to aiohttp's protocol and keeps the clocks.
For HTTPS it runs the handshake itself (``loop.start_tls``) so that a connection is counted and
timed from ``accept()``, not only once its handshake is done. Whether a request is in progress
is learned from :func:`track_requests`, the outermost middleware, which also writes the answer
so that "in a request" lasts until the answer is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from .logs import kv

__all__ = [
    "ACCEPT_ERROR_INTERVAL",
    "DEFAULT_LIMITS",
    "REJECT_REASONS",
    "AcceptErrorLog",
    "HTTPStats",
    "HardenedSite",
    "Limits",
    "connection_budget",
    "track_requests",
]

log = logging.getLogger(__name__)

RejectReason = Literal["connection_limit", "header_timeout", "auth_busy", "unauthorized"]
REJECT_REASONS: tuple[RejectReason, ...] = (
    "connection_limit",
    "header_timeout",
    "auth_busy",
    "unauthorized",
)

#: A request head larger than this closes the connection: a scrape's head is a few hundred
#: bytes, a browser's with cookies a few KiB; nginx allows 32 KiB by default. It bounds what a
#: connection waiting for its head can make the process hold (cap x this).
MAX_HEAD_BYTES = 32 * 1024
#: The fewest connections the cap is lowered to when the open-files limit is small.
MIN_CONNECTIONS = 16
#: At most one "cannot accept" log line per this many seconds.
ACCEPT_ERROR_INTERVAL = 10.0
#: Connections asyncio accepts in one go (it uses the listen backlog for both). A connection
#: given up at the cap releases its descriptor only on the loop's next turn, so a burst of
#: accepts briefly holds cap + burst descriptors: a burst of 128 went past a 256 limit.
ACCEPT_BATCH = 16

_REFUSAL_TEXT = b"too many connections to ccgw-exporter; try again\n"
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n\r\n%s"
) % (len(_REFUSAL_TEXT), _REFUSAL_TEXT)


@dataclass(frozen=True, slots=True)
class Limits:
    """The listener's limits; the defaults and why are in README's flags table.

    ``max_connections`` 512 is Prometheus's own ``--web.max-connections`` default: far above
    what scrapers need (an HA pair and a few people: about ten), below the common 1024
    open-files limit. ``header_timeout`` 10 s: a real client sends its head in milliseconds.
    ``idle_timeout`` 75 s: above Prometheus's default one-minute scrape interval, so that a
    scraper's kept-alive connection (and its TLS session) survives from one scrape to the
    next; idle connections are the first given up at the cap anyway.
    """

    max_connections: int = 512
    header_timeout: float = 10.0
    idle_timeout: float = 75.0


DEFAULT_LIMITS = Limits()


@dataclass
class HTTPStats:
    """What ``ccgw_exporter_http_connections`` and ``ccgw_exporter_http_rejected_total``
    show; the listener and the web config's auth write here."""

    connections: int = 0
    rejected: dict[RejectReason, int] = field(
        default_factory=lambda: dict.fromkeys(REJECT_REASONS, 0)
    )

    def reject(self, reason: RejectReason) -> None:
        self.rejected[reason] += 1


def connection_budget(requested: int, reserve: int) -> tuple[int, str]:
    """The connection cap the open-files limit allows: ``requested``, or less when the soft
    ``RLIMIT_NOFILE`` minus ``reserve`` (descriptors for the gateways, logs, the interpreter)
    is smaller. Returns the cap and, when it was lowered, a warning saying why. Past the limit
    ``accept()`` fails, and then nobody gets in, the scraper included; under the cap the
    listener still chooses whom to keep."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return requested, ""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    reserve += ACCEPT_BATCH
    if soft == resource.RLIM_INFINITY or soft - reserve >= requested:
        return requested, ""
    cap = max(MIN_CONNECTIONS, soft - reserve)
    return cap, (
        f"--web.max-connections lowered from {requested} to {cap}: the open-files limit is "
        f"{soft} and {reserve} are kept for gateway connections and the process; raise the "
        "limit (ulimit -n, systemd LimitNOFILE=) to allow more"
    )


State = Literal["head", "busy", "idle"]


class _Connection(asyncio.Protocol):
    """One accepted socket: forwards to aiohttp's protocol (``inner``) and keeps the clocks.

    States: ``head`` (waiting for a request head; from accept, or from the first byte after
    ``idle``), ``busy`` (a request is being handled or answered), ``idle`` (kept alive between
    requests). The listener indexes connections by state to choose whom to give up at the cap.
    """

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self._loop = listener.loop
        self.transport: asyncio.Transport | None = None  # the socket's
        self._inner: asyncio.Protocol | None = None
        self._early: bytearray | None = None  # HTTPS: bytes before aiohttp was connected
        self._early_eof = False
        self.state: State = "head"
        self._head_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._handshake: asyncio.Task[None] | None = None
        self.closed = False

    # The socket's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        listener = self._listener
        context = listener.ssl_context
        if context is not None:
            # Before the first read: the TLS layer must see the ClientHello, not this object.
            transport.pause_reading()
        if not listener.admit(self):
            return
        self._enter("head")
        if context is None:
            self._connect_inner(transport)
        else:
            self._early = bytearray()
            self._handshake = self._loop.create_task(self._start_tls(transport, context))

    async def _start_tls(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        limits = self._listener.limits
        try:
            tls = await self._loop.start_tls(
                transport,
                self,
                context,
                server_side=True,
                # A backstop: the header timer (same length) closes the socket first.
                ssl_handshake_timeout=limits.header_timeout + 1.0,
            )
        except (OSError, asyncio.TimeoutError, asyncio.CancelledError):
            # A failed, cut or timed-out handshake: the client learns from its TLS library.
            self._release()
            transport.abort()
            return
        finally:
            self._handshake = None
        if self.closed or tls is None:
            if tls is not None:
                tls.abort()
            return
        self._connect_inner(tls)

    def _connect_inner(self, transport: asyncio.Transport) -> None:
        inner = self._listener.protocol_factory()
        self._inner = inner
        inner.connection_made(transport)
        early, self._early = self._early, None
        if early:
            inner.data_received(bytes(early))
        if self._early_eof:
            inner.eof_received()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.state == "idle":
            self._enter("head")
        if self.state == "head":
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.abort()
                return
        if self._inner is None:
            if self._early is not None:
                self._early += data
            return
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is None:
            self._early_eof = True
            return None
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        # The client is not reading what we write: it gets the idle timeout to start again.
        if self._stall is None:
            self._stall = self._loop.call_later(self._listener.limits.idle_timeout, self.abort)
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.connection_lost(exc)

    # The request's side (track_requests) ------------------------------------------------

    def request_started(self) -> None:
        if not self.closed:
            self._enter("busy")

    def request_done(self) -> None:
        if not self.closed and self.state == "busy":
            self._enter("idle")

    # Clocks and closing ------------------------------------------------------------------

    def _enter(self, state: State) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.state = state
        limits = self._listener.limits
        if state == "head":
            self._head_bytes = 0
            self._timer = self._loop.call_later(limits.header_timeout, self._head_expired)
        elif state == "idle":
            self._timer = self._loop.call_later(limits.idle_timeout, self.close)
        self._listener.moved(self)

    def _head_expired(self) -> None:
        self._timer = None
        if not self.closed and self.state == "head":
            self._listener.stats.reject("header_timeout")
            self.abort()

    def close(self) -> None:
        """Close politely (an idle connection: nothing is lost)."""
        self._timer = None
        if self.transport is not None:
            self.transport.close()
        self._release()

    def abort(self) -> None:
        """Drop at once: buffers are discarded and the descriptor is freed now."""
        self._stall = None
        if self.transport is not None:
            self.transport.abort()
        self._release()

    def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        for handle in (self._timer, self._stall):
            if handle is not None:
                handle.cancel()
        self._timer = self._stall = None
        self._early = None
        if self._handshake is not None:
            self._handshake.cancel()
        self._listener.forget(self)


class _Listener:
    """The connections of one listening socket, indexed for the choice at the cap."""

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        limits: Limits,
        stats: HTTPStats,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.protocol_factory = protocol_factory
        self.limits = limits
        self.stats = stats
        self.ssl_context = ssl_context
        self._all: set[_Connection] = set()
        # Insertion-ordered: the first entry has waited longest in that state.
        self._waiting: dict[_Connection, None] = {}
        self._idle: dict[_Connection, None] = {}

    def __call__(self) -> _Connection:
        return _Connection(self)

    def admit(self, conn: _Connection) -> bool:
        if len(self._all) >= self.limits.max_connections:
            victim = next(iter(self._waiting), None) or next(iter(self._idle), None)
            self.stats.reject("connection_limit")
            if victim is None:
                transport = conn.transport
                conn.closed = True
                if transport is not None:
                    if self.ssl_context is None:
                        transport.write(_REFUSAL)
                        transport.close()
                    else:
                        transport.abort()
                return False
            victim.abort()
        self._all.add(conn)
        self.stats.connections = len(self._all)
        return True

    def moved(self, conn: _Connection) -> None:
        self._waiting.pop(conn, None)
        self._idle.pop(conn, None)
        if conn.state == "head":
            self._waiting[conn] = None
        elif conn.state == "idle":
            self._idle[conn] = None

    def forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        self._waiting.pop(conn, None)
        self._idle.pop(conn, None)
        self.stats.connections = len(self._all)

    def abort_all(self) -> None:
        for conn in list(self._all):
            conn.abort()


class HardenedSite(web.BaseSite):
    """``web.TCPSite`` with :class:`Limits`: serves the runner's aiohttp server through
    :class:`_Connection`. Bind errors (a port in use) raise ``OSError`` from :meth:`start`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: Limits = DEFAULT_LIMITS,
        stats: HTTPStats | None = None,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self.limits = limits
        self.stats = stats if stats is not None else HTTPStats()
        self._listener: _Listener | None = None

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        handlers = self._runner.server
        assert handlers is not None
        # Python 3.10's transports add their reader after connection_made, so a ClientHello
        # can reach _Connection before loop.start_tls takes the transport over (the handshake
        # then never completes). There asyncio runs the handshake, bounded by the header
        # timeout, and a connection is counted and timed from its end.
        own_handshake = sys.version_info >= (3, 11)
        context = self._ssl_context if own_handshake else None
        self._listener = _Listener(handlers, self.limits, self.stats, context)
        # No ssl= here (3.11+): _Connection runs the handshake, so that it is counted and timed.
        server = await self._listener.loop.create_server(
            self._listener,
            self._host,
            self._port,
            backlog=ACCEPT_BATCH,
            reuse_address=True,
            ssl=None if own_handshake else self._ssl_context,
            ssl_handshake_timeout=None
            if own_handshake or not self._ssl_context
            else self.limits.header_timeout,
        )
        self._server = server
        # The kernel's queue keeps the full backlog (a burst waits there, rather than being
        # refused); only asyncio's batch is small.
        for listening in server.sockets:
            raw = socket.socket(fileno=listening.fileno())
            try:
                raw.listen(self._backlog)
            finally:
                raw.detach()

    def abort_connections(self) -> None:
        """Drop what the runner's cleanup did not close (handshakes in progress)."""
        if self._listener is not None:
            self._listener.abort_all()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def track_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection a request is in progress, and answer here rather than after the
    middlewares, so that the connection counts as busy until the answer is sent (a slow
    reader is bounded by the stalled-write clock, not by being taken for idle). Without a
    :class:`HardenedSite` (tests on aiohttp's own server) it only writes the answer."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    conn = protocol if isinstance(protocol, _Connection) else None
    if conn is not None:
        conn.request_started()
    try:
        response = await handler(request)
        if not response.prepared:
            with contextlib.suppress(ConnectionError):
                # A client gone mid-answer: aiohttp's own write of the rest then fails quietly.
                await response.prepare(request)
                await response.write_eof()
        return response
    finally:
        if conn is not None:
            conn.request_done()


class AcceptErrorLog:
    """A loop exception handler that turns asyncio's per-failure "socket.accept() out of
    system resource" tracebacks into one line per ``interval`` with a count; every other
    context goes to the handler that was there before (or asyncio's default)."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(
        self,
        interval: float = ACCEPT_ERROR_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._previous = previous
        self._last = -float("inf")
        self.suppressed = 0
        self.total = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != self.MESSAGE:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.total += 1
        now = self._clock()
        if now - self._last < self.interval:
            self.suppressed += 1
            return
        error = context.get("exception")
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        log.error(
            "cannot accept connections: out of file descriptors or memory; new connections "
            "wait in the kernel's queue (raise the open-files limit or lower "
            "--web.max-connections)",
            extra=kv(error=reason, failures=self.suppressed + 1, per=f"{self.interval:g}s"),
        )
        self._last = now
        self.suppressed = 0

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """Install on ``loop``; returns the function that puts the previous handler back."""
        previous = loop.get_exception_handler()
        loop.set_exception_handler(cls(previous=previous))
        return lambda: loop.set_exception_handler(previous)
