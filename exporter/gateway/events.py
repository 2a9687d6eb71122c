"""Agent events read by their documented fields, not by their names.

The long poll (`GET agentevent/{agentid}`, cec_07_1274) brings the account's own events. An
ordinary agent learns the IDs of the conferences it is in only from them, and the gateway warns
through them that a conference's applied time is nearly used up. The conference events and
their content (cec_07_1409..1418, current ids cec_07_0559..0568):

- `AgentConf_RequestSuccess`, `AgentConf_SelfJoinResult`, `AgentConf_Ringing`,
  `AgentConf_PresidentChanged`: `{confId}`, the agent is (being) in the conference.
- `AgentConf_SelfLeaveResult`: `{confId}`, the agent left.
- `AgentConf_ParticipantChanged` (cec_07_1414 / cec_07_0564): `{result, changeType,
  changeReason, confId, participant, participantType, ...}`; changeType 0 join, 1 leave,
  2 chair changed, 3 muted, 4 unmuted, 5 held, 6 unheld; changeReason, meaningful only with
  changeType 1: 0 left, 1 removed by the chair, 2 hung up, 3 conference ended, 4 the agent
  signed out, 6 removed for other reasons. There is no separate "conference ended" event.
- `AgentConf_Timeout` (cec_07_1412): `{confId}`, the applied time is nearly used up; the
  conference is released at its end unless prolonged.

An ID learnt from an event is only a hint: the collector asks `queryconfinfos` for it, and a
complete answer that does not have it ends it. So an unknown `AgentConf_*` event carrying a
`confId` adds the ID (asking costs one slot in a batch), and only documented leaves remove one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .models import lenient_int

EventEffect = Literal["joined", "left", "ended", "timeout", "seen"]

_JOINED: Final = frozenset(
    {
        "AgentConf_RequestSuccess",
        "AgentConf_SelfJoinResult",
        "AgentConf_Ringing",
        "AgentConf_PresidentChanged",
    }
)
CHANGE_JOIN: Final = 0
CHANGE_LEAVE: Final = 1
REASON_CONFERENCE_ENDED: Final = 3


@dataclass(frozen=True, slots=True)
class ConferenceEvent:
    """What one event says about one conference."""

    conf_id: int
    effect: EventEffect
    # The agent itself left or was removed (drop the ID) rather than another participant.
    own: bool = False


def interpret(event: object, agent_id: str) -> ConferenceEvent | None:
    """The conference news in one polled `event` object, or None when there is none.

    `agent_id` tells the account's own leave from another participant's: only the former (or
    the conference's end) means the account can no longer see the conference.
    """
    if not isinstance(event, dict):
        return None
    event_type = event.get("eventType")
    if type(event_type) is not str or not event_type.startswith("AgentConf_"):
        return None
    content = event.get("content")
    if not isinstance(content, dict):
        return None
    conf_id = lenient_int(content.get("confId"))
    if conf_id is None or conf_id <= 0:
        return None
    if event_type == "AgentConf_Timeout":
        return ConferenceEvent(conf_id, "timeout")
    if event_type == "AgentConf_SelfLeaveResult":
        return ConferenceEvent(conf_id, "left", own=True)
    if event_type == "AgentConf_ParticipantChanged":
        return _participant_changed(content, conf_id, agent_id)
    if event_type in _JOINED:
        return ConferenceEvent(conf_id, "joined", own=True)
    return ConferenceEvent(conf_id, "seen")


def _participant_changed(
    content: dict[str, object], conf_id: int, agent_id: str
) -> ConferenceEvent:
    result = lenient_int(content.get("result"))
    if result not in (None, 0):
        # A failed change: the conference still exists, nothing moved.
        return ConferenceEvent(conf_id, "seen")
    change = lenient_int(content.get("changeType"))
    participant = content.get("participant")
    own = participant is not None and str(participant).strip() == agent_id
    if change == CHANGE_LEAVE:
        if lenient_int(content.get("changeReason")) == REASON_CONFERENCE_ENDED:
            return ConferenceEvent(conf_id, "ended", own=own)
        return ConferenceEvent(conf_id, "left", own=own)
    if change == CHANGE_JOIN:
        return ConferenceEvent(conf_id, "joined", own=own)
    return ConferenceEvent(conf_id, "seen", own=own)
