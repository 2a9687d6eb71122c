"""The typed fast path (exporter/gateway/fastpath.py) against the lenient parser, its oracle.

For every answer the fast path accepts, the lenient parser must produce exactly the same
envelope (retcode, message) and page (every Conference field: counts, members, participants
with the cap, skipped entries); every answer it refuses goes to the lenient parser, so the
production function (`client._decode_conferences`) equals the lenient parser on every answer.
The answers are the vendor's, made quirky one value at a time (numbers as strings, values
outside the tables, extra and missing fields, NaN and huge numbers, strings that need
`safe_text`, retcodes of any shape, lone surrogates, BOMs, deep nesting), and the property
suites' and the hostile suite's own answer strategies.

Controls: well-formed answers must take the fast path (a fast path that refused everything
would pass the differential test), and each refusal rule is shown to be needed, by a value
that the fast path refuses while the lenient parser reads it into something it would
otherwise not produce.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.gateway import fastpath
from exporter.gateway.client import _decode_conferences, _decode_envelope
from exporter.gateway.errors import DecodeError
from exporter.gateway.models import (
    ADDRESS_TYPES,
    CHANNEL_MODES,
    CHANNEL_STATES,
    CONF_STATES,
    DEVICE_CALL_TYPES,
    DEVICE_TYPES,
    ROLES,
    ConferencePage,
)

from .hostile.strategies import envelopes as hostile_envelopes
from .test_properties import bodies as property_bodies

Outcome = tuple[str, str, ConferencePage | None] | str

CAPS = st.sampled_from([0, 1, 2, 3, 500])
CHARSETS = st.sampled_from([None, "utf-8", "UTF-8", " utf8 ", "", "latin-1", "utf-16", "gbk"])


def lenient(payload: bytes, charset: str | None, participants: bool, cap: int) -> Outcome:
    """The oracle: today's lenient path, exactly as the client ran it before the fast path."""
    from exporter.gateway.models import parse_conferences

    try:
        envelope = _decode_envelope(payload, charset)
        if not envelope.ok:
            return envelope.retcode, envelope.message, None
        page = parse_conferences(envelope.result, participants=participants, max_participants=cap)
    except DecodeError:
        return "DecodeError"
    return envelope.retcode, envelope.message, page


def fast(
    payload: bytes,
    charset: str | None,
    participants: bool,
    cap: int,
    cache: fastpath.AddressCache | None = None,
) -> Outcome | None:
    decoded = fastpath.decode_page(payload, charset, participants, cap, cache)
    if decoded is None:
        return None
    envelope, page = decoded
    assert envelope.result is None
    assert envelope.event is None
    return envelope.retcode, envelope.message, page


def production(
    payload: bytes,
    charset: str | None,
    participants: bool,
    cap: int,
    cache: fastpath.AddressCache | None = None,
) -> Outcome:
    try:
        envelope, page = _decode_conferences(payload, charset, participants, cap, cache)
    except DecodeError:
        return "DecodeError"
    return envelope.retcode, envelope.message, page


def check(payload: bytes, charset: str | None, participants: bool, cap: int) -> bool:
    """Both paths agree; True when the fast path took the answer."""
    expected = lenient(payload, charset, participants, cap)
    got = fast(payload, charset, participants, cap)
    if got is not None:
        assert got == expected
        # What the fast path accepts is safe as it stands: nothing was sanitised.
        assert isinstance(got, tuple)
        assert got[0] == "0"
        assert got[2] is not None
        assert got[2].skipped == 0
    assert production(payload, charset, participants, cap) == expected
    # Through the AddressCache: empty, then holding this answer (every conference a hit),
    # and the one shared by all examples, which holds other addresses under the same small
    # conference IDs (a stale entry must never be taken for this answer's).
    for cache in (fastpath.AddressCache(), SHARED_CACHE):
        for _ in range(2):
            cached = fast(payload, charset, participants, cap, cache)
            assert cached == got
            assert production(payload, charset, participants, cap, cache) == expected
        cache.next_collection()
    return got is not None


