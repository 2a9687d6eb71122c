"""Hostile clients against the exporter's own port (issue 12, items 7 and 10-13), over real
sockets, each while a real scraper scrapes: its success rate and latency are the measure.

- slowloris at the open-files limit: the exporter runs with RLIMIT_NOFILE 256 and more
  connections than that drip a byte a second;
- a basic-auth password spray at 50 a second, from one address and from many;
- a flood of `POST /-/reload`;
- the scrape-timeout poisoning: an unauthenticated loop of `/metrics` with
  `X-Prometheus-Scrape-Timeout-Seconds: -1` must not shorten the real scrape's collection.

The exporter is a real process (`python -m exporter.cli`; the descriptor limit is a process
matter), the gateway a simulator in a thread of its own, the real scraper another thread with
blocking sockets (so the attackers' event loop does not slow the measure), the attackers
asyncio in the test's loop. Floors are set well below what is measured (docs/security.md has
the figures) so that a loaded CI machine passes; `CCGW_HOSTILE_LONG=1` runs each attack for
30 s instead of 4 and adds the memory measurement (baseline, after a mixed attack, after 130 s
idle), and `CCGW_HOSTILE_REPORT=FILE` appends each measurement as a JSON line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import pytest
import yaml

from ccgw_simulator import GatewaySimulator, SimulatorConfig

from ..conftest import INSPECTOR
from ..support import Process, ProcessError, WaitTimeout, wait_until

LONG = os.environ.get("CCGW_HOSTILE_LONG") == "1"
ATTACK_SECONDS = 30.0 if LONG else 4.0
REPORT = os.environ.get("CCGW_HOSTILE_REPORT")
CONFERENCES = 20
SCRAPE_TIMEOUT = 5.0
NOFILE = 256

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# The gateway, in a thread


class SimulatorThread:
    """A simulated gateway on an event loop of its own: the attack load in the test's loop
    must not be what slows the gateway down."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)
        self._thread.start()
        config = SimulatorConfig(port=0, https=False, conferences=0, time_scale=0.0,
                                 poll_hold=1.0, signin_delay=0.0)  # fmt: skip
        self.sim = GatewaySimulator(config)
        self.run(self.sim.start())
        for _ in range(CONFERENCES):
            self.sim.population.add_conference()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@pytest.fixture(scope="module")
def gateway() -> Iterator[SimulatorThread]:
    sim = SimulatorThread()
    yield sim
    sim.close()


# --------------------------------------------------------------------------------------------
# The exporter, as a process


@dataclass
class Exporter:
    process: Process
    host: str
    port: int
    auth: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.process.log_text()

    def rss_mib(self) -> float:
        return self.process.rss_bytes() / 2**20

    def metric(self, name: str, **labels: str) -> float:
        headers = {"Authorization": GOOD} if self.auth else {}
        status, body, _ = request(self.host, self.port, "/metrics?collect[]=exporter", headers)
        assert status == 200
        shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = "^" + re.escape(name + (f"{{{shown}}}" if labels else "")) + r" (\S+)$"
        match = re.search(pattern, body, re.MULTILINE)
        assert match, name
        return float(match.group(1))

    def stop(self) -> int:
        return self.process.stop(grace=15).status


ExporterFactory = Callable[..., Exporter]
LAUNCHER = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile})); "
    "sys.argv = ['ccgw-exporter', *sys.argv[1:]]; "
    "runpy.run_module('exporter.cli', run_name='__main__', alter_sys=True)"
)


