"""Agent events are read by their documented fields (cec_07_1414, cec_07_1412), not names."""

from __future__ import annotations

import pytest

from exporter.gateway.events import ConferenceEvent, interpret


def event(event_type: str, **content: object) -> dict[str, object]:
    return {"eventType": event_type, "workNo": "154", "content": content}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            event("AgentConf_SelfJoinResult", confId=1030400),
            ConferenceEvent(1030400, "joined", own=True),
        ),
        (event("AgentConf_RequestSuccess", confId="77"), ConferenceEvent(77, "joined", True)),
        (event("AgentConf_SelfLeaveResult", confId=5), ConferenceEvent(5, "left", True)),
        (event("AgentConf_Timeout", confId=1030656), ConferenceEvent(1030656, "timeout")),
        # ParticipantChanged: changeType 0 join, 1 leave; changeReason 3 = conference ended
        (
            event("AgentConf_ParticipantChanged", result=0, changeType=0, confId=9,
                  participant="70005", participantType=6),
            ConferenceEvent(9, "joined"),
        ),
        (
            event("AgentConf_ParticipantChanged", result=0, changeType=1, changeReason=2,
                  confId=9, participant="70005"),
            ConferenceEvent(9, "left"),
        ),
        (
            event("AgentConf_ParticipantChanged", result=0, changeType=1, changeReason=0,
                  confId=9, participant="154"),
            ConferenceEvent(9, "left", own=True),
        ),
        (
            event("AgentConf_ParticipantChanged", result=0, changeType=1, changeReason=3,
                  confId=9, participant="70005"),
            ConferenceEvent(9, "ended"),
        ),
        # the vendor's own sample: changeType 3 (muted) with changeReason 255 is no leave
        (
            event("AgentConf_ParticipantChanged", result=0, changeType=3, changeReason=255,
                  confId=9, participant="70005"),
            ConferenceEvent(9, "seen"),
        ),
        # a failed change moved nothing
        (
            event("AgentConf_ParticipantChanged", result=1, changeType=1, changeReason=3,
                  confId=9),
            ConferenceEvent(9, "seen"),
        ),
        # a name that merely contains "End" or "Leave" is not a leave
        (event("AgentConf_EndlessLeaveParty", confId=12), ConferenceEvent(12, "seen")),
    ],
)  # fmt: skip
def test_interpreted_by_fields(raw: dict[str, object], expected: ConferenceEvent) -> None:
    assert interpret(raw, "154") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "nope",
        None,
        {"eventType": "AgentOther_InService", "content": None},
        {"eventType": "AgentConf_Timeout", "content": None},
        {"eventType": "AgentConf_Timeout", "content": {"confId": "x"}},
        {"eventType": "AgentConf_Timeout", "content": {"confId": -1}},
        {"eventType": 5, "content": {"confId": 1}},
    ],
)
def test_nothing_to_learn(raw: object) -> None:
    assert interpret(raw, "154") is None
