"""Synthetic scrape history for tests/test_dashboards.py: what Prometheus stores when one exporter
watching two gateways is scraped both ways the README shows, and then dies.

Written as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`; each family's lines
together, each series' samples in time order, as that importer wants them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#
# One exporter ("exp:9865") watches gw1 (healthy: up, complete, signed in, two conferences,
# one of them past its applied duration) and gw2 (unreachable: ccgw_up 0, collections
# incomplete, but the exporter still thinks it is signed in: the case of issue 13, item 7).
# Every gateway series exists twice, as Prometheus stores it with both README variants: under
# job ccgw (instance exp:9865) and under job ccgw-probe (instance = gateway name). The
# exporter's own metrics exist under job ccgw and job ccgw-exporter, both at exp:9865.
# It lives for LIVE minutes, then only `up 0` remains for DEAD minutes.

STEP = 15  # seconds between samples
LIVE = 90  # minutes
DEAD = 40
EXPORTER = "exp:9865"
GATEWAYS = ("gw1", "gw2")
CONF_ID = "102"
JOBS_ALL = ["ccgw", "ccgw-exporter", "ccgw-probe"]
#: The variables of the three ways to look: Job = All, or one scrape variant's jobs.
VIEWS: dict[str, dict[str, str | list[str]]] = {
    "all jobs": {"job": JOBS_ALL, "instance": ".+", "gateway": ".+", "conf_id": CONF_ID},
    "/metrics only": {"job": ["ccgw"], "instance": ".+", "gateway": ".+", "conf_id": CONF_ID},
    "/probe only": {
        "job": ["ccgw-exporter", "ccgw-probe"],
        "instance": ".+",
        "gateway": ".+",
        "conf_id": CONF_ID,
    },
}


def const(value: float) -> Callable[[float], float]:
    return lambda _minute: value


def per_minute(rate: float) -> Callable[[float], float]:
    """A counter growing by `rate` a minute."""
    return lambda minute: rate * minute


@dataclass(frozen=True)
class Series:
    """One synthetic series: `value(minute)` gives its value at each sample."""

    name: str
    labels: Mapping[str, str]
    value: Callable[[float], float]

    def line(self, labels: Mapping[str, str], at: float, t: int) -> str:
        shown = ",".join(f'{k}="{v}"' for k, v in {**self.labels, **labels}.items())
        return f"{self.name}{{{shown}}} {float(self.value(at))} {t}"


def _gateway_series(gateway: str) -> list[Series]:
    """What the exporter exposes for one gateway (minute -> value)."""
    g = {"gateway": gateway}
    up = 1.0 if gateway == "gw1" else 0.0
    per_min = 4  # collections per minute
    s: list[Series] = [
        Series("ccgw_up", g, lambda m: up),
        Series("ccgw_collection_complete", g, lambda m: up),
        Series("ccgw_session_signed_in", g, lambda m: 1),
        Series("ccgw_collection_duration_seconds", g, lambda m: 0.4 if up else 9.5),
        Series("ccgw_collection_timeout_seconds", g, lambda m: 9.5),
        Series("ccgw_collection_age_seconds", g, lambda m: 0),
        Series("ccgw_collection_failed_requests", g, lambda m: 0 if up else 3),
        Series("ccgw_conferences", g, lambda m: 2 if up else 0),
        Series("ccgw_conferences_requested", g, lambda m: 2 if up else 0),
        Series("ccgw_conferences_truncated", g, lambda m: 0),
        Series("ccgw_conference_ids_dropped", g, lambda m: 0),
        Series("ccgw_conferences_stale", g, lambda m: 0 if up else 1),
        Series("ccgw_conferences_stale_age_seconds", g, lambda m: 0 if up else 45),
        Series("ccgw_participants", g, lambda m: 5 if up else 0),
        Series("ccgw_session_backoff_seconds", g, lambda m: 0 if up else 8),
        Series(
            "ccgw_session_info",
            {
                **g,
                "agent_id": "153",
                "vdn": "1",
                "node": "AgentGateway1",
                "role": "inspector" if up else "agent",
            },
            lambda m: 1,
        ),
    ]
    for state, n in (("talking", 4), ("held", 1), ("announcement", 0), ("unknown", 0)):
        s.append(Series("ccgw_channels", {**g, "state": state}, const(n * up)))
    calls = [
        ("queryConfInfos", "0", 1.0),
        ("queryConfInfos", "100-007", 0.25 * (2 - up)),
        ("queryConfInfos", "100-006", 0.0),
        ("queryAllConfIds", "0", up),
        ("getAgentEvent", "0", 6.0),
    ]
    for method, retcode, rate in calls:
        s.append(
            Series(
                "ccgw_responses_total",
                {**g, "method": method, "retcode": retcode},
                per_minute(rate * per_min),
            )
        )
    s.append(
        Series(
            "ccgw_request_errors_total",
            {**g, "method": "queryAllConfIds", "reason": "connect"},
            lambda m: (1 - up) * per_min * m,
        )
    )
    for le, share in (("0.1", 0.5), ("0.5", 0.9), ("1", 1.0), ("+Inf", 1.0)):
        s.append(
            Series(
                "ccgw_request_duration_seconds_bucket",
                {**g, "method": "queryConfInfos", "le": le},
                per_minute(share * per_min),
            )
        )
    s.append(
        Series(
            "ccgw_request_duration_seconds_sum",
            {**g, "method": "queryConfInfos"},
            lambda m: 0.2 * per_min * m,
        )
    )
    s.append(
        Series(
            "ccgw_request_duration_seconds_count",
            {**g, "method": "queryConfInfos"},
            lambda m: per_min * m,
        )
    )
    for retcode, rate in (("0", 0.1), ("100-002", 0.0)):
        s.append(Series("ccgw_session_sign_ins_total", {**g, "retcode": retcode}, per_minute(rate)))
    s.append(Series("ccgw_session_guid_renewals_total", g, lambda m: m))
    s.append(Series("ccgw_session_conflicts_total", g, lambda m: 0 if up else m // 10))
    s.append(Series("ccgw_conference_timeout_warnings_total", g, lambda m: m // 20))
    # Activity: per minute one conference starts and one ends (every fourth over its applied
    # duration), lasting 10 to 60 minutes, using 50 % to 120 % of its applied duration.
    s.append(Series("ccgw_conferences_started_total", g, lambda m: m))
    s.append(
        Series(
            "ccgw_conferences_ended_total", {**g, "outcome": "within_applied"}, lambda m: m * 0.75
        )
    )
    s.append(
        Series("ccgw_conferences_ended_total", {**g, "outcome": "over_applied"}, lambda m: m * 0.25)
    )
    s.append(Series("ccgw_conference_prolongations_total", g, lambda m: m * 0.1))
    s.append(Series("ccgw_conference_participants_joined_total", g, lambda m: m * 3))
    s.append(Series("ccgw_conference_participants_left_total", g, lambda m: m * 3))
    histograms = {
        "ccgw_conference_duration_seconds": (("600", 0.25), ("1800", 0.5), ("3600", 1.0)),
        "ccgw_conference_applied_share": (("0.5", 0.1), ("1", 0.75), ("1.5", 1.0)),
        "ccgw_conference_peak_participants": (("2", 0.2), ("5", 0.8), ("10", 1.0)),
    }
    for name, buckets in histograms.items():
        for le, share in (*buckets, ("+Inf", 1.0)):
            s.append(Series(f"{name}_bucket", {**g, "le": le}, per_minute(share)))
        s.append(Series(f"{name}_sum", g, lambda m: m * 2.0))
        s.append(Series(f"{name}_count", g, lambda m: m))
    if up:
        s += _conference_series(g)
    return s


def _conference_series(g: Mapping[str, str]) -> list[Series]:
    s: list[Series] = []
    for conf_id, elapsed in (("101", 1800.0), ("102", 3780.0)):  # 102: 105 % of 60 minutes
        c = {**g, "conf_id": conf_id}
        s += [
            Series("ccgw_conference_participants", c, lambda m: 2),
            Series("ccgw_conference_applied_duration_seconds", c, lambda m: 3600),
            Series("ccgw_conference_elapsed_duration_seconds", c, const(elapsed)),
            Series("ccgw_conference_start_timestamp_seconds", c, lambda m: 1.7e9),
        ]
        for state in ("talking", "announcement", "unknown"):
            s.append(
                Series(
                    "ccgw_conference_state",
                    {**c, "state": state},
                    const(float(state == "talking")),
                )
            )
        for state, n in (("talking", 1), ("held", 1), ("announcement", 0), ("unknown", 0)):
            s.append(Series("ccgw_conference_channels", {**c, "state": state}, const(n)))
        for mode, n in (("listen", 0), ("speak", 0), ("listen_speak", 2), ("unknown", 0)):
            s.append(Series("ccgw_conference_channel_modes", {**c, "mode": mode}, const(n)))
        for address in ("****1111", "****2222"):
            s.append(
                Series(
                    "ccgw_participant_info",
                    {
                        **c,
                        "address": address,
                        "address_type": "phone",
                        "role": "participant",
                        "channel_state": "talking",
                        "mode": "listen_speak",
                        "device_type": "5",
                        "device_call_type": "0",
                    },
                    lambda m: 1,
                )
            )
            s.append(
                Series(
                    "ccgw_participant_enter_timestamp_seconds",
                    {**c, "address": address},
                    lambda m: 1.7e9,
                )
            )
    return s


def _exporter_series() -> list[Series]:
    return [
        Series("ccgw_build_info", {"version": "0.3.0", "python_version": "3.11"}, lambda m: 1),
        Series("ccgw_exporter_http_connections", {}, lambda m: 3),
        Series(
            "ccgw_exporter_http_rejected_total", {"reason": "connection_limit"}, lambda m: m // 5
        ),
    ]


def openmetrics(start: int) -> str:
    """The synthetic scrape history as OpenMetrics text, samples every STEP seconds."""
    targets: list[tuple[dict[str, str], list[Series]]] = []
    all_gateways = [s for gw in GATEWAYS for s in _gateway_series(gw)]
    targets.append(({"job": "ccgw", "instance": EXPORTER}, all_gateways + _exporter_series()))
    targets.append(({"job": "ccgw-exporter", "instance": EXPORTER}, _exporter_series()))
    for gw in GATEWAYS:
        targets.append(({"job": "ccgw-probe", "instance": gw}, _gateway_series(gw)))
    live = range(0, LIVE * 60, STEP)
    families: dict[str, list[str]] = {}
    for target, series in targets:
        for one in series:
            lines = families.setdefault(one.name, [])
            lines += [one.line(target, t / 60, start + t) for t in live]
        up = Series("up", {}, lambda m: 1.0 if m < LIVE else 0.0)
        families.setdefault("up", []).extend(
            up.line(target, t / 60, start + t) for t in range(0, (LIVE + DEAD) * 60, STEP)
        )
    return "".join("\n".join(lines) + "\n" for lines in families.values()) + "# EOF\n"
