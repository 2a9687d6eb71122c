"""Every query of every dashboard panel, with its variables filled in as Grafana would fill
them, returns data from the real Prometheus scraping the exporter: no panel shows "No data".

The variables are those of gw-dash (see gateways.py), whose simulator is set up so that
every panel has something to show: conferences, a held participant, participant metrics,
and one early non-zero retcode. Before the queries run, a conference starts there, is
prolonged, gains a participant and ends (the activity dashboard's counters and histograms),
and the gateway signs the exporter out once: a 100-006 for the non-zero retcode panels, and
a sign-in for the sign-in panel.
Queries run as instant queries at "now", the right edge of every panel; `$__rate_interval` is
grafana.queries' default (1m). The Chinese dashboards run the same queries (tests/
test_dashboards.py checks), so the English ones are run here.
"""

from __future__ import annotations

import time

import pytest

from grafana.build import ENGLISH
from grafana.queries import Target, iter_targets, iter_variable_queries, load_dashboard, substitute

from .gateways import INSPECTOR
from .promapi import PrometheusAPI, Sample
from .stack import Stack

pytestmark = pytest.mark.e2e

GATEWAY = "gw-dash"
#: Until the stack has data: the first scrape comes about 5 s after Prometheus starts
#: (its target discovery is throttled to 5 s), and rates need two scrapes.
WARM_UP = 30.0
#: Per panel, once warm: a sample between two scrapes should not fail a test.
RETRY = 3.0

TARGETS = [(name, target) for name in sorted(ENGLISH) for target in iter_targets(
    load_dashboard(name))]  # fmt: skip


def target_id(value: object) -> str:
    if isinstance(value, Target):
        return f"{value.panel_title} [{value.ref_id}]"
    return str(value).removesuffix(".json")


@pytest.fixture(scope="module")
def variables(stack: Stack) -> dict[str, str | list[str]]:
    """The dashboard variables, as Grafana renders a selection of one value each; conf_id
    is a single-value variable (inserted verbatim)."""
    gw = stack.gateways[GATEWAY]
    wait_until_warm(stack.prometheus)
    make_activity(stack)
    return {
        "job": [stack.job],
        "instance": [stack.exporter_instance],
        "gateway": [gw.name],
        "conf_id": gw.conf_id("detail"),
    }


def wait_until_warm(prometheus: PrometheusAPI) -> None:
    """Three scrapes of the dashboard gateway, with its conferences in them."""
    expr = f'count_over_time(ccgw_conference_participants{{gateway="{GATEWAY}"}}[1m]) >= 3'
    end = time.monotonic() + WARM_UP
    while not prometheus.query(expr):
        if time.monotonic() > end:
            raise AssertionError(
                f"no data from {GATEWAY} within {WARM_UP:g}s; targets down: "
                f"{prometheus.targets_down()}"
            )
        time.sleep(0.25)


