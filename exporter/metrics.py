"""The metric contract: every family the exporter emits, defined once.

The exposition renders from these definitions and the README's metrics reference is generated
from them (`python -m exporter.metrics`), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from .activity import DURATION_BUCKETS, OUTCOMES, PEAK_BUCKETS, SHARE_BUCKETS
from .gateway.errors import ERROR_REASONS
from .gateway.models import CHANNEL_MODE_VALUES, CHANNEL_STATE_VALUES, CONF_STATE_VALUES
from .gateway.stats import LATENCY_BUCKETS

MetricType = Literal["gauge", "counter", "histogram"]
Scope = Literal["gateway", "conference", "participant", "exporter"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    source: str
    scope: Scope = "gateway"

    def header(self, openmetrics: bool) -> str:
        """`# HELP`/`# TYPE` lines, computed once per family, not per scrape."""
        family = self.name
        kind: str = self.type
        if openmetrics and self.type == "counter":
            family = self.name.removesuffix("_total")
        elif openmetrics and self.name.endswith("_info"):
            family, kind = self.name.removesuffix("_info"), "info"
        return f"# HELP {family} {self.help}\n# TYPE {family} {kind}\n"


def _d(
    name: str,
    type_: MetricType,
    help_: str,
    labels: tuple[str, ...],
    source: str,
    scope: Scope = "gateway",
) -> MetricDef:
    return MetricDef(name, type_, help_, labels, source, scope)


G = ("gateway",)
C = ("gateway", "conf_id")

# fmt: off

UP = _d("ccgw_up", "gauge",
        "1 if this collection reached the gateway with a valid session and a call succeeded "
        "(partial collections too: see ccgw_collection_complete).",
        G, "session state and the calls of this collection")
COMPLETE = _d("ccgw_collection_complete", "gauge",
              "1 if every ID source and every batch answered in this collection; 0 for a "
              "partial or failed one.", G, "the calls of this collection")
STALE = _d("ccgw_conferences_stale", "gauge",
           "Conferences served from an earlier collection because their batch failed or was "
           "not asked in this one (kept for conferences.keep_stale_for).", G,
           "earlier collections")
STALE_AGE = _d("ccgw_conferences_stale_age_seconds", "gauge",
               "Age of the oldest stale conference served; 0 when none.", G, "exporter clock")
IDS_DROPPED = _d("ccgw_conference_ids_dropped", "gauge",
                 "Conference IDs not asked for in this collection because of max_ids.", G,
                 "config `max_ids`")
SESSION_INFO = _d("ccgw_session_info", "gauge",
                  "Always 1: the account's VDN, the gateway node that issued its Guid, and "
                  "its role (inspector; agent: not a quality inspector; unknown).",
                  ("gateway", "agent_id", "vdn", "node", "role"),
                  "sign-in `result.vdnid`, Guid suffix `.AgentGatewayN`, discovery (101-004)")
BACKOFF = _d("ccgw_session_backoff_seconds", "gauge",
             "Seconds until the next sign-in may be tried (back-off or damping); 0 when it "
             "may be tried now.", G, "session state")
COLLECTION_DURATION = _d("ccgw_collection_duration_seconds", "gauge",
                         "Wall time of this collection.", G, "exporter clock")
COLLECTION_TIMEOUT = _d("ccgw_collection_timeout_seconds", "gauge",
                        "Deadline applied to this collection: min(gateway timeout, scrape "
                        "timeout - 0.5 s).", G,
                        "config `timeout`, X-Prometheus-Scrape-Timeout-Seconds")
COLLECTION_AGE = _d("ccgw_collection_age_seconds", "gauge",
                    "Age of the collection served: 0 when made for this scrape, more when "
                    "share_window served an earlier one.", G,
                    "exporter clock, config `share_window`")
COLLECTION_FAILED = _d("ccgw_collection_failed_requests", "gauge",
                       "Gateway calls that failed in this collection.", G,
                       "failed sign-in, discovery and queryConfInfos batches")
SIGNED_IN = _d("ccgw_session_signed_in", "gauge", "1 while the account is signed in.", G,
               "session state")
CONFERENCES = _d("ccgw_conferences", "gauge",
                 "Conferences the gateway reported in this collection.", G, "`result.confs`")
REQUESTED = _d("ccgw_conferences_requested", "gauge",
               "Distinct conference IDs asked for in this collection.", G,
               "union of the ID sources")
TRUNCATED = _d("ccgw_conferences_truncated", "gauge",
               "Conferences left out of per-conference series by max_conferences.", G,
               "config `conferences.max_conferences`")
BY_SOURCE = _d("ccgw_conference_ids", "gauge",
               "Conference IDs known per source before querying (discovered, configured, file, "
               "events).", ("gateway", "source"),
               "`queryvdnconfid`, `conferences.ids`, `conferences.ids_file`, `AgentConf_*` events")
PARTICIPANTS = _d("ccgw_participants", "gauge", "Participants over all conferences.", G,
                  "`addresses`")
CHANNELS = _d("ccgw_channels", "gauge",
              "Participants by channel state over all conferences.", ("gateway", "state"),
              "`addresses[].channelState`")
SKIPPED = _d("ccgw_collection_skipped_entries", "gauge",
             "Conference entries in this collection's answers that could not be parsed.", G,
             "`result.confs` entries without a usable confId")
DISCOVERY_FAILURES = _d("ccgw_discovery_failures_total", "counter",
                        "Failed conference discoveries (queryAllConfIds).", G,
                        "`queryvdnconfid` answers other than 0, and transport errors")
CONF_STATE = _d("ccgw_conference_state", "gauge",
                "1 for the conference's current state, 0 for the others.",
                ("gateway", "conf_id", "state"), "`confState`", "conference")
CONF_PARTICIPANTS = _d("ccgw_conference_participants", "gauge",
                       "Participants (addresses) in the conference.", C, "`addresses`",
                       "conference")
CONF_CHANNELS = _d("ccgw_conference_channels", "gauge", "Participants by channel state.",
                   ("gateway", "conf_id", "state"), "`addresses[].channelState`", "conference")
CONF_MODES = _d("ccgw_conference_channel_modes", "gauge",
                "Participants by channel mode (listen, speak, listen_speak).",
                ("gateway", "conf_id", "mode"), "`addresses[].channelAttrib`", "conference")
CONF_START = _d("ccgw_conference_start_timestamp_seconds", "gauge",
                "Start of the conference, Unix time.", C, "`startTime` (ms)", "conference")
CONF_APPLIED = _d("ccgw_conference_applied_duration_seconds", "gauge",
                  "Duration applied for.", C, "`applyConfTime` (minutes)", "conference")
CONF_ELAPSED = _d("ccgw_conference_elapsed_duration_seconds", "gauge",
                  "Time the conference has run so far.", C, "`confHaveBeenTime` (minutes)",
                  "conference")
PARTICIPANT_INFO = _d("ccgw_participant_info", "gauge",
                      "1 per participant; opt-in (participants.metrics).",
                      ("gateway", "conf_id", "address", "address_type", "role", "channel_state",
                       "mode", "device_type", "device_call_type"),
                      "`addresses[]`", "participant")
PARTICIPANT_ENTER = _d("ccgw_participant_enter_timestamp_seconds", "gauge",
                       "When the participant joined, Unix time; opt-in.",
                       ("gateway", "conf_id", "address"), "`addresses[].enterTime` (ms)",
                       "participant")
RESPONSES = _d("ccgw_responses_total", "counter",
               "Gateway answers by vendor method name and retcode (0 is success; invalid: not "
               "of the vendor's shape; other: beyond the bounded set of undocumented codes).",
               ("gateway", "method", "retcode"), "`retcode` of every answer")
REQUEST_ERRORS = _d("ccgw_request_errors_total", "counter",
                    "Gateway calls with no usable answer, by reason.",
                    ("gateway", "method", "reason"), ", ".join(ERROR_REASONS))
REQUEST_DURATION = _d("ccgw_request_duration_seconds", "histogram",
                      "Gateway call latency by vendor method name.", ("gateway", "method"),
                      "exporter clock")
SIGN_INS = _d("ccgw_session_sign_ins_total", "counter",
              "Sign-in attempts by result (retcode, or error reason without an answer).",
              ("gateway", "retcode"), "sign-in answers")
GUID_RENEWALS = _d("ccgw_session_guid_renewals_total", "counter",
                   "Guid changes taken from Set-GUID headers.", G, "`Set-GUID` header")
GUIDS_REJECTED = _d("ccgw_session_guids_rejected_total", "counter",
                    "Set-GUID headers refused because they did not hold a usable Guid "
                    "(control characters, spaces, too long).", G, "`Set-GUID` header")
CONFLICTS = _d("ccgw_session_conflicts_total", "counter",
               "Sessions lost soon after signing in, and 100-002 at sign-in: another client "
               "signed in as this agent (or a gateway dropping sessions).", G,
               "100-006 / 000-003 / 100-002 soon after a sign-in")
LOOP_FAILURES = _d("ccgw_session_loop_failures_total", "counter",
                   "Unexpected errors the session's background loop survived (a bug; see the "
                   "log).", G, "exporter")
TIMEOUT_WARNINGS = _d("ccgw_conference_timeout_warnings_total", "counter",
                      "AgentConf_Timeout events: the gateway warned that a conference's applied "
                      "time is nearly used up (only conferences the account takes part in).", G,
                      "`AgentConf_Timeout` event (cec_07_1412)")
STARTED = _d("ccgw_conferences_started_total", "counter",
             "Conferences first seen after the first complete collection. Conferences shorter "
             "than the scrape interval can be missed.", G, "collections compared")
ENDED = _d("ccgw_conferences_ended_total", "counter",
           "Conferences gone from an answered batch, by outcome (elapsed against applied at "
           "the last sight). Conferences shorter than the scrape interval can be missed.",
           ("gateway", "outcome"), "collections compared")
DURATION = _d("ccgw_conference_duration_seconds", "histogram",
              "Final elapsed duration of ended conferences (whole minutes, as the gateway "
              "reports them).", G, "`confHaveBeenTime` at the last sight")
APPLIED_SHARE = _d("ccgw_conference_applied_share", "histogram",
                   "Share of the applied duration used by ended conferences (1 = all of it).",
                   G, "`confHaveBeenTime` / `applyConfTime` at the last sight")
PEAK = _d("ccgw_conference_peak_participants", "histogram",
          "Most participants seen at once in ended conferences.", G, "`addresses` at each sight")
PROLONGED = _d("ccgw_conference_prolongations_total", "counter",
               "Applied duration raised while a conference ran.", G, "`applyConfTime` between "
               "sights")
JOINED = _d("ccgw_conference_participants_joined_total", "counter",
            "Participants that appeared between two collections (address and enter time).", G,
            "`addresses` between sights")
LEFT = _d("ccgw_conference_participants_left_total", "counter",
          "Participants that disappeared between two collections, including those of an "
          "ended conference.", G, "`addresses` between sights")
BUILD_INFO = _d("ccgw_build_info", "gauge", "Always 1; the exporter's version.",
                ("version", "python_version"), "package metadata", "exporter")
RELOAD_OK = _d("ccgw_config_last_reload_successful", "gauge",
               "1 if the last configuration reload worked.", (), "reload", "exporter")
RELOAD_TS = _d("ccgw_config_last_reload_success_timestamp_seconds", "gauge",
               "Time of the last successful configuration reload.", (), "reload", "exporter")
ASYNCIO_TASKS = _d("ccgw_exporter_asyncio_tasks", "gauge",
                   "Asyncio tasks alive in the exporter; one that keeps growing is a leak.", (),
                   "asyncio.all_tasks()", "exporter")
HTTP_CONNECTIONS = _d("ccgw_exporter_http_connections", "gauge",
                      "Open connections to the exporter's own port (capped by "
                      "--web.max-connections).", (), "exporter's listener", "exporter")
HTTP_REJECTED = _d("ccgw_exporter_http_rejected_total", "counter",
                   "Connections or requests the exporter's own endpoint turned away, by reason "
                   "(connection_limit, header_timeout, auth_busy, unauthorized).", ("reason",),
                   "exporter's listener and basic auth", "exporter")
# fmt: on

# In exposition order: per-gateway families, then per-conference, participant, counters.
GATEWAY_METRICS: tuple[MetricDef, ...] = (
    UP, COMPLETE, COLLECTION_DURATION, COLLECTION_TIMEOUT, COLLECTION_AGE, COLLECTION_FAILED,
    SIGNED_IN, SESSION_INFO, BACKOFF, CONFERENCES, STALE, STALE_AGE, REQUESTED, TRUNCATED,
    IDS_DROPPED, BY_SOURCE, PARTICIPANTS, CHANNELS, SKIPPED, CONF_STATE, CONF_PARTICIPANTS,
    CONF_CHANNELS, CONF_MODES, CONF_START, CONF_APPLIED, CONF_ELAPSED, PARTICIPANT_INFO,
    PARTICIPANT_ENTER, RESPONSES, REQUEST_ERRORS, REQUEST_DURATION, SIGN_INS, GUID_RENEWALS,
    GUIDS_REJECTED, CONFLICTS, LOOP_FAILURES, DISCOVERY_FAILURES, TIMEOUT_WARNINGS, STARTED,
    ENDED, DURATION, APPLIED_SHARE, PEAK, PROLONGED, JOINED, LEFT,
)  # fmt: skip
EXPORTER_METRICS: tuple[MetricDef, ...] = (
    BUILD_INFO, RELOAD_OK, RELOAD_TS, ASYNCIO_TASKS, HTTP_CONNECTIONS, HTTP_REJECTED,
)  # fmt: skip
ALL_METRICS = GATEWAY_METRICS + EXPORTER_METRICS

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "ccgw_conference_state": CONF_STATE_VALUES,
    "ccgw_conference_channels": CHANNEL_STATE_VALUES,
    "ccgw_channels": CHANNEL_STATE_VALUES,
    "ccgw_conference_channel_modes": CHANNEL_MODE_VALUES,
    "ccgw_conferences_ended_total": OUTCOMES,
}


def reference_table() -> str:
    """The README's metrics reference, as a Markdown table."""
    rows = [
        "| metric | type | labels | source | meaning |",
        "|---|---|---|---|---|",
    ]
    for metric in ALL_METRICS:
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "-"
        values = ENUM_VALUES.get(metric.name)
        if values:
            labels += " (" + ", ".join(values) + ")"
        name = f"`{metric.name}`" + (" (opt-in)" if metric.scope == "participant" else "")
        rows.append(f"| {name} | {metric.type} | {labels} | {metric.source} | {metric.help} |")

    def listed(buckets: tuple[float, ...]) -> str:
        return ", ".join(f"{b:g}" for b in buckets) + ", +Inf"

    rows.append(
        f"\nHistogram buckets: `ccgw_request_duration_seconds` {listed(LATENCY_BUCKETS)}; "
        f"`ccgw_conference_duration_seconds` {listed(DURATION_BUCKETS)} (1 minute to the "
        f"vendor's 1440-minute maximum applied time); `ccgw_conference_applied_share` "
        f"{listed(SHARE_BUCKETS)} (fine around 1, where within and over applied part); "
        f"`ccgw_conference_peak_participants` {listed(PEAK_BUCKETS)} (the vendor allows up to "
        "120 members). Plus the standard `process_*` metrics on `/metrics`."
    )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_table())
