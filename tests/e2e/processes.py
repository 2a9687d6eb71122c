"""Child processes for the end-to-end tests: found, started, awaited, and always stopped.

Every process logs to its own file, because a failure in the middle of a 30-second run is
explained by what Prometheus or the exporter said at the time, not by the test's traceback;
conftest.py attaches the tails of these files to a failing test's report.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

#: How long a process gets to stop on SIGTERM before SIGKILL (the exporter signs out first).
STOP_GRACE = 5.0


def find_binary(names: Sequence[str], package: str) -> str:
    """The first of `names` on PATH. Missing: a skip on a developer's machine, a failure in
    CI (CI=true), so that a CI image without the binaries cannot pass by skipping."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    message = f"{' or '.join(names)} not found (Debian: apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago. Racy by nature; `start_with_port`
    retries when another process takes it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One child process whose stdout and stderr go to `log_path`."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._log.write(f"$ {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not these
        )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_GRACE; safe to call twice."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_GRACE)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def died(self) -> str | None:
        """Why the process is gone, or None while it runs."""
        if self.popen is None or self.popen.poll() is None:
            return None
        return f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail(30)}"


def http_status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def wait_until_ready(process: Process, url: str, timeout: float) -> None:
    """Poll `url` until it answers 200; fail at once, with the log, if the process dies."""
    end = time.monotonic() + timeout
    while True:
        if http_status(url) == 200:
            return
        reason = process.died()
        if reason is not None:
            raise RuntimeError(reason)
        if time.monotonic() > end:
            tail = process.log_tail(30)
            raise RuntimeError(f"{process.name} not ready at {url} in {timeout:g}s:\n{tail}")
        time.sleep(0.05)


def start_with_port(
    make: Callable[[int], Process], ready_url: Callable[[int], str], timeout: float = 20.0
) -> tuple[Process, int]:
    """Start `make(port)` on a free port and wait for it; try another port (up to three in
    all) if the process died because someone else took the port in between."""
    last = ""
    for _ in range(3):
        port = free_port()
        process = make(port)
        process.start()
        try:
            wait_until_ready(process, ready_url(port), timeout)
        except RuntimeError as error:
            process.stop()
            last = str(error)
            if "address already in use" in last.lower():
                continue
            raise
        return process, port
    raise RuntimeError(last)


_LISTENING = re.compile(r"msg=listening address=(\S+)")


def wait_for_listen_address(process: Process, timeout: float) -> str:
    """The exporter binds port 0 and logs where it listens: read the address from its log."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        match = _LISTENING.search(process.log_text())
        if match:
            return match.group(1)
        reason = process.died()
        if reason is not None:
            raise RuntimeError(reason)
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not log its address:\n{process.log_tail(30)}")


def stop_all(processes: Sequence[Process]) -> None:
    """Stop in reverse start order; one failing stop must not leave the others running."""
    for process in reversed(processes):
        with contextlib.suppress(Exception):
            process.stop()
