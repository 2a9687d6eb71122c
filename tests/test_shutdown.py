"""Issue 6, section 6: on SIGTERM or SIGINT the exporter process stops accepting scrapes,
finishes those in flight for up to 5 s, signs every session out and exits 0.

Each test runs `ccgw-exporter` as a real subprocess (signals, exit code and the listening
socket are process matters) against simulated gateways in the test's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from ccgw_simulator import GatewaySimulator
from exporter.app import SHUTDOWN_GRACE

from .conftest import INSPECTOR, SimFactory
from .support import Process, ProcessError, await_until


@dataclass
class Exporter:
    proc: Process
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def wait(self, timeout: float) -> int:
        """The exit status, once the exporter has exited by itself (within `timeout`)."""
        await await_until(lambda: self.proc.returncode is not None, timeout, "exporter exit")
        assert self.proc.returncode is not None
        return self.proc.returncode

    @property
    def log(self) -> str:
        return self.proc.log_text()


@pytest.fixture
async def exporter_process(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[Exporter] = []

    async def start(gateways: list[dict[str, Any]]) -> Exporter:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"gateways": gateways}))
        argv = [sys.executable, "-m", "exporter.cli", "--config.file", str(path),
                "--web.listen-address", "127.0.0.1:0"]  # fmt: skip
        proc = Process("exporter", argv, tmp_path / f"exporter{len(started)}.log").start()
        try:
            address = await proc.await_listening(timeout=30)
        except ProcessError as error:
            await proc.await_stop()
            pytest.fail(f"exporter did not listen: {error}")
        exporter = Exporter(proc, f"http://{address}")
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        await exporter.proc.await_stop(grace=5)


def entry(sim: GatewaySimulator, name: str, timeout: str = "10s") -> dict[str, Any]:
    return {"name": name, "url": sim.url, "agent_id": INSPECTOR[0],
            "password_env": "CCGW_TEST_PASSWORD", "timeout": timeout}  # fmt: skip


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCGW_TEST_PASSWORD", INSPECTOR[1])


async def wait_ready(process: Exporter, sims: list[GatewaySimulator]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(500):
            async with http.get(process.url + "/-/ready") as resp:
                if resp.status == 200 and all(s.stats.signins["loginEx"] for s in sims):
                    return
            await asyncio.sleep(0.02)
    pytest.fail("exporter not ready:\n" + process.log)


async def scrape(url: str, timeout_header: str = "10") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url + "/metrics",
                 headers={"X-Prometheus-Scrape-Timeout-Seconds": timeout_header}) as resp,
    ):  # fmt: skip
        return resp.status, await resp.text()


async def refused(port: int, within: float) -> float:
    """Seconds until a new connection to the port is refused (fails if it never is)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < within:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionRefusedError, ConnectionResetError):
            # Reset: the connection was in the listen backlog when the socket closed.
            return loop.time() - start
        writer.close()
        await asyncio.sleep(0.02)
    raise AssertionError(f"port {port} still accepting {within}s after the signal")


async def in_flight(sim: GatewaySimulator, method: str) -> None:
    for _ in range(500):
        if sim.stats.in_flight[method]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {method} in flight")


@pytest.mark.parametrize(
    ("signals", "label"),
    [
        ([signal.SIGTERM], "SIGTERM"),
        ([signal.SIGINT], "SIGINT"),
        # Ctrl-C pressed twice, or a supervisor that repeats: still a clean, signed-out exit.
        ([signal.SIGTERM, signal.SIGTERM], "SIGTERM twice"),
    ],
    ids=["sigterm", "sigint", "sigterm-twice"],
)
async def test_signal_finishes_the_scrape_in_flight_signs_out_and_exits_0(
    make_sim: SimFactory, exporter_process, signals: list[signal.Signals], label: str
) -> None:
    slow, other = await make_sim(), await make_sim()
    for sim in (slow, other):
        for _ in range(3):
            sim.population.add_conference()
    process = await exporter_process([entry(slow, "slow"), entry(other, "other")])
    await wait_ready(process, [slow, other])
    # The control: before any signal the port accepts connections.
    _, writer = await asyncio.open_connection("127.0.0.1", process.port)
    writer.close()

    slow.faults.latency_ms = 1200
    slow.faults.methods = ["queryConfInfos"]
    pending = asyncio.ensure_future(scrape(process.url))
    await in_flight(slow, "queryConfInfos")
    loop = asyncio.get_running_loop()
    signalled = loop.time()
    for number, sig in enumerate(signals):
        if number:
            await asyncio.sleep(0.2)
        process.proc.send_signal(sig)

    assert await refused(process.port, within=1.0) < 1.0, label
    status, text = await asyncio.wait_for(pending, SHUTDOWN_GRACE + 2)
    assert status == 200
    assert 'ccgw_up{gateway="slow"} 1' in text
    assert 'ccgw_conferences{gateway="slow"} 3' in text
    assert await process.wait(SHUTDOWN_GRACE + 5) == 0, process.log
    assert loop.time() - signalled < SHUTDOWN_GRACE
    for sim in (slow, other):
        assert sim.stats.signouts["logout"] == 1, process.log
        assert len(sim.nodes[0].sessions) == 0
    assert process.log.count('msg="signed out"') == 2, process.log
    assert "msg=stopped" in process.log
    assert "Traceback" not in process.log


async def test_a_scrape_longer_than_the_grace_is_cut_at_5s_and_sessions_still_sign_out(
    make_sim: SimFactory, exporter_process
) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    process = await exporter_process([entry(sim, "gw", timeout="30s")])
    await wait_ready(process, [sim])
    sim.faults.slow_rate = 1.0
    sim.faults.slow_seconds = 60.0
    sim.faults.methods = ["queryAllConfIds"]
    pending = asyncio.ensure_future(scrape(process.url, timeout_header="60"))
    await in_flight(sim, "queryAllConfIds")
    loop = asyncio.get_running_loop()
    signalled = loop.time()
    process.proc.send_signal(signal.SIGTERM)
    assert await process.wait(SHUTDOWN_GRACE + 5) == 0, process.log
    took = loop.time() - signalled
    assert SHUTDOWN_GRACE - 0.5 < took < SHUTDOWN_GRACE + 3, f"{took:.2f}s"
    with contextlib.suppress(aiohttp.ClientError):
        await asyncio.wait_for(pending, 2)  # cut: no answer, or an error answer
    assert sim.stats.signouts["logout"] == 1, process.log
    assert "Traceback" not in process.log
    assert "scrapes cut at the end of the grace" in process.log
    # The cut collection is stopped with its gateway, not left to fail against a closed client.
    assert "discovery failed" not in process.log, process.log
