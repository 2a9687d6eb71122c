"""Typed failures of gateway calls.

A collection must be able to tell "the gateway said no" (a retcode, with a vendor meaning and a
vendor-prescribed reaction) from "there was no usable answer" (a transport failure, classified
for the `ccgw_request_errors_total{reason}` counter). Everything the client raises is one of
these, so no aiohttp or json exception ever reaches the collector.
"""

from __future__ import annotations

from typing import Literal

ErrorReason = Literal["timeout", "connect", "tls", "http_status", "decode", "too_large"]
ERROR_REASONS: tuple[ErrorReason, ...] = (
    "timeout",
    "connect",
    "tls",
    "http_status",
    "decode",
    "too_large",
)

# Result codes after which the session must sign in again (gateway-session.md).
NOT_SIGNED_IN = "100-006"
NO_PERMISSION = "000-003"
DISASTER_SWITCH = frozenset({"105-005", "105-006", "105-007"})
AUTH_RETCODES = frozenset({NOT_SIGNED_IN, NO_PERMISSION}) | DISASTER_SWITCH
# Sign-in failures that retrying soon cannot fix: an operator must act.
CREDENTIAL_RETCODES = frozenset({"100-004", "110-016"})
ALREADY_SIGNED_IN = "100-002"


class GatewayError(Exception):
    """Base of every failure of one gateway call."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(f"{method}: {detail}")
        self.method = method
        self.detail = detail

    @property
    def label(self) -> str:
        """The short value used in metrics and logs: a retcode or an error reason."""
        raise NotImplementedError


class RetcodeError(GatewayError):
    """The gateway answered with an envelope whose retcode is not "0"."""

    def __init__(self, method: str, retcode: str, message: str = "") -> None:
        super().__init__(method, f"retcode {retcode}" + (f" ({message})" if message else ""))
        self.retcode = retcode
        self.message = message

    @property
    def label(self) -> str:
        return self.retcode

    @property
    def needs_sign_in(self) -> bool:
        return self.retcode in AUTH_RETCODES


class TransportError(GatewayError):
    """No usable answer: timeout, connection or TLS failure, bad HTTP status, or a bad body."""

    def __init__(
        self, method: str, reason: ErrorReason, detail: str, status: int | None = None
    ) -> None:
        super().__init__(method, f"{reason}: {detail}")
        self.reason: ErrorReason = reason
        self.status = status

    @property
    def label(self) -> str:
        return self.reason


class DecodeError(ValueError):
    """A body that is not the vendor's envelope, raised by the parsers (no method known there)."""