SHARED_CACHE = fastpath.AddressCache()


# -- answers: the vendor's, then quirky ---------------------------------------------------------

_long = st.integers(0, 2**63 - 1)
_printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)


def _codes(table: dict[int, Any]) -> st.SearchStrategy[int]:
    return st.sampled_from(sorted(table))


participants_ = st.fixed_dictionaries(
    {
        "addressType": st.sampled_from(["6", "9"]),
        "address": _printable,
        "deviceCallType": _codes(DEVICE_CALL_TYPES),
        "deviceType": _codes(DEVICE_TYPES),
        "channelAttrib": _codes(CHANNEL_MODES),
        "channelState": _codes(CHANNEL_STATES),
        "role": _codes(ROLES),
        "enterTime": _long,
    }
)
conferences_ = st.fixed_dictionaries(
    {
        "confId": st.integers(min_value=1, max_value=2**63 - 1),
        "confState": _codes(CONF_STATES),
        "startTime": _long,
        "applyConfTime": st.one_of(st.integers(4, 1440), _long),
        "confHaveBeenTime": st.one_of(st.integers(0, 1440), _long),
        "addresses": st.lists(participants_, max_size=6),
    }
)


@st.composite
def vendor_answers(draw: st.DrawFn) -> dict[str, Any]:
    confs = draw(st.lists(conferences_, max_size=6))
    result: object = {"confs": confs} if draw(st.booleans()) else confs
    return {"message": draw(st.sampled_from(["", "success"]) | _printable), "retcode": "0",
            "result": result}  # fmt: skip


# Values the lenient parser reads differently from (or the same as) a plain JSON integer or
# printable ASCII string, and that the fast path must refuse or read identically.
QUIRK_VALUES: tuple[object, ...] = (
    "0", "1", "2", "3", "6", "9", " 1 ", "01", "-1", "1.0", "", "x", "\u0661", "\u00b2",
    0.0, 1.0, 2.5, -1.0, 1e300, True, False, None, [], {}, [1], {"a": 1},
    -1, -(2**63), 2**63 - 1, 2**63, 2**64, 10**30, 3, 4, 7, 8, 99,
    float("nan"), float("inf"), float("-inf"),
    "\ud800", "a\udfffb", "\x00", "\x1b[31m", "\x7f", "\t", "\r\n", "\u2028", "\u202e",
    "\u00e9", "\u4e2d", "\U0001f600", "\ufeff", "a" * 128, "a" * 129, "b" * 256, "b" * 257,
    '"}{', "\\", "0 ", "100-006", "000-003", " 0", "0\n",
)  # fmt: skip
QUIRKS = st.one_of(st.sampled_from(QUIRK_VALUES), st.integers(), st.text(max_size=8))


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _mutate(data: Any, path: tuple[object, ...], how: str, value: object, key: str) -> Any:
    if not path:
        return value if how == "replace" else data
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[key] = value
    return data


@st.composite
def quirky_answers(draw: st.DrawFn) -> bytes:
    """A vendor answer with a few values replaced, keys deleted or added, then serialised
    in one of several ways (ASCII escapes or raw UTF-8, spacing, a BOM)."""
    data = draw(vendor_answers())
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        key = draw(st.sampled_from(["extra", "confId", "address", "confs", "retcode", "x"]))
        # A copy: the pool's lists and dicts must not be changed by a later mutation.
        data = _mutate(data, path, how, copy.deepcopy(draw(QUIRKS)), key)
    text = json.dumps(
        data,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, None, 1])),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
    )
    raw = text.encode("utf-8", "surrogatepass")
    framing = draw(st.sampled_from(["none", "none", "none", "bom", "space", "nest", "trail"]))
    if framing == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif framing == "space":
        raw = b" \r\n\t" + raw + b"\n "
    elif framing == "nest":
        raw = raw.replace(b'"result":', b'"result":' + b"[" * 3000, 1) + b"]" * 3000
    elif framing == "trail":
        raw += b"x"
    return raw


FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(vendor_answers(), st.booleans(), CAPS)
def test_well_formed_answers_take_the_fast_path(
    answer: dict[str, Any], participants: bool, cap: int
) -> None:
    """The control: the vendor's own answers are the fast path's, and equal the oracle's."""
    for ensure_ascii in (True, False):
        payload = json.dumps(answer, ensure_ascii=ensure_ascii).encode()
        assert check(payload, "UTF-8", participants, cap)
        assert check(payload, None, participants, cap)


@FAST
@given(quirky_answers(), CHARSETS, st.booleans(), CAPS)
def test_quirky_answers_are_read_alike(
    payload: bytes, charset: str | None, participants: bool, cap: int
) -> None:
    check(payload, charset, participants, cap)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(property_bodies(), CHARSETS, st.booleans(), CAPS)
def test_property_suite_bodies_are_read_alike(
    payload: bytes, charset: str | None, participants: bool, cap: int
) -> None:
    check(payload, charset, participants, cap)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_envelopes("queryconfinfos"), st.booleans(), CAPS)
def test_hostile_answers_are_read_alike(payload: bytes, participants: bool, cap: int) -> None:
    check(payload, "utf-8", participants, cap)


# -- each refusal is needed ------------------------------------------------------------------

SAMPLE: dict[str, Any] = {
    "message": "",
    "retcode": "0",
    "result": {
        "confs": [
            {
                "confId": 1029888,
                "confState": 0,
                "startTime": 1475745454000,
                "applyConfTime": 60,
                "confHaveBeenTime": 29,
                "addresses": [
                    {"addressType": "6", "address": "70005", "deviceCallType": 0,
                     "deviceType": 0, "channelAttrib": 3, "channelState": 0, "role": 0,
                     "enterTime": 1475745464000},
                    {"addressType": "9", "address": "153", "deviceCallType": 0,
                     "deviceType": 6, "channelAttrib": 3, "channelState": 1, "role": 1,
                     "enterTime": 1475745454000},
                ],
            }
        ]
    },
}  # fmt: skip


def _sample(*path: object, value: object = None, delete: bool = False) -> bytes:
    data = json.loads(json.dumps(SAMPLE))
    _mutate(data, path, "delete" if delete else "replace", value, "")
    return json.dumps(data).encode()


def test_the_vendor_sample_takes_the_fast_path() -> None:
    payload = json.dumps(SAMPLE).encode()
    decoded = fastpath.decode_page(payload, "UTF-8", True, 500)
    assert decoded is not None
    envelope, page = decoded
    (conference,) = page.conferences
    assert envelope.ok
    assert conference.conf_id == 1029888
    assert conference.channel_counts == (1, 1, 0, 0)
    assert conference.mode_counts == (0, 0, 2, 0)
    assert conference.members == (("70005", 1475745464000), ("153", 1475745454000))
    assert [p.role for p in conference.participants] == ["participant", "chairperson"]
    assert check(payload, "UTF-8", True, 500)
    assert check(payload, "UTF-8", False, 1)


ADDRESS = ("result", "confs", 0, "addresses", 0)


