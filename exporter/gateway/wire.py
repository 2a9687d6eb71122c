"""A lean HTTP/1.1 exchange for the one call a scrape makes hundreds of times: queryconfinfos.

A collection of 10,000 conferences is 500 POSTs. Through aiohttp's client each cost the
exporter ~450 us of CPU at 16 in flight (request and response objects, header multidicts,
timers, a writer task, payload and stream machinery, and the garbage all of that leaves for
the collector), more than decoding and parsing the answer. Here the same exchange is one
`transport.write` of prebuilt bytes and one pass over the answer in a `Protocol` (issue 18,
docs/performance.md: about half the CPU per call).

It is a drop-in for `aiohttp.ClientSession.request` as `GatewayClient._exchange` uses it, so the
boundary's rules stay in one place (client.py, boundary.py): the same arguments, a response
with the same attributes (`status`, `headers`, `content_length`, `charset`,
`content.readany()`, `close()`), the same exceptions (`asyncio.TimeoutError`, `ssl.SSLError`,
`OSError`), and the same cookie jar (the balancer's sticky cookies are sent and kept as
before). What it does not do, it refuses rather than guesses:

- no redirects, proxies, `Expect` or upgrades;
- the response head is read as aiohttp's parser (llhttp) reads it, lenient and strict in the
  same places (bare-LF line ends and obs-fold pass; NUL, bare CR, a header name that is not a
  token, a second `Content-Length`, `Content-Length` beside `Transfer-Encoding`, more than
  128 fields or a line over 8190 bytes do not): a protocol error, counted as `connect` as
  aiohttp's parser errors are. tests/test_wire.py holds the two to the same outcome;
- a body over the call's limit is never buffered beyond it: `TooLarge`, connection dropped;
- bytes after a complete response, or on an idle connection: the connection is not reused.

Connections are kept alive (HTTP/1.1, no `Connection: close`) in a LIFO pool of at most
`size`, closed after `KEEPALIVE` seconds idle as aiohttp's connector does (gateways and
balancers drop idle connections; reusing one they are closing fails a batch). TLS runs on a
non-blocking `ssl.SSLSocket` (tlssock.py: asyncio's TLS layer cost 10-25 us of CPU a call),
with the gateway's own context, so `ResumingSSLContext` resumes sessions here too; plain HTTP
keeps asyncio's transport.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import ClientTimeout
from aiohttp.abc import AbstractCookieJar
from aiohttp.helpers import HeadersMixin
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import tlssock
from .boundary import TooLarge

KEEPALIVE: Final = 30.0
INBOX: Final = 64 * 1024  # per pool: what one read may decrypt into
MAX_HEAD: Final = 64 * 1024  # status line and headers together
MAX_LINE: Final = 8190  # one header line or chunk-size line (aiohttp's default line limit)
MAX_HEADERS: Final = 128  # aiohttp's default
_CRLF: Final = b"\r\n"
_HEAD_END_RE: Final = re.compile(rb"\r?\n\r?\n")
_STATUS_RE: Final = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN_RE: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CHUNK_RE: Final = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_DIGITS_TEXT_RE: Final = re.compile(r"[0-9]{1,18}")
_TOKEN: Final = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# A head of CRLF lines `name: value` without NUL or CR in a value, lines within MAX_LINE
# (8190: a name of at most 100 bytes and the colon leave 8089 for the value).
_SIMPLE_HEAD_RE: Final = re.compile(
    rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: [^\r\n]*)?"
    rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}:[^\r\n\x00]{0,8088})*"
)
_FIELD_RE: Final = re.compile(rb"\r\n(" + _TOKEN + rb"):[ \t]*([^\r\n]*)")


class ProtocolError(ConnectionError):
    """The peer's bytes are not an HTTP/1.1 response we accept (counted as `connect`)."""


class _Content:
    """`response.content`: the whole body once, then b"" (what boundary.read_capped reads).

    A compressed body is handed over piece by piece as it arrives instead: the boundary
    inflates as it reads and stops at the cap, so a gzip bomb is cut after a cap's worth of
    inflating, not after the sender has taken its time to send every compressed byte.
    """

    __slots__ = ("_body", "_conn")

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._body: bytes | None = None

    async def readany(self) -> bytes:
        if self._conn.streaming:
            return await self._conn.next_part()
        if self._body is not None:
            self._body = b""
            return b""
        body = await self._conn.body()
        self._body = body
        return body


