"""Typed configuration: load the YAML file, validate every key, resolve secrets.

The loader is strict on purpose. An exporter that starts with a typo'd key silently ignored
shows up later as "no data" on a dashboard; one that refuses to start (or, on reload, keeps the
old config) names the mistake at the moment someone is looking. So unknown keys are errors,
types are not coerced (``"yes"`` is not a boolean, ``"8"`` is not an integer), and every
problem in the file is reported at once, each prefixed with the key's path
(``gateways[0].tls.ca_file: ...``), so a reload attempt costs one edit, not one per mistake.

Everything is resolved here, not later: passwords are read from their files or environment
variables, relative paths are made relative to the config file, TLS files are checked to be
loadable. What comes out is a tree of frozen dataclasses whose equality means "same settings",
which is what lets a reload keep the sessions of gateways whose settings did not change.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import math
import os
import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import yaml

from exporter.secret import Secret

__all__ = [
    "ADDRESS_MODES",
    "SIGN_IN_MODES",
    "AddressMode",
    "ConferencesConfig",
    "Config",
    "ConfigError",
    "GatewayConfig",
    "LoadedConfig",
    "ParticipantsConfig",
    "Secret",
    "SignIn",
    "TLSConfig",
    "WebConfig",
    "load_config",
    "load_yaml_file",
    "parse_config",
    "parse_duration",
]

SignIn = Literal["loginex", "login", "forcelogin"]
AddressMode = Literal["masked", "hashed", "plain", "omit"]
SIGN_IN_MODES: tuple[SignIn, ...] = ("loginex", "login", "forcelogin")
ADDRESS_MODES: tuple[AddressMode, ...] = ("masked", "hashed", "plain", "omit")

DEFAULT_LISTEN_ADDRESS = "0.0.0.0:9865"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENCY = 8
# A collection served again instead of a new one is at most this old; beyond it the data would
# be older than any sensible scrape interval's half (see `share_window`).
MAX_SHARE_WINDOW = 300.0
MAX_CONCURRENCY_LIMIT = 256
DEFAULT_MAX_CONFERENCES = 5000
AGENT_ID_MIN = 101
AGENT_ID_MAX = 999_999
PHONE_NUMBER_MAX_LEN = 24
GATEWAY_NAME_MAX_LEN = 64
CONFERENCE_ID_MAX = 2**63 - 1
# The client appends this to the base URL; a URL that already ends with it is a copy-paste of
# a full API URL and would produce /agentgateway/resource/agentgateway/resource/...
RESOURCE_PATH = "/agentgateway/resource"

# Password files and TLS files are small; a large one is the wrong file (a log, a device).
_MAX_PASSWORD_FILE_BYTES = 4096
_MAX_TLS_FILE_BYTES = 1 << 20

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS_RE = re.compile(r"[0-9]+")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOSTNAME_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_DURATION_RE = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?"
)
_BARE_SECONDS_RE = re.compile(_NUMBER)
_DURATION_HINT = "use e.g. 10s, 500ms, 1m30s"


# --------------------------------------------------------------------------------------------
# The config objects


@dataclass(frozen=True, slots=True)
class WebConfig:
    """Where the exporter's own HTTP server listens."""

    listen_address: str = DEFAULT_LISTEN_ADDRESS


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """How to verify the gateway, and the client certificate to present if it asks for one.

    Paths are absolute (resolved against the config file's directory); ``""`` means unset.
    ``files_digest`` is a SHA-256 over the contents of the three files as read at load time.
    It is part of equality so that a reload after a certificate rotation counts as a change
    and the gateway's session is rebuilt with the new files, even though no path changed.
    """

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    files_digest: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ConferencesConfig:
    """Which conferences to watch. ``ids`` is sorted and free of duplicates, so the order
    they were listed in does not make two otherwise identical configs differ."""

    discover: bool = True
    ids: tuple[int, ...] = ()
    ids_file: str | None = None
    from_events: bool = True
    per_conference_metrics: bool = True
    max_conferences: int = DEFAULT_MAX_CONFERENCES


