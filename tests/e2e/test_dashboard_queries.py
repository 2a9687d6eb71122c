"""Every query of every dashboard panel, with its variables filled in as Grafana would fill
them, returns data from the real Prometheus scraping the exporter: no panel shows "No data".

The variables are those of gw-dash (see gateways.py), whose simulator is set up so that
every panel has something to show: conferences, a held participant, participant metrics,
and one early non-zero retcode. Queries run as instant queries at "now", the right edge of
every panel; `$__rate_interval` is grafana.queries' default (1m).
"""

from __future__ import annotations

import time

import pytest

from grafana.build import DASHBOARDS
from grafana.queries import Target, iter_targets, iter_variable_queries, load_dashboard, substitute

from .promapi import PrometheusAPI, Sample
from .stack import Stack

pytestmark = pytest.mark.e2e

GATEWAY = "gw-dash"
#: Until the stack has data: the first scrape comes about 5 s after Prometheus starts
#: (its target discovery is throttled to 5 s), and rates need two scrapes.
WARM_UP = 30.0
#: Per panel, once warm: a sample between two scrapes should not fail a test.
RETRY = 3.0

TARGETS = [(name, target) for name in sorted(DASHBOARDS) for target in iter_targets(
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


@pytest.mark.parametrize("dashboard", sorted(DASHBOARDS), ids=target_id)
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
    assert set(listed["gateway"]) == set(stack.gateways)
    if "conf_id" in listed:
        live = stack.gateways[GATEWAY].admin.conferences()["confIds"]
        assert sorted(listed["conf_id"]) == sorted(str(i) for i in live)
