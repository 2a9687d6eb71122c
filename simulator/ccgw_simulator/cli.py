"""``ccgw-gateway-sim``: run the gateway simulator as a process.

Flags are turned into a mapping with the YAML file's keys and laid over ``--config``, so
both go through one validation (``SimulatorConfig.from_mapping``). It prints where it serves,
the accounts, the auth mode and, for HTTPS, where its CA certificate is; it stops cleanly on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from .config import (
    AGENT_ID_RANGES,
    AUTH_MODES,
    MESSAGE_LANGUAGES,
    RESULT_SHAPES,
    Account,
    ConfigError,
    SimulatorConfig,
    default_accounts,
    merge_mappings,
    parse_listen,
)
from .server import GatewaySimulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ccgw-gateway-sim",
        description="Simulated Huawei CC-Gateway (AgentGateway) for tests, demos, benchmarks.",
    )
    a = p.add_argument
    a("--config", metavar="FILE.yaml", help="YAML file with SimulatorConfig keys")
    a("--check-config", action="store_true", help="validate the configuration and exit")
    a(
        "--listen",
        metavar="HOST:PORT",
        help="where to serve (127.0.0.1:8043; port 0: any)",
    )
    a("--http", action="store_true", default=None, help="plain HTTP instead of HTTPS")
    a("--auth-mode", choices=AUTH_MODES, help="static (AUTHMODE=1) or dynamic (AUTHMODE=2)")
    a("--guid-interval", type=float, metavar="S", help="dynamic mode: new Guid every S seconds")
    a("--guid-timeout", type=float, metavar="S", help="a Guid is valid S seconds after issue")
    a("--poll-hold", type=float, metavar="S", help="getAgentEvent holds S seconds")
    a("--idle-signout", type=float, metavar="S", help="sign out agents not polling for S s")
    a("--signin-delay", type=float, metavar="S", help="time a sign-in takes to answer")
    a("--lock-after", type=int, metavar="N", help="lock an account after N wrong passwords")
    a("--lock-seconds", type=float, metavar="S", help="how long an account stays locked")
    a("--conferences", type=int, metavar="N", help="ongoing conferences to keep (0..20000)")
    a("--seed", type=int, metavar="N", help="seed of the population and the faults")
    a("--nodes", type=int, metavar="N", help="gateway nodes behind a simulated NSLB")
    a("--time-scale", type=float, metavar="X", help="simulated seconds per wall second")
    a("--result-shape", choices=RESULT_SHAPES, help="result.confs (sample) or a bare array")
    a("--stringly-numbers", action="store_true", default=None, help="some numbers as strings")
    a(
        "--agent-id-range",
        choices=tuple(AGENT_ID_RANGES),
        help="current: agent IDs 101-999999; old: 101-59999, larger IDs 404",
    )
    a(
        "--no-forceloginex",
        dest="forceloginex",
        action="store_false",
        default=None,
        help="a gateway without PUT .../forceloginex (404)",
    )
    a("--charset", metavar="NAME", help="encode and declare answers in this charset (UTF-8)")
    a("--messages", choices=MESSAGE_LANGUAGES, help="language of the answers' messages")
    a("--vdn", type=int, metavar="N", help="the VDN of the conference population (1)")
    a("--prompt-minutes", type=int, metavar="M", help="AgentConf_Timeout M minutes before end")
    a(
        "--activity-mean",
        type=float,
        metavar="S",
        help="mean seconds between a conference's changes",
    )
    a("--replacement-mean", type=float, metavar="S", help="mean delay of a replacement conference")
    a("--prolong-probability", type=float, metavar="P", help="chance a conference is prolonged")
    a(
        "--agent",
        action="append",
        metavar="ID:PASSWORD[:inspector]",
        help="an account (repeatable); default 153 inspector, 154 agent",
    )
    a("--cert-dir", metavar="DIR", help="write (or reuse) the CA and certificate here")
    a("--cert-file", metavar="F", help="serve this certificate (PEM) ...")
    a("--key-file", metavar="F", help="... with this key (PEM)")
    a(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="DEBUG shows every request",
    )
    f = p.add_argument_group("faults (for every gateway method unless --fault-methods)")
    f.add_argument("--fault-methods", metavar="M1,M2", help="limit faults to these methods")
    f.add_argument("--latency-ms", type=float, metavar="MS", help="added latency")
    f.add_argument("--jitter-ms", type=float, metavar="MS", help="latency +/- this much")
    f.add_argument(
        "--retcode",
        action="append",
        metavar="CODE=RATE",
        help="answer this retcode at this rate, e.g. 100-007=0.1 (repeatable)",
    )
    f.add_argument("--http-error-rate", type=float, metavar="R", help="502/503 HTML answers")
    f.add_argument("--http-error-status", type=int, choices=(502, 503))
    f.add_argument("--reset-rate", type=float, metavar="R", help="abort mid-answer")
    f.add_argument("--malformed-rate", type=float, metavar="R", help="broken JSON with 200")
    f.add_argument("--slow-rate", type=float, metavar="R", help="answer after --slow-seconds")
    f.add_argument("--slow-seconds", type=float, metavar="S")
    f.add_argument("--fault-seed", type=int, metavar="N", help="seed of the fault draws")
    return p


_PLAIN = {
    "auth_mode": "auth_mode",
    "guid_interval": "guid_interval",
    "guid_timeout": "guid_timeout",
    "poll_hold": "poll_hold",
    "idle_signout": "idle_signout",
    "signin_delay": "signin_delay",
    "lock_after": "lock_after",
    "lock_seconds": "lock_seconds",
    "conferences": "conferences",
    "seed": "seed",
    "nodes": "nodes",
    "time_scale": "time_scale",
    "result_shape": "result_shape",
    "stringly_numbers": "stringly_numbers",
    "cert_dir": "cert_dir",
    "cert_file": "cert_file",
    "key_file": "key_file",
    "agent_id_range": "agent_id_range",
    "forceloginex": "forceloginex",
    "charset": "charset",
    "messages": "messages",
    "vdn": "vdn",
    "prompt_minutes": "prompt_minutes",
    "activity_mean": "activity_mean_s",
    "replacement_mean": "replacement_mean_s",
    "prolong_probability": "prolong_probability",
}
_FAULTS = {
    "latency_ms": "latency_ms",
    "jitter_ms": "jitter_ms",
    "http_error_rate": "http_error_rate",
    "http_error_status": "http_error_status",
    "reset_rate": "reset_rate",
    "malformed_rate": "malformed_rate",
    "slow_rate": "slow_rate",
    "slow_seconds": "slow_seconds",
    "fault_seed": "seed",
    "fault_methods": "methods",
}


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that were given, as a mapping with the YAML file's keys."""
    out: dict[str, Any] = {}
    for attr, key in _PLAIN.items():
        if getattr(args, attr) is not None:
            out[key] = getattr(args, attr)
    if args.listen:
        out["host"], out["port"] = parse_listen(args.listen)
    if args.http:
        out["https"] = False
    if args.agent:
        out["accounts"] = [Account.parse(text) for text in args.agent]
    faults: dict[str, Any] = {}
    for attr, key in _FAULTS.items():
        if getattr(args, attr) is not None:
            faults[key] = getattr(args, attr)
    if args.retcode:
        codes: dict[str, float] = {}
        for item in args.retcode:
            code, sep, rate = item.partition("=")
            try:
                codes[code] = float(rate)
            except ValueError:
                raise ConfigError(f"--retcode: expected CODE=RATE, got {item!r}") from None
            if not sep:
                raise ConfigError(f"--retcode: expected CODE=RATE, got {item!r}")
        faults["retcodes"] = codes
    if faults:
        out["faults"] = faults
    return out