@dataclass(frozen=True, slots=True)
class ParticipantsConfig:
    """Per-participant series; off by default because participant addresses are phone
    numbers (personal data, unbounded cardinality)."""

    metrics: bool = False
    address: AddressMode = "masked"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One CC-Gateway (or its NSLB) and the agent the exporter signs in as.

    ``url`` is a normalised base URL (lower-case scheme, no trailing slash, no query). The
    password is a :class:`Secret`, so printing a GatewayConfig never shows it while equality
    still notices a changed password.
    """

    name: str
    url: str
    agent_id: str
    password: Secret
    phone_number: str = ""
    sign_in: SignIn = "loginex"
    force_on_conflict: bool = False
    tls: TLSConfig = field(default_factory=TLSConfig)
    timeout: float = DEFAULT_TIMEOUT
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    # A scrape within this many seconds of the end of the last collection is answered with it
    # (0: only scrapes arriving while a collection is in flight share it).
    share_window: float = 0.0
    conferences: ConferencesConfig = field(default_factory=ConferencesConfig)
    participants: ParticipantsConfig = field(default_factory=ParticipantsConfig)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file. An empty ``gateways`` is valid: such an exporter serves only its own
    metrics, which lets it be deployed (and its config validated) before any gateway exists."""

    web: WebConfig = field(default_factory=WebConfig)
    gateways: tuple[GatewayConfig, ...] = ()

    def gateway(self, name: str) -> GatewayConfig | None:
        """The gateway called ``name``; ``/probe?target=`` and reload diffing look them up."""
        for gateway in self.gateways:
            if gateway.name == name:
                return gateway
        return None


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid config plus what was accepted but deserves a log line (inline password,
    disabled TLS verification, ...). Warnings are returned, not logged, so that the caller
    decides where they go (stderr for ``--check-config``, the log on reload)."""

    config: Config
    warnings: tuple[str, ...] = ()


class ConfigError(Exception):
    """The config is invalid. ``messages`` lists every problem found, one per item, each
    starting with the key's path; ``warnings`` holds what would have been warned about, so a
    config check can show both at once."""

    def __init__(self, messages: Iterable[str], warnings: Iterable[str] = ()) -> None:
        self.messages: list[str] = list(messages)
        self.warnings: list[str] = list(warnings)
        super().__init__(*self.messages)

    def __str__(self) -> str:
        return "\n".join(self.messages)


# --------------------------------------------------------------------------------------------
# Durations


def parse_duration(text: str) -> float:
    """Parse ``"10s"``, ``"500ms"``, ``"1m30s"``, ``"1.5h"`` or a bare ``"10"`` (seconds) into
    seconds.

    Prometheus-style units rather than bare numbers everywhere, because ``timeout: 500`` is
    ambiguous to a reader (seconds? milliseconds?) and ``500ms`` is not. Units must come in
    order h, m, s, ms, each at most once. Raises :class:`ValueError` with a message fit to show
    the user; the CLI reuses this for its duration flags.
    """
    shown = _show(text)
    if text.startswith("-") and _is_duration_syntax(text[1:]):
        raise ValueError(f"{shown} is negative; a duration is 0 or more")
    if not _is_duration_syntax(text):
        raise ValueError(f"{shown} is not a duration ({_DURATION_HINT})")
    if _BARE_SECONDS_RE.fullmatch(text):
        seconds = float(text)
    else:
        match = _DURATION_RE.fullmatch(text)
        assert match is not None  # _is_duration_syntax checked it
        scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        seconds = sum(float(match[unit]) * factor for unit, factor in scale.items() if match[unit])
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is too large for a duration")
    return seconds


def _is_duration_syntax(text: str) -> bool:
    if _BARE_SECONDS_RE.fullmatch(text):
        return True
    return text != "" and _DURATION_RE.fullmatch(text) is not None


# --------------------------------------------------------------------------------------------
# YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses two YAML 1.1 traps instead of silently mis-reading a value.

    - A key given twice in one mapping: PyYAML keeps the last one without a word, so an
      operator editing the first ``timeout:`` sees no effect. Recorded as an error.
    - Integers in the YAML 1.1-only forms: ``0153`` is octal (107) and ``1:30`` is
      sexagesimal (90). An agent ID or a timeout written that way would be a different
      number. These stay strings, so the key's own check reports them (``"0153"`` has a
      leading zero, ``"1:30"`` is not a duration) or, for conference IDs, reads them as the
      decimal a reader sees (YAML 1.2 does the same).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            # Merge keys (<<) are skipped: overriding a merged key is what they are for.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            line = key_node.start_mark.line + 1
            identity = (key_node.tag, key_node.value)
            first = seen.get(identity)
            if first is None:
                seen[identity] = line
            else:
                self.duplicate_keys.append(
                    f"line {line}: duplicate key {_show(key_node.value)} (first at line "
                    f"{first}); YAML would silently keep only the last one"
                )
        return dict(super().construct_mapping(node, deep=deep))


_YAML11_ONLY_INT = re.compile(r"[-+]?(?:0[0-7_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)")


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int | str:
    text = loader.construct_scalar(node)
    if _YAML11_ONLY_INT.fullmatch(text):
        return text
    return loader.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _yaml_error_message(error: yaml.YAMLError, text: str) -> str:
    """Line and column plus PyYAML's problem text, but not its source snippet: the snippet is
    the offending line of the file, which may be the one holding an inline password."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or "invalid YAML"
        context = ""
        if error.context:
            context = f" ({error.context}"
            if error.context_mark is not None and error.context_mark is not mark:
                context += f" at line {error.context_mark.line + 1}"
            context += ")"
        return f"{where}YAML syntax error: {problem}{context}"
    if isinstance(error, yaml.reader.ReaderError):
        # Raised for control characters; it counts characters, people count lines.
        line = text.count("\n", 0, error.position) + 1
        return f"line {line}: YAML syntax error: {error.reason} (U+{error.character:04X})"
    return f"YAML syntax error: {error}"


