"""The straightforward implementation the exporter is measured against (floor 2).

Same input (the raw answers), same output (the same families, labels and values as the
exporter's default series, checked by `tests/test_bench.py`), written the way a first version
of a Python exporter usually is: `json.loads`, a custom collector yielding prometheus_client's
`GaugeMetricFamily` / `CounterMetricFamily` / `HistogramMetricFamily`, and `generate_latest`.
It reads the vendor's dicts directly and maps enumerations through the exporter's value tables;
it does not handle the lenient cases (numbers as strings) the exporter does, which only makes it
cheaper, so the comparison favours the reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter import metrics as m
from exporter.activity import DURATION_BUCKETS, OUTCOMES, PEAK_BUCKETS, SHARE_BUCKETS
from exporter.collector import ID_SOURCES
from exporter.gateway.errors import ERROR_REASONS
from exporter.gateway.models import (
    CHANNEL_MODE_VALUES,
    CHANNEL_MODES,
    CHANNEL_STATE_VALUES,
    CHANNEL_STATES,
    CONF_STATE_VALUES,
    CONF_STATES,
)
from exporter.gateway.stats import LATENCY_BUCKETS
from exporter.gateway.vendor import DOCUMENTED_RETCODES

from .answers import DURATION, TIMEOUT, Answers, Counters

_LE = [repr(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]


class ReferenceCollector(Collector):
    """Builds every family from the answers on each `collect()`, as client_python suggests."""

    def __init__(self, answers: Answers, counters: Counters) -> None:
        self.answers = answers
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        gw = self.answers.gateway
        ids = json.loads(self.answers.discovery)["result"]["confIds"]
        confs: list[dict[str, Any]] = []
        for body in self.answers.batches:
            confs.extend(json.loads(body)["result"]["confs"])
        confs.sort(key=lambda c: int(c["confId"]))

        def gauge(metric: m.MetricDef, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(metric.name, metric.help, labels=["gateway"])
            family.add_metric([gw], value)
            return family

        yield gauge(m.UP, 1)
        yield gauge(m.COMPLETE, 0)  # as the pipeline's Collection: complete is not set
        yield gauge(m.COLLECTION_DURATION, DURATION)
        yield gauge(m.COLLECTION_TIMEOUT, TIMEOUT)
        yield gauge(m.COLLECTION_AGE, 0)
        yield gauge(m.COLLECTION_FAILED, 0)
        yield gauge(m.SIGNED_IN, 1)
        yield gauge(m.CONFERENCES, len(confs))
        yield gauge(m.STALE, 0)
        yield gauge(m.STALE_AGE, 0)
        yield gauge(m.REQUESTED, len(set(ids)))
        yield gauge(m.TRUNCATED, 0)
        yield gauge(m.IDS_DROPPED, 0)
        yield gauge(m.BACKOFF, 0)
        info = GaugeMetricFamily(
            m.SESSION_INFO.name, m.SESSION_INFO.help, labels=m.SESSION_INFO.labels
        )
        info.add_metric([gw, "", "", "", "unknown"], 1)
        yield info
        by_source = GaugeMetricFamily(
            m.BY_SOURCE.name, m.BY_SOURCE.help, labels=["gateway", "source"]
        )
        for source in ID_SOURCES:
            by_source.add_metric([gw, source], len(ids) if source == "discovered" else 0)
        yield by_source

        total = 0
        totals = dict.fromkeys(CHANNEL_STATE_VALUES, 0)
        for conf in confs:
            for address in conf["addresses"]:
                totals[CHANNEL_STATES.get(address["channelState"], "unknown")] += 1
                total += 1
        yield gauge(m.PARTICIPANTS, total)
        channels = GaugeMetricFamily(m.CHANNELS.name, m.CHANNELS.help, labels=["gateway", "state"])
        for state, count in totals.items():
            channels.add_metric([gw, state], count)
        yield channels
        yield gauge(m.SKIPPED, 0)
        yield from self._conferences(gw, confs)
        yield GaugeMetricFamily(m.PARTICIPANT_INFO.name, m.PARTICIPANT_INFO.help, labels=[])
        yield GaugeMetricFamily(m.PARTICIPANT_ENTER.name, m.PARTICIPANT_ENTER.help, labels=[])
        yield from self._counters(gw)

    def _conferences(self, gw: str, confs: list[dict[str, Any]]) -> Iterator[Metric]:
        c_labels = ["gateway", "conf_id"]
        state = GaugeMetricFamily(m.CONF_STATE.name, m.CONF_STATE.help, labels=[*c_labels, "state"])
        participants = GaugeMetricFamily(
            m.CONF_PARTICIPANTS.name, m.CONF_PARTICIPANTS.help, labels=c_labels
        )
        channels = GaugeMetricFamily(
            m.CONF_CHANNELS.name, m.CONF_CHANNELS.help, labels=[*c_labels, "state"]
        )
        modes = GaugeMetricFamily(m.CONF_MODES.name, m.CONF_MODES.help, labels=[*c_labels, "mode"])
        start = GaugeMetricFamily(m.CONF_START.name, m.CONF_START.help, labels=c_labels)
        applied = GaugeMetricFamily(m.CONF_APPLIED.name, m.CONF_APPLIED.help, labels=c_labels)
        elapsed = GaugeMetricFamily(m.CONF_ELAPSED.name, m.CONF_ELAPSED.help, labels=c_labels)
        for conf in confs:
            conf_id = str(conf["confId"])
            current = CONF_STATES.get(conf["confState"], "unknown")
            for value in CONF_STATE_VALUES:
                state.add_metric([gw, conf_id, value], 1 if value == current else 0)
            addresses = conf["addresses"]
            participants.add_metric([gw, conf_id], len(addresses))
            by_state = dict.fromkeys(CHANNEL_STATE_VALUES, 0)
            by_mode = dict.fromkeys(CHANNEL_MODE_VALUES, 0)
            for address in addresses:
                by_state[CHANNEL_STATES.get(address["channelState"], "unknown")] += 1
                by_mode[CHANNEL_MODES.get(address["channelAttrib"], "unknown")] += 1
            for channel_state, count in by_state.items():
                channels.add_metric([gw, conf_id, channel_state], count)
            for mode, count in by_mode.items():
                modes.add_metric([gw, conf_id, mode], count)
            start.add_metric([gw, conf_id], conf["startTime"] / 1000.0)
            applied.add_metric([gw, conf_id], conf["applyConfTime"] * 60.0)
            elapsed.add_metric([gw, conf_id], conf["confHaveBeenTime"] * 60.0)
        yield from (state, participants, channels, modes, start, applied, elapsed)

    def _counters(self, gw: str) -> Iterator[Metric]:
        stats, methods = self.counters.stats, self.counters.methods

        def counter(metric: m.MetricDef, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(metric.name, metric.help, labels=["gateway"])
            family.add_metric([gw], value)
            return family

        responses = CounterMetricFamily(
            m.RESPONSES.name, m.RESPONSES.help, labels=["gateway", "method", "retcode"]
        )
        answered = {
            (method, code): 0
            for method in methods
            for code in ("0", *DOCUMENTED_RETCODES.get(method, ()))
        } | stats.responses
        for (method, code), count in sorted(answered.items()):
            responses.add_metric([gw, method, code], count)
        yield responses
        errors = CounterMetricFamily(
            m.REQUEST_ERRORS.name, m.REQUEST_ERRORS.help, labels=["gateway", "method", "reason"]
        )
        failed = {(method, r): 0 for method in methods for r in ERROR_REASONS} | stats.errors
        for (method, reason), count in sorted(failed.items()):
            errors.add_metric([gw, method, reason], count)
        yield errors
        latency = HistogramMetricFamily(
            m.REQUEST_DURATION.name, m.REQUEST_DURATION.help, labels=["gateway", "method"]
        )
        for method in sorted(set(methods) | set(stats.latency)):
            histogram = stats.latency.get(method)
            counts = histogram.counts if histogram else [0] * len(_LE)
            buckets: list[tuple[str, float]] = []
            cumulative = 0
            for le, n in zip(_LE, counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            latency.add_metric([gw, method], buckets, histogram.total if histogram else 0.0)
        yield latency
        sign_ins = CounterMetricFamily(
            m.SIGN_INS.name, m.SIGN_INS.help, labels=["gateway", "retcode"]
        )
        documented = dict.fromkeys(("0", *DOCUMENTED_RETCODES.get("loginEx", ())), 0)
        for code, count in sorted((documented | stats.sign_ins).items()):
            sign_ins.add_metric([gw, code], count)
        yield sign_ins
        for metric, value in (
            (m.GUID_RENEWALS, stats.guid_renewals),
            (m.DISCOVERY_FAILURES, self.counters.discovery_failures),
            (m.GUIDS_REJECTED, sum(stats.guids_rejected.values())),
            (m.CONFLICTS, stats.conflicts),
            (m.LOOP_FAILURES, 0),
            (m.TIMEOUT_WARNINGS, stats.timeout_warnings),
        ):
            yield counter(metric, value)
        # Conference activity: no tracker in the pipeline, so all zero.
        for metric in (m.STARTED, m.PROLONGED, m.JOINED, m.LEFT):
            yield counter(metric, 0)
        ended = CounterMetricFamily(m.ENDED.name, m.ENDED.help, labels=["gateway", "outcome"])
        for outcome in OUTCOMES:
            ended.add_metric([gw, outcome], 0)
        yield ended
        for metric, bounds in (
            (m.DURATION, DURATION_BUCKETS),
            (m.APPLIED_SHARE, SHARE_BUCKETS),
            (m.PEAK, PEAK_BUCKETS),
        ):
            family = HistogramMetricFamily(metric.name, metric.help, labels=["gateway"])
            les = [repr(float(b)) for b in bounds] + ["+Inf"]
            family.add_metric([gw], [(le, 0) for le in les], 0.0)
            yield family


def scrape(answers: Answers, counters: Counters) -> bytes:
    """Parse, build and render: what the reference costs per scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReferenceCollector(answers, counters))
    return generate_latest(registry)
