"""The benchmark cannot rot, and the optimisations behind it changed no behaviour.

- A smoke run of `bench/` end to end: the real simulator and exporter processes, every
  scenario, the table and the JSON, at tiny sizes (a few seconds). Timing floors are judged only
  by `make bench`, never here; what is exact at any size (gateway calls per collection, promtool)
  is asserted.
- The reference implementation and the exporter render the same series from the same answers;
  a changed answer shows up as a difference (the control).
- The fast paths equal the lenient rules they short-cut: parsing (against the straightforward
  parser kept here as the oracle), the participant counts, the shared body, the memory settings.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import shutil
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families as parse_text

from bench import pipeline, reference
from bench.answers import Answers, counters_for
from bench.procs import BARE_AGENT
from bench.report import table, write_json
from bench.run import SMOKE, run
from bench.transport import BareClient
from ccgw_simulator.config import Account, default_accounts
from exporter import memtune
from exporter.collector import Collection
from exporter.exposition import Body, GatewayView, Renderer, SharedBodies
from exporter.gateway.boundary import label_text
from exporter.gateway.models import (
    ADDRESS_TYPES,
    CHANNEL_MODE_VALUES,
    CHANNEL_MODES,
    CHANNEL_STATE_VALUES,
    CHANNEL_STATES,
    CONF_STATES,
    DEVICE_CALL_TYPES,
    DEVICE_TYPES,
    ROLES,
    UNKNOWN,
    Conference,
    Participant,
    lenient_int,
)
from exporter.gateway.stats import CallStats
from exporter.web import SlicedBody

from .conftest import SimFactory

# -- the smoke run ---------------------------------------------------------------------------


async def test_smoke_run_measures_every_floor(tmp_path: Path) -> None:
    started = time.monotonic()
    results = await asyncio.wait_for(run(SMOKE, tmp_path), timeout=60)
    assert time.monotonic() - started < 30

    assert [v.floor for v in results.verdicts] == [1, 2, 3, 4, 5, 6]
    assert [r.conferences for r in results.latency] == sorted(SMOKE.sizes)
    for row in results.latency:
        assert len(row.scrape_s) == len(row.transport_s) == SMOKE.latency_runs
        # Exact at any size: one discovery and ceil(N/20) queries per collection.
        assert row.query_calls == [-(-row.conferences // 20)] * SMOKE.latency_runs
        assert row.discovery_calls == [1] * SMOKE.latency_runs
    assert [(r.scrapers, r.query_calls, r.discovery_calls) for r in results.load] == [
        (n, 5, 1) for n in SMOKE.scrapers
    ]
    assert results.verdicts[3].met

    cpu = results.cpu
    assert cpu is not None
    # Process CPU comes in 10 ms clock ticks, and two scrapes of 100 conferences may take less:
    # 0 is a possible reading here, a large one is not (make bench measures N = 10,000).
    assert 0 <= cpu.exporter_cpu_s < 0.05
    assert 0 <= cpu.simulator_cpu_s < 0.05
    assert len(cpu.parse_s) == SMOKE.cpu_runs
    assert cpu.reference_s
    assert cpu.output_bytes > 100 * 1000  # ~1.1 kB per conference: the series are there
    # Keep-alive: the scrapes reused the connections of the first one (no new handshakes).
    assert cpu.connections >= 1
    assert cpu.new_connections == 0

    # Floor 6: every (N, latency) pair measured on both sides, in the order planned; the
    # larger N after the memory floor (which is judged at the largest of `sizes`).
    assert [(r.conferences, r.latency_ms, len(r.naive_cpu_s)) for r in results.ratios] == list(
        SMOKE.ratios
    )
    for ratio in results.ratios:
        assert len(ratio.exporter_cpu_s) == len(ratio.naive_cpu_s)
        assert all(s >= 0 for s in ratio.exporter_cpu_s)
        assert all(s > 0 for s in ratio.naive_cpu_s)  # process_time: never 0 for 5+ calls

    memory = results.memory
    assert memory is not None
    assert memory.baseline_scrape == SMOKE.memory_baseline
    assert memory.last_scrape == SMOKE.memory_last
    assert memory.baseline > 10 * 2**20

    serving = results.serving
    assert serving is not None
    assert {(r.format, r.gzip) for r in serving.rows} == {
        ("text", False), ("text", True), ("openmetrics", False), ("openmetrics", True)
    }  # fmt: skip
    for served in serving.rows:
        if served.gzip:
            assert served.wire_bytes < served.body_bytes
        else:
            assert served.wire_bytes == served.body_bytes
    if shutil.which("promtool"):
        assert serving.promtool == "ok"

    # New connections: the simulator resumed every session the exporter's context offered.
    rows = {(r.version, r.mode): r for r in results.handshakes}
    n = SMOKE.concurrency * SMOKE.handshake_rounds
    for version in ("TLSv1.3", "TLSv1.2"):
        assert (rows[version, "full"].connections, rows[version, "full"].resumed) == (n, 0)
        assert (rows[version, "resumed"].connections, rows[version, "resumed"].resumed) == (n, n)

    text = table(results)
    assert "floor 1" in text
    assert "floor 5" in text
    assert "floor 6" in text
    assert "TLSv1.2 resumed" in text
    assert "[MET ] 4." in text
    out = tmp_path / "results" / "latest.json"
    write_json(results, out)
    data = json.loads(out.read_text())
    assert data["latency"][0]["ratio"] > 0
    assert data["memory"]["growth"] == pytest.approx(memory.growth)
    assert data["cpu"]["exporter_inprocess_s"] > 0
    assert len(data["ratios"]) == len(SMOKE.ratios)


# -- the reference renders what the exporter renders -----------------------------------------


def families(text: str) -> dict[str, tuple[str, str, list[tuple[str, tuple[Any, ...], float]]]]:
    return {
        f.name: (
            f.type,
            f.documentation,
            sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples),
        )
        for f in parse_text(text)
    }


@pytest.fixture
async def answers(make_sim: SimFactory) -> Answers:
    """A simulated population with held and announcing participants, fetched as the bench's
    bare client fetches it."""
    accounts = [*default_accounts(), Account(BARE_AGENT[0], BARE_AGENT[1], inspector=True)]
    sim = await make_sim(conferences=70, seed=3, accounts=accounts)
    sim.population.set_conf_state(sim.population.conf_ids()[0], 1)
    sim.population.set_participant(sim.population.conf_ids()[1], "70001", channel_state=1)
    client = BareClient(sim, concurrency=4)
    try:
        await client.sign_in()
        kept = (await client.collect(keep=True)).answers
    finally:
        await client.close()
    assert kept is not None
    return kept


def test_reference_and_exporter_render_the_same_series(answers: Answers) -> None:
    counters = counters_for(answers)
    ours = families(pipeline.scrape(Renderer(), answers, counters).decode())
    theirs = families(reference.scrape(answers, counters).decode())
    assert len(ours["ccgw_conference_channels"][2]) == 4 * 70
    held = [s for s in ours["ccgw_conference_channels"][2] if ("state", "held") in s[1]]
    assert any(value >= 1 for *_, value in held)
    assert list(ours) == list(theirs)  # same families, same order
    assert ours == theirs


def test_the_comparison_sees_a_changed_answer(answers: Answers) -> None:
    """Control: one participant's channel state changed in one answer is a difference."""
    first = answers.batches[0]
    assert b'"channelState":0' in first
    held = first.replace(b'"channelState":0', b'"channelState":1', 1)
    changed = Answers(answers.discovery, (held, *answers.batches[1:]))
    counters = counters_for(answers)
    ours = families(pipeline.scrape(Renderer(), changed, counters).decode())
    theirs = families(reference.scrape(answers, counters).decode())
    assert ours["ccgw_conference_channels"] != theirs["ccgw_conference_channels"]
    assert ours["ccgw_channels"] != theirs["ccgw_channels"]


