"""Issue 6, section 3: a table of invalid configurations, each refused twice over.

1. `--config.check`: exit code 1 and a message that names the key (`gateways[0].timeout:
   ...`), so an operator fixes it in one go. One case of each kind runs `ccgw-exporter` as a
   real subprocess (the CLI wiring: exit code, stderr); every case runs the same check
   in-process (`check_config`, what the flag calls), since an interpreter start costs ~0.5 s
   of CPU and the variants of one kind only differ inside the loader.
2. A live reload (`POST /-/reload`, lifecycle API on) of a running exporter: refused, with
   that same message in the log (the answer only says it failed: problems name files, issue
   12), the old config kept and still serving (same session, no new sign-in, complete data)
   and `ccgw_config_last_reload_successful` 0. Each case ends with the control: the good file
   reloads again, so the refusal was about the bad file and not a broken reload.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from exporter.app import reload_function
from exporter.cli import check_config
from exporter.config import load_config
from exporter.targets import Targets
from exporter.web import Exporter, make_app

from .conftest import INSPECTOR, SimFactory, wait_for

Gateway = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What a broken config may refer to: the good gateway entry and a scratch directory."""

    gateway: Gateway
    directory: Path


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Context], str]  # the YAML text of the broken file
    key: str  # the key path the message must start with
    says: str  # and a fragment of what it must say


# The installed console script when there is one (as operators run it), else the module.
_SCRIPT = Path(sys.executable).with_name("ccgw-exporter")
CCGW_EXPORTER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "exporter.cli"]

# One of each kind of mistake the issue lists, run as a subprocess.
SUBPROCESS = {
    "unknown-key", "duplicate-gateway-name", "url-with-password", "no-password-source",
    "password-file-unreadable", "duration-words", "conference-id-not-integer",
    "concurrency-zero", "concurrency-negative", "sign-in-variant", "ca-file-not-pem",
    "yaml-syntax", "login-without-phone-number", "response-size-unit",
}  # fmt: skip


def gw(**changes: Any) -> Callable[[Context], str]:
    """The good gateway with `changes` (None removes a key)."""

    def make(ctx: Context) -> str:
        entry = {**ctx.gateway, **changes}
        entry = {k: v for k, v in entry.items() if v is not None}
        return yaml.safe_dump({"gateways": [entry]})

    return make


def two(second: Callable[[Gateway], Gateway]) -> Callable[[Context], str]:
    def make(ctx: Context) -> str:
        return yaml.safe_dump({"gateways": [ctx.gateway, second(dict(ctx.gateway))]})

    return make


def top(**sections: Any) -> Callable[[Context], str]:
    def make(ctx: Context) -> str:
        return yaml.safe_dump({**sections, "gateways": [ctx.gateway]})

    return make


def text(raw: str) -> Callable[[Context], str]:
    return lambda ctx: raw


def file_at(name: str, content: str | None) -> Callable[[Context], str]:
    """A gateway whose password file is `name` in the scratch directory: `content` None
    makes it a directory, which no process can read as a file (root included)."""

    def make(ctx: Context) -> str:
        path = ctx.directory / name
        if content is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_text(content)
        return gw(password_file=str(path))(ctx)

    return make


def tls_file(content: str | None) -> Callable[[Context], str]:
    def make(ctx: Context) -> str:
        path = ctx.directory / "ca.pem"
        if content is not None:
            path.write_text(content)
        missing = ctx.directory / "no-such-ca.pem"
        https = ctx.gateway["url"].replace("http://", "https://")
        ca = str(path if content is not None else missing)
        return gw(url=https, tls={"ca_file": ca})(ctx)

    return make


def renamed(entry: Gateway) -> Gateway:
    return {**entry, "name": "other"}


