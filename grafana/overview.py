"""CC-Gateway / Conferences overview: the exporter, the gateways, their conferences and calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grafana.common import (
    CONFERENCE_UID,
    COUNT_MAPPINGS,
    DASHED_RED,
    GATEWAY_MAPPINGS,
    NOT_LONG_POLL,
    OVERVIEW_UID,
    RATE,
    RIGHT_AXIS_SECONDS,
    ROLE_MAPPINGS,
    SESSION_MAPPINGS,
    SHARE_STEPS,
    TAGS,
    TOP_N,
    UP_MAPPINGS,
    account_role,
    common_variables,
    dashboard_links,
    gateway_state,
    or_blind,
    per_gateway,
    session_state,
)
from grafana.panels import (
    Board,
    Query,
    bargauge,
    dashboard,
    fixed_color,
    override,
    selector,
    shades,
    stat,
    state_timeline,
    table,
    target_selector,
    thresholds,
    timeseries,
    value_mappings,
)

if TYPE_CHECKING:
    from grafana.panels import JSON


def _share_used() -> str:
    """Per conference, elapsed over applied duration; one series per (gateway, conf_id)."""
    return per_gateway(
        selector("ccgw_conference_elapsed_duration_seconds")
        + " / ("
        + selector("ccgw_conference_applied_duration_seconds")
        + " > 0)",
        "conf_id",
    )


def _nearest_applied_table() -> JSON:
    share = f"topk({TOP_N}, {_share_used()})"

    def column(metric: str) -> str:
        return f"{per_gateway(selector(metric), 'conf_id')} and on (gateway, conf_id) {share}"

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
        "gateway may end the conference; above it, it has run over. Click a conference ID for "
        "its detail.",
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
            # A coloured number, not a gauge: a gauge stops at its max, and conferences past
            # 100 % are the ones to see.
            override(
                "byName",
                "Share used",
                {
                    "unit": "percentunit",
                    "decimals": 0,
                    "thresholds": SHARE_STEPS,
                    "color": {"mode": "thresholds"},
                    "custom.cellOptions": {"mode": "basic", "type": "color-background"},
                },
            ),
            override("byName", "Elapsed", {"unit": "s"}),
            override("byName", "Applied", {"unit": "s"}),
            override("byName", "Conference", {"links": [conference_link]}),
        ],
        sort_by="Share used",
    )


def _now_row(b: Board) -> None:
    """The first row: is the exporter scraped, is each gateway up, signed in, which account."""
    b.row("Now")
    b.add(
        stat(
            "Exporter",
            "up of every scrape target of the selected jobs: the exporter's own /metrics, and "
            "with /probe one target per gateway. Red: Prometheus cannot scrape it, and the "
            "panels of its gateways have no data (CcgwExporterDown, CcgwProbeFailed).",
            [Query(target_selector("up"), "{{job}} {{instance}}")],
            unit="short",
            mappings=UP_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Gateway",
            "Up: the last collection reached the gateway and every batch answered. Partial: "
            "some batches or ID sources failed (ccgw_collection_complete 0); their conferences "
            "are served from an earlier collection for a while. Down: nothing answered "
            "(ccgw_up 0). No data from the exporter: the gateway was seen in this time range "
            "but its scrape fails now.",
            [Query(or_blind(gateway_state()), "{{gateway}}")],
            unit="short",
            mappings=GATEWAY_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Session",
            "Signed in: the account is signed in and a collection younger than 5 minutes "
            "reached the gateway with it. Not confirmed: the exporter holds a session but the "
            "gateway did not answer, so it may have signed the idle account out. Signed out: "
            "no session (ccgw_session_signed_in 0).",
            [Query(or_blind(session_state()), "{{gateway}}")],
            unit="short",
            mappings=SESSION_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Account",
            "The monitoring account's role (ccgw_session_info): a quality inspector sees every "
            "conference of its VDN; an ordinary agent only its own (discovery refused with "
            "101-004, alert CcgwDiscoveryUnavailable); unknown until discovery has answered or "
            "with discovery off.",
            [Query(or_blind(account_role()), "{{gateway}}")],
            unit="short",
            mappings=ROLE_MAPPINGS,
            color_mode="background",
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Conferences now",
            "Conferences the gateway reported in the last collection, those served from an "
            "earlier one included.",
            [Query(or_blind(per_gateway(selector("ccgw_conferences"))), "{{gateway}}")],
            unit="short",
            mappings=COUNT_MAPPINGS,
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Participants now",
            "Participants over all conferences.",
            [Query(or_blind(per_gateway(selector("ccgw_participants"))), "{{gateway}}")],
            unit="short",
            mappings=COUNT_MAPPINGS,
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Held participants now",
            "Participants whose channel is held, over all conferences.",
            [
                Query(
                    or_blind(per_gateway(selector("ccgw_channels", 'state="held"'))),
                    "{{gateway}}",
                )
            ],
            unit="short",
            mappings=COUNT_MAPPINGS,
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        6,
        4,
    )
    b.add(
        stat(
            "Stale conferences now",
            "Conferences served from an earlier collection because their batch failed in the "
            "last one (ccgw_conferences_stale). Above 0 for long: CcgwCollectionPartial.",
            [Query(or_blind(per_gateway(selector("ccgw_conferences_stale"))), "{{gateway}}")],
            unit="short",
            mappings=COUNT_MAPPINGS,
            steps=thresholds((None, "green"), (1, "orange")),
        ),
        6,
        4,
    )
    b.add(
        state_timeline(
            "Exporter, gateways and sessions over time",
            "Scrape targets (red: not scraped), gateways (orange: partial collections, red: "
            "down) and sessions (orange: not confirmed, red: signed out). Gaps in a gateway's "
            "lane: no data from the exporter at that time.",
            [
                Query(target_selector("up"), "{{job}} {{instance}}"),
                Query(gateway_state(), "{{gateway}} gateway"),
                Query(session_state(), "{{gateway}} session"),
            ],
            unit="short",
            mappings=UP_MAPPINGS,
            overrides=[
                override("byFrameRefID", "B", {"mappings": GATEWAY_MAPPINGS}),
                override("byFrameRefID", "C", {"mappings": SESSION_MAPPINGS}),
            ],
        ),
        24,
        6,
    )


def _conferences_row(b: Board) -> None:
    b.row("Conferences")
    b.add(
        timeseries(
            "Conferences and participants",
            "Conferences the gateway reported and participants over all of them.",
            [
                Query(per_gateway(selector("ccgw_conferences")), "{{gateway}} conferences"),
                Query(per_gateway(selector("ccgw_participants")), "{{gateway}} participants"),
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
            [Query(per_gateway(selector("ccgw_channels"), "state"), "{{gateway}} {{state}}")],
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
                    f"topk({TOP_N}, "
                    f"{per_gateway(selector('ccgw_conference_participants'), 'conf_id')})",
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
            [Query(per_gateway(selector("ccgw_channels", 'state="held"')), "{{gateway}}")],
            unit="short",
            decimals=0,
            overrides=[override("byRegexp", ".*", {"color": fixed_color("orange")})],
        ),
        12,
        8,
    )
    held_per_conference = per_gateway(
        selector("ccgw_conference_channels", 'state="held"'), "conf_id"
    )
    b.add(
        bargauge(
            "Conferences with held participants",
            f"The {TOP_N} conferences with the most participants on hold right now.",
            [
                Query(
                    f"topk({TOP_N}, {held_per_conference} > 0)",
                    "{{gateway}} · {{conf_id}}",
                )
            ],
            unit="short",
            steps=thresholds((None, "orange")),
        ),
        12,
        8,
    )


def _calls_row(b: Board) -> None:
    b.row("Gateway calls")

    def answers(*matchers: str) -> str:
        responses = selector("ccgw_responses_total", *matchers)
        return per_gateway(f"rate({responses}{RATE})", "method", "retcode")

    ok = answers('retcode="0"')
    # `> 0`: the exporter counts every documented retcode from 0; only those that occurred.
    failed = answers('retcode!="0"') + " > 0"

    b.add(
        timeseries(
            "Gateway answers per second by method and retcode",
            'Answers by vendor method and result code. Green shades: retcode "0" (success); '
            "red shades: any other retcode that occurred (see docs/alerts.md for their "
            "meaning).",
            [
                Query(ok, "{{gateway}} {{method}} {{retcode}}"),
                Query(failed, "{{gateway}} {{method}} {{retcode}}"),
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
            'Only answers whose retcode is not "0", from their first occurrence on (the '
            "exporter counts every documented retcode from 0). 000-003: Guid expired or no "
            "permission; 100-006: not signed in; 100-007: gateway internal error; 101-004: the "
            "account is not a quality inspector; invalid: not a retcode at all.",
            [Query(failed, "{{gateway}} {{method}} {{retcode}}")],
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
            "http_status (e.g. a load balancer's 502, or a redirect), decode (not the "
            "vendor's JSON) or too_large (above max_response_size).",
            [
                Query(
                    per_gateway(
                        f"rate({selector('ccgw_request_errors_total')}{RATE})", "method", "reason"
                    ),
                    "{{gateway}} {{method}} {{reason}}",
                )
            ],
            unit="reqps",
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Gateway warnings per hour",
            "AgentConf_Timeout events (the gateway warns that a conference's applied time is "
            "nearly used up; only conferences the account takes part in) and session conflicts "
            "(another client signed in as the account: CcgwSessionContention).",
            [
                Query(
                    per_gateway(f"rate({selector('ccgw_conference_timeout_warnings_total')}{RATE})")
                    + " * 3600",
                    "{{gateway}} timeout warnings",
                ),
                Query(
                    per_gateway(f"rate({selector('ccgw_session_conflicts_total')}{RATE})")
                    + " * 3600",
                    "{{gateway}} session conflicts",
                ),
            ],
            unit="short",
            overrides=[override("byFrameRefID", "B", {"color": fixed_color("red")})],
        ),
        12,
        8,
    )
    buckets = selector("ccgw_request_duration_seconds_bucket", NOT_LONG_POLL)

    def latency(q: str) -> str:
        return f"histogram_quantile({q}, {per_gateway(f'rate({buckets}{RATE})', 'method', 'le')})"

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


def _collections_row(b: Board) -> None:
    b.row("Collections and session")
    sign_ins = selector("ccgw_session_sign_ins_total")
    renewals = selector("ccgw_session_guid_renewals_total")
    b.add(
        timeseries(
            "Collection duration against its timeout",
            "Wall time of each collection (solid) and the deadline applied to it (dashed): the "
            "lower of the gateway's timeout and the scrape timeout minus 0.5 s. Above 80% of "
            "the deadline the alert CcgwCollectionNearTimeout fires. Age: how old the "
            "collection served was, above 0 only when share_window answered a scrape with an "
            "earlier collection.",
            [
                Query(
                    per_gateway(selector("ccgw_collection_duration_seconds")),
                    "{{gateway}} duration",
                ),
                Query(
                    per_gateway(selector("ccgw_collection_timeout_seconds")),
                    "{{gateway}} timeout",
                ),
                Query(per_gateway(selector("ccgw_collection_age_seconds")), "{{gateway}} age"),
            ],
            unit="s",
            overrides=[override("byFrameRefID", "B", DASHED_RED)],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Conferences requested, reported, truncated and dropped",
            "Distinct conference IDs asked for, conferences the gateway answered, those left "
            "out of the per-conference series by max_conferences (truncated), and IDs not "
            "asked for at all because of max_ids (dropped).",
            [
                Query(per_gateway(selector("ccgw_conferences_requested")), "{{gateway}} requested"),
                Query(per_gateway(selector("ccgw_conferences")), "{{gateway}} reported"),
                Query(per_gateway(selector("ccgw_conferences_truncated")), "{{gateway}} truncated"),
                Query(per_gateway(selector("ccgw_conference_ids_dropped")), "{{gateway}} dropped"),
            ],
            unit="short",
            decimals=0,
            overrides=[
                override("byFrameRefID", "C", {"color": fixed_color("orange")}),
                override("byFrameRefID", "D", {"color": fixed_color("red")}),
            ],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Stale conferences and their age",
            "Conferences served from an earlier collection because their batch failed "
            "(ccgw_conferences_stale, left axis) and the age of the oldest of them (right "
            "axis). They are kept for conferences.keep_stale_for, then left out until a batch "
            "answers.",
            [
                Query(per_gateway(selector("ccgw_conferences_stale")), "{{gateway}} stale"),
                Query(
                    per_gateway(selector("ccgw_conferences_stale_age_seconds")),
                    "{{gateway}} oldest age",
                ),
            ],
            unit="short",
            decimals=0,
            overrides=[override("byFrameRefID", "B", RIGHT_AXIS_SECONDS)],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Failed calls per collection",
            "Gateway calls that failed within one collection (any reason, any retcode).",
            [Query(per_gateway(selector("ccgw_collection_failed_requests")), "{{gateway}}")],
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
                    per_gateway(f"rate({sign_ins}{RATE})", "retcode") + " * 60 > 0",
                    "{{gateway}} sign-in {{retcode}}",
                ),
                Query(
                    per_gateway(f"rate({renewals}{RATE})") + " * 60",
                    "{{gateway}} Guid renewals",
                ),
            ],
            unit="opm",
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Session conflicts and back-off",
            "Conflicts per hour: the session was taken by another sign-in as the same agent "
            "soon after the exporter's own (CcgwSessionContention). Back-off (right axis): "
            "seconds until the exporter may sign in again.",
            [
                Query(
                    per_gateway(f"rate({selector('ccgw_session_conflicts_total')}{RATE})")
                    + " * 3600",
                    "{{gateway}} conflicts per hour",
                ),
                Query(
                    per_gateway(selector("ccgw_session_backoff_seconds")),
                    "{{gateway}} back-off",
                ),
            ],
            unit="short",
            overrides=[
                override("byFrameRefID", "A", {"color": fixed_color("red")}),
                override("byFrameRefID", "B", RIGHT_AXIS_SECONDS),
            ],
        ),
        12,
        8,
    )
    b.add(
        table(
            "Accounts",
            "The monitoring account of each gateway (ccgw_session_info): agent ID, VDN (from "
            "the sign-in answer), the gateway node that issued its Guid, and its role.",
            [Query(per_gateway(selector("ccgw_session_info"), "agent_id", "vdn", "node", "role"))],
            unit="short",
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True},
                        "indexByName": {
                            "gateway": 0,
                            "agent_id": 1,
                            "role": 2,
                            "vdn": 3,
                            "node": 4,
                        },
                        "renameByName": {
                            "agent_id": "Agent ID",
                            "gateway": "Gateway",
                            "node": "Node",
                            "role": "Role",
                            "vdn": "VDN",
                        },
                    },
                }
            ],
            overrides=[
                override(
                    "byName",
                    "Role",
                    {
                        "mappings": value_mappings(
                            {
                                "inspector": ("Quality inspector", "green"),
                                "agent": ("Ordinary agent", "blue"),
                                "unknown": ("Unknown", "text"),
                            }
                        ),
                        "custom.cellOptions": {"type": "color-text"},
                    },
                )
            ],
        ),
        12,
        8,
    )
    b.add(
        timeseries(
            "Exporter connections and refused requests",
            "Open connections to the exporter's port (ccgw_exporter_http_connections) and "
            "requests it refused per minute by reason: connection_limit, header_timeout, "
            "auth_busy (verification queue full), unauthorized.",
            [
                Query(
                    f"max by (instance) ({target_selector('ccgw_exporter_http_connections')})",
                    "{{instance}} connections",
                ),
                Query(
                    "max by (instance, reason) "
                    f"(rate({target_selector('ccgw_exporter_http_rejected_total')}{RATE})) * 60",
                    "{{instance}} refused {{reason}}",
                ),
            ],
            unit="short",
            overrides=[override("byFrameRefID", "B", {"color": shades("red")})],
        ),
        24,
        7,
    )


def overview() -> JSON:
    """Conferences overview: the gateways, their conferences and the exporter's calls."""
    b = Board()
    _now_row(b)
    _conferences_row(b)
    _calls_row(b)
    _collections_row(b)
    return dashboard(
        uid=OVERVIEW_UID,
        title="CC-Gateway / Conferences overview",
        description="Conferences on Huawei CC-Gateways as seen by ccgw-exporter.",
        board=b,
        variables=common_variables(),
        links=dashboard_links(),
        tags=TAGS,
    )
