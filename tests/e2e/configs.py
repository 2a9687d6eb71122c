"""The configuration files of the end-to-end stack, derived from what the repository ships.

The rules are the committed ones in their fast variant (prometheus.variant: every `for:` and
every range window divided by 60, groups evaluated every second), and the Alertmanager
configuration is examples/alertmanager.yml with its webhook URLs pointed at the test's
receiver and its waits shortened: its routes, grouping and inhibitions are the ones proven.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from prometheus import variant

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER_EXAMPLE = ROOT / "examples" / "alertmanager.yml"
RULE_FILES = (variant.RECORDING_FILE, variant.ALERTS_FILE)

#: Production durations divided by this: `for: 5m` -> 5s, `rate(...[5m])` -> `[5s]`.
SPEEDUP = 60
JOB = "ccgw"
SCRAPE_INTERVAL = "1s"
#: Alertmanager timings of the test: notify a second after the first alert of a group and
#: a second after any change; never repeat an unchanged group while the test runs.
GROUP_WAIT = "1s"
GROUP_INTERVAL = "1s"
REPEAT_INTERVAL = "1h"
RESOLVE_TIMEOUT = "10s"
#: Password of the simulators' inspector account, given to the exporter by environment.
PASSWORD_ENV = "CCGW_E2E_PASSWORD"
#: Password of the simulators' ordinary agent (account 154).
AGENT_PASSWORD_ENV = "CCGW_E2E_AGENT_PASSWORD"
#: The scrape jobs of the README's two variants: /metrics; /probe and collect[]=exporter.
PROBE_JOB = "ccgw-probe"
EXPORTER_JOB = "ccgw-exporter"


@dataclass(frozen=True)
class ExporterGateway:
    """One gateway entry of the exporter's config file."""

    name: str
    url: str
    agent_id: str
    ca_file: str | None = None
    participant_metrics: bool = False
    password_env: str = PASSWORD_ENV
    #: take a session over on 100-002 (the exporter's own, after a crash)
    force_on_conflict: bool = False


def exporter_config(
    gateways: Sequence[ExporterGateway], listen_address: str = "127.0.0.1:0"
) -> dict[str, Any]:
    entries = []
    for gateway in gateways:
        entry: dict[str, Any] = {
            "name": gateway.name,
            "url": gateway.url,
            "agent_id": gateway.agent_id,
            "password_env": gateway.password_env,
            "timeout": "5s",  # the scrape's timeout header (1s - 0.5s) is the real deadline
        }
        if gateway.ca_file:
            entry["tls"] = {"ca_file": gateway.ca_file}
        if gateway.participant_metrics:
            entry["participants"] = {"metrics": True, "address": "masked"}
        if gateway.force_on_conflict:
            entry["force_on_conflict"] = True
        entries.append(entry)
    return {"web": {"listen_address": listen_address}, "gateways": entries}


def write_fast_rules(directory: Path) -> list[Path]:
    """The committed rule files in their fast variant, written under `directory`."""
    paths = []
    for source in RULE_FILES:
        path = directory / source.name.replace(".rules.yml", ".fast.rules.yml")
        path.write_text(
            variant.derive_file(
                source,
                for_divisor=SPEEDUP,
                range_divisor=SPEEDUP,
                group_interval=SCRAPE_INTERVAL,
            ),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def probe_jobs(exporter_address: str, gateways: Sequence[str]) -> list[dict[str, Any]]:
    """The README's second scrape variant for one exporter: /probe per gateway (instance =
    gateway name, the exporter's address put back by relabeling) and its own metrics."""
    return [
        {
            "job_name": PROBE_JOB,
            "metrics_path": "/probe",
            "static_configs": [{"targets": list(gateways)}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": exporter_address},
            ],
        },
        {
            "job_name": EXPORTER_JOB,
            "params": {"collect[]": ["exporter"]},
            "static_configs": [{"targets": [exporter_address]}],
        },
    ]


def prometheus_config(
    exporter_address: str | Sequence[str],
    alertmanager_address: str,
    rule_files: Sequence[Path],
    extra_jobs: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Scrape the exporters' /metrics every second with a 1 s timeout (so each collection gets
    0.5 s) as job `ccgw`, plus `extra_jobs`; evaluate every second, send alerts to the one
    Alertmanager."""
    addresses = [exporter_address] if isinstance(exporter_address, str) else list(exporter_address)
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
        },
        "rule_files": [str(path) for path in rule_files],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager_address]}]}],
        },
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": addresses}]},
            *extra_jobs,
        ],
    }


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes") or []:
        yield from _routes(child)


def alertmanager_config(webhook_base: str) -> dict[str, Any]:
    """examples/alertmanager.yml, with every webhook URL moved to `webhook_base` (its path
    kept, so the test can tell which receiver was called) and every wait shortened."""
    doc: dict[str, Any] = yaml.safe_load(ALERTMANAGER_EXAMPLE.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    doc.setdefault("global", {})["resolve_timeout"] = RESOLVE_TIMEOUT
    root = doc["route"]
    root.update(
        group_wait=GROUP_WAIT, group_interval=GROUP_INTERVAL, repeat_interval=REPEAT_INTERVAL
    )
    for route in _routes(root):
        for key, fast in (
            ("group_wait", GROUP_WAIT),
            ("group_interval", GROUP_INTERVAL),
            ("repeat_interval", REPEAT_INTERVAL),
        ):
            if key in route:
                route[key] = fast
    moved = 0
    for receiver in doc.get("receivers", []):
        for webhook in receiver.get("webhook_configs") or []:
            webhook["url"] = webhook_base.rstrip("/") + urlsplit(webhook["url"]).path
            moved += 1
    if moved == 0:
        raise ValueError(f"{ALERTMANAGER_EXAMPLE} has no webhook receiver to point at the test")
    return doc


def receiver_paths() -> dict[str, str]:
    """Receiver name -> the path of its webhook URL in the example."""
    doc = yaml.safe_load(ALERTMANAGER_EXAMPLE.read_text(encoding="utf-8"))
    return {
        receiver["name"]: urlsplit(webhook["url"]).path
        for receiver in doc.get("receivers", [])
        for webhook in receiver.get("webhook_configs") or []
    }


def write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
