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

How each kind of value is read (durations, sizes, conference IDs, listen addresses, paths, TLS
files) and the typed getters are in :mod:`exporter.primitives`, shared with the web config;
this module knows the keys, their defaults and the rules between them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from exporter.primitives import (
    ConfigError,
    Problems,
    Section,
    describe,
    is_host_name,
    kind,
    load_yaml_file,
    os_reason,
    parse_conference_id,
    parse_duration,
    parse_listen_address,
    read_file_capped,
    show,
)
from exporter.secret import Secret

__all__ = [
    "ADDRESS_MODES",
    "FORCE_SIGN_IN_MODES",
    "SIGN_IN_MODES",
    "SIGN_IN_STATUSES",
    "SIGN_IN_STATUS_CODES",
    "AddressMode",
    "ConferencesConfig",
    "Config",
    "ConfigError",
    "ForceSignIn",
    "GatewayConfig",
    "LoadedConfig",
    "ParticipantsConfig",
    "Secret",
    "SignIn",
    "SignInStatus",
    "TLSConfig",
    "WebConfig",
    "default_force_sign_in",
    "load_config",
    "load_yaml_file",
    "parse_config",
    "parse_duration",
]

SignIn = Literal["loginex", "login", "forcelogin"]
# The forced variant: used when force_on_conflict is set, and when the session takes back its
# own lost session. forceloginex keeps loginex's licence class (no media-server licence); the
# api-cec pages do not list it, the gateway's own generated JS client does (issue 14).
ForceSignIn = Literal["forceloginex", "forcelogin"]
# The agent state sent in the sign-in body (`status`, cec_07_1202 / cec_07_1224).
SignInStatus = Literal["busy", "idle", "wrap_up"]
AddressMode = Literal["masked", "hashed", "plain", "omit"]
SIGN_IN_MODES: tuple[SignIn, ...] = ("loginex", "login", "forcelogin")
FORCE_SIGN_IN_MODES: tuple[ForceSignIn, ...] = ("forceloginex", "forcelogin")
SIGN_IN_STATUSES: tuple[SignInStatus, ...] = ("busy", "idle", "wrap_up")
# The vendor's codes for the sign-in body's `status`: 3 busy, 4 idle, 5 wrap-up (cec_07_1202).
SIGN_IN_STATUS_CODES: dict[SignInStatus, int] = {"busy": 3, "idle": 4, "wrap_up": 5}
ADDRESS_MODES: tuple[AddressMode, ...] = ("masked", "hashed", "plain", "omit")
# login and forcelogin mark phonenum mandatory (cec_07_1202, cec_07_1203); loginex does not
# (cec_07_1224, cec_07_0357).
_NEEDS_PHONE: frozenset[str] = frozenset({"login", "forcelogin"})

DEFAULT_LISTEN_ADDRESS = "0.0.0.0:9865"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENCY = 8
# A collection served again instead of a new one is at most this old; beyond it the data would
# be older than any sensible scrape interval's half (see `share_window`).
MAX_SHARE_WINDOW = 300.0
MAX_CONCURRENCY_LIMIT = 256
DEFAULT_MAX_CONFERENCES = 5000
# The vendor's default port, single node and NSLB alike (cec_07_1202, cec_07_0357): a url
# without a port means this one, not the scheme's 443.
DEFAULT_GATEWAY_PORT = 8043
# A cap on one answer's body, compressed and decompressed (issue 12). 16 MiB holds a
# queryconfinfos answer of 20 conferences with thousands of participants each many times
# over; the bounds keep a typo from making it useless (64KiB) or unbounded (1GiB).
DEFAULT_MAX_RESPONSE_SIZE = 16 * 1024**2
MIN_RESPONSE_SIZE = 64 * 1024
MAX_RESPONSE_SIZE = 1024**3
# IDs one collection may ask for (issue 12): 100000 IDs are 5000 queryconfinfos calls.
DEFAULT_MAX_IDS = 100_000
# How long a conference whose batch failed keeps its last known series (issue 13).
DEFAULT_KEEP_STALE_FOR = 300.0
MAX_KEEP_STALE_FOR = 3600.0
# Participant series per conference (issue 12): counts stay complete beyond it.
DEFAULT_MAX_PARTICIPANTS = 500
AGENT_ID_MIN = 101
AGENT_ID_MAX = 999_999
# Older editions of the sign-in pages (cec_07_1224; cec_07_1202 as of 2025-03) and the
# gateway's generated JS client allow 101-59999 only; such a gateway answers 404 to a larger ID.
AGENT_ID_MAX_OLDER = 59_999
PHONE_NUMBER_MAX_LEN = 24
GATEWAY_NAME_MAX_LEN = 64
# The client appends this to the base URL; a URL that already ends with it is a copy-paste of
# a full API URL and would produce /agentgateway/resource/agentgateway/resource/...
RESOURCE_PATH = "/agentgateway/resource"

