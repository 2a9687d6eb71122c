"""Prometheus rules, their promtool unit tests, the runbooks and the Alertmanager example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # grafana/ and prometheus/ are not installed packages
    sys.path.insert(0, str(ROOT))

from grafana.queries import metric_names, series_names  # noqa: E402
from prometheus import variant  # noqa: E402

RULES = ROOT / "prometheus"
ALERTS = RULES / "alerts.rules.yml"
RECORDING = RULES / "recording.rules.yml"
RULE_TESTS = sorted((RULES / "tests").glob("*.yml"))
ALERTS_DOC = ROOT / "docs" / "alerts.md"
ALERTMANAGER_EXAMPLE = ROOT / "examples" / "alertmanager.yml"

SEVERITIES = {"critical", "warning", "info", "none"}
#: level:metric:operations, e.g. gateway_method:ccgw_responses:rate5m
RECORD_NAME = re.compile(r"^[a-z][a-z_]*:ccgw_[a-z0-9_]+:[a-z0-9_]+$")

#: Alerts about the scrape targets themselves: they look at `up`, and need no hold.
SCRAPE_ALERTS = {"CcgwExporterDown", "CcgwProbeFailed", "CcgwTargetDown"}
#: Per-conference alerts: also held while the gateway's collection is incomplete.
CONFERENCE_ALERTS = {
    "CcgwConferenceNearAppliedDuration",
    "CcgwConferenceOverAppliedDuration",
    "CcgwParticipantsHeldLong",
    "CcgwConferenceSingleParticipant",
}
#: Rate-window alerts that stay quiet during an outage and for the window after it.
RATE_ALERTS = {"CcgwGatewayErrorRatioHigh", "CcgwRequestErrorsHigh"}
EXPECTED_ALERTS = (
    SCRAPE_ALERTS
    | CONFERENCE_ALERTS
    | RATE_ALERTS
    | {
        "CcgwConfigReloadFailed",
        "CcgwGatewayUnreachable",
        "CcgwSessionSignedOut",
        "CcgwSessionContention",
        "CcgwDiscoveryUnavailable",
        "CcgwCollectionPartial",
        "CcgwCollectionNearTimeout",
        "CcgwConferencesTruncated",
        "CcgwConferenceIdsDropped",
    }
)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (apt-get install prometheus alertmanager)")
        pytest.skip(f"{name} is not installed")
    return path


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load(path)["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules(ALERTS)}


def records() -> dict[str, dict[str, Any]]:
    return {rule["record"]: rule for rule in rules(RECORDING)}


# ----------------------------------------------------------------------------- promtool


def test_promtool_check_rules() -> None:
    result = run(tool("promtool"), "check", "rules", str(RECORDING), str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests(path: Path) -> None:
    result = run(tool("promtool"), "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = set(alerts())
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested staying quiet"


def test_every_recording_rule_is_evaluated_in_a_test() -> None:
    tested = " ".join(
        check["expr"]
        for path in RULE_TESTS
        for case in load(path)["tests"]
        for check in case.get("promql_expr_test", [])
    )
    for name in records():
        assert re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", tested), name


# ----------------------------------------------------------------------------- rule content


def test_the_expected_alerts_exist() -> None:
    assert set(alerts()) == EXPECTED_ALERTS


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_labels_and_annotations(name: str) -> None:
    rule = alerts()[name]
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert "{{ $labels." in annotations["description"] or "{{ $value" in annotations["description"]
    assert annotations["runbook_url"] == f"{variant.RUNBOOK_PREFIX}#{name.lower()}"
    variant.parse_duration(rule["for"])


def test_runbook_links_are_absolute_and_point_at_the_public_home() -> None:
    for name, rule in alerts().items():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("https://"), name
        assert url.startswith(variant.DEFAULT_RUNBOOK_BASE + "/docs/alerts.md#"), name


# ----------------------------------------------------------------------------- blind state


def hold_branch(name: str, join: str) -> str:
    """The branch that keeps `name` firing while `join` says the data is missing."""
    return (
        "max without (alertname, alertstate, severity) (\n"
        f'    ALERTS{{alertname="{name}", alertstate="firing"}}\n'
        "  )\n"
        f"and on {join}"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS - SCRAPE_ALERTS))
def test_alert_holds_its_state_while_its_target_is_down(name: str) -> None:
    """Live branch: nothing new starts while the series' scrape target is down. Hold branch:
    what fired keeps firing until fresh data says otherwise (promtool tests prove both)."""
    expr = " ".join(alerts()[name]["expr"].split())
    assert "unless on (job, instance) up == 0" in expr, name
    assert " ".join(hold_branch(name, "(job, instance) up == 0").split()) in expr, name


@pytest.mark.parametrize("name", sorted(CONFERENCE_ALERTS))
def test_conference_alert_holds_while_the_collection_is_incomplete(name: str) -> None:
    expr = " ".join(alerts()[name]["expr"].split())
    held = hold_branch(name, "(job, instance, gateway) ccgw_collection_complete == 0")
    assert " ".join(held.split()) in expr, name


@pytest.mark.parametrize("name", sorted(RATE_ALERTS))
def test_rate_alert_stays_quiet_after_an_outage(name: str) -> None:
    expr = " ".join(alerts()[name]["expr"].split())
    guard = (
        "unless on (job, instance, gateway) max_over_time(ALERTS{"
        'alertname="CcgwGatewayUnreachable", alertstate="firing"}[10m])'
    )
    assert guard in expr, name
    # The guard outlives the rate window, so the window's tail after an outage is covered.
    (window,) = set(re.findall(r"rate\(\w+(?:\{[^}]*\})?\[(\w+)\]\)", expr))
    assert variant.parse_duration("10m") > variant.parse_duration(window), name


def test_discovery_refused_to_an_ordinary_agent_is_no_error() -> None:
    """101-004 on queryAllConfIds is the account's kind (CcgwDiscoveryUnavailable, info), not
    a gateway error; 101-004 on any other method still counts."""
    expr = alerts()["CcgwGatewayErrorRatioHigh"]["expr"]
    assert 'retcode!~"0|100-002|100-008|101-004"' in expr
    assert 'retcode="101-004", method!="queryAllConfIds"' in expr
    assert alerts()["CcgwDiscoveryUnavailable"]["labels"]["severity"] == "info"


def test_one_dead_exporter_is_one_alert() -> None:
    """CcgwExporterDown keys on the exporter's address only (its /metrics and
    collect[]=exporter jobs are one exporter); /probe targets are left out of it, and
    CcgwProbeFailed is silent while an exporter target is down."""
    down = alerts()["CcgwExporterDown"]["expr"]
    assert down.strip().startswith("max by (instance) (")
    assert 'job!~".*probe.*"' in down
    probe = alerts()["CcgwProbeFailed"]["expr"]
    assert 'job=~".*probe.*"' in probe
    assert 'unless on () (up{job=~".*ccgw.*", job!~".*probe.*"} == 0)' in probe
    target = alerts()["CcgwTargetDown"]
    assert target["labels"]["severity"] == "none"
    assert variant.parse_duration(target["for"]) == 0


def test_alert_texts_do_not_call_a_probe_target_the_exporter() -> None:
    """With /probe, `instance` is the gateway's name: a gateway or conference alert may name
    the scrape target, never "ccgw-exporter {{ $labels.instance }}"."""
    for name, rule in alerts().items():
        if name in SCRAPE_ALERTS or name == "CcgwConfigReloadFailed":
            continue
        text = rule["annotations"]["summary"] + rule["annotations"]["description"]
        assert "exporter {{ $labels.instance }}" not in text, name


def test_alert_descriptions_carry_values() -> None:
    for name, rule in alerts().items():
        text = rule["annotations"]["summary"] + rule["annotations"]["description"]
        if "gateway" in rule["expr"] or name.startswith("CcgwConference"):
            assert "$labels.gateway" in text, name
    assert "$labels.retcode" in alerts()["CcgwGatewayErrorRatioHigh"]["annotations"]["summary"]


def test_exporter_down_matches_the_documented_job_regex() -> None:
    assert variant.EXPORTER_JOB_MATCHER in alerts()["CcgwExporterDown"]["expr"]
    assert variant.EXPORTER_JOB_MATCHER in ALERTS_DOC.read_text(encoding="utf-8")


def test_recording_rule_names_follow_the_convention() -> None:
    for name in records():
        assert RECORD_NAME.match(name), name


def test_rules_use_contract_metrics_only() -> None:
    allowed = series_names() | {"up", "ALERTS"} | set(records())
    for path in (RECORDING, ALERTS):
        for rule in rules(path):
            names = metric_names(rule["expr"])
            assert names, rule
            assert names <= allowed, f"unknown {names - allowed} in {rule}"


def test_alerts_do_not_depend_on_recording_rules() -> None:
    recorded = set(records())
    for name, rule in alerts().items():
        assert not metric_names(rule["expr"]) & recorded, name


# ----------------------------------------------------------------------------- runbooks


def test_every_alert_has_a_runbook_section() -> None:
    doc = ALERTS_DOC.read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (\w+)$", doc, flags=re.MULTILINE))
    assert headings >= EXPECTED_ALERTS
    for name in EXPECTED_ALERTS:
        section = doc.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Meaning**", "**Check**", "**Act**"):
            assert part in section, f"{name}: {part}"


def test_thresholds_table_lists_every_alert_with_its_for() -> None:
    doc = ALERTS_DOC.read_text(encoding="utf-8")
    for name, rule in alerts().items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| [{name}]")), None)
        assert row, f"{name} missing from the thresholds table"
        assert f"| {rule['for']} |" in row, f"{name}: for {rule['for']} not in {row}"
        assert f"| {rule['labels']['severity']} |" in row, name


# ----------------------------------------------------------------------------- fast variant


def test_fast_variant_divides_every_for(tmp_path: Path) -> None:
    doc = load(ALERTS)
    fast = variant.derive(doc, for_divisor=60, group_interval="1s")
    slow_rules = [r for g in doc["groups"] for r in g["rules"]]
    fast_rules = [r for g in fast["groups"] for r in g["rules"]]
    for slow, quick in zip(slow_rules, fast_rules, strict=True):
        expected = variant.parse_duration(slow["for"]) / 60
        assert variant.parse_duration(quick["for"]) == pytest.approx(expected), slow["alert"]
        assert quick["expr"] == slow["expr"]
    assert all(g["interval"] == "1s" for g in fast["groups"])
    assert "interval" not in doc["groups"][0], "derive must not change its input"

    path = tmp_path / "alerts.fast.yml"
    path.write_text(variant.dump(fast), encoding="utf-8")
    result = run(tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


WINDOW = re.compile(r"\[(\d+[a-z]+)\]")


@pytest.mark.parametrize("path", [ALERTS, RECORDING], ids=lambda p: p.name)
def test_fast_variant_divides_range_windows(path: Path, tmp_path: Path) -> None:
    doc = load(path)
    fast = variant.derive(doc, range_divisor=60)
    slow_rules = [r for g in doc["groups"] for r in g["rules"]]
    fast_rules = [r for g in fast["groups"] for r in g["rules"]]
    divided = 0
    for slow, quick in zip(slow_rules, fast_rules, strict=True):
        texts = [("expr", slow["expr"], quick["expr"])] + [
            (key, text, quick["annotations"][key])
            for key, text in (slow.get("annotations") or {}).items()
        ]
        for key, before, after in texts:
            windows = [variant.parse_duration(w) / 60 for w in WINDOW.findall(before)]
            assert [variant.parse_duration(w) for w in WINDOW.findall(after)] == windows, key
            assert WINDOW.sub("[]", after) == WINDOW.sub("[]", before), "only windows change"
            divided += len(windows)
        assert quick.get("for") == slow.get("for"), "range_divisor leaves for: alone"
    assert divided > 0, "the control: the committed rules do have range windows"

    out = tmp_path / path.name
    out.write_text(variant.dump(fast), encoding="utf-8")
    result = run(tool("promtool"), "check", "rules", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rate(x[5m])", "rate(x[5s])"),
        ("max_over_time(x[10m:1m])", "max_over_time(x[10s:1s])"),
        ("max_over_time(x[1h:])", "max_over_time(x[60s:])"),
        ('x{a=~"[0-9]"}', 'x{a=~"[0-9]"}'),  # a regex character class is not a window
        ("x[90s]", "x[1500ms]"),
    ],
)
def test_divide_windows(text: str, expected: str) -> None:
    assert variant.divide_windows(text, 60) == expected


def test_divide_windows_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="below 1ms"):
        variant.divide_windows("rate(x[1s])", 10_000)
    with pytest.raises(ValueError, match="range_divisor"):
        variant.derive(load(ALERTS), range_divisor=0)


def test_variant_cli_range_divisor(tmp_path: Path) -> None:
    out = tmp_path / "alerts.yml"
    argv = [str(ALERTS), "-o", str(out), "--for-divisor", "60", "--range-divisor", "60"]
    assert variant.main(argv) == 0
    derived = {r["alert"]: r for g in load(out)["groups"] for r in g["rules"]}
    assert "[5s]" in derived["CcgwGatewayErrorRatioHigh"]["expr"]
    assert "[5m]" not in derived["CcgwGatewayErrorRatioHigh"]["expr"]
    assert derived["CcgwGatewayErrorRatioHigh"]["for"] == "10s"


def test_variant_job_regex_and_runbook_base(tmp_path: Path) -> None:
    out = tmp_path / "alerts.yml"
    argv = [str(ALERTS), "-o", str(out), "--for", "2s", "--exporter-job", "ccgw-prod"]
    argv += ["--probe-job", "ccgw-prod-gw", "--runbook-base-url", "https://git.example.org/ccgw/"]
    assert variant.main(argv) == 0
    derived = {r["alert"]: r for g in load(out)["groups"] for r in g["rules"]}
    assert derived["CcgwExporterDown"]["expr"].strip() == (
        'max by (instance) (up{job=~"ccgw-prod", job!~"ccgw-prod-gw"} == 0)'
    )
    assert 'up{job=~"ccgw-prod", job=~"ccgw-prod-gw"} == 0' in derived["CcgwProbeFailed"]["expr"]
    assert derived["CcgwTargetDown"]["expr"] == 'up{job=~"ccgw-prod"} == 0'
    text = out.read_text(encoding="utf-8")
    assert ".*ccgw.*" not in text
    assert ".*probe.*" not in text
    assert {r["for"] for r in derived.values()} == {"2s"}
    assert derived["CcgwGatewayUnreachable"]["annotations"]["runbook_url"] == (
        "https://git.example.org/ccgw/docs/alerts.md#ccgwgatewayunreachable"
    )
    assert variant.DEFAULT_RUNBOOK_BASE not in text
    result = run(tool("promtool"), "check", "rules", str(out))
    assert result.returncode == 0, result.stdout + result.stderr


def test_variant_quotes_a_job_regex() -> None:
    fast = variant.derive(load(ALERTS), exporter_job='a"b\\.c')
    rules = [r for g in fast["groups"] for r in g["rules"]]
    (down,) = [r for r in rules if r.get("alert") == "CcgwExporterDown"]
    assert 'job=~"a\\"b\\\\.c"' in down["expr"]


def test_variant_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="exporter"):
        variant.derive(load(RECORDING), exporter_job="x")
    with pytest.raises(ValueError, match="probe"):
        variant.derive(load(RECORDING), probe_job="x")
    with pytest.raises(ValueError, match="not both"):
        variant.derive(load(ALERTS), for_divisor=2, for_value="1s")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("500ms", 0.5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1d", 86400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert variant.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1.5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        variant.parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5s"), (0.25, "250ms"), (0, "0s"), (600, "600s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert variant.format_duration(seconds) == text


# ----------------------------------------------------------------------------- Alertmanager


def test_alertmanager_example_is_valid() -> None:
    result = run(tool("amtool"), "check-config", str(ALERTMANAGER_EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("severity=critical", "alertname=CcgwGatewayUnreachable"), "ccgw-oncall"),
        (("severity=critical", "alertname=CcgwExporterDown"), "ccgw-oncall"),
        (("severity=none", "alertname=CcgwTargetDown"), "ccgw-null"),
        (("severity=info", "alertname=CcgwDiscoveryUnavailable"), "ccgw-team"),
        (("severity=warning", "alertname=CcgwGatewayErrorRatioHigh"), "ccgw-team"),
        (("severity=info", "alertname=CcgwConferenceSingleParticipant"), "ccgw-team"),
    ],
)
def test_alertmanager_example_routes_by_severity(labels: tuple[str, ...], receiver: str) -> None:
    result = run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_EXAMPLE}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_alertmanager_example_groups_by_gateway() -> None:
    route = load(ALERTMANAGER_EXAMPLE)["route"]
    assert set(route["group_by"]) >= {"alertname", "gateway"}
    severities = {m for r in route["routes"] for m in r["matchers"]}
    assert {f'severity="{s}"' for s in SEVERITIES} <= severities
    receivers = {r["name"]: r for r in load(ALERTMANAGER_EXAMPLE)["receivers"]}
    assert set(receivers["ccgw-null"]) == {"name"}, "the inhibition source notifies nobody"


def matches(matchers: list[str], labels: dict[str, str]) -> bool:
    """Alertmanager's matcher strings (name="v", name=~"re", name!~"re") against labels."""
    for matcher in matchers:
        found = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', matcher)
        assert found, matcher
        name, op, value = found.groups()
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not ok:
            return False
    return True


