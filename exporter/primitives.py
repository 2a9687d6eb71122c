"""Config primitives: one parser per idea, shared by every file and flag the exporter reads.

A conference ID, a duration or a listen address used to be parsed in two or three places with
slightly different rules, and the differences were bugs (an ``ids_file`` accepted ``"²"``,
which ``str.isdigit()`` passes and ``int()`` refuses). Each idea now has one parser here, with
its grammar in its docstring and a property test against that grammar
(``tests/test_primitives.py``). Every parser raises :class:`ValueError` with a message fit to
show the user as is, quoting the offending value; callers prefix the key's path.

Also here, because the gateway config, the web config and the simulator all need them: the
strict YAML loader (:func:`load_yaml_file`), the problem collector and typed getters that
report every mistake in one pass (:class:`Problems`, :class:`Section`), the TLS file checks,
and the helpers that show a value in a message (:func:`show`, :func:`describe`).

This module imports nothing from the rest of the package, so anything may import it.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import os
import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import yaml

__all__ = [
    "CONFERENCE_ID_MAX",
    "CONFERENCE_ID_MIN",
    "DURATION_HINT",
    "LISTEN_ADDRESS_HINT",
    "MAX_TLS_FILE_BYTES",
    "SIZE_HINT",
    "SIZE_UNITS",
    "ConfigError",
    "KeyPairError",
    "Problems",
    "Section",
    "StrictLoader",
    "check_ca_bundle",
    "check_cert_and_key",
    "describe",
    "format_size",
    "is_host_name",
    "kind",
    "load_yaml_file",
    "os_reason",
    "parse_conference_id",
    "parse_duration",
    "parse_listen_address",
    "parse_size",
    "read_file_capped",
    "read_tls_file",
    "refuse_passphrase",
    "resolve_path",
    "show",
]


class ConfigError(Exception):
    """A config file is invalid. ``messages`` lists every problem found, one per item, each
    starting with the key's path; ``warnings`` holds what would have been warned about, so a
    config check can show both at once."""

    def __init__(self, messages: Iterable[str] = (), warnings: Iterable[str] = ()) -> None:
        self.messages: list[str] = list(messages)
        self.warnings: list[str] = list(warnings)
        super().__init__(*self.messages)

    def __str__(self) -> str:
        return "\n".join(self.messages)


# --------------------------------------------------------------------------------------------
# Showing values in messages


def kind(value: object) -> str:
    """What a YAML value is, in words ("an integer"); never the value itself, so it is safe
    for secrets."""
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


def show(value: object) -> str:
    """A scalar as the user would write it, shortened: messages quote what they refer to.
    Strings are JSON-quoted, so control characters and trailing spaces are visible."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 10_000:  # str() refuses ints this long (int_max_str_digits)
            return "a very large integer"
        text = str(value)
        return text if len(text) <= 60 else text[:56] + "..."
    if isinstance(value, float):
        return repr(value)
    return kind(value)


def describe(value: object) -> str:
    """Kind and value ("an integer 7"), for "expected X, got Y" messages."""
    if value is None or isinstance(value, (list, dict)):
        return kind(value)
    return f"{kind(value)} {show(value)}"


def os_reason(exc: OSError) -> str:
    """ "No such file or directory" rather than "[Errno 2] No such file or directory: '...'"
    (the path is already in the message)."""
    return exc.strerror or str(exc)


# --------------------------------------------------------------------------------------------
# Conference IDs

CONFERENCE_ID_MIN = 1
# queryconfinfos and queryvdnconfid type confId as a long (shared/spec/queryconfinfos.md).
CONFERENCE_ID_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]+")
_CONFERENCE_ID_HINT = "a positive integer"


