"""The README tells the truth: its metrics table is the code's, its scrape configs load in
Prometheus, and the flags and config keys it names exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.cli import build_parser
from exporter.metrics import reference_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_metrics_reference_is_generated_from_the_code() -> None:
    match = re.search(
        r"<!-- metrics-reference:begin -->\n(.*?)<!-- metrics-reference:end -->", README, re.S
    )
    assert match, "metrics reference markers missing"
    assert match.group(1) == reference_table(), (
        "README metrics table drifted: regenerate it with `python -m exporter.metrics`"
    )


def scrape_configs() -> list[str]:
    return re.findall(r"<!-- promtool-check-config -->\n```yaml\n(.*?)```", README, re.S)


def test_readme_has_scrape_configs_for_metrics_and_probe() -> None:
    blocks = scrape_configs()
    assert len(blocks) >= 2
    assert any("metrics_path: /probe" in b and "__param_target" in b for b in blocks)


@pytest.mark.parametrize("index", range(2))
def test_scrape_configs_pass_promtool(index: int, tmp_path: Path) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing in CI")
        pytest.skip("promtool not installed")
    path = tmp_path / "prometheus.yml"
    path.write_text(scrape_configs()[index])
    result = subprocess.run([tool, "check", "config", str(path)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_flag_in_the_readme_exists() -> None:
    options = {o for action in build_parser()._actions for o in action.option_strings}
    named = set(re.findall(r"`(--[a-z][a-z.-]+)", README))
    exporter_flags = {f for f in named if f.startswith(("--config", "--web", "--log", "--demo",
                                                        "--version"))}  # fmt: skip
    assert exporter_flags <= options, exporter_flags - options


def test_every_config_key_in_the_readme_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "config.reference.yaml").read_text()
    keys = re.findall(r"^\| `((?:gateways\[\]\.|web\.)[a-z_.]+)`", README, re.M)
    assert len(keys) > 20
    for key in keys:
        leaf = key.split(".")[-1]
        assert re.search(rf"\b{leaf}:", reference), f"{key} missing from config.reference.yaml"