def test_alertmanager_example_mutes_every_held_alert_while_its_target_is_down() -> None:
    """Held alerts carry the value of before the outage (ALERTS' 1): while their target is
    down, CcgwTargetDown mutes them; the outage's own alerts stay audible."""
    (rule,) = [
        r
        for r in load(ALERTMANAGER_EXAMPLE)["inhibit_rules"]
        if r["source_matchers"] == ['alertname="CcgwTargetDown"']
    ]
    assert rule["equal"] == ["job", "instance"]
    for name in EXPECTED_ALERTS:
        muted = matches(rule["target_matchers"], {"alertname": name})
        assert muted == (name not in SCRAPE_ALERTS), name


# ----------------------------------------------------------------------------- the guards


#: Each blind-state guard of the rules, and how to disable it: the unit tests must notice.
GUARDS = {
    "the outage guard of the error-ratio alerts": (
        'unless on (job, instance, gateway)\n              max_over_time(ALERTS{alertname="'
        'CcgwGatewayUnreachable", alertstate="firing"}[10m])',
        "",
    ),
    "nothing new while the target is down": ("unless on (job, instance) up == 0", ""),
    "held while the target is down": (
        "and on (job, instance) up == 0",
        "and on (job, instance) up == 7",
    ),
    "conferences held while the collection is incomplete": (
        "and on (job, instance, gateway) ccgw_collection_complete == 0",
        "and on (job, instance, gateway) ccgw_collection_complete == 7",
    ),
    "101-004 on discovery is no error": (
        'retcode!~"0|100-002|100-008|101-004"',
        'retcode!~"0|100-002|100-008"',
    ),
    "one alert per exporter": ("max by (instance) (", "max by (job, instance) ("),
}