def parse_conference_id(value: object) -> int:
    """A conference ID from the config (``ids``), the watched ``ids_file``, or a gateway answer.

    Grammar: an integer (not a boolean), or a string of ASCII decimal digits ``[0-9]+``
    (leading zeros allowed; no sign, space, underscore or other digit script: ``"²"`` and
    ``"٣"`` are refused, although ``str.isdigit()`` accepts them). The value must be between
    1 and 2^63-1.

    0 is refused everywhere: the vendor types ``confId`` as a long without stating a range,
    every ID in its samples is positive, and a 0 in a file is a placeholder, not a conference.
    The upper bound is the largest Java long; beyond it the gateway could not have issued it.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        digits = value.lstrip("0")
        if len(digits) > len(str(CONFERENCE_ID_MAX)):
            # int() of thousands of digits is refused by Python itself (and slow before that).
            raise ValueError(f"{show(value)} is too large for a conference ID")
        number = int(digits or "0")
    if number is None or number < CONFERENCE_ID_MIN:
        raise ValueError(f"{show(value)} is not a conference ID ({_CONFERENCE_ID_HINT})")
    if number > CONFERENCE_ID_MAX:
        raise ValueError(
            f"{show(number)} is too large for a conference ID (at most {CONFERENCE_ID_MAX})"
        )
    return number


# --------------------------------------------------------------------------------------------
# Durations

DURATION_HINT = "use e.g. 10s, 500ms, 1m30s"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_DURATION_RE = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?"
)
_BARE_NUMBER_RE = re.compile(_NUMBER)
_DURATION_SCALE = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds from a Prometheus-style duration.

    Grammar: ``NUMBER`` alone (seconds), or one or more of ``NUMBER h``, ``NUMBER m``,
    ``NUMBER s``, ``NUMBER ms`` in that order, each at most once, with no spaces; NUMBER is
    ``[0-9]+(.[0-9]+)?`` (ASCII digits). Examples: ``10s``, ``500ms``, ``1m30s``, ``1.5h``,
    ``10``. A leading ``-`` is refused as negative.

    Units rather than bare numbers everywhere, because ``timeout: 500`` is ambiguous to a
    reader (seconds? milliseconds?) and ``500ms`` is not.
    """
    shown = show(text)
    if text.startswith("-") and _is_duration_syntax(text[1:]):
        raise ValueError(f"{shown} is negative; a duration is 0 or more")
    if not _is_duration_syntax(text):
        raise ValueError(f"{shown} is not a duration ({DURATION_HINT})")
    if _BARE_NUMBER_RE.fullmatch(text):
        seconds = float(text)
    else:
        match = _DURATION_RE.fullmatch(text)
        assert match is not None  # _is_duration_syntax checked it
        seconds = sum(
            float(match[unit]) * factor for unit, factor in _DURATION_SCALE.items() if match[unit]
        )
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is too large for a duration")
    return seconds


def _is_duration_syntax(text: str) -> bool:
    if _BARE_NUMBER_RE.fullmatch(text):
        return True
    return text != "" and _DURATION_RE.fullmatch(text) is not None


# --------------------------------------------------------------------------------------------
# Sizes

SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
SIZE_HINT = "use e.g. 16MiB, 512KiB, 8MB or a number of bytes"
_SIZE_RE = re.compile(rf"(?P<number>{_NUMBER})(?P<unit>{'|'.join(SIZE_UNITS)})?")
_MAX_SIZE_DIGITS = 30  # far beyond any size a config means; int() of more is only slow


def parse_size(text: str) -> int:
    """Bytes from a size.

    Grammar: ``NUMBER [UNIT]`` with no space, NUMBER ``[0-9]+(.[0-9]+)?`` (ASCII digits),
    UNIT one of ``B``, ``KB``, ``MB``, ``GB`` (powers of 1000) or ``KiB``, ``MiB``, ``GiB``
    (powers of 1024), case as written. No unit means bytes, and then NUMBER must be an integer.
    The result must be a whole number of bytes (``1.5KiB`` is 1536, ``1.5B`` is refused).

    Both decimal and binary units, because people write both and mean different things;
    refusing ``kb`` or ``M`` rather than guessing which one was meant.
    """
    shown = show(text)
    if text.startswith("-") and _SIZE_RE.fullmatch(text[1:]):
        raise ValueError(f"{shown} is negative; a size is 0 or more")
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{shown} is not a size ({SIZE_HINT})")
    number, unit = match["number"], match["unit"]
    whole, _, fraction = number.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    if unit is None and fraction:
        raise ValueError(f"{shown} is not a whole number of bytes")
    if len(whole) > _MAX_SIZE_DIGITS:
        raise ValueError(f"{shown} is too large for a size")
    if len(fraction) > _MAX_SIZE_DIGITS:
        raise ValueError(f"{shown} has more decimal places than a size can use")
    value = Fraction(f"{whole}.{fraction}" if fraction else whole) * SIZE_UNITS[unit or "B"]
    if value.denominator != 1:
        raise ValueError(f"{shown} is not a whole number of bytes")
    return int(value)


