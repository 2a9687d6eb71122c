"""The vendor's envelope, conferences and participants, parsed leniently.

Real gateways send numbers as strings now and then, wrap `result` as `{"confs": [...]}` or send
the bare array, leave optional fields out, and may grow enum values the vendor's tables do not
list. None of that may fail a scrape: odd values are kept as "unknown" and a conference entry
that cannot be identified is skipped and counted. Only a body that is not the envelope at all
raises `DecodeError`.

Enum values are stored as the label values the exposition uses ("talking", "held", ...), so the
hot path does one dict lookup per field and nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .errors import DecodeError

ConfState = Literal["talking", "announcement", "unknown"]
ChannelState = Literal["talking", "held", "announcement", "unknown"]
ChannelMode = Literal["listen", "speak", "listen_speak", "unknown"]
Role = Literal["participant", "chairperson", "unknown"]
AddressType = Literal["phone", "agent", "unknown"]

UNKNOWN: Final = "unknown"

# Vendor value tables (gateway-session.md, "Value tables"); the tuples list every label value
# in a fixed order so the exposition can zero-fill series that have no participant right now.
CONF_STATES: Final[dict[int, ConfState]] = {0: "talking", 1: "announcement"}
CONF_STATE_VALUES: Final[tuple[ConfState, ...]] = ("talking", "announcement", "unknown")
CHANNEL_STATES: Final[dict[int, ChannelState]] = {0: "talking", 1: "held", 2: "announcement"}
CHANNEL_STATE_VALUES: Final[tuple[ChannelState, ...]] = (
    "talking",
    "held",
    "announcement",
    "unknown",
)
CHANNEL_MODES: Final[dict[int, ChannelMode]] = {1: "listen", 2: "speak", 3: "listen_speak"}
CHANNEL_MODE_VALUES: Final[tuple[ChannelMode, ...]] = ("listen", "speak", "listen_speak", "unknown")
ROLES: Final[dict[int, Role]] = {0: "participant", 1: "chairperson"}
ADDRESS_TYPES: Final[dict[int, AddressType]] = {6: "phone", 9: "agent"}
DEVICE_TYPES: Final[dict[int, str]] = {
    0: "unknown",
    1: "ordinary_phone",
    2: "wireless_digital",
    3: "wireless_analog",
    4: "shortwave",
    5: "mobile_phone",
    6: "agent",
    7: "elte",
}
DEVICE_CALL_TYPES: Final[dict[int, str]] = {0: "normal", 1: "group", 2: "point_to_point"}


def lenient_int(value: object) -> int | None:
    """An integer from a JSON number or a decimal string; None for anything else.

    bool is refused on purpose: `true` is not a conference ID even though Python says it is 1.
    """
    if type(value) is int:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _label(table: dict[int, Any], value: object) -> Any:
    code = lenient_int(value)
    return UNKNOWN if code is None else table.get(code, UNKNOWN)


def _millis(value: object) -> float | None:
    ms = lenient_int(value)
    return None if ms is None or ms < 0 else ms / 1000.0


def _minutes(value: object) -> float | None:
    minutes = lenient_int(value)
    return None if minutes is None or minutes < 0 else minutes * 60.0


@dataclass(slots=True)
class Participant:
    """One entry of a conference's `addresses`."""

    address: str
    address_type: AddressType
    channel_state: ChannelState
    mode: ChannelMode
    role: Role
    device_type: str
    device_call_type: str
    enter_time: float | None  # epoch seconds

    @classmethod
    def parse(cls, raw: object) -> Participant | None:
        if not isinstance(raw, dict):
            return None
        address = raw.get("address")
        if isinstance(address, int) and not isinstance(address, bool):
            address = str(address)
        elif not isinstance(address, str):
            address = ""
        return cls(
            address=address,
            address_type=_label(ADDRESS_TYPES, raw.get("addressType")),
            channel_state=_label(CHANNEL_STATES, raw.get("channelState")),
            mode=_label(CHANNEL_MODES, raw.get("channelAttrib")),
            role=_label(ROLES, raw.get("role")),
            device_type=_label(DEVICE_TYPES, raw.get("deviceType")),
            device_call_type=_label(DEVICE_CALL_TYPES, raw.get("deviceCallType")),
            enter_time=_millis(raw.get("enterTime")),
        )


