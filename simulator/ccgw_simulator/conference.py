"""One conference and its participants, and how the gateway renders them.

Field names, order and types follow the vendor's queryConfInfos tables (see
``shared/spec/queryconfinfos.md``): numbers as JSON numbers, ``addressType`` as a string.
Rendering is cached per conference as JSON bytes, keyed by (version, elapsed minutes): the
only thing that changes without an event is ``confHaveBeenTime``, once a simulated minute,
so a 20-ID query joins 20 cached byte strings instead of serialising anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ADDRESS_PHONE = "6"
ADDRESS_AGENT = "9"

#: Fields that ``stringly_numbers`` may send as strings, as some gateways do.
NUMERIC_FIELDS = (
    "confId",
    "confState",
    "startTime",
    "applyConfTime",
    "confHaveBeenTime",
    "deviceCallType",
    "deviceType",
    "channelAttrib",
    "channelState",
    "role",
    "enterTime",
)

#: Participant keys accepted from tests and the admin API (the vendor's names).
PARTICIPANT_KEYS = frozenset(
    {
        "address",
        "addressType",
        "deviceCallType",
        "deviceType",
        "channelAttrib",
        "channelState",
        "role",
        "enterTime",
    }
)


#: Python-style spellings accepted by the test API (``channel_state=1``) as well.
_SNAKE_KEYS = {
    "address_type": "addressType",
    "device_call_type": "deviceCallType",
    "device_type": "deviceType",
    "channel_attrib": "channelAttrib",
    "channel_state": "channelState",
    "enter_time": "enterTime",
}


def vendor_keys(data: dict[str, Any]) -> dict[str, Any]:
    """``{"channel_state": 1}`` -> ``{"channelState": 1}``; vendor names pass unchanged."""
    return {_SNAKE_KEYS.get(k, k): v for k, v in data.items()}


#: ``deviceType`` of a phone participant unless told otherwise: 0, as in the vendor's
#: queryconfinfos sample (its phone "70005" has deviceType 0, cec_07_0485).
PHONE_DEVICE_TYPE = 0
AGENT_DEVICE_TYPE = 6


@dataclass(slots=True)
class Participant:
    address: str
    address_type: str = ADDRESS_PHONE
    device_call_type: int = 0
    device_type: int = PHONE_DEVICE_TYPE
    channel_attrib: int = 3
    channel_state: int = 0
    role: int = 0
    enter_ms: int = 0

    @property
    def is_agent(self) -> bool:
        return self.address_type == ADDRESS_AGENT

    @property
    def participant_type(self) -> int | str:
        """``participantType`` of the conference events: 6 phone, 9 agent, as a number."""
        return int(self.address_type) if self.address_type.isdigit() else self.address_type


@dataclass(slots=True)
class Served:
    """What the last intact queryConfInfos answer said of a conference: what a client that
    read every answer knows (the ground truth's "served" side, see truth.py)."""

    minutes: int
    apply_minutes: int
    peak: int
    addresses: frozenset[str]
    version: int


@dataclass(slots=True, eq=False)
class Conference:
    conf_id: int
    start_ms: int
    apply_minutes: int
    conf_state: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)
    #: evolves by itself (joins, holds, announcements, prolongs); test-made ones do not
    evolve: bool = False
    #: not ended when its applied time runs out: a gateway that keeps a conference past
    #: applyConfTime, which the CcgwConferenceOverAppliedDuration alert is there to catch
    overrun: bool = False
    #: numeric fields this conference sends as strings (``stringly_numbers``)
    stringly: frozenset[str] = frozenset()
    version: int = 0
    #: tokens that invalidate scheduled events when the schedule changes
    end_token: int = 0
    activity_token: int = 0
    warn_token: int = 0
    #: simulated ms at which the current end was scheduled (an end due at once is visible
    #: until that very moment; a later one until the millisecond before)
    end_scheduled_at: int = 0
    #: prolongations made by the population itself (at most two per conference)
    prolonged: int = 0
    #: ground truth (truth.py): live when the truth was last reset; most participants at once
    #: since then; applied time raised while running
    baseline: bool = False
    peak: int = 0
    prolongations: int = 0
    served: Served | None = None
    _cache_key: tuple[int, int] = (-1, -1)
    _cache_json: bytes = b""

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.apply_minutes * 60_000

    def elapsed_minutes(self, now_ms: int) -> int:
        """``confHaveBeenTime``: whole minutes since start (integer ms arithmetic, no drift)."""
        return max(0, (now_ms - self.start_ms) // 60_000)

    def touch(self) -> None:
        self.version += 1

    def agents(self) -> list[str]:
        return [p.address for p in self.participants.values() if p.is_agent]

    def to_json(self, now_ms: int) -> bytes:
        minutes = self.elapsed_minutes(now_ms)
        key = (self.version, minutes)
        if self._cache_key != key:
            self._cache_json = json.dumps(
                self.to_dict(minutes), separators=(",", ":"), ensure_ascii=False
            ).encode()
            self._cache_key = key
        return self._cache_json

    def to_dict(self, minutes: int) -> dict[str, Any]:
        s = self.stringly

        def num(name: str, value: int) -> int | str:
            return str(value) if name in s else value

        return {
            "confId": num("confId", self.conf_id),
            "confState": num("confState", self.conf_state),
            "startTime": num("startTime", self.start_ms),
            "applyConfTime": num("applyConfTime", self.apply_minutes),
            "confHaveBeenTime": num("confHaveBeenTime", minutes),
            "addresses": [
                {
                    "addressType": p.address_type,
                    "address": p.address,
                    "deviceCallType": num("deviceCallType", p.device_call_type),
                    "deviceType": num("deviceType", p.device_type),
                    "channelAttrib": num("channelAttrib", p.channel_attrib),
                    "channelState": num("channelState", p.channel_state),
                    "role": num("role", p.role),
                    "enterTime": num("enterTime", p.enter_ms),
                }
                for p in self.participants.values()
            ],
        }


def _int_field(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return value


def participant_from_mapping(data: dict[str, Any], enter_ms: int) -> Participant:
    """Build a participant from vendor-named (or snake_case) keys; values outside the
    tables are allowed on purpose (clients must count them as unknown), wrong types are not."""
    data = vendor_keys(data)
    unknown = sorted(set(data) - PARTICIPANT_KEYS)
    if unknown:
        raise ValueError(f"unknown participant key(s): {', '.join(unknown)}")
    address = data.get("address")
    if not isinstance(address, str) or not address:
        raise ValueError("address: expected a non-empty string")
    address_type = data.get("addressType", ADDRESS_PHONE)
    if not isinstance(address_type, str):
        raise ValueError("addressType: expected a string such as '6' or '9'")
    is_agent = address_type == ADDRESS_AGENT
    return Participant(
        address=address,
        address_type=address_type,
        device_call_type=_int_field(data, "deviceCallType", 0),
        device_type=_int_field(
            data, "deviceType", AGENT_DEVICE_TYPE if is_agent else PHONE_DEVICE_TYPE
        ),
        channel_attrib=_int_field(data, "channelAttrib", 3),
        channel_state=_int_field(data, "channelState", 0),
        role=_int_field(data, "role", 0),
        enter_ms=_int_field(data, "enterTime", enter_ms),
    )


def apply_participant_changes(p: Participant, data: dict[str, Any]) -> None:
    """Change the given vendor-named (or snake_case) fields of ``p`` (not its address)."""
    data = vendor_keys(data)
    unknown = sorted(set(data) - PARTICIPANT_KEYS)
    if unknown:
        raise ValueError(f"unknown participant key(s): {', '.join(unknown)}")
    if "addressType" in data:
        if not isinstance(data["addressType"], str):
            raise ValueError("addressType: expected a string such as '6' or '9'")
        p.address_type = data["addressType"]
    p.device_call_type = _int_field(data, "deviceCallType", p.device_call_type)
    p.device_type = _int_field(data, "deviceType", p.device_type)
    p.channel_attrib = _int_field(data, "channelAttrib", p.channel_attrib)
    p.channel_state = _int_field(data, "channelState", p.channel_state)
    p.role = _int_field(data, "role", p.role)
    p.enter_ms = _int_field(data, "enterTime", p.enter_ms)
