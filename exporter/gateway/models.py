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

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from ..logs import redact
from ..primitives import CONFERENCE_ID_MAX, CONFERENCE_ID_MIN
from .boundary import RETCODE_OK, Undecodable, decode_json, label_text, retcode_label, safe_text
from .errors import DecodeError

ConfState = Literal["talking", "announcement", "unknown"]
ChannelState = Literal["talking", "held", "announcement", "unknown"]
ChannelMode = Literal["listen", "speak", "listen_speak", "unknown"]
Role = Literal["participant", "chairperson", "unknown"]
AddressType = Literal["phone", "agent", "unknown"]

UNKNOWN: Final = "unknown"
LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1
_DECIMAL: Final = re.compile(r"-?[0-9]{1,19}")

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
    So are values outside a Java long (the vendor's widest type), which would overflow the
    float conversions below, and digits other than ASCII ones ("²", "٣"), which
    `str.isdigit()` accepts and `int()` does not.
    """
    if type(value) is int:
        return value if LONG_MIN <= value <= LONG_MAX else None
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            number = int(text)
            return number if LONG_MIN <= number <= LONG_MAX else None
        return None
    if isinstance(value, float) and value.is_integer() and LONG_MIN <= value <= LONG_MAX:
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


def _address(value: object) -> str:
    """A participant address as a label value: safe text (boundary.label_text), or ""."""
    return label_text(value)


class Participant(msgspec.Struct, gc=False):
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
        return _participant(raw) if isinstance(raw, dict) else None


class _NoParticipants(list):  # type: ignore[type-arg]
    """The empty participant list of every conference parsed without Participant objects: one
    shared object instead of one more list per conference kept alive until the next scrape
    (issue 18). Equal to `[]`; it refuses to change, so the sharing cannot leak."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("the shared empty participant list cannot change")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


NO_PARTICIPANTS: Final[list[Any]] = _NoParticipants()


class Conference(msgspec.Struct, gc=False):
    """One conference from `queryconfinfos`, durations already in seconds.

    Built by `parse_conferences`. `channel_counts` and `mode_counts` (participants by channel
    state and by mode, in `CHANNEL_STATE_VALUES` / `CHANNEL_MODE_VALUES` order) always cover
    every participant entry: they are all the default series need. `participants` holds the
    parsed `Participant` objects only when they were asked for (per-participant series),
    because building them is most of the parsing cost of a large scrape.
    """

    conf_id: int
    state: ConfState
    start_time: float | None  # epoch seconds
    applied_seconds: float | None
    elapsed_seconds: float | None
    participants: list[Participant] = msgspec.field(default_factory=list)
    # Participant entries that were not objects; counted, not fatal.
    skipped_participants: int = 0
    channel_counts: tuple[int, ...] = (0, 0, 0, 0)
    mode_counts: tuple[int, ...] = (0, 0, 0, 0)
    # Who is in it, as (address, enterTime) pairs in answer order: what the activity counters
    # compare between collections (a participant who left and came back has a new enterTime).
    members: tuple[tuple[object, object], ...] = ()
    # Participant objects not built because of the per-conference cap (counts stay complete).
    capped_participants: int = 0

    @property
    def participant_count(self) -> int:
        return sum(self.channel_counts)

    @classmethod
    def parse(
        cls, raw: object, *, participants: bool = True, max_participants: int = 500
    ) -> Conference | None:
        """None when the entry has no usable confId: it cannot be labelled, so it is skipped."""
        if not isinstance(raw, dict):
            return None
        return _conference(raw, participants, max_participants)


# The hot path. A scrape of a large contact center parses tens of thousands of participants, so
# the values well-behaved gateways send (JSON integers, and the strings "6"/"9" for
# addressType) are mapped with one type check and one dict lookup, inline; anything else
# (numbers as strings, floats, padded text, booleans, junk) takes the lenient helpers above,
# which give the same answer for the common values, only slower. `type(x) is int` rather than
# isinstance keeps booleans off the fast path: `True` must not read as 1.
_ADDRESS_LIMIT: Final = 128
_ADDRESS_TYPES_TEXT: Final[dict[object, AddressType]] = {
    str(k): v for k, v in ADDRESS_TYPES.items()
}


def _participant(raw: dict[str, Any]) -> Participant:
    get = raw.get
    address = get("address")
    if type(address) is not str or len(address) > _ADDRESS_LIMIT or not address.isprintable():
        address = _address(address)
    v = get("addressType")
    address_type = _ADDRESS_TYPES_TEXT.get(v) if type(v) is str else None
    if address_type is None:
        address_type = _label(ADDRESS_TYPES, v)
    v = get("channelState")
    channel_state = CHANNEL_STATES.get(v, UNKNOWN) if type(v) is int else _label(CHANNEL_STATES, v)
    v = get("channelAttrib")
    mode = CHANNEL_MODES.get(v, UNKNOWN) if type(v) is int else _label(CHANNEL_MODES, v)
    v = get("role")
    role = ROLES.get(v, UNKNOWN) if type(v) is int else _label(ROLES, v)
    v = get("deviceType")
    device = DEVICE_TYPES.get(v, UNKNOWN) if type(v) is int else _label(DEVICE_TYPES, v)
    v = get("deviceCallType")
    call = DEVICE_CALL_TYPES.get(v, UNKNOWN) if type(v) is int else _label(DEVICE_CALL_TYPES, v)
    v = get("enterTime")
    enter = v / 1000.0 if type(v) is int and 0 <= v <= LONG_MAX else _millis(v)
    return Participant(address, address_type, channel_state, mode, role, device, call, enter)


# Vendor code -> position in CHANNEL_STATE_VALUES / CHANNEL_MODE_VALUES, for the counts.
_STATE_SLOT: Final = {code: CHANNEL_STATE_VALUES.index(v) for code, v in CHANNEL_STATES.items()}
_MODE_SLOT: Final = {code: CHANNEL_MODE_VALUES.index(v) for code, v in CHANNEL_MODES.items()}
_STATE_SLOT_OF: Final = {v: i for i, v in enumerate(CHANNEL_STATE_VALUES)}
_MODE_SLOT_OF: Final = {v: i for i, v in enumerate(CHANNEL_MODE_VALUES)}
_UNKNOWN_STATE: Final = _STATE_SLOT_OF[UNKNOWN]
_UNKNOWN_MODE: Final = _MODE_SLOT_OF[UNKNOWN]


def _member(entry: dict[str, Any]) -> tuple[object, object]:
    """A participant's identity across collections: address and enterTime, as sent (only
    hashable scalars are kept; a peer's junk becomes "")."""
    address = entry.get("address")
    if type(address) is not str and type(address) is not int:
        address = ""
    enter = entry.get("enterTime")
    if type(enter) is not int and type(enter) is not str:
        enter = None
    return (address, enter)


def _conference(
    raw: dict[str, Any], participants: bool, max_participants: int = 500
) -> Conference | None:
    get = raw.get
    conf_id = get("confId")
    if type(conf_id) is not int:
        conf_id = lenient_int(conf_id)
        if conf_id is None:
            return None
    if not CONFERENCE_ID_MIN <= conf_id <= CONFERENCE_ID_MAX:
        return None  # the same range as the config's and the ids_file's (primitives)
    parsed: list[Participant] = []
    members: list[tuple[object, object]] = []
    states = [0, 0, 0, 0]
    modes = [0, 0, 0, 0]
    skipped = 0
    capped = 0
    addresses = get("addresses")
    if isinstance(addresses, list):
        member = _member
        if participants:
            for entry in addresses:
                if isinstance(entry, dict):
                    participant = _participant(entry)
                    if len(parsed) < max_participants:
                        parsed.append(participant)
                    else:
                        capped += 1
                    members.append(member(entry))
                    states[_STATE_SLOT_OF[participant.channel_state]] += 1
                    modes[_MODE_SLOT_OF[participant.mode]] += 1
                else:
                    skipped += 1
        else:
            # Only what the counts need: two fields instead of a Participant per entry.
            for entry in addresses:
                if isinstance(entry, dict):
                    members.append(member(entry))
                    v = entry.get("channelState")
                    if type(v) is int:
                        states[_STATE_SLOT.get(v, _UNKNOWN_STATE)] += 1
                    else:
                        states[_STATE_SLOT_OF[_label(CHANNEL_STATES, v)]] += 1
                    v = entry.get("channelAttrib")
                    if type(v) is int:
                        modes[_MODE_SLOT.get(v, _UNKNOWN_MODE)] += 1
                    else:
                        modes[_MODE_SLOT_OF[_label(CHANNEL_MODES, v)]] += 1
                else:
                    skipped += 1
    elif addresses is not None:
        skipped += 1
    v = get("confState")
    state = CONF_STATES.get(v, UNKNOWN) if type(v) is int else _label(CONF_STATES, v)
    v = get("startTime")
    start = v / 1000.0 if type(v) is int and 0 <= v <= LONG_MAX else _millis(v)
    v = get("applyConfTime")
    applied = v * 60.0 if type(v) is int and 0 <= v <= LONG_MAX else _minutes(v)
    v = get("confHaveBeenTime")
    elapsed = v * 60.0 if type(v) is int and 0 <= v <= LONG_MAX else _minutes(v)
    return Conference(
        conf_id,
        state,
        start,
        applied,
        elapsed,
        parsed or NO_PARTICIPANTS,
        skipped,
        tuple(states),
        tuple(modes),
        tuple(members),
        capped,
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
        return self.retcode == RETCODE_OK


def envelope_from(data: object) -> Envelope:
    """The vendor's envelope from decoded JSON; anything else is a DecodeError.

    The retcode is taken only in the vendor's shape (boundary.retcode_label: anything else is
    `invalid`, never a label value of the peer's choosing); the message is made safe text.
    """
    if not isinstance(data, dict):
        raise DecodeError(f"body is not a JSON object but {type(data).__name__}")
    raw = data.get("retcode")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DecodeError("envelope has no retcode")
    message = data.get("message")
    return Envelope(
        retcode=retcode_label(raw),
        # Redacted before it is cut short: a cut would leave the start of an echoed password.
        message=safe_text(redact(message)) if isinstance(message, str) else "",
        result=data.get("result"),
        event=data.get("event"),
    )


def parse_envelope(body: bytes | str, charset: str | None = None) -> Envelope:
    """Decode a response body; anything that is not the vendor's envelope is a DecodeError.

    The error never quotes the body: a peer could make it carry anything (the Guid it was
    sent, a password echoed back, terminal escapes).
    """
    payload = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    try:
        data = decode_json(payload, charset)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"body is not JSON ({len(payload)} bytes)") from exc
    except Undecodable as exc:
        raise DecodeError(str(exc)) from None
    return envelope_from(data)


@dataclass(slots=True)
class ConferencePage:
    """What one `queryconfinfos` answer held."""

    conferences: list[Conference]
    skipped: int = 0  # entries without a usable confId


def parse_conferences(
    result: object, *, participants: bool = True, max_participants: int = 500
) -> ConferencePage:
    """Accept `{"confs": [...]}`, the bare array, and a null/absent result (no conference).

    `participants=False` leaves every `Conference.participants` empty (the counts are still
    complete): the collector asks for them only when per-participant series are on.
    """
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
    append = conferences.append
    skipped = 0
    for raw in confs:
        conference = (
            _conference(raw, participants, max_participants) if isinstance(raw, dict) else None
        )
        if conference is None:
            skipped += 1
        else:
            append(conference)
    return ConferencePage(conferences, skipped)


def parse_conference_ids(result: object) -> list[int]:
    """`queryvdnconfid`: `{"confIds": [...]}` or the bare array; non-integers are dropped."""
    ids = result.get("confIds") if isinstance(result, dict) else result
    if ids is None:
        return []
    if not isinstance(ids, list):
        raise DecodeError(f"result.confIds is {type(ids).__name__}, not an array")
    parsed = (lenient_int(value) for value in ids)
    return [
        value
        for value in parsed
        if value is not None and CONFERENCE_ID_MIN <= value <= CONFERENCE_ID_MAX
    ]
