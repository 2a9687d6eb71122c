"""The typed fast path for `queryconfinfos` answers: well-formed bytes straight to conferences.

A scrape of a large contact center decodes hundreds of these answers, and decoding them
(`json.loads`, then the lenient walk over dicts in models.py) was most of the exporter's CPU
(issue 18). An answer exactly as the vendor documents it (queryconfinfos.md, cec_07_0485) is
decoded here by msgspec into typed structs, validated in C as it is read, and turned into the
`Conference` objects the collector needs with no dict in between.

It is a fast path, never a second set of rules. It accepts an answer only when the lenient
parser would take it as it stands, with nothing to repair or sanitise, and then it produces
exactly what the lenient parser produces (the differential test, tests/test_fastpath.py, holds
the two to that on quirky and hostile answers alike). Anything else, it refuses, and the caller
takes the lenient path (`models.py`), which stays the one definition of the behaviour:

- a retcode other than `"0"` (errors carry no conferences; the boundary labels them);
- a declared charset other than UTF-8, a byte-order mark, bytes that are not UTF-8;
- any field missing, any field not in the vendor's tables, `result` absent or null;
- numbers as strings, floats, booleans, NaN, values outside 0..2^63-1 (the lenient rules map
  negative durations and times to "absent");
- enum values outside the vendor's tables (the lenient parser keeps them as `unknown`);
- strings that `boundary.safe_text` / `label_text` would change: anything but printable ASCII,
  a message over `TEXT_LIMIT` or an address over `LABEL_LIMIT` characters, lone surrogates;
- anything that is not JSON to msgspec (it is stricter than `json`: it refuses `NaN`, a BOM,
  lone surrogate escapes, which `json` accepts; an input `json` refuses and msgspec accepts
  for these types is what the differential test would find).

msgspec rather than orjson or the standard library: it validates the schema while it decodes,
so a refusal costs nothing extra and an acceptance leaves no checking to Python; see
docs/performance.md for the measurements behind the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final, Literal, cast, get_args

import msgspec

from ..logs import redact
from .boundary import _UTF8_NAMES, LABEL_LIMIT, TEXT_LIMIT, safe_text
from .models import (
    _ADDRESS_TYPES_TEXT,
    CHANNEL_MODE_VALUES,
    CHANNEL_MODES,
    CHANNEL_STATE_VALUES,
    CHANNEL_STATES,
    CONF_STATES,
    DEVICE_CALL_TYPES,
    DEVICE_TYPES,
    LONG_MAX,
    NO_PARTICIPANTS,
    ROLES,
    Conference,
    ConferencePage,
    Envelope,
    Participant,
)

# What the lenient parser takes as a number without a second look: a JSON integer within a
# Java long (the vendor's `long`), not negative (negative times and durations read as absent).
_Long = Annotated[int, msgspec.Meta(ge=0, le=LONG_MAX)]
# The vendor's value tables (gateway-session.md, "Value tables"); tests/test_fastpath.py
# checks that these literals are exactly the keys of the tables in models.py.
_AddressType = Literal["6", "9"]
_DeviceCallType = Literal[0, 1, 2]
_DeviceType = Literal[0, 1, 2, 3, 4, 5, 6, 7]
_ChannelAttrib = Literal[1, 2, 3]
_ChannelState = Literal[0, 1, 2]
_Role = Literal[0, 1]
_ConfState = Literal[0, 1]


# gc=False: these live only while one answer is turned into conferences, hold no cycles, and
# would otherwise be tracked (and traversed by any collection that happens meanwhile).
class _Participant(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    addressType: _AddressType
    address: Annotated[str, msgspec.Meta(max_length=LABEL_LIMIT)]
    deviceCallType: _DeviceCallType
    deviceType: _DeviceType
    channelAttrib: _ChannelAttrib
    channelState: _ChannelState
    role: _Role
    enterTime: _Long


# A conference ID means what it means in the config and the ids_file (primitives): 1 to
# 2^63-1; 0 falls back to the lenient parser, which skips the entry.
_ConfId = Annotated[int, msgspec.Meta(ge=1, le=LONG_MAX)]


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """What every answer the fast path takes has besides its `result` (subclasses inherit
    the configuration: unknown fields refused, not tracked by the collector)."""

    message: Annotated[str, msgspec.Meta(max_length=TEXT_LIMIT)]
    retcode: Literal["0"]


class _ConferenceHead(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    confId: _ConfId
    confState: _ConfState
    startTime: _Long
    applyConfTime: _Long
    confHaveBeenTime: _Long


class _Conference(_ConferenceHead):
    addresses: list[_Participant]


class _Confs(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    confs: list[_Conference]


class _Answer(_Envelope):
    # The vendor's sample wraps the array as `result.confs`, its table types `result` as the
    # array itself (queryconfinfos.md): both are the vendor's.
    result: _Confs | list[_Conference]


_decoder: Final = msgspec.json.Decoder(_Answer)
_OK: Final = "0"


# The same answer with each conference's `addresses` left as raw JSON (checked for syntax
# only): an AddressCache then decodes and checks them only when they differ from the last
# answer's for that conference (below).
class _RawConference(_ConferenceHead):
    addresses: msgspec.Raw


class _RawConfs(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    confs: list[_RawConference]


class _RawAnswer(_Envelope):
    result: _RawConfs | list[_RawConference]


_raw_decoder: Final = msgspec.json.Decoder(_RawAnswer)
_addresses_decoder: Final = msgspec.json.Decoder(list[_Participant])


class _Addresses(msgspec.Struct, gc=False):
    """What a conference keeps of its participants (the default, without Participant
    objects), and for the AddressCache the raw JSON it was made from."""

    channel_counts: tuple[int, ...]
    mode_counts: tuple[int, ...]
    members: tuple[tuple[object, object], ...]
    # An owning copy (Raw.copy), not a view that would keep the whole answer alive.
    raw: msgspec.Raw | None = None


# An `addresses` array of the vendor's largest conference (memberNum 120, cec_07_1283) is
# ~22 KB; entries per collection as many as the default max_ids.
_CACHED_ARRAY_MAX: Final = 64 * 1024
_CACHED_ENTRIES_MAX: Final = 100_000


class AddressCache:
    """The participants of each conference of one gateway, kept from one collection to the
    next, so that an unchanged `addresses` array is neither decoded nor counted again.

    Why: between two scrapes a conference's participants rarely change (its elapsed minutes
    do, every minute; its `addresses` only when someone joins, leaves or is muted), and they
    are most of an answer's bytes and of its decoding: building three participant structs per
    conference, counting them and making the members tuple was ~40 % of the fast path
    (issue 18, docs/performance.md). Comparing the raw bytes with the last ones is one memcmp.
    Reusing the members tuple also lets the activity tracker see "unchanged" by identity.

    Exact by construction: an entry is only ever made from bytes that decoded and passed the
    checks, and it is reused only for byte-identical JSON of the same conference ID, which
    decodes to the same values. One per GatewayClient (never shared between gateways). It
    holds the conferences of the last collection; while a collection runs, also those of the
    one before that it has not seen yet (`next_collection`), which it lets go when it ends
    (`collection_done`): ended conferences are not kept a scrape longer.
    """

    __slots__ = ("_before", "_now", "hits", "misses")

    def __init__(self) -> None:
        self._now: dict[int, _Addresses] = {}
        self._before: dict[int, _Addresses] = {}
        self.hits = 0
        self.misses = 0

    def next_collection(self) -> None:
        """A collection starts: what the last one saw is looked up, and moved on when seen."""
        self._before = self._now
        self._now = {}

    def collection_done(self) -> None:
        """A collection ended: what it did not see (ended, or in a failed batch) is let go."""
        self._before = {}

    def __len__(self) -> int:
        return len(self._now.keys() | self._before.keys())

    def lookup(self, conf_id: int, raw: msgspec.Raw) -> _Addresses | None:
        entry = self._now.get(conf_id)
        if entry is None:
            entry = self._before.get(conf_id)
        if entry is not None and entry.raw == raw:  # never for None: not stored without raw
            self._now[conf_id] = entry
            return entry
        return None

    def store(self, conf_id: int, entry: _Addresses) -> None:
        # Bounded whatever a gateway sends: conferences it was not asked for, or arrays far
        # beyond the vendor's 120 participants, are decoded each time instead of kept.
        raw = entry.raw
        if (
            raw is not None
            and len(raw) <= _CACHED_ARRAY_MAX
            and len(self._now) < _CACHED_ENTRIES_MAX
        ):
            self._now[conf_id] = entry


def _check_slots() -> None:
    """The counts are filled by position: channelState 0, 1, 2 are the slots of "talking",
    "held", "announcement" in CHANNEL_STATE_VALUES, channelAttrib 1, 2, 3 those of "listen",
    "speak", "listen_speak" (code - 1) in CHANNEL_MODE_VALUES. Every code is in its table (the
    literals above), so the "unknown" slot is never counted here. Checked, not assumed."""
    states = [CHANNEL_STATE_VALUES.index(CHANNEL_STATES[c]) for c in get_args(_ChannelState)]
    modes = [CHANNEL_MODE_VALUES.index(CHANNEL_MODES[c]) + 1 for c in get_args(_ChannelAttrib)]
    if states != list(get_args(_ChannelState)) or modes != list(get_args(_ChannelAttrib)):
        raise ImportError("fastpath: the channel tables no longer match the count slots")


_check_slots()


def _message(text: str) -> str:
    """The message as the lenient envelope keeps it: a password or Guid the gateway echoes
    is redacted there too (`models.envelope_from`); the text is printable ASCII already."""
    return safe_text(redact(text)) if text else text


def _safe(text: str) -> bool:
    """Printable ASCII: what `safe_text` and `label_text` return unchanged at any length
    within their limits (the lengths are checked by the structs)."""
    return text.isascii() and text.isprintable()


def is_utf8(charset: str | None) -> bool:
    """The charset the vendor declares (`application/json; charset=UTF-8`), or none."""
    return (charset or "").strip().lower() in _UTF8_NAMES


def decode_page(
    payload: bytes,
    charset: str | None,
    participants: bool,
    max_participants: int,
    cache: AddressCache | None = None,
) -> tuple[Envelope, ConferencePage] | None:
    """The envelope and the page, exactly as the lenient path would make them; or None when
    the answer is not one the fast path may take (the caller then takes the lenient path).
    `cache`: the gateway's AddressCache, for the counted conferences of the default."""
    if not is_utf8(charset):
        return None
    # One pass over the bytes in C instead of two checks per string: without a backslash
    # (no escape), any non-ASCII byte, or DEL, every string decoded is printable ASCII (JSON
    # itself forbids raw control characters, and msgspec enforces it).
    plain = payload.isascii() and b"\\" not in payload and b"\x7f" not in payload
    if cache is not None and plain and not participants:
        return _decode_cached(payload, cache)
    try:
        answer = _decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    result = answer.result
    confs = result.confs if type(result) is _Confs else result
    assert isinstance(confs, list)
    if not plain and not (
        _safe(answer.message) and all(_safe(p.address) for c in confs for p in c.addresses)
    ):
        return None
    conferences = _with_participants(confs, max_participants) if participants else _counted(confs)
    return Envelope(_OK, _message(answer.message)), ConferencePage(conferences)


