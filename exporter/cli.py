"""`ccgw-exporter`: flags, wiring, signals.

Flags follow the Prometheus exporters' dotted style (`--config.file`, `--web.listen-address`)
so operators can carry their habits over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from . import __version__, memtune
from .bundled import assets_dir
from .config import ConfigError, LoadedConfig, load_config
from .logs import kv, setup_logging
from .shutdown import Draining
from .targets import Targets
from .web import Exporter, ReloadFunction, make_app
from .webconfig import WebSecurity, check_web_config, reload_with_web_config

log = logging.getLogger("ccgw_exporter")

SHUTDOWN_GRACE = 5.0  # seconds to finish scrapes in flight on SIGTERM/SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccgw-exporter",
        description="Prometheus exporter for conferences on Huawei CC-Gateway.",
    )
    parser.add_argument(
        "--config.file", dest="config_file", metavar="PATH", help="YAML configuration file"
    )
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration file and exit (0 valid, 1 invalid)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        help="exporter-toolkit web config: TLS, basic auth, headers (see docs/security.md)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        metavar="ADDR",
        help="HOST:PORT to serve on; overrides web.listen_address",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    parser.add_argument(
        "--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"]
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the built-in gateway simulator and an exporter for it",
    )
    parser.add_argument(
        "--assets-dir",
        action="store_true",
        help="print the directory holding grafana/ (dashboards, provisioning) and "
        "prometheus/ (rules) as installed, and exit",
    )
    parser.add_argument("--version", action="version", version=f"ccgw-exporter {__version__}")
    return parser


def parse_listen_address(text: str) -> tuple[str, int]:
    """`host:port`, `:port` (all interfaces) or `[v6]:port`."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {text!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def check_config(path: str) -> int:
    try:
        loaded = load_config(path)
    except ConfigError as error:
        for message in error.warnings:
            print(f"{path}: warning: {message}", file=sys.stderr)
        for message in error.messages:
            print(f"{path}: {message}", file=sys.stderr)
        return 1
    for message in loaded.warnings:
        print(f"{path}: warning: {message}", file=sys.stderr)
    names = ", ".join(g.name for g in loaded.config.gateways) or "none"
    print(f"{path}: OK ({len(loaded.config.gateways)} gateway(s): {names})")
    return 0


async def serve(
    loaded: LoadedConfig,
    path: str | None,
    listen_address: str,
    *,
    ready: asyncio.Future[tuple[str, int]] | None = None,
    stop: asyncio.Event | None = None,
    security: WebSecurity | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`): then stop accepting scrapes, finish those in
    flight for up to 5 s, sign every session out."""
    for warning in loaded.warnings:
        log.warning(warning)
    targets = Targets(loaded.config, path=path)
    exporter = Exporter(targets)
    reload_all = reload_with_web_config(targets, security) if security else targets.reload
    draining = Draining()
    middlewares = [draining.middleware, *([security.middleware] if security else [])]
    app = make_app(exporter, middlewares=middlewares, reloader=reload_all)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    host, port = parse_listen_address(listen_address)
    if security:
        for warning in security.warnings:
            log.warning(warning, extra=kv(path=security.path))
        log.info("web config loaded", extra=kv(**security.summary()))
    site = web.TCPSite(runner, host, port, ssl_context=security.ssl_context if security else None)
    await site.start()
    bound = _bound_address(runner, host, port)
    targets.start()
    log.info(
        "listening",
        extra=kv(
            address=f"{bound[0]}:{bound[1]}",
            version=__version__,
            gateways=len(loaded.config.gateways),
        ),
    )
    collections = memtune.PeriodicCollection()
    collections.start()
    if ready is not None:
        ready.set_result(bound)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(reload_all)))
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
        await targets.stop()
        collections.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("stopped")


async def _reload(reload_all: ReloadFunction) -> None:
    log.info("SIGHUP: reloading the config")
    await reload_all()


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    """The real port when 0 was asked for (tests and the demo)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.assets_dir:
        print(assets_dir())
        return 0
    setup_logging(args.log_level, args.log_format)
    if args.demo:
        from .demo import run_demo

        return run_demo(listen_address=args.listen_address or "127.0.0.1:9865")
    if not args.config_file:
        print("ccgw-exporter: --config.file is required (or --demo)", file=sys.stderr)
        return 2
    if args.config_check:
        status = check_config(args.config_file)
        if args.web_config_file:
            status = max(status, check_web_config(args.web_config_file))
        return status
    try:
        loaded = load_config(args.config_file)
    except ConfigError as error:
        for message in error.messages:
            print(f"{args.config_file}: {message}", file=sys.stderr)
        return 1
    security = None
    if args.web_config_file:
        try:
            security = WebSecurity.from_file(args.web_config_file)
        except ConfigError as error:
            for message in error.messages:
                print(f"{args.web_config_file}: {message}", file=sys.stderr)
            return 1
    listen = args.listen_address or loaded.config.web.listen_address
    try:
        parse_listen_address(listen)
    except ValueError as error:
        print(f"ccgw-exporter: {error}", file=sys.stderr)
        return 2
    memtune.tune()
    try:
        asyncio.run(serve(loaded, args.config_file, listen, security=security))
    except OSError as error:
        log.error("cannot serve", extra=kv(address=listen, error=str(error)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
