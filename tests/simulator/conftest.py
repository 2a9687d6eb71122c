"""Fixtures for the simulator's tests: a simulator on a loopback port and a raw HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ccgw_simulator import GatewaySimulator

from .wire import Gateway, StartSim, fast_config


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    started: list[GatewaySimulator] = []

    async def start(**overrides: Any) -> GatewaySimulator:
        sim = GatewaySimulator(fast_config(**overrides))
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies from IP hosts (127.0.0.1), as a gateway client must.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def sim(start_sim: StartSim) -> GatewaySimulator:
    return await start_sim()


@pytest.fixture
def gw(sim: GatewaySimulator, http: aiohttp.ClientSession) -> Gateway:
    return Gateway(sim, http)
