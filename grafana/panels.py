"""Typed helpers that build Grafana dashboard JSON (schemaVersion 39, Grafana 10.3 and later).

Only what the ccgw dashboards use: Prometheus targets, a handful of panel types, template
variables and a left-to-right grid layout. Every panel and target points at the `datasource`
template variable; no data source UID is ever written into a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

JSON = dict[str, Any]

SCHEMA_VERSION = 39
GRID_WIDTH = 24
DATASOURCE: JSON = {"type": "prometheus", "uid": "${datasource}"}

#: The matchers every selector carries: the dashboard's job, instance and gateway variables.
FILTER = ('job=~"$job"', 'instance=~"$instance"', 'gateway=~"$gateway"')
#: The matchers of series without a gateway label (`up`, the exporter's own metrics).
TARGET_FILTER = FILTER[:2]


def selector(metric: str, *matchers: str) -> str:
    """`metric{job=~"$job", instance=~"$instance", gateway=~"$gateway", <matchers>}`."""
    return metric + "{" + ", ".join((*FILTER, *matchers)) + "}"


def target_selector(metric: str, *matchers: str) -> str:
    """`metric{job=~"$job", instance=~"$instance", <matchers>}`: for `up` and the exporter's
    own metrics, which have no gateway label."""
    return metric + "{" + ", ".join((*TARGET_FILTER, *matchers)) + "}"


@dataclass(frozen=True)
class Query:
    """One PromQL target; `legend` is a Grafana legend format such as `{{gateway}}`."""

    expr: str
    legend: str = ""


# ----------------------------------------------------------------------------- field config


def thresholds(*steps: tuple[float | None, str]) -> JSON:
    """Absolute thresholds; the first step's value is None (the base colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def value_mappings(mapping: dict[str, tuple[str, str]]) -> list[JSON]:
    """A value mapping: raw value -> (text, colour)."""
    return [
        {
            "type": "value",
            "options": {
                raw: {"color": color, "index": index, "text": text}
                for index, (raw, (text, color)) in enumerate(mapping.items())
            },
        }
    ]


