"""The command line as an operator runs it: real subprocesses."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporter import __version__

from .support import Process, wait_until

EXPORTER = [sys.executable, "-m", "exporter.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXPORTER, *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})}, check=False)  # fmt: skip


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ccgw-exporter {__version__}"


def test_config_check_accepts_the_example() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.yaml"
    result = run("--config.file", str(example), "--config.check",
                 env={"CC_EAST_PASSWORD": "x"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_config_check_names_each_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"gateways": [
        {"name": "a", "url": "https://gw:8043", "agent_id": "153", "password": "s3cret-value",
         "timeout": "10x", "colour": "red"},
    ]}))  # fmt: skip
    result = run("--config.file", str(path), "--config.check")
    assert result.returncode == 1
    assert 'gateways[0].timeout: "10x" is not a duration' in result.stderr
    assert "gateways[0].colour: unknown key" in result.stderr
    assert "s3cret-value" not in result.stderr + result.stdout


def test_missing_config_file_flag_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert "--config.file" in result.stderr


def test_a_bad_config_at_start_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("gateways: {}\nweb: [1]\n")
    result = run("--config.file", str(path))
    assert result.returncode == 1
    assert "web" in result.stderr


@pytest.mark.parametrize("address", ["9865", "host:", "host:http", "host:70000", "::1:80"])
def test_a_bad_listen_address_is_a_usage_error(tmp_path: Path, address: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("gateways: []\n")
    result = run("--config.file", str(path), "--web.listen-address", address)
    assert result.returncode == 2
    assert "--web.listen-address" in result.stderr
    assert "HOST:PORT" in result.stderr or "brackets" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--web.header-timeout", "soon", "is not a duration"),
        ("--web.idle-timeout", "0s", "must be greater than 0"),
        ("--web.max-connections", "0", "at least 1"),
        ("--web.max-connections", "many", "at least 1"),
    ],
)
def test_bad_web_limits_are_usage_errors(flag: str, value: str, message: str) -> None:
    result = run("--config.file", "x.yaml", f"{flag}={value}")
    assert result.returncode == 2
    assert flag in result.stderr
    assert message in result.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("demo", [False, True], ids=["config-file", "demo"])
def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path, taken_port: int, demo: bool) -> None:
    """Issue 17: no traceback, no 11-second wait; the address and the cure in one line."""
    path = tmp_path / "config.yaml"
    path.write_text("gateways: []\n")
    address = f"127.0.0.1:{taken_port}"
    source = ["--demo"] if demo else ["--config.file", str(path)]
    started = time.monotonic()
    result = run(*source, "--web.listen-address", address)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert took < 8, f"{took:.1f}s"
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = [line for line in result.stderr.splitlines() if "level=error" in line]
    assert 'msg="cannot listen"' in line
    assert f"address={address}" in line
    assert 'error="address already in use"' in line
    assert "--web.listen-address" in line


def test_demo_serves_conferences_and_stops_cleanly(tmp_path: Path) -> None:
    argv = [*EXPORTER, "--demo", "--web.listen-address", "127.0.0.1:0"]
    proc = Process("demo", argv, tmp_path / "demo.log").start()
    try:
        url = proc.wait_for_line(re.compile(r"metrics\s+(http://\S+/metrics)"), 30).group(1)
        body = ""

        def serving() -> bool:
            nonlocal body
            body = urllib.request.urlopen(url, timeout=10).read().decode()
            found = re.search(r'^ccgw_conferences\{gateway="demo"\} (\S+)$', body, re.M)
            conferences = float(found.group(1)) if found else 0.0
            return conferences > 0 and 'ccgw_up{gateway="demo"} 1' in body

        wait_until(serving, 30, "the demo gateway up with conferences", interval=0.2,
                   alive=proc.check_alive)  # fmt: skip
        found = re.search(r'^ccgw_conferences\{gateway="demo"\} (\S+)$', body, re.M)
        assert found
        assert float(found.group(1)) >= 20
        assert "ccgw_conference_participants{" in body
        assert "ccgw_participant_info{" in body
    finally:
        stopped = proc.stop(grace=20)
    out = proc.log_text()
    assert stopped.status == 0, out
    assert "signed out" in out


def test_sighup_reloads_and_a_bad_file_keeps_the_old_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("web: {listen_address: '127.0.0.1:0'}\ngateways: []\n")
    proc = Process("exporter", [*EXPORTER, "--config.file", str(path)],
                   tmp_path / "exporter.log").start()  # fmt: skip
    try:
        url = f"http://{proc.wait_listening(30)}/metrics"

        def reload_ok() -> str:
            body = urllib.request.urlopen(url, timeout=10).read().decode()
            match = re.search(r"^ccgw_config_last_reload_successful (\S+)$", body, re.M)
            assert match
            return match.group(1)

        assert reload_ok() == "1.0"
        path.write_text("gateways: [{name: 'bad name!'}]\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reload_ok() == "0.0", 30, "reload failed", interval=0.05)
        path.write_text("gateways: []\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reload_ok() == "1.0", 30, "reload succeeded", interval=0.05)
    finally:
        stopped = proc.stop(grace=20)
    out = proc.log_text()
    assert stopped.status == 0
    assert "config reload failed; keeping the previous config" in out
    assert "gateways[0].name" in out
