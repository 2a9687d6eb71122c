"""Tests for exporter.config: every invalid config names the key and the problem; valid ones
come out with their defaults, resolved paths and secrets that never print."""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from hypothesis import given
from hypothesis import strategies as st

from exporter.config import (
    SIGN_IN_STATUS_CODES,
    ConferencesConfig,
    Config,
    ConfigError,
    GatewayConfig,
    LoadedConfig,
    ParticipantsConfig,
    TLSConfig,
    WebConfig,
    default_force_sign_in,
    load_config,
    parse_config,
    parse_duration,
)
from exporter.secret import Secret

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "s3cr3t-Pa55word"
ENV = {"CC_EAST_PASSWORD": PASSWORD, "EMPTY": ""}
_DROP = object()


def gateway(**overrides: Any) -> dict[str, Any]:
    """A valid gateway mapping; ``key=_DROP`` removes a key."""
    base: dict[str, Any] = {
        "name": "cc-east",
        "url": "https://10.0.0.5:8043",
        "agent_id": "153",
        "password_env": "CC_EAST_PASSWORD",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not _DROP}


def write(tmp_path: Path, content: str | dict[str, Any], name: str = "config.yaml") -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    path.write_text(text)
    return path


def load(tmp_path: Path, content: str | dict[str, Any], env: dict[str, str] = ENV) -> LoadedConfig:
    return load_config(write(tmp_path, content), env=env)


