"""Child processes with their output in a file, loopback ports, waits on conditions, /proc.

Output goes to a file, never a pipe: a chatty child can never block on a full pipe in the
middle of a measurement, and a failure is explained by what the process said at the time
(every error raised here carries the end of its log).

Every wait here is for a condition (a line in the log, an HTTP status, a predicate) under a
deadline, and fails at once, with the log, when the process has died: nothing sleeps a fixed
time hoping that a child is ready. Deadlines are generous on purpose: they only bound a
failure, a passing run never waits for them, so a loaded 2-core machine costs time, not a
spurious failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

LOOPBACK = "127.0.0.1"
#: What the exporter logs once it listens; it binds port 0 and says where (`host:port`).
LISTENING = re.compile(r"msg=listening address=(\S+)")
#: How often a condition is looked at: often enough that a wait costs at most this much more
#: than the condition took, rarely enough not to load the machine it measures.
POLL = 0.02
_P = TypeVar("_P", bound="Process")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


class ProcessError(RuntimeError):
    """A process did not start, died, or did not say what was awaited; the message carries
    the end of its output."""


class WaitTimeout(AssertionError):
    """A condition did not hold in time (as opposed to a check that failed on the way)."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on `host` a moment ago. Racy by nature: prefer letting the
    child bind port 0 and read its address back (`Process.wait_listening`), or retry with
    `start_with_port`; this is for programs that cannot say where they listen."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str = "condition",
    *,
    interval: float = POLL,
    alive: Callable[[], object] | None = None,
) -> float:
    """Seconds until `condition` held. WaitTimeout naming `what` after `timeout`; `alive`
    (e.g. `Process.check_alive`) is called between looks so that a dead process fails the
    wait at once instead of at its deadline."""
    started = time.monotonic()
    while not condition():
        if alive is not None:
            alive()
        if time.monotonic() - started > timeout:
            raise WaitTimeout(f"{what}: not within {timeout:g}s")
        time.sleep(interval)
    return time.monotonic() - started


async def await_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str = "condition",
    *,
    interval: float = 0.01,
) -> float:
    """`wait_until` on the running event loop (its clock), yielding between looks."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        if loop.time() - started > timeout:
            raise WaitTimeout(f"{what}: not within {timeout:g}s")
        await asyncio.sleep(interval)
    return loop.time() - started


# -- /proc ------------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (OSError once it is gone)."""
    fields = Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()
    return int(fields[1]) * _PAGE


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far, all its threads (OSError once it is gone)."""
    # The command name in field 2 may hold spaces and parentheses: split after the last ')'.
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def open_fds(pid: int) -> int:
    """File descriptors a process has open (OSError once it is gone)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- HTTP -------------------------------------------------------------------------------------


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The status `url` answers with, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


# -- processes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stopped:
    """How a process ended under `Process.stop`."""

    status: int  # negative: the signal that ended it (-9 after the grace ran out)
    seconds: float  # from SIGTERM to exit
    killed: bool  # SIGKILL was needed


@dataclass
class Process:
    """One child process whose stdout and stderr both go to `log_path`.

    It runs in a session of its own, so a Ctrl-C in the terminal reaches the test runner,
    which then stops it properly, and not the child first.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None  # on top of this process's environment
    cwd: Path | None = None
    announce: bool = False  # write "$ argv" at the top of the log
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self: _P) -> _P:
        with self.log_path.open("ab") as log:
            if self.announce:
                log.write(f"$ {' '.join(self.argv)}\n".encode())
                log.flush()
            self.popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ProcessError(f"{self.name} was never started")
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def died(self) -> str | None:
        """Why the process is gone, with its last words; None while it runs."""
        if self.popen is None or self.popen.poll() is None:
            return None
        return f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail(30)}"

    def check_alive(self) -> None:
        reason = self.died()
        if reason is not None:
            raise ProcessError(reason)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _find(
        self, pattern: re.Pattern[str], timeout: float, started: float
    ) -> re.Match[str] | None:
        match = pattern.search(self.log_text())
        if match is not None:
            return match
        self.check_alive()
        if time.monotonic() - started > timeout:
            raise ProcessError(
                f"{self.name} logged nothing matching {pattern.pattern!r} within "
                f"{timeout:g}s:\n{self.log_tail(30)}"
            )
        return None

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """The first match of `pattern` in the log, once there is one."""
        started = time.monotonic()
        while (match := self._find(pattern, timeout, started)) is None:
            time.sleep(POLL)
        return match

    async def await_line(self, pattern: re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """`wait_for_line` without blocking the event loop."""
        started = time.monotonic()
        while True:
            match = self._find(pattern, timeout, started)
            if match is not None:
                return match
            await asyncio.sleep(POLL)

    def wait_listening(self, timeout: float = 30.0) -> str:
        """The exporter's `host:port`, from its log (it binds port 0)."""
        return self.wait_for_line(LISTENING, timeout).group(1)

    async def await_listening(self, timeout: float = 30.0) -> str:
        return (await self.await_line(LISTENING, timeout)).group(1)

    def wait_for_http(self, url: str, timeout: float = 30.0, status: int = 200) -> float:
        """Seconds until `url` answered `status`; fails at once if the process dies."""
        try:
            return wait_until(lambda: http_status(url) == status, timeout, url,
                              alive=self.check_alive)  # fmt: skip
        except WaitTimeout as error:
            raise ProcessError(f"{self.name} not ready: {error}:\n{self.log_tail(30)}") from None

    def stop(self, grace: float = 5.0) -> Stopped:
        """SIGTERM, then SIGKILL once `grace` seconds have passed; safe to call twice."""
        if self.popen is None:
            return Stopped(0, 0.0, False)
        started = time.monotonic()
        killed = False
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                killed = True
        return Stopped(self.popen.returncode, time.monotonic() - started, killed)

    async def await_stop(self, grace: float = 5.0) -> Stopped:
        """`stop` without blocking the event loop: for a child that needs this loop to stop
        (an exporter signing out from a gateway simulated in the same process)."""
        if self.popen is None:
            return Stopped(0, 0.0, False)
        started = time.monotonic()
        killed = False
        popen = self.popen
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(WaitTimeout):
                await await_until(lambda: popen.poll() is not None, grace, interval=POLL)
            if popen.poll() is None:
                popen.kill()
                killed = True
                await await_until(lambda: popen.poll() is not None, 60.0, interval=POLL)
        return Stopped(self.popen.returncode, time.monotonic() - started, killed)

    def send_signal(self, signum: int) -> None:
        if self.popen is None:
            raise ProcessError(f"{self.name} was never started")
        self.popen.send_signal(signum)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def open_fds(self) -> int:
        return open_fds(self.pid)


def start_with_port(
    make: Callable[[int], Process], ready_url: Callable[[int], str], timeout: float = 30.0
) -> tuple[Process, int]:
    """For programs that cannot bind port 0 and say where (Prometheus, Alertmanager): start
    `make(port)` on a free port and wait until `ready_url(port)` answers 200; on another
    port (three tries in all) if someone else took the port in between."""
    last = ""
    for _ in range(3):
        port = free_port()
        process = make(port).start()
        try:
            process.wait_for_http(ready_url(port), timeout)
        except ProcessError as error:
            process.stop()
            last = str(error)
            if "address already in use" in last.lower():
                continue
            raise
        return process, port
    raise ProcessError(last)