# Password files are small; a large one is the wrong file (a log, a device).
_MAX_PASSWORD_FILE_BYTES = 4096

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS_RE = re.compile(r"[0-9]+")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def default_force_sign_in(sign_in: SignIn) -> ForceSignIn:
    """The forced variant of ``sign_in``'s licence class: taking over a session must not start
    taking a licence that the configured sign-in does not take (issue 14)."""
    return "forceloginex" if sign_in == "loginex" else "forcelogin"


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
    # Seconds a conference whose batch failed keeps its last known series (0: never).
    keep_stale_for: float = DEFAULT_KEEP_STALE_FOR


@dataclass(frozen=True, slots=True)
class ParticipantsConfig:
    """Per-participant series; off by default because participant addresses are phone
    numbers (personal data, unbounded cardinality)."""

    metrics: bool = False
    address: AddressMode = "masked"
    # Participant series per conference; the counts stay complete beyond it.
    max_per_conference: int = DEFAULT_MAX_PARTICIPANTS


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One CC-Gateway (or its NSLB) and the agent the exporter signs in as.

    ``url`` is a normalised base URL (lower-case scheme, always a port, no trailing slash,
    no query). The password is a :class:`Secret`, so printing a GatewayConfig never shows it
    while equality still notices a changed password.

    ``force_sign_in``'s default here matches the default ``sign_in``; the loader sets it from
    ``sign_in`` (:func:`default_force_sign_in`) when the file does not, so code that builds a
    GatewayConfig with another ``sign_in`` should do the same.
    """

    name: str
    url: str
    agent_id: str
    password: Secret
    phone_number: str = ""
    sign_in: SignIn = "loginex"
    force_on_conflict: bool = False
    force_sign_in: ForceSignIn = "forceloginex"
    sign_in_status: SignInStatus = "busy"
    tls: TLSConfig = field(default_factory=TLSConfig)
    timeout: float = DEFAULT_TIMEOUT
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    # A scrape within this many seconds of the end of the last collection is answered with it
    # (0: only scrapes arriving while a collection is in flight share it).
    share_window: float = 0.0
    # Largest answer body accepted from the gateway, in bytes, compressed and decompressed.
    max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE
    # Most conference IDs one collection asks for; the rest are counted as dropped.
    max_ids: int = DEFAULT_MAX_IDS
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


def parse_config(
    data: object, *, base_dir: str | Path, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Validate already-parsed YAML (or any dict of the same shape) into a :class:`Config`.

    ``base_dir`` is what relative paths resolve against. Raises :class:`ConfigError` listing
    every problem; otherwise returns the config with its warnings.
    """
    problems = Problems(base_dir, os.environ if env is None else env)
    if not isinstance(data, dict):
        problems.error("top level", f"expected a mapping (web:, gateways:), got {describe(data)}")
        raise ConfigError(problems.errors)

    root = Section(problems, "", data, ("web", "gateways"))
    web = _parse_web(root.section("web", ("listen_address",)))
    gateways = _parse_gateways(root)
    if problems.errors:
        raise ConfigError(problems.errors, problems.warnings)
    if not gateways:
        problems.warn("gateways", "no gateways configured; only the exporter's own metrics")
    return LoadedConfig(Config(web=web, gateways=gateways), tuple(problems.warnings))


