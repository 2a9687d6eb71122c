"""Derive a variant of the rule files: shorter `for:` and range windows, other job regexes,
another runbook address.

The committed rules carry production durations (`for: 5m` ... `15m`). An end-to-end test
cannot wait that long, so it loads a variant made by this module:

    python -m prometheus.variant --for-divisor 60 --range-divisor 60 --group-interval 1s \\
        prometheus/alerts.rules.yml -o /tmp/alerts.fast.yml      # 5m -> 5s, 15m -> 15s

or from Python:

    from prometheus.variant import derive_file
    text = derive_file("prometheus/alerts.rules.yml", for_divisor=60, range_divisor=60,
                       group_interval="1s")

Dividing keeps the order of the durations (so "near" still fires before "over"); `--for`
sets one duration for every alert instead. Range windows such as `rate(...[5m])` are left
alone by default: with a short scrape interval they fill within seconds. What they do not do
is empty quickly, so a ratio alert would stay firing for the whole window after its cause is
gone. A test that waits for alerts to resolve therefore also passes `--range-divisor`
(`[5m]` -> `[5s]` with 60), which rewrites the windows in expressions and in the queries of
annotation templates alike; `ratio_rate5m` and similar rule names keep their names.

For deployments (the knobs a Prometheus Operator mixin would take as its config):

- `--exporter-job REGEX` replaces `.*ccgw.*`, the regex every rule selects the exporter's
  scrape jobs with (`up{job=~".*ccgw.*"}`);
- `--probe-job REGEX` replaces `.*probe.*`, the regex that tells /probe jobs (one target per
  gateway) from the exporter's own jobs;
- `--runbook-base-url URL` replaces `DEFAULT_RUNBOOK_BASE` in every `runbook_url`: the links
  become `URL/docs/alerts.md#<alert>`, e.g. your mirror of the repository at the installed tag.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parent
ALERTS_FILE = RULES_DIR / "alerts.rules.yml"
RECORDING_FILE = RULES_DIR / "recording.rules.yml"

#: The matcher the rules select the exporter's scrape jobs with (CcgwExporterDown and the
#: other scrape-level alerts).
EXPORTER_JOB_MATCHER = 'job=~".*ccgw.*"'
#: The regex that marks /probe jobs among them, in `job=~"..."` and `job!~"..."` matchers.
PROBE_JOB_REGEX = ".*probe.*"
PROBE_JOB_MATCHERS = (f'job=~"{PROBE_JOB_REGEX}"', f'job!~"{PROBE_JOB_REGEX}"')
#: Where the committed rules' runbook links point: the repository's public home. A copy
#: installed elsewhere (a mirror, a tag) passes --runbook-base-url.
DEFAULT_RUNBOOK_BASE = "https://github.com/ccgw-exporter/ccgw-exporter/blob/main"
RUNBOOK_PATH = "docs/alerts.md"
RUNBOOK_PREFIX = f"{DEFAULT_RUNBOOK_BASE}/{RUNBOOK_PATH}"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
#: A range selector or subquery window: `[5m]`, `[1h30m]`, `[10m:1m]` (not `[0-9]` in a regex:
#: a duration needs a unit).
_WINDOW = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w|y))+)(?::((?:\d+(?:ms|s|m|h|d|w|y))*))?\]")


def parse_duration(text: str) -> float:
    """A Prometheus duration ("1h30m", "90s", "500ms") in seconds."""
    text = str(text).strip()
    if text == "0":
        return 0.0
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: whole seconds as "Ns", anything finer as "Nms"."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def divide_windows(text: str, divisor: float) -> str:
    """`text` with every range window (`[5m]`, and both parts of a subquery's `[10m:1m]`)
    divided by `divisor`. A window may not shrink below 1 ms: Prometheus refuses `[0s]`."""

    def shorter(duration: str) -> str:
        seconds = parse_duration(duration) / divisor
        if seconds < 0.001:
            raise ValueError(f"range window [{duration}] / {divisor:g} is below 1ms")
        return format_duration(seconds)

    def replace(match: re.Match[str]) -> str:
        window, step = match.group(1), match.group(2)
        if step is None:
            return f"[{shorter(window)}]"
        return f"[{shorter(window)}:{shorter(step) if step else ''}]"

    return _WINDOW.sub(replace, text)


def derive(
    doc: dict[str, Any],
    *,
    for_divisor: float | None = None,
    for_value: str | None = None,
    range_divisor: float | None = None,
    group_interval: str | None = None,
    exporter_job: str | None = None,
    probe_job: str | None = None,
    runbook_base_url: str | None = None,
) -> dict[str, Any]:
    """A changed copy of a loaded rule file (the `groups:` document)."""
    if for_divisor is not None and for_value is not None:
        raise ValueError("give for_divisor or for_value, not both")
    if for_divisor is not None and for_divisor <= 0:
        raise ValueError("for_divisor must be positive")
    if range_divisor is not None and range_divisor <= 0:
        raise ValueError("range_divisor must be positive")
    job_replaced = probe_replaced = False
    groups = []
    for group in doc.get("groups", []):
        group = dict(group)
        if group_interval is not None:
            parse_duration(group_interval)
            group["interval"] = group_interval
        rules = []
        for rule in group.get("rules", []):
            rule = dict(rule)
            if "for" in rule:
                if for_value is not None:
                    rule["for"] = format_duration(parse_duration(for_value))
                elif for_divisor is not None:
                    rule["for"] = format_duration(parse_duration(rule["for"]) / for_divisor)
            if exporter_job is not None and EXPORTER_JOB_MATCHER in rule.get("expr", ""):
                rule["expr"] = rule["expr"].replace(
                    EXPORTER_JOB_MATCHER, f'job=~"{_quoted(exporter_job)}"'
                )
                job_replaced = True
            if probe_job is not None and any(m in rule.get("expr", "") for m in PROBE_JOB_MATCHERS):
                for operator, matcher in zip(("=~", "!~"), PROBE_JOB_MATCHERS, strict=True):
                    rule["expr"] = rule["expr"].replace(
                        matcher, f'job{operator}"{_quoted(probe_job)}"'
                    )
                probe_replaced = True
            if range_divisor is not None:
                rule["expr"] = divide_windows(rule["expr"], range_divisor)
                if rule.get("annotations"):
                    rule["annotations"] = {
                        key: divide_windows(value, range_divisor)
                        if isinstance(value, str)
                        else value
                        for key, value in rule["annotations"].items()
                    }
            annotations: dict[str, Any] = rule.get("annotations") or {}
            url = str(annotations.get("runbook_url", ""))
            if runbook_base_url is not None and url.startswith(DEFAULT_RUNBOOK_BASE + "/"):
                rule["annotations"] = {
                    **annotations,
                    "runbook_url": runbook_base_url.rstrip("/") + url[len(DEFAULT_RUNBOOK_BASE) :],
                }
            rules.append(rule)
        group["rules"] = rules
        groups.append(group)
    if exporter_job is not None and not job_replaced:
        raise ValueError(f"no rule selects the exporter with {EXPORTER_JOB_MATCHER}")
    if probe_job is not None and not probe_replaced:
        raise ValueError(f"no rule tells /probe jobs apart with {PROBE_JOB_MATCHERS[0]}")
    return {**doc, "groups": groups}


def _quoted(regex: str) -> str:
    """`regex` as the inside of a PromQL double-quoted string."""
    return regex.replace("\\", "\\\\").replace('"', '\\"')


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (expressions, descriptions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def derive_file(path: str | Path, **options: Any) -> str:
    """`derive` applied to a rule file; returns the new file's text."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return dump(derive(doc, **options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m prometheus.variant",
        description="Write a variant of a Prometheus rule file.",
    )
    parser.add_argument("rules", type=Path, help="rule file, e.g. prometheus/alerts.rules.yml")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    durations = parser.add_mutually_exclusive_group()
    durations.add_argument(
        "--for-divisor", type=float, help="divide every `for:` by this (60: 5m -> 5s)"
    )
    durations.add_argument("--for", dest="for_value", help="set every `for:` to this duration")
    parser.add_argument(
        "--range-divisor",
        type=float,
        help="divide every range window by this (60: rate(x[5m]) -> rate(x[5s]))",
    )
    parser.add_argument("--group-interval", help="evaluation interval of every group, e.g. 1s")
    parser.add_argument(
        "--exporter-job",
        help="regex of the exporter's scrape jobs, replacing .*ccgw.* in every rule",
    )
    parser.add_argument(
        "--probe-job", help=f"regex of the /probe jobs among them, replacing {PROBE_JOB_REGEX}"
    )
    parser.add_argument(
        "--runbook-base-url",
        help=f"base of the runbook links instead of {DEFAULT_RUNBOOK_BASE} "
        f"(they become URL/{RUNBOOK_PATH}#<alert>)",
    )
    args = parser.parse_args(argv)
    try:
        text = derive_file(
            args.rules,
            for_divisor=args.for_divisor,
            for_value=args.for_value,
            range_divisor=args.range_divisor,
            group_interval=args.group_interval,
            exporter_job=args.exporter_job,
            probe_job=args.probe_job,
            runbook_base_url=args.runbook_base_url,
        )
    except ValueError as error:
        parser.error(str(error))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