# --------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, parse and validate the config file at ``path``.

    Relative paths inside it resolve against the directory the file is in (not the process's
    working directory, which differs between a shell, systemd and a container). The directory
    is taken as given, symlinks not resolved, so that a Kubernetes ConfigMap mount (whose files
    are symlinks into a hidden ``..data`` directory) resolves relative to the mount point.
    ``env`` defaults to ``os.environ``; tests pass their own.
    """
    return load_yaml_file(
        path,
        lambda data, base_dir: parse_config(data, base_dir=base_dir, env=env),
        empty="write {} for an all-defaults config",
    )


class _HasWarnings(Protocol):
    @property
    def warnings(self) -> tuple[str, ...]: ...


_Loaded = TypeVar("_Loaded", bound=_HasWarnings)


def load_yaml_file(
    path: str | Path, parse: Callable[[object, Path], _Loaded], *, empty: str
) -> _Loaded:
    """Read one YAML file and hand it to ``parse`` with the file's directory, turning every
    way of failing into a :class:`ConfigError` (the gateway config and the web config fail
    alike). Duplicate keys are reported with the other problems. An empty file is refused:
    it is more often a truncated deploy than an intent; ``empty`` says what to write instead.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read {file}: {_os_reason(exc)}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{file}: not UTF-8 text (byte {exc.start})"]) from None

    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_error_message(exc, text)]) from None
    finally:
        if loader is not None:
            loader.dispose()

    if data is None:
        raise ConfigError([f"top level: the file is empty; {empty}"])
    try:
        loaded = parse(data, Path(os.path.abspath(file)).parent)
    except ConfigError as exc:
        raise ConfigError(loader.duplicate_keys + exc.messages, exc.warnings) from None
    if loader.duplicate_keys:
        raise ConfigError(loader.duplicate_keys, loaded.warnings)
    return loaded