def errors_of(tmp_path: Path, content: str | dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, content)
    return info.value.messages


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Files the table cases refer to by relative path."""
    (tmp_path / "empty.password").write_text("")
    (tmp_path / "newline.password").write_text("\n")
    (tmp_path / "two-lines.password").write_text("one\ntwo\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    return tmp_path


# Each case: the config (a dict, or YAML text when YAML itself is under test), then the key
# path the message must start with and a phrase it must contain.
INVALID: list[tuple[str, str | dict[str, Any], str, str]] = [
    # unknown keys, at every level
    ("unknown top key", {"gateways": [], "colour": "red"}, "colour", "unknown key"),
    ("unknown web key", {"web": {"listen": ":1"}}, "web.listen", "unknown key"),
    (
        "unknown gateway key",
        {"gateways": [gateway(colour="red")]},
        "gateways[0].colour",
        "unknown key",
    ),
    (
        "misspelt gateway key",
        {"gateways": [gateway(timout="5s")]},
        "gateways[0].timout",
        "unknown key (did you mean timeout?)",
    ),
    (
        "unknown tls key",
        {"gateways": [gateway(tls={"ca": "ca.pem"})]},
        "gateways[0].tls.ca",
        "unknown key",
    ),
    (
        "unknown conferences key",
        {"gateways": [gateway(conferences={"idz": [1]})]},
        "gateways[0].conferences.idz",
        "unknown key (did you mean ids?)",
    ),
    (
        "unknown participants key",
        {"gateways": [gateway(participants={"labels": True})]},
        "gateways[0].participants.labels",
        "unknown key",
    ),
    ("non-string key", "gateways: []\n1: x\n", "1", "unknown key"),
    # shape of the file
    ("top level a list", "- name: cc-east\n", "top level", "expected a mapping"),
    ("top level a string", "gateways\n", "top level", 'got a string "gateways"'),
    ("empty file", "", "top level", "the file is empty"),
    (
        "gateways a mapping",
        {"gateways": {"cc-east": gateway()}},
        "gateways",
        "expected a list of gateways, got a mapping",
    ),
    ("gateway a string", {"gateways": ["cc-east"]}, "gateways[0]", 'got a string "cc-east"'),
    ("web a list", {"web": [":9865"]}, "web", "expected a mapping, got a list"),
    ("tls a list", {"gateways": [gateway(tls=["ca.pem"])]}, "gateways[0].tls", "got a list"),
    (
        "conferences a string",
        {"gateways": [gateway(conferences="all")]},
        "gateways[0].conferences",
        'expected a mapping, got a string "all"',
    ),
    ("yaml syntax error", "gateways:\n  - name: a\n   url: b\n", "line 3, column 4", "YAML"),
    ("yaml unclosed quote", 'web:\n  listen_address: "0.0.0.0:1\n', "line 3", "YAML syntax"),
    ("yaml tab", "web:\n\tlisten_address: x\n", "line 2, column 1", "YAML syntax error"),
    (
        "yaml duplicate key",
        "gateways:\n- name: a\n  timeout: 1s\n  timeout: 2s\n",
        "line 4",
        'duplicate key "timeout" (first at line 3)',
    ),
    ("yaml control character", "gateways: []\n# \x07\n", "line 2", "special characters"),
    ("two documents", "gateways: []\n---\ngateways: []\n", "line 2, column 1", "single document"),
    # name
    ("missing name", {"gateways": [gateway(name=_DROP)]}, "gateways[0].name", "is required"),
    (
        "name with space",
        {"gateways": [gateway(name="cc east")]},
        "gateways[0].name",
        '"cc east" may contain only letters, digits, _ and -',
    ),
    (
        "name with dot",
        {"gateways": [gateway(name="cc.east")]},
        "gateways[0].name",
        "may contain only",
    ),
    ("name too long", {"gateways": [gateway(name="x" * 65)]}, "gateways[0].name", "longer than 64"),
    ("name a number", {"gateways": [gateway(name=7)]}, "gateways[0].name", "got an integer 7"),
    (
        "duplicate name",
        {"gateways": [gateway(), gateway(agent_id="154")]},
        "gateways[1].name",
        'duplicate gateway name "cc-east" (also gateways[0])',
    ),
    # url
    ("missing url", {"gateways": [gateway(url=_DROP)]}, "gateways[0].url", "is required"),
    (
        "url without scheme",
        {"gateways": [gateway(url="10.0.0.5:8043")]},
        "gateways[0].url",
        '"10.0.0.5:8043" has no scheme',
    ),
    (
        "url with ftp scheme",
        {"gateways": [gateway(url="ftp://10.0.0.5")]},
        "gateways[0].url",
        "has scheme ftp; use http or https",
    ),
    (
        "url without host",
        {"gateways": [gateway(url="https://:8043")]},
        "gateways[0].url",
        "no host",
    ),
    ("url only scheme", {"gateways": [gateway(url="https://")]}, "gateways[0].url", "no host"),
    (
        "url with query",
        {"gateways": [gateway(url="https://gw:8043/?x=1")]},
        "gateways[0].url",
        "has a query or fragment",
    ),
    (
        "url with fragment",
        {"gateways": [gateway(url="https://gw:8043#top")]},
        "gateways[0].url",
        "has a query or fragment",
    ),
    (
        "url with bad port",
        {"gateways": [gateway(url="https://gw:99999")]},
        "gateways[0].url",
        "is not a valid URL",
    ),
    ("url with port 0", {"gateways": [gateway(url="https://gw:0")]}, "gateways[0].url", "port 0"),
    (
        "url with api path",
        {"gateways": [gateway(url="https://gw:8043/agentgateway/resource/")]},
        "gateways[0].url",
        "which the exporter appends",
    ),
    (
        "url with space",
        {"gateways": [gateway(url="https://gw :8043")]},
        "gateways[0].url",
        "contains spaces",
    ),
    (
        "url with credentials",
        {"gateways": [gateway(url="https://agent:pw@gw:8043")]},
        "gateways[0].url",
        "must not contain a user name or password",
    ),
    ("url not a string", {"gateways": [gateway(url=["x"])]}, "gateways[0].url", "got a list"),
    # agent_id
    (
        "missing agent_id",
        {"gateways": [gateway(agent_id=_DROP)]},
        "gateways[0].agent_id",
        "required",
    ),
    (
        "agent_id not digits",
        {"gateways": [gateway(agent_id="15a")]},
        "gateways[0].agent_id",
        '"15a" is not an agent ID (digits, 101 to 999999)',
    ),
    (
        "agent_id too small",
        {"gateways": [gateway(agent_id=100)]},
        "gateways[0].agent_id",
        "100 is out of range (101 to 999999)",
    ),
    (
        "agent_id too large",
        {"gateways": [gateway(agent_id="1000000")]},
        "gateways[0].agent_id",
        "1000000 is out of range",
    ),
    ("agent_id negative", {"gateways": [gateway(agent_id=-153)]}, "gateways[0].agent_id", "-153"),
    (
        "agent_id a bool",
        {"gateways": [gateway(agent_id=True)]},
        "gateways[0].agent_id",
        "got a boolean true",
    ),
    (
        "agent_id unquoted octal",
        "gateways:\n- name: a\n  url: https://gw\n  agent_id: 0153\n"
        "  password_env: CC_EAST_PASSWORD\n",
        "gateways[0].agent_id",
        '"0153" has a leading zero',
    ),
    (
        "same agent on same url",
        {"gateways": [gateway(), gateway(name="cc-east-2", url="https://10.0.0.5:8043/")]},
        "gateways[1].agent_id",
        "agent 153 on https://10.0.0.5:8043 is already used by gateways[0]",
    ),
    # password sources
    (
        "no password source",
        {"gateways": [gateway(password_env=_DROP)]},
        "gateways[0]",
        "no password source (set password_file, password_env or password)",
    ),
    (
        "null password source",
        {"gateways": [gateway(password_env=None)]},
        "gateways[0]",
        "no password source",
    ),
    (
        "two password sources",
        {"gateways": [gateway(password_file="pw")]},
        "gateways[0]",
        "more than one password source (password_file, password_env); set only one",
    ),
    (
        "missing password file",
        {"gateways": [gateway(password_env=_DROP, password_file="missing.password")]},
        "gateways[0].password_file",
        "missing.password: No such file or directory",
    ),
    (
        "password file is a directory",
        {"gateways": [gateway(password_env=_DROP, password_file="adir")]},
        "gateways[0].password_file",
        "cannot read",
    ),
    (
        "empty password file",
        {"gateways": [gateway(password_env=_DROP, password_file="empty.password")]},
        "gateways[0].password_file",
        "empty.password is empty",
    ),
    (
        "password file only a newline",
        {"gateways": [gateway(password_env=_DROP, password_file="newline.password")]},
        "gateways[0].password_file",
        "is empty",
    ),
    (
        "password file with two lines",
        {"gateways": [gateway(password_env=_DROP, password_file="two-lines.password")]},
        "gateways[0].password_file",
        "more than one line",
    ),
    (
        "password_file with a NUL",
        {"gateways": [gateway(password_env=_DROP, password_file="pw\0")]},
        "gateways[0].password_file",
        "contains a NUL character",
    ),
    (
        "password_file empty string",
        {"gateways": [gateway(password_env=_DROP, password_file="")]},
        "gateways[0].password_file",
        "is empty; remove the key or give a path",
    ),
    (
        "unset env var",
        {"gateways": [gateway(password_env="CC_WEST_PASSWORD")]},
        "gateways[0].password_env",
        "environment variable CC_WEST_PASSWORD is not set",
    ),
    (
        "empty env var",
        {"gateways": [gateway(password_env="EMPTY")]},
        "gateways[0].password_env",
        "environment variable EMPTY is empty",
    ),
    (
        "bad env var name",
        {"gateways": [gateway(password_env="CC-EAST")]},
        "gateways[0].password_env",
        '"CC-EAST" is not an environment variable name',
    ),
    (
        "inline password a number",
        {"gateways": [gateway(password_env=_DROP, password=1234)]},
        "gateways[0].password",
        "expected a string, got an integer (quote the password)",
    ),
    (
        "inline password empty",
        {"gateways": [gateway(password_env=_DROP, password="")]},
        "gateways[0].password",
        "is empty",
    ),
    # phone_number, sign_in, force_on_conflict
    (
        "phone number too long",
        {"gateways": [gateway(phone_number="1" * 25)]},
        "gateways[0].phone_number",
        "longer than 24",
    ),
    (
        "phone number a list",
        {"gateways": [gateway(phone_number=[1])]},
        "gateways[0].phone_number",
        "got a list",
    ),
    (
        "unknown sign-in",
        {"gateways": [gateway(sign_in="signin")]},
        "gateways[0].sign_in",
        '"signin" is not one of loginex, login, forcelogin',
    ),
    (
        "sign-in a bool",
        {"gateways": [gateway(sign_in=True)]},
        "gateways[0].sign_in",
        "expected one of loginex, login, forcelogin, got a boolean true",
    ),
    (
        "string where bool",
        {"gateways": [gateway(force_on_conflict="yes")]},
        "gateways[0].force_on_conflict",
        'expected true or false, got a string "yes"',
    ),
    (
        "int where bool",
        {"gateways": [gateway(conferences={"discover": 1})]},
        "gateways[0].conferences.discover",
        "expected true or false, got an integer 1",
    ),
    # phone_number is mandatory for login and forcelogin (cec_07_1202, cec_07_1203)
    (
        "login without phone number",
        {"gateways": [gateway(sign_in="login")]},
        "gateways[0].phone_number",
        "is required when sign_in is login: the vendor marks phonenum mandatory",
    ),
    (
        "forcelogin without phone number",
        {"gateways": [gateway(sign_in="forcelogin", phone_number="")]},
        "gateways[0].phone_number",
        "is required when sign_in is forcelogin",
    ),
    (
        "forced forcelogin without phone number",
        {"gateways": [gateway(force_sign_in="forcelogin")]},
        "gateways[0].phone_number",
        "is required when force_sign_in is forcelogin: the vendor marks phonenum mandatory for "
        "login and forcelogin (cec_07_1202, cec_07_1203)",
    ),
    (
        "unknown force_sign_in",
        {"gateways": [gateway(force_sign_in="loginex")]},
        "gateways[0].force_sign_in",
        '"loginex" is not one of forceloginex, forcelogin',
    ),
    (
        "unknown sign_in_status",
        {"gateways": [gateway(sign_in_status="ready")]},
        "gateways[0].sign_in_status",
        '"ready" is not one of busy, idle, wrap_up',
    ),
    (
        "sign_in_status a number",
        {"gateways": [gateway(sign_in_status=4)]},
        "gateways[0].sign_in_status",
        "expected one of busy, idle, wrap_up, got an integer 4",
    ),
    # timeout
    (
        "bad duration",
        {"gateways": [gateway(timeout="10x")]},
        "gateways[0].timeout",
        '"10x" is not a duration (use e.g. 10s, 500ms, 1m30s)',
    ),
    (
        "zero timeout",
        {"gateways": [gateway(timeout=0)]},
        "gateways[0].timeout",
        "must be greater than 0, got 0",
    ),
    (
        "zero timeout with unit",
        {"gateways": [gateway(timeout="0s")]},
        "gateways[0].timeout",
        'must be greater than 0, got "0s"',
    ),
    (
        "negative timeout",
        {"gateways": [gateway(timeout=-1)]},
        "gateways[0].timeout",
        "must be greater than 0, got -1",
    ),
    (
        "negative timeout with unit",
        {"gateways": [gateway(timeout="-5s")]},
        "gateways[0].timeout",
        '"-5s" is negative',
    ),
    (
        "timeout a bool",
        {"gateways": [gateway(timeout=True)]},
        "gateways[0].timeout",
        "expected a duration (use e.g. 10s, 500ms, 1m30s), got a boolean true",
    ),
    (
        "timeout infinite",
        {"gateways": [gateway(timeout=float("inf"))]},
        "gateways[0].timeout",
        "is not a duration",
    ),
    (
        "timeout sexagesimal",
        "gateways:\n- name: a\n  url: https://gw\n  agent_id: 153\n"
        "  password_env: CC_EAST_PASSWORD\n  timeout: 1:30\n",
        "gateways[0].timeout",
        '"1:30" is not a duration',
    ),
    # share_window
    (
        "negative share_window",
        {"gateways": [gateway(share_window=-1)]},
        "gateways[0].share_window",
        "must be 0 or more, got -1",
    ),
    (
        "share_window too long",
        {"gateways": [gateway(share_window="10m")]},
        "gateways[0].share_window",
        'must be at most 300s, got "10m"',
    ),
    # max_concurrency
    (
        "zero concurrency",
        {"gateways": [gateway(max_concurrency=0)]},
        "gateways[0].max_concurrency",
        "must be at least 1, got 0",
    ),
    (
        "negative concurrency",
        {"gateways": [gateway(max_concurrency=-4)]},
        "gateways[0].max_concurrency",
        "must be at least 1, got -4",
    ),
    (
        "huge concurrency",
        {"gateways": [gateway(max_concurrency=1000)]},
        "gateways[0].max_concurrency",
        "must be at most 256, got 1000",
    ),
    (
        "bool where int",
        {"gateways": [gateway(max_concurrency=True)]},
        "gateways[0].max_concurrency",
        "expected an integer, got a boolean true",
    ),
    (
        "string where int",
        {"gateways": [gateway(max_concurrency="8")]},
        "gateways[0].max_concurrency",
        'expected an integer, got a string "8"',
    ),
    # max_response_size, max_ids
    (
        "response size too small",
        {"gateways": [gateway(max_response_size="1KiB")]},
        "gateways[0].max_response_size",
        'must be 64KiB to 1GiB, got "1KiB"',
    ),
    (
        "response size too large",
        {"gateways": [gateway(max_response_size="2GiB")]},
        "gateways[0].max_response_size",
        'must be 64KiB to 1GiB, got "2GiB"',
    ),
    (
        "response size bytes too small",
        {"gateways": [gateway(max_response_size=1000)]},
        "gateways[0].max_response_size",
        "must be 64KiB to 1GiB, got 1000",
    ),
    (
        "response size lower-case unit",
        {"gateways": [gateway(max_response_size="16mb")]},
        "gateways[0].max_response_size",
        '"16mb" is not a size (use e.g. 16MiB, 512KiB, 8MB or a number of bytes)',
    ),
    (
        "response size with a space",
        {"gateways": [gateway(max_response_size="16 MiB")]},
        "gateways[0].max_response_size",
        "is not a size",
    ),
    (
        "response size negative",
        {"gateways": [gateway(max_response_size="-16MiB")]},
        "gateways[0].max_response_size",
        '"-16MiB" is negative',
    ),
    (
        "response size a fraction of a byte",
        {"gateways": [gateway(max_response_size="100000.5")]},
        "gateways[0].max_response_size",
        "not a whole number of bytes",
    ),
    (
        "response size a float",
        {"gateways": [gateway(max_response_size=1.5e6)]},
        "gateways[0].max_response_size",
        "expected a size (use e.g. 16MiB",
    ),
    (
        "response size a bool",
        {"gateways": [gateway(max_response_size=True)]},
        "gateways[0].max_response_size",
        "got a boolean true",
    ),
    (
        "zero max_ids",
        {"gateways": [gateway(max_ids=0)]},
        "gateways[0].max_ids",
        "must be at least 1, got 0",
    ),
    (
        "max_ids a string",
        {"gateways": [gateway(max_ids="100000")]},
        "gateways[0].max_ids",
        'expected an integer, got a string "100000"',
    ),
    # conferences
    (
        "non-integer id",
        {"gateways": [gateway(conferences={"ids": [1029888, 1029889, "abc"]})]},
        "gateways[0].conferences.ids[2]",
        '"abc" is not a conference ID (a positive integer)',
    ),
    (
        "fractional id",
        {"gateways": [gateway(conferences={"ids": [1.5]})]},
        "gateways[0].conferences.ids[0]",
        "1.5 is not a conference ID",
    ),
    (
        "negative id",
        {"gateways": [gateway(conferences={"ids": [1, -5]})]},
        "gateways[0].conferences.ids[1]",
        "-5 is not a conference ID (a positive integer)",
    ),
    (
        "zero id",
        {"gateways": [gateway(conferences={"ids": [0]})]},
        "gateways[0].conferences.ids[0]",
        "0 is not a conference ID",
    ),
    (
        "bool id",
        {"gateways": [gateway(conferences={"ids": [True]})]},
        "gateways[0].conferences.ids[0]",
        "true is not a conference ID",
    ),
    (
        "id too large",
        {"gateways": [gateway(conferences={"ids": [2**63]})]},
        "gateways[0].conferences.ids[0]",
        "too large",
    ),
    (
        "superscript digit id",
        {"gateways": [gateway(conferences={"ids": ["²"]})]},
        "gateways[0].conferences.ids[0]",
        '"²" is not a conference ID (a positive integer)',
    ),
    (
        "arabic-indic digit id",
        {"gateways": [gateway(conferences={"ids": ["٣"]})]},
        "gateways[0].conferences.ids[0]",
        '"٣" is not a conference ID',
    ),
    (
        "id with spaces",
        {"gateways": [gateway(conferences={"ids": [" 7"]})]},
        "gateways[0].conferences.ids[0]",
        "is not a conference ID",
    ),
    (
        "id string too large",
        {"gateways": [gateway(conferences={"ids": ["9" * 5000]})]},
        "gateways[0].conferences.ids[0]",
        "too large for a conference ID",
    ),
    (
        "id too long for python's int",
        "gateways:\n- name: a\n  url: https://gw\n  agent_id: 153\n"
        f"  password_env: CC_EAST_PASSWORD\n  conferences: {{ids: [{'9' * 5000}]}}\n",
        "gateways[0].conferences.ids[0]",
        "too large for a conference ID",
    ),
    (
        "duplicate id",
        {"gateways": [gateway(conferences={"ids": [7, 8, 7]})]},
        "gateways[0].conferences.ids[2]",
        "duplicate conference ID 7 (also ids[0])",
    ),
    (
        "ids not a list",
        {"gateways": [gateway(conferences={"ids": 1029888})]},
        "gateways[0].conferences.ids",
        "expected a list of conference IDs, got an integer 1029888",
    ),
    (
        "negative max_conferences",
        {"gateways": [gateway(conferences={"max_conferences": -1})]},
        "gateways[0].conferences.max_conferences",
        "must be at least 0, got -1",
    ),
    (
        "keep_stale_for too long",
        {"gateways": [gateway(conferences={"keep_stale_for": "2h"})]},
        "gateways[0].conferences.keep_stale_for",
        'must be at most 3600s, got "2h"',
    ),
    (
        "keep_stale_for negative",
        {"gateways": [gateway(conferences={"keep_stale_for": "-1s"})]},
        "gateways[0].conferences.keep_stale_for",
        '"-1s" is negative',
    ),
    (
        "keep_stale_for not a duration",
        {"gateways": [gateway(conferences={"keep_stale_for": "five minutes"})]},
        "gateways[0].conferences.keep_stale_for",
        "is not a duration",
    ),
    (
        "ids_file with a NUL",
        {"gateways": [gateway(conferences={"ids_file": "ids\0"})]},
        "gateways[0].conferences.ids_file",
        "contains a NUL character",
    ),
    (
        "ids_file a directory",
        {"gateways": [gateway(conferences={"ids_file": "adir"})]},
        "gateways[0].conferences.ids_file",
        "adir is a directory",
    ),
    (
        "ids_file a number",
        {"gateways": [gateway(conferences={"ids_file": 5})]},
        "gateways[0].conferences.ids_file",
        "expected a file path, got an integer 5",
    ),
    # participants
    (
        "bad address mode",
        {"gateways": [gateway(participants={"address": "full"})]},
        "gateways[0].participants.address",
        '"full" is not one of masked, hashed, plain, omit',
    ),
    (
        "zero participants per conference",
        {"gateways": [gateway(participants={"max_per_conference": 0})]},
        "gateways[0].participants.max_per_conference",
        "must be at least 1, got 0",
    ),
    (
        "participants per conference a string",
        {"gateways": [gateway(participants={"max_per_conference": "500"})]},
        "gateways[0].participants.max_per_conference",
        "expected an integer",
    ),
    (
        "participants metrics a string",
        {"gateways": [gateway(participants={"metrics": "false"})]},
        "gateways[0].participants.metrics",
        'got a string "false"',
    ),
    # tls
    (
        "cert without key",
        {"gateways": [gateway(tls={"cert_file": "junk.pem"})]},
        "gateways[0].tls.key_file",
        "is required when cert_file is set",
    ),
    (
        "key without cert",
        {"gateways": [gateway(tls={"key_file": "junk.pem", "cert_file": ""})]},
        "gateways[0].tls.cert_file",
        "is required when key_file is set",
    ),
    (
        "missing ca file",
        {"gateways": [gateway(tls={"ca_file": "nope.pem"})]},
        "gateways[0].tls.ca_file",
        "nope.pem: No such file or directory",
    ),
    (
        "ca file not PEM",
        {"gateways": [gateway(tls={"ca_file": "junk.pem"})]},
        "gateways[0].tls.ca_file",
        "holds no PEM certificate",
    ),
    (
        "ca file a number",
        {"gateways": [gateway(tls={"ca_file": 5})]},
        "gateways[0].tls.ca_file",
        "expected a file path, got an integer 5",
    ),
    (
        "bad server name",
        {"gateways": [gateway(tls={"server_name": "gw example"})]},
        "gateways[0].tls.server_name",
        '"gw example" is not a host name',
    ),
    (
        "insecure a string",
        {"gateways": [gateway(tls={"insecure_skip_verify": "true"})]},
        "gateways[0].tls.insecure_skip_verify",
        "expected true or false",
    ),
    # web.listen_address
    (
        "listen without port",
        {"web": {"listen_address": "0.0.0.0"}},
        "web.listen_address",
        '"0.0.0.0" is not HOST:PORT',
    ),
    (
        "listen bare port",
        {"web": {"listen_address": "9865"}},
        "web.listen_address",
        "is not HOST:PORT",
    ),
    (
        "listen named port",
        {"web": {"listen_address": "localhost:http"}},
        "web.listen_address",
        "is not HOST:PORT",
    ),
    (
        "listen port out of range",
        {"web": {"listen_address": ":70000"}},
        "web.listen_address",
        "port outside 0 to 65535",
    ),
    (
        "listen ipv6 without brackets",
        {"web": {"listen_address": "::1:9865"}},
        "web.listen_address",
        "needs brackets",
    ),
    (
        "listen bad ipv6",
        {"web": {"listen_address": "[::g]:9865"}},
        "web.listen_address",
        "invalid IPv6",
    ),
    (
        "listen bad host",
        {"web": {"listen_address": "my host:9865"}},
        "web.listen_address",
        "is not HOST:PORT",
    ),
    (
        "listen non-ascii port",
        {"web": {"listen_address": ":٩٨٦٥"}},
        "web.listen_address",
        "is not HOST:PORT",
    ),
    (
        "listen huge port",
        {"web": {"listen_address": ":" + "9" * 5000}},
        "web.listen_address",
        "port outside 0 to 65535",
    ),
    (
        "listen a number",
        {"web": {"listen_address": 9865}},
        "web.listen_address",
        "expected a string, got an integer 9865",
    ),
]


@pytest.mark.parametrize(
    ("content", "path", "phrase"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_config_names_key_and_problem(
    files: Path, content: str | dict[str, Any], path: str, phrase: str
) -> None:
    messages = errors_of(files, content)
    matching = [m for m in messages if m.startswith(f"{path}: ") or m.startswith(f"{path}, ")]
    assert matching, f"no message for {path!r} in {messages}"
    assert any(phrase in m for m in matching), f"{phrase!r} not in {matching}"


def test_invalid_config_exact_messages(files: Path) -> None:
    """The exact wording of the messages the README shows."""
    messages = errors_of(
        files,
        {
            "gateways": [
                gateway(timeout="10x", colour="blue", conferences={"ids": [1, 2, "abc"]}),
                gateway(password_env=_DROP, agent_id="154", max_concurrency=0),
                gateway(name="cc-west", sign_in="signin", password_env="NOPE", agent_id="155"),
                gateway(name="cc-north", password_env=_DROP, password_file="/nonexistent/pw"),
            ]
        },
    )
    assert messages == [
        "gateways[0].colour: unknown key",
        'gateways[0].timeout: "10x" is not a duration (use e.g. 10s, 500ms, 1m30s)',
        'gateways[0].conferences.ids[2]: "abc" is not a conference ID (a positive integer)',
        'gateways[1].name: duplicate gateway name "cc-east" (also gateways[0])',
        "gateways[1]: no password source (set password_file, password_env or password)",
        "gateways[1].max_concurrency: must be at least 1, got 0",
        "gateways[2].password_env: environment variable NOPE is not set",
        'gateways[2].sign_in: "signin" is not one of loginex, login, forcelogin',
        "gateways[3].password_file: cannot read /nonexistent/pw: No such file or directory",
    ]


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(
            tmp_path,
            {
                "web": {"listen_address": "nowhere"},
                "gateways": [
                    gateway(url="ftp://gw", timeout=0),
                    gateway(name="bad name", agent_id=5, conferences={"ids": [-1]}),
                ],
                "extra": True,
            },
        )
    error = info.value
    assert len(error.messages) == 7
    # One per line, in the order they were found.
    assert str(error).splitlines() == error.messages
    assert [m.split(":")[0] for m in error.messages] == [
        "extra",
        "web.listen_address",
        "gateways[0].url",
        "gateways[0].timeout",
        "gateways[1].name",
        "gateways[1].agent_id",
        "gateways[1].conferences.ids[0]",
    ]


def test_duplicate_yaml_keys_reported_with_other_errors(tmp_path: Path) -> None:
    text = "web:\n  listen_address: ':1'\n  listen_address: ':2'\ngateways: 3\n"
    messages = errors_of(tmp_path, text)
    assert messages == [
        'line 3: duplicate key "listen_address" (first at line 2); '
        "YAML would silently keep only the last one",
        "gateways: expected a list of gateways, got an integer 3",
    ]


def test_yaml_flow_mapping_duplicate_keys_on_one_line(tmp_path: Path) -> None:
    messages = errors_of(tmp_path, "web: {listen_address: ':1', listen_address: ':2'}\n")
    assert messages[0].startswith('line 1: duplicate key "listen_address"')


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    """Anchors and merge keys are how a file shares settings between gateways; overriding a
    merged key is their point, not a duplicate."""
    text = """
