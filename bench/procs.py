"""The simulator and the exporter as separate processes, and what /proc says about them.

Both are started through their console scripts, exactly as an operator would, on free loopback
ports (port 0, then read back from the banner or the log). Their output goes to files, not pipes,
so a chatty process can never block on a full pipe in the middle of a measurement. Starting,
waiting, stopping, RSS and CPU are tests/support's (shared with the tests and the soak); the
connections a process holds are the benchmark's own question.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests import support

BIN = Path(sys.executable).parent
EXPORTER_AGENT = ("153", "bench-inspector-1")
# The bare client signs in as its own inspector: a second sign-in of the exporter's agent would
# end the exporter's session.
BARE_AGENT = ("160", "bench-inspector-2")
_ADMIN = re.compile(r"admin API: (\S+)/simulator/")


@dataclass
class Process(support.Process):
    """A support Process with what the benchmark reads of it beyond RSS and CPU."""

    def connections_to(self, port: int) -> set[int]:
        """Local ports of this process's established TCP connections to `port` (IPv4
        loopback): the same set before and after some scrapes means every call reused a
        kept-alive connection, so no TCP or TLS handshake happened."""
        inodes = set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for line in Path(f"/proc/{self.pid}/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "01" and inode in inodes and int(remote.split(":")[1], 16) == port:
                ports.add(int(local.split(":")[1], 16))
        return ports


@dataclass
class Simulator(Process):
    url: str = ""
    ca_file: str | None = None


@dataclass
class Exporter(Process):
    url: str = ""


async def start_simulator(
    workdir: Path, *, conferences: int, seed: int, https: bool, timeout: float = 60.0
) -> Simulator:
    """A frozen population (time scale 0): it changes only when a scenario changes it."""
    argv = [
        str(BIN / "ccgw-gateway-sim"),
        "--listen", "127.0.0.1:0",
        "--conferences", str(conferences),
        "--seed", str(seed),
        "--time-scale", "0",
        "--signin-delay", "0",
        "--log-level", "warning",
        "--agent", f"{EXPORTER_AGENT[0]}:{EXPORTER_AGENT[1]}:inspector",
        "--agent", f"{BARE_AGENT[0]}:{BARE_AGENT[1]}:inspector",
    ]  # fmt: skip
    if https:
        argv += ["--cert-dir", str(workdir / "certs")]
    else:
        argv.append("--http")
    log = workdir / "simulator.log"
    log.unlink(missing_ok=True)  # the banner awaited must be this simulator's
    sim = Simulator("simulator", argv, log, cwd=workdir).start()
    try:
        sim.url = (await sim.await_line(_ADMIN, timeout)).group(1)
    except support.ProcessError:
        sim.stop()
        raise
    ca = re.search(r"CA certificate: (\S+)", sim.log_text())
    sim.ca_file = ca and ca.group(1)
    return sim


def exporter_config(sim: Simulator, *, max_concurrency: int) -> dict[str, object]:
    gateway: dict[str, object] = {
        "name": "bench",
        "url": sim.url,
        "agent_id": EXPORTER_AGENT[0],
        "password_env": "CCGW_BENCH_PASSWORD",
        "timeout": "30s",
        "max_concurrency": max_concurrency,
        "conferences": {"max_conferences": 20000},
    }
    if sim.ca_file:
        gateway["tls"] = {"ca_file": sim.ca_file}
    return {"gateways": [gateway]}


async def start_exporter(
    workdir: Path, sim: Simulator, *, max_concurrency: int, timeout: float = 30.0
) -> Exporter:
    """`ccgw-exporter --config.file`, on a free port, waiting until /-/ready says so."""
    config = workdir / "exporter.yaml"
    config.write_text(yaml.safe_dump(exporter_config(sim, max_concurrency=max_concurrency)))
    argv = [
        str(BIN / "ccgw-exporter"),
        "--config.file", str(config),
        "--web.listen-address", "127.0.0.1:0",
        "--log.level", "info",
    ]  # fmt: skip
    env = {"CCGW_BENCH_PASSWORD": EXPORTER_AGENT[1]}
    log = workdir / "exporter.log"
    log.unlink(missing_ok=True)
    exporter = Exporter("exporter", argv, log, env, cwd=workdir).start()
    try:
        exporter.url = "http://" + await exporter.await_listening(timeout)
    except support.ProcessError:
        exporter.stop()
        raise
    return exporter


def promtool() -> str | None:
    return shutil.which("promtool")