def format_size(size: int) -> str:
    """A size as the largest binary unit that divides it (``64KiB``), for messages; parses back
    with :func:`parse_size` to the same number."""
    for unit in ("GiB", "MiB", "KiB"):
        factor = SIZE_UNITS[unit]
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


# --------------------------------------------------------------------------------------------
# Host names and listen addresses

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
LISTEN_ADDRESS_HINT = "e.g. 0.0.0.0:9865, [::]:9865 or :9865 for all interfaces"
_MAX_PORT = 65535


def is_host_name(text: str) -> bool:
    """RFC 1123 host name (ASCII letters, digits and ``-`` in dot-separated labels of at most 63
    characters, at most 253 in all, optional trailing dot); dotted IPv4 addresses match too."""
    return len(text) <= 254 and _HOSTNAME_RE.fullmatch(text) is not None


def parse_listen_address(text: str) -> tuple[str, int]:
    """``(host, port)`` for a server to bind.

    Grammar: ``HOST:PORT``, ``:PORT`` or ``[IPV6]:PORT``. HOST is a host name or IPv4 address
    (:func:`is_host_name`), IPV6 an IPv6 address (brackets required, as in a URL); PORT is
    ASCII decimal digits, 0 to 65535. Port 0 asks the system for a free port (tests, the demo).
    An empty HOST means every IPv4 interface and is returned as ``"0.0.0.0"``; an IPv6 host
    is returned without its brackets.
    """
    shown = show(text)
    wrong = f"{shown} is not HOST:PORT"
    host, sep, port = text.rpartition(":")
    if not sep or not _ASCII_DIGITS.fullmatch(port):
        raise ValueError(f"{wrong} ({LISTEN_ADDRESS_HINT})")
    digits = port.lstrip("0") or "0"
    if len(digits) > 5 or int(digits) > _MAX_PORT:
        raise ValueError(f"{wrong}: it has a port outside 0 to {_MAX_PORT}")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{wrong}: it has an invalid IPv6 address in brackets") from None
        return host[1:-1], int(digits)
    if ":" in host:
        raise ValueError(f"{wrong}: an IPv6 host needs brackets, e.g. [::]:9865")
    if host and not is_host_name(host):
        raise ValueError(f"{wrong} ({LISTEN_ADDRESS_HINT})")
    return host or "0.0.0.0", int(digits)


# --------------------------------------------------------------------------------------------
# File paths


def resolve_path(text: str, base_dir: str | Path) -> Path:
    """A path from a config file, made absolute.

    Grammar: any non-empty string without a NUL character. A relative path is relative to
    ``base_dir`` (the config file's directory, not the process's working directory, which
    differs between a shell, systemd and a container). The result is tidied with
    ``os.path.normpath`` (``a/../b`` becomes ``b``) but symlinks are not followed, so that a
    Kubernetes ConfigMap mount (files that are symlinks into a hidden ``..data`` directory)
    resolves relative to the mount point.
    """
    if text == "":
        raise ValueError("is empty; remove the key or give a path")
    if "\0" in text:
        raise ValueError(f"{show(text)} contains a NUL character")
    return Path(os.path.normpath(Path(os.path.abspath(base_dir)) / text))


def read_file_capped(path: Path, limit: int) -> bytes:
    """The contents of a small file (a password, a certificate), read once.

    The cap makes the wrong file (a log, ``/dev/zero``) an error instead of a hang or an
    out-of-memory. Raises :class:`ValueError` ``cannot read PATH: REASON`` or ``PATH is larger
    than LIMIT bytes``.
    """
    try:
        with path.open("rb") as handle:
            content = handle.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {os_reason(exc)}") from None
    if len(content) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return content


# --------------------------------------------------------------------------------------------
# TLS files

MAX_TLS_FILE_BYTES = 1 << 20


def read_tls_file(path: Path) -> bytes:
    """A PEM file's bytes, capped at :data:`MAX_TLS_FILE_BYTES` (a CA bundle of a few hundred
    certificates fits). The bytes are what a caller digests to notice a rotation."""
    return read_file_capped(path, MAX_TLS_FILE_BYTES)


