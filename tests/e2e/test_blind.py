"""Issue 13, cases 1 and 8: a dead exporter announced "all clear". When it was killed,
Alertmanager sent RESOLVED for CcgwGatewayUnreachable and dozens of conference alerts, and a
new FIRING released from inhibition, all before CcgwExporterDown fired; with /probe that alert
named the gateway as the exporter, and one dead exporter raised five of them.

Exporter B watches gw-blind-conf (a conference past its applied time, one with a participant on
hold), gw-blind-down (every query answers 502) and gw-contend (another exporter holds its
account), and Prometheus scrapes it both ways the README shows at once: /metrics (job ccgw),
/probe per gateway and collect[]=exporter. Once its alerts have been delivered, it is killed
(SIGKILL: a crash, no sign-out). Until its own alert arrives the receiver may get nothing about
it: no RESOLVED, no new FIRING; then exactly one CcgwExporterDown, naming its address. Restarted,
the alerts it had are the same alerts, never resolved in between.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest

from . import configs
from .gateways import PROBED
from .stack import Stack
from .test_alerts import RUNBOOKS, TIMEOUT, routed
from .webhook import ReceivedAlert

pytestmark = pytest.mark.e2e

#: Quiet time before the kill, so that nothing fired before it is still on its way.
SETTLE = 2.0
#: The slowest `for:` of B's alerts (15 s, CcgwCollectionPartial of gw-blind-down) has passed
#: this long after Prometheus started (its first scrape comes about 5 s after): all have fired.
ALL_FIRED = 24.0
#: After the restart: a few scrapes and evaluations in which no held alert may resolve.
AFTER_RESTART = 3.0


def about_b(stack: Stack, labels: Mapping[str, str]) -> bool:
    """An alert of exporter B's targets: its /metrics, its /probe targets, its own metrics.
    Not gw-contend's: B's back-off there (up to a minute between sign-ins) is not scaled like
    the rules' windows, so its contention alert comes and goes in this run on its own."""
    if labels.get("gateway") == "gw-contend":
        return False
    if labels.get("instance") == stack.b_instance:
        return True
    return labels.get("job") == configs.PROBE_JOB and labels.get("instance") in PROBED


def delivered(stack: Stack, status: str, **labels: str) -> ReceivedAlert:
    return stack.webhook.wait_for(
        status,
        labels,
        TIMEOUT,
        explain=lambda: stack.prometheus.alert_states(labels.get("alertname", "")),
    )


def test_a_dead_exporter_is_one_alert_and_changes_nothing_else(stack: Stack) -> None:
    b = stack.b_instance
    held = [
        # The same conference through /metrics and through /probe: two alerts, both held.
        delivered(stack, "firing", alertname="CcgwConferenceOverAppliedDuration",
                  gateway="gw-blind-conf", instance=b),
        delivered(stack, "firing", alertname="CcgwConferenceOverAppliedDuration",
                  gateway="gw-blind-conf", job=configs.PROBE_JOB),
        delivered(stack, "firing", alertname="CcgwParticipantsHeldLong",
                  gateway="gw-blind-conf", instance=b),
        delivered(stack, "firing", alertname="CcgwGatewayUnreachable",
                  gateway="gw-blind-down", instance=b),
        delivered(stack, "firing", alertname="CcgwGatewayUnreachable",
                  gateway="gw-blind-down", job=configs.PROBE_JOB),
    ]  # fmt: skip
    assert held[1].labels["instance"] == "gw-blind-conf", "with /probe, instance is the gateway"
    time.sleep(max(0.0, stack.prometheus_ready_at + ALL_FIRED - time.monotonic()) + SETTLE)
    active = {
        frozenset(s.labels.items()): s.value
        for s in stack.prometheus.query(f'ALERTS_FOR_STATE{{instance=~"{b}|gw-blind-.*"}}')
    }
    before_kill = len(stack.webhook.alerts())

    stack.kill_b()
    killed = time.monotonic()
    down = delivered(stack, "firing", alertname="CcgwExporterDown")
    print(f"CcgwExporterDown {down.received_at - killed:.1f}s after the kill")
    assert down.labels == {"alertname": "CcgwExporterDown", "instance": b, "severity": "critical"}
    routed(down, "ccgw-oncall")
    assert down.annotations["summary"] == f"ccgw-exporter {b} cannot be scraped"
    assert f"(job {configs.JOB} {configs.EXPORTER_JOB})" in down.annotations["description"]
    assert down.annotations["runbook_url"] == f"{RUNBOOKS}ccgwexporterdown"

    # Between the kill and its own alert the receiver got nothing about exporter B.
    meanwhile = [
        str(a)
        for a in stack.webhook.alerts()[before_kill:]
        if a.received_at < down.received_at and about_b(stack, a.labels)
    ]
    assert not meanwhile, "blindness announced as news"
    # One dead exporter, one alert: not one per job, nor per /probe target.
    time.sleep(SETTLE / 2)
    downs = [a.labels for a in stack.webhook.find("firing", alertname="CcgwExporterDown")]
    assert downs == [down.labels]
    assert not stack.webhook.find("firing", alertname="CcgwProbeFailed")
    assert not stack.webhook.find("firing", alertname="CcgwTargetDown"), "routed to nobody"
    still = stack.prometheus.query(f'ALERTS{{alertstate="firing", instance=~"{b}|gw-blind-.*"}}')
    names = {s.labels["alertname"] for s in still}
    assert {"CcgwParticipantsHeldLong", "CcgwGatewayUnreachable"} <= names, "held while blind"

    stack.restart_b()
    back = delivered(stack, "resolved", alertname="CcgwExporterDown")
    time.sleep(AFTER_RESTART)
    after = stack.webhook.alerts()[before_kill:]
    resolved = [str(a) for a in after if a.status == "resolved" and about_b(stack, a.labels)
                and a.labels.get("alertname") != "CcgwExporterDown"]  # fmt: skip
    assert not resolved, "an alert resolved although its cause never went"
    for alert in held:
        assert not [a for a in after if a.labels == alert.labels], f"notified again: {alert}"
    # The very same alerts: their activeAt never changed.
    again = {
        frozenset(s.labels.items()): s.value
        for s in stack.prometheus.query(f'ALERTS_FOR_STATE{{instance=~"{b}|gw-blind-.*"}}')
    }
    for labels, active_at in active.items():
        if dict(labels)["alertname"] in {a.labels["alertname"] for a in held}:
            assert again.get(labels) == active_at, dict(labels)
    print(f"exporter B back; CcgwExporterDown resolved {back.received_at - killed:.1f}s after kill")
