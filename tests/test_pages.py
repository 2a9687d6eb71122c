"""Pages for people (issue 17): the conferences page and its JSON, `/probe?debug=true`, and
the `--diagnose` command end to end as an operator runs it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from exporter.app import reload_function
from exporter.config import load_config
from exporter.targets import Targets
from exporter.web import Exporter, make_app

from .conftest import AGENT, INSPECTOR, SimFactory, wait_for


@pytest.fixture
async def served(make_sim: SimFactory, tmp_path: Path) -> AsyncIterator[tuple[Any, Any, Targets]]:
    sim = await make_sim()
    for _ in range(5):
        sim.population.add_conference()
    path = tmp_path / "config.yaml"
    gateway = {"name": "gw", "url": sim.url, "agent_id": INSPECTOR[0],
               "password": INSPECTOR[1], "timeout": "3s"}  # fmt: skip
    path.write_text(yaml.safe_dump({"gateways": [gateway]}))
    targets = Targets(load_config(path).config, path=str(path))
    app = make_app(Exporter(targets), reloader=reload_function(targets, None))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    targets.start()
    target = targets.get("gw")
    assert target is not None
    await wait_for(lambda: target.session.signed_in)
    yield client, sim, targets
    await client.close()
    await targets.stop()


async def test_the_conferences_page_lists_the_last_collection(served: Any) -> None:
    client, sim, _ = served
    resp = await client.get("/conferences")
    assert "no conference" in await resp.text(), "nothing before the first collection"
    await client.get("/metrics")
    calls = sum(sim.stats.calls.values())
    resp = await client.get("/conferences?sort=participants&order=desc")
    page = await resp.text()
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "<script" not in page
    for conf_id in sim.population.conf_ids():
        assert f"<td>{conf_id}</td>" in page
    assert "sort=conf_id" in page
    assert sum(sim.stats.calls.values()) == calls, "the page does not call the gateway"
    data = json.loads(await (await client.get("/conferences?format=json")).text())
    assert {c["conf_id"] for c in data["conferences"]} == set(sim.population.conf_ids())
    assert data["collections"]["gw"]["complete"] is True
    first = data["conferences"][0]
    assert set(first) >= {"conf_id", "state", "participants", "held", "elapsed_seconds",
                          "applied_seconds", "start_time", "served"}  # fmt: skip


async def test_probe_debug_tells_the_collections_story(served: Any) -> None:
    client, _, _ = served
    resp = await client.get("/probe?target=gw&debug=true")
    text = await resp.text()
    assert resp.status == 200
    assert "session: signed_in" in text
    assert "role inspector" in text
    assert "discovery" in text
    assert "batches" in text
    assert "served: 5 conference(s): 5 fresh, 0 stale" in text
    assert INSPECTOR[1] not in text


async def test_the_landing_page_links_the_new_pages(served: Any) -> None:
    client, _, _ = served
    page = await (await client.get("/")).text()
    assert 'href="conferences"' in page
    assert "debug=true" in page


async def test_diagnose_command_end_to_end(make_sim: SimFactory, tmp_path: Path) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    path = tmp_path / "config.yaml"
    gateways = [
        {"name": "inspector", "url": sim.url, "agent_id": INSPECTOR[0],
         "password": INSPECTOR[1]},
        {"name": "wrong", "url": sim.url, "agent_id": AGENT[0], "password": "not-it-4321"},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump({"gateways": gateways}))

    async def run(*names: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exporter.cli", "--config.file", str(path), "--diagnose",
            *names, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    code, out = await run("inspector")
    assert code == 0, out
    assert "1 of 1 gateway(s) passed" in out
    code, out = await run()
    assert code == 1, out
    assert "100-004" in out
    assert "not-it-4321" not in out
    assert INSPECTOR[1] not in out
    code, out = await run("nope")
    assert code == 1
    assert "unknown gateway name(s): nope" in out