@dataclass(slots=True)
class Conference:
    """One conference from `queryconfinfos`, durations already in seconds."""

    conf_id: int
    state: ConfState
    start_time: float | None  # epoch seconds
    applied_seconds: float | None
    elapsed_seconds: float | None
    participants: list[Participant] = field(default_factory=list)
    # Participant entries that were not objects; counted, not fatal.
    skipped_participants: int = 0

    @classmethod
    def parse(cls, raw: object) -> Conference | None:
        """None when the entry has no usable confId: it cannot be labelled, so it is skipped."""
        if not isinstance(raw, dict):
            return None
        conf_id = lenient_int(raw.get("confId"))
        if conf_id is None or conf_id < 0:
            return None
        participants: list[Participant] = []
        skipped = 0
        addresses = raw.get("addresses")
        if isinstance(addresses, list):
            for entry in addresses:
                participant = Participant.parse(entry)
                if participant is None:
                    skipped += 1
                else:
                    participants.append(participant)
        elif addresses is not None:
            skipped += 1
        return cls(
            conf_id=conf_id,
            state=_label(CONF_STATES, raw.get("confState")),
            start_time=_millis(raw.get("startTime")),
            applied_seconds=_minutes(raw.get("applyConfTime")),
            elapsed_seconds=_minutes(raw.get("confHaveBeenTime")),
            participants=participants,
            skipped_participants=skipped,
        )


@dataclass(slots=True)
class Envelope:
    """`{"message", "retcode", "result"}` (or `event` on event polls)."""

    retcode: str
    message: str
    result: Any = None
    event: Any = None

    @property
    def ok(self) -> bool:
        return self.retcode == "0"


def parse_envelope(body: bytes | str) -> Envelope:
    """Decode a response body; anything that is not the vendor's envelope is a DecodeError."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not JSON: {_preview(body)}") from exc
    if not isinstance(data, dict):
        raise DecodeError(f"body is not a JSON object: {_preview(body)}")
    retcode = data.get("retcode")
    if isinstance(retcode, int) and not isinstance(retcode, bool):
        retcode = str(retcode)
    if not isinstance(retcode, str) or not retcode.strip():
        raise DecodeError("envelope has no retcode")
    message = data.get("message")
    return Envelope(
        retcode=retcode.strip(),
        message=message if isinstance(message, str) else "",
        result=data.get("result"),
        event=data.get("event"),
    )


@dataclass(slots=True)
class ConferencePage:
    """What one `queryconfinfos` answer held."""

    conferences: list[Conference]
    skipped: int = 0  # entries without a usable confId


def parse_conferences(result: object) -> ConferencePage:
    """Accept `{"confs": [...]}`, the bare array, and a null/absent result (no conference)."""
    if result is None:
        return ConferencePage([])
    if isinstance(result, dict):
        confs = result.get("confs")
        if confs is None:
            return ConferencePage([])
    else:
        confs = result
    if not isinstance(confs, list):
        raise DecodeError(f"result.confs is {type(confs).__name__}, not an array")
    conferences: list[Conference] = []
    skipped = 0
    for raw in confs:
        conference = Conference.parse(raw)
        if conference is None:
            skipped += 1
        else:
            conferences.append(conference)
    return ConferencePage(conferences, skipped)


def parse_conference_ids(result: object) -> list[int]:
    """`queryvdnconfid`: `{"confIds": [...]}` or the bare array; non-integers are dropped."""
    ids = result.get("confIds") if isinstance(result, dict) else result
    if ids is None:
        return []
    if not isinstance(ids, list):
        raise DecodeError(f"result.confIds is {type(ids).__name__}, not an array")
    parsed = (lenient_int(value) for value in ids)
    return [value for value in parsed if value is not None and value >= 0]


@dataclass(slots=True)
class AgentEvent:
    """An event from the long poll; only conference events matter to us."""

    event_type: str
    conf_id: int | None

    @classmethod
    def parse(cls, raw: object) -> AgentEvent | None:
        if not isinstance(raw, dict):
            return None
        event_type = raw.get("eventType")
        if not isinstance(event_type, str):
            return None
        content = raw.get("content")
        conf_id = lenient_int(content.get("confId")) if isinstance(content, dict) else None
        return cls(event_type=event_type, conf_id=conf_id)


def _preview(body: bytes | str, limit: int = 60) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
