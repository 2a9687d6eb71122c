"""Read the dashboards back as PromQL: for tests that run every panel query for real.

    from grafana.queries import iter_queries, load_dashboard

    board = load_dashboard("ccgw-overview.json")
    for title, expr in iter_queries(board, {"job": "ccgw", "instance": "127.0.0.1:9465",
                                            "gateway": "gw1"}):
        ...  # GET /api/v1/query?query=expr

Variables are substituted the way Grafana does for Prometheus: `$name`, `${name}` and
`${name:format}` (format ignored). A `str` value is inserted verbatim (it lands inside
`=~"..."` matchers, so it may be a regex); a list of values becomes `(a|b)` with regex
metacharacters escaped, as Grafana renders a multi-value selection. Grafana's built-ins
`$__rate_interval`, `$__interval` and `$__range` default to `BUILTIN_DEFAULTS` and can be
given like any variable. An unknown variable raises KeyError, so a typo in a dashboard
cannot pass as an empty string.

The module also holds `CONTRACT`, the metric names the exporter emits, and
`metric_names(expr)`, which the dashboard and rule tests use to check every name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

#: Values for Grafana's built-in interval variables when the caller gives none.
BUILTIN_DEFAULTS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}

#: The exporter's metric contract: name -> Prometheus type.
CONTRACT: dict[str, str] = {
    "ccgw_up": "gauge",
    "ccgw_collection_duration_seconds": "gauge",
    "ccgw_collection_timeout_seconds": "gauge",
    "ccgw_collection_age_seconds": "gauge",
    "ccgw_collection_failed_requests": "gauge",
    "ccgw_session_signed_in": "gauge",
    "ccgw_conferences": "gauge",
    "ccgw_conferences_requested": "gauge",
    "ccgw_conferences_truncated": "gauge",
    "ccgw_participants": "gauge",
    "ccgw_channels": "gauge",
    "ccgw_conference_state": "gauge",
    "ccgw_conference_participants": "gauge",
    "ccgw_conference_channels": "gauge",
    "ccgw_conference_channel_modes": "gauge",
    "ccgw_conference_start_timestamp_seconds": "gauge",
    "ccgw_conference_applied_duration_seconds": "gauge",
    "ccgw_conference_elapsed_duration_seconds": "gauge",
    "ccgw_participant_info": "gauge",
    "ccgw_participant_enter_timestamp_seconds": "gauge",
    "ccgw_responses_total": "counter",
    "ccgw_request_errors_total": "counter",
    "ccgw_request_duration_seconds": "histogram",
    "ccgw_session_sign_ins_total": "counter",
    "ccgw_session_guid_renewals_total": "counter",
    "ccgw_build_info": "gauge",
    "ccgw_config_last_reload_successful": "gauge",
    "ccgw_config_last_reload_success_timestamp_seconds": "gauge",
    "ccgw_conference_ids": "gauge",
    "ccgw_collection_skipped_entries": "gauge",
    "ccgw_discovery_failures_total": "counter",
    "ccgw_exporter_asyncio_tasks": "gauge",
    # Round 2 (CONTRACT.md): partial collections, the account's kind, contention.
    "ccgw_collection_complete": "gauge",
    "ccgw_conferences_stale": "gauge",
    "ccgw_conferences_stale_age_seconds": "gauge",
    "ccgw_conference_ids_dropped": "gauge",
    "ccgw_session_info": "gauge",
    "ccgw_session_conflicts_total": "counter",
    "ccgw_session_backoff_seconds": "gauge",
    "ccgw_conference_timeout_warnings_total": "counter",
    # Conference activity (issue 16).
    "ccgw_conferences_started_total": "counter",
    "ccgw_conferences_ended_total": "counter",
    "ccgw_conference_duration_seconds": "histogram",
    "ccgw_conference_applied_share": "histogram",
    "ccgw_conference_peak_participants": "histogram",
    "ccgw_conference_prolongations_total": "counter",
    "ccgw_conference_participants_joined_total": "counter",
    "ccgw_conference_participants_left_total": "counter",
    # The exporter's own HTTP listener (no gateway label).
    "ccgw_exporter_http_connections": "gauge",
    "ccgw_exporter_http_rejected_total": "counter",
}

#: Families without a `gateway` label: the exporter's own (dashboards select them by job and
#: instance only, and deduplicate them by instance).
EXPORTER_SCOPE: frozenset[str] = frozenset(
    {
        "ccgw_build_info",
        "ccgw_config_last_reload_successful",
        "ccgw_config_last_reload_success_timestamp_seconds",
        "ccgw_exporter_asyncio_tasks",
        "ccgw_exporter_http_connections",
        "ccgw_exporter_http_rejected_total",
    }
)


def series_names() -> frozenset[str]:
    """Every series name the contract allows in a query (histograms with their suffixes)."""
    names: set[str] = set()
    for name, kind in CONTRACT.items():
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return frozenset(names)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_CLAUSES = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])\s*(\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
     "bool", "offset", "inf", "nan"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a plain scan, not a full parser)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("{}", text)
    text = _CLAUSES.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


class Target(NamedTuple):
    """One panel target of a dashboard."""

    panel_title: str
    ref_id: str
    expr: str
    instant: bool


def load_dashboard(name: str | Path) -> dict[str, Any]:
    """A committed dashboard, by file name under grafana/dashboards/ or by path."""
    path = Path(name)
    if not path.exists():
        path = DASHBOARD_DIR / path
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows nest their panels


def iter_targets(dashboard: Mapping[str, Any]) -> Iterator[Target]:
    """Every target of every panel, variables left in place."""
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" in target:
                yield Target(
                    panel_title=panel.get("title", ""),
                    ref_id=target.get("refId", ""),
                    expr=target["expr"],
                    instant=bool(target.get("instant", False)),
                )


_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")


def _render(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return value
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", item) for item in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, variables: Mapping[str, str | Sequence[str]]) -> str:
    """`expr` with every Grafana variable replaced; KeyError names one that is not given."""
    values: dict[str, str | Sequence[str]] = {**BUILTIN_DEFAULTS, **variables}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"dashboard variable ${name} has no value (in {expr!r})")
        return _render(values[name])

    return _VARIABLE.sub(replace, expr)


def iter_queries(
    dashboard: Mapping[str, Any], variables: Mapping[str, str | Sequence[str]]
) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL with variables substituted) for every panel target."""
    for target in iter_targets(dashboard):
        yield target.panel_title, substitute(target.expr, variables)


def iter_variable_queries(
    dashboard: Mapping[str, Any], variables: Mapping[str, str | Sequence[str]]
) -> Iterator[tuple[str, str, str]]:
    """(variable name, series selector, label) for each `label_values(selector, label)`
    template variable, with the other variables substituted: ask Prometheus's
    /api/v1/series (or /api/v1/label/<label>/values?match[]=selector) with them."""
    pattern = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.DOTALL)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        match = pattern.match(text)
        if match:
            yield variable["name"], substitute(match.group(1), variables), match.group(2)
