"""CC-Gateway / Conference detail: one conference, chosen by the conf_id variable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grafana.common import (
    CONFERENCE_UID,
    DASHED_RED,
    SHARE_STEPS,
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
    label_values_variable,
    override,
    selector,
    stat,
    state_timeline,
    table,
    thresholds,
    timeseries,
    value_mappings,
)

if TYPE_CHECKING:
    from grafana.panels import JSON


def conference_selector(metric: str, *matchers: str) -> str:
    return selector(metric, 'conf_id="$conf_id"', *matchers)


def conference() -> JSON:
    """Conference detail: one conference, chosen by the conf_id variable."""
    c = conference_selector

    def one(metric: str, *labels: str, matchers: tuple[str, ...] = ()) -> str:
        return per_gateway(c(metric, *matchers), "conf_id", *labels)

    share = per_gateway(
        f"{c('ccgw_conference_elapsed_duration_seconds')} / "
        f"({c('ccgw_conference_applied_duration_seconds')} > 0)",
        "conf_id",
    )
    b = Board()

    b.add(
        stat(
            "State",
            "confState: talking (normal conference talk) or announcement (playing an "
            "announcement to the conference).",
            [Query(f"{one('ccgw_conference_state', 'state')} == 1", "{{gateway}}: {{state}}")],
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
            [Query(one("ccgw_conference_participants"), "{{gateway}}")],
            unit="short",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Held",
            "Participants of the conference whose channel is held.",
            [Query(one("ccgw_conference_channels", matchers=('state="held"',)), "{{gateway}}")],
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
            [Query(one("ccgw_conference_elapsed_duration_seconds"), "{{gateway}}")],
            unit="s",
        ),
        4,
        4,
    )
    b.add(
        stat(
            "Applied duration used",
            "Elapsed over applied duration (applyConfTime); above 100% the conference has run "
            "past the time it was created for.",
            [Query(share, "{{gateway}}")],
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
            [Query(f"{one('ccgw_conference_start_timestamp_seconds')} * 1000", "{{gateway}}")],
            unit="dateTimeAsIso",
        ),
        4,
        4,
    )

    b.add(
        timeseries(
            "Participants over time",
            "Participants in the conference.",
            [Query(one("ccgw_conference_participants"), "{{gateway}}")],
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
            [Query(one("ccgw_conference_state", "state"), "{{gateway}} {{state}}")],
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
            [Query(one("ccgw_conference_channels", "state"), "{{gateway}} {{state}}")],
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
            [Query(one("ccgw_conference_channel_modes", "mode"), "{{gateway}} {{mode}}")],
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
                Query(one("ccgw_conference_elapsed_duration_seconds"), "{{gateway}} elapsed"),
                Query(one("ccgw_conference_applied_duration_seconds"), "{{gateway}} applied"),
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
            "(CcgwConferenceNearAppliedDuration) and 100% (CcgwConferenceOverAppliedDuration). "
            "The axis grows past 100% with the conference.",
            [Query(share, "{{gateway}}")],
            unit="percentunit",
            steps=SHARE_STEPS,
        ),
        12,
        8,
    )
    participant_labels = (
        "address",
        "address_type",
        "role",
        "channel_state",
        "mode",
        "device_type",
        "device_call_type",
    )
    b.add(
        table(
            "Participant list",
            "One row per participant, from ccgw_participant_info and "
            "ccgw_participant_enter_timestamp_seconds. Empty unless the exporter runs with "
            "participant metrics turned on (they are opt-in: addresses are phone numbers).",
            [
                Query(one("ccgw_participant_info", *participant_labels)),
                Query(f"{one('ccgw_participant_enter_timestamp_seconds', 'address')} * 1000"),
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
                            "conf_id": True,
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
        tags=TAGS,
    )