def test_every_guard_is_proven_by_a_unit_test(tmp_path: Path) -> None:
    """prometheus/tests/guards.test.yml fails when a guard is taken out: each one is proven,
    not decoration. One rule file per guard taken out, their unit tests run side by side."""
    binary = tool("promtool")
    text = ALERTS.read_text(encoding="utf-8")
    unit_tests = (RULES / "tests" / "guards.test.yml").read_text(encoding="utf-8")
    running: dict[str, subprocess.Popen[str]] = {}
    for n, (guard, (found, replacement)) in enumerate(sorted(GUARDS.items())):
        assert found in text, guard
        directory = tmp_path / f"mutant{n}"
        (directory / "tests").mkdir(parents=True)
        rules = directory / "alerts.rules.yml"
        rules.write_text(text.replace(found, replacement), encoding="utf-8")
        assert run(binary, "check", "rules", str(rules)).returncode == 0, f"{guard}: invalid"
        (directory / "tests" / "guards.test.yml").write_text(unit_tests, encoding="utf-8")
        running[guard] = subprocess.Popen(
            [binary, "test", "rules", str(directory / "tests" / "guards.test.yml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    unnoticed = [guard for guard, process in running.items() if process.wait(120) == 0]
    assert not unnoticed, "no unit test notices these taken out"
