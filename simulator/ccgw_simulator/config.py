"""Typed configuration of the gateway simulator, from Python, YAML or command-line flags.

One validation path for all three: the CLI turns its flags into a mapping with the same keys
as the YAML file and lays it over the file's mapping; :meth:`SimulatorConfig.from_mapping`
then refuses unknown keys and bad values with a :class:`ConfigError`. YAML keys are the field
names of :class:`SimulatorConfig` (see ``README.md`` beside this file for a full example).

The dataclasses are deliberately mutable: a test may change ``sim.config.poll_hold`` or
``sim.faults.retcodes`` while the simulator runs, and the simulator reads them live.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import yaml

from exporter.primitives import parse_listen_address

#: The vendor's log names of the gateway methods the simulator serves. Fault rules name them.
GATEWAY_METHODS: tuple[str, ...] = (
    "login",
    "forceLogin",
    "loginEx",
    # Not on any vendor page: only the gateway's generated JS client lists
    # `PUT onlineagent/{id}/forceloginex` (OnlineAgent.forceLoginEx); the log name is ours.
    "forceLoginEx",
    "logout",
    "forceLogout",
    "getAgentEvent",
    "updateGuid",
    "getAgentStatus",
    "forceLogOutAgent",
    "queryAllConfIds",
    "queryConfInfos",
)

AUTH_MODES = ("static", "dynamic")
RESULT_SHAPES = ("confs", "bare")
#: Agent IDs a gateway routes: "current" pages say 101-999999, older pages and the gateway's
#: generated JS client 101-59999 (path template ``[1-9][\d]{0,3}|[1-5][\d]{4}``), so an
#: older gateway answers 404 to a larger ID (the 404 is our inference from the template).
AGENT_ID_RANGES = {"current": 999_999, "old": 59_999}
MESSAGE_LANGUAGES = ("en", "zh")
_RETCODE_RE = re.compile(r"^\d{3}-\d{3}$")
_AGENT_RE = re.compile(r"^\d+$")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""


def _number(name: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, *, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}: must be in [{minimum}, {maximum}], got {value!r}")
    return value


def _rate(name: str, value: Any) -> float:
    rate = _number(name, value)
    if rate > 1.0:
        raise ConfigError(f"{name}: a rate must be in [0, 1], got {value!r}")
    return rate


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return value


def _check_keys(where: str, data: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return data


@dataclass
class Account:
    """An agent account the gateway knows. Inspectors (质检员) may see every conference of
    their VDN (``vdn``, answered as ``result.vdnid`` at sign-in); an inspector of another VDN
    than the population's sees none, as a second tenant would."""

    agent_id: str
    password: str
    inspector: bool = False
    vdn: int = 1

    def __post_init__(self) -> None:
        self.agent_id = str(self.agent_id)
        if not _AGENT_RE.match(self.agent_id) or not 101 <= int(self.agent_id) <= 999999:
            raise ConfigError(f"account: agent id must be 101..999999, got {self.agent_id!r}")
        if not isinstance(self.password, str):
            raise ConfigError(f"account {self.agent_id}: password must be a string")
        _integer(f"account {self.agent_id}: vdn", self.vdn, minimum=1)

    @classmethod
    def from_mapping(cls, data: Any) -> Account:
        data = _check_keys("accounts[]", data, {"agent_id", "password", "inspector", "vdn"})
        if "agent_id" not in data or "password" not in data:
            raise ConfigError("accounts[]: agent_id and password are required")
        return cls(
            agent_id=str(data["agent_id"]),
            password=str(data["password"]),
            inspector=_bool("inspector", data.get("inspector", False)),
            vdn=_integer("accounts[].vdn", data.get("vdn", 1), minimum=1),
        )

    @classmethod
    def parse(cls, text: str) -> Account:
        """Parse the CLI form ``ID:PASSWORD[:inspector]``."""
        parts = text.split(":")
        if len(parts) == 3 and parts[2] == "inspector":
            return cls(parts[0], parts[1], inspector=True)
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise ConfigError(f"--agent: expected ID:PASSWORD[:inspector], got {text!r}")


def default_accounts() -> list[Account]:
    """Simulator fixtures: an inspector for the exporter and an ordinary agent for tests."""
    return [Account("153", "sim-inspector", inspector=True), Account("154", "sim-agent")]