def check_ca_bundle(path: Path) -> None:
    """Loading a CA bundle now turns "certificate verify failed" at the first connection into
    a config error at load time (and on reload keeps the old, working config). Works for a
    bundle used to verify servers (the gateway) and clients (the web config's client CA)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        raise ValueError(f"{path} holds no PEM certificate ({exc.reason or exc})") from None


class _EncryptedKey(Exception):
    pass


def refuse_passphrase() -> str:
    """Password callback for ``SSLContext.load_cert_chain``. OpenSSL calls it only for an
    encrypted key; without a callback it would prompt on the terminal, which hangs a daemon.
    Raises; :func:`check_cert_and_key` turns that into a message."""
    raise _EncryptedKey


class KeyPairError(ValueError):
    """A certificate and key that cannot be used together; ``part`` says which file the
    message is about (``"cert"`` or ``"key"``), so the caller can name the right key."""

    def __init__(self, part: Literal["cert", "key"], message: str) -> None:
        super().__init__(message)
        self.part: Literal["cert", "key"] = part


def check_cert_and_key(cert: Path, key: Path) -> None:
    """The certificate and private key load together: both PEM, matching, key unencrypted.

    Raises :class:`KeyPairError`. An encrypted key is refused (a daemon has no one to type a
    passphrase; keep the key unencrypted and readable only by the exporter).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(str(cert), str(key), password=refuse_passphrase)
    except _EncryptedKey:
        raise KeyPairError(
            "key", f"{key} is encrypted; use an unencrypted key readable only by the exporter"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise KeyPairError("key", f"{key} does not match the certificate in {cert}") from None
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(cert))
        except ssl.SSLError:
            raise KeyPairError("cert", f"{cert} holds no PEM certificate") from None
        raise KeyPairError("key", f"{key} holds no PEM private key") from None
    except OSError as exc:
        # Read a moment ago by the caller, gone now: a rotation in progress.
        raise KeyPairError("key", f"cannot read {cert} or {key}: {os_reason(exc)}") from None


# --------------------------------------------------------------------------------------------
# Collecting problems: typed getters that report and carry on


class Problems:
    """Errors and warnings of one file, so that one pass reports everything, each as
    ``key.path: message``. ``base_dir`` is what relative paths resolve against; ``env`` is
    where ``*_env`` keys are looked up (tests pass their own)."""

    def __init__(self, base_dir: str | Path, env: Mapping[str, str] | None = None) -> None:
        self.base_dir = Path(os.path.abspath(base_dir))
        self.env: Mapping[str, str] = {} if env is None else env
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def resolve(self, text: str) -> Path:
        """``text`` against :attr:`base_dir` (see :func:`resolve_path`)."""
        return resolve_path(text, self.base_dir)


_T = TypeVar("_T", bound=str)


