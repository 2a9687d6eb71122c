"""`ccgw-exporter --demo`: the simulator and an exporter for it, in one process.

It runs the real thing end to end, nothing mocked: an HTTPS simulated gateway with dynamic
Guid rotation and a few dozen living conferences, and the exporter signed in to it through a
config file written beside the simulator's CA certificate. That file can be edited and
reloaded (SIGHUP, or `POST /-/reload` with --web.enable-lifecycle) to try configuration
changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .app import ListenError, serve
from .config import load_config
from .httpserver import DEFAULT_LIMITS, Limits

DEMO_CONFERENCES = 36
INSPECTOR_ID = "153"
INSPECTOR_PASSWORD = "sim-inspector"


def demo_config(
    sim_url: str, ca_file: str | None, password_file: Path, listen: str
) -> dict[str, object]:
    """The exporter config the demo writes; also a readable example of a minimal config."""
    return {
        "web": {"listen_address": listen},
        "gateways": [
            {
                "name": "demo",
                "url": sim_url,
                "agent_id": INSPECTOR_ID,
                "password_file": str(password_file),
                "sign_in": "loginex",
                "tls": {"ca_file": ca_file or ""},
                "timeout": "8s",
                "max_concurrency": 8,
                "conferences": {"discover": True},
                "participants": {"metrics": True, "address": "masked"},
            }
        ],
    }


#: The simulator is a distribution of its own (simulator/ in the repository), not part of an
#: exporter install: the demo says so in one line instead of a traceback.
SIMULATOR_MISSING = (
    "ccgw-exporter: --demo needs the gateway simulator (ccgw-gateway-sim), which is not "
    "installed: `make demo` installs it, or `pip install ./simulator` in a checkout"
)


async def _run(listen_address: str, workdir: Path, lifecycle: bool, limits: Limits) -> None:
    from ccgw_simulator import GatewaySimulator, SimulatorConfig

    sim = GatewaySimulator(
        SimulatorConfig(
            host="127.0.0.1",
            port=0,
            https=True,
            cert_dir=str(workdir / "sim-tls"),
            auth_mode="dynamic",
            guid_interval=30.0,
            guid_timeout=60.0,
            conferences=DEMO_CONFERENCES,
            seed=7,
            time_scale=10.0,  # ten simulated seconds per second: conferences visibly move
        )
    )
    await sim.start()
    try:
        password_file = workdir / "demo.password"
        password_file.write_text(INSPECTOR_PASSWORD + "\n")
        password_file.chmod(0o600)
        config_path = workdir / "ccgw-exporter.yaml"
        config = demo_config(sim.url, sim.ca_file, password_file, listen_address)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        loaded = load_config(config_path)
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        server = asyncio.ensure_future(
            serve(
                loaded,
                str(config_path),
                listen_address,
                ready=ready,
                lifecycle=lifecycle,
                limits=limits,
            )
        )
        # Whichever comes first: listening, or the reason it cannot (a port in use).
        first: set[asyncio.Future[Any]] = {ready, server}
        await asyncio.wait(first, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            server.result()  # raises ListenError
        host, port = ready.result()
        base = f"http://{host}:{port}"
        reload_hint = f"curl -X POST {base}/-/reload" if lifecycle else f"kill -HUP {os.getpid()}"
        print(
            "\nccgw-exporter demo is running (Ctrl-C to stop)\n"
            f"  exporter          {base}/\n"
            f"  metrics           {base}/metrics\n"
            f"  one gateway       {base}/probe?target=demo\n"
            f"  simulated gateway {sim.url}  (HTTPS, dynamic Guid rotation, "
            f"{DEMO_CONFERENCES} living conferences)\n"
            f"  simulator admin   {sim.url}/simulator/stats\n"
            f"  exporter config   {config_path}  (edit, then: {reload_hint})\n"
            f"  simulator CA      {sim.ca_file}\n",
            flush=True,
        )
        await server
    finally:
        await sim.stop()


def run_demo(
    listen_address: str = "127.0.0.1:9865",
    *,
    lifecycle: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> int:
    if importlib.util.find_spec("ccgw_simulator") is None:
        print(SIMULATOR_MISSING, file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="ccgw-demo-") as workdir,
        contextlib.suppress(KeyboardInterrupt),
    ):
        try:
            asyncio.run(_run(listen_address, Path(workdir), lifecycle, limits))
        except ListenError as error:
            error.report()
            return 1
    return 0
