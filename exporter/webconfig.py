"""`--web.config.file`: TLS, basic auth and headers for the exporter's own endpoint.

The file has the format of Prometheus's exporter-toolkit (``tls_server_config``,
``basic_auth_users``, ``http_server_config``) so that operators reuse the files, the habits
and the bcrypt hashes they already have for node_exporter and friends. Where Python's ``ssl``
cannot do what Go's ``crypto/tls`` does, the difference errs on the side of refusing a client
or refusing the file, and is said once, as a warning at load time; the whole list is in
docs/security.md.

The file is validated as strictly as the main config (unknown keys are errors naming the
key, every problem reported in one pass) because a typo in a security file must not quietly
leave the endpoint open. It is read at start and again on each reload (SIGHUP, ``POST
/-/reload``), not per connection as the toolkit does: users, headers and the certificate and
key (rotation) take effect on reload; other TLS settings need a restart, and a reload that
changes them is refused with the old web config kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import difflib
import hashlib
import hmac
import logging
import os
import re
import secrets
import ssl
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web

from .logs import kv
from .primitives import (
    ConfigError,
    Problems,
    Section,
    describe,
    load_yaml_file,
    refuse_passphrase,
    show,
)
from .secret import Secret

__all__ = [
    "BasicAuth",
    "BasicAuthUser",
    "HTTPServerConfig",
    "LoadedWebConfig",
    "TLSServerConfig",
    "WebConfigFile",
    "WebSecurity",
    "build_ssl_context",
    "check_web_config",
    "load_web_config",
]

log = logging.getLogger(__name__)

ClientAuthType = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
CLIENT_AUTH_TYPES: tuple[ClientAuthType, ...] = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
TLS_VERSIONS: tuple[TLSVersionName, ...] = ("TLS10", "TLS11", "TLS12", "TLS13")
_SSL_VERSIONS: dict[TLSVersionName, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's names (tls.CipherSuites(), the ones the toolkit accepts) and OpenSSL's for the same
# suite. TLS 1.3 suites are accepted but, as in Go, not configurable: None.
CIPHER_SUITES: dict[str, str | None] = {
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    # RSA key exchange: in tls.CipherSuites() of the Go releases most exporters are built with.
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
}
CURVES = ("CurveP256", "CurveP384", "CurveP521", "X25519")

# The headers the toolkit lets one set, and their allowed values where it restricts them
# (None: any value). Kept identical so that a file valid there is valid here and vice versa.
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

# Keys of the toolkit's format that we do not implement. Refused with a message of their own
# rather than "unknown key": ignoring any of them would leave the endpoint less protected than
# the operator believes (no SAN check, no rate limit) or without the certificate they gave.
_UNSUPPORTED_TLS = {
    "cert": "give the certificate as cert_file",
    "key": "give the key as key_file",
    "client_ca": "give the CA as client_ca_file",
    "client_allowed_sans": "issue client certificates from a CA used only for this purpose",
}
_UNSUPPORTED_TOP = {"rate_limit": "put a reverse proxy in front to rate-limit"}

_TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "curve_preferences",
    *_UNSUPPORTED_TLS,
)
_BCRYPT_RE = re.compile(r"\$2[abxy]?\$(?P<cost>[0-9]{2})\$[./A-Za-z0-9]{53}")
_HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\uffff]*")

# A verified credential is remembered this long after its last use, so that a scrape pays
# for bcrypt (about 70 ms at cost 10, seconds at high costs) once, not on every request.
AUTH_CACHE_TTL = 300.0
AUTH_CACHE_SIZE = 100
# Password checks that may wait behind the running one (at cost 10 about a second's worth),
# and how many of them one client address may hold; beyond either: 503 with Retry-After.
AUTH_QUEUE_DEPTH = 16
AUTH_QUEUE_PER_CLIENT = 4
# Client addresses remembered for a wrong password (see BasicAuth); the oldest are forgotten.
AUTH_SUSPECTS_KEPT = 4096
AUTH_RETRY_AFTER = "1"
WWW_AUTHENTICATE = 'Basic realm="ccgw-exporter", charset="UTF-8"'


# --------------------------------------------------------------------------------------------
# The config objects


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    """``tls_server_config``. Paths are absolute. ``client_ca_digest`` (SHA-256 of the CA
    file) is part of equality so that a reload notices a CA file replaced in place, which
    the running server cannot apply (see :meth:`WebSecurity.reload`)."""

    cert_file: str
    key_file: str
    client_auth_type: ClientAuthType = "NoClientCert"
    client_ca_file: str = ""
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()
    client_ca_digest: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class HTTPServerConfig:
    """``http_server_config``. ``http2`` is kept only to be reported: aiohttp serves
    HTTP/1.1, which is all a scrape needs."""

    headers: tuple[tuple[str, str], ...] = ()
    http2: bool = True


@dataclass(frozen=True, slots=True)
class BasicAuthUser:
    """One ``basic_auth_users`` entry; the bcrypt hash is a :class:`Secret` because a weak
    password's hash is crackable and has no business in a log line."""

    name: str
    password_hash: Secret

    @property
    def cost(self) -> int:
        match = _BCRYPT_RE.fullmatch(self.password_hash.reveal())
        return int(match["cost"]) if match else 0