@pytest.fixture
def start_exporter(gateway: SimulatorThread, tmp_path: Path) -> Iterator[ExporterFactory]:
    started: list[Exporter] = []

    def start(
        *args: str, web_config: dict[str, Any] | None = None, nofile: int | None = None
    ) -> Exporter:
        password = tmp_path / "gateway.password"
        password.write_text(INSPECTOR[1] + "\n")
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"gateways": [{
            "name": "gw", "url": gateway.sim.url, "agent_id": INSPECTOR[0],
            "password_file": str(password), "timeout": "8s",
        }]}))  # fmt: skip
        # The descriptor limit is set by the child itself: preexec_fn is unsafe once this
        # process has threads (the simulator's).
        launch = ["-c", LAUNCHER.format(nofile=nofile)] if nofile else ["-m", "exporter.cli"]
        argv = [sys.executable, *launch,
                "--config.file", str(config), "--web.listen-address", "127.0.0.1:0",
                *args]  # fmt: skip
        if web_config is not None:
            web = tmp_path / "web.yaml"
            web.write_text(yaml.safe_dump(web_config))
            argv += ["--web.config.file", str(web)]
        process = Process("exporter", argv, tmp_path / f"exporter{len(started)}.log").start()
        try:
            host, _, port = process.wait_listening(timeout=30).rpartition(":")
        except ProcessError as error:
            process.stop()
            pytest.fail(f"exporter did not start: {error}")
        exporter = Exporter(process, host, int(port), auth=web_config is not None)
        started.append(exporter)
        wait_until_up(exporter, web_config)
        return exporter

    yield start
    for exporter in started:
        rc = exporter.stop()
        assert rc == 0, exporter.log()[-3000:]
        assert "Traceback" not in exporter.log(), exporter.log()[-3000:]


def wait_until_up(exporter: Exporter, web_config: dict[str, Any] | None) -> None:
    headers = {"Authorization": GOOD} if web_config else {}

    def up() -> bool:
        status, body, _ = request(exporter.host, exporter.port, "/metrics", headers)
        return status == 200 and 'ccgw_up{gateway="gw"} 1' in body

    try:
        wait_until(up, 30, "gateway up", interval=0.1, alive=exporter.process.check_alive)
    except (WaitTimeout, ProcessError) as error:
        pytest.fail(f"exporter not up: {error}\n" + exporter.log()[-3000:])


# --------------------------------------------------------------------------------------------
# The real scraper


def request(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    source: str | None = None,
    timeout: float = SCRAPE_TIMEOUT + 1,
) -> tuple[int, str, float]:
    """(status, body, seconds) on a new connection; status 0 when there was no answer."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return response.status, body, time.monotonic() - started
    except OSError:
        return 0, "", time.monotonic() - started
    finally:
        conn.close()


@dataclass
class Scrapes:
    """What the real scraper saw."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    outcomes: list[bool] = field(default_factory=list)  # in order

    def ok(self, took: float) -> None:
        self.latencies.append(took)
        self.outcomes.append(True)

    def failed(self, why: str) -> None:
        self.failures.append(why)
        self.outcomes.append(False)

    @property
    def total(self) -> int:
        return len(self.latencies) + len(self.failures)

    @property
    def success_rate(self) -> float:
        return len(self.latencies) / self.total if self.total else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("inf")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "scrapes": self.total,
            "success_rate": round(self.success_rate, 3),
            "p50_s": round(self.percentile(0.5), 3),
            "p95_s": round(self.percentile(0.95), 3),
            "max_s": round(max(self.latencies, default=float("inf")), 3),
            "failed_before_first_success": (
                self.outcomes.index(True) if True in self.outcomes else len(self.outcomes)
            ),
            "failures": sorted(set(self.failures))[:5],
        }


