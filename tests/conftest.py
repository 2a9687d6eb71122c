"""Fixtures shared by the tests that talk to the simulator over real loopback sockets, and
how the suite is split between pytest-xdist's workers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ccgw_simulator import GatewaySimulator, SimulatorConfig
from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.session import Session, SessionSettings

from .support import await_until

INSPECTOR = ("153", "sim-inspector")
AGENT = ("154", "sim-agent")

SimFactory = Callable[..., Awaitable[GatewaySimulator]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start simulators on ephemeral loopback ports; quiet and fast by default.

    The default population is empty (tests add what they assert on) and time is frozen
    (time_scale 0) unless a test asks otherwise.
    """
    started: list[GatewaySimulator] = []

    async def factory(**overrides: Any) -> GatewaySimulator:
        options: dict[str, Any] = {
            "port": 0,
            "https": False,
            "conferences": 0,
            "time_scale": 0.0,
            "poll_hold": 0.3,
            "signin_delay": 0.0,
        }
        options.update(overrides)
        sim = GatewaySimulator(SimulatorConfig(**options))
        await sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.stop()


def client_for(sim: GatewaySimulator, agent_id: str = INSPECTOR[0], **kwargs: Any) -> GatewayClient:
    ssl_ctx: ssl.SSLContext | bool = True
    if sim.ca_file:
        ssl_ctx = ssl.create_default_context(cafile=sim.ca_file)
    return GatewayClient(ClientSettings(base_url=sim.url, agent_id=agent_id, ssl=ssl_ctx, **kwargs))


@pytest.fixture
async def make_session() -> AsyncIterator[Callable[..., Session]]:
    """Sessions with test-speed timings; stopped (signed out) at teardown."""
    sessions: list[Session] = []

    def factory(
        sim: GatewaySimulator,
        account: tuple[str, str] = INSPECTOR,
        start: bool = True,
        **overrides: Any,
    ) -> Session:
        options: dict[str, Any] = {
            "agent_id": account[0],
            "password": account[1],
            "poll_gap": (0.01, 0.02),
            "poll_timeout": 5.0,
            "call_timeout": 3.0,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "resign_min_interval": 0.0,
        }
        options.update(overrides)
        session = Session(f"sim-{account[0]}", SessionSettings(**options),
                          client_for(sim, account[0]))  # fmt: skip
        sessions.append(session)
        if start:
            session.start()
        return session

    yield factory
    await asyncio.gather(*(s.stop() for s in sessions))


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition on the event loop; fail with a clear message on timeout."""
    await await_until(predicate, timeout, "condition not met")


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


ROOT = Path(__file__).resolve().parents[1]
#: A test or fixture of the module takes the e2e stack (tests/e2e/conftest.py), which is
#: package-scoped: every module that does must run in one worker, or each starts its own.
_USES_STACK = re.compile(r"\bstack: Stack\b")


@functools.cache
def xdist_group(nodeid: str) -> str:
    """The pytest-xdist group of a test (`make test` runs `-n N --dist loadgroup`): its
    module, or "e2e-stack" for the modules that share the end-to-end stack.

    A module's tests run in one worker, so what a module-scoped fixture makes (a wheel built,
    fifteen `--config.check` processes, a Prometheus loaded with synthetic history) is made
    once, not once per worker; modules run beside each other. Collection order puts the long
    groups (e2e/, faults/, hostile/) first, so they start while the small tests fill the
    other workers.
    """
    module = nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/"):
        with contextlib.suppress(OSError):
            if _USES_STACK.search((ROOT / module).read_text(encoding="utf-8")):
                return "e2e-stack"
    return module


#: Which groups start first: the longest, so that the workers finish together (the e2e stack
#: takes ~50 s, single e2e and hostile modules up to ~35 s, fault modules ~15 s; most other
#: modules a few seconds). Within a rank, the groups with more tests first.
_FIRST = ("e2e-stack", "tests/e2e/", "tests/hostile/", "tests/faults/")


def _start_rank(group: str, size: int) -> tuple[int, int]:
    for rank, prefix in enumerate(_FIRST):
        if group.startswith(prefix):
            return rank, -size
    return len(_FIRST), -size


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup`, grouped by `xdist_group` above, longest groups first.

    xdist's own loadgroup reads `@pytest.mark.xdist_group` by rewriting node IDs, which
    pytest 9 no longer allows (the marks are silently ignored); its loadscope scheduler with
    our grouping and order does the same job.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    config.option.loadscopereorder = False  # the workers' order (below), not most tests first
    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker under `--dist loadgroup`, the longest groups first (see _FIRST).

    Reordered where the items are collected, because the controller hands work out as
    indices into the workers' collection, all alike; a run without xdist keeps its order.
    """
    if not (hasattr(config, "workerinput") and config.getvalue("loadgroup")):
        return
    sizes: dict[str, int] = {}
    for item in items:
        group = xdist_group(item.nodeid)
        sizes[group] = sizes.get(group, 0) + 1
    ranks = {group: _start_rank(group, size) for group, size in sizes.items()}
    items.sort(key=lambda item: ranks[xdist_group(item.nodeid)])  # stable within a group