@dataclass(frozen=True, slots=True)
class WebConfigFile:
    """The whole web config file; ``tls`` None means plain HTTP, no users means no auth."""

    tls: TLSServerConfig | None = None
    http: HTTPServerConfig = field(default_factory=HTTPServerConfig)
    basic_auth_users: tuple[BasicAuthUser, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadedWebConfig:
    """A valid web config plus what deserves a warning (settings Python cannot honour as Go
    does, basic auth without TLS); returned, not logged, so the caller picks stderr or log."""

    config: WebConfigFile
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Loading


def load_web_config(path: str | Path) -> LoadedWebConfig:
    """Read and validate the web config file; raises :class:`ConfigError` naming each bad
    key. Relative paths in it resolve against its directory, as the toolkit does."""
    # The toolkit reads an empty file as "no TLS, no auth"; here a truncated deploy of a
    # security file must not open the endpoint.
    return load_yaml_file(
        path,
        lambda data, base_dir: parse_web_config(data, base_dir=base_dir),
        empty="write {} for no TLS and no auth",
    )


def parse_web_config(data: object, *, base_dir: str | Path) -> LoadedWebConfig:
    """Validate already-parsed YAML; raises :class:`ConfigError` listing every problem."""
    problems = Problems(Path(os.path.abspath(base_dir)), {})
    if not isinstance(data, dict):
        problems.error(
            "top level", f"expected a mapping (tls_server_config:, ...), got {describe(data)}"
        )
        raise ConfigError(problems.errors)
    root = Section(
        problems,
        "",
        data,
        ("tls_server_config", "http_server_config", "basic_auth_users", *_UNSUPPORTED_TOP),
    )
    _refuse_unsupported(root, _UNSUPPORTED_TOP)
    tls = _parse_tls(root.section("tls_server_config", _TLS_KEYS))
    http = _parse_http(root.section("http_server_config", ("headers", "http2")))
    users = _parse_users(root)
    if problems.errors:
        raise ConfigError(problems.errors, problems.warnings)
    if users and tls is None:
        root.warn(
            "basic_auth_users",
            "set without tls_server_config: passwords cross the network in clear text",
        )
    if not users and tls is None:
        problems.warn("top level", "neither TLS nor basic auth is configured")
    config = WebConfigFile(tls=tls, http=http, basic_auth_users=users)
    return LoadedWebConfig(config, tuple(problems.warnings))


def _refuse_unsupported(section: Section, unsupported: dict[str, str]) -> None:
    for key, instead in unsupported.items():
        if section.get(key) is not None:
            section.error(
                key, f"is an exporter-toolkit setting ccgw-exporter does not support; {instead}"
            )


def _parse_tls(tls: Section) -> TLSServerConfig | None:
    # Any key set means TLS is wanted. The toolkit falls back to plain HTTP when cert_file is
    # missing; a file that says min_version: TLS13 and serves HTTP is refused here.
    if not any(tls.get(key) is not None for key in _TLS_KEYS):
        return None
    _refuse_unsupported(tls, _UNSUPPORTED_TLS)
    cert = tls.tls_file("cert_file")
    key = tls.tls_file("key_file")
    for name in ("cert_file", "key_file"):
        if not tls.get(name):
            tls.error(name, "is required in tls_server_config")
    if cert is not None and key is not None:
        tls.key_pair("cert_file", "key_file", cert[0], key[0])

    auth = tls.choice("client_auth_type", "NoClientCert", CLIENT_AUTH_TYPES)
    ca = tls.ca_bundle("client_ca_file")
    if ca is not None:
        if auth == "NoClientCert":
            tls.error("client_ca_file", "is set but client_auth_type is NoClientCert")
    elif not tls.get("client_ca_file") and _VERIFY_MODES[auth] != ssl.CERT_NONE:
        # Go would verify against the system's CAs: anyone with a publicly trusted
        # certificate would be let in. Not a useful policy; say so instead.
        tls.error("client_ca_file", f"is required when client_auth_type is {auth}")
    if auth == "RequestClientCert":
        tls.warn(
            "client_auth_type",
            "RequestClientCert: no certificate is asked for (Python's ssl cannot ask without "
            "verifying); an unverified certificate grants nothing, so access is the same",
        )
    elif auth == "RequireAnyClientCert":
        tls.warn(
            "client_auth_type",
            "RequireAnyClientCert is enforced as RequireAndVerifyClientCert: Python's ssl "
            "verifies every certificate it requires, here against client_ca_file",
        )

    min_version = tls.choice("min_version", "TLS12", TLS_VERSIONS)
    max_version = tls.choice("max_version", "TLS13", TLS_VERSIONS)
    if TLS_VERSIONS.index(min_version) > TLS_VERSIONS.index(max_version):
        tls.error("max_version", f"{max_version} is below min_version {min_version}")
    if min_version in ("TLS10", "TLS11"):
        tls.warn(
            "min_version",
            f"{min_version} is deprecated; OpenSSL 3 at its default security level "
            "refuses TLS 1.0 and 1.1 anyway",
        )

    ciphers = _names(tls, "cipher_suites", tuple(CIPHER_SUITES))
    _check_ciphers(tls, ciphers)
    curves = _names(tls, "curve_preferences", CURVES)
    if curves:
        tls.warn("curve_preferences", "is accepted but not applied: OpenSSL's defaults are used")
    prefer = tls.boolean("prefer_server_cipher_suites", True)
    return TLSServerConfig(
        cert_file=str(cert[0]) if cert else "",
        key_file=str(key[0]) if key else "",
        client_auth_type=auth,
        client_ca_file=str(ca[0]) if ca else "",
        min_version=min_version,
        max_version=max_version,
        cipher_suites=ciphers,
        prefer_server_cipher_suites=prefer,
        curve_preferences=curves,
        client_ca_digest=hashlib.sha256(ca[1]).hexdigest() if ca else "",
    )


def _check_ciphers(tls: Section, ciphers: tuple[str, ...]) -> None:
    openssl_names = [n for n in (CIPHER_SUITES[c] for c in ciphers) if n]
    if ciphers and not openssl_names:
        tls.warn("cipher_suites", "lists only TLS 1.3 suites, which are not configurable")
    elif openssl_names:
        try:  # whatever this OpenSSL build still refuses is found now, not at the first scrape
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(":".join(openssl_names))
        except ssl.SSLError as exc:
            tls.error("cipher_suites", f"refused by OpenSSL: {exc.reason or exc}")


def _names(section: Section, key: str, known: tuple[str, ...]) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        section.error(key, f"expected a list, got {show(value)}")
        return ()
    names: list[str] = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, str):
            section.error(where, f"expected a name, got {show(item)}")
        elif item not in known:
            close = difflib.get_close_matches(item, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            section.error(where, f"{show(item)} is not a known name{hint}")
        elif item not in names:
            names.append(item)
    return tuple(names)


def _parse_http(http: Section) -> HTTPServerConfig:
    http2 = http.boolean("http2", True)
    if http.get("http2") is True:
        http.warn("http2", "is ignored: the exporter serves HTTP/1.1")
    headers_section = http.section("headers", tuple(HEADERS))
    headers: list[tuple[str, str]] = []
    for name, allowed in HEADERS.items():
        value = headers_section.get(name)
        if value is None or value == "":
            continue  # blank means unset, as in the toolkit
        if not isinstance(value, str):
            headers_section.error(name, f"expected a string, got {show(value)}")
        elif not _HEADER_VALUE_RE.fullmatch(value):
            headers_section.error(name, "contains a line break or control character")
        elif allowed is not None and value not in allowed:
            headers_section.error(name, f"{show(value)} is not one of {', '.join(allowed)}")
        else:
            headers.append((name, value))
    return HTTPServerConfig(headers=tuple(headers), http2=http2)


def _parse_users(root: Section) -> tuple[BasicAuthUser, ...]:
    value = root.get("basic_auth_users")
    if value is None:
        return ()
    if not isinstance(value, dict):
        root.error("basic_auth_users", "expected a mapping of user: bcrypt hash")
        return ()
    users: list[BasicAuthUser] = []
    for name, hashed in value.items():
        where = f"basic_auth_users.{name}"
        if not isinstance(name, str) or not name or ":" in name:
            root.problems.error(where, "a user name is a non-empty string without ':'")
            continue
        match = _BCRYPT_RE.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None:
            # The value is not shown: a plain-text password pasted here is a common mistake.
            root.problems.error(
                where, "is not a bcrypt hash ($2y$10$ and 53 characters; see docs/security.md)"
            )
        elif not 4 <= int(match["cost"]) <= 31:
            root.problems.error(where, f"bcrypt cost {match['cost']} is not between 4 and 31")
        else:
            users.append(BasicAuthUser(name, Secret(match[0])))
    return tuple(users)


def check_web_config(path: str) -> int:
    """``--config.check`` for the web config file: 0 valid, 1 invalid, messages on stderr."""
    try:
        loaded = load_web_config(path)
    except ConfigError as error:
        for message in [*(f"warning: {w}" for w in error.warnings), *error.messages]:
            print(f"{path}: {message}", file=sys.stderr)
        return 1
    for message in loaded.warnings:
        print(f"{path}: warning: {message}", file=sys.stderr)
    print(f"{path}: OK ({_summary_text(loaded.config)})")
    return 0


def _summary_text(config: WebConfigFile) -> str:
    tls = config.tls
    if tls is None:
        shown = "no TLS"
    else:
        shown = f"TLS {tls.min_version}-{tls.max_version}, client_auth_type {tls.client_auth_type}"
    users, headers = len(config.basic_auth_users), len(config.http.headers)
    return f"{shown}, {users} basic auth user(s), {headers} header(s)"


# --------------------------------------------------------------------------------------------
# TLS


_VERIFY_MODES: dict[ClientAuthType, ssl.VerifyMode] = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


def build_ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """The server context for ``web.TCPSite``; raises ssl.SSLError/OSError on bad files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _SSL_VERSIONS[tls.min_version]
    context.maximum_version = _SSL_VERSIONS[tls.max_version]
    openssl_names = [n for n in (CIPHER_SUITES[c] for c in tls.cipher_suites) if n]
    if openssl_names:
        context.set_ciphers(":".join(openssl_names))
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(tls.cert_file, tls.key_file, password=refuse_passphrase)
    context.verify_mode = _VERIFY_MODES[tls.client_auth_type]
    if tls.client_ca_file:
        context.load_verify_locations(cafile=tls.client_ca_file)
    return context


def _tls_change_needing_restart(old: TLSServerConfig | None, new: TLSServerConfig | None) -> str:
    """The first TLS change the running listener cannot take, as a message; "" if none.

    A live SSLContext can take a new certificate and key (load_cert_chain replaces them), but
    not a smaller CA store, and the listener cannot switch between HTTP and HTTPS.
    """
    if (old is None) != (new is None):
        return "tls_server_config: switching TLS on or off needs a restart"
    if old is None or new is None:
        return ""
    for item in fields(TLSServerConfig):
        if item.name in ("cert_file", "key_file"):
            continue
        if getattr(old, item.name) != getattr(new, item.name):
            key = "client_ca_file" if item.name == "client_ca_digest" else item.name
            return f"tls_server_config.{key}: changed; this takes effect on restart"
    return ""


# --------------------------------------------------------------------------------------------
# Basic auth


Checker = Callable[[bytes, bytes], bool]
#: ``ok``: let in. ``denied``: 401. ``busy``: the queue of checks is full, 503. ``gone``: the
#: client left while its check waited, so it was never run.
Verdict = Literal["ok", "denied", "busy", "gone"]
RejectHook = Callable[[Literal["auth_busy", "unauthorized"]], None]


def bcrypt_check(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # bcrypt 5 refuses passwords over 72 bytes; Go's bcrypt fails them too
        return False


@dataclass(eq=False)
class _Check:
    """One bcrypt check, queued or running; requests with the same credential share it."""

    password: bytes
    hashed: bytes
    client: str
    alive: list[Callable[[], bool]]
    # True/False: checked; "gone": dropped, every asker had left; "busy": made way.
    result: asyncio.Future[bool | Literal["gone", "busy"]]


class BasicAuth:
    """Verifies ``Authorization: Basic`` against bcrypt hashes, so that a flood of wrong
    passwords costs one core and cannot lock out the scraper whose password is right.

    - Credentials that verified are kept in a cache of their own, which failures never touch,
      and each use extends their life (``ttl`` after the last use): a scraper that keeps
      scraping never waits for bcrypt again, whatever a spray does meanwhile. Wrong ones are
      remembered in a second, bounded cache (a misconfigured scraper costs no CPU).
    - Keys are an HMAC of (user, hash, password) under a per-process random key: neither the
      password nor a fast unsalted hash of it is kept in memory. The hash is part of the key,
      so a changed hash never hits an old entry.
    - Unknown users are checked against a real hash (the costliest configured) so that the
      answer takes as long as for a known user: no user enumeration by timing.
    - bcrypt runs in a thread, one check at a time (as the toolkit's mutex does). At most
      ``queue_depth`` checks wait, at most ``per_client`` of them from one client address;
      beyond that the answer is ``busy`` at once instead of a wait without bound. A check
      whose clients have all gone is dropped when its turn comes, not run.
    - A client address that sent a wrong password in the last ``ttl`` is suspect: its checks
      wait behind everyone else's and, when the queue is full, make way for a check from an
      address that is not (the newest suspect check is told ``busy``). A spray from many
      addresses fills the queue, but a scraper whose address has not failed still gets its
      first check done next; one spraying from the scraper's own address (behind the same
      NAT) is held to that address's share.
    """

    def __init__(
        self,
        users: tuple[BasicAuthUser, ...],
        *,
        checker: Checker = bcrypt_check,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = AUTH_CACHE_TTL,
        max_entries: int = AUTH_CACHE_SIZE,
        queue_depth: int = AUTH_QUEUE_DEPTH,
        per_client: int = AUTH_QUEUE_PER_CLIENT,
        inherit: BasicAuth | None = None,
    ) -> None:
        self._users = {u.name.encode(): u.password_hash for u in users}
        self._decoy = max(users, key=lambda u: u.cost).password_hash if users else None
        self._checker = checker
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._queue_depth = queue_depth
        self._per_client = per_client
        self._key = secrets.token_bytes(32)
        self._valid: dict[bytes, float] = {}  # entry -> expiry; credentials that verified
        self._invalid: dict[bytes, float] = {}  # entry -> expiry; oldest first
        if inherit is not None:
            # A reload that changed the users keeps the verified credentials: an entry is
            # keyed by the hash, so those of a changed or removed user can never match.
            self._key = inherit._key
            self._valid = dict(inherit._valid)
        self._checks: dict[bytes, _Check] = {}
        self._queue: deque[tuple[bytes, _Check]] = deque()  # clients without failures
        self._suspects: deque[tuple[bytes, _Check]] = deque()  # clients with recent ones
        self._waiting_by_client: Counter[str] = Counter()
        self._failed: dict[str, float] = {}  # client -> when its last wrong password expires
        self._worker: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    @property
    def waiting(self) -> int:
        """Checks queued behind the running one."""
        return len(self._queue) + len(self._suspects)

    async def verify(
        self,
        authorization: str | None,
        *,
        client: str = "",
        alive: Callable[[], bool] = lambda: True,
    ) -> Verdict:
        """``client`` is the peer's address (its share of the queue); ``alive`` says whether
        the request's connection is still open."""
        if self._decoy is None:
            return "ok"
        credentials = _parse_basic(authorization)
        if credentials is None:
            return "denied"
        user, password = credentials
        known = self._users.get(user)
        hashed = (known or self._decoy).reveal().encode()
        entry = self._entry(user, hashed, password)
        verified = self._cached(entry)
        if verified is None:
            check = self._checks.get(entry)
            if check is not None:
                check.alive.append(alive)  # a concurrent request asked the same: share it
            else:
                admitted = self._enqueue(entry, password, hashed, client, alive)
                if admitted is None:
                    return "busy"
                check = admitted
            result = await asyncio.shield(check.result)
            if result == "gone" or result == "busy":
                return result
            verified = result
        if verified and known is not None:
            return "ok"
        self._failed.pop(client, None)  # re-inserted: the dict's order is the forgetting order
        self._failed[client] = self._clock() + self._ttl
        while len(self._failed) > AUTH_SUSPECTS_KEPT:
            del self._failed[next(iter(self._failed))]
        return "denied"

    def _suspect(self, client: str) -> bool:
        expires = self._failed.get(client)
        if expires is None:
            return False
        if self._clock() < expires:
            return True
        del self._failed[client]
        return False

    def _enqueue(
        self, entry: bytes, password: bytes, hashed: bytes, client: str, alive: Callable[[], bool]
    ) -> _Check | None:
        """A place in the queue for a new check, or None (busy)."""
        if self._waiting_by_client[client] >= self._per_client:
            return None
        suspect = self._suspect(client)
        if self.waiting >= self._queue_depth:
            if suspect or not self._suspects:
                return None
            # Make way: the newest suspect check leaves (its asker is told busy).
            victim_entry, victim = self._suspects.pop()
            self._dequeued(victim)
            del self._checks[victim_entry]
            victim.result.set_result("busy")
        loop = asyncio.get_running_loop()
        check = _Check(password, hashed, client, [alive], loop.create_future())
        self._checks[entry] = check
        (self._suspects if suspect else self._queue).append((entry, check))
        self._waiting_by_client[client] += 1
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return check

    def _dequeued(self, check: _Check) -> None:
        self._waiting_by_client[check.client] -= 1
        if self._waiting_by_client[check.client] <= 0:
            del self._waiting_by_client[check.client]

    async def _work(self) -> None:
        while self._queue or self._suspects:
            entry, check = (self._queue or self._suspects).popleft()
            self._dequeued(check)
            if not any(alive() for alive in check.alive):
                del self._checks[entry]
                check.result.set_result("gone")
                continue
            try:
                ok = await asyncio.to_thread(self._checker, check.password, check.hashed)
            except Exception:  # a checker that fails denies; the loop must go on
                log.exception("password check failed")
                ok = False
            del self._checks[entry]
            self._remember(entry, ok)
            check.result.set_result(ok)

    def _entry(self, user: bytes, hashed: bytes, password: bytes) -> bytes:
        message = b"".join(
            (len(user).to_bytes(4, "big"), user, len(hashed).to_bytes(4, "big"), hashed, password)
        )
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _cached(self, entry: bytes) -> bool | None:
        now = self._clock()
        expires = self._valid.get(entry)
        if expires is not None:
            if now < expires:
                self._valid[entry] = now + self._ttl  # in use: kept
                return True
            del self._valid[entry]
        expires = self._invalid.get(entry)
        if expires is not None:
            if now < expires:
                return False
            del self._invalid[entry]
        return None

    def _remember(self, entry: bytes, ok: bool) -> None:
        now = self._clock()
        cache = self._valid if ok else self._invalid
        if len(cache) >= self._max_entries:
            for stale in [k for k, expires in cache.items() if expires <= now]:
                del cache[stale]
        while len(cache) >= self._max_entries:
            del cache[min(cache, key=cache.__getitem__)]  # the one closest to expiry
        cache[entry] = now + self._ttl


def _parse_basic(header: str | None) -> tuple[bytes, bytes] | None:
    """(user, password) as bytes, as Go's Request.BasicAuth splits them; None if absent or
    malformed. Bytes, because bcrypt compares bytes and a header is not always UTF-8."""
    if not header:
        return None
    scheme, _, param = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(param.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


# --------------------------------------------------------------------------------------------
# The running web config


class WebSecurity:
    """The web config in force: the listener's SSLContext and the aiohttp middleware that
    checks credentials and adds the configured headers; swapped as a whole on reload.
    ``on_reject`` is told of every 401 and every 503 for a full queue of checks (the
    exporter's ``ccgw_exporter_http_rejected_total``)."""

    def __init__(
        self,
        loaded: LoadedWebConfig,
        path: str,
        *,
        checker: Checker = bcrypt_check,
        on_reject: RejectHook | None = None,
    ) -> None:
        self.path = path
        self.config = loaded.config
        self.warnings = loaded.warnings
        self._checker = checker
        self.on_reject: RejectHook = on_reject or (lambda reason: None)
        self.auth = BasicAuth(loaded.config.basic_auth_users, checker=checker)
        self.ssl_context = build_ssl_context(loaded.config.tls) if loaded.config.tls else None

    @classmethod
    def from_file(cls, path: str, *, checker: Checker = bcrypt_check) -> WebSecurity:
        """Load, validate and build; raises ConfigError naming the bad keys."""
        loaded = load_web_config(path)
        try:
            return cls(loaded, path, checker=checker)
        except (OSError, ssl.SSLError) as exc:  # a file changed between validation and use
            raise ConfigError([f"tls_server_config: {exc}"], loaded.warnings) from None

    def summary(self) -> dict[str, object]:
        """Fields for the start-up log line."""
        tls = self.config.tls
        return {
            "web_config": self.path,
            "tls": f"{tls.min_version}-{tls.max_version}" if tls else "off",
            "client_auth": tls.client_auth_type if tls else "-",
            "basic_auth_users": len(self.config.basic_auth_users),
        }

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Credentials before anything else (so an unknown path is a 401, not a 404 that
        maps the routes for a stranger), and the headers on every answer, errors included."""
        headers = self.config.http.headers
        try:
            verdict = await self.auth.verify(
                request.headers.get("Authorization"),
                client=request.remote or "",
                alive=lambda: _connected(request),
            )
            if verdict == "ok":
                response = await handler(request)
            elif verdict == "busy":
                self.on_reject("auth_busy")
                response = web.Response(
                    status=503,
                    text="too many password checks waiting; try again\n",
                    headers={"Retry-After": AUTH_RETRY_AFTER},
                )
            else:
                if verdict == "denied":
                    self.on_reject("unauthorized")
                response = web.Response(
                    status=401,
                    text="401 Unauthorized\n",
                    headers={"WWW-Authenticate": WWW_AUTHENTICATE},
                )
        except web.HTTPException as exc:
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    def reload(self) -> tuple[bool, str]:
        """Re-read the file: (ok, message). On any error the old web config stays whole.
        The message is for the log only: it may name paths and file details."""
        try:
            loaded = load_web_config(self.path)
        except ConfigError as error:
            return self._refused("; ".join(error.messages))
        change = _tls_change_needing_restart(self.config.tls, loaded.config.tls)
        if change:
            return self._refused(change)
        if loaded.config.tls is not None and self.ssl_context is not None:
            tls = loaded.config.tls
            try:
                self.ssl_context.load_cert_chain(
                    tls.cert_file, tls.key_file, password=refuse_passphrase
                )
            except (OSError, ssl.SSLError) as exc:
                return self._refused(f"tls_server_config: {exc}")
        for warning in loaded.warnings:
            log.warning(warning, extra=kv(path=self.path))
        if loaded.config.basic_auth_users != self.config.basic_auth_users:
            self.auth = BasicAuth(
                loaded.config.basic_auth_users, checker=self._checker, inherit=self.auth
            )
        self.config = loaded.config
        self.warnings = loaded.warnings
        log.info("web config reloaded", extra=kv(**self.summary()))
        return True, "web config reloaded"

    def _refused(self, reason: str) -> tuple[bool, str]:
        log.error(
            "web config reload failed; keeping the previous web config",
            extra=kv(path=self.path, errors=reason),
        )
        return False, f"web config reload failed; previous web config kept:\n{reason}"


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()
