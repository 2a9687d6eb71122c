"""The assembled exporter (exporter/app.py): reloads one at a time and coalesced, the lifecycle
API off unless asked for, the listener's metrics, and a taken port reported as such."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from exporter import app
from exporter.app import ListenError, Reloader
from exporter.config import load_config
from exporter.httpserver import Limits


async def test_a_flood_of_reloads_runs_a_few_and_everyone_gets_the_answer() -> None:
    runs: list[float] = []

    async def reload() -> bool:
        runs.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.05)
        return True

    reloader = Reloader(reload, min_interval=0.2)
    asked: list[asyncio.Future[bool]] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(50):  # 500 requests over half a second (longer on a loaded machine)
        asked += [asyncio.ensure_future(reloader()) for _ in range(10)]
        await asyncio.sleep(0.01)
    asking = loop.time() - started
    assert all(await asyncio.gather(*asked))
    # Requests share the run that starts next; runs start at most once per min_interval.
    assert 2 <= len(runs) <= asking / 0.2 + 2, (len(runs), asking)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert min(gaps) >= 0.2 - 0.01


async def test_a_reload_asked_for_during_a_run_gets_a_run_of_its_own() -> None:
    """A SIGHUP sent because the file changed while a reload read it must see the change."""
    seen: list[str] = []
    content = ["old"]

    async def reload() -> bool:
        value = content[0]
        await asyncio.sleep(0.05)
        seen.append(value)
        return value == "new"

    reloader = Reloader(reload, min_interval=0.0)
    first = asyncio.ensure_future(reloader())
    await asyncio.sleep(0.01)
    content[0] = "new"
    second = asyncio.ensure_future(reloader())
    assert await first is False
    assert await second is True
    assert seen == ["old", "new"]


async def test_a_reload_that_raises_answers_false_and_the_next_one_runs() -> None:
    calls = 0

    async def reload() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug")
        return True

    reloader = Reloader(reload, min_interval=0.0)
    assert await reloader() is False
    assert await reloader() is True


async def test_a_caller_that_gives_up_does_not_cancel_the_reload_of_the_others() -> None:
    done = asyncio.Event()

    async def reload() -> bool:
        await asyncio.sleep(0.05)
        done.set()
        return True

    reloader = Reloader(reload, min_interval=0.0)
    impatient = asyncio.ensure_future(reloader())
    patient = asyncio.ensure_future(reloader())
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient is True
    assert done.is_set()


Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**options: Any) -> str:
        path = tmp_path / f"config{len(running)}.yaml"
        path.write_text(yaml.safe_dump({"gateways": []}))
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(
            app.serve(
                load_config(path), str(path), "127.0.0.1:0", ready=ready, stop=stop, **options
            )
        )
        running.append((stop, task))
        first: list[asyncio.Future[Any]] = [ready, task]
        await asyncio.wait(first, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        host, port = ready.result()
        return f"http://{host}:{port}"

    yield start
    for stop, task in running:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_reload_over_http_is_off_by_default_and_on_with_the_flag(serve: Serve) -> None:
    off, on = await serve(), await serve(lifecycle=True)
    async with aiohttp.ClientSession() as http:
        async with http.post(off + "/-/reload") as resp:
            assert resp.status == 403
        async with http.post(on + "/-/reload") as resp:
            assert resp.status == 200
            assert await resp.text() == "reloaded\n"


async def test_the_listener_is_in_the_exporters_own_metrics(serve: Serve) -> None:
    base = await serve(limits=Limits(header_timeout=0.2))
    reader, writer = await asyncio.open_connection(*base.removeprefix("http://").split(":"))
    with contextlib.suppress(ConnectionError):  # dropped once the header timeout has passed
        assert await asyncio.wait_for(reader.read(), 30) == b""
    writer.close()
    async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as resp:
        text = await resp.text()
    assert "ccgw_exporter_http_connections 1.0" in text  # this scrape's own connection
    assert 'ccgw_exporter_http_rejected_total{reason="header_timeout"} 1.0' in text
    for reason in ("connection_limit", "auth_busy", "unauthorized"):
        assert f'ccgw_exporter_http_rejected_total{{reason="{reason}"}} 0.0' in text


async def test_a_taken_port_raises_listen_error_before_any_sign_in(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"gateways": []}))
        with pytest.raises(ListenError) as caught:
            await app.serve(load_config(path), str(path), f"127.0.0.1:{port}")
    assert caught.value.address == f"127.0.0.1:{port}"
    assert caught.value.reason == "address already in use"
    assert "--web.listen-address" in caught.value.hint
