"""Fixtures of the hostile-gateway suite: one gateway for the session, exporters per test or
per module (each a real process), promtool if installed."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from .gateway import Answer, HostileGateway
from .rig import ExporterProcess, GatewayEntry, Rig, find_promtool

_agent_ids = itertools.count(3001)


def new_agent_id() -> str:
    """A fresh agent ID: a fresh tenant on the shared gateway, untouched by other tests."""
    return str(next(_agent_ids))


def new_password() -> str:
    return "pw-" + secrets.token_hex(10)


@pytest.fixture(scope="session")
def hostile_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileGateway]:
    gateway = HostileGateway(tls_dir=tmp_path_factory.mktemp("hostile-tls"))
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def promtool() -> str | None:
    return find_promtool()


RigFactory = Callable[..., Rig]


def start_rig(
    gateway: HostileGateway,
    workdir: Path,
    promtool: str | None,
    entries: Sequence[GatewayEntry],
    args: Sequence[str] = (),
) -> Rig:
    exporter = ExporterProcess(workdir, entries, new_password(), args=args)
    exporter.start()
    return Rig(gateway, exporter, promtool)


@pytest.fixture
def make_rig(
    hostile_gateway: HostileGateway, tmp_path: Path, promtool: str | None
) -> Iterator[RigFactory]:
    """Start an exporter for gateway entries built by `entry(...)`; stopped at teardown."""
    rigs: list[Rig] = []
    numbers = itertools.count()  # scenarios may start exporters from several threads

    def factory(
        *entries: GatewayEntry, args: Sequence[str] = (), sign_in: Sequence[Answer] = ()
    ) -> Rig:
        """`sign_in`: answers to the first sign-ins of the first gateway (scripted before the
        exporter starts, so they meet a new session, not a lost one)."""
        if sign_in:
            hostile_gateway.tenant(entries[0].agent_id).script("sign_in", *sign_in)
        workdir = tmp_path / f"exporter{next(numbers)}"
        rig = start_rig(hostile_gateway, workdir, promtool, entries, args)
        rigs.append(rig)
        return rig

    yield factory
    for rig in rigs:
        rig.exporter.stop()
        for entry in rig.exporter.gateways:
            hostile_gateway.tenant(entry.agent_id).reset()
