"""HTTPS connections for the lean exchange (wire.py) on a non-blocking `ssl.SSLSocket`.

Why not asyncio's TLS (`loop.create_connection(..., ssl=context)`): asyncio runs TLS in Python
(asyncio/sslproto.py), passing every record through a MemoryBIO, an SSLObject and several
layers of protocol methods. At the exporter's 500 calls per scrape (issue 18) that cost 10-25
us of CPU per call, 23 in the median of six A/B runs (WirePool at 16 in flight, 138-199 ->
120-173 us a call; docs/performance.md, step 9). Here OpenSSL reads and writes the socket
itself, and the event loop only says when the socket is ready: a read is one `recv_into`.

What the connection presents to its protocol (wire.py's `_Connection`) is what asyncio would:
`connection_made(transport)` once the handshake is done, decrypted bytes through `get_buffer`
and `buffer_updated`, and `connection_lost(exc)` called soon (call_soon, as asyncio does) after
the transport closed, once; the transport has `write`, `abort`, `close`, `is_closing`,
`get_write_buffer_size` and `get_extra_info`. Failures are raised as asyncio raises them, so
that `GatewayClient._exchange` classifies them as before: `ssl.SSLError` for a certificate or
handshake failure (`tls`), `OSError` when the connection is refused, unreachable or cut in the
handshake (`connect`: asyncio reports an EOF there as ConnectionResetError, OpenSSL as
SSLEOFError). The caller bounds the connection in time (asyncio.wait_for, `timeout`).

Sessions are resumed as on asyncio's connections: a `ResumingSSLContext` is asked for a session
to offer (`offer`) and given this connection's once it can be resumed (`session_ready`); a plain
`ssl.SSLContext` connects with full handshakes.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Callable
from typing import Any, Final, TypeVar

from .tls import SESSION_READS, ResumingSSLContext

P = TypeVar("P", bound=asyncio.BufferedProtocol)

_NUMERIC: Final = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
#: The most plaintext one TLS record carries (RFC 8446, 5.1).
_RECORD: Final = 16384
#: Records read in one turn of the event loop before the others get it back (a record is at
#: most 16 KiB: ~1 MiB). What OpenSSL holds decrypted then is read in the next turn, since
#: the socket, already drained into OpenSSL, may never signal it.
_READS_PER_TURN: Final = 64


class _Sink(asyncio.BufferedProtocol):
    """Where reads go once the protocol is told no more: after `close`, while what was
    written is still being sent, and after the connection is lost (nothing reads then)."""

    def __init__(self) -> None:
        self._scratch = memoryview(bytearray(16 * 1024))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        pass


_SINK: Final = _Sink()


async def create_connection(
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], P],
    host: str,
    port: int,
    context: ssl.SSLContext,
    server_hostname: str | None = None,
) -> tuple[TLSTransport, P]:
    """As `loop.create_connection(protocol_factory, host, port, ssl=context,
    server_hostname=server_hostname)` for a buffered protocol. The socket is closed on every
    failure, cancellation included."""
    name = server_hostname or host
    sock = await _connect(loop, host, port)
    try:
        sslsock = context.wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
    except BaseException:
        sock.close()  # wrap_socket took it over (and closed it), or never got that far
        raise
    try:
        if isinstance(context, ResumingSSLContext):
            context.offer(name, functools.partial(_attach, sslsock))
        await _handshake(loop, sslsock)
        protocol = protocol_factory()
        transport = TLSTransport(loop, sslsock, protocol)
    except BaseException:
        sslsock.close()
        raise
    return transport, protocol


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket: each address of `host` tried in turn, as
    asyncio's create_connection tries them, and its errors raised as it raises them."""
    try:  # an address needs no resolver thread (asyncio's create_connection skips it too)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=_NUMERIC)
    except socket.gaierror:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError("getaddrinfo() returned empty list")
    errors: list[OSError] = []
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if len(errors) == 1 or all(str(exc) == str(errors[0]) for exc in errors):
        raise errors[0]
    raise OSError(f"Multiple exceptions: {', '.join(str(exc) for exc in errors)}")


def _attach(sslsock: ssl.SSLSocket, session: ssl.SSLSession | None) -> None:
    if session is not None:
        sslsock.session = session  # ValueError when OpenSSL will not take it: see offer