@pytest.mark.parametrize(
    ("payload", "charset"),
    [
        # numbers as strings, floats, booleans, out of range
        (_sample("result", "confs", 0, "confId", value="1029888"), "utf-8"),
        (_sample("result", "confs", 0, "startTime", value=1.5e12), "utf-8"),
        (_sample("result", "confs", 0, "startTime", value=-1), "utf-8"),
        (_sample("result", "confs", 0, "applyConfTime", value=2**63), "utf-8"),
        (_sample(*ADDRESS, "channelState", value=True), "utf-8"),
        (_sample(*ADDRESS, "addressType", value=6), "utf-8"),
        (_sample(*ADDRESS, "addressType", value=" 6"), "utf-8"),
        # outside the vendor's tables
        (_sample(*ADDRESS, "channelState", value=3), "utf-8"),
        (_sample(*ADDRESS, "deviceType", value=8), "utf-8"),
        (_sample("result", "confs", 0, "confState", value=2), "utf-8"),
        # extra and missing fields, another shape of result
        (_sample(*ADDRESS, "extra", value=1), "utf-8"),
        (_sample(*ADDRESS, "role", delete=True), "utf-8"),
        (_sample("result", value=None), "utf-8"),
        (_sample("result", value={}), "utf-8"),
        (_sample("message", delete=True), "utf-8"),
        # strings safe_text / label_text would change
        (_sample(*ADDRESS, "address", value="a\x1b[2Jb"), "utf-8"),
        (_sample(*ADDRESS, "address", value="\ud800"), "utf-8"),
        (_sample(*ADDRESS, "address", value="x" * 129), "utf-8"),
        (_sample(*ADDRESS, "address", value="\u202eevil"), "utf-8"),
        (_sample("message", value="m" * 257), "utf-8"),
        (_sample("message", value="line\nbreak"), "utf-8"),
        (_sample("message", value="del\x7f"), "utf-8"),
        # retcodes, framing, charsets
        (_sample("retcode", value=" 0"), "utf-8"),
        (_sample("retcode", value=0), "utf-8"),
        (_sample("retcode", value="100-006"), "utf-8"),
        (b"\xef\xbb\xbf" + json.dumps(SAMPLE).encode(), "utf-8"),
        (json.dumps(SAMPLE).replace("0,", "NaN,", 1).encode(), "utf-8"),
        (json.dumps(SAMPLE).encode(), "latin-1"),
        (json.dumps(SAMPLE).encode("utf-16"), "utf-16"),
    ],
)
def test_what_the_fast_path_refuses(payload: bytes, charset: str) -> None:
    assert fastpath.decode_page(payload, charset, True, 500) is None
    check(payload, charset, True, 500)
    check(payload, charset, False, 1)


def test_printable_non_ascii_may_take_either_path_and_reads_alike() -> None:
    """Escaped printable ASCII (`\\/`, `\\u0041`) is checked string by string, not refused."""
    payload = json.dumps(SAMPLE).replace('"70005"', '"70\\/05"').replace('""', '"\\u0041"')
    assert check(payload.encode(), "utf-8", True, 500)
    payload = json.dumps(SAMPLE, ensure_ascii=False).replace('"70005"', '"7é"')
    assert not check(payload.encode(), "utf-8", True, 500)


def test_the_literals_are_the_vendor_tables() -> None:
    tables: list[tuple[object, dict[int, Any]]] = [
        (fastpath._ConfState, CONF_STATES),
        (fastpath._ChannelState, CHANNEL_STATES),
        (fastpath._ChannelAttrib, CHANNEL_MODES),
        (fastpath._Role, ROLES),
        (fastpath._DeviceType, DEVICE_TYPES),
        (fastpath._DeviceCallType, DEVICE_CALL_TYPES),
    ]
    for literal, table in tables:
        assert sorted(get_args(literal)) == sorted(table)
    assert sorted(get_args(fastpath._AddressType)) == sorted(str(k) for k in ADDRESS_TYPES)


@pytest.mark.parametrize(
    "text",
    [
        # json keeps the last of duplicate keys; so does msgspec, or it refuses the first
        '{"message":"","retcode":"0","result":[{"confId":1,"confId":2,"confState":0,'
        '"startTime":1,"applyConfTime":1,"confHaveBeenTime":1,"addresses":[]}]}',
        '{"message":"","retcode":"0","result":[{"confId":"1","confId":2,"confState":0,'
        '"startTime":1,"applyConfTime":1,"confHaveBeenTime":1,"addresses":[]}]}',
        '{"message":"","retcode":"0","result":[{"confId":1,"confId":"2","confState":0,'
        '"startTime":1,"applyConfTime":1,"confHaveBeenTime":1,"addresses":[]}]}',
        '{"message":"x","message":"","retcode":"1","retcode":"0","result":[],"result":{"confs":[]}}',
        # keys spelled with escapes are the same keys to both
        '{"mess\\u0061ge":"","retcode":"0","result":{"c\\u006enfs":[]}}',
        '{"message":"","retcode":"0","result":{"confs":[]}}',
        '{"message":"","retcode":"0","result":[]}',
        # -0 is 0 to both; exponents and fractions are floats
        '{"message":"","retcode":"0","result":[{"confId":-0,"confState":-0,'
        '"startTime":0,"applyConfTime":0,"confHaveBeenTime":0,"addresses":[]}]}',
        '{"message":"","retcode":"0","result":[{"confId":1e3,"confState":0,'
        '"startTime":0,"applyConfTime":0,"confHaveBeenTime":0,"addresses":[]}]}',
    ],
)
def test_duplicate_keys_escapes_and_number_spellings(text: str) -> None:
    for participants in (True, False):
        check(text.encode(), "utf-8", participants, 500)


