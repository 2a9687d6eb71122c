"""The whole end-to-end stack: simulators and webhook receiver in-process, two exporters,
Prometheus and Alertmanager as child processes, wired to each other on 127.0.0.1.

Exporter A is shared by most tests and scraped on /metrics (job ccgw). Exporter B is the one
test_blind.py kills and restarts: it listens on a fixed port (so that it comes back as the same
`instance`) and is scraped both ways the README shows at once: /metrics (job ccgw), and /probe
per gateway plus /metrics?collect[]=exporter (jobs ccgw-probe, ccgw-exporter).

Start order is chosen for wall time: the exporters (a Python start-up, the slowest) are launched
first and left to come up while Alertmanager starts; Prometheus, which needs every address,
comes last. Whatever was started is stopped by `Stack.close`, also after a failed start.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import configs
from .gateways import (
    AGENT_PASSWORD,
    INSPECTOR,
    INSPECTOR_PASSWORD,
    PLANS,
    PROBED,
    SimGateway,
    start_gateway,
)
from .processes import (
    Process,
    find_binary,
    free_port,
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
    exporter_instance: str = ""  # the `instance` label: host:port of exporter A
    b_instance: str = ""  # exporter B's (a fixed port, the same after a restart)
    exporter_b: Process | None = None
    alertmanager_url: str = ""
    prometheus: PrometheusAPI = field(default_factory=lambda: PrometheusAPI(""))
    prometheus_ready_at: float = 0.0  # time.monotonic() when Prometheus answered ready
    #: time.monotonic() of things tests did that later tests reason about
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def job(self) -> str:
        return configs.JOB

    def of(self, exporter: str) -> dict[str, SimGateway]:
        """The gateways exporter "a" or "b" watches."""
        return {n: g for n, g in self.gateways.items() if exporter in g.plan.exporters}

    def kill_b(self) -> None:
        """Exporter B dies as a crash does: SIGKILL, no sign-out."""
        assert self.exporter_b is not None
        assert self.exporter_b.popen is not None
        self.exporter_b.popen.kill()
        self.exporter_b.popen.wait(5)

    def restart_b(self) -> None:
        """Exporter B again, same configuration and port."""
        assert self.exporter_b is not None
        self.exporter_b.stop()
        self.exporter_b.start()
        wait_until_ready(self.exporter_b, f"http://{self.b_instance}/-/ready", STARTUP_TIMEOUT)

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


def exporter_argv(config: Path) -> list[str]:
    """The installed console script, as an operator runs it; `-m` when not installed."""
    script = Path(sys.executable).with_name("ccgw-exporter")
    if script.exists():
        return [str(script), f"--config.file={config}"]
    return [sys.executable, "-m", "exporter.cli", f"--config.file={config}"]


def start_exporter(workdir: Path, config: dict[str, Any], processes: list[Process]) -> str:
    """One exporter signed in as the inspector (the small stacks of test_ha_pair and
    test_activity_increase); its listen address once `/-/ready` says so. `processes` gets it
    as soon as it starts, so the caller's cleanup stops it whatever happens next."""
    process = Process(
        "exporter",
        exporter_argv(configs.write_yaml(workdir / "exporter.yml", config)),
        workdir / "exporter.log",
        env={configs.PASSWORD_ENV: INSPECTOR_PASSWORD, "PYTHONUNBUFFERED": "1"},
    )
    processes.append(process)
    process.start()
    address = wait_for_listen_address(process, STARTUP_TIMEOUT)
    wait_until_ready(process, f"http://{address}/-/ready", STARTUP_TIMEOUT)
    return address


def start_prometheus(
    binaries: Binaries, workdir: Path, name: str, config: Path, processes: list[Process]
) -> PrometheusAPI:
    """A real Prometheus on a free port with its own TSDB under `workdir`, once ready."""

    def prometheus(port: int) -> Process:
        process = Process(
            name,
            [
                binaries.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / f'{name}-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            workdir / f"{name}.log",
        )
        processes.append(process)
        return process

    _, port = start_with_port(
        prometheus, lambda port: f"http://127.0.0.1:{port}/-/ready", STARTUP_TIMEOUT
    )
    return PrometheusAPI(f"http://127.0.0.1:{port}")


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

    def exporter(name: str, exporter: str, listen: str) -> Process:
        config = configs.write_yaml(
            workdir / f"{name}.yml",
            configs.exporter_config(
                [
                    configs.ExporterGateway(
                        name=g.name,
                        url=g.sim.url,
                        agent_id=g.plan.agent_id,
                        ca_file=g.sim.ca_file,
                        participant_metrics=g.plan.participant_metrics,
                        password_env=(
                            configs.AGENT_PASSWORD_ENV
                            if g.plan.agent_id != INSPECTOR
                            else configs.PASSWORD_ENV
                        ),
                        # B's own session survives its crash on the gateway: it takes it back.
                        force_on_conflict=exporter == "b" and g.name != "gw-contend",
                    )
                    for g in stack.of(exporter).values()
                ],
                listen_address=listen,
            ),
        )
        process = Process(
            name,
            exporter_argv(config),
            workdir / f"{name}.log",
            env={
                configs.PASSWORD_ENV: INSPECTOR_PASSWORD,
                configs.AGENT_PASSWORD_ENV: AGENT_PASSWORD,
                "PYTHONUNBUFFERED": "1",
            },
        )
        stack.processes.append(process)
        process.start()
        return process

    exporter_a = exporter("exporter", "a", "127.0.0.1:0")
    stack.b_instance = f"127.0.0.1:{free_port()}"
    stack.exporter_b = exporter("exporter-b", "b", stack.b_instance)

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

    stack.exporter_instance = wait_for_listen_address(exporter_a, STARTUP_TIMEOUT)
    wait_until_ready(exporter_a, f"http://{stack.exporter_instance}/-/ready", STARTUP_TIMEOUT)
    wait_until_ready(stack.exporter_b, f"http://{stack.b_instance}/-/ready", STARTUP_TIMEOUT)
    for gateway in stack.gateways.values():
        gateway.create_later()

    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    prom_config = configs.write_yaml(
        workdir / "prometheus.yml",
        configs.prometheus_config(
            [stack.exporter_instance, stack.b_instance],
            f"127.0.0.1:{am_port}",
            configs.write_fast_rules(rules_dir),
            extra_jobs=configs.probe_jobs(stack.b_instance, PROBED),
        ),
    )
    stack.prometheus = start_prometheus(
        binaries, workdir, "prometheus", prom_config, stack.processes
    )
    stack.prometheus_ready_at = time.monotonic()


def describe(stack: Stack) -> str:
    """Addresses and files, printed at the start of a run: what to look at by hand."""
    lines = [
        f"workdir {stack.workdir}",
        f"exporter http://{stack.exporter_instance}/  (pid {_pid(stack, 'exporter')})",
        f"exporter-b http://{stack.b_instance}/  (pid {_pid(stack, 'exporter-b')})",
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