class Scraper:
    """Prometheus, as far as the exporter can tell: a scrape every `interval` on a new
    connection, with the scrape-timeout header; a scrape counts when it answers 200 in time
    with the gateway up and every conference."""

    def __init__(
        self,
        exporter: Exporter,
        *,
        interval: float = 0.25,
        headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> None:
        self.exporter = exporter
        self.interval = interval
        self.headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT),
                        **(headers or {})}  # fmt: skip
        self.source = source
        self.scrapes = Scrapes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(SCRAPE_TIMEOUT + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body, took = request(self.exporter.host, self.exporter.port, "/metrics",
                                         self.headers, source=self.source)  # fmt: skip
            if status != 200:
                self.scrapes.failed(f"status {status}")
            elif took > SCRAPE_TIMEOUT:
                self.scrapes.failed("late")
            elif 'ccgw_up{gateway="gw"} 1' not in body:
                self.scrapes.failed("gateway not up")
            elif f'ccgw_conferences{{gateway="gw"}} {CONFERENCES}' not in body:
                self.scrapes.failed("conferences missing")
            else:
                self.scrapes.ok(took)
            self._stop.wait(max(0.0, self.interval - took))


def report(name: str, **figures: Any) -> None:
    line = json.dumps({"attack": name, **figures}, default=str)
    print(line)
    if REPORT:
        with open(REPORT, "a") as handle:
            handle.write(line + "\n")


async def baseline(exporter: Exporter, seconds: float = 1.0, **options: Any) -> Scrapes:
    with Scraper(exporter, **options) as scraper:
        await asyncio.sleep(seconds)
    return scraper.scrapes


# --------------------------------------------------------------------------------------------
# Slowloris at the open-files limit


async def slowloris(host: str, port: int, connections: int, stop: asyncio.Event) -> int:
    """Hold `connections` connections, each dripping a request head a byte a second and
    opened again as soon as it is closed. Returns how many were opened in all."""
    opened = 0
    head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000

    async def one() -> None:
        nonlocal opened
        while not stop.is_set():
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            opened += 1
            try:
                for byte in head:
                    if stop.is_set():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
            except OSError:
                pass
            finally:
                writer.transport.abort()

    await asyncio.gather(*(one() for _ in range(connections)))
    return opened


async def test_slowloris_at_the_open_files_limit(start_exporter: ExporterFactory) -> None:
    exporter = start_exporter("--web.header-timeout", "10s", nofile=NOFILE)
    calm = await baseline(exporter)
    stop = asyncio.Event()
    attack = asyncio.ensure_future(slowloris(exporter.host, exporter.port, 400, stop))
    await asyncio.sleep(1.0)  # let it fill the cap first
    with Scraper(exporter) as scraper:
        await asyncio.sleep(ATTACK_SECONDS)
        held = exporter.metric("ccgw_exporter_http_connections")
    stop.set()
    opened = await attack
    scrapes = scraper.scrapes
    log = exporter.log()
    accept_lines = log.count("cannot accept connections")
    report("slowloris", nofile=NOFILE, attackers=400, opened=opened, held=held,
           baseline=calm.summary(), **scrapes.summary(), accept_error_lines=accept_lines,
           log_lines=log.count("\n"))  # fmt: skip
    assert scrapes.success_rate >= 0.9, scrapes.summary()
    assert scrapes.percentile(0.95) < 2.0, scrapes.summary()
    assert held <= NOFILE  # the cap, below the limit
    assert exporter.metric("ccgw_exporter_http_rejected_total", reason="connection_limit") > 0
    assert accept_lines <= ATTACK_SECONDS / 10 + 2
    assert log.count("\n") < 100  # no traceback per failed accept


# --------------------------------------------------------------------------------------------
# Basic-auth spray

USERS = ("calm", "first", "second")
PASSWORDS = {user: secrets.token_urlsafe(12) for user in USERS}
# Cost 10: what `htpasswd -B` and the toolkit's docs use; about 70 ms a check on a free core.
HASHES = {u: bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=10)).decode()
          for u, p in PASSWORDS.items()}  # fmt: skip
WEB_CONFIG = {"basic_auth_users": HASHES}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD = basic("calm", PASSWORDS["calm"])


async def spray(
    host: str,
    port: int,
    user: str,
    per_second: float,
    stop: asyncio.Event,
    sources: list[str],
    refused: set[str] | None = None,
) -> tuple[int, dict[int, int]]:
    """Wrong passwords for `user` at `per_second`, each on a new connection, from `sources`
    in turn. Returns (sent, answers by status); `refused` gets, as it happens, every source
    that has been answered 401 (the exporter now holds it suspect)."""
    statuses: dict[int, int] = {}
    sent = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(number: int) -> None:
        source = sources[number % len(sources)]
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            statuses[0] = statuses.get(0, 0) + 1
            return
        try:
            auth = basic(user, f"guess-{number}")
            writer.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                         "Connection: close\r\n\r\n".encode())  # fmt: skip
            line = await asyncio.wait_for(reader.readline(), 10)
            status = int(line.split()[1]) if line else 0
        except (OSError, asyncio.TimeoutError, ValueError, IndexError):
            status = 0
        finally:
            writer.transport.abort()
        statuses[status] = statuses.get(status, 0) + 1
        if status == 401 and refused is not None:
            refused.add(source)

    loop = asyncio.get_running_loop()
    started = loop.time()
    while not stop.is_set():
        task = asyncio.ensure_future(one(sent))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / per_second - loop.time()))
    await asyncio.gather(*tasks)
    return sent, statuses