@dataclass
class FaultRule:
    """One set of faults, limited to ``methods`` (None: every gateway method).

    Rates are probabilities per request. ``retcodes`` maps a result code to its rate; one draw
    picks at most one code (rates are taken cumulatively in the given order). ``limit``, when
    set, lets the rule fire that many more times and then go quiet, so a test can say "fail
    the next three calls" without racing to clear the fault.
    """

    methods: list[str] | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    retcodes: dict[str, float] = field(default_factory=dict)
    http_error_rate: float = 0.0
    http_error_status: int = 502
    reset_rate: float = 0.0
    malformed_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 3600.0
    limit: int | None = None

    _KEYS = frozenset(
        {
            "methods",
            "latency_ms",
            "jitter_ms",
            "retcodes",
            "http_error_rate",
            "http_error_status",
            "reset_rate",
            "malformed_rate",
            "slow_rate",
            "slow_seconds",
            "limit",
        }
    )

    def applies_to(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def is_active(self) -> bool:
        return self.limit is None or self.limit > 0

    @classmethod
    def _parse_into(cls, data: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if data.get("methods") is not None:
            methods = data["methods"]
            if isinstance(methods, str):
                methods = [m for m in methods.split(",") if m]
            if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
                raise ConfigError(f"{where}.methods: expected a list of method names")
            bad = [m for m in methods if m not in GATEWAY_METHODS]
            if bad:
                raise ConfigError(
                    f"{where}.methods: unknown {bad}; known: {', '.join(GATEWAY_METHODS)}"
                )
            out["methods"] = list(methods)
        for key in ("latency_ms", "jitter_ms", "slow_seconds"):
            if key in data:
                out[key] = _number(f"{where}.{key}", data[key])
        for key in ("http_error_rate", "reset_rate", "malformed_rate", "slow_rate"):
            if key in data:
                out[key] = _rate(f"{where}.{key}", data[key])
        if "http_error_status" in data:
            status = _integer(f"{where}.http_error_status", data["http_error_status"])
            if status not in (502, 503):
                raise ConfigError(f"{where}.http_error_status: 502 or 503, got {status}")
            out["http_error_status"] = status
        if "retcodes" in data:
            codes = data["retcodes"] or {}
            if not isinstance(codes, dict):
                raise ConfigError(f"{where}.retcodes: expected a mapping code -> rate")
            parsed: dict[str, float] = {}
            for code, rate in codes.items():
                if not isinstance(code, str) or not _RETCODE_RE.match(code):
                    raise ConfigError(f"{where}.retcodes: bad result code {code!r}")
                parsed[code] = _rate(f"{where}.retcodes[{code}]", rate)
            out["retcodes"] = parsed
        if data.get("limit") is not None:
            out["limit"] = _integer(f"{where}.limit", data["limit"])
        return out

    @classmethod
    def from_mapping(cls, data: Any, where: str = "faults.rules[]") -> FaultRule:
        return cls(**cls._parse_into(_check_keys(where, data, set(cls._KEYS)), where))

    def to_mapping(self) -> dict[str, Any]:
        return {
            "methods": None if self.methods is None else list(self.methods),
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "retcodes": dict(self.retcodes),
            "http_error_rate": self.http_error_rate,
            "http_error_status": self.http_error_status,
            "reset_rate": self.reset_rate,
            "malformed_rate": self.malformed_rate,
            "slow_rate": self.slow_rate,
            "slow_seconds": self.slow_seconds,
            "limit": self.limit,
        }


@dataclass
class FaultConfig(FaultRule):
    """The ``faults`` section: a top-level rule, more rules each with its own methods, a seed.

    ``{}`` means no faults. ``seed`` None draws from the simulator's seed.
    """

    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None

    @classmethod
    def from_mapping(cls, data: Any, where: str = "faults") -> FaultConfig:
        data = _check_keys(where, data or {}, set(FaultRule._KEYS) | {"rules", "seed"})
        kwargs = cls._parse_into(data, where)
        rules = data.get("rules") or []
        if not isinstance(rules, list):
            raise ConfigError(f"{where}.rules: expected a list")
        kwargs["rules"] = [
            FaultRule.from_mapping(r, f"{where}.rules[{i}]") for i, r in enumerate(rules)
        ]
        if data.get("seed") is not None:
            kwargs["seed"] = _integer(f"{where}.seed", data["seed"])
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, Any]:
        out = super().to_mapping()
        out["rules"] = [r.to_mapping() for r in self.rules]
        out["seed"] = self.seed
        return out

    def all_rules(self) -> list[FaultRule]:
        return [self, *self.rules]

    def replace_with(self, other: FaultConfig) -> None:
        """Take every value of ``other`` in place, so references to this object stay live."""
        for f in fields(FaultConfig):
            setattr(self, f.name, getattr(other, f.name))


@dataclass
class SimulatorConfig:
    """Everything the simulator can be told. Times are seconds (floats)."""

    host: str = "127.0.0.1"
    port: int = 8043
    https: bool = True
    cert_dir: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    auth_mode: str = "dynamic"
    guid_interval: float = 60.0
    guid_timeout: float = 120.0
    poll_hold: float = 10.0
    idle_signout: float = 120.0
    signin_delay: float = 0.05
    lock_after: int = 5
    lock_seconds: float = 300.0
    conferences: int = 20
    seed: int = 1
    nodes: int = 1
    time_scale: float = 1.0
    result_shape: str = "confs"
    stringly_numbers: bool = False
    tick_interval: float = 0.25
    #: "current" (101-999999) or "old" (101-59999, larger IDs 404); see AGENT_ID_RANGES
    agent_id_range: str = "current"
    #: serve `PUT onlineagent/{id}/forceloginex` (only the gateway's JS client lists it); False
    #: plays a gateway build without it: 404
    forceloginex: bool = True
    #: the charset answers are encoded in and declared by (`Content-Type: ...;charset=X`);
    #: the vendor documents UTF-8 only, another one tests a client's decoding
    charset: str = "UTF-8"
    #: language of the answers' `message` texts: "en", or "zh" (non-ASCII, so that a charset
    #: other than UTF-8 changes the bytes)
    messages: str = "en"
    #: the VDN the conference population belongs to
    vdn: int = 1
    #: minutes before the applied end at which AgentConf_Timeout warns (promptTime, default 3,
    #: cec_07_1283)
    prompt_minutes: int = 3
    #: population churn: mean simulated seconds between a conference's changes, mean delay of
    #: a replacement conference, probability that a conference is prolonged at its end
    activity_mean_s: float = 240.0
    replacement_mean_s: float = 20.0
    prolong_probability: float = 0.1
    accounts: list[Account] = field(default_factory=default_accounts)
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse values the simulator cannot honour; raise :class:`ConfigError`."""
        _integer("port", self.port, maximum=65535)
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(f"auth_mode: static or dynamic, got {self.auth_mode!r}")
        if self.result_shape not in RESULT_SHAPES:
            raise ConfigError(f"result_shape: confs or bare, got {self.result_shape!r}")
        for name in ("guid_interval", "guid_timeout", "poll_hold", "idle_signout"):
            if _number(name, getattr(self, name)) <= 0:
                raise ConfigError(f"{name}: must be > 0")
        for name in ("signin_delay", "lock_seconds", "time_scale"):
            _number(name, getattr(self, name))
        if _number("tick_interval", self.tick_interval) <= 0:
            raise ConfigError("tick_interval: must be > 0")
        _integer("lock_after", self.lock_after, minimum=1)
        _integer("conferences", self.conferences, maximum=20000)
        _integer("seed", self.seed, minimum=-(2**63))
        _integer("nodes", self.nodes, minimum=1, maximum=64)
        if self.agent_id_range not in AGENT_ID_RANGES:
            raise ConfigError(f"agent_id_range: current or old, got {self.agent_id_range!r}")
        _bool("forceloginex", self.forceloginex)
        if not isinstance(self.charset, str):
            raise ConfigError("charset: expected a string such as UTF-8 or GBK")
        try:
            codecs.lookup(self.charset)
        except LookupError:
            raise ConfigError(f"charset: unknown charset {self.charset!r}") from None
        if self.messages not in MESSAGE_LANGUAGES:
            raise ConfigError(f"messages: en or zh, got {self.messages!r}")
        _integer("vdn", self.vdn, minimum=1)
        _integer("prompt_minutes", self.prompt_minutes, minimum=1, maximum=1440)
        if _number("activity_mean_s", self.activity_mean_s) <= 0:
            raise ConfigError("activity_mean_s: must be > 0")
        if _number("replacement_mean_s", self.replacement_mean_s) <= 0:
            raise ConfigError("replacement_mean_s: must be > 0")
        _rate("prolong_probability", self.prolong_probability)
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError("cert_file and key_file go together")
        ids = [a.agent_id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise ConfigError("accounts: an agent id appears twice")

    @classmethod
    def from_mapping(cls, data: Any) -> SimulatorConfig:
        names = {f.name for f in fields(cls)}
        data = dict(_check_keys("config", data or {}, names))
        if "accounts" in data:
            accounts = data["accounts"]
            if not isinstance(accounts, list):
                raise ConfigError("accounts: expected a list")
            data["accounts"] = [
                a if isinstance(a, Account) else Account.from_mapping(a) for a in accounts
            ]
            if not data["accounts"]:
                data["accounts"] = default_accounts()
        if "faults" in data and not isinstance(data["faults"], FaultConfig):
            data["faults"] = FaultConfig.from_mapping(data["faults"])
        float_fields = {
            "guid_interval",
            "guid_timeout",
            "poll_hold",
            "idle_signout",
            "signin_delay",
            "lock_seconds",
            "time_scale",
            "tick_interval",
            "activity_mean_s",
            "replacement_mean_s",
            "prolong_probability",
        }
        for key in float_fields & data.keys():
            data[key] = _number(key, data[key])
        for key in ("https", "stringly_numbers", "forceloginex"):
            if key in data:
                _bool(key, data[key])
        for key in (
            "host",
            "cert_dir",
            "cert_file",
            "key_file",
            "auth_mode",
            "result_shape",
            "agent_id_range",
            "charset",
            "messages",
        ):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigError(f"{key}: expected a string")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str, overrides: dict[str, Any] | None = None) -> SimulatorConfig:
        """Load a YAML file and lay ``overrides`` (e.g. from CLI flags) over it."""
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        return cls.from_mapping(merge_mappings(data, overrides or {}))


def merge_mappings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge for nested sections (``faults``); ``over`` wins."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = value
    return out


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``[v6]:PORT`` -> (host, port), by the exporter's own
    grammar for a listen address (one parser for both sides of the wire, issue 15)."""
    try:
        return parse_listen_address(text)
    except ValueError as err:
        raise ConfigError(f"--listen: {err}") from None
