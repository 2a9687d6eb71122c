"""Pages for people: the conferences of the last collection, and a collection's own story.

The metrics answer "how many"; a new operator also asks "which conferences exist right now?"
and "what did that scrape actually do?". These pages answer both from what the exporter already
has (the last collection, its trace), without calling the gateway again:

- `/conferences` (HTML, sortable by clicking a column: the server sorts, no JavaScript) and
  `/conferences?format=json` for scripts: ID, state, participants, held, elapsed and applied
  time, start, and whether it was served fresh or from an earlier collection.
- `/probe?target=NAME&debug=true`: the collection made for that probe as plain text, in the
  spirit of blackbox_exporter's debug output: session state, each step with its outcome,
  HTTP status, retcode, batch sizes and durations, and what was served from where.

Everything shown went through the boundary (safe text) and is escaped again for HTML; no
password and no full Guid appear (the account line shows the Guid's node only).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .collector import Collection, GatewayTarget
from .gateway.models import CHANNEL_STATE_VALUES, Conference

HELD = CHANNEL_STATE_VALUES.index("held")


@dataclass(frozen=True, slots=True)
class Row:
    gateway: str
    conf_id: int
    state: str
    participants: int
    held: int
    elapsed_seconds: float | None
    applied_seconds: float | None
    start_time: float | None
    fresh: bool

    @property
    def used(self) -> float | None:
        if self.elapsed_seconds is None or not self.applied_seconds:
            return None
        return self.elapsed_seconds / self.applied_seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "conf_id": self.conf_id,
            "state": self.state,
            "participants": self.participants,
            "held": self.held,
            "elapsed_seconds": self.elapsed_seconds,
            "applied_seconds": self.applied_seconds,
            "share_used": self.used,
            "start_time": self.start_time,
            "served": "fresh" if self.fresh else "stale",
        }


COLUMNS: dict[str, str] = {
    "gateway": "gateway",
    "conf_id": "conference",
    "state": "state",
    "participants": "participants",
    "held": "held",
    "elapsed": "elapsed",
    "applied": "applied",
    "used": "used",
    "started": "started",
    "served": "served",
}


def rows_of(targets: Sequence[GatewayTarget]) -> list[Row]:
    rows: list[Row] = []
    for target in targets:
        last = target.last
        if last is None:
            continue
        fresh_count = len(last.conferences) - last.stale
        for index, conference in enumerate(last.conferences):
            rows.append(_row(target.name, conference, fresh=index < fresh_count))
    return rows


def _row(gateway: str, c: Conference, *, fresh: bool) -> Row:
    return Row(gateway, c.conf_id, c.state, c.participant_count, c.channel_counts[HELD],
               c.elapsed_seconds, c.applied_seconds, c.start_time, fresh)  # fmt: skip


def _sort_key(column: str) -> Any:
    def key(row: Row) -> tuple[Any, ...]:
        value: Any = {
            "gateway": row.gateway,
            "conf_id": row.conf_id,
            "state": row.state,
            "participants": row.participants,
            "held": row.held,
            "elapsed": row.elapsed_seconds,
            "applied": row.applied_seconds,
            "used": row.used,
            "started": row.start_time,
            "served": row.fresh,
        }[column]
        return (value is None, value if value is not None else 0, row.gateway, row.conf_id)

    return key


def sorted_rows(rows: list[Row], column: str, descending: bool) -> list[Row]:
    if column not in COLUMNS:
        column = "conf_id"
    return sorted(rows, key=_sort_key(column), reverse=descending)


def conferences_json(rows: list[Row], targets: Sequence[GatewayTarget]) -> str:
    collections = {
        t.name: {
            "finished_at": t.last.finished_at,
            "complete": t.last.complete,
            "up": t.last.up,
            "stale": t.last.stale,
        }
        for t in targets
        if t.last is not None
    }
    return json.dumps(
        {"collections": collections, "conferences": [r.to_json() for r in rows]}, indent=1
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def conferences_html(rows: list[Row], column: str, descending: bool, gateway: str) -> str:
    def link(key: str, label: str) -> str:
        desc = not descending if key == column else key not in ("conf_id", "gateway", "state")
        query = {"sort": key, "order": "desc" if desc else "asc"}
        if gateway:
            query["gateway"] = gateway
        arrow = (" ▼" if descending else " ▲") if key == column else ""
        return f'<a href="conferences?{html.escape(urlencode(query))}">{label}{arrow}</a>'

    head = "".join(f"<th>{link(key, label)}</th>" for key, label in COLUMNS.items())
    body = []
    for r in rows:
        used = "-" if r.used is None else f"{r.used:.0%}"
        started = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.start_time))
            if r.start_time is not None
            else "-"
        )
        cls = ' class="over"' if r.used is not None and r.used >= 1 else ""
        body.append(
            f"<tr{cls}><td>{html.escape(r.gateway)}</td><td>{r.conf_id}</td>"
            f"<td>{html.escape(r.state)}</td><td>{r.participants}</td><td>{r.held}</td>"
            f"<td>{_duration(r.elapsed_seconds)}</td><td>{_duration(r.applied_seconds)}</td>"
            f"<td>{used}</td><td>{started}</td><td>{'fresh' if r.fresh else 'stale'}</td></tr>"
        )
    json_query = urlencode({"format": "json", **({"gateway": gateway} if gateway else {})})
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ccgw-exporter: conferences</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}tr.over td{{color:#b00}}</style></head>
<body><h1>Conferences of the last collection</h1>
<p><a href="./">back</a> · <a href="conferences?{html.escape(json_query)}">JSON</a> ·
{len(rows)} conference(s); click a column to sort; red: at or over the applied time;
stale: kept from an earlier collection because its batch failed.</p>
<table><tr>{head}</tr>
{"".join(body) or f'<tr><td colspan="{len(COLUMNS)}">no conference</td></tr>'}
</table></body></html>
"""


