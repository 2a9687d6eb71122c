"""The Grafana dashboards: generated from grafana/, well-formed, on the contract, translated, and
right in the cases of issue 13 when their queries run on a real Prometheus.

The last part builds a TSDB with `promtool tsdb create-blocks-from openmetrics` from synthetic
series: one exporter watching two gateways, scraped both ways the README shows at once
(/metrics as job `ccgw`; /probe as job `ccgw-probe` plus /metrics?collect[]=exporter as job
`ccgw-exporter`), and dying at the end. The activity dashboard's recording rules are backfilled
into it with `promtool tsdb create-blocks-from rules`. Then every panel query runs against a real
Prometheus with the variables as Grafana fills them, and must count each gateway once whichever
jobs are selected, have data while the exporter lives, and keep the first row out of
"No data" once it is dead.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # grafana/ is not an installed package
    sys.path.insert(0, str(ROOT))

from grafana import build, i18n  # noqa: E402
from grafana.queries import (  # noqa: E402
    CONTRACT,
    EXPORTER_SCOPE,
    Target,
    iter_queries,
    iter_targets,
    iter_variable_queries,
    load_dashboard,
    metric_names,
    series_names,
    substitute,
)
from grafana.zh_cn import ZH_CN  # noqa: E402
from prometheus import variant  # noqa: E402
from tests.e2e.processes import Process, find_binary, start_with_port, stop_all  # noqa: E402
from tests.e2e.promapi import PrometheusAPI, Sample  # noqa: E402
from tests.e2e.synthetic_history import (  # noqa: E402
    DEAD,
    GATEWAYS,
    JOBS_ALL,
    LIVE,
    VIEWS,
    openmetrics,
)

DASHBOARDS = sorted(build.DASHBOARDS)
ENGLISH = sorted(build.ENGLISH)
CHINESE = sorted(set(DASHBOARDS) - set(ENGLISH))
FILTERS = ('job=~"$job"', 'instance=~"$instance"', 'gateway=~"$gateway"')
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SAMPLE_VARIABLES = {
    "job": "ccgw",
    "instance": "127.0.0.1:9465",
    "gateway": "gw1",
    "conf_id": "1029888",
}
RECORDED = {
    rule["record"]
    for group in yaml.safe_load(variant.RECORDING_FILE.read_text(encoding="utf-8"))["groups"]
    for rule in group["rules"]
}


def promtool() -> str:
    return find_binary(["promtool"], "prometheus")


@pytest.fixture(params=DASHBOARDS)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    loaded: dict[str, Any] = load_dashboard(request.param)
    return loaded


def panels(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def exprs(board: Mapping[str, Any]) -> list[str]:
    return [target.expr for target in iter_targets(board)]


# ----------------------------------------------------------------------------- generation


@pytest.mark.parametrize("name", DASHBOARDS)
def test_committed_json_is_what_the_code_generates(name: str) -> None:
    committed = (build.DASHBOARD_DIR / name).read_text(encoding="utf-8")
    assert committed == build.rendered()[name], "run: python -m grafana.build"


def test_build_check_mode_passes() -> None:
    assert build.main(["--check"]) == 0


def test_build_writes_files(tmp_path: Path) -> None:
    assert build.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == DASHBOARDS
    assert build.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / DASHBOARDS[0]).write_text("{}", encoding="utf-8")
    assert build.main(["--check", "--out", str(tmp_path)]) == 1


def test_no_stray_dashboard_files() -> None:
    assert sorted(p.name for p in build.DASHBOARD_DIR.glob("*.json")) == DASHBOARDS


# ----------------------------------------------------------------------------- structure


def test_schema_uid_and_title(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39
    english = {build.OVERVIEW_UID, build.CONFERENCE_UID, build.ACTIVITY_UID}
    assert dashboard["uid"] in english | {uid + i18n.UID_SUFFIX for uid in english}
    assert len(dashboard["uid"]) <= 40, "Grafana's limit"
    assert dashboard["id"] is None
    assert dashboard["title"].startswith("CC-Gateway / ")
    assert "ccgw" in dashboard["tags"]


def test_stable_uids() -> None:
    assert load_dashboard("ccgw-overview.json")["uid"] == "ccgw-overview"
    assert load_dashboard("ccgw-conference.json")["uid"] == "ccgw-conference"
    assert load_dashboard("ccgw-activity.json")["uid"] == "ccgw-activity"
    uids = [load_dashboard(name)["uid"] for name in DASHBOARDS]
    assert len(uids) == len(set(uids))


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


def test_shares_are_not_clipped_at_100_percent(dashboard: dict[str, Any]) -> None:
    """Issue 13, case 7: "share of applied duration used" stopped at 100 %. No percent field
    may cap its axis or cell, and the table shows the share as a coloured number, not a gauge
    that stops at its max."""
    for panel in panels(dashboard):
        fields = [panel["fieldConfig"]["defaults"]] + [
            {p["id"]: p["value"] for p in o["properties"]}
            for o in panel["fieldConfig"]["overrides"]
        ]
        for field in fields:
            if field.get("unit") == "percentunit":
                assert "max" not in field, panel["title"]
                cell = field.get("custom.cellOptions", {})
                assert cell.get("type") != "gauge", panel["title"]


def test_template_variables(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance", "gateway"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == DATASOURCE
    assert variables["gateway"]["multi"] is True
    assert variables["gateway"]["includeAll"] is True
    # Job = All must mean the jobs listed (an alternation), not every job of Prometheus: the
    # exporter's `up` is selected by job alone.
    assert "allValue" not in variables["job"]
    assert "ccgw_build_info" in variables["job"]["definition"], "collect[]=exporter jobs too"
    if dashboard["uid"].startswith(build.CONFERENCE_UID):
        assert variables["conf_id"]["type"] == "query"
        assert "conf_id)" in variables["conf_id"]["definition"]


# ----------------------------------------------------------------------------- queries


def test_metric_names_are_in_the_contract(dashboard: dict[str, Any]) -> None:
    allowed = series_names() | RECORDED | {"up"}
    for expr in exprs(dashboard):
        names = metric_names(expr)
        assert names, expr
        assert names <= allowed, f"not in the contract: {names - allowed} in {expr}"


def test_recording_rules_used_by_the_dashboards_exist() -> None:
    used = {
        name
        for board in ENGLISH
        for expr in exprs(load_dashboard(board))
        for name in metric_names(expr)
        if ":" in name
    }
    assert used, "the activity dashboard reads the hourly recording rules"
    assert used <= RECORDED


def test_every_selector_filters_on_job_instance_and_gateway(dashboard: dict[str, Any]) -> None:
    """Gateway series on job, instance and gateway; `up` and the exporter's own metrics (no
    gateway label) on job and instance."""
    for expr in exprs(dashboard):
        for name in metric_names(expr):
            occurrences = re.findall(rf"(?<![\w:]){re.escape(name)}(\{{[^}}]*\}})?", expr)
            assert occurrences, (name, expr)
            for matchers in occurrences:
                assert matchers, f"{name} without matchers in {expr}"
                wanted = FILTERS[:2] if name == "up" or name in EXPORTER_SCOPE else FILTERS
                for matcher in wanted:
                    assert matcher in matchers, f"{name} lacks {matcher} in {expr}"


def test_conference_detail_selects_the_conference() -> None:
    for name in ("ccgw-conference.json", "ccgw-conference.zh-CN.json"):
        for expr in exprs(load_dashboard(name)):
            for metric, matchers in re.findall(r"\b(ccgw_\w+)(\{[^}]*\})", expr):
                assert 'conf_id="$conf_id"' in matchers, f"{metric} in {expr}"


def test_rates_use_the_rate_interval(dashboard: dict[str, Any]) -> None:
    """Rates over `$__rate_interval`; the only other window is `$__range`, for the gateways
    seen in the dashboard's time range (the first row's "No data from the exporter")."""
    for expr in exprs(dashboard):
        for window in re.findall(r"\[[^\]]*\]", expr):
            assert window in ("[$__rate_interval]", "[$__range]"), expr


def test_nothing_is_summed_over_jobs_or_instances(dashboard: dict[str, Any]) -> None:
    """Every aggregation keeps one copy per gateway: `max by (gateway, ...)`, or per exporter
    instance for the exporter's own metrics. A `sum` only adds up gateways that `max` has
    already made single (`sum(max by (gateway ...))`)."""
    for expr in exprs(dashboard):
        for match in re.finditer(r"\b(sum|avg|count)\s*(by\s*\(([^)]*)\))?\s*\(", expr):
            inner = expr[match.end() :].lstrip()
            assert inner.startswith(("max by (gateway", "max by (instance")), (
                f"{match.group(0)} over raw series in {expr}"
            )
        for by in re.findall(r"max by \(([^)]*)\)", expr):
            labels = {label.strip() for label in by.split(",")}
            assert labels & {"gateway", "instance"}, expr
            assert "job" not in labels, expr


def test_latency_panels_leave_out_the_long_poll(dashboard: dict[str, Any]) -> None:
    for expr in exprs(dashboard):
        if "ccgw_request_duration_seconds" in expr:
            assert 'method!="getAgentEvent"' in expr, expr


def test_first_row_shows_the_exporter_and_never_no_data() -> None:
    """The overview's first row: the exporter's `up` first, then every stat falls back to -1
    ("No data from the exporter") for the gateways seen in the time range."""
    board = load_dashboard("ccgw-overview.json")
    rows = [i for i, p in enumerate(board["panels"]) if p["type"] == "row"]
    assert board["panels"][0]["type"] == "row"
    first = board["panels"][1 : rows[1]]
    assert first[0]["title"] == "Exporter"
    assert first[0]["targets"][0]["expr"] == 'up{job=~"$job", instance=~"$instance"}'
    stats = [p for p in first if p["type"] == "stat"]
    for panel in stats[1:]:
        (target,) = panel["targets"]
        assert "last_over_time(ccgw_up{" in target["expr"], panel["title"]
        texts = {
            option["text"]
            for mapping in panel["fieldConfig"]["defaults"]["mappings"]
            for option in mapping["options"].values()
        }
        assert "No data from the exporter" in texts, panel["title"]


def test_overview_covers_the_brief() -> None:
    board = load_dashboard("ccgw-overview.json")
    text = "\n".join(exprs(board))
    for name in (
        "ccgw_up",
        "ccgw_collection_complete",
        "ccgw_conferences_stale",
        "ccgw_conferences_stale_age_seconds",
        "ccgw_conference_ids_dropped",
        "ccgw_session_signed_in",
        "ccgw_session_info",
        "ccgw_session_conflicts_total",
        "ccgw_session_backoff_seconds",
        "ccgw_conference_timeout_warnings_total",
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
        "ccgw_exporter_http_connections",
        "ccgw_exporter_http_rejected_total",
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


def test_activity_dashboard_covers_issue_16() -> None:
    board = load_dashboard("ccgw-activity.json")
    text = "\n".join(exprs(board))
    for name in (
        "gateway:ccgw_conferences_started:increase1h",
        "gateway_outcome:ccgw_conferences_ended:increase1h",
        "gateway:ccgw_conferences_ended_over_applied:ratio_increase1h",
        "gateway:ccgw_conference_prolongations:increase1h",
        "ccgw_conference_duration_seconds_bucket",
        "ccgw_conference_applied_share_bucket",
        "gateway:ccgw_conference_peak_participants:p50_rate1h",
    ):
        assert name in text, name
    heatmaps = [p for p in panels(board) if p["type"] == "heatmap"]
    assert len(heatmaps) >= 2
    for panel in heatmaps:
        (target,) = panel["targets"]
        assert target["format"] == "heatmap"
        assert target["legendFormat"] == "{{le}}"
        assert "sum by (le)" in target["expr"]


def test_conference_detail_has_the_participant_table() -> None:
    board = load_dashboard("ccgw-conference.json")
    table = next(p for p in panels(board) if p["type"] == "table")
    assert "ccgw_participant_info" in table["targets"][0]["expr"]


@pytest.mark.parametrize("name", ENGLISH)
def test_panels_are_documented(name: str) -> None:
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for panel in load_dashboard(name)["panels"]:
        if panel["type"] != "row":
            assert f"| {panel['title']} |" in docs, panel["title"]


def test_contract_is_the_exporters() -> None:
    """Every metric the dashboards and rules may use is one the exporter defines, with the
    same type (exporter/metrics.py is the exporter's own list)."""
    from exporter import metrics

    defined = {
        value.name: value.type
        for value in vars(metrics).values()
        if isinstance(value, metrics.MetricDef)
    }
    missing = {name for name in CONTRACT if name not in defined}
    assert not missing, f"the exporter does not define {sorted(missing)}"
    assert {name: defined[name] for name in CONTRACT} == CONTRACT


# ----------------------------------------------------------------------------- Chinese set


def test_both_sets_are_generated_in_step() -> None:
    """Each English dashboard has a Chinese twin with the same panels, queries, layout and
    variables: only texts, uid, tags and links differ."""
    assert [name.replace(".json", ".zh-CN.json") for name in ENGLISH] == CHINESE
    for name in ENGLISH:
        en = load_dashboard(name)
        zh = load_dashboard(name.replace(".json", ".zh-CN.json"))
        assert zh["uid"] == en["uid"] + i18n.UID_SUFFIX
        assert "zh-CN" in zh["tags"]
        assert "en" in en["tags"]
        assert [(t.panel_title != "", t.ref_id, t.expr, t.instant) for t in iter_targets(zh)] == [
            (True, t.ref_id, t.expr, t.instant) for t in iter_targets(en)
        ]
        assert [p["gridPos"] for p in zh["panels"]] == [p["gridPos"] for p in en["panels"]]
        assert [p["type"] for p in zh["panels"]] == [p["type"] for p in en["panels"]]
        assert [v["name"] for v in zh["templating"]["list"]] == [
            v["name"] for v in en["templating"]["list"]
        ]
        assert [link["tags"] for link in zh["links"]] == [["ccgw", "zh-CN"]]


def test_every_text_is_translated_and_every_translation_used() -> None:
    used: set[str] = set()
    for name in ENGLISH:
        texts = set(i18n.displayed_texts(load_dashboard(name)))
        assert texts - set(ZH_CN) == set(), "run: python -m grafana.i18n"
        used |= texts
        zh = load_dashboard(name.replace(".json", ".zh-CN.json"))
        translated = {text for text in texts if ZH_CN[text] != text}  # "VDN", "{{gateway}} p50"
        assert not set(i18n.displayed_texts(zh)) & translated, "English left over"
    assert set(ZH_CN) - used == set(), "translations of texts no dashboard has any more"


def test_missing_translation_is_an_error_naming_it() -> None:
    board = build.ENGLISH["ccgw-overview.json"]()
    board["panels"][1]["title"] = "A title nobody translated"
    with pytest.raises(i18n.MissingTranslation, match="A title nobody translated"):
        i18n.to_chinese(board)


#: Latin words a Chinese title may keep: names, vendor and Prometheus terms, quantiles.
KEPT_IN_TITLES = {"CC-Gateway", "VDN", "Guid", "getAgentEvent", "p50", "p90", "p95", "p99"}


@pytest.mark.parametrize("name", CHINESE)
def test_no_english_left_in_chinese_titles(name: str) -> None:
    board = load_dashboard(name)
    titles = [board["title"]] + [p["title"] for p in board["panels"]]
    titles += [v.get("label", "") for v in board["templating"]["list"]]
    for title in titles:
        words = set(re.findall(r"[A-Za-z][A-Za-z0-9-]*", title)) - KEPT_IN_TITLES
        assert not words, f"{title!r} keeps {words}"
        assert re.search(r"[\u4e00-\u9fff]", title), title


def test_translations_keep_placeholders_metric_names_and_numbers() -> None:
    for english, chinese in ZH_CN.items():
        assert re.findall(r"\{\{\s*\w+\s*\}\}", english) == re.findall(
            r"\{\{\s*\w+\s*\}\}", chinese
        ), english
        for name in re.findall(r"\bccgw_\w+|\bCcgw\w+|\b\d{3}-\d{3}\b", english):
            assert name in chinese, (name, english)
        assert re.search(r"[\u4e00-\u9fff]", chinese) or not re.search(
            r"[a-z]{3}", re.sub(r"\{\{\s*\w+\s*\}\}", "", english)
        ), english


def test_chinese_uses_the_vendors_terms() -> None:
    """The vendor's Chinese pages say 座席 (not 坐席) and 质检员; 会议 and 与会者."""
    text = "".join(ZH_CN.values())
    for term in ("座席", "质检员", "会议", "与会者", "签入", "保持", "申请会议时长"):
        assert term in text, term
    assert "坐席" not in text


def test_chinese_links_point_at_chinese_dashboards() -> None:
    board = load_dashboard("ccgw-overview.zh-CN.json")
    urls = re.findall(r'"url": "(/d/[^"?]+)', json.dumps(board))
    assert urls
    assert all(url.endswith(i18n.UID_SUFFIX) for url in urls), urls


# ----------------------------------------------------------------------------- query API


def test_iter_queries_substitutes_every_variable(dashboard: dict[str, Any]) -> None:
    queries = list(iter_queries(dashboard, SAMPLE_VARIABLES))
    assert len(queries) == len(exprs(dashboard))
    for title, expr in queries:
        assert title
        assert "$" not in expr, expr


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
    assert found["job"] == ('{__name__=~"ccgw_up|ccgw_build_info"}', "job")
    assert found["instance"] == ('{__name__=~"ccgw_up|ccgw_build_info", job=~"ccgw"}', "instance")
    assert found["gateway"] == ('ccgw_up{job=~"ccgw", instance=~"127.0.0.1:9465"}', "gateway")


def test_metric_names_scanner() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (gateway, le) (rate(ccgw_request_duration_seconds_bucket"
        '{method!="getAgentEvent"}[5m]))) / ignoring (retcode) group_left ccgw_up'
        ' and on (job) up{job=~"x"} > bool 0 or vector(1) offset 5m'
        " + gateway:ccgw_conferences_started:increase1h"
    )
    assert metric_names(expr) == {
        "ccgw_request_duration_seconds_bucket",
        "ccgw_up",
        "up",
        "gateway:ccgw_conferences_started:increase1h",
    }


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


# =========================================================================== real Prometheus
#
# The history (tests/e2e/synthetic_history.py): one exporter watches gw1 (healthy, two conferences,
# one past its applied duration) and gw2 (unreachable, but the exporter still thinks it is
# signed in), scraped with both README variants at once, then dead.


class Synthetic:
    def __init__(self, api: PrometheusAPI, start: int) -> None:
        self.api = api
        self.good = start + (LIVE - 10) * 60  # both variants live
        self.dead = start + (LIVE + DEAD - 5) * 60  # the exporter dead for 35 minutes

    def query(self, expr: str, at: float) -> list[Sample]:
        body = self.api._get("/api/v1/query", query=expr, time=str(at))
        if body["resultType"] == "scalar":
            return [Sample({}, float(body["result"][1]))]
        return [Sample(r["metric"], float(r["value"][1])) for r in body["result"]]


def _prometheus(binary: str, data: Path, workdir: Path, processes: list[Process]) -> int:
    """Start Prometheus on `data`; its port."""
    config = workdir / "prometheus.yml"
    config.write_text("global: {}\n", encoding="utf-8")

    def make(port: int) -> Process:
        process = Process(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
            ],
            workdir / "prometheus.log",
        )
        processes.append(process)
        return process

    _, port = start_with_port(make, lambda p: f"http://127.0.0.1:{p}/-/ready", 20.0)
    return port


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthetic]:
    tool = promtool()
    prometheus = find_binary(["prometheus"], "prometheus")
    workdir = tmp_path_factory.mktemp("synthetic")
    start = (int(time.time()) // 60 - (LIVE + DEAD + 30)) * 60
    source = workdir / "history.om"
    source.write_text(openmetrics(start), encoding="utf-8")
    data = workdir / "tsdb"

    def run(*argv: str) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    run(tool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data))
    processes: list[Process] = []
    try:
        # The activity dashboard reads recording rules: backfill them from the raw history.
        first = _prometheus(prometheus, data, workdir, processes)
        run(
            tool,
            "tsdb",
            "create-blocks-from",
            "rules",
            "--quiet",
            f"--url=http://127.0.0.1:{first}",
            f"--start={start}",
            f"--end={start + (LIVE + DEAD) * 60}",
            f"--output-dir={data}",
            str(variant.RECORDING_FILE),
        )
        stop_all(processes)
        second = _prometheus(prometheus, data, workdir, processes)
        yield Synthetic(PrometheusAPI(f"http://127.0.0.1:{second}"), start)
    finally:
        stop_all(processes)


