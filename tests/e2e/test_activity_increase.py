"""Conference activity end to end: `increase()` in a real Prometheus equals the simulator's
ground truth for the same window (issue 16).

Its own small stack (one simulator, one exporter, one Prometheus scraping every second, no
rules). The simulator's clock is frozen; the test moves it forward in steps between scrapes, so
nothing happens at the gateway except inside the window, and reads the truth (the `served`
side: what intact answers showed, which a client that reads every answer must count exactly)
before and after. The window is chosen on the samples Prometheus stored: from the last sample
before the first step to the last sample after the last, so `increase()` has nothing to
extrapolate (its factor is 1 + 1 ms / window).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ccgw_simulator import GatewaySimulator, SimulatorConfig

from . import configs
from .gateways import INSPECTOR
from .processes import Process, stop_all
from .promapi import PrometheusAPI
from .stack import Binaries, start_exporter, start_prometheus
from .webhook import BackgroundLoop

pytestmark = pytest.mark.e2e

STEPS = 10
STEP_SECONDS = 50.0  # simulated time per step
SETTLE = 2.2  # real seconds: at least two scrapes after each step


class Run:
    def __init__(self, loop: BackgroundLoop, sim: GatewaySimulator, prom: PrometheusAPI) -> None:
        self.loop = loop
        self.sim = sim
        self.prom = prom

    def truth(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            served: dict[str, Any] = self.sim.population.truth.to_dict(0, 0, records=False)[
                "served"
            ]
            return served

        return self.loop.run(read())

    def advance(self, seconds: float) -> None:
        async def step() -> None:
            self.sim.population.advance(seconds)

        self.loop.run(step())

    def faults(self, **faults: Any) -> None:
        async def set_faults() -> None:
            for key, value in faults.items():
                setattr(self.sim.faults, key, value)

        self.loop.run(set_faults())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    binaries = Binaries.find()
    workdir = tmp_path_factory.mktemp("activity")
    loop = BackgroundLoop()
    sim = GatewaySimulator(
        SimulatorConfig(
            port=0,
            conferences=40,
            seed=23,
            time_scale=0.0,
            poll_hold=2.0,
            activity_mean_s=60.0,
            replacement_mean_s=40.0,
            prolong_probability=0.3,
        )
    )
    loop.run(sim.start())
    processes: list[Process] = []
    try:
        config = configs.exporter_config(
            [
                configs.ExporterGateway(
                    name="gw-act", url=sim.url, agent_id=INSPECTOR, ca_file=sim.ca_file
                )
            ]
        )
        address = start_exporter(workdir, config, processes)
        prom_config = configs.write_yaml(
            workdir / "prometheus.yml",
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
                "scrape_configs": [
                    {"job_name": configs.JOB, "static_configs": [{"targets": [address]}]}
                ],
            },
        )
        prom = start_prometheus(binaries, workdir, "prometheus", prom_config, processes)
        yield Run(loop, sim, prom)
    finally:
        stop_all(processes)
        with contextlib.suppress(Exception):
            loop.run(sim.stop())
        loop.close()


def last_sample_time(prom: PrometheusAPI, metric: str) -> float:
    data = prom._get("/api/v1/query", query=f'{metric}{{job="{configs.JOB}"}}[5s]')
    (series,) = data["result"]
    return float(series["values"][-1][0])


def wait_complete(prom: PrometheusAPI, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if prom.value(f'ccgw_collection_complete{{job="{configs.JOB}"}}') == 1.0:
            return
        time.sleep(0.2)
    raise AssertionError("no complete collection")


def test_increase_equals_the_simulators_truth(run: Run) -> None:
    prom = run.prom
    wait_complete(prom)
    time.sleep(SETTLE)  # the baseline collection is behind us, and stored
    before = run.truth()
    start = last_sample_time(prom, "ccgw_conferences_started_total")
    for step in range(STEPS):
        run.faults(retcodes={"100-007": 1.0} if step % 4 == 2 else {},
                   methods=["queryConfInfos"], limit=3 if step % 4 == 2 else None)  # fmt: skip
        run.advance(STEP_SECONDS)
        time.sleep(SETTLE)
    run.faults(retcodes={}, limit=None)
    time.sleep(SETTLE)  # complete collections settle every pending end
    wait_complete(prom)
    time.sleep(SETTLE)
    after = run.truth()
    end = last_sample_time(prom, "ccgw_conferences_started_total")
    window = f"{(end - start) * 1000 + 1:.0f}ms"

    def increase(expr: str) -> float:
        data = prom._get("/api/v1/query", query=f"sum(increase({expr}[{window}]))", time=str(end))
        return float(data["result"][0]["value"][1]) if data["result"] else 0.0

    def delta(*path: str) -> float:
        a: Any = after
        b: Any = before
        for key in path:
            a, b = a[key], b[key]
        return float(a - b)

    expected = {
        "ccgw_conferences_started_total": delta("started"),
        'ccgw_conferences_ended_total{outcome="within_applied"}': delta("ended", "within_applied"),
        'ccgw_conferences_ended_total{outcome="over_applied"}': delta("ended", "over_applied"),
        "ccgw_conference_prolongations_total": delta("prolongations"),
        "ccgw_conference_participants_joined_total": delta("participants_joined")
        + delta("participants_at_start"),
        "ccgw_conference_participants_left_total": delta("participants_left")
        + delta("participants_at_end"),
        "ccgw_conference_duration_seconds_count": delta("duration_seconds", "count"),
        "ccgw_conference_duration_seconds_sum": delta("duration_seconds", "sum"),
        "ccgw_conference_applied_share_count": delta("applied_share", "count"),
        "ccgw_conference_peak_participants_count": delta("peak_participants", "count"),
        "ccgw_conference_peak_participants_sum": delta("peak_participants", "sum"),
    }
    assert expected["ccgw_conferences_started_total"] > 5, "the population must have lived"
    assert expected["ccgw_conference_duration_seconds_count"] > 5
    got = {expr: increase(expr) for expr in expected}
    mismatched = {e: (got[e], v) for e, v in expected.items() if abs(got[e] - v) > 0.01 * max(1, v)}
    assert not mismatched, f"increase() against the truth over {window}: {mismatched}"
    share = increase("ccgw_conference_applied_share_sum")
    assert abs(share - delta("applied_share", "sum")) < 0.01