CASES = [
    Case("unknown-key", gw(colour="red"), "gateways[0].colour", "unknown key"),
    Case("unknown-top-level-key", top(webb={}), "webb", "unknown key (did you mean web?)"),
    Case("unknown-nested-key", gw(tls={"ca": "x"}), "gateways[0].tls.ca", "unknown key"),
    Case(
        "misspelt-password-key",
        gw(password_file=None, pasword="x"),
        "gateways[0].pasword",
        "did you mean password?",
    ),
    Case(
        "duplicate-gateway-name",
        two(lambda g: {**g, "agent_id": "154"}),
        "gateways[1].name",
        "duplicate gateway name",
    ),
    Case("same-agent-twice", two(renamed), "gateways[1].agent_id", "already used"),
    Case("url-scheme", gw(url="ftp://127.0.0.1:8043"), "gateways[0].url", "use http or https"),
    Case("url-no-scheme", gw(url="127.0.0.1:8043"), "gateways[0].url", "has no scheme"),
    Case(
        "url-with-password",
        gw(url="https://153:secret@127.0.0.1:8043"),
        "gateways[0].url",
        "must not contain a user name or password",
    ),
    Case(
        "url-full-api-path",
        gw(url="https://127.0.0.1:8043/agentgateway/resource"),
        "gateways[0].url",
        "which the exporter appends",
    ),
    Case("url-not-a-string", gw(url=8043), "gateways[0].url", "expected a string"),
    Case("no-password-source", gw(password_file=None), "gateways[0]", "no password source"),
    Case(
        "two-password-sources",
        gw(password_env="CCGW_PW"),
        "gateways[0]",
        "more than one password source",
    ),
    Case(
        "password-file-missing",
        gw(password_file="/nonexistent/ccgw.pw"),
        "gateways[0].password_file",
        "cannot read",
    ),
    Case(
        "password-file-unreadable",
        file_at("pw-dir", None),
        "gateways[0].password_file",
        "cannot read",
    ),
    Case("password-file-empty", file_at("empty.pw", "\n"), "gateways[0].password_file", "is empty"),
    Case(
        "password-env-unset",
        gw(password_file=None, password_env="CCGW_TEST_NEVER_SET"),
        "gateways[0].password_env",
        "is not set",
    ),
    Case("duration-words", gw(timeout="10 seconds"), "gateways[0].timeout", "not a duration"),
    Case("duration-zero", gw(timeout=0), "gateways[0].timeout", "greater than 0"),
    Case("duration-negative", gw(timeout="-1s"), "gateways[0].timeout", "is negative"),
    Case("agent-id-not-digits", gw(agent_id="abc"), "gateways[0].agent_id", "not an agent ID"),
    Case("agent-id-out-of-range", gw(agent_id=99), "gateways[0].agent_id", "out of range"),
    Case(
        "conference-id-not-integer",
        gw(conferences={"ids": [1029888, "abc"]}),
        "gateways[0].conferences.ids[1]",
        "not a conference ID",
    ),
    Case(
        "conference-id-other-digits",
        gw(conferences={"ids": ["²"]}),
        "gateways[0].conferences.ids[0]",
        "not a conference ID",
    ),
    Case(
        "conference-id-float",
        gw(conferences={"ids": [1.5]}),
        "gateways[0].conferences.ids[0]",
        "not a conference ID",
    ),
    Case("concurrency-zero", gw(max_concurrency=0), "gateways[0].max_concurrency", "at least 1"),
    Case(
        "concurrency-negative", gw(max_concurrency=-4), "gateways[0].max_concurrency", "at least 1"
    ),
    Case(
        "concurrency-string",
        gw(max_concurrency="8"),
        "gateways[0].max_concurrency",
        "expected an integer",
    ),
    Case("sign-in-variant", gw(sign_in="logon"), "gateways[0].sign_in", "is not one of"),
    # login and forcelogin mark phonenum mandatory (cec_07_1202, cec_07_1203).
    Case(
        "login-without-phone-number",
        gw(sign_in="login"),
        "gateways[0].phone_number",
        "is required when sign_in is login",
    ),
    Case(
        "forced-forcelogin-without-phone-number",
        gw(force_sign_in="forcelogin"),
        "gateways[0].phone_number",
        "is required when force_sign_in is forcelogin",
    ),
    Case(
        "force-sign-in-variant",
        gw(force_sign_in="login"),
        "gateways[0].force_sign_in",
        "is not one of forceloginex, forcelogin",
    ),
    Case(
        "sign-in-status",
        gw(sign_in_status="ready"),
        "gateways[0].sign_in_status",
        "is not one of busy, idle, wrap_up",
    ),
    Case(
        "response-size-unit",
        gw(max_response_size="16mb"),
        "gateways[0].max_response_size",
        "is not a size",
    ),
    Case(
        "response-size-range",
        gw(max_response_size="2GiB"),
        "gateways[0].max_response_size",
        "must be 64KiB to 1GiB",
    ),
    Case("max-ids-zero", gw(max_ids=0), "gateways[0].max_ids", "must be at least 1"),
    Case(
        "keep-stale-too-long",
        gw(conferences={"keep_stale_for": "2h"}),
        "gateways[0].conferences.keep_stale_for",
        "must be at most 3600s",
    ),
    Case(
        "participants-cap-zero",
        gw(participants={"max_per_conference": 0}),
        "gateways[0].participants.max_per_conference",
        "must be at least 1",
    ),
    Case(
        "boolean-as-string",
        gw(conferences={"discover": "yes"}),
        "gateways[0].conferences.discover",
        "expected true or false",
    ),
    Case(
        "address-mode",
        gw(participants={"address": "clear"}),
        "gateways[0].participants.address",
        "is not one of",
    ),
    Case("ca-file-missing", tls_file(None), "gateways[0].tls.ca_file", "cannot read"),
    Case(
        "ca-file-not-pem",
        tls_file("not a certificate\n"),
        "gateways[0].tls.ca_file",
        "holds no PEM certificate",
    ),
    Case(
        "listen-address",
        top(web={"listen_address": "localhost"}),
        "web.listen_address",
        "is not HOST:PORT",
    ),
    Case("yaml-syntax", text("gateways:\n  - name: gw\n    url: [unclosed\n"), "", "line"),
    Case("top-level-list", text("- name: gw\n"), "top level", "expected a mapping"),
]