def override(matcher: str, options: str, properties: dict[str, Any]) -> JSON:
    """A field override, e.g. `override("byFrameRefID", "B", {"color": ...})`."""
    return {
        "matcher": {"id": matcher, "options": options},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def fixed_color(color: str) -> JSON:
    return {"fixedColor": color, "mode": "fixed"}


def shades(color: str) -> JSON:
    """Every series of the field in a shade of one colour (keeps series apart, keeps the hue)."""
    return {"fixedColor": color, "mode": "shades"}


# ----------------------------------------------------------------------------- targets


def _targets(queries: Sequence[Query], *, instant: bool, table: bool) -> list[JSON]:
    targets = []
    for index, query in enumerate(queries):
        target: JSON = {
            "datasource": DATASOURCE,
            "editorMode": "code",
            "expr": query.expr,
            "format": "table" if table else "time_series",
            "instant": instant,
            "legendFormat": query.legend or "__auto",
            "range": not instant,
            "refId": chr(ord("A") + index),
        }
        targets.append(target)
    return targets


def _panel(
    kind: str,
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    defaults: JSON | None = None,
    overrides: Iterable[JSON] = (),
    options: JSON | None = None,
    instant: bool = False,
    table: bool = False,
    transformations: Iterable[JSON] = (),
) -> JSON:
    panel: JSON = {
        "datasource": DATASOURCE,
        "description": description,
        "fieldConfig": {
            "defaults": {"unit": unit, **(defaults or {})},
            "overrides": list(overrides),
        },
        "options": options or {},
        "targets": _targets(queries, instant=instant, table=table),
        "title": title,
        "type": kind,
    }
    transformations = list(transformations)
    if transformations:
        panel["transformations"] = transformations
    return panel


_REDUCE_LAST: JSON = {"calcs": ["lastNotNull"], "fields": "", "values": False}


# ----------------------------------------------------------------------------- panels


def timeseries(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    stack: bool = False,
    bars: bool = False,
    fill: int = 10,
    min_value: float | None = 0,
    max_value: float | None = None,
    decimals: int | None = None,
    steps: JSON | None = None,
    overrides: Iterable[JSON] = (),
    legend_calcs: Sequence[str] = (),
) -> JSON:
    """A time series; `steps` (from `thresholds`) are drawn as dashed lines."""
    defaults: JSON = {
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "bars" if bars else "line",
            "fillOpacity": 80 if bars else (40 if stack else fill),
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if stack else "none"},
            "thresholdsStyle": {"mode": "dashed" if steps else "off"},
        },
    }
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    if decimals is not None:
        defaults["decimals"] = decimals
    if steps is not None:
        defaults["thresholds"] = steps
    options: JSON = {
        "legend": {
            "calcs": list(legend_calcs),
            "displayMode": "table" if legend_calcs else "list",
            "placement": "bottom",
            "showLegend": True,
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel(
        "timeseries",
        title,
        description,
        queries,
        unit=unit,
        defaults=defaults,
        overrides=overrides,
        options=options,
    )


def stat(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    mappings: list[JSON] | None = None,
    steps: JSON | None = None,
    text_mode: str = "value_and_name",
    color_mode: str = "value",
    decimals: int | None = None,
    overrides: Iterable[JSON] = (),
) -> JSON:
    """The latest value of each series (an instant query)."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "thresholds": steps or thresholds((None, "text")),
    }
    if mappings:
        defaults["mappings"] = mappings
    if decimals is not None:
        defaults["decimals"] = decimals
    options: JSON = {
        "colorMode": color_mode,
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": _REDUCE_LAST,
        "textMode": text_mode,
        "wideLayout": True,
    }
    return _panel(
        "stat",
        title,
        description,
        queries,
        unit=unit,
        defaults=defaults,
        overrides=overrides,
        options=options,
        instant=True,
    )


def bargauge(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: JSON | None = None,
    min_value: float = 0,
    max_value: float | None = None,
) -> JSON:
    """Horizontal bars of the latest value of each series (an instant query)."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "min": min_value,
        "thresholds": steps or thresholds((None, "blue")),
    }
    if max_value is not None:
        defaults["max"] = max_value
    options: JSON = {
        "displayMode": "gradient",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "namePlacement": "left",
        "orientation": "horizontal",
        "reduceOptions": _REDUCE_LAST,
        "showUnfilled": True,
        "sizing": "auto",
        "valueMode": "color",
    }
    return _panel(
        "bargauge",
        title,
        description,
        queries,
        unit=unit,
        defaults=defaults,
        options=options,
        instant=True,
    )


def table(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    transformations: Iterable[JSON],
    overrides: Iterable[JSON] = (),
    sort_by: str | None = None,
) -> JSON:
    """Instant queries in table format, joined by `transformations` (usually merge)."""
    options: JSON = {
        "cellHeight": "sm",
        "footer": {"countRows": False, "fields": "", "reducer": ["sum"], "show": False},
        "showHeader": True,
    }
    if sort_by:
        options["sortBy"] = [{"desc": True, "displayName": sort_by}]
    return _panel(
        "table",
        title,
        description,
        queries,
        unit=unit,
        defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
        overrides=overrides,
        options=options,
        instant=True,
        table=True,
        transformations=transformations,
    )


def state_timeline(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    mappings: list[JSON],
    overrides: Iterable[JSON] = (),
) -> JSON:
    """One lane per series, coloured by value mappings."""
    defaults: JSON = {
        "color": {"mode": "thresholds"},
        "custom": {"fillOpacity": 80, "lineWidth": 0},
        "mappings": mappings,
        "thresholds": thresholds((None, "text")),
    }
    options: JSON = {
        "alignValue": "left",
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        "mergeValues": True,
        "rowHeight": 0.9,
        "showValue": "never",
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel(
        "state-timeline",
        title,
        description,
        queries,
        unit=unit,
        defaults=defaults,
        overrides=overrides,
        options=options,
    )


def heatmap(
    title: str,
    description: str,
    query: Query,
    *,
    unit: str,
    scheme: str = "Oranges",
) -> JSON:
    """A Prometheus histogram's buckets (`... by (le)`, format heatmap) as a heatmap: one row
    per bucket, Grafana's own bucketing off. `unit` is the bucket boundaries' (the y axis)."""
    options: JSON = {
        "calculate": False,
        "cellGap": 1,
        "color": {
            "exponent": 0.5,
            "fill": "dark-orange",
            "mode": "scheme",
            "reverse": False,
            "scale": "exponential",
            "scheme": scheme,
            "steps": 64,
        },
        "exemplars": {"color": "rgba(255,0,255,0.7)"},
        "filterValues": {"le": 1e-9},
        "legend": {"show": True},
        "rowsFrame": {"layout": "auto"},
        "tooltip": {"mode": "single", "showColorScale": False, "yHistogram": True},
        "yAxis": {"axisPlacement": "left", "reverse": False, "unit": unit},
    }
    panel = _panel(
        "heatmap",
        title,
        description,
        [query],
        unit=unit,
        defaults={"custom": {"hideFrom": {"legend": False, "tooltip": False, "viz": False}}},
        options=options,
    )
    for target in panel["targets"]:
        target["format"] = "heatmap"
    return panel


# ----------------------------------------------------------------------------- variables


def datasource_variable() -> JSON:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "type": "datasource",
    }


def label_values_variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    sort: int = 1,
    all_value: str | None = ".+",
) -> JSON:
    """A `label_values(query, label)` variable, refreshed on time range change.

    Multi-value variables include "All", selected by default, which means the regex
    `all_value` (`.+`) rather than an alternation of every value Grafana happens to know;
    `all_value=None` keeps Grafana's alternation, for a variable whose "All" must not reach
    beyond the values listed (the job: `up{job=~".+"}` would be every job of Prometheus).
    """
    all_selected = {"selected": True, "text": ["All"], "value": ["$__all"]}
    variable: JSON = {
        "current": all_selected if multi else {},
        "datasource": DATASOURCE,
        "definition": query,
        "hide": 0,
        "includeAll": multi,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": sort,
        "type": "query",
    }
    if multi and all_value is not None:
        variable["allValue"] = all_value
    return variable


# ----------------------------------------------------------------------------- layout


@dataclass
class Board:
    """Places panels left to right on Grafana's 24-column grid, wrapping to a new line."""

    panels: list[JSON] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _line_height: int = 0

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self._y},
                "id": len(self.panels) + 1,
                "panels": [],
                "title": title,
                "type": "row",
            }
        )
        self._y += 1

    def add(self, panel: JSON, width: int, height: int) -> None:
        if not 0 < width <= GRID_WIDTH:
            raise ValueError(f"width {width} outside 1..{GRID_WIDTH}")
        if self._x + width > GRID_WIDTH:
            self._newline()
        panel["gridPos"] = {"h": height, "w": width, "x": self._x, "y": self._y}
        panel["id"] = len(self.panels) + 1
        self.panels.append(panel)
        self._x += width
        self._line_height = max(self._line_height, height)


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    board: Board,
    variables: Sequence[JSON],
    links: Sequence[JSON] = (),
    time_from: str = "now-6h",
    tags: Sequence[str] = ("ccgw", "cc-gateway", "prometheus"),
) -> JSON:
    return {
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": list(links),
        "liveNow": False,
        "panels": board.panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(tags),
        "templating": {"list": list(variables)},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }
