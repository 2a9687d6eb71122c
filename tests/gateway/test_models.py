"""Lenient parsing of the vendor's envelope and conference data."""

from __future__ import annotations

import json

import pytest

from exporter.gateway.errors import DecodeError
from exporter.gateway.models import (
    Conference,
    Participant,
    lenient_int,
    parse_conference_ids,
    parse_conferences,
    parse_envelope,
)

VENDOR_SAMPLE = {
    "message": "",
    "retcode": "0",
    "result": {
        "confs": [
            {
                "confId": 1029888,
                "confState": 0,
                "startTime": 1475745454000,
                "applyConfTime": 60,
                "confHaveBeenTime": 29,
                "addresses": [
                    {"addressType": "6", "address": "70005", "deviceCallType": 0,
                     "deviceType": 0, "channelAttrib": 3, "channelState": 0, "role": 0,
                     "enterTime": 1475745464000},
                    {"addressType": "9", "address": "153", "deviceCallType": 0,
                     "deviceType": 6, "channelAttrib": 3, "channelState": 0, "role": 1,
                     "enterTime": 1475745454000},
                ],
            }
        ]
    },
}  # fmt: skip


def test_vendor_sample_parses_into_seconds_and_labels() -> None:
    envelope = parse_envelope(json.dumps(VENDOR_SAMPLE).encode())
    assert envelope.ok
    page = parse_conferences(envelope.result)
    assert page.skipped == 0
    (conf,) = page.conferences
    assert conf.conf_id == 1029888
    assert conf.state == "talking"
    assert conf.start_time == 1475745454.0
    assert conf.applied_seconds == 3600.0
    assert conf.elapsed_seconds == 29 * 60.0
    phone, agent = conf.participants
    assert (phone.address, phone.address_type, phone.role) == ("70005", "phone", "participant")
    assert (agent.address, agent.address_type, agent.role) == ("153", "agent", "chairperson")
    assert agent.device_type == "agent"
    assert phone.mode == "listen_speak"
    assert phone.channel_state == "talking"
    assert phone.device_call_type == "normal"
    assert phone.enter_time == 1475745464.0


def test_numbers_as_strings_are_accepted() -> None:
    conf = Conference.parse(
        {"confId": "42", "confState": "1", "startTime": "1000", "applyConfTime": " 30 ",
         "confHaveBeenTime": "5", "addresses": [{"addressType": 9, "address": 154,
         "channelState": "1", "channelAttrib": "1", "role": "0", "enterTime": "2000"}]}
    )  # fmt: skip
    assert conf is not None
    assert conf.conf_id == 42
    assert conf.state == "announcement"
    assert conf.applied_seconds == 1800.0
    (p,) = conf.participants
    assert (p.address, p.address_type, p.channel_state, p.mode) == (
        "154",
        "agent",
        "held",
        "listen",
    )
    assert p.enter_time == 2.0


def test_bare_array_result_is_accepted() -> None:
    page = parse_conferences([{"confId": 1}, {"confId": 2}])
    assert [c.conf_id for c in page.conferences] == [1, 2]


@pytest.mark.parametrize("result", [None, {}, {"confs": None}, {"confs": []}, []])
def test_empty_results_mean_no_conference(result: object) -> None:
    assert parse_conferences(result).conferences == []


def test_missing_optional_fields_are_none_or_unknown() -> None:
    conf = Conference.parse({"confId": 7})
    assert conf is not None
    assert conf.state == "unknown"
    assert conf.start_time is None
    assert conf.applied_seconds is None
    assert conf.elapsed_seconds is None
    assert conf.participants == []
    p = Participant.parse({})
    assert p is not None
    assert p.address == ""
    assert (p.address_type, p.channel_state, p.mode, p.role) == ("unknown",) * 4


def test_values_outside_the_vendor_tables_are_unknown_not_errors() -> None:
    conf = Conference.parse(
        {"confId": 9, "confState": 7, "addresses": [
            {"addressType": "5", "channelState": 9, "channelAttrib": 0, "role": 3,
             "deviceType": 99, "deviceCallType": "x"}]}
    )  # fmt: skip
    assert conf is not None
    assert conf.state == "unknown"
    (p,) = conf.participants
    assert (p.address_type, p.channel_state, p.mode, p.role) == ("unknown",) * 4
    assert (p.device_type, p.device_call_type) == ("unknown", "unknown")


def test_entries_without_a_usable_conf_id_are_skipped_and_counted() -> None:
    page = parse_conferences(
        {"confs": [{"confId": 1}, {"confId": "abc"}, "junk", {"confId": True}, {}, {"confId": -3}]}
    )
    assert [c.conf_id for c in page.conferences] == [1]
    assert page.skipped == 5


def test_participant_entries_that_are_not_objects_are_counted() -> None:
    conf = Conference.parse({"confId": 1, "addresses": [{"address": "1"}, 5, None]})
    assert conf is not None
    assert len(conf.participants) == 1
    assert conf.skipped_participants == 2


@pytest.mark.parametrize(
    ("raw", "label"),
    [('["0"]', "invalid"), ('"\\ud800"', "invalid"), ('"x" ', "invalid"), ("0", "0"),
     ('" 100-006 "', "100-006"), ('"1000-06"', "invalid"), ('"0\\n"', "0"), ("true", "invalid")],
)  # fmt: skip
def test_retcodes_not_of_the_vendors_shape_are_invalid(raw: str, label: str) -> None:
    envelope = parse_envelope(f'{{"message": "", "retcode": {raw}}}'.encode())
    assert envelope.retcode == label


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b'{"message": "", "retcode": "0", "result": {"confs": [',
        b"[]",
        b'"0"',
        b'{"message": "no retcode"}',
        b'{"retcode": null}',
        b"",
        b"\xff\xfe\x00",
    ],
)
def test_bodies_that_are_not_the_envelope_are_decode_errors(body: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_envelope(body)


def test_confs_of_the_wrong_type_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_conferences({"confs": "1029888"})
    with pytest.raises(DecodeError):
        parse_conferences(42)


def test_envelope_accepts_numeric_retcode_and_missing_message() -> None:
    envelope = parse_envelope(b'{"retcode": 0}')
    assert envelope.ok
    assert envelope.message == ""
    assert not parse_envelope(b'{"retcode": "100-006", "message": "x"}').ok


def test_conference_ids_both_shapes_and_junk_dropped() -> None:
    assert parse_conference_ids({"confIds": [355840, "355841", "x", None, 1.0]}) == [
        355840,
        355841,
        1,
    ]
    assert parse_conference_ids([1, 2]) == [1, 2]
    assert parse_conference_ids(None) == []
    with pytest.raises(DecodeError):
        parse_conference_ids({"confIds": "355840"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("5", 5), (" 7 ", 7), ("-2", -2), (3.0, 3), (3.5, None), (True, None),
     ("1e3", None), ("", None), (None, None), ([1], None)],
)  # fmt: skip
def test_lenient_int(value: object, expected: int | None) -> None:
    assert lenient_int(value) == expected
