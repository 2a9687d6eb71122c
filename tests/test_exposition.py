"""The exposition: golden output for the vendor sample, validity in both formats, zero-fill."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter import metrics as m
from exporter.collector import Collection
from exporter.exposition import GatewayView, Renderer, escape, fmt, mask_address
from exporter.gateway.models import Conference, parse_conferences
from exporter.gateway.stats import CallStats

from .gateway.test_models import VENDOR_SAMPLE

GOLDEN = Path(__file__).parent / "golden" / "vendor_sample.prom"
METHODS = ("loginEx", "getAgentEvent", "queryConfInfos", "queryAllConfIds")


def sample_view(participants: bool = False, **kwargs: object) -> GatewayView:
    conferences = parse_conferences(VENDOR_SAMPLE["result"]).conferences
    collection = Collection(
        "cc-east", 9.5, up=True, signed_in=True, duration=0.25, requested=2,
        conferences=conferences, detailed=conferences,
        ids_by_source={"discovered": 1, "configured": 2},
    )  # fmt: skip
    stats = CallStats()
    stats.observe("loginEx", "0", error=False, seconds=0.02)
    stats.observe("queryAllConfIds", "0", error=False, seconds=0.01)
    stats.observe("queryConfInfos", "0", error=False, seconds=0.03)
    stats.observe("getAgentEvent", "timeout", error=True, seconds=30.5)
    stats.sign_in("0")
    stats.guid_renewed()
    return GatewayView(collection, stats, methods=METHODS, participant_metrics=participants,
                       **kwargs)  # type: ignore[arg-type]  # fmt: skip


def render(views: list[GatewayView], openmetrics: bool = False) -> str:
    text = "".join(Renderer(openmetrics).render(views))
    return text + ("# EOF\n" if openmetrics else "")


def test_vendor_sample_matches_the_golden_exposition() -> None:
    text = render([sample_view(participants=True, address_mode="plain")])
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_golden_values_are_in_seconds() -> None:
    families = {f.name: f for f in parse_text(GOLDEN.read_text())}
    (applied,) = families["ccgw_conference_applied_duration_seconds"].samples
    (elapsed,) = families["ccgw_conference_elapsed_duration_seconds"].samples
    (start,) = families["ccgw_conference_start_timestamp_seconds"].samples
    assert (applied.value, elapsed.value, start.value) == (3600, 1740, 1475745454)
    assert applied.labels == {"gateway": "cc-east", "conf_id": "1029888"}


def test_every_contract_family_is_present_and_typed() -> None:
    families = {f.name: f for f in parse_text(render([sample_view(participants=True)]))}
    for metric in m.GATEWAY_METRICS:
        name = metric.name.removesuffix("_total") if metric.type == "counter" else metric.name
        assert name in families, metric.name
        assert families[name].type == metric.type, metric.name
        for sample in families[name].samples:
            extra = set(sample.labels) - {"le"}
            assert extra == set(metric.labels), (metric.name, sample.labels)


def test_openmetrics_output_parses() -> None:
    text = render([sample_view(participants=True)], openmetrics=True)
    families = {f.name: f for f in parse_om(text)}
    assert families["ccgw_responses"].type == "counter"
    assert families["ccgw_participant"].type == "info"
    assert families["ccgw_request_duration_seconds"].type == "histogram"


def test_every_known_enum_value_is_emitted_with_zeros() -> None:
    families = {f.name: f for f in parse_text(render([sample_view()]))}
    states = {s.labels["state"]: s.value for s in families["ccgw_conference_channels"].samples}
    assert states == {"talking": 2, "held": 0, "announcement": 0, "unknown": 0}
    modes = {s.labels["mode"]: s.value for s in families["ccgw_conference_channel_modes"].samples}
    assert modes == {"listen": 0, "speak": 0, "listen_speak": 2, "unknown": 0}
    conf = {s.labels["state"]: s.value for s in families["ccgw_conference_state"].samples}
    assert conf == {"talking": 1, "announcement": 0, "unknown": 0}
    totals = {s.labels["state"]: s.value for s in families["ccgw_channels"].samples}
    assert totals == {"talking": 2, "held": 0, "announcement": 0, "unknown": 0}
    errors = families["ccgw_request_errors"].samples
    assert {(s.labels["method"], s.labels["reason"]) for s in errors} >= {
        (method, reason) for method in METHODS
        for reason in ("timeout", "connect", "tls", "http_status", "decode")
    }  # fmt: skip
    responses = {
        (s.labels["method"], s.labels["retcode"]) for s in families["ccgw_responses"].samples
    }
    assert ("getAgentEvent", "0") in responses  # zero-filled although never answered


def test_values_outside_the_tables_count_as_unknown() -> None:
    conf = Conference.parse(
        {"confId": 5, "confState": 9, "addresses": [{"channelState": 7, "channelAttrib": 8}]}
    )
    assert conf is not None
    view = sample_view()
    view.collection.conferences = view.collection.detailed = [conf]
    families = {f.name: f for f in parse_text(render([view]))}
    assert {s.labels["state"]: s.value for s in families["ccgw_conference_state"].samples} == {
        "talking": 0, "announcement": 0, "unknown": 1,
    }  # fmt: skip
    unknown = [s for s in families["ccgw_channels"].samples if s.labels["state"] == "unknown"]
    assert unknown[0].value == 1


def test_participant_series_are_off_by_default() -> None:
    families = {f.name: f for f in parse_text(render([sample_view()]))}
    assert families["ccgw_participant_info"].samples == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("masked", "*0005"), ("plain", "70005"), ("omit", "p1"), ("hashed", None)],
)
def test_address_modes(mode: str, expected: str | None) -> None:
    families = {f.name: f for f in parse_text(render([sample_view(True, address_mode=mode)]))}
    addresses = [s.labels["address"] for s in families["ccgw_participant_info"].samples]
    if expected is None:
        assert all(len(a) == 16 and "70005" not in a for a in addresses)
    else:
        assert expected in addresses
    assert "70005" not in str(addresses) or mode == "plain"


def test_mask_keeps_the_last_four_characters() -> None:
    assert mask_address("13800138000", "masked", "", 1) == "*******8000"
    assert mask_address("153", "masked", "", 1) == "153"


def test_duplicate_addresses_do_not_make_duplicate_series() -> None:
    conf = Conference.parse(
        {"confId": 1, "addresses": [{"address": "70005"}, {"address": "70005"}]}
    )
    assert conf is not None
    view = sample_view(True, address_mode="plain")
    view.collection.conferences = view.collection.detailed = [conf]
    families = {f.name: f for f in parse_text(render([view]))}
    addresses = [s.labels["address"] for s in families["ccgw_participant_info"].samples]
    assert addresses == ["70005", "70005#2"]


def test_label_values_are_escaped() -> None:
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    conf = Conference.parse({"confId": 1, "addresses": [{"address": 'x"y\\z'}]})
    assert conf is not None
    view = sample_view(True, address_mode="plain")
    view.collection.conferences = view.collection.detailed = [conf]
    families = {f.name: f for f in parse_text(render([view]))}
    assert families["ccgw_participant_info"].samples[0].labels["address"] == 'x"y\\z'


@pytest.mark.parametrize("mode", ["plain", "masked", "hashed", "omit"])
@pytest.mark.parametrize(
    "raw",
    ["a\rb", "a\nb", "\ud800", "x\x00y\x7f", "\u202eevil", "\x1b[31mred"],
)
def test_control_characters_and_lone_surrogates_never_reach_a_label(raw: str, mode: str) -> None:
    """A raw CR passed promtool but made prometheus_client's parsers refuse the whole body; a
    lone surrogate made every render fail (issue 12, items 3 and 8)."""
    conf = Conference.parse({"confId": 1, "addresses": [{"address": raw}, {"address": "70005"}]})
    assert conf is not None
    view = sample_view(True, address_mode=mode)
    view.collection.conferences = view.collection.detailed = [conf]
    for openmetrics in (False, True):
        text = render([view], openmetrics)
        text.encode("utf-8")  # strict: a lone surrogate would raise here
        assert "\r" not in text
        parser = parse_om if openmetrics else parse_text
        families = {f.name: f for f in parser(text)}
        info = "ccgw_participant" if openmetrics else "ccgw_participant_info"
        assert len(families[info].samples) == 2


def test_duplicate_labels_stay_unique_whatever_the_addresses() -> None:
    """`dup`, `dup`, `dup#2` made two identical series (issue 12, item 8)."""
    conf = Conference.parse(
        {"confId": 1, "addresses": [{"address": a} for a in ("dup", "dup", "dup#2", "dup")]}
    )
    assert conf is not None
    view = sample_view(True, address_mode="plain")
    view.collection.conferences = view.collection.detailed = [conf]
    families = {f.name: f for f in parse_text(render([view]))}
    addresses = [s.labels["address"] for s in families["ccgw_participant_info"].samples]
    assert len(addresses) == 4
    assert len(set(addresses)) == 4
    assert "dup#2" in addresses


def test_participant_series_are_capped_per_conference_and_counts_stay_complete() -> None:
    raw = {"confId": 1, "addresses": [{"address": str(i), "channelState": 1} for i in range(50)]}
    conf = Conference.parse(raw, max_participants=10)
    assert conf is not None
    assert conf.participant_count == 50
    assert conf.capped_participants == 40
    view = sample_view(True, address_mode="plain")
    view.collection.conferences = view.collection.detailed = [conf]
    families = {f.name: f for f in parse_text(render([view]))}
    assert len(families["ccgw_participant_info"].samples) == 10
    (held,) = [
        s for s in families["ccgw_conference_channels"].samples if s.labels["state"] == "held"
    ]
    assert held.value == 50


def test_two_gateways_are_grouped_by_family() -> None:
    a, b = sample_view(), sample_view()
    b.collection.gateway = "cc-west"
    b.__post_init__()
    text = render([a, b])
    families = [f.name for f in parse_text(text)]
    assert len(families) == len(set(families)), "a family was split"
    up = next(f for f in parse_text(text) if f.name == "ccgw_up")
    assert [s.labels["gateway"] for s in up.samples] == ["cc-east", "cc-west"]


def test_number_format() -> None:
    assert fmt(3600.0) == "3600"
    assert fmt(0.25) == "0.25"
    assert fmt(1475745454.0) == "1475745454"


def test_metrics_reference_lists_every_metric() -> None:
    table = m.reference_table()
    for metric in m.ALL_METRICS:
        assert f"`{metric.name}`" in table


def promtool() -> str | None:
    path = shutil.which("promtool")
    if path is None and os.environ.get("CI") == "true":
        pytest.fail("promtool is not installed (CI must install the prometheus package)")
    return path


@pytest.mark.parametrize("participants", [False, True])
def test_promtool_check_metrics_is_clean(participants: bool) -> None:
    tool = promtool()
    if tool is None:
        pytest.skip("promtool not installed")
    text = render([sample_view(participants)])
    result = subprocess.run(
        [tool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout
    assert result.stderr.strip() == "", result.stderr


def test_golden_json_sample_is_the_spec_sample() -> None:
    assert json.loads(json.dumps(VENDOR_SAMPLE))["result"]["confs"][0]["confId"] == 1029888
