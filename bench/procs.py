"""The simulator and the exporter as separate processes, and what /proc says about them.

Both are started through their console scripts, exactly as an operator would, on free loopback
ports (port 0, then read back from the banner or the log). Their output goes to files, not pipes,
so a chatty process can never block on a full pipe in the middle of a measurement.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
EXPORTER_AGENT = ("153", "bench-inspector-1")
# The bare client signs in as its own inspector: a second sign-in of the exporter's agent would
# end the exporter's session.
BARE_AGENT = ("160", "bench-inspector-2")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ProcessError(RuntimeError):
    """A process did not start, or died; the message carries the end of its output."""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_bytes(self) -> int:
        fields = Path(f"/proc/{self.pid}/statm").read_text().split()
        return int(fields[1]) * _PAGE

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

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise ProcessError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (the exporter signs out), then SIGKILL if it does not finish in time."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


@dataclass
class Simulator(Process):
    url: str = ""
    ca_file: str | None = None


@dataclass
class Exporter(Process):
    url: str = ""


def _spawn(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=workdir,
        )
    return Process(name, popen, log)


async def _wait_for_line(
    process: Process, pattern: re.Pattern[str], timeout: float
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        match = pattern.search(process.log.read_text(errors="replace"))
        if match:
            return match
        process.check_alive()
        if time.monotonic() > deadline:
            process.stop()
            raise ProcessError(
                f"{process.name} did not start within {timeout:g}s:\n{process.tail()}"
            )
        await asyncio.sleep(0.05)


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
    process = _spawn("simulator", argv, workdir)
    match = await _wait_for_line(process, re.compile(r"admin API: (\S+)/simulator/"), timeout)
    ca = re.search(r"CA certificate: (\S+)", process.log.read_text())
    return Simulator(process.name, process.popen, process.log, match.group(1), ca and ca.group(1))


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
    process = _spawn("exporter", argv, workdir, {"CCGW_BENCH_PASSWORD": EXPORTER_AGENT[1]})
    match = await _wait_for_line(process, re.compile(r"msg=listening address=(\S+)"), timeout)
    return Exporter(process.name, process.popen, process.log, f"http://{match.group(1)}")


def promtool() -> str | None:
    return shutil.which("promtool")
