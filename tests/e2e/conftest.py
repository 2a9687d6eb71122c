"""Fixtures of the end-to-end tests: one stack for the package, and its logs on failure.

The stack (4 simulated gateways, the exporter, Prometheus, Alertmanager, a webhook receiver)
is started once and shared: starting Prometheus per test would cost more than the tests. It
is package-scoped so that it stops after the last test here, not at the end of the whole
run, where it would scrape every second while the other tests share the CPU.
Tests never undo each other's causes: each drives its own gateway or conference
(tests/e2e/gateways.py says which is whose).
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # grafana/ and prometheus/ are not installed packages
    sys.path.insert(0, str(ROOT))

from .processes import Process, find_binary  # noqa: E402
from .stack import Binaries, Stack, describe, start_stack  # noqa: E402

PROCESSES = pytest.StashKey[list[Process]]()


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    binaries = Binaries.find()  # skip (or fail under CI=true) before starting anything
    processes = request.config.stash.setdefault(PROCESSES, [])
    running = start_stack(tmp_path_factory.mktemp("e2e"), binaries, processes)
    print(f"\ne2e stack:\n{describe(running)}")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_binary(["promtool"], "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return find_binary(["amtool"], "prometheus-alertmanager")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing end-to-end test shows the tail of every process's log in its report."""
    report = yield
    if report.failed:
        for process in item.config.stash.get(PROCESSES, []):
            report.sections.append(
                (f"{process.name} log ({process.log_path})", process.log_tail(80))
            )
    return report