def _counted(confs: list[_Conference]) -> list[Conference]:
    """Conferences with their counts and members, no Participant objects (the default).

    What a conference keeps until the next scrape is what the garbage collector traverses and
    what fresh memory is spent on, so nothing is kept twice: the participant list is the one
    shared empty list, count tuples are shared between conferences with the same counts.
    """
    return _built(confs, [_parts(c.addresses) for c in confs])


def _built(confs: Sequence[_ConferenceHead], parts: Sequence[_Addresses]) -> list[Conference]:
    """The Conference objects of a page from its conferences and their participants' parts
    (one comprehension per page, for the cached path and the plain one alike)."""
    conf_state = CONF_STATES
    none = NO_PARTICIPANTS
    return [
        Conference(
            c.confId,
            conf_state[c.confState],
            c.startTime / 1000.0,
            c.applyConfTime * 60.0,
            c.confHaveBeenTime * 60.0,
            none,
            0,
            p.channel_counts,
            p.mode_counts,
            p.members,
            0,
        )
        for c, p in zip(confs, parts, strict=True)
    ]


def _parts(addresses: list[_Participant], raw: msgspec.Raw | None = None) -> _Addresses:
    channel_counts, mode_counts = _tally(addresses)
    return _Addresses(channel_counts, mode_counts, _members(addresses), raw)


