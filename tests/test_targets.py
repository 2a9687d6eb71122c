"""The set of gateways across reloads: what still holds is kept (sessions, counters, the
activity tracker and the known conferences), what changed is rebuilt, what went signs out, and
a bad file changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ccgw_simulator import GatewaySimulator
from exporter.config import load_config
from exporter.targets import Targets

from .conftest import INSPECTOR, SimFactory, wait_for


def entry(sim: GatewaySimulator, name: str, **overrides: Any) -> dict[str, Any]:
    gateway: dict[str, Any] = {
        "name": name,
        "url": sim.url,
        "agent_id": INSPECTOR[0],
        "password": INSPECTOR[1],
        "timeout": "3s",
    }
    gateway.update(overrides)
    return gateway


@pytest.fixture
async def make_targets(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[Targets] = []

    def factory(gateways: list[dict[str, Any]]) -> tuple[Targets, Path]:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"gateways": gateways}))
        targets = Targets(load_config(path).config, path=str(path))
        targets.start()
        made.append(targets)
        return targets, path

    yield factory
    for targets in made:
        await targets.stop()


async def test_an_unchanged_gateway_keeps_its_session_counters_and_activity(
    make_sim: SimFactory, make_targets: Callable[..., Any]
) -> None:
    a, b = await make_sim(), await make_sim()
    for sim in (a, b):
        sim.population.add_conference()
    targets, path = make_targets([entry(a, "a"), entry(b, "b")])
    kept = targets.get("a")
    assert kept is not None
    await wait_for(lambda: kept.session.signed_in)
    await kept.collect(3.0)
    await kept.collect(3.0)
    started = kept.activity.started
    sign_ins = sum(a.stats.signins.values())
    # b changes (timeout), a does not; a third gateway appears
    c = await make_sim()
    path.write_text(yaml.safe_dump({"gateways": [entry(a, "a"), entry(b, "b", timeout="4s"),
                                                 entry(c, "c")]}))  # fmt: skip
    ok, _ = await targets.reload()
    assert ok
    assert targets.get("a") is kept, "same object: session, counters, activity, known"
    assert kept.activity.started == started
    assert sum(a.stats.signins.values()) == sign_ins, "no new sign-in for a"
    new_b = targets.get("b")
    assert new_b is not None
    await wait_for(lambda: new_b.session.signed_in)
    assert sum(b.stats.signins.values()) == 2, "b rebuilt: signed in again"
    assert targets.get("c") is not None


async def test_a_removed_gateway_signs_out(
    make_sim: SimFactory, make_targets: Callable[..., Any]
) -> None:
    a, b = await make_sim(), await make_sim()
    targets, path = make_targets([entry(a, "a"), entry(b, "b")])
    gone = targets.get("b")
    assert gone is not None
    await wait_for(lambda: gone.session.signed_in)
    path.write_text(yaml.safe_dump({"gateways": [entry(a, "a")]}))
    ok, _ = await targets.reload()
    assert ok
    assert targets.get("b") is None
    await wait_for(lambda: b.stats.calls["logout"] == 1)
    assert [t.name for t in targets.all()] == ["a"]


async def test_a_bad_file_changes_nothing(
    make_sim: SimFactory, make_targets: Callable[..., Any]
) -> None:
    a = await make_sim()
    targets, path = make_targets([entry(a, "a")])
    before = targets.get("a")
    path.write_text(yaml.safe_dump({"gateways": [entry(a, "a", timeout="soon")]}))
    ok, message = await targets.reload()
    assert not ok
    assert "timeout" in message
    assert not targets.last_reload_ok
    assert targets.get("a") is before
    await asyncio.sleep(0)
