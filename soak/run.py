"""Soak: an exporter process scraped for a long time while faults cycle through its gateways.

    python soak/run.py --minutes 30            # make soak: report only
    python soak/run.py --minutes 2 --check     # make soak-ci: fail if tasks or fds grow

What leaks in a long-running exporter does so slowly and only under churn: sessions lost and
signed in again, connections cut mid-body, collections abandoned at the deadline, targets
rebuilt by reloads. So the exporter runs as a real subprocess (`python -m exporter.cli`) against
three simulated gateways (plain with fast Guid rotation, a two-node cluster behind the
balancer, HTTPS), is scraped every second like Prometheus would, and goes through every fault
of the fault suite in turn, plus reloads that add and remove a gateway. Between faults the
gateways are healthy for a while; the measurements are taken at those healthy moments:

- RSS and open file descriptors, from /proc/<pid> of the exporter process;
- asyncio tasks, from the exporter's own `ccgw_exporter_asyncio_tasks` gauge;
- sessions: signed in according to the exporter, and held by the simulated gateways.

With --check the run fails (exit 1) when tasks or file descriptors grew from the first healthy
moment to the last, when a scrape was not answered 200 within its timeout, or when the exporter
did not exit 0 with every session signed out on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ccgw_simulator import GatewaySimulator, SimulatorConfig
from ccgw_simulator.config import FaultConfig

# Run as a script (`python soak/run.py`): the checkout's tests/support is not installed.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.support import Process, open_fds, rss_bytes  # noqa: E402

SCRAPE_TIMEOUT = 3.0  # X-Prometheus-Scrape-Timeout-Seconds
PASSWORD_ENV = "CCGW_SOAK_PASSWORD"
PASSWORD = "sim-inspector"
# Growth tolerated by --check between the first and the last healthy moment. Tasks: none
# (a healthy exporter has exactly one poll task per gateway, plus aiohttp's). File
# descriptors: connection pools may hold a few more or fewer keep-alive sockets.
TASK_SLACK = 0
FD_SLACK = 6


# -- measurements -------------------------------------------------------------------------------


@dataclass
class Snapshot:
    at: float  # seconds since the start of the run
    rss_kib: int
    fds: int
    tasks: int
    signed_in: int  # sessions the exporter reports signed in
    held: int  # sessions the simulated gateways hold for the exporter's agent


@dataclass
class Scrapes:
    total: int = 0
    answered: int = 0  # 200 within the scrape timeout
    slowest: float = 0.0
    failures: list[str] = field(default_factory=list)


def gauge(text: str, name: str) -> float:
    """Sum of a family's samples in a text exposition."""
    total = 0.0
    for match in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M):
        total += float(match.group(1))
    return total


# -- the rig ------------------------------------------------------------------------------------


