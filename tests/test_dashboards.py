"""The Grafana dashboards: generated from grafana/build.py, well-formed, on the contract."""

from __future__ import annotations

import json
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
if str(ROOT) not in sys.path:  # grafana/ is not an installed package
    sys.path.insert(0, str(ROOT))

from grafana import build  # noqa: E402
from grafana.queries import (  # noqa: E402
    iter_queries,
    iter_targets,
    iter_variable_queries,
    load_dashboard,
    metric_names,
    series_names,
    substitute,
)

DASHBOARDS = sorted(build.DASHBOARDS)
FILTERS = ('job=~"$job"', 'instance=~"$instance"', 'gateway=~"$gateway"')
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SAMPLE_VARIABLES = {
    "job": "ccgw",
    "instance": "127.0.0.1:9465",
    "gateway": "gw1",
    "conf_id": "1029888",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (apt-get install prometheus)")
        pytest.skip("promtool is not installed")
    return path


@pytest.fixture(params=DASHBOARDS)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    loaded: dict[str, Any] = load_dashboard(request.param)
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def exprs(board: dict[str, Any]) -> list[str]:
    return [target.expr for target in iter_targets(board)]


# ----------------------------------------------------------------------------- generation


@pytest.mark.parametrize("name", DASHBOARDS)
def test_committed_json_is_what_the_code_generates(name: str) -> None:
    committed = (build.DASHBOARD_DIR / name).read_text(encoding="utf-8")
    assert committed == build.rendered()[name], "run: python -m grafana.build"


def test_build_check_mode_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--check"]) == 0


def test_build_writes_files(tmp_path: Path) -> None:
    assert build.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == DASHBOARDS
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / DASHBOARDS[0]).write_text("{}", encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1


# ----------------------------------------------------------------------------- structure


def test_schema_uid_and_title(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] in {build.OVERVIEW_UID, build.CONFERENCE_UID}
    assert dashboard["id"] is None
    assert dashboard["title"].startswith("CC-Gateway / ")
    assert "ccgw" in dashboard["tags"]


def test_stable_uids() -> None:
    assert load_dashboard("ccgw-overview.json")["uid"] == "ccgw-overview"
    assert load_dashboard("ccgw-conference.json")["uid"] == "ccgw-conference"


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_panel_titles_are_unique(dashboard: dict[str, Any]) -> None:
    titles = [p["title"] for p in dashboard["panels"]]
    assert len(titles) == len(set(titles))


def test_grid_positions_fit_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["w"] > 0, panel["title"]
        assert pos["h"] > 0, panel["title"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert pos["y"] >= 0, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_and_target_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_no_hard_coded_datasource_uid(dashboard: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "uid" in node and node is not dashboard:
                assert node["uid"] == "${datasource}", node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard)


def test_every_panel_has_a_unit(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]


def test_every_panel_has_a_description(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        assert panel.get("description"), panel["title"]


def test_template_variables(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance", "gateway"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == DATASOURCE
    assert variables["gateway"]["multi"] is True
    assert variables["gateway"]["includeAll"] is True
    if dashboard["uid"] == build.CONFERENCE_UID:
        assert variables["conf_id"]["type"] == "query"
        assert "conf_id)" in variables["conf_id"]["definition"]


# ----------------------------------------------------------------------------- queries


def test_metric_names_are_in_the_contract(dashboard: dict[str, Any]) -> None:
    allowed = series_names()
    for expr in exprs(dashboard):
        names = metric_names(expr)
        assert names, expr
        assert names <= allowed, f"not in the contract: {names - allowed} in {expr}"


def test_every_selector_filters_on_job_instance_and_gateway(dashboard: dict[str, Any]) -> None:
    for expr in exprs(dashboard):
        selectors = re.findall(r"\b(ccgw_\w+)(\{[^}]*\})?", expr)
        assert selectors, expr
        for name, matchers in selectors:
            assert matchers, f"{name} without matchers in {expr}"
            for matcher in FILTERS:
                assert matcher in matchers, f"{name} lacks {matcher} in {expr}"


def test_conference_detail_selects_the_conference() -> None:
    board = load_dashboard("ccgw-conference.json")
    for expr in exprs(board):
        for name, matchers in re.findall(r"\b(ccgw_\w+)(\{[^}]*\})", expr):
            assert 'conf_id="$conf_id"' in matchers, f"{name} in {expr}"


def test_rates_use_the_rate_interval(dashboard: dict[str, Any]) -> None:
    for expr in exprs(dashboard):
        for window in re.findall(r"\[[^\]]*\]", expr):
            assert window == "[$__rate_interval]", expr


def test_latency_panels_leave_out_the_long_poll(dashboard: dict[str, Any]) -> None:
    for expr in exprs(dashboard):
        if "ccgw_request_duration_seconds" in expr:
            assert 'method!="getAgentEvent"' in expr, expr


def test_overview_covers_the_brief() -> None:
    board = load_dashboard("ccgw-overview.json")
    text = "\n".join(exprs(board))
    for name in (
        "ccgw_up",
        "ccgw_session_signed_in",
        "ccgw_conferences",
        "ccgw_participants",
        "ccgw_channels",
        "ccgw_conference_participants",
        "ccgw_conference_elapsed_duration_seconds",
        "ccgw_conference_applied_duration_seconds",
        "ccgw_responses_total",
        "ccgw_request_errors_total",
        "ccgw_request_duration_seconds_bucket",
        "ccgw_collection_duration_seconds",
        "ccgw_collection_timeout_seconds",
        "ccgw_session_sign_ins_total",
        "ccgw_session_guid_renewals_total",
    ):
        assert name in text, name
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}," in text
    # Non-zero retcodes have their own target, drawn in red.
    answers = next(p for p in panels(board) if p["title"].startswith("Gateway answers"))
    nonzero = [t["refId"] for t in answers["targets"] if 'retcode!="0"' in t["expr"]]
    red = [
        o["matcher"]["options"]
        for o in answers["fieldConfig"]["overrides"]
        if o["properties"][0]["value"].get("fixedColor") == "red"
    ]
    assert nonzero
    assert nonzero == red


def test_conference_detail_has_the_participant_table() -> None:
    board = load_dashboard("ccgw-conference.json")
    table = next(p for p in panels(board) if p["type"] == "table")
    assert "ccgw_participant_info" in table["targets"][0]["expr"]


def test_panels_are_documented(dashboard: dict[str, Any]) -> None:
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert f"| {panel['title']} |" in docs, panel["title"]


# ----------------------------------------------------------------------------- query API


def test_iter_queries_substitutes_every_variable(dashboard: dict[str, Any]) -> None:
    queries = list(iter_queries(dashboard, SAMPLE_VARIABLES))
    assert len(queries) == len(exprs(dashboard))
    for title, expr in queries:
        assert title
        assert "$" not in expr, expr
        assert 'gateway=~"gw1"' in expr


def test_substitute_builtins_and_formats() -> None:
    expr = 'rate(x{a=~"$gateway", b="${conf_id}", c=~"${job:regex}"}[$__rate_interval])'
    assert substitute(expr, {"gateway": "g", "conf_id": "1", "job": "j"}) == (
        'rate(x{a=~"g", b="1", c=~"j"}[1m])'
    )
    assert substitute("[$__rate_interval] [$__interval]", {"__rate_interval": "4s"}) == (
        "[4s] [15s]"
    )


def test_substitute_multi_values_like_grafana() -> None:
    assert substitute('{g=~"$gateway"}', {"gateway": ["gw.1", "gw2"]}) == r'{g=~"(gw\\.1|gw2)"}'
    assert substitute('{g=~"$gateway"}', {"gateway": ["gw1"]}) == '{g=~"gw1"}'


def test_substitute_rejects_unknown_variables() -> None:
    with pytest.raises(KeyError, match="gatewy"):
        substitute('x{g=~"$gatewy"}', {"gateway": "gw1"})


def test_iter_variable_queries(dashboard: dict[str, Any]) -> None:
    found = {
        name: (sel, label)
        for name, sel, label in iter_variable_queries(dashboard, SAMPLE_VARIABLES)
    }
    assert found["job"] == ("ccgw_up", "job")
    assert found["gateway"] == ('ccgw_up{job=~"ccgw", instance=~"127.0.0.1:9465"}', "gateway")


def test_metric_names_scanner() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (gateway, le) (rate(ccgw_request_duration_seconds_bucket"
        '{method!="getAgentEvent"}[5m]))) / ignoring (retcode) group_left ccgw_up'
        ' and on (job) up{job=~"x"} > bool 0 or vector(1) offset 5m'
    )
    assert metric_names(expr) == {"ccgw_request_duration_seconds_bucket", "ccgw_up", "up"}


def test_queries_parse_with_promtool(dashboard: dict[str, Any], tmp_path: Path) -> None:
    binary = promtool()
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": expr}
        for i, (_, expr) in enumerate(iter_queries(dashboard, SAMPLE_VARIABLES))
    ]
    path = tmp_path / "queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}), "utf-8")
    result = subprocess.run(
        [binary, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- provisioning


def test_provisioning_files() -> None:
    provisioning = ROOT / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert datasources["apiVersion"] == 1
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((provisioning / "dashboards" / "ccgw.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path in (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")


def test_dashboards_are_plain_json() -> None:
    for name in DASHBOARDS:
        text = (build.DASHBOARD_DIR / name).read_text(encoding="utf-8")
        assert json.loads(text)["uid"]
        assert text.endswith("}\n")