def good_gateway(url: str, password_file: Path) -> Gateway:
    return {"name": "gw", "url": url, "agent_id": INSPECTOR[0],
            "password_file": str(password_file), "timeout": "5s"}  # fmt: skip


def messages(stderr: str, path: Path) -> list[str]:
    """The problem lines of --config.check, without the `path: ` prefix and the warnings."""
    prefix = f"{path}: "
    return [
        line.removeprefix(prefix)
        for line in stderr.splitlines()
        if line.startswith(prefix) and not line.startswith(prefix + "warning: ")
    ]


def names_the_key(lines: list[str], case: Case) -> bool:
    return any(
        line.startswith(f"{case.key}:" if case.key else "") and case.says in line for line in lines
    )


# -- 1. --config.check, as a subprocess ---------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    path: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckResult]:
    """`ccgw-exporter --config.check` of one case of each kind, and of the good file, two
    processes at a time."""
    root = tmp_path_factory.mktemp("check")
    password = root / "gateway.password"
    password.write_text(INSPECTOR[1] + "\n")
    gateway = good_gateway("http://127.0.0.1:8043", password)

    def run(case: Case | None) -> CheckResult:
        name = case.id if case else "control"
        directory = root / name
        directory.mkdir()
        path = directory / "config.yaml"
        ctx = Context(gateway, directory)
        path.write_text(case.make(ctx) if case else yaml.safe_dump({"gateways": [gateway]}))
        proc = subprocess.run(
            [*CCGW_EXPORTER, "--config.file", str(path), "--config.check"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return CheckResult(path, proc.returncode, proc.stdout, proc.stderr)

    chosen = [c for c in CASES if c.id in SUBPROCESS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([c.id for c in chosen] + ["control"],
                        pool.map(run, [*chosen, None]), strict=True))  # fmt: skip


def test_config_check_control_the_good_file_passes(checked: dict[str, CheckResult]) -> None:
    result = checked["control"]
    assert result.returncode == 0, result.stderr
    assert "OK (1 gateway(s): gw)" in result.stdout


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS],
                         ids=[c.id for c in CASES if c.id in SUBPROCESS])  # fmt: skip