gateways:
  - &defaults
    name: a
    url: https://gw-a
    agent_id: 153
    password_env: CC_EAST_PASSWORD
    timeout: 5s
  - <<: *defaults
    name: b
    url: https://gw-b
"""
    first, second = load(tmp_path, text).config.gateways
    assert (second.name, second.url, second.timeout) == ("b", "https://gw-b:8043", 5.0)
    assert second.password == first.password


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml", env=ENV)
    assert info.value.messages == [
        f"cannot read {tmp_path / 'nope.yaml'}: No such file or directory"
    ]


def test_config_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"gateways: []\n# \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, env=ENV)


# --------------------------------------------------------------------------------------------
# Valid configs


def test_defaults(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"gateways": [gateway()]})
    assert loaded.config == Config(
        web=WebConfig(listen_address="0.0.0.0:9865"),
        gateways=(
            GatewayConfig(
                name="cc-east",
                url="https://10.0.0.5:8043",
                agent_id="153",
                password=Secret(PASSWORD),
                phone_number="",
                sign_in="loginex",
                force_on_conflict=False,
                force_sign_in="forceloginex",
                sign_in_status="busy",
                tls=TLSConfig(
                    ca_file="",
                    cert_file="",
                    key_file="",
                    server_name="",
                    insecure_skip_verify=False,
                ),
                timeout=10.0,
                max_concurrency=8,
                share_window=0.0,
                max_response_size=16 * 1024 * 1024,
                max_ids=100_000,
                conferences=ConferencesConfig(
                    discover=True,
                    ids=(),
                    ids_file=None,
                    from_events=True,
                    per_conference_metrics=True,
                    max_conferences=5000,
                    keep_stale_for=300.0,
                ),
                participants=ParticipantsConfig(
                    metrics=False, address="masked", max_per_conference=500
                ),
            ),
        ),
    )
    assert loaded.warnings == ()


def test_null_means_default(tmp_path: Path) -> None:
    text = """