def debug_text(target: GatewayTarget, collection: Collection) -> str:
    """The collection's story, line by line (blackbox_exporter's `debug=true`)."""
    session = target.session
    account = collection.account
    lines = [
        f"gateway {target.name} ({target.config.url}), agent {target.config.agent_id}",
        f"session: {session.state}"
        + (f" ({session.last_error})" if session.last_error else "")
        + f"; VDN {account.vdn or '?'}, node {account.node or '?'}, role {account.role}",
        f"collection: timeout {collection.timeout:.3f}s, took {collection.duration:.3f}s, "
        f"up={int(collection.up)}, complete={int(collection.complete)}, "
        f"failed requests {collection.failed_requests}",
    ]
    if collection.age:
        lines.append(f"served an earlier collection, {collection.age:.1f}s old (share_window)")
    lines.append("steps:")
    for step in collection.trace:
        took = f" in {step.seconds * 1000:.0f} ms" if step.seconds else ""
        detail = f": {step.detail}" if step.detail else ""
        lines.append(f"  +{step.at * 1000:7.1f} ms  {step.step:<9} {step.outcome}{took}{detail}")
    if not collection.trace:
        lines.append("  (none: the collection was shared or cut before it started)")
    by_source = ", ".join(f"{k} {v}" for k, v in collection.ids_by_source.items())
    lines.append(f"IDs: {by_source or '-'}; asked {collection.requested}"
                 + (f", {collection.ids_dropped} dropped by max_ids" if collection.ids_dropped
                    else ""))  # fmt: skip
    fresh = len(collection.conferences) - collection.stale
    lines.append(
        f"served: {len(collection.conferences)} conference(s): {fresh} fresh, "
        f"{collection.stale} stale (oldest {collection.stale_age:.1f}s), "
        f"{collection.truncated} without per-conference series (max_conferences)"
    )
    if collection.error:
        lines.append(f"error: {collection.error}")
    return "\n".join(lines) + "\n"
