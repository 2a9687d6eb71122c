"""CC-Gateway / Conference activity: starts, ends, durations, overruns (issue 16)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grafana.common import (
    ACTIVITY_UID,
    RATE,
    TAGS,
    common_variables,
    dashboard_links,
    per_gateway,
)
from grafana.panels import (
    Board,
    Query,
    dashboard,
    fixed_color,
    heatmap,
    override,
    selector,
    stat,
    thresholds,
    timeseries,
)

if TYPE_CHECKING:
    from grafana.panels import JSON


def recorded(rule: str, *labels: str, matchers: tuple[str, ...] = ()) -> str:
    """A recording rule of prometheus/recording.rules.yml, once per gateway."""
    return per_gateway(selector(rule, *matchers), *labels)


ENDED_1H = "gateway_outcome:ccgw_conferences_ended:increase1h"


def activity() -> JSON:
    """Conference activity: how many start and end, how long they last, how many run over.

    From the exporter's activity counters and histograms; the "per hour" panels read the
    hourly recording rules (prometheus/recording.rules.yml, group ccgw-activity), so Prometheus
    must load them.
    """
    b = Board()
    b.row("Last hour")

    def total(expr: str) -> str:
        return f"sum({expr})"

    b.add(
        stat(
            "Started in the last hour",
            "Conferences first seen in the last hour, over the selected gateways "
            "(gateway:ccgw_conferences_started:increase1h). Conferences shorter than the scrape "
            "interval can be missed.",
            [Query(total(recorded("gateway:ccgw_conferences_started:increase1h")), "started")],
            unit="short",
            decimals=0,
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Ended in the last hour",
            "Conferences gone from a complete answer in the last hour, within or over their "
            "applied duration. A conference missing because its batch failed has not ended.",
            [Query(total(recorded(ENDED_1H, "outcome")), "ended")],
            unit="short",
            decimals=0,
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Ended over their applied duration",
            "Share of the conferences ended in the last hour that had run past the duration "
            "they were created for when last seen. No data: none ended.",
            [
                Query(
                    total(recorded(ENDED_1H, "outcome", matchers=('outcome="over_applied"',)))
                    + f" / ({total(recorded(ENDED_1H, 'outcome'))} > 0)",
                    "over applied",
                )
            ],
            unit="percentunit",
            decimals=0,
            steps=thresholds((None, "green"), (0.1, "orange"), (0.25, "red")),
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Median duration (last hour)",
            "Median final duration of the conferences that ended in the last hour, per gateway "
            "(gateway:ccgw_conference_duration_seconds:p50_rate1h).",
            [Query(recorded("gateway:ccgw_conference_duration_seconds:p50_rate1h"), "{{gateway}}")],
            unit="s",
        ),
        6,
        4,
    )

    b.row("Starts and ends")
    b.add(
        timeseries(
            "Conferences started and ended per hour",
            "Started, and ended by outcome (within_applied: within their applied duration, "
            "over_applied: past it), each over the hour before the point.",
            [
                Query(
                    recorded("gateway:ccgw_conferences_started:increase1h"), "{{gateway}} started"
                ),
                Query(recorded(ENDED_1H, "outcome"), "{{gateway}} ended {{outcome}}"),
            ],
            unit="short",
            overrides=[
                override("byRegexp", ".* over_applied", {"color": fixed_color("red")}),
                override("byRegexp", ".* within_applied", {"color": fixed_color("green")}),
            ],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Over-applied ratio",
            "Share of the conferences ended in the hour before each point that had run past "
            "their applied duration (gateway:ccgw_conferences_ended_over_applied:"
            "ratio_increase1h). Gaps: no conference ended.",
            [
                Query(
                    recorded("gateway:ccgw_conferences_ended_over_applied:ratio_increase1h"),
                    "{{gateway}}",
                )
            ],
            unit="percentunit",
            steps=thresholds((None, "green"), (0.1, "orange"), (0.25, "red")),
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Prolongations and timeout warnings per hour",
            "Applied durations raised while the conference ran (prolongtime), and the "
            "gateway's AgentConf_Timeout warnings that a conference's time is nearly up.",
            [
                Query(
                    recorded("gateway:ccgw_conference_prolongations:increase1h"),
                    "{{gateway}} prolongations",
                ),
                Query(
                    recorded("gateway:ccgw_conference_timeout_warnings:increase1h"),
                    "{{gateway}} timeout warnings",
                ),
            ],
            unit="short",
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Participants joined and left per hour",
            "Participants that appeared in and disappeared from conferences between "
            "collections, those of ended conferences included.",
            [
                Query(
                    recorded("gateway:ccgw_conference_participants_joined:increase1h"),
                    "{{gateway}} joined",
                ),
                Query(
                    recorded("gateway:ccgw_conference_participants_left:increase1h"),
                    "{{gateway}} left",
                ),
            ],
            unit="short",
        ),
        12,
        8,
    )

    b.row("Durations")

    def buckets(metric: str) -> str:
        """Conferences ended per hour by bucket, each gateway once, summed over gateways."""
        return "sum by (le) (" + per_gateway(f"rate({selector(metric)}{RATE})", "le") + ") * 3600"

    b.add(
        heatmap(
            "Duration of ended conferences",
            "How long the conferences that ended ran (ccgw_conference_duration_seconds; whole "
            "minutes as the gateway counts them, up to its 1440-minute limit). Colour: "
            "conferences per hour ending in that duration bucket.",
            Query(buckets("ccgw_conference_duration_seconds_bucket"), "{{le}}"),
            unit="s",
        ),
        12,
        9,
    )
    b.add(
        heatmap(
            "Share of applied duration used at the end",
            "Elapsed over applied duration of the conferences that ended, when last seen "
            "(ccgw_conference_applied_share). Rows above 1 ran past the time they were created "
            "for.",
            Query(buckets("ccgw_conference_applied_share_bucket"), "{{le}}"),
            unit="percentunit",
            scheme="Reds",
        ),
        12,
        9,
    )
    b.add(
        timeseries(
            "Duration p50 / p90 and mean",
            "Final duration of the conferences that ended in the hour before each point.",
            [
                Query(
                    recorded("gateway:ccgw_conference_duration_seconds:p50_rate1h"),
                    "{{gateway}} p50",
                ),
                Query(
                    recorded("gateway:ccgw_conference_duration_seconds:p90_rate1h"),
                    "{{gateway}} p90",
                ),
                Query(
                    recorded("gateway:ccgw_conference_duration_seconds:mean_rate1h"),
                    "{{gateway}} mean",
                ),
            ],
            unit="s",
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Share of applied duration used, p50 / p90",
            "Share of the applied duration the conferences that ended in the hour before each "
            "point had used; dashed line at 100%. Not clipped: above 100% they ran over.",
            [
                Query(
                    recorded("gateway:ccgw_conference_applied_share:p50_rate1h"),
                    "{{gateway}} p50",
                ),
                Query(
                    recorded("gateway:ccgw_conference_applied_share:p90_rate1h"),
                    "{{gateway}} p90",
                ),
            ],
            unit="percentunit",
            steps=thresholds((None, "green"), (1, "red")),
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Peak participants p50 / p90",
            "Most participants seen at once in the conferences that ended in the hour before "
            "each point (ccgw_conference_peak_participants).",
            [
                Query(
                    recorded("gateway:ccgw_conference_peak_participants:p50_rate1h"),
                    "{{gateway}} p50",
                ),
                Query(
                    recorded("gateway:ccgw_conference_peak_participants:p90_rate1h"),
                    "{{gateway}} p90",
                ),
            ],
            unit="short",
        ),
        12,
        8,
    )
    b.add(
        heatmap(
            "Peak participants of ended conferences",
            "Most participants seen at once per ended conference. Colour: conferences per hour "
            "ending with that peak.",
            Query(buckets("ccgw_conference_peak_participants_bucket"), "{{le}}"),
            unit="short",
            scheme="Blues",
        ),
        12,
        8,
    )

    return dashboard(
        uid=ACTIVITY_UID,
        title="CC-Gateway / Conference activity",
        description=(
            "How many conferences start and end on Huawei CC-Gateways, how long they last and "
            "how many run over, from ccgw-exporter's activity counters."
        ),
        board=b,
        variables=common_variables(),
        links=dashboard_links(),
        time_from="now-24h",
        tags=TAGS,
    )
