"""What the ccgw dashboards share: uids, value mappings, variables, and the query helpers that
count each gateway once and keep the first row from saying "No data" while the exporter is down
(see grafana/build.py for the rules every query follows)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grafana.panels import (
    datasource_variable,
    fixed_color,
    label_values_variable,
    selector,
    thresholds,
    value_mappings,
)

if TYPE_CHECKING:
    from grafana.panels import JSON

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

OVERVIEW_UID = "ccgw-overview"
CONFERENCE_UID = "ccgw-conference"
ACTIVITY_UID = "ccgw-activity"

RATE = "[$__rate_interval]"
#: Conferences listed in the "nearest their applied duration" table and the top-N bar gauges.
TOP_N = 15
#: getAgentEvent is a long poll (about 10 s per answer): latency panels leave it out.
NOT_LONG_POLL = 'method!="getAgentEvent"'
#: A collection older than this is not evidence of a live session: Prometheus's own staleness
#: horizon (its default lookback delta).
FRESH_COLLECTION_SECONDS = 300

#: Value of the first-row stats for a gateway seen in the time range but without data now.
BLIND = "-1"
BLIND_TEXT = ("No data from the exporter", "dark-red")
UP_MAPPINGS = value_mappings({"0": ("Down", "red"), "1": ("Up", "green")})
GATEWAY_MAPPINGS = value_mappings(
    {
        BLIND: BLIND_TEXT,
        "0": ("Down", "red"),
        "1": ("Partial", "orange"),
        "2": ("Up", "green"),
    }
)
SESSION_MAPPINGS = value_mappings(
    {
        BLIND: BLIND_TEXT,
        "0": ("Signed out", "red"),
        "1": ("Not confirmed", "orange"),
        "2": ("Signed in", "green"),
    }
)
ROLE_MAPPINGS = value_mappings(
    {
        BLIND: BLIND_TEXT,
        "0": ("Unknown", "text"),
        "1": ("Ordinary agent", "blue"),
        "2": ("Quality inspector", "green"),
    }
)
COUNT_MAPPINGS = value_mappings({BLIND: BLIND_TEXT})
SHARE_STEPS = thresholds((None, "green"), (0.9, "orange"), (1, "red"))
DASHED_RED = {
    "color": fixed_color("red"),
    "custom.fillOpacity": 0,
    "custom.lineStyle": {"dash": [10, 10], "fill": "dash"},
}
RIGHT_AXIS_SECONDS = {"unit": "s", "custom.axisPlacement": "right"}

#: Series names the variables are listed from: every ccgw target has one of them (a /probe
#: target only gateway series, a collect[]=exporter target only the exporter's own).
TARGET_SERIES = '{__name__=~"ccgw_up|ccgw_build_info"}'


# ----------------------------------------------------------------------------- query helpers


def per_gateway(expr: str, *labels: str) -> str:
    """`expr` once per gateway (and `labels`), whichever jobs and instances carry it."""
    return f"max by ({', '.join(('gateway', *labels))}) ({expr})"


def seen_gateways() -> str:
    """Every selected gateway that had data within the dashboard's time range, as 1."""
    return f"max by (gateway) (last_over_time({selector('ccgw_up')}[$__range]))"


def or_blind(expr: str) -> str:
    """`expr` (one series per gateway), or -1 for a gateway seen in the time range that has no
    data now: the exporter or its /probe scrape is down."""
    return f"{expr} or on (gateway) ({seen_gateways()} * 0 - 1)"


def gateway_state() -> str:
    """2 up and complete, 1 up but partial, 0 down (ccgw_up and ccgw_collection_complete)."""
    return per_gateway(f"{selector('ccgw_up')} * (1 + {selector('ccgw_collection_complete')})")


def session_state() -> str:
    """2 signed in and confirmed by a recent collection that reached the gateway, 1 signed in
    as far as the exporter knows but not confirmed (the gateway may have signed the idle
    account out meanwhile), 0 signed out."""
    confirmed = (
        f"{selector('ccgw_up')} * "
        f"({selector('ccgw_collection_age_seconds')} < bool {FRESH_COLLECTION_SECONDS})"
    )
    return per_gateway(f"{selector('ccgw_session_signed_in')} * (1 + {confirmed})")


def account_role() -> str:
    """2 quality inspector, 1 ordinary agent, 0 unknown (ccgw_session_info's role)."""
    roles = " or ".join(
        selector("ccgw_session_info", 'role="' + role + '"') + f" * {n}"
        for role, n in (("inspector", 2), ("agent", 1), ("unknown", 0))
    )
    return per_gateway(roles)


def common_variables() -> list[JSON]:
    return [
        datasource_variable(),
        label_values_variable("job", "Job", f"label_values({TARGET_SERIES}, job)", all_value=None),
        label_values_variable(
            "instance",
            "Instance",
            f'label_values({TARGET_SERIES[:-1]}, job=~"$job"}}, instance)',
        ),
        label_values_variable(
            "gateway",
            "Gateway",
            'label_values(ccgw_up{job=~"$job", instance=~"$instance"}, gateway)',
        ),
    ]


def dashboard_links() -> list[JSON]:
    return [
        {
            "asDropdown": False,
            "icon": "external link",
            "includeVars": True,
            "keepTime": True,
            "tags": ["ccgw", "en"],
            "targetBlank": False,
            "title": "CC-Gateway dashboards",
            "type": "dashboards",
        }
    ]


TAGS = ("ccgw", "cc-gateway", "prometheus", "en")