async def test_a_password_spray_does_not_lock_out_the_scraper(
    start_exporter: ExporterFactory,
) -> None:
    """50 wrong passwords a second, first from one address, then from 32. Each phase's
    scraper is a user the exporter has not seen yet: its first check happens during the
    spray, the hardest moment (afterwards its credential is cached, out of the spray's
    reach)."""
    exporter = start_exporter(web_config=WEB_CONFIG)
    scraper_address = "127.0.0.2"
    calm = await baseline(exporter, headers={"Authorization": GOOD}, source=scraper_address)
    busy_before = 0.0
    for user, sprayers in (("first", 1), ("second", 32)):
        stop = asyncio.Event()
        sources = [f"127.0.1.{n}" for n in range(1, sprayers + 1)]
        refused: set[str] = set()
        attack = asyncio.ensure_future(spray(exporter.host, exporter.port, user, 50, stop,
                                             sources, refused))  # fmt: skip
        # From 32 fresh addresses the first wrong password of each is not yet suspect, and
        # those fill the queue for a second or two (longer on a loaded machine, where each
        # check is slower: a fixed 2 s wait once left the scraper 3 of 12 scrapes answered
        # 503): the measure starts once every address has been refused, i.e. is suspect.
        await asyncio.sleep(0.5)
        for _ in range(200):
            if len(refused) == len(sources):
                break
            await asyncio.sleep(0.1)
        assert len(refused) == len(sources), f"only {len(refused)} sprayers refused in 20 s"
        auth = {"Authorization": basic(user, PASSWORDS[user])}
        with Scraper(exporter, headers=auth, source=scraper_address) as scraper:
            await asyncio.sleep(ATTACK_SECONDS)
        stop.set()
        sent, statuses = await attack
        scrapes = scraper.scrapes
        report("auth-spray", sprayers=sprayers, per_second=50, sent=sent, answers=statuses,
               baseline=calm.summary(), **scrapes.summary(),
               rss_mib=round(exporter.rss_mib(), 1))  # fmt: skip
        # From one address the spray holds 4 of the 16 places; from 32 it fills the queue
        # with addresses already marked suspect, which make way for the scraper's address.
        # The first scrape waits for its check (behind at most the queue); then cached.
        assert scrapes.success_rate >= 0.9, scrapes.summary()
        assert scrapes.percentile(0.5) < 0.5, scrapes.summary()
        assert scrapes.percentile(1.0) < SCRAPE_TIMEOUT, scrapes.summary()
        assert statuses.get(401, 0) > 0
        assert statuses.get(503, 0) > 0  # the queue was full, and said so at once
        # Every 503 is counted: the sprayers' and any the scraper met while its first check
        # waited (seen once on a loaded machine: 226 counted, 225 at the sprayers). A sprayer
        # that gave up before reading its status line (0) may have been answered 503 too.
        busy = exporter.metric("ccgw_exporter_http_rejected_total", reason="auth_busy")
        seen = statuses.get(503, 0) + scrapes.failures.count("status 503")
        assert seen <= busy - busy_before <= seen + statuses.get(0, 0), (busy, busy_before,
                                                                         statuses)  # fmt: skip
        busy_before = busy


# --------------------------------------------------------------------------------------------
# Reload flood


async def reload_flood(host: str, port: int, workers: int, stop: asyncio.Event) -> int:
    """`POST /-/reload` as fast as `workers` connections can send it, none waiting for the
    answer (a waiting client would only slow itself down)."""
    sent = 0

    async def one() -> None:
        nonlocal sent
        while not stop.is_set():
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.write(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            with contextlib.suppress(OSError):
                await writer.drain()
            sent += 1
            await asyncio.sleep(0)
            writer.transport.abort()

    await asyncio.gather(*(one() for _ in range(workers)))
    return sent


async def test_a_reload_flood_does_not_slow_scrapes(start_exporter: ExporterFactory) -> None:
    exporter = start_exporter("--web.enable-lifecycle")
    calm = await baseline(exporter)
    stop = asyncio.Event()
    attack = asyncio.ensure_future(reload_flood(exporter.host, exporter.port, 20, stop))
    await asyncio.sleep(0.5)
    with Scraper(exporter) as scraper:
        await asyncio.sleep(ATTACK_SECONDS)
    stop.set()
    sent = await attack
    scrapes = scraper.scrapes
    reloads = exporter.log().count('msg="config reloaded"')
    report("reload-flood", sent=sent, reloads_run=reloads, baseline=calm.summary(),
           **scrapes.summary())  # fmt: skip
    assert sent > 20
    assert reloads <= ATTACK_SECONDS + 3  # one a second, not one per request
    assert scrapes.success_rate >= 0.9, scrapes.summary()
    assert scrapes.percentile(0.5) < max(5 * calm.percentile(0.5), 0.25), (
        scrapes.summary(), calm.summary())  # fmt: skip


# --------------------------------------------------------------------------------------------
# Scrape-timeout poisoning


async def poison(host: str, port: int, workers: int, stop: asyncio.Event) -> int:
    """Unauthenticated `/metrics` in a loop, each asking for a deadline of -1 s."""
    sent = 0

    async def one() -> None:
        nonlocal sent
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            try:
                writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"X-Prometheus-Scrape-Timeout-Seconds: -1\r\n\r\n")  # fmt: skip
                await asyncio.wait_for(reader.read(), 10)
                sent += 1
            except (OSError, asyncio.TimeoutError):
                pass
            finally:
                writer.transport.abort()

    await asyncio.gather(*(one() for _ in range(workers)))
    return sent