def load_config(args: argparse.Namespace) -> SimulatorConfig:
    overrides = overrides_from_args(args)
    if args.config:
        return SimulatorConfig.from_yaml(args.config, overrides)
    return SimulatorConfig.from_mapping(merge_mappings({}, overrides))


def describe(sim: GatewaySimulator) -> list[str]:
    """The start-up banner. Passwords are printed only for the simulator's own fixture
    accounts; accounts given by the user show ``<secret>``."""
    cfg = sim.config
    fixtures = {(a.agent_id, a.password) for a in default_accounts()}
    accounts = []
    for account in cfg.accounts:
        role = "inspector" if account.inspector else "agent"
        secret = (
            account.password if (account.agent_id, account.password) in fixtures else "<secret>"
        )
        accounts.append(f"{account.agent_id} {role} (password {secret})")
    mode = cfg.auth_mode
    if mode == "dynamic":
        mode += f" (Guid every {cfg.guid_interval:g}s, valid {cfg.guid_timeout:g}s)"
    lines = [
        f"ccgw-gateway-sim serving {sim.url}",
        f"  auth mode: {mode}; poll hold {cfg.poll_hold:g}s; idle sign-out {cfg.idle_signout:g}s",
        f"  accounts: {', '.join(accounts)}",
        f"  conferences: {cfg.conferences} (seed {cfg.seed}, time scale {cfg.time_scale:g}); "
        f"nodes: {cfg.nodes}; result shape: {cfg.result_shape}",
        f"  agent IDs: {cfg.agent_id_range}; forceloginex: {'on' if cfg.forceloginex else 'off'}; "
        f"charset: {cfg.charset}; messages: {cfg.messages}; VDN: {cfg.vdn}",
    ]
    if sim.ca_file:
        lines.append(f"  CA certificate: {sim.ca_file}")
    elif cfg.https:
        lines.append(f"  certificate: {cfg.cert_file} (CA not known to the simulator)")
    lines.append(f"  admin API: {sim.url}/simulator/")
    return lines


async def serve(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # not on every platform; there Ctrl-C still ends asyncio.run
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with GatewaySimulator(config) as sim:
        for line in describe(sim):
            print(line, flush=True)
        await stop.wait()
        print("ccgw-gateway-sim stopping", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args)
    except (ConfigError, OSError, yaml.YAMLError) as err:
        print(f"ccgw-gateway-sim: {err}", file=sys.stderr)
        return 2
    if args.check_config:
        print("configuration OK")
        return 0
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:  # pragma: no cover - signal handlers normally catch it
        pass
    except OSError as err:
        print(f"ccgw-gateway-sim: {err}", file=sys.stderr)
        return 1
    return 0
