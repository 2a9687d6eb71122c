"""``GatewaySimulator``: wires the parts together and runs them on a loopback server.

Used in-process by tests and by ``ccgw-exporter --demo``, and as a separate process by
``ccgw-gateway-sim`` for benchmarks. Everything is reachable for tests: ``population``,
``faults`` (live), ``stats``, ``restart()``, ``set_node_up()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import tempfile
import weakref
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .admin import add_admin_routes
from .api import GatewayApi
from .auth import Accounts, SessionTable, agent_event
from .clock import SimClock
from .config import FaultConfig, SimulatorConfig
from .faults import FaultInjector
from .nodes import Balancer, Node
from .population import Population
from .stats import Stats

log = logging.getLogger("ccgw_simulator")


class GatewaySimulator:
    """A simulated CC-Gateway (or an NSLB in front of several) on one listening socket."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, epoch: float | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self.stats = Stats()
        self.clock = SimClock(self.config.time_scale, epoch=epoch)
        self.faults: FaultConfig = self.config.faults
        self.injector = FaultInjector(self.faults, self.config.seed)
        self.accounts = Accounts(self.config, self.stats)
        self.nodes = [
            Node(i, SessionTable(i, self.config, self.stats)) for i in range(self.config.nodes)
        ]
        self.balancer = Balancer(self.nodes)
        self.population = Population(
            self.config.conferences,
            seed=self.config.seed,
            clock=self.clock,
            stringly_numbers=self.config.stringly_numbers,
            listener=self._on_agent_event,
            audience=self._has_session,
            vdn=self.config.vdn,
            prompt_minutes=self.config.prompt_minutes,
            activity_mean_s=self.config.activity_mean_s,
            replacement_mean_s=self.config.replacement_mean_s,
            prolong_probability=self.config.prolong_probability,
        )
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ssl: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        self.port: int = self.config.port
        #: connections already counted in stats.tls_connections
        self._tls_seen: weakref.WeakSet[ssl.SSLObject] = weakref.WeakSet()

    # ------------------------------------------------------------------ lifecycle

    @web.middleware
    async def _count_tls_connections(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Counts each HTTPS connection at its first request, full handshake or resumed."""
        transport = request.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        if sslobj is not None and sslobj not in self._tls_seen:
            self._tls_seen.add(sslobj)
            self.stats.tls_connections["resumed" if sslobj.session_reused else "full"] += 1
        return await handler(request)

    @property
    def scheme(self) -> str:
        return "https" if self.config.https else "http"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:8043`` (the bound port once started)."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._count_tls_connections])
        GatewayApi(
            config=self.config,
            stats=self.stats,
            accounts=self.accounts,
            balancer=self.balancer,
            population=self.population,
            injector=self.injector,
            stopping=self._stopping,
        ).add_routes(app)
        add_admin_routes(app, self)
        return app

    def _tls(self) -> ssl.SSLContext | None:
        if not self.config.https:
            return None
        from . import tls

        cfg = self.config
        if cfg.cert_file and cfg.key_file:
            return tls.server_ssl_context(cfg.cert_file, cfg.key_file)
        if cfg.cert_dir:
            files = tls.existing_certificates(cfg.cert_dir) or tls.generate_certificates(
                cfg.cert_dir
            )
        else:
            self._tempdir = tempfile.TemporaryDirectory(prefix="ccgw-sim-")
            files = tls.generate_certificates(self._tempdir.name)
        self.ca_file = str(files.ca_file)
        return tls.server_ssl_context(files.cert_file, files.key_file)

    async def start(self) -> None:
        """Bind and serve; with port 0 the chosen port is in ``port``/``url`` afterwards."""
        if self._runner is not None:
            raise RuntimeError("already started")
        self._stopping = asyncio.Event()  # bound to the loop this start runs on
        if self._ssl is None:
            self._ssl = self._tls()
        access_log = log if log.isEnabledFor(logging.DEBUG) else None
        runner = web.AppRunner(self.build_app(), access_log=access_log, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self._ssl)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = _bound_port(runner, self.config.port)
        self._housekeeping = asyncio.create_task(self._housekeep())
        log.debug("gateway simulator serving %s", self.url)

    async def stop(self) -> None:
        """Release held polls and slow answers, then close the server."""
        if self._runner is None:
            return
        self._stopping.set()
        for node in self.nodes:
            node.sessions.wake_all()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        runner, self._runner = self._runner, None
        await runner.cleanup()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._ssl = None
            self.ca_file = None

    async def __aenter__(self) -> GatewaySimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _housekeep(self) -> None:
        """Advance the population and sign out idle agents even when nobody asks."""
        while True:
            await asyncio.sleep(self.config.tick_interval)
            try:
                self.population.tick()
                for node in self.nodes:
                    node.sessions.expire_idle()
            except Exception:  # pragma: no cover - a bug here must not kill the simulator
                log.exception("housekeeping failed")

    # ------------------------------------------------------------------ actions

    def restart(self) -> int:
        """Gateway restart: every agent on every node signed out, every Guid forgotten."""
        return sum(node.sessions.clear("restart") for node in self.nodes)

    def set_node_up(self, index: int, up: bool) -> None:
        """Take a node down (its sessions are lost) or bring it back (empty)."""
        if not 0 <= index < len(self.nodes):
            raise IndexError(f"no node {index}; nodes are 0..{len(self.nodes) - 1}")
        node = self.nodes[index]
        if node.up and not up:
            node.sessions.clear("node_down")
        node.up = up

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault configuration in place (``sim.faults`` stays the same object)."""
        self.faults.replace_with(faults)
        if faults.seed is not None:
            self.injector.reseed(faults.seed)

    def sign_out(self, agent_id: str, reason: str = "admin") -> bool:
        """Sign the agent out on every node (as the CTI would); False if it was not in."""
        signed_out = False
        for node in self.nodes:
            signed_out = node.sessions.sign_out(agent_id, reason) or signed_out
        return signed_out

    def _has_session(self, agent_id: str) -> bool:
        return any(agent_id in node.sessions for node in self.nodes)

    def _on_agent_event(self, agent_id: str, event_type: str, content: dict[str, Any]) -> None:
        event = agent_event(event_type, agent_id, content, self.clock.now_ms())
        for node in self.nodes:
            node.sessions.push_event(agent_id, event)


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default