class Soak:
    def __init__(self, workdir: Path, interval: float) -> None:
        self.workdir = workdir
        self.interval = interval
        self.sims: dict[str, GatewaySimulator] = {}
        self.proc: Process | None = None
        self.url = ""
        self.scrapes = Scrapes()
        self.snapshots: list[Snapshot] = []
        self.started = time.monotonic()
        self.last_text = ""
        self.config_path = workdir / "config.yaml"
        self.ghost = False  # whether the reload phase has added the unreachable gateway

    async def start_gateways(self) -> None:
        # idle_signout 30 s: a session a re-sign-in left behind on the other cluster node
        # is dropped by the gateway within the healthy gap, as a real one does after 2 min.
        common: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "time_scale": 10.0,
                                  "poll_hold": 2.0, "signin_delay": 0.01, "seed": 7,
                                  "idle_signout": 30.0}  # fmt: skip
        self.sims = {
            "plain": GatewaySimulator(
                SimulatorConfig(
                    https=False, conferences=60, guid_interval=20.0, guid_timeout=40.0, **common
                )
            ),
            "cluster": GatewaySimulator(
                SimulatorConfig(https=False, nodes=2, conferences=30, **common)
            ),
            "tls": GatewaySimulator(
                SimulatorConfig(
                    https=True, conferences=20, cert_dir=str(self.workdir / "tls"), **common
                )
            ),
        }
        for sim in self.sims.values():
            await sim.start()

    def write_config(self) -> None:
        gateways = []
        for name, sim in self.sims.items():
            entry: dict[str, Any] = {"name": name, "url": sim.url, "agent_id": "153",
                                     "password_env": PASSWORD_ENV, "timeout": "5s"}  # fmt: skip
            if sim.ca_file:
                entry["tls"] = {"ca_file": sim.ca_file}
            gateways.append(entry)
        if self.ghost:
            gateways.append({"name": "ghost", "url": "http://127.0.0.1:9", "agent_id": "153",
                             "password_env": PASSWORD_ENV, "timeout": "2s"})  # fmt: skip
        self.config_path.write_text(yaml.safe_dump({"gateways": gateways}))

    async def start_exporter(self) -> None:
        self.write_config()
        argv = [sys.executable, "-m", "exporter.cli", "--config.file", str(self.config_path),
                "--web.listen-address", "127.0.0.1:0", "--web.enable-lifecycle"]  # fmt: skip
        self.proc = Process("exporter", argv, self.workdir / "exporter.log",
                            env={PASSWORD_ENV: PASSWORD}).start()  # fmt: skip
        self.url = "http://" + await self.proc.await_listening(timeout=30)

    @property
    def log_lines(self) -> int:
        return 0 if self.proc is None else self.proc.log_text().count("\n")

    async def scrape(self, http: aiohttp.ClientSession) -> None:
        self.scrapes.total += 1
        started = time.monotonic()
        try:
            async with http.get(
                self.url + "/metrics",
                headers={"X-Prometheus-Scrape-Timeout-Seconds": f"{SCRAPE_TIMEOUT:g}"},
                timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT + 5),
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            status, text = 0, repr(error)
        took = time.monotonic() - started
        self.scrapes.slowest = max(self.scrapes.slowest, took)
        if status == 200 and took < SCRAPE_TIMEOUT:
            self.scrapes.answered += 1
            self.last_text = text
        else:
            self.scrapes.failures.append(f"{time.monotonic() - self.started:.0f}s: "
                                         f"HTTP {status} in {took:.2f}s {text[:120]}")  # fmt: skip

    async def scraper(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                tick = time.monotonic()
                await self.scrape(http)
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - tick)))

    def snapshot(self) -> Snapshot:
        assert self.proc is not None
        rss, fds = rss_bytes(self.proc.pid) // 1024, open_fds(self.proc.pid)
        held = sum(1 for sim in self.sims.values() for node in sim.nodes if "153" in node.sessions)
        snap = Snapshot(
            at=round(time.monotonic() - self.started, 1),
            rss_kib=rss,
            fds=fds,
            tasks=int(gauge(self.last_text, "ccgw_exporter_asyncio_tasks")),
            signed_in=int(gauge(self.last_text, "ccgw_session_signed_in")),
            held=held,
        )
        self.snapshots.append(snap)
        return snap

    async def stop_exporter(self) -> tuple[int, float, int]:
        """SIGTERM; (exit code, seconds to exit, sessions still held by the gateways)."""
        assert self.proc is not None
        stopped = await self.proc.await_stop(grace=15)  # killed after 15 s: -9, a failure
        code, took = stopped.status, stopped.seconds
        held = sum(1 for sim in self.sims.values() for node in sim.nodes if len(node.sessions))
        return code, took, held

    async def stop_gateways(self) -> None:
        for sim in self.sims.values():
            await sim.stop()


# -- the faults ---------------------------------------------------------------------------------

Step = Callable[[Soak], Awaitable[None]]


def faults(sim: str, **values: Any) -> Step:
    async def step(soak: Soak) -> None:
        soak.sims[sim].set_faults(FaultConfig.from_mapping(values))

    return step


async def clear_all(soak: Soak) -> None:
    for sim in soak.sims.values():
        sim.set_faults(FaultConfig())
        if sim.config.guid_interval != 20.0:
            await set_rotation(sim, 20.0, 40.0)
        for node in sim.nodes:
            sim.set_node_up(node.index, True)
        if not sim.running:
            sim.restart()
            await sim.start()


async def restart(soak: Soak) -> None:
    soak.sims["plain"].restart()


async def node_down(soak: Soak) -> None:
    sim = soak.sims["cluster"]
    for node in sim.nodes:
        if "153" in node.sessions:
            sim.set_node_up(node.index, False)
            return


async def gateway_down(soak: Soak) -> None:
    sim = soak.sims["tls"]
    sim.config.port = sim.port
    await sim.stop()


async def set_rotation(sim: GatewaySimulator, interval: float, timeout: float) -> None:
    """A gateway's Guid timings change with a restart (every session signed out): changed
    under a live session, the simulator's Guid timeline would jump and void the Guid in hand
    at once, which no real gateway does."""
    sim.config.guid_interval, sim.config.guid_timeout = interval, timeout
    sim.restart()


async def fast_rotation(soak: Soak) -> None:
    await set_rotation(soak.sims["plain"], 0.5, 2.0)


async def reload_with_ghost(soak: Soak) -> None:
    """Add an unreachable gateway by SIGHUP, refuse a broken file by /-/reload, then remove
    the gateway again by SIGHUP (in `clear`): targets are built and torn down."""
    assert soak.proc is not None
    soak.ghost = True
    soak.write_config()
    soak.proc.send_signal(signal.SIGHUP)
    await asyncio.sleep(1.0)
    good = soak.config_path.read_text()
    soak.config_path.write_text("gateways:\n  - name: broken\n    colour: red\n")
    async with aiohttp.ClientSession() as http, http.post(soak.url + "/-/reload") as resp:
        assert resp.status == 500, resp.status
    soak.config_path.write_text(good)


async def remove_ghost(soak: Soak) -> None:
    assert soak.proc is not None
    if soak.ghost:
        soak.ghost = False
        soak.write_config()
        soak.proc.send_signal(signal.SIGHUP)


PHASES: list[tuple[str, Step, Step]] = [
    ("HTTP 502 from the balancer", faults("plain", http_error_rate=1.0), clear_all),
    ("connection reset mid-body", faults("cluster", reset_rate=1.0), clear_all),
    ("malformed JSON", faults("tls", malformed_rate=1.0), clear_all),
    ("100-007 on 30% of batches",
     faults("plain", retcodes={"100-007": 0.3}, methods=["queryConfInfos"]), clear_all),
    ("000-003 storm", faults("cluster", retcodes={"000-003": 1.0},
                             methods=["getAgentEvent", "queryAllConfIds", "queryConfInfos"]),
     clear_all),
    ("answers slower than the deadline",
     faults("tls", slow_rate=1.0, slow_seconds=30, methods=["queryConfInfos"]), clear_all),
    ("gateway restart", restart, clear_all),
    ("sticky node down", node_down, clear_all),
    ("gateway down", gateway_down, clear_all),
    ("Guid rotation every 0.5 s", fast_rotation, clear_all),
    ("reloads: gateway added, bad file refused", reload_with_ghost, remove_ghost),
    ("latency 200 +- 150 ms", faults("cluster", latency_ms=200, jitter_ms=150), clear_all),
]  # fmt: skip


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Report:
    minutes: float
    phases_run: int
    scrapes: Scrapes
    start: Snapshot
    end: Snapshot
    peak_rss_kib: int
    peak_fds: int
    peak_tasks: int
    exporter_log_lines: int
    exit_code: int
    exit_seconds: float
    sessions_left: int
    problems: list[str]
    # Every healthy moment, for the JSON report: whether RSS climbs or reaches a plateau
    # shows only in the series.
    snapshots: list[Snapshot] = field(default_factory=list)

    def text(self) -> str:
        s, e = self.start, self.end
        rows = [
            ("RSS (MiB)", f"{s.rss_kib / 1024:.1f}", f"{e.rss_kib / 1024:.1f}",
             f"{self.peak_rss_kib / 1024:.1f}"),
            ("open file descriptors", str(s.fds), str(e.fds), str(self.peak_fds)),
            ("asyncio tasks", str(s.tasks), str(e.tasks), str(self.peak_tasks)),
            ("sessions signed in (exporter)", str(s.signed_in), str(e.signed_in), "-"),
            ("sessions held (gateways)", str(s.held), str(e.held), "-"),
        ]  # fmt: skip
        out = [
            f"soak: {self.minutes:g} min, {self.phases_run} fault phases, "
            f"{self.scrapes.total} scrapes, {self.scrapes.answered} answered 200 within "
            f"{SCRAPE_TIMEOUT:g}s (slowest {self.scrapes.slowest:.2f}s), "
            f"{self.exporter_log_lines} exporter log lines",
            "",
            "| measure | start | end | peak |",
            "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
            "",
            f"SIGTERM: exit {self.exit_code} in {self.exit_seconds:.2f}s, "
            f"sessions left on the gateways: {self.sessions_left}",
        ]
        if self.problems:
            out += ["", "PROBLEMS:", *(f"- {p}" for p in self.problems)]
        return "\n".join(out)


