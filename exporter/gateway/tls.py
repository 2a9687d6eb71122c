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
from dataclasses import dataclass
from typing import Any

from ..logs import kv

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TLSSettings:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False


class _SessionKeepingSSLObject(ssl.SSLObject):
    """Hands its TLS session to its context once the session can be resumed.

    Under TLS 1.2 that is at the end of the handshake; under TLS 1.3 the server sends its
    tickets after the handshake, so they come in with the first reads. Checking stops once a
    session is kept, or after 16 reads from a server that issues no tickets; from then on a
    read costs one attribute test more than a plain SSLObject's.
    """

    _reads_to_check = 0

    def do_handshake(self) -> None:
        super().do_handshake()
        self._reads_to_check = 16
        self._keep_session()

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        data = super().read(len, buffer)
        if self._reads_to_check:
            self._reads_to_check -= 1
            self._keep_session()
        return data

    def _keep_session(self) -> None:
        session = self.session
        if session is None:
            return
        # TLS 1.3 resumes by ticket only; TLS 1.2 also by session ID (the server's cache).
        if not (session.has_ticket or (session.id and self.version() != "TLSv1.3")):
            return
        self._reads_to_check = 0
        context = self.context
        if isinstance(context, ResumingSSLContext):
            context.keep(self.server_hostname, session)


class ResumingSSLContext(ssl.SSLContext):
    """A client SSLContext that offers each new connection a TLS session from an earlier one
    to the same server name, so that the gateway resumes it instead of a full handshake.

    Why: keep-alive spares most handshakes, but the pool's idle connections close after 30 s,
    so at a longer scrape interval every scrape opens up to `max_concurrency` connections
    again; a full handshake costs the gateway a private-key signature each and, under TLS 1.2,
    one more round trip. asyncio's `create_connection` takes no `ssl.SSLSession`, but it makes
    every connection through `wrap_bio`, which does, and builds the connection's SSLObject from
    `sslobject_class`, which reports the session back (`keep`).

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

    def keep(self, server_hostname: str | None, session: ssl.SSLSession) -> None:
        """Called by the connection's SSLObject, once, when its session can be resumed."""
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
        name = (
            server_hostname.decode("ascii")
            if isinstance(server_hostname, bytes)
            else server_hostname
        )
        offered = self._offer(name) if session is None and not server_side else None
        try:
            sslobj = super().wrap_bio(
                incoming, outgoing, server_side, server_hostname, session or offered
            )
        except ValueError:  # a session OpenSSL will not take here: connect without one
            if offered is None:
                raise
            self._unused.pop(name, None)
            self._newest.pop(name, None)
            sslobj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        else:
            self.offered += offered is not None
        return sslobj

    def _offer(self, name: str | None) -> ssl.SSLSession | None:
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