def test_config_check_exits_1_naming_the_key(case: Case, checked: dict[str, CheckResult]) -> None:
    result = checked[case.id]
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = messages(result.stderr, result.path)
    assert names_the_key(lines, case), lines
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr  # url-with-password: the password is not echoed


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_config_check_in_process_returns_1_naming_the_key(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = tmp_path / "gateway.password"
    password.write_text(INSPECTOR[1] + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(case.make(Context(good_gateway("http://127.0.0.1:8043", password), tmp_path)))
    assert check_config(str(path)) == 1
    lines = messages(capsys.readouterr().err, path)
    assert names_the_key(lines, case), lines


# -- 2. a live reload -------------------------------------------------------------------------


@dataclass
class Live:
    path: Path
    targets: Targets
    client: TestClient
    good: str  # the YAML of the config it started with

    async def metrics(self) -> str:
        resp = await self.client.get("/metrics")
        assert resp.status == 200
        return await resp.text()


@pytest.fixture
async def live(make_sim: SimFactory, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    started: list[Live] = []

    async def start() -> tuple[Live, Context]:
        sim = await make_sim()
        sim.population.add_conference()
        password = tmp_path / "gateway.password"
        password.write_text(INSPECTOR[1] + "\n")
        gateway = good_gateway(sim.url, password)
        path = tmp_path / "config.yaml"
        good = yaml.safe_dump({"gateways": [gateway]})
        path.write_text(good)
        targets = Targets(load_config(path).config, path=str(path))
        app = make_app(Exporter(targets), reloader=reload_function(targets, None))
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        targets.start()
        exporter = Live(path, targets, client, good)
        started.append(exporter)
        await wait_for(lambda: all(t.session.signed_in for t in targets.all()))
        return exporter, Context(gateway, tmp_path)

    yield start
    for exporter in started:
        await exporter.client.close()
        await exporter.targets.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_live_reload_refuses_and_keeps_serving_the_old_config(
    case: Case, live, caplog: pytest.LogCaptureFixture
) -> None:
    exporter, ctx = await live()
    config = exporter.targets.config
    (target,) = exporter.targets.all()
    session, signins = target.session, target.stats.sign_ins.get("0", 0)

    exporter.path.write_text(case.make(ctx))
    resp = await exporter.client.post("/-/reload")
    body = await resp.text()
    assert resp.status == 500, body
    assert "previous configuration stays" in body
    (failed,) = [r for r in caplog.records if r.message.startswith("config reload failed")]
    errors = failed.kv["errors"]  # the messages, joined by "; "
    assert f"{case.key}:" in errors if case.key else errors, errors
    assert case.says in errors, errors
    # The old config, its session and its data are all still there.
    assert exporter.targets.config is config
    assert exporter.targets.get("gw") is target
    assert target.session is session
    assert session.signed_in
    assert target.stats.sign_ins.get("0", 0) == signins
    text = await exporter.metrics()
    assert "ccgw_config_last_reload_successful 0.0" in text
    assert 'ccgw_up{gateway="gw"} 1' in text
    assert 'ccgw_conferences{gateway="gw"} 1' in text

    # The control: the good file reloads, so the refusal was about the file.
    exporter.path.write_text(exporter.good)
    resp = await exporter.client.post("/-/reload")
    assert resp.status == 200, await resp.text()
    assert "ccgw_config_last_reload_successful 1.0" in await exporter.metrics()
    assert exporter.targets.get("gw") is target, "an unchanged gateway keeps its session"
    await asyncio.sleep(0)
