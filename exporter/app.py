"""The exporter assembled: gateway targets, the web app, the hardened listener, signals and
reload, in one place.

cli.py parses flags and calls :func:`serve`; demo.py calls it for its simulated gateway.
Nothing in the package imports this module, so nothing below it can import upward
(tests/test_imports.py fails on any import cycle in exporter/).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from . import __version__, memtune
from .config import Config, LoadedConfig
from .httpserver import (
    DEFAULT_LIMITS,
    AcceptErrorLog,
    HardenedSite,
    HTTPStats,
    Limits,
    connection_budget,
    track_requests,
)
from .logs import kv
from .primitives import os_reason, parse_listen_address
from .shutdown import Draining
from .targets import Targets
from .web import Exporter, Reload, make_app
from .webconfig import WebSecurity

__all__ = ["SHUTDOWN_GRACE", "ListenError", "Reloader", "reload_function", "serve"]

log = logging.getLogger("ccgw_exporter")

SHUTDOWN_GRACE = 5.0  # seconds to finish scrapes in flight on SIGTERM/SIGINT
#: Reloads start at most this often; requests in between share the next one.
RELOAD_MIN_INTERVAL = 1.0
#: Open files kept out of the connection cap for the process itself (interpreter, stdio,
#: config files, DNS, the event loop); each gateway adds its own (see `fd_reserve`).
FD_RESERVE_BASE = 64


class ListenError(Exception):
    """The listen address cannot be served: in use, not an address of this host, a port
    below 1024 without the privilege. Reported as one line, no traceback (issue 17)."""

    def __init__(self, address: str, error: OSError) -> None:
        self.address = address
        # asyncio's own message repeats the address ("error while attempting to bind on
        # address ('127.0.0.1', 9865): address already in use"): the errno's words suffice.
        self.reason = (os.strerror(error.errno) if error.errno else os_reason(error)).lower()
        self.errno = error.errno
        super().__init__(f"cannot listen on {address}: {self.reason}")

    @property
    def hint(self) -> str:
        if self.errno == errno.EADDRINUSE:
            return (
                "another process listens there (another ccgw-exporter?); choose another "
                "address with --web.listen-address"
            )
        if self.errno == errno.EACCES:
            return "ports below 1024 need privileges; choose another with --web.listen-address"
        return "check --web.listen-address (or web.listen_address in the config file)"

    def report(self) -> None:
        log.error(
            "cannot listen", extra=kv(address=self.address, error=self.reason, hint=self.hint)
        )


class Reloader:
    """Runs reloads one at a time and starts at most one per ``min_interval``: requests that
    arrive while one waits or runs share the result of the next run. A flood of ``POST
    /-/reload`` (5,907 in 10 s slowed scrapes 30 times, issue 12) then costs one reload a
    second, and a SIGHUP sent during a reload is not lost: it gets a run of its own after."""

    def __init__(
        self, reload: Callable[[], Awaitable[bool]], *, min_interval: float = RELOAD_MIN_INTERVAL
    ) -> None:
        self._reload = reload
        self.min_interval = min_interval
        self._next: asyncio.Future[bool] | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_start = -float("inf")
        self.runs = 0

    async def __call__(self) -> bool:
        # Shielded: a client that hangs up must not cancel the run others wait for.
        return await asyncio.shield(self.request())

    def request(self) -> asyncio.Future[bool]:
        """Ask for a reload; the future is its result (True when it worked)."""
        loop = asyncio.get_running_loop()
        if self._next is None:
            self._next = loop.create_future()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return self._next

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._next is not None:
            wait = self._last_start + self.min_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            future, self._next = self._next, None
            self._last_start = loop.time()
            self.runs += 1
            try:
                ok = await self._reload()
            except Exception:  # a bug in a reload must not leave its askers waiting
                log.exception("reload failed")
                ok = False
            if not future.done():
                future.set_result(ok)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._next is not None:
            self._next.cancel()


def reload_function(
    targets: Targets, security: WebSecurity | None
) -> Callable[[], Awaitable[bool]]:
    """One reload for both files (SIGHUP and POST /-/reload): each is applied or refused on
    its own and logs why; the exported reload status says whether both worked."""

    async def reload() -> bool:
        if targets.path is None:
            log.warning("reload asked for, but the exporter was started without a config file")
        ok, _ = await targets.reload()
        if security is not None:
            web_ok, _ = security.reload()
            if not web_ok:
                targets.last_reload_ok = False
                ok = False
        return ok

    return reload


def fd_reserve(config: Config) -> int:
    """Open files the connection cap must leave for everything else: the process's own and,
    per gateway, its concurrent queries plus the event poll and a sign-in."""
    return FD_RESERVE_BASE + sum(g.max_concurrency + 2 for g in config.gateways)


def _show_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    loaded: LoadedConfig,
    path: str | None,
    listen_address: str,
    *,
    ready: asyncio.Future[tuple[str, int]] | None = None,
    stop: asyncio.Event | None = None,
    security: WebSecurity | None = None,
    lifecycle: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`): then stop accepting scrapes, finish those in
    flight for up to 5 s, sign every session out. Raises :class:`ListenError` when the
    address cannot be bound, before any gateway is signed in to."""
    for warning in loaded.warnings:
        log.warning(warning)
    host, port = parse_listen_address(listen_address)
    targets = Targets(loaded.config, path=path)
    stats = HTTPStats()
    exporter = Exporter(targets, stats)
    reloader = Reloader(reload_function(targets, security))
    draining = Draining()
    if security is not None:
        security.on_reject = stats.reject
    # Draining outermost so that the grace covers writing the answer; then the listener's
    # request tracking; then credentials.
    middlewares = [
        draining.middleware,
        track_requests,
        *([security.middleware] if security else []),
    ]
    lifecycle_api: Reload | None = reloader if lifecycle else None
    app = make_app(exporter, middlewares=middlewares, reloader=lifecycle_api)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    cap, lowered = connection_budget(limits.max_connections, fd_reserve(loaded.config))
    if lowered:
        log.warning(lowered)
    limits = replace(limits, max_connections=cap)
    if security:
        for warning in security.warnings:
            log.warning(warning, extra=kv(path=security.path))
        log.info("web config loaded", extra=kv(**security.summary()))
    site = HardenedSite(
        runner,
        host,
        port,
        limits=limits,
        stats=stats,
        ssl_context=security.ssl_context if security else None,
    )
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(_show_address(host, port), exc) from None
    loop = asyncio.get_running_loop()
    restore_exception_handler = AcceptErrorLog.install(loop)
    bound = _bound_address(runner, host, port)
    targets.start()
    log.info(
        "listening",
        extra=kv(
            address=_show_address(*bound),
            version=__version__,
            gateways=len(loaded.config.gateways),
            max_connections=limits.max_connections,
            lifecycle="on" if lifecycle else "off",
        ),
    )
    collections = memtune.PeriodicCollection()
    collections.start()
    if ready is not None:
        ready.set_result(bound)
    stop = stop or asyncio.Event()
    installed: list[signal.Signals] = []
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: _sighup(reloader))
        installed.append(signal.SIGHUP)
    try:
        await stop.wait()
    finally:
        # The signal handlers stay until the end: a second SIGTERM or Ctrl-C during the grace
        # must not kill the process before the sessions are signed out.
        log.info(
            "shutting down",
            extra=kv(grace=f"{SHUTDOWN_GRACE:g}s", scrapes_in_flight=draining.in_flight),
        )
        await site.stop()  # new connections are refused from here on
        cut = await draining.drain(SHUTDOWN_GRACE)
        if cut:
            log.warning("scrapes cut at the end of the grace", extra=kv(scrapes=cut))
        await runner.cleanup()
        site.abort_connections()
        reloader.stop()
        await targets.stop()
        collections.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        restore_exception_handler()
        log.info("stopped")


def _sighup(reloader: Reloader) -> None:
    log.info("SIGHUP: reloading the config")
    reloader.request()


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    """The real port when 0 was asked for (tests and the demo)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port
