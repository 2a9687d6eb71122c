"""The ccgw dashboards, as code, in English and (translated by grafana/i18n.py) in Chinese.
Regenerate the committed JSON after any change here:

    python -m grafana.build            # writes grafana/dashboards/*.json
    python -m grafana.build --check    # exit 1 when a committed file differs from the code

Rules every query follows (tests/test_dashboards.py checks them, and runs every query against a
real Prometheus holding both scrape variants and a dead exporter):

- It selects on the job, instance and gateway variables, and uses only the exporter's metric
  names (and the recording rules of prometheus/recording.rules.yml).
- It counts each gateway once whichever jobs are selected: the README's two scrape variants
  (/metrics and /probe) give every gateway series twice, under two jobs, so everything is
  aggregated `max by (gateway, ...)`, never summed over job or instance. (Two copies of one
  counter have the same rate; `max` keeps one.) The exporter's own metrics, which have no
  gateway label, are aggregated by instance.
- The first row never says "No data" because the exporter is down: the exporter's `up` is there
  (red when down), and the other stats fall back to -1, shown as "No data from the exporter",
  for every gateway seen in the dashboard's time range.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grafana.activity import activity
from grafana.common import ACTIVITY_UID, CONFERENCE_UID, DASHBOARD_DIR, OVERVIEW_UID
from grafana.conference import conference
from grafana.i18n import to_chinese
from grafana.overview import overview

if TYPE_CHECKING:
    from collections.abc import Callable

    from grafana.panels import JSON

__all__ = [
    "ACTIVITY_UID",
    "CONFERENCE_UID",
    "DASHBOARDS",
    "DASHBOARD_DIR",
    "ENGLISH",
    "OVERVIEW_UID",
]


#: File name -> the function that builds the (English) dashboard.
ENGLISH: dict[str, Callable[[], JSON]] = {
    "ccgw-overview.json": overview,
    "ccgw-conference.json": conference,
    "ccgw-activity.json": activity,
}


def _chinese(build: Callable[[], JSON]) -> Callable[[], JSON]:
    def translated() -> JSON:
        return to_chinese(build())

    return translated


#: Every committed dashboard: the English set and, next to it, the Chinese set (same code,
#: translated by grafana/i18n.py, uid and file name suffixed with the language).
DASHBOARDS: dict[str, Callable[[], JSON]] = {
    **ENGLISH,
    **{name.replace(".json", ".zh-CN.json"): _chinese(build) for name, build in ENGLISH.items()},
}


def render(board: JSON) -> str:
    """The committed form of a dashboard: sorted keys, two-space indent, final newline."""
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.build", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 when a file differs"
    )
    parser.add_argument("--out", type=Path, default=DASHBOARD_DIR, help="output directory")
    args = parser.parse_args(argv)

    stale = []
    for name, text in rendered().items():
        path: Path = args.out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run python -m grafana.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
