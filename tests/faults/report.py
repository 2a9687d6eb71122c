"""The fault suite's report: one row per fault, printed as a table at the end of the run.

Rows are collected while the tests run (`record`) and printed by the `pytest_terminal_summary`
hook in this directory's conftest, so `make test` shows what was measured and
docs/reliability.md can be refreshed from the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

ROWS: list[Row] = []


@dataclass(frozen=True, slots=True)
class Row:
    fault: str
    scrapes: int  # scrapes made from the fault's start to the first one after it cleared
    answered: int  # of those, answered 200 within the scrape timeout
    slowest: float  # seconds, the slowest of those scrapes
    up_during: str  # what ccgw_up said about the faulty gateway while the fault lasted
    recovered: float  # seconds from the fault clearing to a scrape answering ccgw_up 1
    log_lines: int  # lines logged about the faulty gateway over those scrapes


def record(row: Row) -> None:
    ROWS.append(row)


def table(rows: list[Row]) -> str:
    """A Markdown table, so the same text goes to the terminal and to the docs."""
    header = (
        "| fault | scrapes answered | slowest scrape | ccgw_up during fault "
        "| seconds to recover | log lines |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.fault} | {r.answered}/{r.scrapes} | {r.slowest:.2f} s | {r.up_during} "
            f"| {r.recovered:.2f} | {r.log_lines} |"
        )
    return "\n".join(lines)
