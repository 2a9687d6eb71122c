"""The whole end-to-end stack: simulators and webhook receiver in-process, exporter, Prometheus
and Alertmanager as child processes, wired to each other on 127.0.0.1.

Start order is chosen for wall time: the exporter (a Python start-up, the slowest) is launched
first and left to come up while Alertmanager starts; Prometheus, which needs both addresses,
comes last. Whatever was started is stopped by `Stack.close`, also after a failed start.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import configs
from .gateways import INSPECTOR, INSPECTOR_PASSWORD, PLANS, SimGateway, start_gateway
from .processes import (
    Process,
    find_binary,
    start_with_port,
    stop_all,
    wait_for_listen_address,
    wait_until_ready,
)
from .promapi import PrometheusAPI
from .webhook import BackgroundLoop, WebhookReceiver

STARTUP_TIMEOUT = 20.0


@dataclass(frozen=True)
class Binaries:
    prometheus: str
    alertmanager: str

    @classmethod
    def find(cls) -> Binaries:
        return cls(
            prometheus=find_binary(["prometheus"], "prometheus"),
            # Debian names the binary after its package.
            alertmanager=find_binary(
                ["alertmanager", "prometheus-alertmanager"], "prometheus-alertmanager"
            ),
        )


@dataclass
class Stack:
    workdir: Path
    loop: BackgroundLoop
    webhook: WebhookReceiver
    processes: list[Process]
    gateways: dict[str, SimGateway] = field(default_factory=dict)
    exporter_instance: str = ""  # the `instance` label: host:port of the exporter
    alertmanager_url: str = ""
    prometheus: PrometheusAPI = field(default_factory=lambda: PrometheusAPI(""))
    prometheus_ready_at: float = 0.0  # time.monotonic() when Prometheus answered ready

    @property
    def job(self) -> str:
        return configs.JOB

    def close(self) -> None:
        stop_all(self.processes)

        async def stop_servers() -> None:
            for gateway in self.gateways.values():
                with contextlib.suppress(Exception):
                    await gateway.sim.stop()
            await self.webhook.stop()

        with contextlib.suppress(Exception):
            self.loop.run(stop_servers(), timeout=10)
        self.loop.close()


def _exporter_argv(config: Path) -> list[str]:
    """The installed console script, as an operator runs it; `-m` when not installed."""
    script = Path(sys.executable).with_name("ccgw-exporter")
    if script.exists():
        return [str(script), f"--config.file={config}"]
    return [sys.executable, "-m", "exporter.cli", f"--config.file={config}"]


def start_stack(workdir: Path, binaries: Binaries, processes: list[Process]) -> Stack:
    """Start everything; `processes` is filled as processes start, so the caller can show
    their logs even when this raises. On an exception everything started is stopped."""
    loop = BackgroundLoop()
    stack = Stack(workdir, loop, WebhookReceiver(), processes)
    try:
        _start(stack, binaries)
    except BaseException:
        stack.close()
        raise
    return stack


def _start(stack: Stack, binaries: Binaries) -> None:
    workdir = stack.workdir

    async def start_servers() -> None:
        await stack.webhook.start()
        for seed, plan in enumerate(PLANS, 1):
            stack.gateways[plan.name] = await start_gateway(plan, seed)

    stack.loop.run(start_servers())

    exporter_config = configs.write_yaml(
        workdir / "exporter.yml",
        configs.exporter_config(
            [
                configs.ExporterGateway(
                    name=g.name,
                    url=g.sim.url,
                    agent_id=INSPECTOR,
                    ca_file=g.sim.ca_file,
                    participant_metrics=g.plan.participant_metrics,
                )
                for g in stack.gateways.values()
            ]
        ),
    )
    exporter = Process(
        "exporter",
        _exporter_argv(exporter_config),
        workdir / "exporter.log",
        env={configs.PASSWORD_ENV: INSPECTOR_PASSWORD, "PYTHONUNBUFFERED": "1"},
    )
    stack.processes.append(exporter)
    exporter.start()

    am_config = configs.write_yaml(
        workdir / "alertmanager.yml", configs.alertmanager_config(stack.webhook.url)
    )
    am_data = workdir / "alertmanager-data"
    am_data.mkdir()

    def alertmanager(port: int) -> Process:
        process = Process(
            "alertmanager",
            [
                binaries.alertmanager,
                f"--config.file={am_config}",
                f"--storage.path={am_data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            workdir / "alertmanager.log",
        )
        stack.processes.append(process)
        return process

    _, am_port = start_with_port(
        alertmanager, lambda port: f"http://127.0.0.1:{port}/-/ready", STARTUP_TIMEOUT
    )
    stack.alertmanager_url = f"http://127.0.0.1:{am_port}"

    stack.exporter_instance = wait_for_listen_address(exporter, STARTUP_TIMEOUT)
    wait_until_ready(exporter, f"http://{stack.exporter_instance}/-/ready", STARTUP_TIMEOUT)

    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    prom_config = configs.write_yaml(
        workdir / "prometheus.yml",
        configs.prometheus_config(
            stack.exporter_instance, f"127.0.0.1:{am_port}", configs.write_fast_rules(rules_dir)
        ),
    )
    tsdb = workdir / "prometheus-data"

    def prometheus(port: int) -> Process:
        process = Process(
            "prometheus",
            [
                binaries.prometheus,
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            workdir / "prometheus.log",
        )
        stack.processes.append(process)
        return process

    _, prom_port = start_with_port(
        prometheus, lambda port: f"http://127.0.0.1:{port}/-/ready", STARTUP_TIMEOUT
    )
    stack.prometheus = PrometheusAPI(f"http://127.0.0.1:{prom_port}")
    stack.prometheus_ready_at = time.monotonic()


def describe(stack: Stack) -> str:
    """Addresses and files, printed at the start of a run: what to look at by hand."""
    lines = [
        f"workdir {stack.workdir}",
        f"exporter http://{stack.exporter_instance}/  (pid {_pid(stack, 'exporter')})",
        f"prometheus {stack.prometheus.base}  alertmanager {stack.alertmanager_url}",
        f"webhook {stack.webhook.url}",
    ]
    lines += [f"{g.name}: {g.sim.url} conferences {g.conf_ids}" for g in stack.gateways.values()]
    return "\n".join(lines)


def _pid(stack: Stack, name: str) -> str:
    for process in stack.processes:
        if process.name == name and process.popen is not None:
            return str(process.popen.pid)
    return "-"