async def test_a_short_deadline_asked_by_one_client_does_not_shorten_anothers(
    gateway: SimulatorThread, start_exporter: ExporterFactory
) -> None:
    exporter = start_exporter()
    # Each conference query takes 0.3 s: a collection with a deadline of ~0 gets nothing.
    faults = gateway.sim.faults
    faults.latency_ms = 300
    faults.methods = ["queryConfInfos"]
    try:
        calm = await baseline(exporter)
        stop = asyncio.Event()
        attack = asyncio.ensure_future(poison(exporter.host, exporter.port, 4, stop))
        await asyncio.sleep(0.3)
        with Scraper(exporter) as scraper:
            await asyncio.sleep(ATTACK_SECONDS)
        stop.set()
        sent = await attack
    finally:
        faults.latency_ms = 0
        faults.methods = []
    scrapes = scraper.scrapes
    report("timeout-poisoning", sent=sent, baseline=calm.summary(), **scrapes.summary())
    assert sent > 10
    assert scrapes.success_rate >= 0.9, scrapes.summary()


# --------------------------------------------------------------------------------------------
# Memory after attacks (long version only: it idles 130 s)


@pytest.mark.skipif(not LONG, reason="idles 130 s; set CCGW_HOSTILE_LONG=1")
async def test_memory_returns_after_a_mixed_attack(start_exporter: ExporterFactory) -> None:
    exporter = start_exporter(web_config=WEB_CONFIG, nofile=1024)
    with Scraper(exporter, headers={"Authorization": GOOD}, interval=1.0):
        await asyncio.sleep(5)
    before = exporter.rss_mib()
    stop = asyncio.Event()
    attacks = [
        asyncio.ensure_future(slowloris(exporter.host, exporter.port, 1100, stop)),
        asyncio.ensure_future(
            spray(exporter.host, exporter.port, "first", 50, stop, ["127.0.1.1"])
        ),
    ]
    peak = before
    answered = 0
    for _ in range(3):  # 500 concurrent scrapes (with the password: cached after the first)
        answered += await scrape_flood(exporter, 500)
        peak = max(peak, exporter.rss_mib())
        await asyncio.sleep(3)
    stop.set()
    await asyncio.gather(*attacks)
    after_attack = exporter.rss_mib()
    await asyncio.sleep(130)
    idle = exporter.rss_mib()
    report("memory", baseline_mib=round(before, 1), peak_mib=round(peak, 1),
           after_attack_mib=round(after_attack, 1), after_130s_idle_mib=round(idle, 1),
           flood_answered=answered)  # fmt: skip
    assert answered > 0
    assert idle < before + 15  # measured: +8 MB (pymalloc arenas, docs/security.md)


async def scrape_flood(exporter: Exporter, concurrent: int) -> int:
    async def one() -> int:
        try:
            reader, writer = await asyncio.open_connection(exporter.host, exporter.port)
        except OSError:
            return 0
        try:
            writer.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {GOOD}\r\n"
                         "Connection: close\r\n\r\n".encode())  # fmt: skip
            line = await asyncio.wait_for(reader.readline(), 30)
            await asyncio.wait_for(reader.read(), 30)
            return 1 if b" 200 " in line else 0
        except (OSError, asyncio.TimeoutError):
            return 0
        finally:
            writer.transport.abort()

    return sum(await asyncio.gather(*(one() for _ in range(concurrent))))