# --------------------------------------------------------------------------------------------
# web


def _parse_web(web: Section) -> WebConfig:
    address = web.string("listen_address", DEFAULT_LISTEN_ADDRESS)
    try:
        parse_listen_address(address)
    except ValueError as exc:
        web.error("listen_address", str(exc))
    return WebConfig(listen_address=address)


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
    "force_sign_in",
    "sign_in_status",
    "tls",
    "timeout",
    "max_concurrency",
    "share_window",
    "max_response_size",
    "max_ids",
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
    "keep_stale_for",
)
_PARTICIPANTS_KEYS = ("metrics", "address", "max_per_conference")
_PASSWORD_KEYS = ("password_file", "password_env", "password")


def _parse_gateways(root: Section) -> tuple[GatewayConfig, ...]:
    problems = root.problems
    value = root.get("gateways")
    if value is None:
        return ()
    if not isinstance(value, list):
        root.error("gateways", f"expected a list of gateways, got {describe(value)}")
        return ()

    gateways: list[GatewayConfig] = []
    names: dict[str, int] = {}
    agents: dict[tuple[str, str], int] = {}
    for index, item in enumerate(value):
        path = f"gateways[{index}]"
        if not isinstance(item, dict):
            problems.error(path, f"expected a mapping, got {describe(item)}")
            continue
        section = Section(problems, path, item, _GATEWAY_KEYS)
        # Uniqueness is checked on the raw values so that it is reported even when the
        # gateway has other errors.
        name = item.get("name")
        if isinstance(name, str):
            if name in names:
                section.error(
                    "name", f"duplicate gateway name {show(name)} (also gateways[{names[name]}])"
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


def _parse_gateway(gw: Section) -> GatewayConfig | None:
    """One gateway, or None if it had errors (they are recorded in ``gw.problems``)."""
    errors_before = len(gw.problems.errors)

    name = _parse_name(gw)
    url = _parse_url(gw)
    agent_id = _parse_agent_id(gw)
    password = _parse_password(gw)
    phone_number = _parse_phone_number(gw)
    sign_in = gw.choice("sign_in", "loginex", SIGN_IN_MODES)
    force_on_conflict = gw.boolean("force_on_conflict", False)
    force_sign_in = gw.choice("force_sign_in", default_force_sign_in(sign_in), FORCE_SIGN_IN_MODES)
    _require_phone_number(gw, phone_number, sign_in, force_sign_in)
    sign_in_status = gw.choice("sign_in_status", "busy", SIGN_IN_STATUSES)
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
    max_response_size = gw.size(
        "max_response_size",
        DEFAULT_MAX_RESPONSE_SIZE,
        minimum=MIN_RESPONSE_SIZE,
        maximum=MAX_RESPONSE_SIZE,
    )
    max_ids = gw.integer("max_ids", DEFAULT_MAX_IDS, minimum=1)
    conferences = _parse_conferences(gw.section("conferences", _CONFERENCES_KEYS))
    participants_section = gw.section("participants", _PARTICIPANTS_KEYS)
    participants = ParticipantsConfig(
        metrics=participants_section.boolean("metrics", False),
        address=participants_section.choice("address", "masked", ADDRESS_MODES),
        max_per_conference=participants_section.integer(
            "max_per_conference", DEFAULT_MAX_PARTICIPANTS, minimum=1
        ),
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
        force_sign_in=force_sign_in,
        sign_in_status=sign_in_status,
        tls=tls,
        timeout=timeout,
        max_concurrency=max_concurrency,
        share_window=share_window,
        max_response_size=max_response_size,
        max_ids=max_ids,
        conferences=conferences,
        participants=participants,
    )


def _required_string(gw: Section, key: str, example: str) -> str | None:
    value = gw.get(key)
    if value is None:
        gw.error(key, f"is required (e.g. {example})")
        return None
    if not isinstance(value, str):
        gw.error(key, f"expected a string, got {describe(value)}")
        return None
    return value


def _parse_name(gw: Section) -> str:
    name = _required_string(gw, "name", "name: cc-east")
    if name is None:
        return ""
    if not _NAME_RE.fullmatch(name):
        gw.error(
            "name", f"{show(name)} may contain only letters, digits, _ and - (it is a label value)"
        )
    elif len(name) > GATEWAY_NAME_MAX_LEN:
        gw.error("name", f"is longer than {GATEWAY_NAME_MAX_LEN} characters")
    return name


def _parse_url(gw: Section) -> str:
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
    in ``agent_id``/``password_*`` and a password in a URL would end up in logs.

    Without a port the URL gets the vendor's default, 8043, for single node and NSLB alike
    (cec_07_1202, cec_07_0357), for http as for https: a gateway on 443 is the exception and
    is written ``:443``. The normalised URL always carries the port, so ``https://gw`` and
    ``https://gw:8043`` are the same setting."""
    authority = re.split(r"[/?#]", url.partition("://")[2] or url, maxsplit=1)[0]
    if "@" in authority:
        # The URL itself is not shown: the part before @ may be a password.
        raise ValueError("must not contain a user name or password; use agent_id and password_*")
    shown = show(url)
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
    netloc = parts.netloc
    if port is None:
        netloc = f"{netloc.rstrip(':')}:{DEFAULT_GATEWAY_PORT}"
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
    return f"{scheme}://{netloc}{path}"


def _parse_agent_id(gw: Section) -> str:
    value = gw.get("agent_id")
    expected = f"digits, {AGENT_ID_MIN} to {AGENT_ID_MAX}"
    if value is None:
        gw.error("agent_id", 'is required (e.g. agent_id: "153")')
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        gw.error("agent_id", f"expected an agent ID ({expected}), got {describe(value)}")
        return ""
    text = str(value)
    if not _DIGITS_RE.fullmatch(text):
        gw.error("agent_id", f"{show(value)} is not an agent ID ({expected})")
        return ""
    if len(text) > 1 and text.startswith("0"):
        # In YAML 1.1 an unquoted 0153 is octal; refuse rather than guess which was meant.
        gw.error("agent_id", f"{show(value)} has a leading zero; write the number without it")
        return ""
    if len(text) > len(str(AGENT_ID_MAX)) or not AGENT_ID_MIN <= int(text) <= AGENT_ID_MAX:
        shown = text if len(text) <= 20 else f"{text[:16]}..."
        gw.error("agent_id", f"{shown} is out of range ({AGENT_ID_MIN} to {AGENT_ID_MAX})")
        return ""
    if int(text) > AGENT_ID_MAX_OLDER:
        gw.warn(
            "agent_id",
            f"{text} is above {AGENT_ID_MAX_OLDER}: older gateways accept 101-{AGENT_ID_MAX_OLDER} "
            "only (cec_07_1224) and answer a larger agent ID with HTTP 404",
        )
    return text


def _parse_password(gw: Section) -> Secret | None:
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
        # Not describe(): that would print the value. Quoting matters here because YAML
        # turns an unquoted 0123 or 1.50 into a number that is not the password.
        gw.error("password", f"expected a string, got {kind(value)} (quote the password)")
        return None
    if value == "":
        gw.error("password", "is empty")
        return None
    gw.warn("password", "is inline in the config file; prefer password_file or password_env")
    return Secret(value)


def _password_from_file(gw: Section) -> Secret | None:
    path = gw.file_path("password_file")
    if path is None:
        return None
    try:
        raw = read_file_capped(path, _MAX_PASSWORD_FILE_BYTES)
    except ValueError as exc:
        gw.error("password_file", str(exc))
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


def _password_from_env(gw: Section) -> Secret | None:
    name = gw.get("password_env")
    if not isinstance(name, str):
        gw.error("password_env", f"expected a variable name, got {describe(name)}")
        return None
    if not _ENV_NAME_RE.fullmatch(name):
        gw.error("password_env", f"{show(name)} is not an environment variable name")
        return None
    value = gw.problems.env.get(name)
    if value is None:
        gw.error("password_env", f"environment variable {name} is not set")
        return None
    if value == "":
        gw.error("password_env", f"environment variable {name} is empty")
        return None
    return Secret(value)


def _parse_phone_number(gw: Section) -> str:
    value = gw.get("phone_number")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        gw.error("phone_number", f"expected a string, got {describe(value)}")
        return ""
    text = str(value)
    if len(text) > PHONE_NUMBER_MAX_LEN:
        gw.error("phone_number", f"is longer than {PHONE_NUMBER_MAX_LEN} characters")
    elif any(ch.isspace() or not ch.isprintable() for ch in text):
        gw.error("phone_number", f"{show(text)} contains spaces or control characters")
    return text


def _require_phone_number(
    gw: Section, phone_number: str, sign_in: SignIn, force_sign_in: ForceSignIn
) -> None:
    """login and forcelogin mark ``phonenum`` mandatory (cec_07_1202, cec_07_1203): without
    it the gateway refuses the sign-in, and a conflict fallback to forcelogin turned into a
    loop of refused sign-ins (issue 14). Refused here, where someone is looking."""
    if phone_number:
        return
    if sign_in in _NEEDS_PHONE:
        reason = f"sign_in is {sign_in}"
    elif force_sign_in in _NEEDS_PHONE:
        reason = f"force_sign_in is {force_sign_in}"
    else:
        return
    gw.error(
        "phone_number",
        f"is required when {reason}: the vendor marks phonenum mandatory for login and "
        "forcelogin (cec_07_1202, cec_07_1203); only loginex has it optional (cec_07_1224)",
    )


# --------------------------------------------------------------------------------------------
# tls


def _parse_tls(tls: Section) -> TLSConfig:
    paths = {
        "ca_file": tls.ca_bundle("ca_file"),
        "cert_file": tls.tls_file("cert_file"),
        "key_file": tls.tls_file("key_file"),
    }
    server_name = tls.string("server_name", "")
    if server_name and not is_host_name(server_name):
        tls.error("server_name", f"{show(server_name)} is not a host name")
    insecure = tls.boolean("insecure_skip_verify", False)

    ca_file, cert_file, key_file = paths["ca_file"], paths["cert_file"], paths["key_file"]
    has_cert, has_key = bool(tls.get("cert_file")), bool(tls.get("key_file"))
    if has_cert != has_key:
        missing, present = ("key_file", "cert_file") if has_cert else ("cert_file", "key_file")
        tls.error(missing, f"is required when {present} is set (a client certificate needs both)")
    if cert_file is not None and key_file is not None:
        tls.key_pair("cert_file", "key_file", cert_file[0], key_file[0])

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


# --------------------------------------------------------------------------------------------
# conferences


def _parse_conferences(conf: Section) -> ConferencesConfig:
    discover = conf.boolean("discover", True)
    ids = _parse_ids(conf)
    ids_file = _parse_ids_file(conf)
    from_events = conf.boolean("from_events", True)
    per_conference = conf.boolean("per_conference_metrics", True)
    max_conferences = conf.integer("max_conferences", DEFAULT_MAX_CONFERENCES, minimum=0)
    keep_stale_for = conf.duration(
        "keep_stale_for", DEFAULT_KEEP_STALE_FOR, allow_zero=True, maximum=MAX_KEEP_STALE_FOR
    )
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
        keep_stale_for=keep_stale_for,
    )


def _parse_ids(conf: Section) -> tuple[int, ...]:
    value = conf.get("ids")
    if value is None:
        return ()
    if not isinstance(value, list):
        conf.error("ids", f"expected a list of conference IDs, got {describe(value)}")
        return ()
    seen: dict[int, int] = {}
    for index, item in enumerate(value):
        key = f"ids[{index}]"
        try:
            number = parse_conference_id(item)
        except ValueError as exc:
            conf.error(key, str(exc))
            continue
        if number in seen:
            conf.error(key, f"duplicate conference ID {number} (also ids[{seen[number]}])")
            continue
        seen[number] = index
    return tuple(sorted(seen))


def _parse_ids_file(conf: Section) -> str | None:
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
            conf.error("ids_file", f"cannot read {path}: {os_reason(exc)}")
    return str(path)