# -- parsing: the fast paths against the lenient rules ----------------------------------------


def _label(table: dict[int, Any], value: object) -> Any:
    code = lenient_int(value)
    return UNKNOWN if code is None else table.get(code, UNKNOWN)


def _millis(value: object) -> float | None:
    number = lenient_int(value)
    return None if number is None or number < 0 else number / 1000.0


def _minutes(value: object) -> float | None:
    number = lenient_int(value)
    return None if number is None or number < 0 else number * 60.0


def oracle_participant(raw: dict[str, Any]) -> Participant:
    """The straightforward lenient parser the fast path replaced, field by field."""
    return Participant(
        # Label text at the boundary (boundary.label_text): strings made safe, integers as
        # decimals, anything else "".
        address=label_text(raw.get("address")),
        address_type=_label(ADDRESS_TYPES, raw.get("addressType")),
        channel_state=_label(CHANNEL_STATES, raw.get("channelState")),
        mode=_label(CHANNEL_MODES, raw.get("channelAttrib")),
        role=_label(ROLES, raw.get("role")),
        device_type=_label(DEVICE_TYPES, raw.get("deviceType")),
        device_call_type=_label(DEVICE_CALL_TYPES, raw.get("deviceCallType")),
        enter_time=_millis(raw.get("enterTime")),
    )


