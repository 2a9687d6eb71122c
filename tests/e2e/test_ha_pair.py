"""An HA pair of real Prometheus servers scraping one exporter with `share_window`.

The claim of docs/scaling.md: the two servers scrape at their own offsets and rarely meet
while a collection is in flight, but with `share_window` at half the scrape interval one of
them always finds a collection younger than that, so the gateway sees one collection per
interval, not two. Counted at the simulator (discovery calls: one per collection) against
the scrapes each Prometheus stored.

Its own small stack (one simulator, one exporter, two Prometheus servers, no rules), not the
package's: the pair would otherwise double the load on the shared exporter for every test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from ccgw_simulator import GatewaySimulator, SimulatorConfig

from . import configs
from .gateways import INSPECTOR
from .processes import Process, stop_all
from .promapi import PrometheusAPI
from .stack import Binaries, start_exporter, start_prometheus
from .webhook import BackgroundLoop

pytestmark = pytest.mark.e2e

INTERVAL = 2.0  # seconds between the scrapes of each server
WINDOW = "1s"  # share_window: half the interval
RUN_FOR = 14.0  # about seven scrapes per server


class Pair:
    def __init__(self, sim: GatewaySimulator, servers: list[PrometheusAPI]) -> None:
        self.sim = sim
        self.servers = servers


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    binaries = Binaries.find()
    workdir = tmp_path_factory.mktemp("ha-pair")
    loop = BackgroundLoop()
    sim = GatewaySimulator(
        SimulatorConfig(port=0, conferences=30, seed=7, time_scale=0.0, poll_hold=2.0)
    )
    loop.run(sim.start())
    processes: list[Process] = []
    try:
        config = configs.exporter_config(
            [
                configs.ExporterGateway(
                    name="gw-ha", url=sim.url, agent_id=INSPECTOR, ca_file=sim.ca_file
                )
            ]
        )
        config["gateways"][0]["share_window"] = WINDOW
        address = start_exporter(workdir, config, processes)
        servers = []
        for replica in ("a", "b"):
            prom_config = configs.write_yaml(
                workdir / f"prometheus-{replica}.yml",
                {
                    "global": {
                        "scrape_interval": f"{INTERVAL:g}s",
                        "scrape_timeout": "1s",
                        "external_labels": {"replica": replica},
                    },
                    "scrape_configs": [
                        {"job_name": configs.JOB, "static_configs": [{"targets": [address]}]}
                    ],
                },
            )

            servers.append(
                start_prometheus(binaries, workdir, f"prometheus-{replica}", prom_config, processes)
            )
        yield Pair(sim, servers)
    finally:
        stop_all(processes)
        with contextlib.suppress(Exception):
            loop.run(sim.stop())
        loop.close()


def test_share_window_makes_the_second_server_free_at_the_gateway(pair: Pair) -> None:
    time.sleep(RUN_FOR)
    scrapes = [
        server.value(f'count_over_time(ccgw_up{{job="{configs.JOB}"}}[5m])')
        for server in pair.servers
    ]
    collections = pair.sim.stats.calls["queryAllConfIds"]
    assert all(n is not None and n >= 4 for n in scrapes), scrapes
    up = [
        server.value(f'min_over_time(ccgw_up{{job="{configs.JOB}"}}[5m])')
        for server in pair.servers
    ]
    assert up == [1.0, 1.0], f"the gateway was not up for every scrape: {up}"
    a, b = (int(n or 0) for n in scrapes)
    print(f"\nHA pair: {a} + {b} scrapes, {collections} collections at the gateway")
    # One collection per interval: about as many as one server's scrapes (+2: the count is
    # read a moment after the servers were asked), far fewer than both servers' together.
    assert max(a, b) - 2 <= collections <= max(a, b) + 2, (a, b, collections)
    assert collections < 0.75 * (a + b), (a, b, collections)
    # The server that was answered from the window knows how old its data was.
    ages = [
        server.value(f'max_over_time(ccgw_collection_age_seconds{{job="{configs.JOB}"}}[5m])')
        for server in pair.servers
    ]
    assert max(age or 0 for age in ages) > 0, ages
    assert all((age or 0) < 1.0 for age in ages), ages
