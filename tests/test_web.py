"""The exporter over HTTP against simulated gateways on loopback: scrapes, /probe, readiness,
reload (and who may ask for one), content negotiation, deadlines and shared collections."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from ccgw_simulator import GatewaySimulator
from exporter.app import reload_function
from exporter.config import load_config
from exporter.targets import Targets
from exporter.web import Exporter, make_app

from .conftest import AGENT, INSPECTOR, SimFactory, wait_for

ENV_PASSWORDS = {"153": INSPECTOR[1], "154": AGENT[1]}


def gateway_entry(sim: GatewaySimulator, name: str, account: tuple[str, str] = INSPECTOR,
                  **overrides: Any) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {
        "name": name,
        "url": sim.url,
        "agent_id": account[0],
        "password": account[1],
        "timeout": "5s",
    }
    if sim.ca_file:
        entry["tls"] = {"ca_file": sim.ca_file}
    entry.update(overrides)
    return entry


class Harness:
    """An exporter serving on a loopback port, its config file, and an HTTP client."""

    def __init__(self, path: Path, targets: Targets, client: TestClient) -> None:
        self.path = path
        self.targets = targets
        self.client = client

    def write(self, gateways: list[dict[str, Any]]) -> None:
        self.path.write_text(yaml.safe_dump({"gateways": gateways}))

    async def scrape(self, url: str = "/metrics", **headers: str) -> dict[str, Any]:
        resp = await self.client.get(url, headers=headers)
        assert resp.status == 200, await resp.text()
        return {f.name: f for f in parse_text(await resp.text())}

    async def wait_signed_in(self) -> None:
        await wait_for(lambda: all(t.session.signed_in for t in self.targets.all()))


@pytest.fixture
async def make_exporter(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    harnesses: list[Harness] = []

    async def factory(gateways: list[dict[str, Any]]) -> Harness:
        path = tmp_path / f"config{len(harnesses)}.yaml"
        path.write_text(yaml.safe_dump({"gateways": gateways}))
        targets = Targets(load_config(path).config, path=str(path))
        app = make_app(Exporter(targets), reloader=reload_function(targets, None))
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        targets.start()
        harness = Harness(path, targets, client)
        harnesses.append(harness)
        return harness

    yield factory
    for h in harnesses:
        await h.client.close()
        await h.targets.stop()


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    family = families[name.removesuffix("_total")] if name.endswith("_total") else families[name]
    for sample in family.samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise KeyError(f"{name}{labels}")


def conf_ids(families: dict[str, Any], gateway: str = "gw") -> set[str]:
    return {
        s.labels["conf_id"]
        for s in families["ccgw_conference_participants"].samples
        if s.labels["gateway"] == gateway
    }


async def test_metrics_reports_the_gateways_conferences(
    make_sim: SimFactory, make_exporter
) -> None:
    sim = await make_sim(https=True)
    conf = sim.population.add_conference(
        apply_minutes=60, elapsed_minutes=29,
        participants=[{"address": "70005", "addressType": "6", "channelState": 1},
                      {"address": "153", "addressType": "9", "role": 1}],
    )  # fmt: skip
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    families = await h.scrape()
    assert value(families, "ccgw_up", gateway="gw") == 1
    assert value(families, "ccgw_session_signed_in", gateway="gw") == 1
    assert value(families, "ccgw_conferences", gateway="gw") == 1
    assert conf_ids(families) == {str(conf)}
    c = {"gateway": "gw", "conf_id": str(conf)}
    assert value(families, "ccgw_conference_participants", **c) == 2
    assert value(families, "ccgw_conference_applied_duration_seconds", **c) == 3600
    assert value(families, "ccgw_conference_elapsed_duration_seconds", **c) == 29 * 60
    assert value(families, "ccgw_conference_channels", state="held", **c) == 1
    assert value(families, "ccgw_conference_channels", state="announcement", **c) == 0
    assert value(families, "ccgw_channels", gateway="gw", state="held") == 1
    assert value(families, "ccgw_responses_total", gateway="gw", method="queryConfInfos",
                 retcode="0") == 1  # fmt: skip
    assert value(families, "ccgw_build_info") == 1
    assert value(families, "ccgw_config_last_reload_successful") == 1
    assert "process_resident_memory_bytes" in families or "process_cpu_seconds" in families


async def test_a_conference_that_ended_is_gone_from_the_next_scrape(
    make_sim, make_exporter
) -> None:
    sim = await make_sim()
    keep = sim.population.add_conference()
    gone = sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    assert conf_ids(await h.scrape()) == {str(keep), str(gone)}
    sim.population.end_conference(gone)
    families = await h.scrape()
    assert conf_ids(families) == {str(keep)}
    for family in families.values():
        assert all(s.labels.get("conf_id") != str(gone) for s in family.samples), family.name


async def test_probe_isolates_one_gateway_and_a_broken_one_does_not_leak(
    make_sim, make_exporter
) -> None:
    good, bad = await make_sim(), await make_sim()
    conf = good.population.add_conference()
    bad.faults.http_error_rate = 1.0
    bad.faults.methods = ["queryAllConfIds", "queryConfInfos"]
    h = await make_exporter([gateway_entry(good, "good"), gateway_entry(bad, "bad")])
    await h.wait_signed_in()
    probe = await h.scrape("/probe?target=good")
    assert {s.labels["gateway"] for f in probe.values() for s in f.samples} == {"good"}
    assert "ccgw_build_info" not in probe
    assert "process_cpu_seconds" not in probe
    assert conf_ids(probe, "good") == {str(conf)}
    assert value(probe, "ccgw_up", gateway="good") == 1
    families = await h.scrape()
    assert value(families, "ccgw_up", gateway="good") == 1
    assert value(families, "ccgw_up", gateway="bad") == 0
    assert value(families, "ccgw_collection_failed_requests", gateway="bad") == 1
    assert value(families, "ccgw_request_errors_total", gateway="bad",
                 method="queryAllConfIds", reason="http_status") >= 1  # fmt: skip
    assert value(families, "ccgw_request_errors_total", gateway="good",
                 method="queryAllConfIds", reason="http_status") == 0  # fmt: skip
    bad_probe = await h.scrape("/probe?target=bad")
    assert {s.labels["gateway"] for f in bad_probe.values() for s in f.samples} == {"bad"}


@pytest.mark.parametrize("query", ["", "?target=", "?target=nope", "?target=https://evil"])
async def test_probe_without_a_known_target_is_400(make_sim, make_exporter, query) -> None:
    sim = await make_sim()
    h = await make_exporter([gateway_entry(sim, "gw")])
    resp = await h.client.get(f"/probe{query}")
    assert resp.status == 400
    assert resp.content_type == "text/plain"
    assert "target" in await resp.text()


async def test_deadline_comes_from_the_scrape_timeout_header(make_sim, make_exporter) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw", timeout="10s")])
    await h.wait_signed_in()
    families = await h.scrape(**{"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    assert value(families, "ccgw_collection_timeout_seconds", gateway="gw") == 1.5
    families = await h.scrape()
    assert value(families, "ccgw_collection_timeout_seconds", gateway="gw") == 10
    families = await h.scrape(**{"X-Prometheus-Scrape-Timeout-Seconds": "30"})
    assert value(families, "ccgw_collection_timeout_seconds", gateway="gw") == 10


async def test_a_slow_gateway_answers_within_the_deadline_with_the_truth(
    make_sim, make_exporter
) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    sim.faults.slow_rate = 1.0
    sim.faults.slow_seconds = 30
    sim.faults.methods = ["queryConfInfos"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    families = await h.scrape(**{"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
    assert loop.time() - started < 1.5
    assert value(families, "ccgw_up", gateway="gw") == 1  # discovery succeeded
    assert value(families, "ccgw_collection_failed_requests", gateway="gw") == 1
    assert value(families, "ccgw_conferences", gateway="gw") == 0
    assert value(families, "ccgw_request_errors_total", gateway="gw", method="queryConfInfos",
                 reason="timeout") == 1  # fmt: skip


@pytest.mark.parametrize("scrapers", [2, 10])
async def test_concurrent_scrapes_share_one_collection(make_sim, make_exporter, scrapers) -> None:
    sim = await make_sim()
    for _ in range(45):
        sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    sim.faults.latency_ms = 150  # keep the collection in flight while the others arrive
    sim.faults.methods = ["queryAllConfIds", "queryConfInfos"]
    sim.stats.reset()
    results = await asyncio.gather(*(h.scrape() for _ in range(scrapers)))
    assert all(value(r, "ccgw_conferences", gateway="gw") == 45 for r in results)
    assert sim.stats.calls["queryAllConfIds"] == 1
    assert sim.stats.calls["queryConfInfos"] == 3


async def test_openmetrics_and_gzip_by_negotiation(make_sim, make_exporter) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    resp = await h.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    text = await resp.text()
    assert text.endswith("# EOF\n")
    names = {f.name for f in parse_om(text)}
    assert {"ccgw_up", "ccgw_responses", "ccgw_build_info", "ccgw_participant"} <= names
    resp = await h.client.get("/metrics", headers={"Accept-Encoding": "gzip"},
                              auto_decompress=False)  # fmt: skip
    assert resp.headers["Content-Encoding"] == "gzip"
    assert b"ccgw_up" in gzip.decompress(await resp.read())
    resp = await h.client.get("/metrics")
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")


async def test_ready_waits_for_sign_in_and_health_is_always_ok(make_sim, make_exporter) -> None:
    sim = await make_sim(signin_delay=0.3)
    h = await make_exporter([gateway_entry(sim, "gw")])
    resp = await h.client.get("/-/ready")
    assert resp.status == 503
    assert "gw" in await resp.text()
    assert (await h.client.get("/-/healthy")).status == 200
    await h.wait_signed_in()
    assert (await h.client.get("/-/ready")).status == 200


async def test_ready_once_a_gateway_reports_why_it_cannot_sign_in(make_sim, make_exporter) -> None:
    sim = await make_sim()
    h = await make_exporter([gateway_entry(sim, "gw", password="wrong")])
    await wait_for(lambda: h.targets.all()[0].session.sign_in_attempted)
    assert (await h.client.get("/-/ready")).status == 200
    families = await h.scrape()
    assert value(families, "ccgw_up", gateway="gw") == 0
    assert value(families, "ccgw_session_signed_in", gateway="gw") == 0
    assert value(families, "ccgw_session_sign_ins_total", gateway="gw", retcode="100-004") == 1
    page = await (await h.client.get("/")).text()
    assert "wrong password" in page
    assert "wrong</" not in page


async def test_landing_page_lists_gateways_and_links(make_sim, make_exporter) -> None:
    sim = await make_sim()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    await h.scrape()
    resp = await h.client.get("/")
    page = await resp.text()
    assert resp.content_type == "text/html"
    for needle in ("gw", "signed_in", "/metrics", "probe?target=gw", "up=1"):
        assert needle in page
    assert INSPECTOR[1] not in page
    guid = h.targets.all()[0].client.guid or ""
    assert guid
    assert guid not in page


async def test_reload_keeps_unchanged_sessions_and_refuses_bad_configs(
    make_sim, make_exporter, caplog
) -> None:
    a, b = await make_sim(), await make_sim()
    h = await make_exporter([gateway_entry(a, "a"), gateway_entry(b, "b")])
    await h.wait_signed_in()
    session_a = h.targets.get("a").session
    # Bad: the old config keeps serving and the failure is exported.
    h.path.write_text("gateways:\n  - name: a\n    colour: red\n")
    caplog.set_level(logging.INFO)
    resp = await h.client.post("/-/reload")
    assert resp.status == 500
    # The problems go to the log, not to whoever asked: they name files and paths.
    body = await resp.text()
    assert "log" in body
    assert "colour" not in body
    assert str(h.path) not in body
    logged = [str(getattr(r, "kv", {}).get("errors")) for r in caplog.records]
    assert any("gateways[0].colour: unknown key" in line for line in logged)
    families = await h.scrape()
    assert value(families, "ccgw_config_last_reload_successful") == 0
    assert value(families, "ccgw_up", gateway="b") == 1
    # Good: "a" unchanged keeps its session, "b" removed signs out, "c" added signs in.
    c = await make_sim()
    h.write([gateway_entry(a, "a"), gateway_entry(c, "c")])
    resp = await h.client.post("/-/reload")
    assert resp.status == 200, await resp.text()
    assert h.targets.get("a").session is session_a
    assert h.targets.get("b") is None
    assert b.stats.signouts["logout"] == 1
    assert a.stats.signins["loginEx"] == 1
    await h.wait_signed_in()
    families = await h.scrape()
    assert value(families, "ccgw_config_last_reload_successful") == 1
    assert {s.labels["gateway"] for s in families["ccgw_up"].samples} == {"a", "c"}


async def test_discovery_failure_is_logged_once_and_other_sources_work(
    make_sim, make_exporter, caplog, tmp_path
) -> None:
    sim = await make_sim()
    listed = sim.population.add_conference()
    filed = sim.population.add_conference()
    mine = sim.population.add_conference(participants=[{"address": "154", "addressType": "9"}])
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"# from the dialler\n{filed}\n{mine}\n")
    entry = gateway_entry(sim, "gw", AGENT, conferences={"ids": [listed],
                                                          "ids_file": str(ids_file)})  # fmt: skip
    h = await make_exporter([entry])
    await h.wait_signed_in()
    caplog.set_level(logging.INFO)
    for _ in range(3):
        families = await h.scrape()
    # An ordinary agent sees only its own conference, whatever else it asks for.
    assert conf_ids(families) == {str(mine)}
    assert value(families, "ccgw_conferences_requested", gateway="gw") == 3
    # 101-004 on discovery says what the account is, not that anything failed (issue 13,
    # item 4): asked once, not again for half an hour; the collection stays up and complete.
    assert value(families, "ccgw_discovery_failures_total", gateway="gw") == 0
    assert value(families, "ccgw_responses_total", gateway="gw", method="queryAllConfIds",
                 retcode="101-004") == 1  # fmt: skip
    assert value(families, "ccgw_up", gateway="gw") == 1
    assert value(families, "ccgw_collection_complete", gateway="gw") == 1
    assert value(families, "ccgw_session_info", gateway="gw", role="agent") == 1
    assert value(families, "ccgw_conference_ids", gateway="gw", source="configured") == 1
    assert value(families, "ccgw_conference_ids", gateway="gw", source="file") == 2
    lines = [r for r in caplog.records if "not a quality inspector" in r.getMessage()]
    assert len(lines) == 1


async def test_an_ordinary_agent_reports_its_own_conference_through_events(
    make_sim, make_exporter
) -> None:
    sim = await make_sim()
    sim.population.add_conference()  # someone else's
    h = await make_exporter([gateway_entry(sim, "gw", AGENT, conferences={"discover": False})])
    await h.wait_signed_in()
    mine = sim.population.add_conference(
        participants=[{"address": "70005", "addressType": "6"},
                      {"address": AGENT[0], "addressType": "9"}]
    )  # fmt: skip
    await wait_for(lambda: mine in h.targets.get("gw").session.event_conference_ids)
    families = await h.scrape()
    assert conf_ids(families) == {str(mine)}
    assert value(families, "ccgw_conference_ids", gateway="gw", source="events") == 1
    sim.population.end_conference(mine)
    families = await h.scrape()
    assert conf_ids(families) == set()


async def test_ids_file_changes_take_effect_on_the_next_scrape(make_sim, make_exporter,
                                                               tmp_path) -> None:  # fmt: skip
    sim = await make_sim()
    first, second = sim.population.add_conference(), sim.population.add_conference()
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{first}\n")
    h = await make_exporter([gateway_entry(sim, "gw", conferences={
        "discover": False, "ids_file": str(ids_file)})])  # fmt: skip
    await h.wait_signed_in()
    assert conf_ids(await h.scrape()) == {str(first)}
    ids_file.write_text(f"{first}, {second}  # both\n")
    assert conf_ids(await h.scrape()) == {str(first), str(second)}


async def test_max_conferences_caps_per_conference_series_not_aggregates(
    make_sim, make_exporter
) -> None:
    sim = await make_sim()
    confs = sorted(sim.population.add_conference() for _ in range(5))
    h = await make_exporter([gateway_entry(sim, "gw", conferences={"max_conferences": 3})])
    await h.wait_signed_in()
    families = await h.scrape()
    assert conf_ids(families) == {str(c) for c in confs[:3]}
    assert value(families, "ccgw_conferences", gateway="gw") == 5
    assert value(families, "ccgw_participants", gateway="gw") == 10
    assert value(families, "ccgw_conferences_truncated", gateway="gw") == 2


async def test_participant_series_are_opt_in_and_masked(make_sim, make_exporter) -> None:
    sim = await make_sim()
    sim.population.add_conference(participants=[{"address": "13800138000", "addressType": "6"}])
    h = await make_exporter([gateway_entry(sim, "gw", participants={"metrics": True})])
    await h.wait_signed_in()
    families = await h.scrape()
    (sample,) = families["ccgw_participant_info"].samples
    assert sample.labels["address"] == "*******8000"
    assert sample.labels["address_type"] == "phone"


async def test_share_window_serves_the_last_collection_to_a_later_scrape(
    make_sim, make_exporter
) -> None:
    """An HA pair scrapes at different offsets; within the window the second scrape is free at
    the gateway, and says how old its data is."""
    sim = await make_sim()
    sim.population.add_conference()
    # A window wide enough that the second scrape falls in it on a loaded machine too.
    h = await make_exporter([gateway_entry(sim, "gw", share_window="1500ms")])
    await h.wait_signed_in()
    sim.stats.reset()
    first = await h.scrape()
    await asyncio.sleep(0.1)
    second = await h.scrape()
    assert sim.stats.calls["queryAllConfIds"] == 1
    assert sim.stats.calls["queryConfInfos"] == 1
    assert value(first, "ccgw_collection_age_seconds", gateway="gw") == 0
    assert 0.05 < value(second, "ccgw_collection_age_seconds", gateway="gw") < 1.5
    assert value(second, "ccgw_conferences", gateway="gw") == 1
    # Rendered again (the age differs), so the exporter's own metrics are this scrape's.
    assert "process_cpu_seconds" in second
    await asyncio.sleep(1.5)
    third = await h.scrape()
    assert sim.stats.calls["queryAllConfIds"] == 2
    assert value(third, "ccgw_collection_age_seconds", gateway="gw") == 0


async def test_without_share_window_every_scrape_collects(make_sim, make_exporter) -> None:
    sim = await make_sim()
    sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    sim.stats.reset()
    for _ in range(3):
        families = await h.scrape()
        assert value(families, "ccgw_collection_age_seconds", gateway="gw") == 0
    assert sim.stats.calls["queryAllConfIds"] == 3


async def test_collect_param_chooses_gateway_or_exporter_metrics(make_sim, make_exporter) -> None:
    """/probe users scrape the exporter's own metrics with collect[]=exporter, so that no
    gateway series is scraped twice."""
    sim = await make_sim()
    sim.population.add_conference()
    h = await make_exporter([gateway_entry(sim, "gw")])
    await h.wait_signed_in()
    own = await h.scrape("/metrics?collect[]=exporter")
    assert "ccgw_build_info" in own
    assert "process_cpu_seconds" in own
    assert not any(s.labels.get("gateway") for f in own.values() for s in f.samples)
    sim.stats.reset()
    await h.scrape("/metrics?collect[]=exporter")
    assert sim.stats.calls["queryAllConfIds"] == 0  # no gateway call for the exporter's own
    gateways = await h.scrape("/metrics?collect[]=gateways")
    assert value(gateways, "ccgw_up", gateway="gw") == 1
    assert "ccgw_build_info" not in gateways
    assert "process_cpu_seconds" not in gateways
    both = await h.scrape("/metrics?collect[]=gateways&collect[]=exporter")
    assert "ccgw_build_info" in both
    assert value(both, "ccgw_up", gateway="gw") == 1


@pytest.mark.parametrize("query", ["collect[]=nope", "collect[]=exporter&collect[]=gw"])
async def test_an_unknown_collect_value_is_400(make_sim, make_exporter, query) -> None:
    sim = await make_sim()
    h = await make_exporter([gateway_entry(sim, "gw")])
    resp = await h.client.get(f"/metrics?{query}")
    assert resp.status == 400
    assert "collect[]" in await resp.text()


async def test_reload_is_off_without_the_lifecycle_flag(make_sim, tmp_path) -> None:
    """As Prometheus's --web.enable-lifecycle: without it, 403 and a hint; never a reload."""
    path = tmp_path / "config.yaml"
    path.write_text("gateways: []\n")
    targets = Targets(load_config(path).config, path=str(path))
    async with TestClient(TestServer(make_app(Exporter(targets)), host="127.0.0.1")) as client:
        path.write_text("gateways: [{name: 'bad name!'}]\n")
        resp = await client.post("/-/reload")
        assert resp.status == 403
        assert "--web.enable-lifecycle" in await resp.text()
        assert targets.last_reload_ok  # nothing was reloaded
        assert (await client.get("/-/reload")).status == 405


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "text/plain;charset=UTF-8"},
    ],
    ids=["origin", "origin-null", "cross-site", "same-site", "form", "multipart", "text"],
)
async def test_reload_refuses_what_a_browser_or_a_form_sends(make_sim, make_exporter,
                                                             headers) -> None:  # fmt: skip
    sim, other = await make_sim(), await make_sim()
    h = await make_exporter([gateway_entry(sim, "gw")])
    h.write([gateway_entry(sim, "gw"), gateway_entry(other, "other")])
    resp = await h.client.post("/-/reload", headers=headers)
    assert resp.status == 403
    assert "curl -X POST" in await resp.text()
    assert h.targets.get("other") is None  # not reloaded
    # The control: a script's POST (no body, no Origin) reloads.
    resp = await h.client.post("/-/reload")
    assert resp.status == 200
    assert await resp.text() == "reloaded\n"
    assert h.targets.get("other") is not None
    # A JSON body needs a CORS preflight, which is never granted: a script may send one.
    resp = await h.client.post("/-/reload", json={})
    assert resp.status == 200
