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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from . import metrics as m
from .collector import ID_SOURCES, Collection
from .gateway.errors import ERROR_REASONS
from .gateway.models import (
    CHANNEL_MODE_VALUES,
    CHANNEL_STATE_VALUES,
    CONF_STATE_VALUES,
    Conference,
)
from .gateway.stats import LATENCY_BUCKETS, CallStats

AddressMode = Literal["masked", "hashed", "plain", "omit"]
CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_LE = [repr(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]
_STATE_INDEX = {value: i for i, value in enumerate(CHANNEL_STATE_VALUES)}
_MODE_INDEX = {value: i for i, value in enumerate(CHANNEL_MODE_VALUES)}


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
    _prefix: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._prefix = f'gateway="{escape(self.collection.gateway)}"'


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


class Renderer:
    """Renders views; holds per-format headers so they are built once per process."""

    def __init__(self, openmetrics: bool = False) -> None:
        self.openmetrics = openmetrics
        self._headers = {d.name: d.header(openmetrics) for d in m.ALL_METRICS}

    def render(self, views: Sequence[GatewayView]) -> list[str]:
        """Text chunks (join them); the OpenMetrics `# EOF` is the caller's, after extras."""
        out: list[str] = []
        h = self._headers
        simple = (
            (m.UP, lambda c: 1 if c.up else 0),
            (m.COLLECTION_DURATION, lambda c: c.duration),
            (m.COLLECTION_TIMEOUT, lambda c: c.timeout),
            (m.COLLECTION_FAILED, lambda c: c.failed_requests),
            (m.SIGNED_IN, lambda c: 1 if c.signed_in else 0),
            (m.CONFERENCES, lambda c: len(c.conferences)),
            (m.REQUESTED, lambda c: c.requested),
            (m.TRUNCATED, lambda c: c.truncated),
        )
        for metric, get in simple:
            out.append(h[metric.name])
            out.extend(f"{metric.name}{{{v._prefix}}} {fmt(get(v.collection))}\n" for v in views)
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
        self._conferences(out, views)
        self._participants(out, views)
        self._counters(out, views)
        return out

    # -- per conference ------------------------------------------------------------------------

    def _conferences(self, out: list[str], views: Sequence[GatewayView]) -> None:
        h = self._headers
        # Label prefix and per-conference counts once, reused by every family below.
        rows = [
            (f'{v._prefix},conf_id="{c.conf_id}"', c, _conf_counts(c))
            for v in views
            for c in v.collection.detailed
        ]
        out.append(h["ccgw_conference_state"])
        for p, c, _ in rows:
            state = c.state
            out.extend(
                f'ccgw_conference_state{{{p},state="{s}"}} {1 if s == state else 0}\n'
                for s in CONF_STATE_VALUES
            )
        out.append(h["ccgw_conference_participants"])
        out.extend(
            f"ccgw_conference_participants{{{p}}} {len(c.participants)}\n" for p, c, _ in rows
        )
        out.append(h["ccgw_conference_channels"])
        for p, _, (states, _) in rows:
            out.append(
                f'ccgw_conference_channels{{{p},state="talking"}} {states[0]}\n'
                f'ccgw_conference_channels{{{p},state="held"}} {states[1]}\n'
                f'ccgw_conference_channels{{{p},state="announcement"}} {states[2]}\n'
                f'ccgw_conference_channels{{{p},state="unknown"}} {states[3]}\n'
            )
        out.append(h["ccgw_conference_channel_modes"])
        for p, _, (_, modes) in rows:
            out.append(
                f'ccgw_conference_channel_modes{{{p},mode="listen"}} {modes[0]}\n'
                f'ccgw_conference_channel_modes{{{p},mode="speak"}} {modes[1]}\n'
                f'ccgw_conference_channel_modes{{{p},mode="listen_speak"}} {modes[2]}\n'
                f'ccgw_conference_channel_modes{{{p},mode="unknown"}} {modes[3]}\n'
            )
        for metric, attr in (
            (m.CONF_START, "start_time"),
            (m.CONF_APPLIED, "applied_seconds"),
            (m.CONF_ELAPSED, "elapsed_seconds"),
        ):
            out.append(h[metric.name])
            name = metric.name
            for p, c, _ in rows:
                value = getattr(c, attr)
                if value is not None:
                    out.append(f"{name}{{{p}}} {fmt(value)}\n")

    # -- per participant (opt-in) --------------------------------------------------------------

    def _participants(self, out: list[str], views: Sequence[GatewayView]) -> None:
        h = self._headers
        info: list[str] = []
        enter: list[str] = []
        for v in views:
            if not v.participant_metrics:
                continue
            for c in v.collection.detailed:
                p = f'{v._prefix},conf_id="{c.conf_id}"'
                seen: dict[str, int] = {}
                for position, part in enumerate(c.participants, 1):
                    address = mask_address(part.address, v.address_mode, v.collection.gateway,
                                           position)  # fmt: skip
                    # The same address twice (e.g. re-joined) must not give duplicate series.
                    n = seen[address] = seen.get(address, 0) + 1
                    if n > 1:
                        address = f"{address}#{n}"
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
            responses = dict.fromkeys(((method, "0") for method in v.methods), 0)
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
            sign_ins = {"0": 0, **v.stats.sign_ins}
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


def _conf_counts(conference: Conference) -> tuple[list[int], list[int]]:
    states = [0, 0, 0, 0]
    modes = [0, 0, 0, 0]
    for part in conference.participants:
        states[_STATE_INDEX[part.channel_state]] += 1
        modes[_MODE_INDEX[part.mode]] += 1
    return states, modes


def _channel_counts(conferences: Iterable[Conference]) -> tuple[int, list[int]]:
    states = [0, 0, 0, 0]
    total = 0
    index = _STATE_INDEX
    for conference in conferences:
        for part in conference.participants:
            states[index[part.channel_state]] += 1
            total += 1
    return total, states
