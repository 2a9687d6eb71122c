"""Fixtures of the fault suite, and the hook that prints its table at the end of the run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ..conftest import SimFactory
from .cases import FAULTY_CONFERENCES, FaultCase, tls_sim
from .report import ROWS, table
from .rig import FAULTY, HEALTHY, HEALTHY_CONFERENCES, Rig

RigFactory = Callable[..., Awaitable[Rig]]
DEFAULT_PASSWORD = "sim-inspector"


@pytest.fixture
async def make_rig(make_sim: SimFactory, tmp_path: Path) -> AsyncIterator[RigFactory]:
    """A started exporter for one fault case: a healthy control gateway and the faulty one,
    both simulated on loopback, the root logger captured at INFO."""
    rigs: list[Rig] = []
    root = logging.getLogger()
    level = root.level

    async def factory(
        case: FaultCase,
        password: str = DEFAULT_PASSWORD,
        phone: str | None = None,
        gateway_password: str | None = None,
        **entry: Any,
    ) -> Rig:
        """`password`: what the exporter is configured with; `gateway_password`: what the
        simulated gateways expect (the same unless given); `phone`: a participant with that
        number in one healthy conference; `entry`: more settings for both gateways."""
        directory = tmp_path / f"rig{len(rigs)}"
        directory.mkdir()
        rig = Rig(directory, password)
        rigs.append(rig)
        root.addHandler(rig.logs)
        root.setLevel(logging.INFO)
        expected = password if gateway_password is None else gateway_password
        accounts = [{"agent_id": "153", "password": expected, "inspector": True}]
        healthy = await make_sim(accounts=_accounts(accounts))
        for n in range(HEALTHY_CONFERENCES):
            if n == 0 and phone is not None:
                healthy.population.add_conference(
                    participants=[{"address": phone, "addressType": "6"},
                                  {"address": "154", "addressType": "9", "role": 1}]
                )  # fmt: skip
            else:
                healthy.population.add_conference()
        options: dict[str, Any] = dict(case.sim)
        kind = options.pop("tls", None)
        if kind is not None:
            options.update(tls_sim(rig, kind))
        sim = await make_sim(accounts=_accounts(accounts), **options)
        for _ in range(FAULTY_CONFERENCES):
            sim.population.add_conference()
        rig.sims = {HEALTHY: healthy, FAULTY: sim}
        faulty_entry = rig.entry(FAULTY, sim, **entry)
        if case.gateway is not None:
            faulty_entry.update(case.gateway(rig))
        await rig.start([rig.entry(HEALTHY, healthy, **entry), faulty_entry])
        return rig

    yield factory
    for rig in rigs:
        await rig.close()
        root.removeHandler(rig.logs)
    root.setLevel(level)


def _accounts(raw: list[dict[str, Any]]) -> list[Any]:
    from ccgw_simulator.config import Account

    return [Account.from_mapping(a) for a in raw]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ROWS:
        terminalreporter.section("fault suite: measured")
        terminalreporter.write_line(table(ROWS))
