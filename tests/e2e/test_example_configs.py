"""The configuration files of the end-to-end run, and the Prometheus example in the docs,
pass the vendors' own checkers; the Alertmanager config proven end to end is the example's.

No processes are started here: these are quick, and they say which file is wrong when the
end-to-end stack refuses to start.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import DEFAULT_LISTEN_ADDRESS
from prometheus import variant

from . import configs

pytestmark = pytest.mark.e2e

DOCS = configs.ROOT / "docs" / "dashboards.md"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def check(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_of_the_e2e_run_passes_amtool(amtool: str, tmp_path: Path) -> None:
    path = configs.write_yaml(
        tmp_path / "alertmanager.yml", configs.alertmanager_config("http://127.0.0.1:9")
    )
    check(amtool, "check-config", str(path))


def test_alertmanager_config_of_the_e2e_run_is_the_example_sped_up() -> None:
    """Routes, matchers, grouping, receivers and inhibitions are the example's; only the
    waits and the webhook hosts differ."""

    def shape(doc: dict[str, Any]) -> str:
        text = yaml.safe_dump(doc, sort_keys=True)
        text = re.sub(r"(group_wait|group_interval|repeat_interval|resolve_timeout): .*", "", text)
        return re.sub(r"url: http://[^/]+", "url: http://HOST", text)

    example = yaml.safe_load(configs.ALERTMANAGER_EXAMPLE.read_text(encoding="utf-8"))
    fast = configs.alertmanager_config("http://127.0.0.1:9")
    assert shape(fast) == shape(example)
    (info,) = [r for r in fast["route"]["routes"] if r["matchers"] == ['severity="info"']]
    assert info["group_interval"] == configs.GROUP_INTERVAL, "info: 30m in the example"
    urls = [w["url"] for r in fast["receivers"] for w in r.get("webhook_configs", [])]
    assert urls
    assert all(u.startswith("http://127.0.0.1:9/alerts/") for u in urls)


def test_prometheus_config_of_the_e2e_run_passes_promtool(promtool: str, tmp_path: Path) -> None:
    """promtool check config also loads and checks the fast rule files it names."""
    rules = configs.write_fast_rules(tmp_path)
    path = configs.write_yaml(
        tmp_path / "prometheus.yml",
        configs.prometheus_config("127.0.0.1:9865", "127.0.0.1:9093", rules),
    )
    check(promtool, "check", "config", str(path))
    fast = [r for g in yaml.safe_load(rules[1].read_text())["groups"] for r in g["rules"]]
    assert {r["for"] for r in fast} == {"0s", "1s", "5s", "10s", "15s"}


def docs_prometheus_config() -> dict[str, Any]:
    blocks = [yaml.safe_load(b) for b in YAML_BLOCK.findall(DOCS.read_text(encoding="utf-8"))]
    found = [b for b in blocks if isinstance(b, dict) and "rule_files" in b]
    assert len(found) == 1, "docs/dashboards.md: one prometheus.yml example with rule_files"
    doc: dict[str, Any] = found[0]
    return doc


def test_docs_prometheus_example_passes_promtool(promtool: str, tmp_path: Path) -> None:
    """The example in docs/dashboards.md, with its rule_files pointed at the repository's."""
    doc = docs_prometheus_config()
    by_name = {path.name: path for path in configs.RULE_FILES}
    doc["rule_files"] = [str(by_name[Path(p).name]) for p in doc["rule_files"]]
    assert sorted(doc["rule_files"]) == sorted(str(p) for p in configs.RULE_FILES)
    path = configs.write_yaml(tmp_path / "prometheus.yml", doc)
    check(promtool, "check", "config", str(path))


def test_docs_prometheus_example_scrapes_the_exporter_as_the_alerts_expect() -> None:
    (job,) = docs_prometheus_config()["scrape_configs"]
    matcher = re.fullmatch(r'job=~"(.*)"', variant.EXPORTER_JOB_MATCHER)
    assert matcher is not None
    assert re.fullmatch(matcher.group(1), job["job_name"]), "CcgwExporterDown would not see it"
    default_port = DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1]
    targets = [t for c in job["static_configs"] for t in c["targets"]]
    assert all(t.endswith(f":{default_port}") for t in targets), targets