def results(samples: Sequence[Sample]) -> dict[frozenset[tuple[str, str]], float]:
    """Samples as {labels: value}, NaN left out (Grafana draws nothing for it)."""
    return {
        frozenset(s.labels.items()): round(s.value, 6) for s in samples if not math.isnan(s.value)
    }


TARGETS = [(name, target) for name in ENGLISH for target in iter_targets(load_dashboard(name))]


def target_id(value: object) -> str:
    if isinstance(value, Target):
        return f"{value.panel_title} [{value.ref_id}]"
    return str(value).removesuffix(".json")


def per_scrape_target(target: Target) -> bool:
    """Queries that show each scrape target by design (the exporter's `up`)."""
    return target.expr.startswith("up{")


@pytest.mark.e2e
@pytest.mark.parametrize(("dashboard_name", "target"), TARGETS, ids=target_id)
def test_query_counts_each_gateway_once_whichever_jobs(
    synthetic: Synthetic, dashboard_name: str, target: Target
) -> None:
    """Issue 13, case 7: with both scrape variants (Job = All), rates counted twice. Every query
    gives the same numbers for Job = All as for either variant alone, and has data."""
    seen = {
        view: results(synthetic.query(substitute(target.expr, variables), synthetic.good))
        for view, variables in VIEWS.items()
    }
    assert seen["all jobs"], f"{target.panel_title}: no data\n{target.expr}"
    if per_scrape_target(target):
        jobs = {dict(labels)["job"] for labels in seen["all jobs"]}
        assert jobs == set(JOBS_ALL)
        return
    assert seen["all jobs"] == seen["/metrics only"] == seen["/probe only"], (
        f'{dashboard_name}: "{target.panel_title}" [{target.ref_id}] differs with the jobs '
        f"selected:\n  {target.expr}\n  {seen}"
    )
    for labels in seen["all jobs"]:
        assert not {"job", "instance"} & dict(labels).keys() or "ccgw_exporter_" in target.expr


