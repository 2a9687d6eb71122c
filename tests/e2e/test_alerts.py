"""Alerts from the committed rules (fast variant) reach Alertmanager's webhook, routed by the
example config, with their labels, and resolve once their cause is removed.

Each test waits for its alert to arrive firing, checks the labels and the receiver it was
routed to, removes the cause through the simulator's admin API, and waits for "resolved".
The control cases (a conference or gateway without the cause) must stay silent.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from prometheus import variant

from . import configs
from .gateways import PHONE_B, PHONE_C
from .promapi import alertmanager_alerts
from .stack import Stack
from .webhook import ReceivedAlert

pytestmark = pytest.mark.e2e

#: Longest wait for one notification. The slowest alert (for: 15m -> 15s) arrives about 20 s
#: after Prometheus starts; a resolution takes a few seconds (5 s rate windows).
TIMEOUT = 40.0
RECEIVERS = configs.receiver_paths()


def fast_for(alertname: str) -> float:
    """The `for:` of a committed alert in the fast variant, in seconds."""
    doc = yaml.safe_load(variant.ALERTS_FILE.read_text(encoding="utf-8"))
    (rule,) = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alertname]
    return variant.parse_duration(rule["for"]) / configs.SPEEDUP


def fired(stack: Stack, alertname: str, **labels: str) -> ReceivedAlert:
    alert = stack.webhook.wait_for(
        "firing",
        {"alertname": alertname, **labels},
        TIMEOUT,
        explain=lambda: stack.prometheus.alert_states(alertname),
    )
    print(f"{alertname} {labels} firing at +{alert.received_at - stack.prometheus_ready_at:.1f}s")
    assert alert.labels["job"] == stack.job
    assert alert.labels["instance"] == stack.exporter_instance
    assert alert.annotations["runbook_url"] == f"docs/alerts.md#{alertname.lower()}"
    return alert


def resolved(stack: Stack, alert: ReceivedAlert) -> ReceivedAlert:
    labels = dict(alert.labels)
    started = time.monotonic()
    done = stack.webhook.wait_for(
        "resolved",
        labels,
        TIMEOUT,
        after=alert.received_at,
        explain=lambda: stack.prometheus.alert_states(labels["alertname"]),
    )
    print(f"{labels['alertname']} resolved {done.received_at - started:.1f}s after the cause went")
    return done


def routed(alert: ReceivedAlert, receiver: str) -> None:
    assert (alert.receiver, alert.path) == (receiver, RECEIVERS[receiver]), str(alert)


def never(stack: Stack, alertname: str, **labels: str) -> None:
    arrived = stack.webhook.find("firing", alertname=alertname, **labels)
    assert not arrived, f"control case alerted: {[str(a) for a in arrived]}"


# ----------------------------------------------------------------------------- conferences


def test_conference_near_applied_duration(stack: Stack) -> None:
    gw = stack.gateways["gw-conf"]
    alert = fired(stack, "CcgwConferenceNearAppliedDuration", gateway=gw.name,
                  conf_id=gw.conf_id("near"))  # fmt: skip
    assert alert.labels["severity"] == "info"
    routed(alert, "ccgw-team")
    # 57 of 60 minutes; the applied duration comes from a query in the template.
    assert "95%" in alert.annotations["description"]
    assert "(1h 0m 0s)" in alert.annotations["description"]
    assert gw.conf_id("near") in alert.annotations["summary"]

    gw.admin.patch_conference(gw.conf_ids["near"], applyConfTime=120)  # the chair prolongs
    resolved(stack, alert)
    for control in ("over", "held", "single", "quiet"):  # 105 %, and 8 % to 33 % used
        never(stack, "CcgwConferenceNearAppliedDuration", gateway=gw.name,
              conf_id=gw.conf_id(control))  # fmt: skip


def test_conference_over_applied_duration(stack: Stack) -> None:
    gw = stack.gateways["gw-conf"]
    alert = fired(stack, "CcgwConferenceOverAppliedDuration", gateway=gw.name,
                  conf_id=gw.conf_id("over"))  # fmt: skip
    assert alert.labels["severity"] == "warning"
    routed(alert, "ccgw-team")
    assert "has run 105% of the duration" in alert.annotations["description"]  # 63 of 60 min
    assert gw.conf_id("over") in alert.annotations["summary"]

    gw.admin.patch_conference(gw.conf_ids["over"], applyConfTime=120)  # prolonged after all
    resolved(stack, alert)
    for control in ("near", "held", "single", "quiet"):  # 95 % is near, not over
        never(stack, "CcgwConferenceOverAppliedDuration", gateway=gw.name,
              conf_id=gw.conf_id(control))  # fmt: skip


def test_participants_held_long(stack: Stack) -> None:
    gw = stack.gateways["gw-conf"]
    alert = fired(stack, "CcgwParticipantsHeldLong", gateway=gw.name, conf_id=gw.conf_id("held"))
    assert alert.labels["severity"] == "warning"
    assert alert.labels["state"] == "held"
    routed(alert, "ccgw-team")
    assert "held now: 1" in alert.annotations["description"]
    # Held since before the first scrape: it may not fire before its `for:` has passed.
    assert alert.received_at - stack.prometheus_ready_at >= fast_for("CcgwParticipantsHeldLong")

    gw.admin.put_participant(gw.conf_ids["held"], PHONE_B, channelState=0)  # taken off hold
    resolved(stack, alert)
    for control in ("near", "single", "quiet"):
        never(stack, "CcgwParticipantsHeldLong", gateway=gw.name, conf_id=gw.conf_id(control))


def test_conference_single_participant(stack: Stack) -> None:
    gw = stack.gateways["gw-conf"]
    alert = fired(stack, "CcgwConferenceSingleParticipant", gateway=gw.name,
                  conf_id=gw.conf_id("single"))  # fmt: skip
    assert alert.labels["severity"] == "info"
    routed(alert, "ccgw-team")
    assert alert.received_at - stack.prometheus_ready_at >= fast_for(
        "CcgwConferenceSingleParticipant"
    )

    gw.admin.put_participant(gw.conf_ids["single"], PHONE_C)  # someone joins
    resolved(stack, alert)
    for control in ("near", "held", "quiet"):
        never(stack, "CcgwConferenceSingleParticipant", gateway=gw.name,
              conf_id=gw.conf_id(control))  # fmt: skip


# ----------------------------------------------------------------------------- gateways


def test_gateway_unreachable_pages_and_inhibits_its_error_ratio(stack: Stack) -> None:
    gw = stack.gateways["gw-fail"]
    alert = fired(stack, "CcgwGatewayUnreachable", gateway=gw.name)
    assert alert.labels["severity"] == "critical"
    routed(alert, "ccgw-oncall")
    # The description names what failed, from the queries in its template.
    assert "queryAllConfIds/100-007" in alert.annotations["description"]
    assert "conf_id" not in alert.labels

    # Its error ratio fires in Prometheus too, but the example config inhibits it: it is in
    # Alertmanager, suppressed by the unreachable alert, and never reached a receiver.
    ratio = {"alertname": "CcgwGatewayErrorRatioHigh", "gateway": gw.name}
    deadline = time.monotonic() + TIMEOUT
    suppressed: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not suppressed:
        suppressed = [
            a
            for a in alertmanager_alerts(stack.alertmanager_url)
            if all(a["labels"].get(k) == v for k, v in ratio.items())
            and a["status"]["state"] == "suppressed"
            and a["status"]["inhibitedBy"]
        ]
        time.sleep(0.2)
    assert suppressed, stack.prometheus.alert_states("CcgwGatewayErrorRatioHigh")
    assert suppressed[0]["labels"]["method"] == "queryAllConfIds"
    assert suppressed[0]["labels"]["retcode"] == "100-007"
    never(stack, "CcgwGatewayErrorRatioHigh", gateway=gw.name)

    gw.admin.put_faults({})  # the gateway answers again
    resolved(stack, alert)
    for healthy in ("gw-conf", "gw-flaky", "gw-dash"):
        never(stack, "CcgwGatewayUnreachable", gateway=healthy)


def test_gateway_error_ratio_high(stack: Stack) -> None:
    gw = stack.gateways["gw-flaky"]
    alert = fired(stack, "CcgwGatewayErrorRatioHigh", gateway=gw.name, method="queryConfInfos",
                  retcode="100-007")  # fmt: skip
    assert alert.labels["severity"] == "warning"
    routed(alert, "ccgw-team")
    assert "retcode 100-007" in alert.annotations["summary"]
    assert alert.annotations["description"].startswith("100% of the queryConfInfos answers")
    # Discovery still answers, so the gateway counts as reachable: no page for it.
    assert stack.prometheus.value(f'ccgw_up{{gateway="{gw.name}"}}') == 1
    never(stack, "CcgwGatewayUnreachable", gateway=gw.name)

    gw.admin.put_faults({})
    resolved(stack, alert)
    never(stack, "CcgwGatewayErrorRatioHigh", gateway="gw-conf")


def test_every_alert_resolves_once_every_cause_is_gone(stack: Stack) -> None:
    """Whatever fired for the driven gateways resolves when all their causes are removed.

    This includes an alert no test waits for: gw-fail's error ratio, inhibited while the
    gateway was unreachable, reaches the team's receiver when the gateway recovers (the
    inhibition ends with its source) and resolves once its rate window has no errors left.
    Waits for each driven gateway to have alerted and undoes every cause itself (again,
    harmlessly, after the tests above), so that it also holds on its own.
    """
    driven = ("gw-conf", "gw-fail", "gw-flaky")  # gw-dash keeps its held participant
    for name in driven:
        stack.webhook.wait_for("firing", {"gateway": name}, TIMEOUT)
    conf = stack.gateways["gw-conf"]
    conf.admin.patch_conference(conf.conf_ids["near"], applyConfTime=120)
    conf.admin.patch_conference(conf.conf_ids["over"], applyConfTime=120)
    conf.admin.put_participant(conf.conf_ids["held"], PHONE_B, channelState=0)
    conf.admin.put_participant(conf.conf_ids["single"], PHONE_C)
    for name in ("gw-fail", "gw-flaky"):
        stack.gateways[name].admin.put_faults({})

    def still_firing() -> list[str]:
        alerts = stack.webhook.alerts()
        return [
            str(a)
            for a in alerts
            if a.status == "firing"
            and a.labels.get("gateway") in driven
            and not any(
                b.status == "resolved" and b.labels == a.labels and b.received_at >= a.received_at
                for b in alerts
            )
        ]

    deadline = time.monotonic() + TIMEOUT
    while still_firing() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not still_firing()


# ----------------------------------------------------------------------------- the rules


def test_every_committed_rule_is_loaded_and_evaluates(stack: Stack) -> None:
    """The fast variant of both files loaded in full and no rule fails to evaluate."""
    expected = {
        rule.get("alert") or rule.get("record")
        for path in configs.RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    }
    loaded = stack.prometheus.rules()
    assert {rule["name"] for rule in loaded} == expected
    unhealthy = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r["health"] != "ok"]
    assert not unhealthy
    empty = [
        r["name"]
        for r in loaded
        if r["type"] == "recording" and not stack.prometheus.query(r["name"])
    ]
    assert not empty, "recording rules without a result on live data"
