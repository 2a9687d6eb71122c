"""Property-based tests of everything that reads gateway bytes: no input makes an exception escape.

A gateway (or the balancer or proxy in front of it) can send anything: HTML, half a body,
numbers as strings, numbers too large for any Java long, Unicode digits, NaN, nesting deep
enough to blow the recursion limit. Each case must end as a parsed model or as one of the
typed errors (`DecodeError` from the parsers, `RetcodeError`/`TransportError` from the client);
anything else would cost a whole gateway's collection, or the scrape.

The parsers are fed arbitrary JSON and near-valid envelopes (valid ones, then mutated); the
client is fed the same bodies over a real loopback socket, so its decode path is the one that
runs in production. A round-trip property keeps the tests honest: valid conferences must come
out with the IDs and values that went in, so "never raises" cannot pass by parsing nothing.
Example counts are modest to keep the suite fast; `HYPOTHESIS_PROFILE=thorough` runs more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.collector import Collection
from exporter.exposition import GatewayView, Renderer
from exporter.gateway.client import (
    ClientSettings,
    ConferenceQuery,
    EventAnswer,
    GatewayClient,
    SignInAnswer,
)
from exporter.gateway.errors import DecodeError, RetcodeError, TransportError
from exporter.gateway.events import interpret
from exporter.gateway.models import (
    CHANNEL_MODE_VALUES,
    CHANNEL_STATE_VALUES,
    CONF_STATE_VALUES,
    ConferencePage,
    Envelope,
    parse_conference_ids,
    parse_conferences,
    parse_envelope,
)
from exporter.gateway.stats import CallStats

settings.register_profile("fast", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

# -- strategies -------------------------------------------------------------------------------

# Scalars a gateway has been seen to send or plausibly could: numbers as JSON numbers and as
# strings, Unicode digits ("²", "٣") that str.isdigit() accepts but int() does not, values far
# outside a Java long, NaN and infinities (Python's json reads them), and text.
_huge = st.integers(min_value=-(10**400), max_value=10**400)
_numeric_text = st.one_of(
    st.from_regex(r"\A\s?[-+]{0,2}[0-9]{1,25}\s?\Z"),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),
    st.sampled_from(["", " ", "1e3", "0x10", "NaN", "-", "--5", "5-", "١٢", "²"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _huge,
    st.floats(allow_nan=True, allow_infinity=True),
    _numeric_text,
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
field_value = st.one_of(scalars, json_values)

participant_like = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            key: field_value
            for key in (
                "address",
                "addressType",
                "deviceCallType",
                "deviceType",
                "channelAttrib",
                "channelState",
                "role",
                "enterTime",
            )
        },
    ),
    json_values,
)
conference_like = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "confId": field_value,
            "confState": field_value,
            "startTime": field_value,
            "applyConfTime": field_value,
            "confHaveBeenTime": field_value,
            "addresses": st.one_of(st.lists(participant_like, max_size=4), field_value),
        },
    ),
    json_values,
)
results = st.one_of(
    st.fixed_dictionaries({"confs": st.one_of(st.lists(conference_like, max_size=4), field_value)}),
    st.lists(conference_like, max_size=4),
    st.fixed_dictionaries({"confIds": st.one_of(st.lists(field_value, max_size=6), field_value)}),
    json_values,
)
events = st.one_of(
    st.fixed_dictionaries(
        {"eventType": st.one_of(st.sampled_from(["AgentConf_SelfJoinResult"]), field_value)},
        optional={
            "content": st.one_of(st.fixed_dictionaries({"confId": field_value}), field_value)
        },
    ),
    json_values,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "retcode": st.one_of(
            st.sampled_from(["0", " 0 ", "100-007", "000-003", "100-006", ""]), field_value
        ),
        "message": field_value,
        "result": results,
        "event": events,
    },
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A serialised envelope, often intact, else damaged the ways transports damage bodies."""
    envelope = draw(envelopes)
    raw = json.dumps(envelope).encode()
    damage = draw(
        st.sampled_from(["none", "none", "truncate", "flip", "insert", "bom", "nest", "html"])
    )
    if damage == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    elif damage == "insert":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "nest":
        depth = draw(st.sampled_from([10, 1000, 100_000]))
        raw = b'{"retcode":"0","result":' + b"[" * depth + b"]" * depth + b"}"
    elif damage == "html":
        raw = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return raw


