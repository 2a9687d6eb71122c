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

from . import __version__
from .config import ConfigError, LoadedConfig, load_config
from .logs import kv, setup_logging
from .targets import Targets
from .web import Exporter, make_app

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
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`): then stop accepting scrapes, finish those in
    flight for up to 5 s, sign every session out."""
    for warning in loaded.warnings:
        log.warning(warning)
    targets = Targets(loaded.config, path=path)
    exporter = Exporter(targets)
    runner = web.AppRunner(make_app(exporter), access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    host, port = parse_listen_address(listen_address)
    site = web.TCPSite(runner, host, port)
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
    if ready is not None:
        ready.set_result(bound)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(targets)))
        installed.append(signal.SIGHUP)
    try:
        await stop.wait()
    finally:
        log.info("shutting down", extra=kv(grace=f"{SHUTDOWN_GRACE:g}s"))
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await targets.stop()
        log.info("stopped")


async def _reload(targets: Targets) -> None:
    log.info("SIGHUP: reloading the config")
    await targets.reload()


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    """The real port when 0 was asked for (tests and the demo)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    if args.demo:
        from .demo import run_demo

        return run_demo(listen_address=args.listen_address or "127.0.0.1:9865")
    if not args.config_file:
        print("ccgw-exporter: --config.file is required (or --demo)", file=sys.stderr)
        return 2
    if args.config_check:
        return check_config(args.config_file)
    try:
        loaded = load_config(args.config_file)
    except ConfigError as error:
        for message in error.messages:
            print(f"{args.config_file}: {message}", file=sys.stderr)
        return 1
    listen = args.listen_address or loaded.config.web.listen_address
    try:
        parse_listen_address(listen)
    except ValueError as error:
        print(f"ccgw-exporter: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(loaded, args.config_file, listen))
    except OSError as error:
        log.error("cannot serve", extra=kv(address=listen, error=str(error)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
