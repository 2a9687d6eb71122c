"""Structured logging: logfmt or JSON lines, with secrets kept out by construction.

Call sites pass their fields through `kv(...)` so that the formatter, not each call site, decides
how a line looks. Guids are session credentials: they are only ever logged through `short_guid`.
"""

from __future__ import annotations

import json
import logging
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


def kv(**fields: Any) -> dict[str, Any]:
    """`extra=` argument carrying structured fields to the formatter."""
    return {"kv": fields}


def _logfmt_value(value: Any) -> str:
    text = str(value)
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
        if self._fmt_kind == "json":
            return json.dumps(fields, default=str, ensure_ascii=False)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


def setup_logging(level: str = "info", fmt: LogFormat = "logfmt") -> None:
    """Configure the root logger once, for the exporter's process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would log every scrape; our own lines are the useful ones.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