# -- the parsers ------------------------------------------------------------------------------


def _check_page(page: ConferencePage) -> None:
    """What the exposition relies on: identifiable conferences with finite numbers and labels
    from the fixed value sets, and that rendering them cannot fail."""
    for conference in page.conferences:
        assert isinstance(conference.conf_id, int)
        assert conference.conf_id >= 0
        assert conference.state in CONF_STATE_VALUES
        for number in (
            conference.start_time,
            conference.applied_seconds,
            conference.elapsed_seconds,
        ):
            assert number is None or (isinstance(number, float) and math.isfinite(number))
        for participant in conference.participants:
            assert isinstance(participant.address, str)
            assert participant.channel_state in CHANNEL_STATE_VALUES
            assert participant.mode in CHANNEL_MODE_VALUES
            enter = participant.enter_time
            assert enter is None or math.isfinite(enter)
    collection = Collection("gw", 1.0, up=True, signed_in=True)
    collection.conferences = collection.detailed = list(page.conferences)
    view = GatewayView(collection, CallStats(), participant_metrics=True, address_mode="plain")
    for openmetrics in (False, True):
        assert "".join(Renderer(openmetrics=openmetrics).render([view]))


@given(bodies())
def test_parse_envelope_gives_an_envelope_or_a_decode_error(body: bytes) -> None:
    try:
        envelope = parse_envelope(body)
    except DecodeError:
        return
    assert isinstance(envelope, Envelope)
    assert envelope.retcode
    assert envelope.retcode == envelope.retcode.strip()
    assert isinstance(envelope.message, str)


@given(st.one_of(st.binary(max_size=64), st.text(max_size=64)))
def test_parse_envelope_of_arbitrary_bytes_and_text(body: bytes | str) -> None:
    with contextlib.suppress(DecodeError):
        assert isinstance(parse_envelope(body), Envelope)


@given(results)
def test_parse_conferences_gives_a_page_or_a_decode_error(result: object) -> None:
    try:
        page = parse_conferences(result)
    except DecodeError:
        return
    _check_page(page)


@given(results)
def test_parse_conference_ids_gives_non_negative_ints_or_a_decode_error(result: object) -> None:
    try:
        ids = parse_conference_ids(result)
    except DecodeError:
        return
    assert all(type(i) is int and 0 <= i < 2**63 for i in ids)


@given(events)
def test_agent_event_interpret_never_raises(raw: object) -> None:
    event = interpret(raw, "153")
    if event is not None:
        assert type(event.conf_id) is int
        assert event.conf_id > 0


# The control case: well-formed conferences, with numbers as numbers or decimal strings as
# real gateways send them, come out with exactly what went in.
_long = st.integers(min_value=0, max_value=2**53)
_conf_id = st.integers(min_value=1, max_value=2**53)  # 1.., as the config's (primitives)
_as_sent = st.sampled_from([int, str])


@given(
    st.lists(
        st.tuples(_conf_id, st.integers(0, 1), _long, st.integers(4, 1440), _as_sent),
        max_size=20,
        unique_by=lambda t: t[0],
    ),
    st.booleans(),
)
def test_well_formed_conferences_round_trip(
    confs: list[tuple[int, int, int, int, Any]], bare: bool
) -> None:
    entries = [
        {
            "confId": as_sent(conf_id),
            "confState": as_sent(state),
            "startTime": as_sent(start),
            "applyConfTime": as_sent(minutes),
            "addresses": [{"addressType": "6", "address": "70005", "channelState": 1}],
        }
        for conf_id, state, start, minutes, as_sent in confs
    ]
    body = json.dumps({"retcode": "0", "result": entries if bare else {"confs": entries}})
    page = parse_conferences(parse_envelope(body).result)
    assert page.skipped == 0
    assert [c.conf_id for c in page.conferences] == [c[0] for c in confs]
    for conference, (_, state, start, minutes, _) in zip(page.conferences, confs, strict=True):
        assert conference.state == ("talking", "announcement")[state]
        assert conference.start_time == start / 1000
        assert conference.applied_seconds == minutes * 60
        assert [p.channel_state for p in conference.participants] == ["held"]
    _check_page(page)