# What gateways send, and what they should not but might.
values = st.one_of(
    st.integers(-3, 12),
    st.integers(-(2**70), 2**70),
    st.sampled_from(["0", "1", "2", "3", "6", "9", " 1 ", "01", "-1", "1.0", "x", ""]),
    st.booleans(),
    st.sampled_from([0.0, 1.0, 2.5, -1.0]),
    st.none(),
    st.lists(st.integers(0, 2), max_size=1),
)
addresses = st.one_of(st.text(max_size=6), st.integers(0, 10**12), st.booleans(), st.none())
FIELDS = ("addressType", "channelState", "channelAttrib", "role", "deviceType",
          "deviceCallType", "enterTime")  # fmt: skip
participant_dicts = st.builds(
    lambda address, picked: {"address": address, **picked},
    addresses,
    st.dictionaries(st.sampled_from(FIELDS), values),
)
conference_dicts = st.builds(
    lambda conf_id, state, entries, times: {
        "confId": conf_id,
        "confState": state,
        "addresses": entries,
        **times,
    },
    st.one_of(st.integers(0, 2**40), st.sampled_from(["42", " 7 ", "-1", True, None, 1.0])),
    values,
    st.lists(st.one_of(participant_dicts, st.just(5), st.none()), max_size=6),
    st.dictionaries(st.sampled_from(("startTime", "applyConfTime", "confHaveBeenTime")), values),
)


@settings(max_examples=300, deadline=None)
@given(participant_dicts)
def test_participant_fast_path_equals_the_lenient_rules(raw: dict[str, Any]) -> None:
    assert Participant.parse(raw) == oracle_participant(raw)


@settings(max_examples=300, deadline=None)
@given(conference_dicts)
def test_conference_counts_equal_the_parsed_participants(raw: dict[str, Any]) -> None:
    full = Conference.parse(raw)
    counted = Conference.parse(raw, participants=False)
    conf_id = lenient_int(raw["confId"])
    if conf_id is None or conf_id < 1:  # 1 to 2^63-1, as everywhere (primitives)
        assert full is None
        assert counted is None
        return
    assert full is not None
    assert counted is not None
    entries = [e for e in raw["addresses"] if isinstance(e, dict)]
    assert full.participants == [oracle_participant(e) for e in entries]
    assert counted.participants == []
    states = [p.channel_state for p in full.participants]
    modes = [p.mode for p in full.participants]
    expected_states = tuple(states.count(v) for v in CHANNEL_STATE_VALUES)
    expected_modes = tuple(modes.count(v) for v in CHANNEL_MODE_VALUES)
    for conference in (full, counted):
        assert conference.channel_counts == expected_states
        assert conference.mode_counts == expected_modes
        assert conference.participant_count == len(entries)
        assert conference.skipped_participants == len(raw["addresses"]) - len(entries)
        assert conference.state == _label(CONF_STATES, raw["confState"])
        assert conference.start_time == _millis(raw.get("startTime"))
        assert conference.applied_seconds == _minutes(raw.get("applyConfTime"))
        assert conference.elapsed_seconds == _minutes(raw.get("confHaveBeenTime"))


def test_booleans_stay_off_the_fast_path() -> None:
    """Control for the type checks: True == 1 in Python, and must still read as unknown."""
    conf = Conference.parse({"confId": 1, "addresses": [{"channelState": True, "role": True}]})
    assert conf is not None
    assert conf.channel_counts == (0, 0, 0, 1)
    assert conf.participants[0].role == "unknown"


# -- one body for scrapes that share a collection ---------------------------------------------


def view(collection: Collection) -> GatewayView:
    return GatewayView(collection, CallStats())


def test_scrapes_sharing_a_collection_share_its_body() -> None:
    bodies = SharedBodies()
    shared = Collection("gw", 9.5)
    body = Body.of([b"body"])
    bodies.put((False, True), [view(shared)], body)
    assert bodies.get((False, True), [view(shared)]) is body
    # Control: an equal but different collection (a later scrape), another format, more
    # gateways: each is a render of its own.
    assert bodies.get((False, True), [view(Collection("gw", 9.5))]) is None
    assert bodies.get((True, True), [view(shared)]) is None
    assert bodies.get((False, True), [view(shared), view(shared)]) is None
    # No gateway, no collection: every scrape renders (its exporter-wide series are fresh).
    bodies.put((False, True), [], Body.of([b"exporter-wide only"]))
    assert bodies.get((False, True), []) is None


class Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes | memoryview) -> None:
        self.chunks.append(bytes(chunk))


def lines(count: int) -> list[bytes]:
    """Lines like the renderer's: of similar but not equal length."""
    return [b'ccgw_conference_participants{conf_id="%d"} %d\n' % (i, i % 7) for i in range(count)]


async def test_a_body_is_sent_in_slices_and_dropped_once_sent() -> None:
    """aiohttp keeps a keep-alive connection's last response until the next request: the body
    must not stay with it (it pinned 11 MB per scraper's connection). And it is joined only a
    slice at a time: one 11 MB join cost an mmap and its page faults per scrape."""
    body = Body.of(lines(40_000))
    whole = body.join()
    assert body.size == len(whole) > 10 * SlicedBody.SLICE
    payload = SlicedBody(body, content_type="text/plain")
    assert payload.size == len(whole)
    writer = Writer()
    await payload.write(writer)  # type: ignore[arg-type]
    assert b"".join(writer.chunks) == whole
    # Whole lines in every slice, each about SLICE bytes (the lines are of similar length).
    assert all(c.endswith(b"\n") for c in writer.chunks)
    assert max(len(c) for c in writer.chunks) < 1.1 * SlicedBody.SLICE
    assert len(writer.chunks) <= -(-len(whole) // SlicedBody.SLICE) + 1
    assert payload.decode() == ""  # released
    # Control: the same body, not yet sent, is still there.
    assert SlicedBody(body, content_type="text/plain").decode() == whole.decode()


class GoneWriter(Writer):
    async def write(self, chunk: bytes | memoryview) -> None:
        if self.chunks:
            raise ConnectionResetError("the scraper went away")
        await super().write(chunk)


async def test_a_body_is_dropped_when_the_scraper_leaves_mid_body() -> None:
    payload = SlicedBody(Body.of(lines(40_000)), content_type="text/plain")
    with pytest.raises(ConnectionResetError):
        await payload.write(GoneWriter())  # type: ignore[arg-type]
    assert payload.decode() == ""  # released, not pinned by the dead response


async def test_a_declared_length_bounds_what_is_written() -> None:
    body = Body.of(lines(5_000))
    writer = Writer()
    await SlicedBody(body, "text/plain").write_with_length(writer, 1000)  # type: ignore[arg-type]
    assert b"".join(writer.chunks) == body.join()[:1000]


def test_a_line_longer_than_a_slice_is_a_piece_of_its_own() -> None:
    long = b"x" * (3 * SlicedBody.SLICE) + b"\n"
    body = Body.of([b"a\n", long, b"b\n"])
    pieces = list(body.pieces(SlicedBody.SLICE))
    assert b"".join(pieces) == b"a\n" + long + b"b\n"
    assert list(Body.of([]).pieces(SlicedBody.SLICE)) == []


# -- the memory settings -------------------------------------------------------------------------


def test_memory_settings_apply_and_yield_to_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    thresholds = gc.get_threshold()
    try:
        memtune.tune()
        assert gc.get_threshold() == memtune.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    glibc = hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    assert memtune.fix_mmap_threshold() is glibc
    monkeypatch.setitem(os.environ, "MALLOC_MMAP_THRESHOLD_", "65536")
    assert memtune.fix_mmap_threshold() is False


async def test_periodic_full_collection_frees_cycles_the_young_collections_missed() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the cyclic garbage collector frees it
    gone = weakref.ref(a)
    gc.disable()  # as if the thresholds were never reached
    collections = memtune.PeriodicCollection(interval=0.05)
    try:
        del a, b
        assert gone() is not None
        collections.start()
        # A full collection of this test process (all of pytest's objects) can take tens of
        # milliseconds: wait for two runs rather than for a fixed time.
        for _ in range(1000):  # up to 10 s
            if collections.runs >= 2:
                break
            await asyncio.sleep(0.01)
        assert collections.runs >= 2
        assert gone() is None
        collections.stop()
        runs = collections.runs
        await asyncio.sleep(0.2)
        assert collections.runs == runs
    finally:
        collections.stop()
        gc.enable()