def test_the_shared_empty_participant_list_cannot_change_and_survives_pickling() -> None:
    """Conferences without Participant objects share one empty list: equal to [], unchangeable
    (so sharing it cannot leak a participant from one conference to another), and still an
    empty list after the trip back from the helper process."""
    import pickle

    from exporter.gateway.models import NO_PARTICIPANTS

    payload = json.dumps(SAMPLE).encode()
    for decode in (fast, lenient):
        outcome = decode(payload, "utf-8", False, 500)
        assert isinstance(outcome, tuple)
        page = outcome[2]
        assert page is not None
        (conference,) = page.conferences
        assert conference.participants is NO_PARTICIPANTS
        assert conference.participants == []
    with pytest.raises(TypeError):
        NO_PARTICIPANTS.append(1)
    with pytest.raises(TypeError):
        NO_PARTICIPANTS.extend([1])
    with pytest.raises(TypeError):
        NO_PARTICIPANTS[:] = [1]
    assert NO_PARTICIPANTS == []
    copied = pickle.loads(pickle.dumps(page))
    assert copied == page
    assert copied.conferences[0].participants == []


# -- the AddressCache ----------------------------------------------------------------------------


def _answer(*confs: tuple[int, object]) -> bytes:
    base = SAMPLE["result"]["confs"][0]
    return json.dumps(
        {"message": "", "retcode": "0",
         "result": {"confs": [{**base, "confId": i, "addresses": a} for i, a in confs]}}
    ).encode()  # fmt: skip


PEOPLE: list[dict[str, Any]] = SAMPLE["result"]["confs"][0]["addresses"]


def _page(payload: bytes, cache: fastpath.AddressCache) -> ConferencePage:
    decoded = fastpath.decode_page(payload, "utf-8", False, 500, cache)
    assert decoded is not None
    return decoded[1]


