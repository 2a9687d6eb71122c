"""``ccgw-gateway-sim`` as a process: it prints where it serves, serves, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from ccgw_simulator.cli import main
from ccgw_simulator.tls import client_ssl_context


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccgw_simulator",
        "--listen",
        "127.0.0.1:0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not any(line.startswith("  admin API") for line in lines):
        raw = await asyncio.wait_for(proc.stdout.readline(), 15)
        if not raw:
            assert proc.stderr is not None
            pytest.fail("simulator exited: " + (await proc.stderr.read()).decode())
        lines.append(raw.decode().rstrip("\n"))
    return proc, lines


async def _stop(proc: asyncio.subprocess.Process, sig: int) -> str:
    proc.send_signal(sig)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    return out.decode()


async def test_http_process_prints_its_address_serves_and_stops_on_sigterm() -> None:
    proc, lines = await _start("--http", "--conferences", "3", "--agent", "300:pw:inspector")
    try:
        match = re.match(r"ccgw-gateway-sim serving (http://127\.0\.0\.1:(\d+))$", lines[0])
        assert match is not None, lines
        url = match.group(1)
        assert int(match.group(2)) > 0
        text = "\n".join(lines)
        assert "300 inspector (password <secret>)" in text
        assert "auth mode: dynamic" in text
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/simulator/conferences") as resp:
                assert (await resp.json())["count"] == 3
            body = {"password": "pw", "phonenum": "40038"}
            async with http.put(url + "/agentgateway/resource/onlineagent/300", json=body) as resp:
                assert (await resp.json())["retcode"] == "0"
    finally:
        if proc.returncode is None:
            out = await _stop(proc, signal.SIGTERM)
    assert "stopping" in out


async def test_https_process_prints_its_ca_and_stops_on_sigint() -> None:
    proc, lines = await _start("--conferences", "0", "--auth-mode", "static")
    try:
        text = "\n".join(lines)
        assert lines[0].startswith("ccgw-gateway-sim serving https://127.0.0.1:")
        url = lines[0].split()[-1]
        assert "153 inspector (password sim-inspector)" in text
        assert "154 agent (password sim-agent)" in text
        assert "auth mode: static" in text
        ca = re.search(r"CA certificate: (\S+)", text)
        assert ca is not None
        assert await asyncio.to_thread(os.path.isfile, ca.group(1))
        async with aiohttp.ClientSession() as http:
            context = client_ssl_context(ca.group(1))
            async with http.get(url + "/simulator/stats", ssl=context) as resp:
                assert resp.status == 200
    finally:
        if proc.returncode is None:
            await _stop(proc, signal.SIGINT)
    # its temporary certificate directory is gone
    assert not await asyncio.to_thread(os.path.exists, ca.group(1))


def test_bad_configuration_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--conferences", "30000"]) == 2
    assert "conferences" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: {retcodes: {x: 1}}\n")
    assert main(["--config", str(bad)]) == 2
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    bad.write_text("port: [\n")
    assert main(["--config", str(bad)]) == 2


def test_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check-config", "--nodes", "2"]) == 0
    assert "OK" in capsys.readouterr().out