async def settle(soak: Soak, seconds: float) -> Snapshot:
    """Healthy for a while, then measured: the fault's leftovers have had time to go."""
    await asyncio.sleep(seconds)
    return soak.snapshot()


async def run(minutes: float, interval: float, fault_seconds: float, healthy_seconds: float,
              workdir: Path) -> Report:  # fmt: skip
    soak = Soak(workdir, interval)
    await soak.start_gateways()
    await soak.start_exporter()
    stop = asyncio.Event()
    scraper = asyncio.ensure_future(soak.scraper(stop))
    end = soak.started + minutes * 60
    try:
        start = await settle(soak, max(5.0, healthy_seconds))
        phases = 0
        while time.monotonic() + fault_seconds + healthy_seconds < end:
            name, inject, clear = PHASES[phases % len(PHASES)]
            print(f"[{time.monotonic() - soak.started:6.0f}s] {name}", flush=True)
            await inject(soak)
            await asyncio.sleep(fault_seconds)
            await clear(soak)
            snap = await settle(soak, healthy_seconds)
            print(f"         rss={snap.rss_kib}KiB fds={snap.fds} tasks={snap.tasks} "
                  f"signed_in={snap.signed_in} held={snap.held}", flush=True)  # fmt: skip
            phases += 1
        await clear_all(soak)
        await remove_ghost(soak)
        last = await settle(soak, max(5.0, healthy_seconds))
    except BaseException:
        # Interrupted (Ctrl-C, an error): leave no exporter process behind.
        if soak.proc is not None:
            await soak.proc.await_stop(grace=0)
        raise
    finally:
        stop.set()
        await scraper
    code, took, left = await soak.stop_exporter()
    await soak.stop_gateways()

    problems: list[str] = []
    if last.tasks > start.tasks + TASK_SLACK:
        problems.append(f"asyncio tasks grew from {start.tasks} to {last.tasks}")
    if last.fds > start.fds + FD_SLACK:
        problems.append(f"file descriptors grew from {start.fds} to {last.fds}")
    if soak.scrapes.failures:
        problems.append(f"{len(soak.scrapes.failures)} scrape(s) not answered in time: "
                        + "; ".join(soak.scrapes.failures[:5]))  # fmt: skip
    if last.signed_in != len(soak.sims) or last.held < len(soak.sims):
        problems.append(f"not every session back at the end: {last}")
    if code != 0:
        problems.append(f"exit code {code} on SIGTERM")
    if left:
        problems.append(f"{left} session(s) not signed out on SIGTERM")
    return Report(
        minutes=minutes,
        phases_run=phases,
        scrapes=soak.scrapes,
        start=start,
        end=last,
        peak_rss_kib=max(s.rss_kib for s in soak.snapshots),
        peak_fds=max(s.fds for s in soak.snapshots),
        peak_tasks=max(s.tasks for s in soak.snapshots),
        exporter_log_lines=soak.log_lines,
        exit_code=code,
        exit_seconds=took,
        sessions_left=left,
        problems=problems,
        snapshots=list(soak.snapshots),
    )


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--scrape-interval", type=float, default=1.0)
    parser.add_argument(
        "--fault-seconds",
        type=float,
        default=None,
        help="how long each fault lasts (default: 6 s, 20 s for runs over 10 min)",
    )
    parser.add_argument(
        "--healthy-seconds",
        type=float,
        default=None,
        help="healthy time after each fault (default: 4 s, 10 s over 10 min)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if tasks or fds grew, a scrape failed, or shutdown was unclean",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args()  # fmt: skip
    # The simulated gateways run in this process; their server's complaints about clients
    # that hang up (the exporter cutting a call at its deadline) are not the soak's subject.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGTERM, _interrupted)  # as Ctrl-C: clean up the exporter process
    long_run = args.minutes > 10
    fault = args.fault_seconds or (20.0 if long_run else 6.0)
    healthy = args.healthy_seconds or (10.0 if long_run else 4.0)
    with tempfile.TemporaryDirectory(prefix="ccgw-soak-") as workdir:
        try:
            report = asyncio.run(
                run(args.minutes, args.scrape_interval, fault, healthy, Path(workdir))
            )
        except KeyboardInterrupt:
            print("soak: interrupted", file=sys.stderr)
            return 130
        print()
        print(report.text())
        if report.problems:
            with contextlib.suppress(OSError):
                print("\nexporter log, last lines:\n" + "\n".join(
                    (Path(workdir) / "exporter.log").read_text().splitlines()[-20:]))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 1 if args.check and report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
