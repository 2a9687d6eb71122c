"""The ccgw dashboards, as code. Regenerate the committed JSON after any change here:

    python -m grafana.build            # writes grafana/dashboards/*.json
    python -m grafana.build --check    # exit 1 when a committed file differs from the code

Every query selects on the job, instance and gateway variables and uses only the metric
names of the exporter's contract; tests/test_dashboards.py checks both, the layout and that
the committed JSON is what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grafana.panels import (
    Board,
    Query,
    bargauge,
    dashboard,
    datasource_variable,
    fixed_color,
    label_values_variable,
    override,
    selector,
    shades,
    stat,
    state_timeline,
    table,
    thresholds,
    timeseries,
    value_mappings,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from grafana.panels import JSON

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"

OVERVIEW_UID = "ccgw-overview"
CONFERENCE_UID = "ccgw-conference"

RATE = "[$__rate_interval]"
#: Conferences listed in the "nearest their applied duration" table and the top-N bar gauges.
TOP_N = 15
#: getAgentEvent is a long poll (about 10 s per answer): latency panels leave it out.
NOT_LONG_POLL = 'method!="getAgentEvent"'

UP_MAPPINGS = value_mappings({"0": ("Down", "red"), "1": ("Up", "green")})
SESSION_MAPPINGS = value_mappings({"0": ("Signed out", "red"), "1": ("Signed in", "green")})
SHARE_STEPS = thresholds((None, "green"), (0.9, "orange"), (1, "red"))
DASHED_RED = {
    "color": fixed_color("red"),
    "custom.fillOpacity": 0,
    "custom.lineStyle": {"dash": [10, 10], "fill": "dash"},
}


def common_variables() -> list[JSON]:
    return [
        datasource_variable(),
        label_values_variable("job", "Job", "label_values(ccgw_up, job)"),
        label_values_variable(
            "instance", "Instance", 'label_values(ccgw_up{job=~"$job"}, instance)'
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
            "tags": ["ccgw"],
            "targetBlank": False,
            "title": "CC-Gateway dashboards",
            "type": "dashboards",
        }
    ]


# ----------------------------------------------------------------------------- overview


def _share_used() -> str:
    """Per conference, elapsed over applied duration; one series per (gateway, conf_id)."""
    return (
        "max by (gateway, conf_id) ("
        + selector("ccgw_conference_elapsed_duration_seconds")
        + " / ("
        + selector("ccgw_conference_applied_duration_seconds")
        + " > 0))"
    )


def _nearest_applied_table() -> JSON:
    share = f"topk({TOP_N}, {_share_used()})"

    def column(metric: str) -> str:
        return f"max by (gateway, conf_id) ({selector(metric)}) and {share}"

    conference_link = {
        "targetBlank": False,
        "title": "Conference detail",
        "url": (
            f"/d/{CONFERENCE_UID}?${{datasource:queryparam}}&${{job:queryparam}}"
            "&${instance:queryparam}&var-gateway=${__data.fields.gateway}"
            "&var-conf_id=${__value.raw}&${__url_time_range}"
        ),
    }
    return table(
        "Conferences nearest their applied duration",
        f"The {TOP_N} conferences that have used the largest share of the duration they were "
        "created for (applyConfTime; confHaveBeenTime counts in whole minutes). At 100% the "
        "gateway may end the conference. Click a conference ID for its detail.",
        [
            Query(share),
            Query(column("ccgw_conference_participants")),
            Query(column("ccgw_conference_elapsed_duration_seconds")),
            Query(column("ccgw_conference_applied_duration_seconds")),
        ],
        unit="short",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {
                        "gateway": 0,
                        "conf_id": 1,
                        "Value #B": 2,
                        "Value #C": 3,
                        "Value #D": 4,
                        "Value #A": 5,
                    },
                    "renameByName": {
                        "conf_id": "Conference",
                        "gateway": "Gateway",
                        "Value #A": "Share used",
                        "Value #B": "Participants",
                        "Value #C": "Elapsed",
                        "Value #D": "Applied",
                    },
                },
            },
        ],
        overrides=[
            override(
                "byName",
                "Share used",
                {
                    "unit": "percentunit",
                    "min": 0,
                    "max": 1,
                    "decimals": 0,
                    "thresholds": SHARE_STEPS,
                    "color": {"mode": "thresholds"},
                    "custom.cellOptions": {"mode": "gradient", "type": "gauge"},
                },
            ),
            override("byName", "Elapsed", {"unit": "s"}),
            override("byName", "Applied", {"unit": "s"}),
            override("byName", "Conference", {"links": [conference_link]}),
        ],
        sort_by="Share used",
    )


def overview() -> JSON:
    """Conferences overview: the gateways, their conferences and the exporter's calls."""
    b = Board()

    b.row("Gateways")
    b.add(
        stat(
            "Gateway reachable",
            "ccgw_up: 1 when the last collection reached the gateway with a valid session "
            "and at least one call succeeded.",
            [Query(selector("ccgw_up"), "{{gateway}}")],
            unit="short",
            mappings=UP_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Session",
            "ccgw_session_signed_in: whether the exporter's monitoring account is signed in.",
            [Query(selector("ccgw_session_signed_in"), "{{gateway}}")],
            unit="short",
            mappings=SESSION_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Conferences now",
            "Conferences the gateway reported in the last collection.",
            [Query(selector("ccgw_conferences"), "{{gateway}}")],
            unit="short",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Participants now",
            "Participants over all conferences.",
            [Query(selector("ccgw_participants"), "{{gateway}}")],
            unit="short",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Held participants now",
            "Participants whose channel is held, over all conferences.",
            [Query(selector("ccgw_channels", 'state="held"'), "{{gateway}}")],
            unit="short",
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        4,
        4,
    )
    b.add(
        state_timeline(
            "Reachability and session over time",
            "Red stretches: the gateway was unreachable (ccgw_up) or the account signed out "
            "(ccgw_session_signed_in). Gaps: the exporter itself was not scraped.",
            [
                Query(selector("ccgw_up"), "{{gateway}} reachable"),
                Query(selector("ccgw_session_signed_in"), "{{gateway}} signed in"),
            ],
            unit="short",
            mappings=UP_MAPPINGS,
        ),
        24,
        5,
    )

    b.row("Conferences")
    b.add(
        timeseries(
            "Conferences and participants",
            "Conferences the gateway reported and participants over all of them.",
            [
                Query(selector("ccgw_conferences"), "{{gateway}} conferences"),
                Query(selector("ccgw_participants"), "{{gateway}} participants"),
            ],
            unit="short",
            decimals=0,
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Channel states",
            "Participants by channel state (talking, held, announcement) over all conferences. "
            "`unknown` counts channel states outside the vendor's table.",
            [Query(selector("ccgw_channels"), "{{gateway}} {{state}}")],
            unit="short",
            decimals=0,
            overrides=[
                override("byRegexp", ".* held", {"color": fixed_color("orange")}),
                override("byRegexp", ".* unknown", {"color": fixed_color("purple")}),
            ],
        ),
        12,
        8,
    )
    b.add(_nearest_applied_table(), 14, 10)
    b.add(
        bargauge(
            "Top conferences by participants",
            f"The {TOP_N} conferences with the most participants.",
            [
                Query(
                    f"topk({TOP_N}, max by (gateway, conf_id) "
                    f"({selector('ccgw_conference_participants')}))",
                    "{{gateway}} · {{conf_id}}",
                )
            ],
            unit="short",
        ),
        10,
        10,
    )
    b.add(
        timeseries(
            "Held participants",
            "Participants on hold over all conferences. A plateau that does not go away is "
            "a caller left waiting (alert CcgwParticipantsHeldLong).",
            [Query(selector("ccgw_channels", 'state="held"'), "{{gateway}}")],
            unit="short",
            decimals=0,
            overrides=[override("byRegexp", ".*", {"color": fixed_color("orange")})],
        ),
        12,
        8,
    )
    held_per_conference = selector("ccgw_conference_channels", 'state="held"')
    b.add(
        bargauge(
            "Conferences with held participants",
            f"The {TOP_N} conferences with the most participants on hold right now.",
            [
                Query(
                    f"topk({TOP_N}, max by (gateway, conf_id) ({held_per_conference}) > 0)",
                    "{{gateway}} · {{conf_id}}",
                )
            ],
            unit="short",
            steps=thresholds((None, "orange")),
        ),
        12,
        8,
    )

    b.row("Gateway calls")

    def answers(*matchers: str) -> str:
        responses = selector("ccgw_responses_total", *matchers)
        return f"sum by (gateway, method, retcode) (rate({responses}{RATE}))"

    b.add(
        timeseries(
            "Gateway answers per second by method and retcode",
            'Answers by vendor method and result code. Green shades: retcode "0" (success); '
            "red shades: any other retcode (see docs/alerts.md for their meaning).",
            [
                Query(
                    answers('retcode="0"'),
                    "{{gateway}} {{method}} {{retcode}}",
                ),
                Query(
                    answers('retcode!="0"'),
                    "{{gateway}} {{method}} {{retcode}}",
                ),
            ],
            unit="reqps",
            overrides=[
                override("byFrameRefID", "A", {"color": shades("green")}),
                override("byFrameRefID", "B", {"color": shades("red"), "custom.lineWidth": 2}),
            ],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Non-zero result codes per second",
            'Only answers whose retcode is not "0". 000-003: Guid expired or no permission; '
            "100-006: not signed in; 100-007: gateway internal error; 101-004: the account "
            "is not a quality inspector.",
            [
                Query(
                    answers('retcode!="0"'),
                    "{{gateway}} {{method}} {{retcode}}",
                )
            ],
            unit="reqps",
            bars=True,
            overrides=[override("byFrameRefID", "A", {"color": shades("red")})],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Calls without a usable answer per second",
            "ccgw_request_errors_total by method and reason: timeout, connect, tls, "
            "http_status (e.g. a load balancer's 502) or decode (not the vendor's JSON).",
            [
                Query(
                    "sum by (gateway, method, reason) "
                    f"(rate({selector('ccgw_request_errors_total')}{RATE}))",
                    "{{gateway}} {{method}} {{reason}}",
                )
            ],
            unit="reqps",
        ),
        12,
        8,
    )
    buckets = selector("ccgw_request_duration_seconds_bucket", NOT_LONG_POLL)

    def latency(q: str) -> str:
        return f"histogram_quantile({q}, sum by (gateway, method, le) (rate({buckets}{RATE})))"

    b.add(
        timeseries(
            "Call latency p50 / p95 / p99 (without getAgentEvent)",
            "Gateway call latency from ccgw_request_duration_seconds. getAgentEvent is left "
            "out: it is a long poll that answers after about 10 s when no event is queued.",
            [
                Query(latency("0.5"), "{{gateway}} {{method}} p50"),
                Query(latency("0.95"), "{{gateway}} {{method}} p95"),
                Query(latency("0.99"), "{{gateway}} {{method}} p99"),
            ],
            unit="s",
            legend_calcs=("mean", "max"),
        ),
        24,
        9,
    )

    b.row("Collections and session")
    b.add(
        timeseries(
            "Collection duration against its timeout",
            "Wall time of each collection (solid) and the deadline applied to it (dashed). "
            "Above 80% of the deadline the alert CcgwCollectionNearTimeout fires. Age: how old "
            "the collection served was, above 0 only when share_window answered a scrape with "
            "an earlier collection.",
            [
                Query(selector("ccgw_collection_duration_seconds"), "{{gateway}} duration"),
                Query(selector("ccgw_collection_timeout_seconds"), "{{gateway}} timeout"),
                Query(selector("ccgw_collection_age_seconds"), "{{gateway}} age"),
            ],
            unit="s",
            overrides=[override("byFrameRefID", "B", DASHED_RED)],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Conferences requested, reported and truncated",
            "Distinct conference IDs asked for, conferences the gateway answered, and those "
            "left out of the per-conference series by the exporter's cap.",
            [
                Query(selector("ccgw_conferences_requested"), "{{gateway}} requested"),
                Query(selector("ccgw_conferences"), "{{gateway}} reported"),
                Query(selector("ccgw_conferences_truncated"), "{{gateway}} truncated"),
            ],
            unit="short",
            decimals=0,
            overrides=[override("byFrameRefID", "C", {"color": fixed_color("red")})],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Failed calls per collection",
            "Gateway calls that failed within one collection (any reason, any retcode).",
            [Query(selector("ccgw_collection_failed_requests"), "{{gateway}}")],
            unit="short",
            decimals=0,
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Sign-ins and Guid renewals per minute",
            "Sign-in attempts by retcode (0 success; 100-002 already signed in; 100-004 "
            "wrong password; 110-016 account locked) and Guids taken from Set-GUID. With "
            "dynamic authentication a Guid renewal about every GUIDINTERVAL (60 s) is normal.",
            [
                Query(
                    "sum by (gateway, retcode) "
                    f"(rate({selector('ccgw_session_sign_ins_total')}{RATE})) * 60",
                    "{{gateway}} sign-in {{retcode}}",
                ),
                Query(
                    "sum by (gateway) "
                    f"(rate({selector('ccgw_session_guid_renewals_total')}{RATE})) * 60",
                    "{{gateway}} Guid renewals",
                ),
            ],
            unit="opm",
        ),
        12,
        8,
    )

    return dashboard(
        uid=OVERVIEW_UID,
        title="CC-Gateway / Conferences overview",
        description="Conferences on Huawei CC-Gateways as seen by ccgw-exporter.",
        board=b,
        variables=common_variables(),
        links=dashboard_links(),
    )


# ----------------------------------------------------------------------------- conference


def conference_selector(metric: str, *matchers: str) -> str:
    return selector(metric, 'conf_id="$conf_id"', *matchers)


def conference() -> JSON:
    """Conference detail: one conference, chosen by the conf_id variable."""
    c = conference_selector
    b = Board()

    b.add(
        stat(
            "State",
            "confState: talking (normal conference talk) or announcement (playing an "
            "announcement to the conference).",
            [Query(f"{c('ccgw_conference_state')} == 1", "{{gateway}}: {{state}}")],
            unit="short",
            text_mode="name",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Participants now",
            "Participants in the conference now.",
            [Query(c("ccgw_conference_participants"), "{{gateway}}")],
            unit="short",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Held",
            "Participants of the conference whose channel is held.",
            [Query(c("ccgw_conference_channels", 'state="held"'), "{{gateway}}")],
            unit="short",
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Elapsed",
            "confHaveBeenTime: how long the conference has run (whole minutes).",
            [Query(c("ccgw_conference_elapsed_duration_seconds"), "{{gateway}}")],
            unit="s",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Applied duration used",
            "Elapsed over applied duration (applyConfTime).",
            [
                Query(
                    f"{c('ccgw_conference_elapsed_duration_seconds')} / "
                    f"({c('ccgw_conference_applied_duration_seconds')} > 0)",
                    "{{gateway}}",
                )
            ],
            unit="percentunit",
            steps=SHARE_STEPS,
            decimals=0,
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Started",
            "startTime of the conference.",
            [Query(f"{c('ccgw_conference_start_timestamp_seconds')} * 1000", "{{gateway}}")],
            unit="dateTimeAsIso",
        ),
        4,
        4,
    )

    b.add(
        timeseries(
            "Participants over time",
            "Participants in the conference.",
            [Query(c("ccgw_conference_participants"), "{{gateway}}")],
            unit="short",
            decimals=0,
        ),
        12,
        8,
    )
    b.add(
        state_timeline(
            "Conference state over time",
            "confState over time: talking or announcement.",
            [Query(c("ccgw_conference_state"), "{{gateway}} {{state}}")],
            unit="short",
            mappings=value_mappings({"0": ("", "transparent"), "1": ("current", "blue")}),
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Channel states",
            "Participants by channelState: talking, held, announcement (unknown: outside "
            "the vendor's table).",
            [Query(c("ccgw_conference_channels"), "{{gateway}} {{state}}")],
            unit="short",
            stack=True,
            decimals=0,
            overrides=[override("byRegexp", ".* held", {"color": fixed_color("orange")})],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Channel modes",
            "Participants by channelAttrib: listen, speak, listen_speak.",
            [Query(c("ccgw_conference_channel_modes"), "{{gateway}} {{mode}}")],
            unit="short",
            stack=True,
            decimals=0,
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Elapsed against applied duration",
            "confHaveBeenTime (solid) against applyConfTime (dashed), both counted in whole "
            "minutes by the gateway.",
            [
                Query(c("ccgw_conference_elapsed_duration_seconds"), "{{gateway}} elapsed"),
                Query(c("ccgw_conference_applied_duration_seconds"), "{{gateway}} applied"),
            ],
            unit="s",
            overrides=[override("byFrameRefID", "B", DASHED_RED)],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Share of applied duration used",
            "Elapsed over applied duration; dashed lines at 90% "
            "(CcgwConferenceNearAppliedDuration) and 100% (CcgwConferenceOverAppliedDuration).",
            [
                Query(
                    f"{c('ccgw_conference_elapsed_duration_seconds')} / "
                    f"({c('ccgw_conference_applied_duration_seconds')} > 0)",
                    "{{gateway}}",
                )
            ],
            unit="percentunit",
            steps=SHARE_STEPS,
            max_value=1,
        ),
        12,
        8,
    )
    b.add(
        table(
            "Participant list",
            "One row per participant, from ccgw_participant_info and "
            "ccgw_participant_enter_timestamp_seconds. Empty unless the exporter runs with "
            "participant metrics turned on (they are opt-in: addresses are phone numbers).",
            [
                Query(c("ccgw_participant_info")),
                Query(f"{c('ccgw_participant_enter_timestamp_seconds')} * 1000"),
            ],
            unit="short",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {
                            "Time": True,
                            "Value #A": True,
                            "__name__": True,
                            "conf_id": True,
                            "instance": True,
                            "job": True,
                        },
                        "indexByName": {
                            "gateway": 0,
                            "address": 1,
                            "address_type": 2,
                            "role": 3,
                            "channel_state": 4,
                            "mode": 5,
                            "device_type": 6,
                            "device_call_type": 7,
                            "Value #B": 8,
                        },
                        "renameByName": {
                            "Value #B": "Entered",
                            "address": "Address",
                            "address_type": "Type",
                            "channel_state": "Channel",
                            "device_call_type": "Call type",
                            "device_type": "Device",
                            "gateway": "Gateway",
                            "mode": "Mode",
                            "role": "Role",
                        },
                    },
                },
            ],
            overrides=[
                override("byName", "Entered", {"unit": "dateTimeAsIso"}),
                override(
                    "byName",
                    "Channel",
                    {
                        "mappings": value_mappings({"held": ("held", "orange")}),
                        "custom.cellOptions": {"type": "color-text"},
                    },
                ),
            ],
        ),
        24,
        10,
    )

    variables = [
        *common_variables(),
        label_values_variable(
            "conf_id",
            "Conference",
            "label_values(ccgw_conference_participants"
            '{job=~"$job", instance=~"$instance", gateway=~"$gateway"}, conf_id)',
            multi=False,
            sort=4,
        ),
    ]
    return dashboard(
        uid=CONFERENCE_UID,
        title="CC-Gateway / Conference detail",
        description="One conference on a Huawei CC-Gateway, as seen by ccgw-exporter.",
        board=b,
        variables=variables,
        links=dashboard_links(),
        time_from="now-3h",
    )


# ----------------------------------------------------------------------------- files

#: File name -> the function that builds the dashboard.
DASHBOARDS: dict[str, Callable[[], JSON]] = {
    "ccgw-overview.json": overview,
    "ccgw-conference.json": conference,
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