def wait_for(prometheus: PrometheusAPI, expr: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not [s for s in prometheus.query(expr) if s.finite]:
        if time.monotonic() > end:
            state = {
                name: [
                    (s.labels.get("outcome", s.labels.get("retcode", "")), s.value)
                    for s in prometheus.query(name)
                ]
                for name in (
                    f'ccgw_collection_complete{{gateway="{GATEWAY}"}}',
                    f'ccgw_conferences_started_total{{gateway="{GATEWAY}"}}',
                    f'ccgw_conferences_ended_total{{gateway="{GATEWAY}"}}',
                    f'ccgw_conference_prolongations_total{{gateway="{GATEWAY}"}}',
                    f'ccgw_conferences{{gateway="{GATEWAY}"}}',
                    f'ccgw_up{{gateway="{GATEWAY}"}}',
                    f'ccgw_session_signed_in{{gateway="{GATEWAY}"}}',
                    f'ccgw_conferences_stale{{gateway="{GATEWAY}"}}',
                    f'ccgw_session_backoff_seconds{{gateway="{GATEWAY}"}}',
                    f'increase(ccgw_responses_total{{gateway="{GATEWAY}", retcode!="0"}}[1m]) > 0',
                )
            }
            raise AssertionError(f"no data within {timeout:g}s: {expr}\n{state}")
        time.sleep(0.25)


def make_activity(stack: Stack) -> None:
    """A conference's whole life on gw-dash, and a non-zero retcode, within the last minute."""
    gw = stack.gateways[GATEWAY]
    selector = f'{{gateway="{GATEWAY}"}}'
    conf_id = gw.admin.create_conference(applyConfTime=30, confHaveBeenTime=5)
    wait_for(
        stack.prometheus,
        f'ccgw_conference_participants{{gateway="{GATEWAY}", conf_id="{conf_id}"}}',
    )
    gw.admin.patch_conference(conf_id, applyConfTime=60)  # prolonged
    gw.admin.put_participant(conf_id, "13800009999")  # someone joins
    wait_for(stack.prometheus, f"increase(ccgw_conference_prolongations_total{selector}[1m]) > 0")
    gw.admin.end_conference(conf_id)
    wait_for(stack.prometheus, f"increase(ccgw_conferences_ended_total{selector}[1m]) > 0")
    gw.admin.sign_out(INSPECTOR)  # the next call answers 100-006; the session signs in again
    wait_for(
        stack.prometheus, f"gateway:ccgw_conferences_ended_over_applied:ratio_increase1h{selector}"
    )
    lost = f'ccgw_responses_total{{gateway="{GATEWAY}", retcode="100-006"}}'
    wait_for(stack.prometheus, f"increase({lost}[1m]) > 0")
    wait_for(stack.prometheus, f'ccgw_up{{gateway="{GATEWAY}"}} == 1')  # signed in again


def finite_samples(prometheus: PrometheusAPI, expr: str, retry: float) -> list[Sample]:
    """The query's samples with a finite value (NaN draws nothing), retried for `retry` s."""
    end = time.monotonic() + retry
    while True:
        samples = [s for s in prometheus.query(expr) if s.finite]
        if samples or time.monotonic() > end:
            return samples
        time.sleep(0.25)


@pytest.mark.parametrize(("dashboard", "target"), TARGETS, ids=target_id)
def test_panel_query_has_data(
    stack: Stack, variables: dict[str, str | list[str]], dashboard: str, target: Target
) -> None:
    expr = substitute(target.expr, variables)
    samples = finite_samples(stack.prometheus, expr, RETRY)
    assert samples, (
        f'{dashboard}: panel "{target.panel_title}" (query {target.ref_id}) would show '
        f"No data:\n  {expr}"
    )
    # The variables really select: nothing from another gateway or conference leaks in.
    assert {s.labels["gateway"] for s in samples if "gateway" in s.labels} <= {GATEWAY}
    if "$conf_id" in target.expr:
        assert {s.labels.get("conf_id") for s in samples} == {variables["conf_id"]}


def test_panel_queries_of_a_conference_that_does_not_exist_have_no_data(
    stack: Stack, variables: dict[str, str | list[str]]
) -> None:
    """The control case: the check above can fail. With a conference ID nobody has, every
    panel of the conference dashboard would show No data, and the check says so."""
    board = load_dashboard("ccgw-conference.json")
    elsewhere = {**variables, "conf_id": "1"}
    with_data = [
        t.panel_title
        for t in iter_targets(board)
        if finite_samples(stack.prometheus, substitute(t.expr, elsewhere), retry=0)
    ]
    assert with_data == []


@pytest.mark.parametrize("dashboard", sorted(ENGLISH), ids=target_id)
def test_template_variables_list_the_live_values(
    stack: Stack, variables: dict[str, str | list[str]], dashboard: str
) -> None:
    """Each `label_values` variable lists values, among them the one the panels were
    checked with; gateway lists every gateway of the exporter (for All)."""
    board = load_dashboard(dashboard)
    chosen = {
        "job": stack.job,
        "instance": stack.exporter_instance,
        "gateway": GATEWAY,
        "conf_id": variables["conf_id"],
    }
    listed = {
        name: stack.prometheus.label_values(label, selector)
        for name, selector, label in iter_variable_queries(board, variables)
    }
    expected = {"job", "instance", "gateway"} | (
        {"conf_id"} if "conference" in dashboard else set()
    )
    assert set(listed) == expected
    for name, values in listed.items():
        assert chosen[name] in values, f"${name} lists {values}"
    assert set(listed["gateway"]) == set(stack.of("a")), "exporter A's, as Instance is A"
    if "conf_id" in listed:
        # Every live conference, and those that ended within the time range (make_activity's).
        live = {str(i) for i in stack.gateways[GATEWAY].admin.conferences()["confIds"]}
        assert live <= set(listed["conf_id"])
        assert len(set(listed["conf_id"]) - live) <= 1