async def _handshake(loop: asyncio.AbstractEventLoop, sslsock: ssl.SSLSocket) -> None:
    fd = sslsock.fileno()
    while True:
        try:
            sslsock.do_handshake()
        except ssl.SSLWantReadError:
            await _ready(loop, fd, loop.add_reader, loop.remove_reader)
        except ssl.SSLWantWriteError:
            await _ready(loop, fd, loop.add_writer, loop.remove_writer)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            raise ConnectionResetError("connection closed in the TLS handshake") from exc
        else:
            return


async def _ready(
    loop: asyncio.AbstractEventLoop,
    fd: int,
    add: Callable[..., None],
    remove: Callable[[int], bool],
) -> None:
    waiter = loop.create_future()
    add(fd, _wake, waiter)
    try:
        await waiter
    finally:
        remove(fd)  # also when cancelled: the socket is closed next, its fd reused later


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class TLSTransport(asyncio.Transport):
    """A connected TLS socket, its handshake done, driven by the event loop's readiness
    callbacks for one buffered protocol."""

    __slots__ = (
        "_closing",
        "_context",
        "_fd",
        "_held",
        "_loop",
        "_owner",
        "_pending",
        "_protocol",
        "_queued",
        "_read_wants_write",
        "_reads_to_check",
        "_recv_into",
        "_send",
        "_sock",
        "_write_wants_read",
        "_writing",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sslsock: ssl.SSLSocket,
        protocol: asyncio.BufferedProtocol,
    ) -> None:
        super().__init__({"socket": sslsock, "ssl_object": sslsock})
        self._loop = loop
        self._sock: ssl.SSLSocket | None = sslsock
        self._fd = sslsock.fileno()
        self._owner = protocol  # told connection_made and connection_lost
        self._protocol = protocol  # given what is read: the owner until it is told no more
        self._recv_into = sslsock.recv_into
        self._held = sslsock.pending  # decrypted bytes OpenSSL holds
        self._send = sslsock.send
        # Bytes OpenSSL did not take yet: retried as they are until it takes them whole (a
        # write it could not finish must be repeated with the same data); later writes queue.
        self._pending: bytes | None = None
        self._queued: list[bytes] = []
        self._writing = False  # the writer callback is registered
        self._read_wants_write = False  # a read needs the socket writable (a key update)
        self._write_wants_read = False  # a write needs the socket readable (renegotiation)
        self._closing = False
        context = sslsock.context
        self._context = context if isinstance(context, ResumingSSLContext) else None
        self._reads_to_check = 0
        if self._context is not None and not self._context.session_ready(sslsock):
            self._reads_to_check = SESSION_READS  # TLS 1.3: the ticket follows the handshake
        protocol.connection_made(self)
        loop.add_reader(self._fd, self._read_ready)

    # -- reading -------------------------------------------------------------------------------

    def _read_ready(self) -> None:
        """Read what OpenSSL can give without waiting. OpenSSL takes one record at a time off
        the socket, so a readable socket may hold several records; and what it has taken off
        the socket and not yet handed over, the socket never signals again. So reading goes
        on while OpenSSL holds decrypted bytes, and after a record of the largest size (more
        is likely to follow: an SSLWantReadError, costly, ends it if not); it stops after a
        shorter record, an answer's last as a rule, since what may follow it is still in the
        socket, which will say so."""
        if self._write_wants_read:
            self._write_wants_read = False
            self._flush()
            if self._sock is None:
                return
        protocol = self._protocol
        recv_into = self._recv_into
        held = self._held
        reads = 0
        more = True
        while more:
            try:
                buffer = memoryview(protocol.get_buffer(-1))  # sliced below: never a copy
                size = len(buffer)
                if not size:
                    raise RuntimeError("get_buffer() returned an empty buffer")
            except Exception as exc:
                self._protocol_failed(exc, "protocol.get_buffer() call failed")
                return
            filled = 0
            failure: Exception | None = None
            eof = False
            while filled < size:
                if reads == _READS_PER_TURN:
                    self._loop.call_soon(self._read_on)
                    more = False
                    break
                reads += 1
                try:
                    if filled:
                        nbytes = recv_into(buffer[filled:], size - filled)
                    else:
                        nbytes = recv_into(buffer, size)
                except ssl.SSLWantReadError:
                    more = False
                    break
                except ssl.SSLWantWriteError:
                    self._read_wants_write = True
                    self._update_writer()
                    more = False
                    break
                except OSError as exc:  # ssl.SSLError included
                    failure = exc
                    break
                if not nbytes:  # close_notify, or the TCP close without it (ragged EOF)
                    eof = True
                    break
                filled += nbytes
                if nbytes < _RECORD and not held():
                    more = False
                    break
            if filled:
                try:
                    protocol.buffer_updated(filled)
                except Exception as exc:
                    self._protocol_failed(exc, "protocol.buffer_updated() call failed")
                    return
                if self._sock is None:  # the protocol dropped the connection
                    return
            if failure is not None:
                self._close(failure)
                return
            if eof:
                protocol.eof_received()
                self._close(None)
                return
        if self._reads_to_check:
            self._check_session()

    def _protocol_failed(self, exc: Exception, message: str) -> None:
        """As asyncio's transports do when their protocol raises: report it, drop the
        connection, and tell the protocol with that exception."""
        self._loop.call_exception_handler(
            {
                "message": f"Fatal error: {message}.",
                "exception": exc,
                "transport": self,
                "protocol": self._owner,
            }
        )
        self._close(exc)

    def _check_session(self) -> None:
        context, sock = self._context, self._sock
        if context is None or sock is None or context.session_ready(sock):
            self._reads_to_check = 0
        else:
            self._reads_to_check -= 1

    def _read_on(self) -> None:
        if self._sock is not None:
            self._read_ready()

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._sock is None or self._closing or not data:
            return
        if self._pending is not None:
            self._queued.append(bytes(data))
            return
        self._pending = data if isinstance(data, bytes) else bytes(data)
        self._flush()

    def _flush(self) -> None:
        """Send what is pending, as far as the socket takes it."""
        send = self._send
        while (data := self._pending) is not None:
            try:
                sent = send(data)
            except ssl.SSLWantWriteError:
                break
            except ssl.SSLWantReadError:
                self._write_wants_read = True
                break
            except OSError as exc:
                self._close(exc)
                return
            if sent < len(data):  # not without SSL_MODE_ENABLE_PARTIAL_WRITE, but if so
                self._pending = data[sent:]
            elif self._queued:
                self._pending = b"".join(self._queued)
                self._queued.clear()
            else:
                self._pending = None
        if self._pending is None and self._closing:
            self._close(None)
            return
        self._update_writer()

    def _write_ready(self) -> None:
        if self._read_wants_write:
            self._read_wants_write = False
            self._read_ready()
            if self._sock is None:
                return
        if self._pending is not None and not self._write_wants_read:
            self._flush()
        else:
            self._update_writer()

    def _update_writer(self) -> None:
        wanted = self._read_wants_write or (
            self._pending is not None and not self._write_wants_read
        )
        if wanted != self._writing:
            self._writing = wanted
            if wanted:
                self._loop.add_writer(self._fd, self._write_ready)
            else:
                self._loop.remove_writer(self._fd)

    def get_write_buffer_size(self) -> int:
        pending = self._pending
        return (len(pending) if pending is not None else 0) + sum(map(len, self._queued))

    # -- closing -------------------------------------------------------------------------------

    def abort(self) -> None:
        """Close at once; what was not sent is dropped, no close_notify is sent."""
        self._close(None)

    def close(self) -> None:
        """Close once what was written is sent. Meanwhile what arrives is read and dropped,
        as asyncio's protocols receive nothing after close(): a socket closed with bytes
        unread is reset, and a reset throws away what the kernel had not sent yet. No
        close_notify: HTTP's own framing ends every answer the exchange reads."""
        if self._sock is None or self._closing:
            return
        self._closing = True
        self._protocol = _SINK
        if self._pending is None:
            self._close(None)

    def is_closing(self) -> bool:
        return self._closing or self._sock is None

    def _close(self, exc: Exception | None) -> None:
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._closing = True
        loop = self._loop
        loop.remove_reader(self._fd)
        if self._writing:
            self._writing = False
            loop.remove_writer(self._fd)
        self._pending = None
        self._queued.clear()
        sock.close()
        loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        owner, self._owner, self._protocol = self._owner, _SINK, _SINK
        owner.connection_lost(exc)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        sock = self._sock
        if sock is not None:
            if name == "peername":
                return sock.getpeername()
            if name == "sockname":
                return sock.getsockname()
            if name == "sslcontext":
                return sock.context
            if name == "peercert":
                return sock.getpeercert()
            if name == "cipher":
                return sock.cipher()
        return super().get_extra_info(name, default)

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else f"fd={self._fd}"
        return f"<TLSTransport {state}>"