def _tally(addresses: list[_Participant]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Channel-state and channel-mode counts, by slot (see _check_slots), shared between
    conferences with the same counts."""
    states = [0, 0, 0, 0]
    modes = [0, 0, 0, 0]
    for p in addresses:
        states[p.channelState] += 1
        modes[p.channelAttrib - 1] += 1
    state_counts = tuple(states)
    mode_counts = tuple(modes)
    shared = _COUNTS if len(_COUNTS) < _COUNTS_LIMIT else {}
    return shared.setdefault(state_counts, state_counts), shared.setdefault(
        mode_counts, mode_counts
    )


def _members(addresses: list[_Participant]) -> tuple[tuple[object, object], ...]:
    """Who is in: (address, enterTime) per participant (the activity tracker's joins and
    leaves)."""
    return tuple([(p.address, p.enterTime) for p in addresses])


def _decode_cached(payload: bytes, cache: AddressCache) -> tuple[Envelope, ConferencePage] | None:
    """`_counted` through the cache: the conferences as `_counted` makes them, with each
    `addresses` array decoded only when its bytes differ from the cached ones. The caller has
    checked that the payload is printable ASCII without escapes.

    Arrays not in the cache are decoded one by one when they are few; when they are many (a
    new gateway, the first scrape, a page of new conferences), the whole page is decoded typed
    in one C call instead, as without the cache: a decoder call per conference would cost a
    first scrape 53-88 ms against 32-40 without the cache (docs/performance.md, step 10).
    """
    try:
        answer = _raw_decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    result = answer.result
    confs = result.confs if type(result) is _RawConfs else result
    assert isinstance(confs, list)
    lookup = cache.lookup
    entries = [lookup(c.confId, c.addresses) for c in confs]
    missing = [i for i, entry in enumerate(entries) if entry is None]
    if missing:
        if len(missing) >= _PAGE_DECODE_FROM:
            try:
                typed = _decoder.decode(payload)
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
            full = typed.result.confs if type(typed.result) is _Confs else typed.result
            assert isinstance(full, list)
            parsed = [full[i].addresses for i in missing]
        else:
            try:
                parsed = [_addresses_decoder.decode(confs[i].addresses) for i in missing]
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
        store = cache.store
        for i, addresses in zip(missing, parsed, strict=True):
            c = confs[i]
            entry = entries[i] = _parts(addresses, c.addresses.copy())
            store(c.confId, entry)
        cache.misses += len(missing)
    cache.hits += len(entries) - len(missing)
    filled = cast("list[_Addresses]", entries)  # every missing entry was filled above
    return Envelope(_OK, _message(answer.message)), ConferencePage(_built(confs, filled))


# Missing entries in one page from which the whole page is decoded at once (measured, see
# _decode_cached; a page holds up to 20 conferences).
_PAGE_DECODE_FROM: Final = 4


# `queryvdnconfid` (cec_07_0486): `result.confIds`, or the bare array, of conference IDs.
class _Ids(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    confIds: list[_ConfId]


class _IdsAnswer(_Envelope):
    result: _Ids | list[_ConfId]


_ids_decoder: Final = msgspec.json.Decoder(_IdsAnswer)


def decode_ids(payload: bytes, charset: str | None) -> tuple[Envelope, list[int]] | None:
    """The discovery answer's envelope and IDs, as `_decode_envelope` and
    `models.parse_conference_ids` make them; or None (the caller takes that lenient path).

    Taken only as the vendor documents it: every ID a JSON integer from 1 to 2^63-1 (the
    lenient parser drops anything else, one value at a time), no other field, a printable
    message. 10,000 IDs: 1.9 -> 0.3 ms per collection (issue 18).
    """
    if not is_utf8(charset):
        return None
    try:
        answer = _ids_decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if not _safe(answer.message):
        return None
    result = answer.result
    ids = result.confIds if type(result) is _Ids else result
    assert isinstance(ids, list)
    return Envelope(_OK, _message(answer.message)), ids


# Count tuples seen, shared by the conferences that have them (a handful for any population;
# bounded against a peer sending every combination).
_COUNTS: dict[tuple[int, ...], tuple[int, ...]] = {}
_COUNTS_LIMIT: Final = 4096


def _with_participants(confs: list[_Conference], max_participants: int) -> list[Conference]:
    """Conferences with Participant objects too (per-participant series), capped as the
    lenient parser caps them: the first `max_participants` entries, the rest counted."""
    out: list[Conference] = []
    cap = max(0, max_participants)
    for c in confs:
        addresses = c.addresses
        parsed: list[Participant] = []
        for p in addresses[:cap]:
            parsed.append(
                Participant(
                    p.address,
                    _ADDRESS_TYPES_TEXT[p.addressType],
                    CHANNEL_STATES[p.channelState],
                    CHANNEL_MODES[p.channelAttrib],
                    ROLES[p.role],
                    DEVICE_TYPES[p.deviceType],
                    DEVICE_CALL_TYPES[p.deviceCallType],
                    p.enterTime / 1000.0,
                )
            )
        out.append(
            Conference(
                c.confId,
                CONF_STATES[c.confState],
                c.startTime / 1000.0,
                c.applyConfTime * 60.0,
                c.confHaveBeenTime * 60.0,
                parsed,
                0,
                *_tally(addresses),
                _members(addresses),
                max(0, len(addresses) - cap),
            )
        )
    return out
