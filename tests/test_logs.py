"""Log lines: logfmt or JSON, structured fields, Guids shortened."""

from __future__ import annotations

import json
import logging

import pytest

from exporter.logs import _Formatter, kv, short_guid


def record(msg: str, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("ccgw.test", logging.INFO, __file__, 1, msg, None, None)
    rec.kv = fields  # type: ignore[attr-defined]
    return rec


def test_short_guid_keeps_eight_characters() -> None:
    assert short_guid("279fe21d-2caa-4437-84c3-ab9e9dae20f5.AgentGateway0") == "279fe21d…"
    assert short_guid(None) == "-"


def test_logfmt_quotes_values_that_need_it() -> None:
    line = _Formatter("logfmt").format(record("signed in", gateway="cc-east", error='a "b" c'))
    assert 'level=info logger=ccgw.test msg="signed in" gateway=cc-east error="a \\"b\\" c"' in line
    assert line.startswith("ts=")


def test_json_lines_parse() -> None:
    line = _Formatter("json").format(record("signed in", gateway="cc-east", retry_in=None))
    data = json.loads(line)
    assert data["msg"] == "signed in"
    assert data["gateway"] == "cc-east"
    assert "retry_in" not in data


def test_kv_is_an_extra_mapping() -> None:
    assert kv(a=1) == {"kv": {"a": 1}}


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_exceptions_are_one_field(fmt: str) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record("failed")
        import sys

        rec.exc_info = sys.exc_info()
    line = _Formatter(fmt).format(rec)  # type: ignore[arg-type]
    assert "boom" in line