class Section:
    """One mapping of a config file with its key path.

    Unknown keys are recorded as errors at construction (with a "did you mean" hint). The
    typed getters record a problem and return the default on a bad value, so checking goes on
    and every problem is found in one pass. Types are not coerced: ``"yes"`` is not a boolean,
    ``"8"`` is not an integer. A key set to null counts as absent (uses the default), which is
    what an empty ``tls:`` or a templated ``ids_file: null`` mean.
    """

    def __init__(
        self, problems: Problems, path: str, data: Mapping[object, object], known: Sequence[str]
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

    def section(self, key: str, known: Sequence[str]) -> Section:
        value = self.get(key)
        if value is None:
            value = {}
        elif not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {describe(value)}")
            value = {}
        return Section(self.problems, self.child(key), value, known)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(key, f"expected true or false, got {describe(value)}")
        return default

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"expected an integer, got {describe(value)}")
            return default
        if value < minimum:
            self.error(key, f"must be at least {minimum}, got {show(value)}")
            return default
        if maximum is not None and value > maximum:
            self.error(key, f"must be at most {maximum}, got {show(value)}")
            return default
        return value

    def string(self, key: str, default: str) -> str:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        self.error(key, f"expected a string, got {describe(value)}")
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
            self.error(key, f"{show(value)} is not one of {listed}")
        else:
            self.error(key, f"expected one of {listed}, got {describe(value)}")
        return default

    def duration(
        self, key: str, default: float, *, allow_zero: bool = False, maximum: float | None = None
    ) -> float:
        """A :func:`parse_duration` string or a number of seconds; > 0 (a zero timeout would
        fail every request), or >= 0 with ``allow_zero`` where zero means "off"."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.error(key, f"expected a duration ({DURATION_HINT}), got {describe(value)}")
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
                self.error(key, f"{show(value)} is not a duration ({DURATION_HINT})")
                return default
        if seconds < 0 or (seconds == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "greater than 0"
            self.error(key, f"must be {least}, got {show(value)}")
            return default
        if maximum is not None and seconds > maximum:
            self.error(key, f"must be at most {maximum:g}s, got {show(value)}")
            return default
        return seconds

    def size(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        """A :func:`parse_size` string or an integer number of bytes, within the bounds."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.error(key, f"expected a size ({SIZE_HINT}), got {describe(value)}")
            return default
        if isinstance(value, str):
            try:
                size = parse_size(value)
            except ValueError as exc:
                self.error(key, str(exc))
                return default
        else:
            size = value
        if not minimum <= size <= maximum:
            self.error(
                key,
                f"must be {format_size(minimum)} to {format_size(maximum)}, got {show(value)}",
            )
            return default
        return size

    def file_path(self, key: str) -> Path | None:
        """A path key: a non-empty string, resolved against the config file's directory."""
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(key, f"expected a file path, got {describe(value)}")
            return None
        try:
            return self.problems.resolve(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def tls_file(self, key: str) -> tuple[Path, bytes] | None:
        """Path and contents of a TLS file (:func:`read_tls_file`); ``""`` means unset, as
        does absence."""
        if self.get(key) == "":
            return None
        path = self.file_path(key)
        if path is None:
            return None
        try:
            return path, read_tls_file(path)
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def ca_bundle(self, key: str) -> tuple[Path, bytes] | None:
        """A TLS file that must hold at least one CA certificate (:func:`check_ca_bundle`)."""
        entry = self.tls_file(key)
        if entry is not None:
            try:
                check_ca_bundle(entry[0])
            except ValueError as exc:
                self.error(key, str(exc))
        return entry

    def key_pair(self, cert_key: str, key_key: str, cert: Path, key: Path) -> None:
        """Record a :func:`check_cert_and_key` problem under the key it is about."""
        try:
            check_cert_and_key(cert, key)
        except KeyPairError as exc:
            self.error(cert_key if exc.part == "cert" else key_key, str(exc))


# --------------------------------------------------------------------------------------------
# YAML


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses two YAML 1.1 traps instead of silently mis-reading a value.

    - A key given twice in one mapping: PyYAML keeps the last one without a word, so an
      operator editing the first ``timeout:`` sees no effect. Recorded in
      :attr:`duplicate_keys`.
    - Integers in the YAML 1.1-only forms: ``0153`` is octal (107) and ``1:30`` is
      sexagesimal (90). An agent ID or a timeout written that way would be a different
      number. These stay strings, so the key's own check reports them (``"0153"`` has a
      leading zero, ``"1:30"`` is not a duration) or, for conference IDs, reads them as the
      decimal a reader sees (YAML 1.2 does the same). So does an integer too long for Python
      to convert, which the key's own range check then refuses.
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
                    f"line {line}: duplicate key {show(key_node.value)} (first at line "
                    f"{first}); YAML would silently keep only the last one"
                )
        return dict(super().construct_mapping(node, deep=deep))


_YAML11_ONLY_INT = re.compile(r"[-+]?(?:0[0-7_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)")


def _construct_int(loader: StrictLoader, node: yaml.ScalarNode) -> int | str:
    text = loader.construct_scalar(node)
    if _YAML11_ONLY_INT.fullmatch(text):
        return text
    try:
        return loader.construct_yaml_int(node)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return text


StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


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


class _HasWarnings(Protocol):
    @property
    def warnings(self) -> tuple[str, ...]: ...


_Loaded = TypeVar("_Loaded", bound=_HasWarnings)


def load_yaml_file(
    path: str | Path, parse: Callable[[object, Path], _Loaded], *, empty: str
) -> _Loaded:
    """Read one YAML file and hand its data to ``parse`` with the file's directory, turning
    every way of failing into a :class:`ConfigError` (the gateway config and the web config
    fail alike). Duplicate keys are reported with the other problems. An empty file is
    refused: it is more often a truncated deploy than an intent; ``empty`` says what to write
    instead. The directory is taken as given, symlinks not resolved (see
    :func:`resolve_path`).
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read {file}: {os_reason(exc)}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{file}: not UTF-8 text (byte {exc.start})"]) from None

    loader: StrictLoader | None = None
    try:
        loader = StrictLoader(text)
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