# -- the client, over a real loopback socket --------------------------------------------------


@dataclass
class Canned:
    """What the canned server answers next, whatever the path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class CannedServer:
    """An aiohttp server on loopback in its own thread, answering whatever it is told to.

    Its own thread and loop because hypothesis runs each example synchronously; the client
    under test then runs in `asyncio.run` per example, as it would in a fresh process.
    """

    def __init__(self) -> None:
        self.next = Canned()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        canned = self.next
        return web.Response(status=canned.status, body=canned.body, headers=canned.headers)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> CannedServer:
        self._thread.start()
        assert self._ready.wait(10), "canned server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedServer]:
    with CannedServer() as server:
        yield server


_CLIENT_CALLS = ("loginEx", "getAgentEvent", "queryAllConfIds", "query_conf_batch")


async def _call(url: str, method: str) -> object:
    client = GatewayClient(ClientSettings(base_url=url, agent_id="153"))
    try:
        deadline = asyncio.get_running_loop().time() + 5.0
        before = _observations(client.stats)
        try:
            if method == "loginEx":
                result: object = await client.loginEx("pw", "", deadline)
            elif method == "getAgentEvent":
                result = await client.getAgentEvent(deadline)
            elif method == "queryAllConfIds":
                result = await client.queryAllConfIds(deadline)
            else:
                result = await client.query_conf_batch([1029888, 1029889], deadline)
        except (RetcodeError, TransportError) as error:
            result = error
        # Every call is counted exactly once, as an answer or as an error, whatever happened.
        assert _observations(client.stats) == before + 1
        return result
    finally:
        await client.close()


def _observations(stats: CallStats) -> int:
    return sum(stats.responses.values()) + sum(stats.errors.values())


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=bodies(),
    status=st.sampled_from([200, 200, 200, 404, 500, 502, 503]),
    set_guid=st.one_of(
        st.none(), st.just("JSESSIONID=279fe21d.AgentGateway0"), st.text(max_size=12)
    ),
    method=st.sampled_from(_CLIENT_CALLS),
)
def test_client_turns_every_answer_into_a_model_or_a_typed_error(
    canned: CannedServer, body: bytes, status: int, set_guid: str | None, method: str
) -> None:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if set_guid is not None and set_guid.isprintable() and set_guid.isascii():
        headers["Set-GUID"] = set_guid
    canned.next = Canned(status, body, headers)
    result = asyncio.run(_call(canned.url, method))
    if isinstance(result, (RetcodeError, TransportError)):
        assert result.label
        if status != 200:
            assert isinstance(result, TransportError)
            assert result.reason == "http_status"
        return
    if method == "query_conf_batch":
        # The one call that reports failure in its answer (a failed batch) instead of raising.
        assert isinstance(result, ConferenceQuery)
        assert result.calls == 1
        for failed in result.failed:
            assert isinstance(failed.error, (RetcodeError, TransportError))
        if status != 200:
            assert [f.error.label for f in result.failed] == ["http_status"]
        _check_page(ConferencePage(result.conferences, result.skipped_entries))
        return
    assert status == 200
    if method == "loginEx":
        assert isinstance(result, SignInAnswer)
        result.vdn.encode("utf-8")  # safe text, whatever the answer held
    elif method == "getAgentEvent":
        assert isinstance(result, EventAnswer)
    else:
        assert isinstance(result, list)
        assert all(type(i) is int for i in result)


def test_client_control_case_a_valid_answer_is_parsed(canned: CannedServer) -> None:
    """Without this, the property above would also pass for a client that fails everything."""
    conf = {"confId": "1029888", "confState": 0, "addresses": [{"address": "70005"}]}
    body = json.dumps({"message": "", "retcode": "0", "result": {"confs": [conf]}}).encode()
    canned.next = Canned(200, body, {"Content-Type": "application/json"})
    result = asyncio.run(_call(canned.url, "query_conf_batch"))
    assert isinstance(result, ConferenceQuery)
    assert result.failed == []
    assert [c.conf_id for c in result.conferences] == [1029888]
