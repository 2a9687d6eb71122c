"""TLS to the gateway: verify by default, private CAs and client certificates supported.

Gateways nearly always carry a private or self-signed certificate, and every public client seen
simply turns verification off. We make the safe path easy (`ca_file`) and the unsafe one
explicit and loud (`insecure_skip_verify`, warned about once at start).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from ..logs import kv

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TLSSettings:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False


def build_ssl_context(settings: TLSSettings, *, gateway: str = "") -> ssl.SSLContext:
    """An SSLContext for aiohttp; raises OSError/ssl.SSLError on unreadable files."""
    context = ssl.create_default_context(cafile=settings.ca_file or None)
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
