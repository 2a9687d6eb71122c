"""The metric contract: every family the exporter emits, defined once.

The exposition renders from these definitions and the README's metrics reference is generated
from them (`python -m exporter.metrics`), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

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
        "1 if this collection reached the gateway with a valid session and a call succeeded.",
        G, "session state and the calls of this collection")
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
               "Gateway answers by vendor method name and retcode (0 is success).",
               ("gateway", "method", "retcode"), "`retcode` of every answer")
REQUEST_ERRORS = _d("ccgw_request_errors_total", "counter",
                    "Gateway calls with no usable answer, by reason.",
                    ("gateway", "method", "reason"),
                    "timeout, connect, tls, http_status, decode")
REQUEST_DURATION = _d("ccgw_request_duration_seconds", "histogram",
                      "Gateway call latency by vendor method name.", ("gateway", "method"),
                      "exporter clock")
SIGN_INS = _d("ccgw_session_sign_ins_total", "counter",
              "Sign-in attempts by result (retcode, or error reason without an answer).",
              ("gateway", "retcode"), "sign-in answers")
GUID_RENEWALS = _d("ccgw_session_guid_renewals_total", "counter",
                   "Guid changes taken from Set-GUID headers.", G, "`Set-GUID` header")
BUILD_INFO = _d("ccgw_build_info", "gauge", "Always 1; the exporter's version.",
                ("version", "python_version"), "package metadata", "exporter")
RELOAD_OK = _d("ccgw_config_last_reload_successful", "gauge",
               "1 if the last configuration reload worked.", (), "reload", "exporter")
RELOAD_TS = _d("ccgw_config_last_reload_success_timestamp_seconds", "gauge",
               "Time of the last successful configuration reload.", (), "reload", "exporter")
ASYNCIO_TASKS = _d("ccgw_exporter_asyncio_tasks", "gauge",
                   "Asyncio tasks alive in the exporter; one that keeps growing is a leak.", (),
                   "asyncio.all_tasks()", "exporter")
# fmt: on

# In exposition order: per-gateway families, then per-conference, participant, counters.
GATEWAY_METRICS: tuple[MetricDef, ...] = (
    UP, COLLECTION_DURATION, COLLECTION_TIMEOUT, COLLECTION_AGE, COLLECTION_FAILED, SIGNED_IN,
    CONFERENCES, REQUESTED, TRUNCATED, BY_SOURCE, PARTICIPANTS, CHANNELS, SKIPPED, CONF_STATE,
    CONF_PARTICIPANTS, CONF_CHANNELS, CONF_MODES, CONF_START, CONF_APPLIED, CONF_ELAPSED,
    PARTICIPANT_INFO, PARTICIPANT_ENTER, RESPONSES, REQUEST_ERRORS, REQUEST_DURATION, SIGN_INS,
    GUID_RENEWALS, DISCOVERY_FAILURES,
)  # fmt: skip
EXPORTER_METRICS: tuple[MetricDef, ...] = (BUILD_INFO, RELOAD_OK, RELOAD_TS, ASYNCIO_TASKS)
ALL_METRICS = GATEWAY_METRICS + EXPORTER_METRICS

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "ccgw_conference_state": CONF_STATE_VALUES,
    "ccgw_conference_channels": CHANNEL_STATE_VALUES,
    "ccgw_channels": CHANNEL_STATE_VALUES,
    "ccgw_conference_channel_modes": CHANNEL_MODE_VALUES,
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
    rows.append(
        f"\nHistogram buckets (seconds): {', '.join(str(b) for b in LATENCY_BUCKETS)}, +Inf. "
        "Plus the standard `process_*` metrics on `/metrics`."
    )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_table())