web:
gateways:
  - name: cc-east
    url: https://10.0.0.5:8043
    agent_id: 153
    password_env: CC_EAST_PASSWORD
    password_file:
    timeout: null
    tls:
    conferences: {ids: null, ids_file: null}
    participants: {}
"""
    assert load(tmp_path, text).config == load(tmp_path, {"gateways": [gateway()]}).config


def test_empty_gateway_list_is_valid_with_a_warning(tmp_path: Path) -> None:
    for content in ("gateways: []\n", "{}\n", "web: {listen_address: ':9865'}\n"):
        loaded = load(tmp_path, content)
        assert loaded.config.gateways == ()
        assert loaded.warnings == (
            "gateways: no gateways configured; only the exporter's own metrics",
        )


def test_every_key_set(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "ids").write_text("1\n")
    loaded = load(
        tmp_path,
        {
            "web": {"listen_address": "[::1]:9999"},
            "gateways": [
                gateway(
                    url="HTTPS://gw.example:8043/cc/",
                    agent_id=999999,
                    phone_number=70005,
                    sign_in="forcelogin",
                    force_on_conflict=True,
                    force_sign_in="forceloginex",
                    sign_in_status="wrap_up",
                    tls={"ca_file": "ca.pem", "server_name": "gw.example"},
                    timeout="1m30s",
                    max_concurrency=256,
                    share_window="15s",
                    max_response_size="64MiB",
                    max_ids=20,
                    conferences={
                        "discover": False,
                        "ids": ["1029889", 1029888, 5],
                        "ids_file": "ids",
                        "from_events": False,
                        "per_conference_metrics": False,
                        "max_conferences": 3,
                        "keep_stale_for": "0s",
                    },
                    participants={
                        "metrics": True,
                        "address": "hashed",
                        "max_per_conference": 50,
                    },
                )
            ],
        },
    )
    gw = loaded.config.gateways[0]
    assert loaded.config.web.listen_address == "[::1]:9999"
    assert gw.url == "https://gw.example:8043/cc"
    assert gw.agent_id == "999999"
    assert gw.phone_number == "70005"
    assert gw.sign_in == "forcelogin"
    assert gw.force_on_conflict is True
    assert gw.force_sign_in == "forceloginex"
    assert gw.sign_in_status == "wrap_up"
    assert gw.tls.ca_file == str(tmp_path / "ca.pem")
    assert gw.tls.server_name == "gw.example"
    assert gw.timeout == 90.0
    assert gw.max_concurrency == 256
    assert gw.share_window == 15.0
    assert gw.max_response_size == 64 * 1024 * 1024
    assert gw.max_ids == 20
    assert gw.conferences == ConferencesConfig(
        discover=False,
        ids=(5, 1029888, 1029889),
        ids_file=str(tmp_path / "ids"),
        from_events=False,
        per_conference_metrics=False,
        max_conferences=3,
        keep_stale_for=0.0,
    )
    assert gw.participants == ParticipantsConfig(
        metrics=True, address="hashed", max_per_conference=50
    )
    assert loaded.warnings == (
        "gateways[0].agent_id: 999999 is above 59999: older gateways accept 101-59999 only "
        "(cec_07_1224) and answer a larger agent ID with HTTP 404",
    )


@pytest.mark.parametrize(
    ("address"),
    ["0.0.0.0:9865", ":9865", "localhost:1", "[::]:9865", "exporter.example.com:65535", ":0"],
)
def test_listen_addresses_accepted(tmp_path: Path, address: str) -> None:
    loaded = load(tmp_path, {"web": {"listen_address": address}})
    assert loaded.config.web.listen_address == address


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://10.0.0.5:8043", "https://10.0.0.5:8043"),
        ("https://10.0.0.5:8043/", "https://10.0.0.5:8043"),
        # No port: the vendor's default 8043 (cec_07_1202), whatever the scheme.
        ("https://10.0.0.5", "https://10.0.0.5:8043"),
        ("https://10.0.0.5:", "https://10.0.0.5:8043"),
        ("HTTP://gw", "http://gw:8043"),
        ("https://gw:443", "https://gw:443"),
        ("https://[fd00::5]:8043", "https://[fd00::5]:8043"),
        ("https://[fd00::5]", "https://[fd00::5]:8043"),
        ("https://proxy.example/cc-east//", "https://proxy.example:8043/cc-east"),
        ("https://proxy.example:443/cc-east", "https://proxy.example:443/cc-east"),
        ("https://proxy.example/@gw", "https://proxy.example:8043/@gw"),
    ],
)
def test_url_normalised(tmp_path: Path, url: str, normalised: str) -> None:
    assert load(tmp_path, {"gateways": [gateway(url=url)]}).config.gateways[0].url == normalised


def test_yaml_11_integers_read_as_written(tmp_path: Path) -> None:
    """Unquoted 010 is 10 (not octal 8) in a conference ID list; 0x10 stays hexadecimal."""
    text = (
        "gateways:\n- name: a\n  url: https://gw\n  agent_id: 153\n"
        "  password_env: CC_EAST_PASSWORD\n  conferences: {ids: [010, 0x10, 1_000]}\n"
    )
    assert load(tmp_path, text).config.gateways[0].conferences.ids == (10, 16, 1000)


def test_relative_paths_resolve_against_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "etc"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "secrets" / "cc-east").write_text(PASSWORD + "\n")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(config_dir / "ca.pem"))
    path = write(
        config_dir,
        {
            "gateways": [
                gateway(
                    password_env=_DROP,
                    password_file="secrets/cc-east",
                    tls={"ca_file": "ca.pem"},
                    conferences={"ids_file": "../var/ids"},
                )
            ]
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded = load_config(os.path.relpath(path, elsewhere), env={})
    gw = loaded.config.gateways[0]
    assert gw.password.reveal() == PASSWORD
    assert gw.tls.ca_file == str(config_dir / "ca.pem")
    assert gw.conferences.ids_file == str(tmp_path / "var" / "ids")
    assert loaded.warnings == (
        f"gateways[0].conferences.ids_file: {tmp_path / 'var' / 'ids'} does not exist "
        "yet; it will be read when it appears",
    )


def test_absolute_paths_kept(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    other = tmp_path / "sub"
    other.mkdir()
    loaded = load(other, {"gateways": [gateway(password_env=_DROP, password_file=str(secret))]})
    assert loaded.config.gateways[0].password == Secret(PASSWORD)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"{PASSWORD}\n", PASSWORD),
        (f"{PASSWORD}\r\n", PASSWORD),
        (PASSWORD, PASSWORD),
        (" spaces kept \n", " spaces kept "),
    ],
)
def test_password_file_trailing_newline_stripped(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "pw").write_bytes(content.encode())
    loaded = load(tmp_path, {"gateways": [gateway(password_env=_DROP, password_file="pw")]})
    assert loaded.config.gateways[0].password.reveal() == expected


def test_password_from_env(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"gateways": [gateway()]}, env={"CC_EAST_PASSWORD": "from-env"})
    assert loaded.config.gateways[0].password.reveal() == "from-env"


def test_env_defaults_to_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC_EAST_PASSWORD", "from-os")
    loaded = load_config(write(tmp_path, {"gateways": [gateway()]}))
    assert loaded.config.gateways[0].password.reveal() == "from-os"


def test_warnings(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    loaded = load(
        tmp_path,
        {
            "gateways": [
                gateway(
                    password_env=_DROP,
                    password=PASSWORD,
                    tls={"ca_file": "ca.pem", "insecure_skip_verify": True},
                    conferences={"ids_file": "later.ids"},
                ),
                gateway(
                    name="plain",
                    url="http://gw",
                    tls={"server_name": "gw"},
                    conferences={"discover": False, "from_events": False},
                ),
            ]
        },
    )
    assert loaded.warnings == (
        "gateways[0].password: is inline in the config file; prefer password_file or password_env",
        "gateways[0].tls.insecure_skip_verify: is true: the gateway's certificate is not "
        "verified, so ca_file is not used",
        f"gateways[0].conferences.ids_file: {tmp_path / 'later.ids'} does not exist yet; it "
        "will be read when it appears",
        "gateways[1].url: uses plain http: the agent password is sent unencrypted",
        "gateways[1].tls: is ignored because url uses http",
        "gateways[1].conferences: discover and from_events are off and no ids or ids_file are "
        "set; no conference will be watched",
    )
    assert all(PASSWORD not in w for w in loaded.warnings)


def test_insecure_skip_verify_alone_warns(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"gateways": [gateway(tls={"insecure_skip_verify": True})]})
    assert loaded.warnings == (
        "gateways[0].tls.insecure_skip_verify: is true: the gateway's certificate is not verified",
    )


def test_warnings_kept_on_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"gateways": [gateway(password_env=_DROP, password="x", timeout=0)]})
    assert info.value.warnings == [
        "gateways[0].password: is inline in the config file; prefer password_file or password_env"
    ]


def test_parse_config_accepts_a_dict(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw")
    loaded = parse_config(
        {"gateways": [gateway(password_env=_DROP, password_file="pw")]}, base_dir=tmp_path, env={}
    )
    assert loaded.config.gateways[0].password.reveal() == "pw"
    with pytest.raises(ConfigError, match=r"^top level: expected a mapping"):
        parse_config([], base_dir=tmp_path)


def test_gateway_lookup(tmp_path: Path) -> None:
    config = load(
        tmp_path, {"gateways": [gateway(), gateway(name="cc-west", agent_id="154")]}
    ).config
    west = config.gateway("cc-west")
    assert west is not None
    assert west.agent_id == "154"
    assert config.gateway("cc-nowhere") is None


# --------------------------------------------------------------------------------------------
# TLS files


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    ca = trustme.CA()
    cert = ca.issue_cert("exporter.example")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    other = ca.issue_cert("other.example")
    other.private_key_pem.write_to_path(str(tmp_path / "other-key.pem"))
    (tmp_path / "junk.pem").write_text("junk\n")
    return tmp_path


def test_client_certificate_loads(pki: Path) -> None:
    tls = {"ca_file": "ca.pem", "cert_file": "cert.pem", "key_file": "key.pem"}
    loaded = load(pki, {"gateways": [gateway(tls=tls)]})
    got = loaded.config.gateways[0].tls
    assert (got.ca_file, got.cert_file, got.key_file) == (
        str(pki / "ca.pem"),
        str(pki / "cert.pem"),
        str(pki / "key.pem"),
    )
    assert got.files_digest


@pytest.mark.parametrize(
    ("tls", "path", "phrase"),
    [
        ({"cert_file": "cert.pem", "key_file": "other-key.pem"}, "key_file", "does not match"),
        ({"cert_file": "junk.pem", "key_file": "key.pem"}, "cert_file", "no PEM certificate"),
        ({"cert_file": "cert.pem", "key_file": "junk.pem"}, "key_file", "no PEM private key"),
        ({"cert_file": "cert.pem", "key_file": "missing.pem"}, "key_file", "cannot read"),
    ],
)
def test_client_certificate_problems(
    pki: Path, tls: dict[str, str], path: str, phrase: str
) -> None:
    messages = errors_of(pki, {"gateways": [gateway(tls=tls)]})
    assert len(messages) == 1
    assert messages[0].startswith(f"gateways[0].tls.{path}: ")
    assert phrase in messages[0]


def test_encrypted_key_refused_without_prompting(pki: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((pki / "key.pem").read_bytes(), password=None)
    (pki / "enc-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    messages = errors_of(
        pki, {"gateways": [gateway(tls={"cert_file": "cert.pem", "key_file": "enc-key.pem"})]}
    )
    assert messages == [
        f"gateways[0].tls.key_file: {pki / 'enc-key.pem'} is encrypted; use an unencrypted key "
        "readable only by the exporter"
    ]


def test_rotated_tls_file_changes_equality(pki: Path) -> None:
    """A reload after a CA rotation must rebuild the session even though no path changed."""
    content = {"gateways": [gateway(tls={"ca_file": "ca.pem"})]}
    before = load(pki, content).config
    trustme.CA().cert_pem.write_to_path(str(pki / "ca.pem"))
    after = load(pki, content).config
    assert before.gateways[0].tls.ca_file == after.gateways[0].tls.ca_file
    assert before != after
    assert "files_digest" not in repr(after)


# --------------------------------------------------------------------------------------------
# The example file (the minimal start) and the reference (every key)

EXAMPLE = REPO / "config.example.yaml"
REFERENCE = REPO / "docs" / "config.reference.yaml"


def _keys(cls: type, prefix: str = "") -> set[str]:
    """Config keys as the file spells them, from the dataclass fields."""
    keys: set[str] = set()
    for name in cls.__dataclass_fields__:  # type: ignore[attr-defined]
        if name == "files_digest":
            continue
        if name == "password":
            keys |= {f"{prefix}password_file", f"{prefix}password_env", f"{prefix}password"}
            continue
        nested: dict[str, type] = {
            "tls": TLSConfig,
            "conferences": ConferencesConfig,
            "participants": ParticipantsConfig,
        }
        if name in nested:
            keys |= _keys(nested[name], f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _keys_set(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in data.items():
        if isinstance(value, dict):
            keys |= _keys_set(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_example_config_is_the_minimal_start() -> None:
    """Issue 17: one gateway, only the keys a user must set, everything else by default."""
    loaded = load_config(EXAMPLE, env={"CC_EAST_PASSWORD": PASSWORD})
    assert loaded.config == Config(
        gateways=(
            GatewayConfig(
                name="cc-east",
                url="https://10.0.0.5:8043",
                agent_id="153",
                password=Secret(PASSWORD),
            ),
        )
    )
    assert loaded.warnings == ()
    data = yaml.safe_load(EXAMPLE.read_text())
    assert list(data) == ["gateways"]
    assert _keys_set(data["gateways"][0]) == {"name", "url", "agent_id", "password_env"}
    text = EXAMPLE.read_text()
    assert "docs/config.reference.yaml" in text
    assert "README" in text


def test_reference_config_sets_every_key_to_its_default() -> None:
    """Copying any part of the reference changes nothing by accident."""
    loaded = load_config(REFERENCE, env={"CC_EAST_PASSWORD": PASSWORD})
    (gw,) = loaded.config.gateways
    assert loaded.config == Config(
        gateways=(
            GatewayConfig(name=gw.name, url=gw.url, agent_id=gw.agent_id, password=gw.password),
        )
    )
    assert loaded.warnings == ()


def test_reference_config_documents_every_key() -> None:
    """Every key the loader knows is in the reference: set (to its default), or, for the
    alternative password sources, in a comment."""
    text = REFERENCE.read_text()
    data = yaml.safe_load(text)
    (entry,) = data["gateways"]
    documented = {f"web.{k}" for k in _keys_set(data["web"])}
    documented |= {f"gateways[].{k}" for k in _keys_set(entry)}
    commented = {"password_file", "password"}
    for key in commented:
        assert re.search(rf"^\s*# {key}: ", text, re.M), key
    documented |= {f"gateways[].{key}" for key in commented}
    expected = {f"web.{k}" for k in _keys(WebConfig)} | {
        f"gateways[].{k}" for k in _keys(GatewayConfig)
    }
    assert documented == expected


def test_reference_config_keys_are_accepted() -> None:
    """No key in the reference is unknown to the loader (a renamed key would be)."""
    data = yaml.safe_load(REFERENCE.read_text())
    parse_config(data, base_dir=REFERENCE.parent, env={"CC_EAST_PASSWORD": PASSWORD})


# --------------------------------------------------------------------------------------------
# Secrets


def test_secret_never_printed(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD)
    loaded = load(
        tmp_path,
        {
            "gateways": [
                gateway(),
                gateway(name="b", agent_id="154", password_env=_DROP, password_file="pw"),
                gateway(name="c", agent_id="155", password_env=_DROP, password=PASSWORD),
            ]
        },
    )
    for text in (
        repr(loaded),
        str(loaded),
        repr(loaded.config),
        str(loaded.config),
        f"{loaded.config.gateways}",
        *(repr(g) for g in loaded.config.gateways),
        *loaded.warnings,
    ):
        assert PASSWORD not in text
    assert "password=<secret>" in repr(loaded.config.gateways[0])


def test_secret_not_in_error_messages(tmp_path: Path) -> None:
    """Neither a type error on the password nor a YAML error on its line shows it."""
    for text in (
        f"gateways:\n- name: a\n  url: https://gw\n  agent_id: 153\n  password: [{PASSWORD}]\n",
        f'gateways:\n- name: a\n  password: "{PASSWORD}\n',
        f"gateways:\n- name: a\n  password: {PASSWORD}: x\n",
        f"gateways:\n- password: {PASSWORD}\n  pasword: {PASSWORD}\n  timeout: 0\n",
    ):
        with pytest.raises(ConfigError) as info:
            load(tmp_path, text)
        assert info.value.messages
        assert PASSWORD not in str(info.value)
        assert PASSWORD not in repr(info.value)


def test_secret_in_url_not_shown(tmp_path: Path) -> None:
    messages = errors_of(tmp_path, {"gateways": [gateway(url=f"https://agent:{PASSWORD}@gw")]})
    assert messages
    assert all(PASSWORD not in m for m in messages)


def test_secret_value_semantics() -> None:
    secret = Secret("pw")
    assert secret.reveal() == "pw"
    assert repr(secret) == str(secret) == f"{secret}" == "<secret>"
    assert secret == Secret("pw")
    assert secret != Secret("other")
    assert secret != "pw"
    assert hash(secret) == hash(Secret("pw"))
    assert len({Secret("pw"), Secret("pw"), Secret("x")}) == 2
    assert Secret("päss") == Secret("päss")  # non-ASCII compares (constant-time on bytes)
    assert copy.copy(secret) is secret
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(AttributeError):
        secret._value = "changed"
    with pytest.raises(TypeError):
        Secret(b"pw")  # type: ignore[arg-type]


def test_config_deepcopy_keeps_secret(tmp_path: Path) -> None:
    config = load(tmp_path, {"gateways": [gateway()]}).config
    assert copy.deepcopy(config) == config


# --------------------------------------------------------------------------------------------
# Equality: what reload compares


def test_two_loads_of_the_same_file_are_equal(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    path = write(
        tmp_path,
        {
            "gateways": [
                gateway(
                    password_env=_DROP,
                    password_file="pw",
                    tls={"ca_file": "ca.pem"},
                    conferences={"ids": [3, 1, 2]},
                ),
                gateway(name="cc-west", agent_id=154),
            ]
        },
    )
    first, second = load_config(path, env=ENV), load_config(path, env=ENV)
    assert first == second
    assert first.config is not second.config
    assert hash(first.config) == hash(second.config)
    assert first.config.gateways[0] == second.config.gateways[0]


def test_equality_tracks_settings(tmp_path: Path) -> None:
    def first(env: dict[str, str] = ENV, **overrides: Any) -> GatewayConfig:
        return load(tmp_path, {"gateways": [gateway(**overrides)]}, env=env).config.gateways[0]

    base = first()
    # The order IDs are listed in is not a setting; the IDs are.
    assert first(conferences={"ids": [2, 1]}) == first(conferences={"ids": [1, 2]})
    assert first(conferences={"ids": [1, 2]}) != base
    # Equivalent spellings are the same setting.
    assert first(timeout="10s", url="HTTPS://10.0.0.5:8043/", agent_id=153) == base
    assert first(max_concurrency=9) != base
    # A changed password is a changed setting, though it prints the same.
    changed = first(env={"CC_EAST_PASSWORD": "new"})
    assert changed != base
    assert repr(changed) == repr(base)


# --------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1h2m3s4ms", 3723.004),
        ("1.5s", 1.5),
        ("10", 10.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", '"" is not a duration (use e.g. 10s, 500ms, 1m30s)'),
        ("10x", '"10x" is not a duration (use e.g. 10s, 500ms, 1m30s)'),
        ("s", '"s" is not a duration'),
        ("1s1m", '"1s1m" is not a duration'),
        ("1m1m", '"1m1m" is not a duration'),
        ("10 s", '"10 s" is not a duration'),
        (" 10s", '" 10s" is not a duration'),
        ("1d", '"1d" is not a duration'),
        ("1.s", '"1.s" is not a duration'),
        ("-5s", '"-5s" is negative; a duration is 0 or more'),
        ("-1", '"-1" is negative'),
        ("9" * 400, "too large"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(text)


@given(h=st.integers(0, 100), m=st.integers(0, 59), s=st.integers(0, 59), ms=st.integers(0, 999))
def test_parse_duration_sums_components(h: int, m: int, s: int, ms: int) -> None:
    text = (
        "".join(
            f"{value}{unit}" for value, unit in ((h, "h"), (m, "m"), (s, "s"), (ms, "ms")) if value
        )
        or "0s"
    )
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


@given(st.text(max_size=12))
def test_parse_duration_returns_or_raises_value_error(text: str) -> None:
    """Arbitrary input gives a non-negative number or a ValueError, never anything else."""
    with contextlib.suppress(ValueError):
        assert parse_duration(text) >= 0


@pytest.mark.parametrize(("raw", "seconds"), [(None, 0.0), (0, 0.0), ("0s", 0.0), ("15s", 15.0)])
def test_share_window_is_off_by_default_and_accepts_zero(
    tmp_path: Path, raw: object, seconds: float
) -> None:
    extra = {} if raw is None else {"share_window": raw}
    loaded = load(tmp_path, {"gateways": [gateway(**extra)]})
    assert loaded.config.gateways[0].share_window == seconds


# --------------------------------------------------------------------------------------------
# Sign-in settings (issue 14)


@pytest.mark.parametrize(
    ("sign_in", "forced"),
    [("loginex", "forceloginex"), ("login", "forcelogin"), ("forcelogin", "forcelogin")],
)
def test_force_sign_in_defaults_to_the_licence_class_of_sign_in(
    tmp_path: Path, sign_in: str, forced: str
) -> None:
    """Taking over a session must not start taking a licence the sign-in does not take."""
    loaded = load(tmp_path, {"gateways": [gateway(sign_in=sign_in, phone_number="70005")]})
    assert loaded.config.gateways[0].force_sign_in == forced
    assert default_force_sign_in(sign_in) == forced  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"sign_in": "login", "phone_number": "70005"},
        {"sign_in": "forcelogin", "phone_number": 70005},
        {"force_sign_in": "forcelogin", "phone_number": "70005"},
        {"sign_in": "loginex"},
        {"sign_in": "loginex", "force_sign_in": "forceloginex", "force_on_conflict": True},
        {"sign_in": "login", "force_sign_in": "forceloginex", "phone_number": "70005"},
    ],
)
def test_phone_number_only_required_where_the_vendor_requires_it(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    gw = load(tmp_path, {"gateways": [gateway(**overrides)]}).config.gateways[0]
    assert gw.sign_in == overrides.get("sign_in", "loginex")
    assert gw.phone_number == str(overrides.get("phone_number", ""))


@pytest.mark.parametrize(("status", "code"), [("busy", 3), ("idle", 4), ("wrap_up", 5)])
def test_sign_in_status(tmp_path: Path, status: str, code: int) -> None:
    gw = load(tmp_path, {"gateways": [gateway(sign_in_status=status)]}).config.gateways[0]
    assert gw.sign_in_status == status
    assert SIGN_IN_STATUS_CODES[gw.sign_in_status] == code


@pytest.mark.parametrize(("agent_id", "warned"), [("59999", False), ("60000", True), (101, False)])
def test_agent_id_above_59999_warns_for_older_gateways(
    tmp_path: Path, agent_id: object, warned: bool
) -> None:
    loaded = load(tmp_path, {"gateways": [gateway(agent_id=agent_id)]})
    expected = (
        (
            f"gateways[0].agent_id: {agent_id} is above 59999: older gateways accept 101-59999 "
            "only (cec_07_1224) and answer a larger agent ID with HTTP 404",
        )
        if warned
        else ()
    )
    assert loaded.warnings == expected


# --------------------------------------------------------------------------------------------
# Bounds (issues 12 and 13)


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("16MiB", 16 * 1024**2),
        ("64KiB", 65536),
        ("1GiB", 1024**3),
        ("8MB", 8_000_000),
        ("1.5MiB", 1_572_864),
        ("100000", 100_000),
        (65536, 65536),
        ("1000000B", 1_000_000),
    ],
)
def test_max_response_size_accepts_sizes(tmp_path: Path, raw: object, size: int) -> None:
    gw = load(tmp_path, {"gateways": [gateway(max_response_size=raw)]}).config.gateways[0]
    assert gw.max_response_size == size


@pytest.mark.parametrize(("raw", "seconds"), [("0s", 0.0), (0, 0.0), ("1h", 3600.0), (90, 90.0)])
def test_keep_stale_for_accepts_zero_to_an_hour(
    tmp_path: Path, raw: object, seconds: float
) -> None:
    gw = load(
        tmp_path, {"gateways": [gateway(conferences={"keep_stale_for": raw})]}
    ).config.gateways[0]
    assert gw.conferences.keep_stale_for == seconds


def test_caps_accept_one(tmp_path: Path) -> None:
    gw = load(
        tmp_path,
        {"gateways": [gateway(max_ids=1, participants={"max_per_conference": 1})]},
    ).config.gateways[0]
    assert (gw.max_ids, gw.participants.max_per_conference) == (1, 1)


def test_url_without_port_is_the_same_setting_as_8043(tmp_path: Path) -> None:
    """A reload that only adds the default port keeps the session."""
    with_port = load(tmp_path, {"gateways": [gateway(url="https://gw:8043")]}).config
    without = load(tmp_path, {"gateways": [gateway(url="https://gw")]}).config
    assert with_port == without