def test_unchanged_addresses_are_reused_not_decoded_again() -> None:
    """The second answer decodes no addresses, and hands on the same members tuple (what lets
    the activity tracker settle "unchanged" by identity)."""
    cache = fastpath.AddressCache()
    payload = _answer((1, PEOPLE), (2, PEOPLE[:1]), (3, []))
    first = _page(payload, cache)
    assert (cache.hits, cache.misses) == (0, 3)
    cache.next_collection()
    second = _page(payload, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    assert second == first
    for a, b in zip(first.conferences, second.conferences, strict=True):
        assert a.members is b.members
        assert a.channel_counts is b.channel_counts


def test_changed_addresses_are_decoded_again_and_counted_anew() -> None:
    cache = fastpath.AddressCache()
    _page(_answer((1, PEOPLE)), cache)
    held = [{**PEOPLE[0], "channelState": 1}, PEOPLE[1]]
    (conference,) = _page(_answer((1, held)), cache).conferences
    assert (cache.hits, cache.misses) == (0, 2)
    assert conference.channel_counts == (0, 2, 0, 0)
    # The same bytes under another conference ID are decoded for that conference.
    (other,) = _page(_answer((2, held)), cache).conferences
    assert cache.misses == 3
    assert other.channel_counts == (0, 2, 0, 0)


def test_addresses_that_fail_the_checks_are_never_cached() -> None:
    """A cached entry exists only for bytes that passed every check: an answer whose addresses
    would not pass goes to the lenient path, each time, and reads as the oracle reads it."""
    cache = fastpath.AddressCache()
    bad = [{**PEOPLE[0], "channelState": 7}]
    payload = _answer((1, bad))
    for _ in range(2):
        assert fastpath.decode_page(payload, "utf-8", False, 500, cache) is None
        assert production(payload, "utf-8", False, 500, cache) == lenient(
            payload, "utf-8", False, 500
        )
    # Not an array at all: valid JSON to the raw decoder, refused when decoded.
    assert fast(_answer((1, 5)), "utf-8", False, 500, cache) is None
    assert len(cache) == 0


def test_the_cache_holds_the_last_collection_only() -> None:
    """While a collection runs, the last one's conferences not seen yet are still there (to be
    found); once it ends, only what it saw is kept: an ended conference goes at once."""
    cache = fastpath.AddressCache()
    cache.next_collection()
    _page(_answer((1, PEOPLE), (2, PEOPLE)), cache)
    cache.collection_done()
    cache.next_collection()
    _page(_answer((2, PEOPLE)), cache)  # conference 1 has ended
    assert len(cache) == 2
    cache.collection_done()
    assert len(cache) == 1
    cache.next_collection()
    cache.collection_done()
    assert len(cache) == 0


def test_each_gateway_client_has_its_own_cache() -> None:
    from exporter.gateway.client import ClientSettings, GatewayClient

    settings = ClientSettings(base_url="https://gw.example:8043/", agent_id="1001")
    assert GatewayClient(settings).addresses is not GatewayClient(settings).addresses


# -- discovery answers (queryvdnconfid) -----------------------------------------------------------


def lenient_ids(payload: bytes, charset: str | None) -> tuple[str, str, list[int] | None] | str:
    """The oracle: how `GatewayClient._call` read a discovery answer before its fast path."""
    from exporter.gateway.models import parse_conference_ids

    try:
        envelope = _decode_envelope(payload, charset)
        if not envelope.ok:
            return envelope.retcode, envelope.message, None
        return envelope.retcode, envelope.message, parse_conference_ids(envelope.result)
    except DecodeError:
        return "DecodeError"


def check_ids(payload: bytes, charset: str | None) -> bool:
    got = fastpath.decode_ids(payload, charset)
    if got is None:
        return False
    envelope, ids = got
    assert (envelope.retcode, envelope.message, ids) == lenient_ids(payload, charset)
    return True


@st.composite
def id_answers(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.integers(1, 2**63 - 1), max_size=30))
    result: object = {"confIds": ids} if draw(st.booleans()) else ids
    message = draw(st.sampled_from(["", "success"]) | _printable)
    return {"message": message, "retcode": "0", "result": result}


@st.composite
def quirky_id_answers(draw: st.DrawFn) -> bytes:
    data = draw(id_answers())
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(data)))
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        key = draw(st.sampled_from(["extra", "confIds", "retcode", "message"]))
        data = _mutate(data, path, how, copy.deepcopy(draw(QUIRKS)), key)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@FAST
@given(id_answers(), st.sampled_from(["utf-8", None]))
def test_well_formed_discovery_answers_take_the_fast_path(
    answer: dict[str, Any], charset: str | None
) -> None:
    assert check_ids(json.dumps(answer).encode(), charset)


@FAST
@given(quirky_id_answers(), CHARSETS)
def test_quirky_discovery_answers_are_read_alike(payload: bytes, charset: str | None) -> None:
    check_ids(payload, charset)


@pytest.mark.parametrize(
    "result",
    [[0, 1], [1, "2"], [1, 2.0], [1, True], [1, None], [2**63], [-5], {"confIds": None}, None,
     {"confIds": [1], "more": 1}, {}],
)  # fmt: skip
def test_what_the_discovery_fast_path_refuses(result: object) -> None:
    """Each is something the lenient parser drops or reads differently, one value at a time."""
    payload = json.dumps({"message": "", "retcode": "0", "result": result}).encode()
    assert fastpath.decode_ids(payload, "utf-8") is None
    assert not check_ids(payload, "utf-8")


