"""The exporter's own metrics on `/metrics`: build info, config reload status, the number of
asyncio tasks (what the soak test watches for leaks, and so can an operator), and the
listener's connections and refusals (what a slowloris or a password spray shows as).

A prometheus_client custom collector (collect on scrape), registered beside the standard
process collector; rendered by prometheus_client after the gateway families.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from . import metrics as m

if TYPE_CHECKING:
    from .httpserver import HTTPStats
    from .targets import Targets


class ExporterMetrics(Collector):
    """``http`` is the listener's counters; None where there is no hardened listener (tests
    on aiohttp's test server), and then its families are left out rather than shown as 0."""

    def __init__(self, targets: Targets, http: HTTPStats | None = None) -> None:
        self.targets = targets
        self.http = http

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(m.BUILD_INFO.name, m.BUILD_INFO.help, labels=m.BUILD_INFO.labels)
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
        yield GaugeMetricFamily(
            m.RELOAD_OK.name, m.RELOAD_OK.help, value=1 if self.targets.last_reload_ok else 0
        )
        yield GaugeMetricFamily(
            m.RELOAD_TS.name, m.RELOAD_TS.help, value=self.targets.last_reload_success
        )
        if self.http is not None:
            yield GaugeMetricFamily(
                m.HTTP_CONNECTIONS.name, m.HTTP_CONNECTIONS.help, value=self.http.connections
            )
            rejected = CounterMetricFamily(
                m.HTTP_REJECTED.name, m.HTTP_REJECTED.help, labels=m.HTTP_REJECTED.labels
            )
            for reason, count in self.http.rejected.items():
                rejected.add_metric([reason], count)
            yield rejected
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:  # rendered outside the event loop (a test, a tool): nothing to count
            return
        yield GaugeMetricFamily(m.ASYNCIO_TASKS.name, m.ASYNCIO_TASKS.help, value=tasks)
