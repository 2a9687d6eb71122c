"""Structured logging: logfmt or JSON lines, with secrets kept out by construction.

Call sites pass their fields through `kv(...)` so that the formatter, not each call site, decides
how a line looks. Guids are session credentials: they are only ever logged through `short_guid`.

Belt and braces: text that came from a gateway (an error page, a parser error quoting a
header) can echo what we sent, the password or the Guid. Every password the exporter holds and
the Guids it has seen recently are registered here, and the formatter removes them from every
line, whatever the call site passed (issue 12, item 9). A process-wide registry is the one
place that sees every log line; it holds nothing but what it must hide.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, Literal

LogFormat = Literal["logfmt", "json"]
GUID_VISIBLE = 8


def short_guid(guid: str | None) -> str:
    """The first 8 characters and an ellipsis: enough to correlate, useless to an attacker."""
    if not guid:
        return "-"
    return guid[:GUID_VISIBLE] + "…"


_UUID = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?:\.AgentGateway[0-9]+)?"
)


class _Secrets:
    """Passwords (for the process's life) and the most recent Guids (a bounded number)."""

    GUIDS_KEPT = 64

    def __init__(self) -> None:
        self._passwords: set[str] = set()
        self._guids: dict[str, None] = {}  # insertion-ordered set

    def password(self, value: str) -> None:
        if value:
            self._passwords.add(value)

    def guid(self, value: str) -> None:
        if value and value not in self._guids:
            self._guids[value] = None
            while len(self._guids) > self.GUIDS_KEPT:
                del self._guids[next(iter(self._guids))]

    def redact(self, text: str) -> str:
        for password in self._passwords:
            if password in text:
                text = text.replace(password, "<secret>")
        for guid in self._guids:
            if guid in text:
                text = text.replace(guid, short_guid(guid))
        # A Guid of the vendor's form never seen as one (quoted by a parser error before it
        # was taken) is shortened too.
        if "-" in text:
            text = _UUID.sub(lambda m: short_guid(m.group(0)), text)
        return text


SECRETS = _Secrets()


def redact(text: str) -> str:
    """`text` without any registered password or full Guid."""
    return SECRETS.redact(text)


def kv(**fields: Any) -> dict[str, Any]:
    """`extra=` argument carrying structured fields to the formatter."""
    return {"kv": fields}


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if not text.isprintable():
        # A control character (CR, ESC...) must not reach a terminal and a lone surrogate
        # cannot be written as UTF-8: escape them as Python would (\r, \x1b, \ud800).
        text = "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)
    if text == "" or any(c in text for c in ' ="\\\n\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text


class _Formatter(logging.Formatter):
    def __init__(self, fmt: LogFormat) -> None:
        super().__init__()
        self._fmt_kind = fmt

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        fields: dict[str, Any] = {
            "ts": ts,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "kv", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                if value is not None:
                    fields[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc"] = self.formatException(record.exc_info)
        # Redacted value by value, before escaping changes how a secret is spelled.
        redact = SECRETS.redact
        fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        if self._fmt_kind == "json":
            line = json.dumps(fields, default=str, ensure_ascii=False)
            if not line.isascii():
                # A lone surrogate cannot be written as UTF-8; as a JSON escape it can.
                line = line.encode("utf-8", "backslashreplace").decode("utf-8")
            return redact(line)
        return redact(" ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items()))


def setup_logging(level: str = "info", fmt: LogFormat = "logfmt") -> None:
    """Configure the root logger once, for the exporter's process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would log every scrape; our own lines are the useful ones.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
