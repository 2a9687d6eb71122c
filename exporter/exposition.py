"""Collections -> Prometheus text format 0.0.4 or OpenMetrics 1.0.

Rendered directly to text rather than through prometheus_client's metric families: a large
contact center has thousands of conferences and ~15 series each, and building one `Metric`
object and one sample tuple per series before formatting them costs several times more CPU than
formatting the lines straight away. Headers are computed once per family, label prefixes once
per gateway and conference, and every known enum value is written (0 included), so series
never go stale while a conference lives.

Output is grouped by family (all gateways' samples of a family together), as both formats
require. `tests/test_exposition.py` checks it with prometheus_client's parsers and promtool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from . import metrics as m
from .activity import OUTCOMES, ConferenceActivity, Histogram
from .collector import ID_SOURCES, Collection
from .gateway.errors import ERROR_REASONS
from .gateway.models import (
    CHANNEL_MODE_VALUES,
    CHANNEL_STATE_VALUES,
    CONF_STATE_VALUES,
    Conference,
    Participant,
)
from .gateway.stats import LATENCY_BUCKETS, CallStats
from .gateway.vendor import DOCUMENTED_RETCODES

if TYPE_CHECKING:
    from .collector import GatewayTarget

AddressMode = Literal["masked", "hashed", "plain", "omit"]
CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_LE = [repr(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]
# For each conference state, its three `ccgw_conference_state` lines without their prefix.
_STATE_TAILS = {
    state: ["", *(f',state="{s}"}} {1 if s == state else 0}\n' for s in CONF_STATE_VALUES)]
    for state in CONF_STATE_VALUES
}


@dataclass(slots=True)
class GatewayView:
    """What the exposition needs of one gateway: this collection plus the running counters."""

    collection: Collection
    stats: CallStats
    # Methods this gateway calls, zero-filled in the counters so rate() works from the start.
    methods: tuple[str, ...] = ()
    sign_in_method: str = "loginEx"
    discovery_failures: int = 0
    participant_metrics: bool = False
    address_mode: AddressMode = "masked"
    activity: ConferenceActivity | None = None
    backoff: float = 0.0
    loop_failures: int = 0
    _prefix: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._prefix = f'gateway="{escape(self.collection.gateway)}"'


def view_of(target: GatewayTarget, collection: Collection, backoff: float = 0.0) -> GatewayView:
    """A gateway's view for one scrape: its collection and its running counters."""
    participants = target.config.participants
    return GatewayView(
        collection,
        target.stats,
        methods=target.methods,
        sign_in_method=target.sign_in_method,
        discovery_failures=target.discovery_failures,
        participant_metrics=participants.metrics,
        address_mode=participants.address,
        activity=target.activity,
        backoff=backoff,
        loop_failures=target.session.crashes,
    )


def escape(value: str) -> str:
    """Label-value escaping of both formats: backslash, double quote, newline."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def fmt(value: float) -> str:
    """Integers without a fraction; other floats as Python's shortest repr."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def mask_address(address: str, mode: AddressMode, salt: str, position: int) -> str:
    """Phone numbers are personal data: by default keep only the last 4 characters."""
    if mode == "plain":
        return address
    if mode == "masked":
        return "*" * max(0, len(address) - 4) + address[-4:]
    if mode == "hashed":
        return hashlib.sha256(f"{salt}\0{address}".encode()).hexdigest()[:16]
    return f"p{position}"