@pytest.mark.e2e
def test_a_naive_sum_would_count_twice(synthetic: Synthetic) -> None:
    """The control: the check above can fail. `sum by (gateway)` over both variants doubles."""
    expr = 'sum by (gateway) (ccgw_conferences{job=~"$job", instance=~"$instance"})'
    seen = {
        view: results(synthetic.query(substitute(expr, variables), synthetic.good))
        for view, variables in VIEWS.items()
    }
    assert seen["all jobs"] != seen["/metrics only"]
    assert seen["all jobs"][frozenset({("gateway", "gw1")})] == 4


def _now_row(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = [i for i, p in enumerate(board["panels"]) if p["type"] == "row"]
    return [p for p in board["panels"][rows[0] + 1 : rows[1]] if p["type"] == "stat"]


@pytest.mark.e2e
def test_first_row_is_red_not_empty_when_the_exporter_is_dead(synthetic: Synthetic) -> None:
    """Issue 13, case 7: with the exporter down, the "Now" row said "No data". Now the
    exporter shows Down (0) for every target, and each gateway stat "No data from the
    exporter" (-1) for both gateways."""
    board = load_dashboard("ccgw-overview.json")
    for panel in _now_row(board):
        (target,) = panel["targets"]
        expr = substitute(target["expr"], VIEWS["all jobs"])
        dead = synthetic.query(expr, synthetic.dead)
        values = {frozenset(s.labels.items()): s.value for s in dead}
        assert values, f'"{panel["title"]}" shows No data while the exporter is dead'
        if panel["title"] == "Exporter":
            assert set(values.values()) == {0.0}
            assert len(values) == 4  # ccgw, ccgw-exporter and two /probe targets
        else:
            assert values == {frozenset({("gateway", gw)}): -1.0 for gw in GATEWAYS}, panel["title"]
    # The control: while it lived, the same stats had real values.
    gateway = next(p for p in _now_row(board) if p["title"] == "Gateway")
    live = synthetic.query(
        substitute(gateway["targets"][0]["expr"], VIEWS["all jobs"]), synthetic.good
    )
    assert {s.labels["gateway"]: s.value for s in live} == {"gw1": 2.0, "gw2": 0.0}


@pytest.mark.e2e
def test_session_is_not_signed_in_while_the_gateway_is_unreachable(synthetic: Synthetic) -> None:
    """Issue 13, case 7: "Session: signed in" stayed green through 11 minutes of HTTP 502.
    gw2's exporter still holds a session (ccgw_session_signed_in 1) but no collection reaches
    the gateway: the panel says "Not confirmed" (1), gw1 "Signed in" (2)."""
    board = load_dashboard("ccgw-overview.json")
    session = next(p for p in _now_row(board) if p["title"] == "Session")
    expr = substitute(session["targets"][0]["expr"], VIEWS["all jobs"])
    values = {s.labels["gateway"]: s.value for s in synthetic.query(expr, synthetic.good)}
    assert values == {"gw1": 2.0, "gw2": 1.0}
    raw = synthetic.query('ccgw_session_signed_in{job="ccgw"}', synthetic.good)
    assert {s.labels["gateway"]: s.value for s in raw} == {"gw1": 1.0, "gw2": 1.0}, "control"


@pytest.mark.e2e
def test_share_above_100_percent_reaches_the_panels(synthetic: Synthetic) -> None:
    board = load_dashboard("ccgw-overview.json")
    table = next(p for p in panels(board) if p["title"].startswith("Conferences nearest"))
    expr = substitute(table["targets"][0]["expr"], VIEWS["all jobs"])
    shares = {s.labels["conf_id"]: s.value for s in synthetic.query(expr, synthetic.good)}
    assert shares == {"101": 0.5, "102": 1.05}