def parse_config(
    data: object, *, base_dir: str | Path, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Validate already-parsed YAML (or any dict of the same shape) into a :class:`Config`.

    ``base_dir`` is what relative paths resolve against. Raises :class:`ConfigError` listing
    every problem; otherwise returns the config with its warnings.
    """
    problems = _Problems(Path(os.path.abspath(base_dir)), os.environ if env is None else env)
    if not isinstance(data, dict):
        problems.error("top level", f"expected a mapping (web:, gateways:), got {_describe(data)}")
        raise ConfigError(problems.errors)

    root = _Section(problems, "", data, ("web", "gateways"))
    web = _parse_web(root.section("web", ("listen_address",)))
    gateways = _parse_gateways(root)
    if problems.errors:
        raise ConfigError(problems.errors, problems.warnings)
    if not gateways:
        problems.warn("gateways", "no gateways configured; only the exporter's own metrics")
    return LoadedConfig(Config(web=web, gateways=gateways), tuple(problems.warnings))


# --------------------------------------------------------------------------------------------
# Sections


class _Problems:
    """Collects errors and warnings so that one pass reports everything."""

    def __init__(self, base_dir: Path, env: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.env = env
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def resolve(self, text: str) -> Path:
        # normpath, not resolve(): tidy "a/../b" for messages without following symlinks.
        return Path(os.path.normpath(self.base_dir / text))


_T = TypeVar("_T", bound=str)


class _Section:
    """One mapping of the file with its path; typed getters record a problem and return the
    default on a bad value, so checking continues and every problem is found in one pass.

    A key set to null counts as absent (uses the default), which is what an empty ``tls:`` or
    a templated ``ids_file: null`` mean.
    """

    def __init__(
        self, problems: _Problems, path: str, data: Mapping[object, object], known: Sequence[str]
    ) -> None:
        self.problems = problems
        self.path = path
        self.data = data
        for key in data:
            if isinstance(key, str) and key in known:
                continue
            message = "unknown key"
            if isinstance(key, str):
                close = difflib.get_close_matches(key, known, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
            problems.error(self.child(key), message)

    def child(self, key: object) -> str:
        return f"{self.path}.{key}" if self.path else str(key)

    def get(self, key: str) -> object:
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def error(self, key: str, message: str) -> None:
        self.problems.error(self.child(key), message)

    def warn(self, key: str, message: str) -> None:
        self.problems.warn(self.child(key), message)

    def section(self, key: str, known: Sequence[str]) -> _Section:
        value = self.get(key)
        if value is None:
            value = {}
        elif not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {_describe(value)}")
            value = {}
        return _Section(self.problems, self.child(key), value, known)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(key, f"expected true or false, got {_describe(value)}")
        return default

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"expected an integer, got {_describe(value)}")
            return default
        if value < minimum:
            self.error(key, f"must be at least {minimum}, got {value}")
            return default
        if maximum is not None and value > maximum:
            self.error(key, f"must be at most {maximum}, got {value}")
            return default
        return value

    def string(self, key: str, default: str) -> str:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        self.error(key, f"expected a string, got {_describe(value)}")
        return default

    def choice(self, key: str, default: _T, choices: tuple[_T, ...]) -> _T:
        value = self.get(key)
        if value is None:
            return default
        for option in choices:
            if value == option:
                return option
        listed = ", ".join(choices)
        if isinstance(value, str):
            self.error(key, f"{_show(value)} is not one of {listed}")
        else:
            self.error(key, f"expected one of {listed}, got {_describe(value)}")
        return default

    def duration(
        self, key: str, default: float, *, allow_zero: bool = False, maximum: float | None = None
    ) -> float:
        """A duration that must be > 0 (a zero timeout would fail every request), or >= 0
        where zero means "off"."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.error(key, f"expected a duration ({_DURATION_HINT}), got {_describe(value)}")
            return default
        if isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                self.error(key, str(exc))
                return default
        else:
            seconds = float(value)
            if not math.isfinite(seconds):
                self.error(key, f"{_show(value)} is not a duration ({_DURATION_HINT})")
                return default
        if seconds < 0 or (seconds == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "greater than 0"
            self.error(key, f"must be {least}, got {_show(value)}")
            return default
        if maximum is not None and seconds > maximum:
            self.error(key, f"must be at most {maximum:g}s, got {_show(value)}")
            return default
        return seconds

    def file_path(self, key: str) -> Path | None:
        """A path key: non-empty string, resolved against the config file's directory."""
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(key, f"expected a file path, got {_describe(value)}")
            return None
        if value == "":
            self.error(key, "is empty; remove the key or give a path")
            return None
        return self.problems.resolve(value)


# --------------------------------------------------------------------------------------------
# web


def _parse_web(web: _Section) -> WebConfig:
    address = web.string("listen_address", DEFAULT_LISTEN_ADDRESS)
    problem = _listen_address_problem(address)
    if problem:
        web.error("listen_address", f"{_show(address)} {problem}")
    return WebConfig(listen_address=address)


def _listen_address_problem(address: str) -> str | None:
    hint = "is not HOST:PORT (e.g. 0.0.0.0:9865, [::]:9865 or :9865 for all interfaces)"
    host, sep, port = address.rpartition(":")
    if not sep or not _DIGITS_RE.fullmatch(port):
        return hint
    if int(port) > 65535:
        # 0 is allowed: it asks for a free port, which tests and the demo use.
        return "has a port outside 0 to 65535"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "has an invalid IPv6 address in brackets"
        return None
    if ":" in host:
        return "needs brackets around an IPv6 host, e.g. [::]:9865"
    if host and not _HOSTNAME_RE.fullmatch(host):
        return hint
    return None


# --------------------------------------------------------------------------------------------
# gateways

_GATEWAY_KEYS = (
    "name",
    "url",
    "agent_id",
    "password_file",
    "password_env",
    "password",
    "phone_number",
    "sign_in",
    "force_on_conflict",
    "tls",
    "timeout",
    "max_concurrency",
    "share_window",
    "conferences",
    "participants",
)
_TLS_KEYS = ("ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify")
_CONFERENCES_KEYS = (
    "discover",
    "ids",
    "ids_file",
    "from_events",
    "per_conference_metrics",
    "max_conferences",
)
_PARTICIPANTS_KEYS = ("metrics", "address")
_PASSWORD_KEYS = ("password_file", "password_env", "password")


def _parse_gateways(root: _Section) -> tuple[GatewayConfig, ...]:
    problems = root.problems
    value = root.get("gateways")
    if value is None:
        return ()
    if not isinstance(value, list):
        root.error("gateways", f"expected a list of gateways, got {_describe(value)}")
        return ()

    gateways: list[GatewayConfig] = []
    names: dict[str, int] = {}
    agents: dict[tuple[str, str], int] = {}
    for index, item in enumerate(value):
        path = f"gateways[{index}]"
        if not isinstance(item, dict):
            problems.error(path, f"expected a mapping, got {_describe(item)}")
            continue
        section = _Section(problems, path, item, _GATEWAY_KEYS)
        # Uniqueness is checked on the raw values so that it is reported even when the
        # gateway has other errors.
        name = item.get("name")
        if isinstance(name, str):
            if name in names:
                section.error(
                    "name", f"duplicate gateway name {_show(name)} (also gateways[{names[name]}])"
                )
            names.setdefault(name, index)
        gateway = _parse_gateway(section)
        if gateway is None:
            continue
        agent = (gateway.url, gateway.agent_id)
        if agent in agents:
            # Two sessions for one agent sign each other out (forcelogin) or fail to sign in.
            section.error(
                "agent_id",
                f"agent {gateway.agent_id} on {gateway.url} is already used by "
                f"gateways[{agents[agent]}]; two sessions for one agent sign each other out",
            )
        agents.setdefault(agent, index)
        gateways.append(gateway)
    return tuple(gateways)


def _parse_gateway(gw: _Section) -> GatewayConfig | None:
    """One gateway, or None if it had errors (they are recorded in ``gw.problems``)."""
    errors_before = len(gw.problems.errors)

    name = _parse_name(gw)
    url = _parse_url(gw)
    agent_id = _parse_agent_id(gw)
    password = _parse_password(gw)
    phone_number = _parse_phone_number(gw)
    sign_in = gw.choice("sign_in", "loginex", SIGN_IN_MODES)
    force_on_conflict = gw.boolean("force_on_conflict", False)
    tls = _parse_tls(gw.section("tls", _TLS_KEYS))
    if url.startswith("http://"):
        gw.warn("url", "uses plain http: the agent password is sent unencrypted")
        if tls != TLSConfig():
            gw.warn("tls", "is ignored because url uses http")
    timeout = gw.duration("timeout", DEFAULT_TIMEOUT)
    max_concurrency = gw.integer(
        "max_concurrency", DEFAULT_MAX_CONCURRENCY, minimum=1, maximum=MAX_CONCURRENCY_LIMIT
    )
    share_window = gw.duration("share_window", 0.0, allow_zero=True, maximum=MAX_SHARE_WINDOW)
    conferences = _parse_conferences(gw.section("conferences", _CONFERENCES_KEYS))
    participants_section = gw.section("participants", _PARTICIPANTS_KEYS)
    participants = ParticipantsConfig(
        metrics=participants_section.boolean("metrics", False),
        address=participants_section.choice("address", "masked", ADDRESS_MODES),
    )

    if len(gw.problems.errors) > errors_before or password is None:
        return None
    return GatewayConfig(
        name=name,
        url=url,
        agent_id=agent_id,
        password=password,
        phone_number=phone_number,
        sign_in=sign_in,
        force_on_conflict=force_on_conflict,
        tls=tls,
        timeout=timeout,
        max_concurrency=max_concurrency,
        share_window=share_window,
        conferences=conferences,
        participants=participants,
    )


def _required_string(gw: _Section, key: str, example: str) -> str | None:
    value = gw.get(key)
    if value is None:
        gw.error(key, f"is required (e.g. {example})")
        return None
    if not isinstance(value, str):
        gw.error(key, f"expected a string, got {_describe(value)}")
        return None
    return value


def _parse_name(gw: _Section) -> str:
    name = _required_string(gw, "name", "name: cc-east")
    if name is None:
        return ""
    if not _NAME_RE.fullmatch(name):
        gw.error(
            "name", f"{_show(name)} may contain only letters, digits, _ and - (it is a label value)"
        )
    elif len(name) > GATEWAY_NAME_MAX_LEN:
        gw.error("name", f"is longer than {GATEWAY_NAME_MAX_LEN} characters")
    return name


def _parse_url(gw: _Section) -> str:
    url = _required_string(gw, "url", "url: https://10.0.0.5:8043")
    if url is None:
        return ""
    try:
        return _normalise_url(url)
    except ValueError as exc:
        gw.error("url", str(exc))
        return ""


def _normalise_url(url: str) -> str:
    """The gateway's base URL: scheme, host, optional port, optional path prefix (for a
    reverse proxy that mounts the gateway under a path). No query or fragment, since the
    client appends ``/agentgateway/resource/...`` to it; no user info, since credentials go
    in ``agent_id``/``password_*`` and a password in a URL would end up in logs."""
    authority = re.split(r"[/?#]", url.partition("://")[2] or url, maxsplit=1)[0]
    if "@" in authority:
        # The URL itself is not shown: the part before @ may be a password.
        raise ValueError("must not contain a user name or password; use agent_id and password_*")
    shown = _show(url)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(f"{shown} contains spaces or control characters")
    if "://" not in url:
        raise ValueError(f"{shown} has no scheme; write it as https://HOST:PORT")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"{shown} has scheme {parts.scheme!s}; use http or https")
    if not parts.hostname:
        raise ValueError(f"{shown} has no host")
    if port == 0:
        raise ValueError(f"{shown} has port 0")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(
            f"{shown} has a query or fragment; give the base URL only (the exporter appends "
            f"{RESOURCE_PATH}/...)"
        )
    path = parts.path.rstrip("/")
    if path.lower().endswith(RESOURCE_PATH):
        raise ValueError(
            f"{shown} ends with {RESOURCE_PATH}, which the exporter appends; remove it"
        )
    return f"{scheme}://{parts.netloc}{path}"


def _parse_agent_id(gw: _Section) -> str:
    value = gw.get("agent_id")
    expected = f"digits, {AGENT_ID_MIN} to {AGENT_ID_MAX}"
    if value is None:
        gw.error("agent_id", 'is required (e.g. agent_id: "153")')
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        gw.error("agent_id", f"expected an agent ID ({expected}), got {_describe(value)}")
        return ""
    text = str(value)
    if not _DIGITS_RE.fullmatch(text):
        gw.error("agent_id", f"{_show(value)} is not an agent ID ({expected})")
        return ""
    if len(text) > 1 and text.startswith("0"):
        # In YAML 1.1 an unquoted 0153 is octal; refuse rather than guess which was meant.
        gw.error("agent_id", f"{_show(value)} has a leading zero; write the number without it")
        return ""
    if not AGENT_ID_MIN <= int(text) <= AGENT_ID_MAX:
        gw.error("agent_id", f"{text} is out of range ({AGENT_ID_MIN} to {AGENT_ID_MAX})")
        return ""
    return text


def _parse_password(gw: _Section) -> Secret | None:
    """Exactly one source. Values never appear in messages: type errors name the type only."""
    sources = [key for key in _PASSWORD_KEYS if gw.has(key)]
    if not sources:
        gw.problems.error(
            gw.path, "no password source (set password_file, password_env or password)"
        )
        return None
    if len(sources) > 1:
        gw.problems.error(
            gw.path, f"more than one password source ({', '.join(sources)}); set only one"
        )
        return None
    source = sources[0]
    if source == "password_file":
        return _password_from_file(gw)
    if source == "password_env":
        return _password_from_env(gw)

    value = gw.get("password")
    if not isinstance(value, str):
        # Not _describe(): that would print the value. Quoting matters here because YAML
        # turns an unquoted 0123 or 1.50 into a number that is not the password.
        gw.error("password", f"expected a string, got {_kind(value)} (quote the password)")
        return None
    if value == "":
        gw.error("password", "is empty")
        return None
    gw.warn("password", "is inline in the config file; prefer password_file or password_env")
    return Secret(value)


def _password_from_file(gw: _Section) -> Secret | None:
    path = gw.file_path("password_file")
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        gw.error("password_file", f"cannot read {path}: {_os_reason(exc)}")
        return None
    if len(raw) > _MAX_PASSWORD_FILE_BYTES:
        gw.error("password_file", f"{path} is larger than {_MAX_PASSWORD_FILE_BYTES} bytes")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        gw.error("password_file", f"{path} is not UTF-8 text")
        return None
    # Editors and `echo` add a trailing newline; it is never part of the password.
    password = text.rstrip("\r\n")
    if password == "":
        gw.error("password_file", f"{path} is empty")
        return None
    if "\n" in password or "\r" in password:
        gw.error("password_file", f"{path} has more than one line; it must hold only the password")
        return None
    return Secret(password)


def _password_from_env(gw: _Section) -> Secret | None:
    name = gw.get("password_env")
    if not isinstance(name, str):
        gw.error("password_env", f"expected a variable name, got {_describe(name)}")
        return None
    if not _ENV_NAME_RE.fullmatch(name):
        gw.error("password_env", f"{_show(name)} is not an environment variable name")
        return None
    value = gw.problems.env.get(name)
    if value is None:
        gw.error("password_env", f"environment variable {name} is not set")
        return None
    if value == "":
        gw.error("password_env", f"environment variable {name} is empty")
        return None
    return Secret(value)


def _parse_phone_number(gw: _Section) -> str:
    value = gw.get("phone_number")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        gw.error("phone_number", f"expected a string, got {_describe(value)}")
        return ""
    text = str(value)
    if len(text) > PHONE_NUMBER_MAX_LEN:
        gw.error("phone_number", f"is longer than {PHONE_NUMBER_MAX_LEN} characters")
    elif any(ch.isspace() or not ch.isprintable() for ch in text):
        gw.error("phone_number", f"{_show(text)} contains spaces or control characters")
    return text


# --------------------------------------------------------------------------------------------
# tls


def _parse_tls(tls: _Section) -> TLSConfig:
    paths = {key: _tls_file(tls, key) for key in ("ca_file", "cert_file", "key_file")}
    server_name = tls.string("server_name", "")
    if server_name and not _HOSTNAME_RE.fullmatch(server_name):
        tls.error("server_name", f"{_show(server_name)} is not a host name")
    insecure = tls.boolean("insecure_skip_verify", False)

    ca_file, cert_file, key_file = paths["ca_file"], paths["cert_file"], paths["key_file"]
    has_cert, has_key = bool(tls.get("cert_file")), bool(tls.get("key_file"))
    if has_cert != has_key:
        missing, present = ("key_file", "cert_file") if has_cert else ("cert_file", "key_file")
        tls.error(missing, f"is required when {present} is set (a client certificate needs both)")

    if ca_file is not None:
        _check_ca_file(tls, ca_file[0])
    if cert_file is not None and key_file is not None:
        _check_cert_and_key(tls, cert_file[0], key_file[0])

    if insecure:
        message = "is true: the gateway's certificate is not verified"
        if ca_file is not None:
            message += ", so ca_file is not used"
        tls.warn("insecure_skip_verify", message)

    digest = hashlib.sha256()
    for key, entry in paths.items():
        if entry is not None:
            digest.update(f"{key}\0{len(entry[1])}\0".encode())
            digest.update(entry[1])
    return TLSConfig(
        ca_file=str(ca_file[0]) if ca_file else "",
        cert_file=str(cert_file[0]) if cert_file else "",
        key_file=str(key_file[0]) if key_file else "",
        server_name=server_name,
        insecure_skip_verify=insecure,
        files_digest=digest.hexdigest() if any(paths.values()) else "",
    )


def _tls_file(tls: _Section, key: str) -> tuple[Path, bytes] | None:
    """Path and contents of a TLS file; ``""`` means unset, as does absence."""
    value = tls.string(key, "")
    if value == "":
        return None
    path = tls.problems.resolve(value)
    try:
        with path.open("rb") as handle:
            content = handle.read(_MAX_TLS_FILE_BYTES + 1)
    except OSError as exc:
        tls.error(key, f"cannot read {path}: {_os_reason(exc)}")
        return None
    if len(content) > _MAX_TLS_FILE_BYTES:
        tls.error(key, f"{path} is larger than {_MAX_TLS_FILE_BYTES} bytes")
        return None
    return path, content


def _check_ca_file(tls: _Section, path: Path) -> None:
    # Loading it now turns "certificate verify failed" at the first scrape into a config
    # error at load time, and on reload keeps the old, working config.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        tls.error("ca_file", f"{path} holds no PEM certificate ({exc.reason or exc})")


class _EncryptedKey(Exception):
    pass


def _refuse_passphrase() -> str:
    # Called by OpenSSL only for an encrypted key; without a callback it would prompt on the
    # terminal, which hangs a daemon.
    raise _EncryptedKey


def _check_cert_and_key(tls: _Section, cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(str(cert), str(key), password=_refuse_passphrase)
    except _EncryptedKey:
        tls.error(
            "key_file", f"{key} is encrypted; use an unencrypted key readable only by the exporter"
        )
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            tls.error("key_file", f"{key} does not match the certificate in cert_file")
            return
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(cert))
        except ssl.SSLError:
            tls.error("cert_file", f"{cert} holds no PEM certificate")
        else:
            tls.error("key_file", f"{key} holds no PEM private key")


# --------------------------------------------------------------------------------------------
# conferences


def _parse_conferences(conf: _Section) -> ConferencesConfig:
    discover = conf.boolean("discover", True)
    ids = _parse_ids(conf)
    ids_file = _parse_ids_file(conf)
    from_events = conf.boolean("from_events", True)
    per_conference = conf.boolean("per_conference_metrics", True)
    max_conferences = conf.integer("max_conferences", DEFAULT_MAX_CONFERENCES, minimum=0)
    if not (discover or from_events or ids or ids_file):
        conf.problems.warn(
            conf.path,
            "discover and from_events are off and no ids or ids_file are set; "
            "no conference will be watched",
        )
    return ConferencesConfig(
        discover=discover,
        ids=ids,
        ids_file=ids_file,
        from_events=from_events,
        per_conference_metrics=per_conference,
        max_conferences=max_conferences,
    )


def _parse_ids(conf: _Section) -> tuple[int, ...]:
    value = conf.get("ids")
    if value is None:
        return ()
    if not isinstance(value, list):
        conf.error("ids", f"expected a list of conference IDs, got {_describe(value)}")
        return ()
    seen: dict[int, int] = {}
    for index, item in enumerate(value):
        key = f"ids[{index}]"
        number: int | None = None
        if isinstance(item, int) and not isinstance(item, bool):
            number = item
        elif isinstance(item, str) and _DIGITS_RE.fullmatch(item):
            number = int(item)
        if number is None or number <= 0:
            conf.error(key, f"{_show(item)} is not a conference ID (a positive integer)")
            continue
        if number > CONFERENCE_ID_MAX:
            conf.error(key, f"{number} is too large for a conference ID")
            continue
        if number in seen:
            conf.error(key, f"duplicate conference ID {number} (also ids[{seen[number]}])")
            continue
        seen[number] = index
    return tuple(sorted(seen))


def _parse_ids_file(conf: _Section) -> str | None:
    path = conf.file_path("ids_file")
    if path is None:
        return None
    if not path.exists():
        # Another process (a provisioning job) may create it later; the exporter watches it.
        conf.warn("ids_file", f"{path} does not exist yet; it will be read when it appears")
    elif path.is_dir():
        conf.error("ids_file", f"{path} is a directory")
    else:
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            conf.error("ids_file", f"cannot read {path}: {_os_reason(exc)}")
    return str(path)


# --------------------------------------------------------------------------------------------
# Showing values in messages


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    """A scalar as the user would write it, shortened: messages quote what they refer to."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _kind(value)


def _describe(value: object) -> str:
    if value is None or isinstance(value, (list, dict)):
        return _kind(value)
    return f"{_kind(value)} {_show(value)}"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