def test_an_echoed_secret_is_redacted_on_both_fast_paths() -> None:
    """The lenient envelope redacts a password or Guid the gateway echoes in `message`; the
    fast paths must hand on the same text."""
    from exporter.logs import SECRETS

    SECRETS.password("fast-path-pw-5678")
    message = "echo fast-path-pw-5678"
    ids = json.dumps({"message": message, "retcode": "0", "result": [1]}).encode()
    # SECRETS is the process's: other tests' passwords may be redacted in it too.
    decoded = fastpath.decode_ids(ids, "utf-8")
    assert decoded is not None
    assert decoded[0].message.startswith("echo ")
    assert "fast-path-pw-5678" not in decoded[0].message
    assert check_ids(ids, "utf-8")
    confs = json.dumps({**SAMPLE, "message": message}).encode()
    for participants, cache in ((True, None), (False, None), (False, fastpath.AddressCache())):
        page = fastpath.decode_page(confs, "utf-8", participants, 500, cache)
        assert page is not None
        assert page[0].message == decoded[0].message
        assert check(confs, "utf-8", participants, 500)


def test_few_or_many_missing_entries_decode_alike() -> None:
    """A page with many conferences not in the cache is decoded typed as a whole, one with a
    few conference by conference: both give what the fast path gives without a cache."""
    people = [[{**PEOPLE[0], "address": str(70000 + i), "channelState": i % 3}] * (i % 4)
              for i in range(20)]  # fmt: skip
    payload = _answer(*((i + 1, people[i]) for i in range(20)))
    expected = _page(payload, fastpath.AddressCache())  # 20 missing: the whole page
    assert expected == fast(payload, "utf-8", False, 500)[2]  # type: ignore[index]
    assert expected == lenient(payload, "utf-8", False, 500)[2]  # type: ignore[index]
    for missing in (1, fastpath._PAGE_DECODE_FROM - 1, fastpath._PAGE_DECODE_FROM):
        cache = fastpath.AddressCache()
        _page(_answer(*((i + 1, people[i]) for i in range(missing, 20))), cache)
        assert cache.misses == 20 - missing
        assert _page(payload, cache) == expected
        assert (cache.hits, cache.misses) == (20 - missing, 20)


def test_the_cache_is_bounded_whatever_the_gateway_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrays beyond the vendor's largest conference, and entries beyond the cap, are decoded
    each time instead of kept; what is decoded is the same either way."""
    monkeypatch.setattr(fastpath, "_CACHED_ENTRIES_MAX", 2)
    cache = fastpath.AddressCache()
    payload = _answer((1, PEOPLE), (2, PEOPLE), (3, PEOPLE))
    first = _page(payload, cache)
    assert len(cache) == 2
    assert _page(payload, cache) == first
    assert (cache.hits, cache.misses) == (2, 4)
    crowd = [{**PEOPLE[0], "address": f"{i:08d}"} for i in range(500)]  # ~95 KB of JSON
    cache = fastpath.AddressCache()
    (conference,) = _page(_answer((1, crowd)), cache).conferences
    assert conference.participant_count == 500
    assert len(cache) == 0


def test_a_conference_id_twice_in_one_answer_reads_as_without_the_cache() -> None:
    """A gateway may repeat a conference in one answer with other participants: each entry
    reads as it would without the cache, whichever of the two the cache held before."""
    held = [{**PEOPLE[0], "channelState": 1}]
    payload = _answer((1, PEOPLE), (1, held), (2, []))
    expected = fast(payload, "utf-8", False, 500)
    assert expected == lenient(payload, "utf-8", False, 500)
    for primer in (_answer((1, PEOPLE)), _answer((1, held)), _answer((1, []))):
        cache = fastpath.AddressCache()
        _page(primer, cache)
        for _ in range(2):
            assert fast(payload, "utf-8", False, 500, cache) == expected
