"""What the tests, bench/ and soak/ share to run processes on loopback ports and wait for them.

It lives under tests/ (not at the top level, not in exporter/) because it is test
infrastructure: the wheel's explicit package list and .dockerignore's allowlist both leave
tests/ out, so nothing here can ship. bench/ (run as `python -m bench.run` from the checkout)
imports it as `tests.support`; soak/run.py puts the checkout on sys.path first. It imports
nothing beyond the standard library, so the benchmark and the soak need no test framework.
"""

from .processes import (
    LISTENING,
    LOOPBACK,
    POLL,
    Process,
    ProcessError,
    Stopped,
    WaitTimeout,
    await_until,
    cpu_seconds,
    free_port,
    http_status,
    open_fds,
    rss_bytes,
    start_with_port,
    wait_until,
)

__all__ = [
    "LISTENING",
    "LOOPBACK",
    "POLL",
    "Process",
    "ProcessError",
    "Stopped",
    "WaitTimeout",
    "await_until",
    "cpu_seconds",
    "free_port",
    "http_status",
    "open_fds",
    "rss_bytes",
    "start_with_port",
    "wait_until",
]