@dataclass(frozen=True, slots=True)
class Body:
    """A rendered body as the encoded lines it was built from, never joined whole.

    Joining 11 MB (10,000 conferences) into one bytes object cost a fresh mmap, ~2,800 page
    faults and an munmap per scrape (memtune's fixed 128 KiB mmap threshold): 16 ms of CPU
    against 3.5 ms for joining it in 64 KiB pieces as they are sent, which malloc serves from
    memory the previous piece just gave back (issue 18). The lines are mostly the renderer's
    kept lines, so holding them costs a list of references, not a copy.
    """

    chunks: Sequence[bytes]
    size: int

    @classmethod
    def of(cls, chunks: Sequence[bytes]) -> Body:
        return cls(chunks, sum(map(len, chunks)))

    def pieces(self, target: int) -> Iterator[bytes]:
        """The body in pieces of about `target` bytes (whole chunks; a chunk longer than
        `target` is a piece of its own size), joined only as they are asked for."""
        chunks = self.chunks
        if not chunks:
            return
        # By count, not by summing sizes in Python: the lines are of similar length.
        step = max(1, target * len(chunks) // max(self.size, 1))
        for start in range(0, len(chunks), step):
            yield b"".join(chunks[start : start + step])

    def join(self) -> bytes:
        return b"".join(self.chunks)


class SharedBodies:
    """The last rendered body, kept with the collections and the format it was rendered from.

    Scrapes that arrive together share one collection (collector.py); this makes them share
    one rendering too, so ten Prometheus replicas cost one render and one body in memory
    instead of ten (at 10,000 conferences a body is ~11 MB). A body is found only for the very
    same collection objects, so a later scrape, which always gets a new collection, never sees
    an old body (with no gateway there is no collection to tell scrapes apart, so nothing is
    shared). One entry only: the next render replaces it and frees the old body.
    """

    def __init__(self) -> None:
        self._entry: tuple[tuple[bool, bool], tuple[Collection, ...], Body] | None = None

    def get(self, key: tuple[bool, bool], views: Sequence[GatewayView]) -> Body | None:
        entry = self._entry
        if entry is None or not views or entry[0] != key or len(entry[1]) != len(views):
            return None
        if all(c is v.collection for c, v in zip(entry[1], views, strict=True)):
            return entry[2]
        return None

    def put(self, key: tuple[bool, bool], views: Sequence[GatewayView], body: Body) -> None:
        self._entry = (key, tuple(v.collection for v in views), body)


# Family tails per count tuple, for ccgw_conference_channels and _channel_modes.
_Tails = tuple[dict[tuple[int, ...], list[str]], dict[tuple[int, ...], list[str]]]


# Per gateway prefix and conference ID: the lines of the last render (Renderer._conferences),
# shared by the text and the OpenMetrics renderer.
_KEPT: dict[str, dict[int, _Kept]] = {}


@dataclass(slots=True)
class _Kept:
    """One conference's lines of the six families that depend only on `values`, in family
    order (`lines`: state, participants, channels, modes, start, applied; "" for an unknown
    start or applied time), and its elapsed line with the value it was rendered from."""

    values: tuple[object, ...]  # (state, channel_counts, mode_counts, start, applied)
    prefix: str  # `gateway="..",conf_id=".."`
    lines: tuple[bytes, bytes, bytes, bytes, bytes, bytes]  # UTF-8
    elapsed_value: float | None = None
    elapsed: bytes = b""


class Renderer:
    """Renders views; holds per-format headers so they are built once per process."""

    def __init__(self, openmetrics: bool = False) -> None:
        self.openmetrics = openmetrics
        self._headers = {d.name: d.header(openmetrics) for d in m.ALL_METRICS}

    def render(self, views: Sequence[GatewayView]) -> list[str]:
        """Text chunks (join them); the OpenMetrics `# EOF` is the caller's, after extras."""
        head, families, tail = self._parts(views)
        out = head
        for header, lines in families:
            out.append(header)
            out.extend(line.decode() for line in lines)
        out.extend(tail)
        return out

    def render_bytes(self, views: Sequence[GatewayView]) -> list[bytes]:
        """The same text as `render`, as UTF-8 chunks (`b"".join` them).

        The per-conference lines are kept encoded (see `_conferences`), so a large body is
        built once, as bytes, instead of as one string and then again as its encoding: at
        10,000 conferences two 11 MB buffers less per scrape (issue 18).
        """
        head, families, tail = self._parts(views)
        out = ["".join(head).encode()]
        for header, lines in families:
            out.append(header.encode())
            out.extend(lines)
        out.append("".join(tail).encode())
        return out

    def _parts(
        self, views: Sequence[GatewayView]
    ) -> tuple[list[str], list[tuple[str, Sequence[bytes]]], list[str]]:
        """What precedes the per-conference families, those families (header and encoded
        lines), and what follows them."""
        out: list[str] = []
        h = self._headers
        simple = (
            (m.UP, lambda c: 1 if c.up else 0),
            (m.COMPLETE, lambda c: 1 if c.complete else 0),
            (m.COLLECTION_DURATION, lambda c: c.duration),
            (m.COLLECTION_TIMEOUT, lambda c: c.timeout),
            (m.COLLECTION_AGE, lambda c: c.age),
            (m.COLLECTION_FAILED, lambda c: c.failed_requests),
            (m.SIGNED_IN, lambda c: 1 if c.signed_in else 0),
            (m.CONFERENCES, lambda c: len(c.conferences)),
            (m.STALE, lambda c: c.stale),
            (m.STALE_AGE, lambda c: c.stale_age),
            (m.REQUESTED, lambda c: c.requested),
            (m.TRUNCATED, lambda c: c.truncated),
            (m.IDS_DROPPED, lambda c: c.ids_dropped),
        )
        for metric, get in simple:
            out.append(h[metric.name])
            out.extend(f"{metric.name}{{{v._prefix}}} {fmt(get(v.collection))}\n" for v in views)
        out.append(h[m.BACKOFF.name])
        out.extend(f"{m.BACKOFF.name}{{{v._prefix}}} {fmt(round(v.backoff, 3))}\n" for v in views)
        out.append(h[m.SESSION_INFO.name])
        for v in views:
            c = v.collection
            account = c.account
            out.append(
                f'ccgw_session_info{{{v._prefix},agent_id="{escape(c.agent_id)}",'
                f'vdn="{escape(account.vdn)}",node="{escape(account.node)}",'
                f'role="{account.role}"}} 1\n'
            )
        out.append(h[m.BY_SOURCE.name])
        for v in views:
            by_source = v.collection.ids_by_source
            out.extend(
                f'ccgw_conference_ids{{{v._prefix},source="{s}"}} {by_source.get(s, 0)}\n'
                for s in ID_SOURCES
            )
        # Aggregates over all conferences (also those beyond the per-conference cap).
        counts = [_channel_counts(v.collection.conferences) for v in views]
        out.append(h[m.PARTICIPANTS.name])
        for v, (participants, _) in zip(views, counts, strict=True):
            out.append(f"ccgw_participants{{{v._prefix}}} {participants}\n")
        out.append(h[m.CHANNELS.name])
        for v, (_, states) in zip(views, counts, strict=True):
            out.extend(
                f'ccgw_channels{{{v._prefix},state="{s}"}} {states[i]}\n'
                for i, s in enumerate(CHANNEL_STATE_VALUES)
            )
        out.append(h[m.SKIPPED.name])
        out.extend(
            f"ccgw_collection_skipped_entries{{{v._prefix}}} {v.collection.skipped_entries}\n"
            for v in views
        )
        families = self._conferences(views)
        tail: list[str] = []
        self._participants(tail, views)
        self._counters(tail, views)
        return out, families, tail

    # -- per conference ------------------------------------------------------------------------

    def _conferences(self, views: Sequence[GatewayView]) -> list[tuple[str, Sequence[bytes]]]:
        """The hot loop: 15 series per conference, for thousands of conferences.

        One pass over the conferences fills one list per family (the output must be grouped by
        family). A family's lines for one conference differ only in their tails (`,state="held"}
        0`), and tails repeat: they are built once per distinct count tuple (a handful per
        scrape) and joined with the conference's `name{gateway=..,conf_id=..` prefix, one C call
        per family. Durations repeat too and are formatted once per distinct value.

        Between two scrapes most conferences keep their state, participants and times, so the
        lines of the six families that depend on nothing else are kept per gateway and
        conference ID, with the values they were rendered from, and reused while those values
        are equal (issue 18: half the render); the elapsed line is kept with its own value (it
        moves every minute). Only the conferences of the last render are kept (~1.5 KB each),
        once for both formats (these lines are the same in both).
        """
        h = self._headers
        rows: list[tuple[bytes, bytes, bytes, bytes, bytes, bytes]] = []
        elapsed: list[bytes] = []
        append = rows.append
        durations: dict[float, str] = {}
        tails: _Tails = ({}, {})
        previous = _KEPT
        kept: dict[str, dict[int, _Kept]] = {}
        for v in views:
            gateway = v._prefix
            before = previous.get(gateway, {})
            now = kept[gateway] = {}
            for c in v.collection.detailed:
                conf_id = c.conf_id
                values = (c.state, c.channel_counts, c.mode_counts, c.start_time,
                          c.applied_seconds)  # fmt: skip
                entry = before.get(conf_id)
                if entry is None or entry.values != values:
                    entry = _render_conference(gateway, c, values, durations, tails)
                now[conf_id] = entry
                value = c.elapsed_seconds
                if value != entry.elapsed_value:
                    entry.elapsed_value = value
                    if value is None:
                        entry.elapsed = b""
                    else:
                        text = durations.get(value)
                        if text is None:
                            text = durations[value] = fmt(value)
                        entry.elapsed = (
                            f"ccgw_conference_elapsed_duration_seconds{{{entry.prefix}}} {text}\n"
                        ).encode()
                append(entry.lines)
                elapsed.append(entry.elapsed)
        _KEPT.clear()
        _KEPT.update(kept)
        # A conference's six kept lines per row; transposed, one column per family in the
        # families' order. b"" (no start, no applied, no elapsed time) adds nothing.
        fixed: list[tuple[bytes, ...]] = list(zip(*rows, strict=True)) or [()] * 6
        return [
            (h[m.CONF_STATE.name], fixed[0]),
            (h[m.CONF_PARTICIPANTS.name], fixed[1]),
            (h[m.CONF_CHANNELS.name], fixed[2]),
            (h[m.CONF_MODES.name], fixed[3]),
            (h[m.CONF_START.name], fixed[4]),
            (h[m.CONF_APPLIED.name], fixed[5]),
            (h[m.CONF_ELAPSED.name], elapsed),
        ]

    # -- per participant (opt-in) --------------------------------------------------------------

    def _participants(self, out: list[str], views: Sequence[GatewayView]) -> None:
        h = self._headers
        info: list[str] = []
        enter: list[str] = []
        for v in views:
            if not v.participant_metrics:
                continue
            salt = v.collection.gateway
            for c in v.collection.detailed:
                p = f'{v._prefix},conf_id="{c.conf_id}"'
                for address, part in _labelled(c.participants, v.address_mode, salt):
                    a = escape(address)
                    info.append(
                        f'ccgw_participant_info{{{p},address="{a}",'
                        f'address_type="{part.address_type}",role="{part.role}",'
                        f'channel_state="{part.channel_state}",mode="{part.mode}",'
                        f'device_type="{part.device_type}",'
                        f'device_call_type="{part.device_call_type}"}} 1\n'
                    )
                    if part.enter_time is not None:
                        enter.append(
                            f'ccgw_participant_enter_timestamp_seconds{{{p},address="{a}"}} '
                            f"{fmt(part.enter_time)}\n"
                        )
        out.append(h["ccgw_participant_info"])
        out.extend(info)
        out.append(h["ccgw_participant_enter_timestamp_seconds"])
        out.extend(enter)

    # -- counters and the histogram ------------------------------------------------------------

    def _counters(self, out: list[str], views: Sequence[GatewayView]) -> None:
        h = self._headers
        out.append(h["ccgw_responses_total"])
        for v in views:
            # Every documented retcode of every method called, at 0 until it happens: the
            # first occurrence then shows in increase() (issue 13, item 6).
            responses = dict.fromkeys(
                (
                    (method, code)
                    for method in v.methods
                    for code in ("0", *DOCUMENTED_RETCODES.get(method, ()))
                ),
                0,
            )
            responses.update(v.stats.responses)
            out.extend(
                f'ccgw_responses_total{{{v._prefix},method="{method}",retcode="{escape(code)}"}}'
                f" {count}\n"
                for (method, code), count in sorted(responses.items())
            )
        out.append(h["ccgw_request_errors_total"])
        for v in views:
            errors: dict[tuple[str, str], int] = dict.fromkeys(
                ((method, reason) for method in v.methods for reason in ERROR_REASONS), 0
            )
            errors.update(v.stats.errors)
            out.extend(
                f'ccgw_request_errors_total{{{v._prefix},method="{method}",reason="{reason}"}}'
                f" {count}\n"
                for (method, reason), count in sorted(errors.items())
            )
        out.append(h["ccgw_request_duration_seconds"])
        for v in views:
            for method in sorted(set(v.methods) | set(v.stats.latency)):
                hist = v.stats.latency.get(method)
                p = f'{v._prefix},method="{method}"'
                counts: Iterable[int] = hist.counts if hist else [0] * len(_LE)
                cumulative = 0
                for le, n in zip(_LE, counts, strict=True):
                    cumulative += n
                    out.append(
                        f'ccgw_request_duration_seconds_bucket{{{p},le="{le}"}} {cumulative}\n'
                    )
                total = hist.total if hist else 0.0
                count = hist.count if hist else 0
                out.append(
                    f"ccgw_request_duration_seconds_sum{{{p}}} {fmt(total)}\n"
                    f"ccgw_request_duration_seconds_count{{{p}}} {count}\n"
                )
        out.append(h["ccgw_session_sign_ins_total"])
        for v in views:
            documented = DOCUMENTED_RETCODES.get(v.sign_in_method, frozenset())
            sign_ins = dict.fromkeys(("0", *documented), 0)
            sign_ins.update(v.stats.sign_ins)
            out.extend(
                f'ccgw_session_sign_ins_total{{{v._prefix},retcode="{escape(code)}"}} {n}\n'
                for code, n in sorted(sign_ins.items())
            )
        out.append(h["ccgw_session_guid_renewals_total"])
        out.extend(
            f"ccgw_session_guid_renewals_total{{{v._prefix}}} {v.stats.guid_renewals}\n"
            for v in views
        )
        out.append(h["ccgw_discovery_failures_total"])
        out.extend(
            f"ccgw_discovery_failures_total{{{v._prefix}}} {v.discovery_failures}\n" for v in views
        )
        per_view: tuple[tuple[m.MetricDef, Callable[[GatewayView], int]], ...] = (
            (m.GUIDS_REJECTED, lambda v: sum(v.stats.guids_rejected.values())),
            (m.CONFLICTS, lambda v: v.stats.conflicts),
            (m.LOOP_FAILURES, lambda v: v.loop_failures),
            (m.TIMEOUT_WARNINGS, lambda v: v.stats.timeout_warnings),
        )
        for metric, get in per_view:
            out.append(h[metric.name])
            out.extend(f"{metric.name}{{{v._prefix}}} {get(v)}\n" for v in views)
        self._activity(out, views)

    # -- conference activity -------------------------------------------------------------------

    def _activity(self, out: list[str], views: Sequence[GatewayView]) -> None:
        h = self._headers
        empty = ConferenceActivity()
        acts = [(v, v.activity or empty) for v in views]
        counters: tuple[tuple[m.MetricDef, Callable[[ConferenceActivity], int]], ...] = (
            (m.STARTED, lambda a: a.started),
            (m.PROLONGED, lambda a: a.prolongations),
            (m.JOINED, lambda a: a.joined),
            (m.LEFT, lambda a: a.left),
        )
        for metric, count in counters:
            out.append(h[metric.name])
            out.extend(f"{metric.name}{{{v._prefix}}} {count(a)}\n" for v, a in acts)
        out.append(h[m.ENDED.name])
        for v, a in acts:
            out.extend(
                f'{m.ENDED.name}{{{v._prefix},outcome="{o}"}} {a.ended[o]}\n' for o in OUTCOMES
            )
        histograms: tuple[tuple[m.MetricDef, Callable[[ConferenceActivity], Histogram]], ...] = (
            (m.DURATION, lambda a: a.duration),
            (m.APPLIED_SHARE, lambda a: a.applied_share),
            (m.PEAK, lambda a: a.peak_participants),
        )
        for metric, hist in histograms:
            out.append(h[metric.name])
            for v, a in acts:
                _histogram(out, metric.name, v._prefix, hist(a))


def _histogram(out: list[str], name: str, prefix: str, hist: Histogram) -> None:
    cumulative = 0
    for bound, n in zip((*hist.buckets, None), hist.counts, strict=True):
        cumulative += n
        le = "+Inf" if bound is None else repr(float(bound))
        out.append(f'{name}_bucket{{{prefix},le="{le}"}} {cumulative}\n')
    out.append(f"{name}_sum{{{prefix}}} {fmt(hist.total)}\n{name}_count{{{prefix}}} {hist.count}\n")


def _labelled(
    participants: Sequence[Participant], mode: AddressMode, salt: str
) -> list[tuple[str, Participant]]:
    """Each participant with a label value unique within its conference.

    The same address twice (re-joined, or two numbers masked alike) gets `#2`, `#3`... in a
    deterministic order (by address, then enter time and the other fields), so the labels do
    not swap when the gateway reorders its list, and a suffix never collides with an address
    that already ends in `#2` (the next free one is taken).
    """
    labels = [
        mask_address(part.address, mode, salt, position)
        for position, part in enumerate(participants, 1)
    ]
    order = sorted(
        range(len(participants)),
        key=lambda i: (
            labels[i],
            participants[i].enter_time or 0.0,
            participants[i].address_type,
            participants[i].role,
            participants[i].channel_state,
            participants[i].mode,
            i,
        ),
    )
    used = set(labels)
    taken: set[str] = set()
    result: list[tuple[str, Participant]] = []
    for i in order:
        label = labels[i]
        if label in taken:
            n = 2
            while f"{label}#{n}" in used or f"{label}#{n}" in taken:
                n += 1
            label = f"{label}#{n}"
        taken.add(label)
        result.append((label, participants[i]))
    return result


def _render_conference(
    gateway: str,
    c: Conference,
    values: tuple[object, ...],
    durations: dict[float, str],
    tails: _Tails,
) -> _Kept:
    """A conference's lines of the six families `values` determine. A family's tails are
    built once per distinct count tuple in a render (a handful)."""
    p = f'{gateway},conf_id="{c.conf_id}"'
    channel_tails, mode_tails = tails
    counts = c.channel_counts
    found = channel_tails.get(counts)
    if found is None:
        found = channel_tails[counts] = _tails("state", CHANNEL_STATE_VALUES, counts)
    channels = f"ccgw_conference_channels{{{p}".join(found)
    participants = f"ccgw_conference_participants{{{p}}} {sum(counts)}\n"
    counts = c.mode_counts
    found = mode_tails.get(counts)
    if found is None:
        found = mode_tails[counts] = _tails("mode", CHANNEL_MODE_VALUES, counts)
    modes = f"ccgw_conference_channel_modes{{{p}".join(found)
    value = c.start_time
    start = (
        f"ccgw_conference_start_timestamp_seconds{{{p}}} {fmt(value)}\n"
        if value is not None
        else ""
    )
    value = c.applied_seconds
    applied = ""
    if value is not None:
        text = durations.get(value)
        if text is None:
            text = durations[value] = fmt(value)
        applied = f"ccgw_conference_applied_duration_seconds{{{p}}} {text}\n"
    state = f"ccgw_conference_state{{{p}".join(_STATE_TAILS[c.state])
    lines = (state, participants, channels, modes, start, applied)
    return _Kept(values, p, tuple(line.encode() for line in lines))  # type: ignore[arg-type]


def _tails(label: str, values: Sequence[str], counts: Sequence[int]) -> list[str]:
    """A family's lines for one conference without their common prefix, led by an empty
    string: `prefix.join(tails)` is then the lines."""
    return ["", *(f',{label}="{value}"}} {n}\n' for value, n in zip(values, counts, strict=True))]


def _channel_counts(conferences: Iterable[Conference]) -> tuple[int, list[int]]:
    """Participants and participants by channel state over all conferences."""
    states = [0, 0, 0, 0]
    for conference in conferences:
        a, b, c, d = conference.channel_counts
        states[0] += a
        states[1] += b
        states[2] += c
        states[3] += d
    return sum(states), states
