"""Fixtures shared by the tests that talk to the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ccgw_simulator import GatewaySimulator, SimulatorConfig
from exporter.gateway.client import ClientSettings, GatewayClient
from exporter.gateway.session import Session, SessionSettings

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
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds
