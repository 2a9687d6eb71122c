"""Everything that talks to a CC-Gateway: models, client, session."""

from .client import ClientSettings, ConferenceQuery, FailedBatch, GatewayClient
from .errors import GatewayError, RetcodeError, TransportError
from .models import Conference, Participant
from .session import Session, SessionSettings
from .stats import CallStats
from .tls import TLSSettings, build_ssl_context

__all__ = [
    "CallStats",
    "ClientSettings",
    "Conference",
    "ConferenceQuery",
    "FailedBatch",
    "GatewayClient",
    "GatewayError",
    "Participant",
    "RetcodeError",
    "Session",
    "SessionSettings",
    "TLSSettings",
    "TransportError",
    "build_ssl_context",
]
