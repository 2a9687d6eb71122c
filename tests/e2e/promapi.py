"""The parts of the Prometheus and Alertmanager HTTP APIs the tests read."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class APIError(Exception):
    """Prometheus refused a query: a syntax error or an unknown function in a panel is a
    failure of that panel, not an empty result."""


def get_json(url: str, timeout: float = 5.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        raise APIError(f"{error.code} from {url}: {body}") from None


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


class PrometheusAPI:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def _get(self, path: str, **params: str | list[str]) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        body = get_json(url)
        if body.get("status") != "success":
            raise APIError(f"{path} {params}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """An instant query at now: the vector (or a scalar as one unlabelled sample)."""
        data = self._get("/api/v1/query", query=expr)
        if data["resultType"] == "vector":
            return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        raise APIError(f"{expr}: unexpected result type {data['resultType']}")

    def value(self, expr: str) -> float | None:
        """The single value of `expr` now, or None when it has none."""
        samples = self.query(expr)
        return samples[0].value if len(samples) == 1 else None

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's `label_values(match, label)` lists (it asks this same endpoint)."""
        values: list[str] = self._get(f"/api/v1/label/{label}/values", **{"match[]": [match]})
        return values

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health, last error and (for alerts) state."""
        groups = self._get("/api/v1/rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def targets_down(self) -> list[str]:
        active = self._get("/api/v1/targets")["activeTargets"]
        return [f"{t['scrapeUrl']}: {t['lastError']}" for t in active if t["health"] != "up"]

    def alert_states(self, name: str) -> str:
        """`name`'s state per label set, for failure messages."""
        lines = []
        for rule in self.rules():
            if rule.get("name") == name and rule.get("type") == "alerting":
                lines.append(f"{name} rule: state={rule['state']} health={rule['health']}")
                for alert in rule.get("alerts", []):
                    lines.append(f"  {alert['state']} {alert['labels']} since {alert['activeAt']}")
        return "\n".join(lines) or f"no alerting rule {name} loaded"


def alertmanager_alerts(base: str) -> list[dict[str, Any]]:
    """Alertmanager's current alerts, suppressed (inhibited, silenced) ones included."""
    alerts: list[dict[str, Any]] = get_json(f"{base.rstrip('/')}/api/v2/alerts")
    return alerts
