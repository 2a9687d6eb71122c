"""TLS to the gateway: verify by default, private CAs and client certificates supported, and
sessions resumed on new connections.

Gateways nearly always carry a private or self-signed certificate, and every public client seen
simply turns verification off. We make the safe path easy (`ca_file`) and the unsafe one
explicit and loud (`insecure_skip_verify`, warned about once at start).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..logs import kv

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TLSSettings:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False


#: Reads after the handshake in which a TLS 1.3 session ticket is looked for (see
#: ResumingSSLContext.session_ready); a server that issues none is not asked again after these.
SESSION_READS = 16


class _SessionKeepingSSLObject(ssl.SSLObject):
    """The SSLObject of the TLS connections asyncio makes (aiohttp's): hands its session to
    its context once it can be resumed, from the end of the handshake (TLS 1.2) or from the
    read that brought the server's ticket in (TLS 1.3: tickets follow the handshake).

    Checking stops once a session is kept, or after SESSION_READS reads from a server that
    issues no tickets; from then on a read costs one attribute test more than a plain
    SSLObject's.
    """

    _reads_to_check = 0

    def do_handshake(self) -> None:
        super().do_handshake()
        self._reads_to_check = 0 if self._session_kept() else SESSION_READS

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        data = super().read(len, buffer)
        if self._reads_to_check:
            self._reads_to_check = 0 if self._session_kept() else self._reads_to_check - 1
        return data

    def _session_kept(self) -> bool:
        context = self.context
        return not isinstance(context, ResumingSSLContext) or context.session_ready(self)


class ResumingSSLContext(ssl.SSLContext):
    """A client SSLContext that offers each new connection a TLS session from an earlier one
    to the same server name, so that the gateway resumes it instead of a full handshake.

    Why: keep-alive spares most handshakes, but the pool's idle connections close after 30 s,
    so at a longer scrape interval every scrape opens up to `max_concurrency` connections
    again; a full handshake costs the gateway a private-key signature each and, under TLS 1.2,
    one more round trip. asyncio's `create_connection` takes no `ssl.SSLSession`, but it makes
    every connection through `wrap_bio`, which does, and builds the connection's SSLObject from
    `sslobject_class`, which reports the session back. Connections made otherwise (wire.py's,
    through tlssock.py) call `offer` and `session_ready` themselves: the policy is here only.

    Sessions older than `max_session_age` are not offered. A session not offered yet is
    preferred (RFC 8446 asks clients not to reuse a TLS 1.3 ticket); when none is left, the
    newest is offered again rather than none: the exporter is not hiding from the gateway, and
    a server that refuses a reused ticket just does a full handshake. Sessions the server no
    longer knows (restart, expired ticket) cost the same.
    """

    sslobject_class = _SessionKeepingSSLObject
    #: unused sessions kept per server name; a pool opens max_concurrency + 2 connections
    _KEEP = 32
    #: A resumed session skips the certificate check it was made with: a certificate that has
    #: expired or been replaced since is noticed by the next full handshake, at most this late.
    max_session_age = 600.0

    def __init__(self, protocol: int = ssl.PROTOCOL_TLS_CLIENT) -> None:
        # ssl.SSLContext takes the protocol in __new__ (the call's arguments go to both).
        super().__init__()
        self._unused: dict[str | None, deque[ssl.SSLSession]] = {}
        self._newest: dict[str | None, ssl.SSLSession] = {}
        self.offered = 0  # connections that were offered a session

    def offer(self, server_hostname: str | None, attach: Callable[[ssl.SSLSession | None], T]) -> T:
        """`attach(session)` sets up a new connection to `server_hostname` with the session to
        offer it (None: there is none to offer). When OpenSSL will not take that session
        (ValueError: one of another context, say), the name's sessions are dropped and
        `attach(None)` is called instead."""
        offered = self._pick(server_hostname)
        if offered is None:
            return attach(None)
        try:
            made = attach(offered)
        except ValueError:
            self._unused.pop(server_hostname, None)
            self._newest.pop(server_hostname, None)
            return attach(None)
        self.offered += 1
        return made

    def session_ready(self, conn: ssl.SSLObject | ssl.SSLSocket) -> bool:
        """Keep the session of `conn` (a connection of this context) once it can be resumed:
        under TLS 1.2 from the end of the handshake, under TLS 1.3 once the server's ticket
        has come in with the first reads after it. True when it was kept: look no more."""
        session = conn.session
        if session is None:
            return False
        # TLS 1.3 resumes by ticket only; TLS 1.2 also by session ID (the server's cache).
        if not (session.has_ticket or (session.id and conn.version() != "TLSv1.3")):
            return False
        self.keep(conn.server_hostname, session)
        return True

    def keep(self, server_hostname: str | None, session: ssl.SSLSession) -> None:
        """A session to offer to later connections to `server_hostname`."""
        self._newest[server_hostname] = session
        unused = self._unused.setdefault(server_hostname, deque(maxlen=self._KEEP))
        unused.append(session)

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        wrap = super().wrap_bio
        if session is not None or server_side:
            return wrap(incoming, outgoing, server_side, server_hostname, session)
        name = (
            server_hostname.decode("ascii")
            if isinstance(server_hostname, bytes)
            else server_hostname
        )
        return self.offer(
            name, lambda offered: wrap(incoming, outgoing, False, server_hostname, offered)
        )

    def _pick(self, name: str | None) -> ssl.SSLSession | None:
        oldest = time.time() - self.max_session_age
        unused = self._unused.get(name)
        while unused:
            session = unused.pop()
            if session.time >= oldest:
                return session
        newest = self._newest.get(name)
        return newest if newest is not None and newest.time >= oldest else None


def build_ssl_context(settings: TLSSettings, *, gateway: str = "") -> ssl.SSLContext:
    """An SSLContext for aiohttp; raises OSError/ssl.SSLError on unreadable files."""
    context = ResumingSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The running Python's defaults for a client, as ssl.create_default_context sets them
    # (verification flags differ between versions: 3.13 adds strict X.509 checks).
    defaults = ssl.create_default_context()
    context.verify_flags = defaults.verify_flags
    context.options = defaults.options
    if settings.ca_file:
        context.load_verify_locations(cafile=settings.ca_file)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file or None)
    if settings.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        log.warning(
            "TLS certificate verification is OFF for this gateway (insecure_skip_verify)",
            extra=kv(gateway=gateway),
        )
    return context
