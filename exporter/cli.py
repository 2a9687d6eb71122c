"""`ccgw-exporter`: the command line. Flags only: the exporter is assembled in app.py.

Flags follow the Prometheus exporters' dotted style (`--config.file`, `--web.listen-address`,
`--web.enable-lifecycle`, `--web.max-connections`) so operators can carry their habits over.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from . import __version__, memtune
from .app import ListenError, serve
from .bundled import assets_dir
from .config import ConfigError, load_config
from .httpserver import DEFAULT_LIMITS, Limits
from .logs import setup_logging
from .primitives import DURATION_HINT, parse_duration, parse_listen_address
from .webconfig import WebSecurity, check_web_config

DEMO_ADDRESS = "127.0.0.1:9865"


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0 ({DURATION_HINT})")
    return seconds


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


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
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="answer POST /-/reload (off by default, as in Prometheus; SIGHUP always reloads)",
    )
    parser.add_argument(
        "--web.max-connections",
        dest="max_connections",
        type=_positive,
        default=DEFAULT_LIMITS.max_connections,
        metavar="N",
        help="connections the exporter's port holds at once; beyond it the longest waiting "
        "for a request or idle gives way, or the new one is refused (default %(default)s; "
        "lowered to fit the open-files limit)",
    )
    parser.add_argument(
        "--web.header-timeout",
        dest="header_timeout",
        type=_duration,
        default=DEFAULT_LIMITS.header_timeout,
        metavar="DUR",
        help="time a connection has to send a whole request head, TLS handshake included "
        "(default 10s)",
    )
    parser.add_argument(
        "--web.idle-timeout",
        dest="idle_timeout",
        type=_duration,
        default=DEFAULT_LIMITS.idle_timeout,
        metavar="DUR",
        help="time a kept-alive connection may sit idle between requests, and a client may "
        "stop reading an answer (default 75s)",
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
        "--diagnose",
        nargs="*",
        metavar="NAME",
        help="sign in to each gateway (or the named ones) once, check TLS, discovery and one "
        "batch, sign out, print a report with cures; exit 0 when all pass",
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


def _diagnose(path: str, names: Sequence[str]) -> int:
    try:
        loaded = load_config(path)
    except ConfigError as error:
        for message in error.messages:
            print(f"{path}: {message}", file=sys.stderr)
        return 1
    from .diagnose import run_diagnose

    return run_diagnose(loaded.config.gateways, names, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.assets_dir:
        print(assets_dir())
        return 0
    setup_logging(args.log_level, args.log_format)
    limits = Limits(args.max_connections, args.header_timeout, args.idle_timeout)
    if args.demo:
        from .demo import run_demo

        return run_demo(
            listen_address=args.listen_address or DEMO_ADDRESS,
            lifecycle=args.enable_lifecycle,
            limits=limits,
        )
    if not args.config_file:
        print("ccgw-exporter: --config.file is required (or --demo)", file=sys.stderr)
        return 2
    if args.diagnose is not None:
        return _diagnose(args.config_file, args.diagnose)
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
        print(f"ccgw-exporter: --web.listen-address: {error}", file=sys.stderr)
        return 2
    memtune.tune()
    try:
        asyncio.run(
            serve(
                loaded,
                args.config_file,
                listen,
                security=security,
                lifecycle=args.enable_lifecycle,
                limits=limits,
            )
        )
    except ListenError as error:
        error.report()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