class WireResponse(HeadersMixin):
    """The subset of `aiohttp.ClientResponse` that `GatewayClient._exchange` reads."""

    def __init__(self, conn: _Connection, status: int, headers: CIMultiDictProxy[str]) -> None:
        self._conn = conn
        self.status = status
        self._headers = self._proxy = headers
        encoding = headers.get("Content-Encoding", "").strip().lower()
        conn.streaming = encoding not in ("", "identity")
        self.content = _Content(conn)

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self._proxy

    def close(self) -> None:
        """Drop the connection (the rest of the answer is not read)."""
        self._conn.abort()


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection and the response in flight on it.

    A buffered protocol: TLS decrypts straight into `inbox` (tlssock.py, as asyncio's TLS
    layer did before it) instead of into a new 256 KiB bytes object per read (with the
    exporter's fixed mmap threshold, memtune.py, that was an mmap, page faults and an munmap
    for every answer).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, inbox: memoryview) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # The pool's one buffer: a read is copied out of it before the next read can come
        # (buffer_updated runs at once), so the connections share it and it stays in cache.
        self._inbox_view = inbox
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self.streaming = False  # hand the body over as it arrives (a compressed one)
        self._state = "idle"  # idle, head, body, done
        self._limit = 0
        self._length: int | None = None  # Content-Length, when given
        self._chunked = False
        self._until_close = False
        self._body_parts: list[bytes] = []
        self._body_size = 0
        self._chunk_left = 0  # bytes of the current chunk still to come (chunked)
        self._chunk_state = "size"  # size, data, crlf, trailer
        self._keep_alive = True
        self._error: BaseException | None = None
        self._head: tuple[int, CIMultiDictProxy[str], list[str]] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._state == "body" and self._until_close and self._error is None:
            self._finish()
            return
        if self._state in ("head", "body"):
            self._fail(exc or ConnectionResetError("the gateway closed the connection"))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._inbox_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._inbox_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        if self._state == "skip":
            return  # declared too large: the caller drops the connection unread
        if self._state in ("idle", "done"):
            # Unsolicited bytes (or bytes after a complete response): never reuse this one.
            self._keep_alive = False
            self.abort()
            return
        self._buffer += data
        try:
            if self._state == "head":
                self._parse_head()
            if self._state == "body":
                self._parse_body()
        except (ProtocolError, TooLarge) as exc:
            self._fail(exc)

    # -- one exchange --------------------------------------------------------------------------

    def start(self, request: bytes, limit: int, deadline: float) -> None:
        self._reset()
        self._state = "head"
        self._limit = limit
        self._timer = self._loop.call_at(deadline, self._timed_out)
        assert self.transport is not None
        self.transport.write(request)

    async def head(self) -> tuple[int, CIMultiDictProxy[str], list[str]]:
        if self._head is None and self._error is None:
            self._waiter = self._loop.create_future()
            await self._waiter
        if self._error is not None:
            raise self._error
        assert self._head is not None
        return self._head

    async def body(self) -> bytes:
        if self._state == "skip":
            raise TooLarge(self._limit, "declared")
        if self._state != "done" and self._error is None:
            self._waiter = self._loop.create_future()
            await self._waiter
        if self._error is not None:
            raise self._error
        parts = self._body_parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def next_part(self) -> bytes:
        """The next piece of the body as it arrives; b"" at its end (streaming mode)."""
        while True:
            if self._error is not None:
                raise self._error
            if self._body_parts:
                parts, self._body_parts = self._body_parts, []
                return parts[0] if len(parts) == 1 else b"".join(parts)
            if self._state == "done":
                return b""
            if self._state == "skip":
                raise TooLarge(self._limit, "declared")
            self._waiter = self._loop.create_future()
            await self._waiter

    @property
    def reusable(self) -> bool:
        return (
            self._state == "done"
            and self._keep_alive
            and not self.closed
            and not self._buffer
            and self._error is None
        )

    def abort(self) -> None:
        self._keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True
        if self._state in ("head", "body", "skip"):
            self._fail(ConnectionResetError("connection dropped"))

    def idle(self) -> None:
        self._state = "idle"

    def finish_exchange(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._state in ("head", "body", "skip"):
            self._fail(asyncio.TimeoutError())
            self.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        # What was read of a failed answer (up to the cap) must not outlive it: the error
        # travels on in the collection, and this connection object with it.
        self._body_parts = []
        self._body_size = 0
        self._buffer = bytearray()
        self._keep_alive = False
        self._state = "done"
        self._wake()
        if self.transport is not None and not self.closed:
            self.transport.abort()
            self.closed = True

    def _finish(self) -> None:
        self._state = "done"
        self._wake()

    # -- parsing -------------------------------------------------------------------------------

    def _parse_head(self) -> None:
        while self._state == "head" and self._head_once():
            pass

    def _head_once(self) -> bool:
        """One response head if complete; True when it was an interim (1xx) one to skip,
        as aiohttp skips them, so the next head is parsed from what is buffered.

        Lenient and strict where aiohttp's parser (llhttp) is, so that an answer ends alike
        on both paths (tests/test_wire.py): bare-LF line ends, obs-fold, control characters
        other than NUL and CR in values, any HTTP/x.y version and unusual Transfer-Encodings
        pass; NUL, bare CR, a name that is not a token, a second Content-Length, a
        Content-Length beside Transfer-Encoding, more than MAX_HEADERS fields or a line over
        MAX_LINE do not.
        """
        buffer = self._buffer
        found = _HEAD_END_RE.search(buffer)
        if found is None:
            if len(buffer) > MAX_HEAD:
                raise ProtocolError("response head too large")
            return False
        if found.start() > MAX_HEAD:
            raise ProtocolError("response head too large")
        head = bytes(buffer[: found.start()])
        del buffer[: found.end()]
        match = _SIMPLE_HEAD_RE.fullmatch(head)
        if match is not None:
            # The usual head, CRLF lines of `name: value`, taken in two C calls.
            fields: list[tuple[bytes, bytes]] = _FIELD_RE.findall(head, match.end(2))
        else:
            match, fields = _general_head(head)
        status = int(match.group(2))
        if status < 200 and status != 101:
            if status < 100:
                raise ProtocolError(f"status {status}")
            return True
        if len(fields) > MAX_HEADERS:
            raise ProtocolError("too many header fields")
        headers = CIMultiDict([(n.decode(), _text(v.rstrip(b" \t"))) for n, v in fields])
        lengths = headers.getall("Content-Length", ())
        for length in lengths:
            if not _DIGITS_TEXT_RE.fullmatch(length):
                raise ProtocolError("bad Content-Length")
        encodings = [
            coding.strip(" \t").lower()
            for value in headers.getall("Transfer-Encoding", ())
            for coding in value.split(",")
        ]
        connection = headers.get("Connection", "").lower()
        cookies = headers.getall("Set-Cookie", [])
        if len(lengths) > 1:
            raise ProtocolError("more than one Content-Length")
        if encodings:
            if lengths:
                raise ProtocolError("Content-Length beside Transfer-Encoding")
            # chunked last: chunked; anything else: the body runs to the end of the
            # connection (RFC 9112, 6.3).
            self._chunked = encodings[-1] == "chunked"
        elif lengths:
            self._length = int(lengths[0])
        if match.group(1) != b"1.1" or "close" in connection:
            self._keep_alive = False
        self._head = (status, CIMultiDictProxy(headers), cookies)
        if status in (101, 204, 304):
            self._length = 0
        elif self._length is None and not self._chunked:
            self._until_close = True
            self._keep_alive = False
        if self._length is not None and self._length > self._limit:
            # Declared too large: the caller refuses it by the header; nothing is buffered.
            self._keep_alive = False
            self._state = "skip"
            self._buffer.clear()
            self._wake()
            return False
        self._state = "body"
        self._wake()
        return False

    def _parse_body(self) -> None:
        buffer = self._buffer
        if self._chunked:
            self._parse_chunks()
            return
        if self._length is not None:
            wanted = self._length - self._body_size
            if len(buffer) >= wanted:
                self._take(bytes(buffer[:wanted]))
                del buffer[:wanted]
                self._finish()
                return
        if buffer:
            self._take(bytes(buffer))
            buffer.clear()

    def _parse_chunks(self) -> None:
        buffer = self._buffer
        while buffer:
            if self._chunk_state == "size":
                end = buffer.find(_CRLF)
                if end < 0:
                    if len(buffer) > MAX_LINE:
                        raise ProtocolError("chunk size line too long")
                    return
                match = _CHUNK_RE.fullmatch(bytes(buffer[:end]))
                if match is None:
                    raise ProtocolError("bad chunk size")
                del buffer[: end + 2]
                self._chunk_left = int(match.group(1), 16)
                self._chunk_state = "data" if self._chunk_left else "trailer"
            elif self._chunk_state == "data":
                piece = bytes(buffer[: self._chunk_left])
                del buffer[: len(piece)]
                self._chunk_left -= len(piece)
                self._take(piece)
                if not self._chunk_left:
                    self._chunk_state = "crlf"
            elif self._chunk_state == "crlf":
                if len(buffer) < 2:
                    return
                if buffer[:2] != _CRLF:
                    raise ProtocolError("chunk not followed by CRLF")
                del buffer[:2]
                self._chunk_state = "size"
            else:  # trailer fields, up to an empty line
                end = buffer.find(_CRLF)
                if end < 0:
                    if len(buffer) > MAX_LINE:
                        raise ProtocolError("trailer line too long")
                    return
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                if not line:
                    self._finish()
                    return

    def _take(self, piece: bytes) -> None:
        if not piece:
            return
        self._body_size += len(piece)
        if self._body_size > self._limit:
            raise TooLarge(self._limit, "on the wire")
        self._body_parts.append(piece)
        if self.streaming:
            self._wake()


def _text(value: bytes) -> str:
    """A header value as aiohttp decodes it."""
    return value.decode("utf-8", "surrogateescape")


def _general_head(head: bytes) -> tuple[re.Match[bytes], list[tuple[bytes, bytes]]]:
    """Any other head: bare-LF line ends, obs-fold, control characters but NUL and CR, as
    aiohttp's parser takes them (see _Connection._head_once)."""
    lines = head.split(b"\n")
    match = _STATUS_RE.fullmatch(lines[0].removesuffix(b"\r"))
    if match is None:
        raise ProtocolError("not an HTTP/1.x status line")
    fields: list[list[bytes]] = []
    for raw in lines[1:]:
        line = raw.removesuffix(b"\r")
        if len(line) > MAX_LINE or b"\r" in line or b"\x00" in line:
            raise ProtocolError("bad header line")
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise ProtocolError("continuation before any header")
            fields[-1][1] += b" " + line.strip(b" \t")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            raise ProtocolError("bad header line")
        fields.append([name, value.strip(b" \t")])
    return match, [(name, value) for name, value in fields]


class _Request:
    """`async with pool.request(...) as response`: what aiohttp's request context does."""

    __slots__ = ("_args", "_conn", "_pool")

    def __init__(self, pool: WirePool, args: tuple[Any, ...]) -> None:
        self._pool = pool
        self._args = args
        self._conn: _Connection | None = None

    async def __aenter__(self) -> WireResponse:
        response, self._conn = await self._pool._send(*self._args)
        return response

    async def __aexit__(self, *exc: object) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._pool._release(conn)


class WirePool:
    """Keep-alive connections to one gateway, for the lean exchange."""

    def __init__(
        self,
        base_url: str,
        ssl_setting: ssl.SSLContext | bool,
        *,
        size: int,
        cookie_jar: AbstractCookieJar,
        user_agent: str,
        limit: int,
    ) -> None:
        url = URL(base_url)
        self._url = url
        self._https = url.scheme == "https"
        self._host = url.raw_host or ""
        self._port = url.port or (443 if self._https else 80)
        default_port = 443 if self._https else 80
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = host if self._port == default_port else f"{host}:{self._port}"
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            if isinstance(ssl_setting, ssl.SSLContext):
                self._ssl = ssl_setting
            elif ssl_setting is False:
                self._ssl = ssl.create_default_context()
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
            else:
                self._ssl = ssl.create_default_context()
        self.jar = self._jar = cookie_jar
        self._fixed = f"User-Agent: {user_agent}\r\nAccept: */*\r\n"
        self._limit = limit
        self._inbox = memoryview(bytearray(INBOX))
        self._targets: dict[str, URL] = {}
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._prune_handle: asyncio.TimerHandle | None = None
        self._closed = False

    def request(
        self,
        method: str,
        url: str,
        *,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: ClientTimeout | None = None,
        server_hostname: str | None = None,
        allow_redirects: bool = False,
    ) -> _Request:
        """As `aiohttp.ClientSession.request`, for the arguments `_exchange` passes."""
        if allow_redirects:
            raise ValueError("the lean exchange never follows redirects")
        total = timeout.total if timeout is not None else None
        return _Request(self, (method, url, data, headers or {}, total, server_hostname))

    async def _send(
        self,
        method: str,
        url: str,
        data: str | bytes | None,
        headers: Mapping[str, str],
        total: float | None,
        server_hostname: str | None,
    ) -> tuple[WireResponse, _Connection]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (total if total is not None else 300.0)
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 64:
                self._targets.clear()
            target = self._targets[url] = URL(url)
        body = data.encode() if isinstance(data, str) else (data or b"")
        head = [f"{method} {target.raw_path_qs} HTTP/1.1\r\nHost: {self._host_header}\r\n"]
        head.append(self._fixed)
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError("a header value holds CR or LF")  # as aiohttp refuses it
            head.append(f"{name}: {value}\r\n")
        if len(self._jar):
            cookies = self._jar.filter_cookies(target)
            if cookies:
                pairs = "; ".join(f"{k}={m.coded_value}" for k, m in cookies.items())
                head.append(f"Cookie: {pairs}\r\n")
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "".join(head).encode("latin-1") + body
        if self._slots.locked():
            await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - loop.time()))
        else:
            await self._slots.acquire()
        conn: _Connection | None = None
        try:
            conn = await self._connection(loop, deadline, server_hostname)
            conn.start(request, self._limit, deadline)
            status, response_headers, set_cookies = await conn.head()
        except BaseException:
            self._slots.release()
            if conn is not None:
                conn.finish_exchange()
                conn.abort()
            raise
        if set_cookies:
            self._jar.update_cookies_from_headers(set_cookies, target)
        return WireResponse(conn, status, response_headers), conn

    async def _connection(
        self, loop: asyncio.AbstractEventLoop, deadline: float, server_hostname: str | None
    ) -> _Connection:
        now = loop.time()
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < KEEPALIVE:
                return conn
            conn.abort()
        if self._ssl is None:
            made = loop.create_connection(
                lambda: _Connection(loop, self._inbox), self._host, self._port
            )
            _, conn = await asyncio.wait_for(made, max(0.0, deadline - now))
            return conn
        _, conn = await asyncio.wait_for(
            tlssock.create_connection(
                loop,
                lambda: _Connection(loop, self._inbox),
                self._host,
                self._port,
                self._ssl,
                server_hostname or None,
            ),
            max(0.0, deadline - now),
        )
        return conn

    def _release(self, conn: _Connection) -> None:
        conn.finish_exchange()
        self._slots.release()
        if conn.reusable and not self._closed:
            loop = asyncio.get_running_loop()
            conn.idle_since = loop.time()
            conn.idle()
            self._idle.append(conn)
            if self._prune_handle is None:
                self._prune_handle = loop.call_later(KEEPALIVE + 1.0, self._prune)
        else:
            conn.abort()

    def _prune(self) -> None:
        """Close connections idle for KEEPALIVE seconds, as aiohttp's connector does."""
        self._prune_handle = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        kept = []
        for conn in self._idle:
            if conn.closed or now - conn.idle_since >= KEEPALIVE:
                conn.abort()
            else:
                kept.append(conn)
        self._idle = kept
        if kept:
            self._prune_handle = loop.call_later(KEEPALIVE + 1.0, self._prune)

    @property
    def idle_connections(self) -> int:
        return sum(not conn.closed for conn in self._idle)

    def close(self) -> None:
        self._closed = True
        if self._prune_handle is not None:
            self._prune_handle.cancel()
            self._prune_handle = None
        for conn in self._idle:
            conn.abort()
        self._idle.clear()
