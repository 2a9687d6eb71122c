"""tests/support: the process and port helpers that tests, bench/ and soak/ share.

Each wait here must end on its condition, not on its deadline: the deadlines below are far
beyond what the condition takes, so a test that passes only by reaching one would be slow,
and the elapsed times asserted are well under them.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from pathlib import Path

import pytest

from .support import (
    LISTENING,
    Process,
    ProcessError,
    WaitTimeout,
    await_until,
    cpu_seconds,
    free_port,
    open_fds,
    rss_bytes,
    wait_until,
)

# A child that says where it "listens", then ignores SIGTERM if asked to.
CHILD = """
import signal, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ts=0 level=info msg=listening address=127.0.0.1:4242", flush=True)
time.sleep(60)
"""


def child(tmp_path: Path, mode: str = "polite") -> Process:
    return Process("child", [sys.executable, "-c", CHILD, mode], tmp_path / f"{mode}.log").start()


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_process_is_awaited_by_its_line_and_stopped_by_sigterm(tmp_path: Path) -> None:
    process = child(tmp_path)
    try:
        assert process.wait_listening(timeout=30) == "127.0.0.1:4242"
        assert process.rss_bytes() > 1 << 20
        assert process.cpu_seconds() >= 0
        assert process.open_fds() >= 3
    finally:
        stopped = process.stop(grace=10)
    assert stopped.status == -15
    assert not stopped.killed
    assert not process.running
    assert process.stop().status == -15  # twice is harmless


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    process = child(tmp_path, "stubborn")
    process.wait_listening(timeout=30)  # the handler is set before the line is printed
    stopped = process.stop(grace=0.2)
    assert stopped.killed
    assert stopped.status == -9
    assert stopped.seconds >= 0.2


def test_a_dead_process_fails_the_wait_at_once_with_its_last_words(tmp_path: Path) -> None:
    process = Process(
        "dying", [sys.executable, "-c", "print('no config'); raise SystemExit(3)"],
        tmp_path / "dying.log",
    ).start()  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ProcessError, match=r"(?s)dying exited with 3:.*no config"):
        process.wait_for_line(LISTENING, timeout=60)
    assert time.monotonic() - started < 30  # not the deadline
    with pytest.raises(ProcessError, match="exited with 3"):
        process.wait_for_http("http://127.0.0.1:9/", timeout=60)


def test_a_line_that_never_comes_times_out_naming_the_pattern(tmp_path: Path) -> None:
    process = child(tmp_path)
    try:
        with pytest.raises(ProcessError, match="nothing matching 'never'"):
            process.wait_for_line(re.compile("never"), timeout=0.1)
    finally:
        process.stop()


async def test_await_line_does_not_block_the_loop(tmp_path: Path) -> None:
    process = child(tmp_path)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(tick())
    try:
        assert await process.await_listening(timeout=30) == "127.0.0.1:4242"
    finally:
        ticker.cancel()
        process.stop()
    assert ticks > 0


def test_wait_until_returns_when_the_condition_holds() -> None:
    end = time.monotonic() + 0.05
    assert wait_until(lambda: time.monotonic() >= end, timeout=30) < 30
    with pytest.raises(WaitTimeout, match=r"the moon: not within 0\.05s"):
        wait_until(lambda: False, timeout=0.05, what="the moon")


async def test_await_until_returns_when_the_condition_holds() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, event.set)
    assert await await_until(event.is_set, timeout=30) < 30
    with pytest.raises(WaitTimeout):
        await await_until(lambda: False, timeout=0.05)


def test_proc_readings_of_this_process() -> None:
    pid = os.getpid()
    assert rss_bytes(pid) > 1 << 20
    assert cpu_seconds(pid) > 0
    assert open_fds(pid) >= 3


async def test_await_stop_leaves_the_loop_free_while_the_child_exits(tmp_path: Path) -> None:
    process = child(tmp_path)
    await process.await_listening(timeout=30)
    stopped = await process.await_stop(grace=10)
    assert (stopped.status, stopped.killed) == (-15, False)
    stubborn = child(tmp_path, "stubborn")
    await stubborn.await_listening(timeout=30)
    stopped = await stubborn.await_stop(grace=0.2)
    assert (stopped.status, stopped.killed) == (-9, True)
