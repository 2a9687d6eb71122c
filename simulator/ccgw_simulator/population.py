"""The living population of conferences on the simulated gateway.

Why it looks like this:

* Deterministic from the seed: one ``random.Random(seed)``, and every change is an event on a
  heap ordered by (simulated time, sequence number). The state at simulated time T does not
  depend on how often :meth:`Population.tick` ran, only on the seed and on what tests did.
* Cheap: a tick pops only the events that are due (O(changes)); lookups are a dict; each
  conference caches its JSON (see ``conference.py``); the ID list is cached until it changes.
  Nothing is O(N) per request or per tick, so 20,000 conferences cost nothing at rest.
* Realistic enough to exercise an exporter: conferences start mid-flight with varied elapsed
  times, applied durations mostly 30/60/120 minutes (4..1440), 2 to 6 participants (mean about
  3) mixing phone numbers ("6") and agent work numbers ("9"), one chairperson; people join,
  leave, are held, hear announcements; the chair sometimes prolongs; a conference ends when its
  applied time runs out or it empties, and a replacement starts so the count stays near the
  target.

Events for the agents in a conference go to ``listener(work_no, event_type, content)``, which
the simulator puts on that agent's poll, by the vendor's documented fields:

* ``AgentConf_SelfJoinResult`` / ``AgentConf_SelfLeaveResult`` ``{confId}`` to an agent put
  into or taken out of a conference (cec_07_1411, cec_07_1415);
* ``AgentConf_ParticipantChanged`` (cec_07_1414 / cec_07_0564) to the *other* agents of the
  conference: ``{result, changeType, changeReason, confId, participant, participantType,
  deviceCallType, deviceType}``; changeType 0 join, 1 leave, 2 chair changed, 3 muted,
  4 unmuted, 5 held, 6 unheld; changeReason (leaves only) 0 left, 1 removed, 2 hung up,
  3 conference ended; other changes carry 255 as the vendor's sample does;
* ``AgentConf_Timeout`` ``{confId}`` (cec_07_1412 / cec_07_0562) to its agents when
  ``prompt_minutes`` of the applied time are left (promptTime, default 3, cec_07_1283).

``audience(work_no)`` (when given) says whether anybody would receive an agent's events, so
that a population of 20,000 conferences builds none for agents nobody signed in as.

The ground truth of issue 16 (started, ended by outcome, durations, prolongations, joins,
leaves) is kept in ``truth`` (see truth.py).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import random
from collections.abc import Callable, Iterable
from typing import Any

from .clock import SimClock
from .conference import (
    ADDRESS_AGENT,
    ADDRESS_PHONE,
    AGENT_DEVICE_TYPE,
    NUMERIC_FIELDS,
    PHONE_DEVICE_TYPE,
    Conference,
    Participant,
    apply_participant_changes,
    participant_from_mapping,
)
from .truth import Truth

FIRST_CONF_ID = 1029888
MAX_CONFERENCES = 20000
JOIN_EVENT = "AgentConf_SelfJoinResult"
LEAVE_EVENT = "AgentConf_SelfLeaveResult"
CHANGED_EVENT = "AgentConf_ParticipantChanged"
TIMEOUT_EVENT = "AgentConf_Timeout"

#: AgentConf_ParticipantChanged changeType (cec_07_1414)
JOINED, LEFT, CHAIR_CHANGED, MUTED, UNMUTED, HELD, UNHELD = range(7)
#: changeReason of a leave (cec_07_1414); 255 for other changes, as in the vendor's sample
LEFT_BY_THEMSELVES, REMOVED, HUNG_UP, CONFERENCE_ENDED = 0, 1, 2, 3
NO_REASON = 255

Listener = Callable[[str, str, "dict[str, Any]"], None]
Audience = Callable[[str], bool]

# (applied minutes, weight): mostly 30/60/120, the whole documented range 4..1440 present.
_APPLY_MINUTES: tuple[tuple[int, int], ...] = (
    (30, 25), (60, 35), (120, 15), (15, 5), (45, 5), (90, 5), (180, 4),
    (240, 2), (480, 1), (4, 1), (10, 1), (1440, 1),
)  # fmt: skip
# (participants, weight): 2..6, mean about 3.15.
_SIZES: tuple[tuple[int, int], ...] = ((2, 35), (3, 35), (4, 15), (5, 10), (6, 5))
MAX_PARTICIPANTS = 6
MEAN_ACTIVITY_S = 240.0  # a conference changes about every 4 simulated minutes
MEAN_REPLACEMENT_S = 20.0  # a replacement starts about 20 simulated seconds after an end
PROLONG_P = 0.1
MOBILE_DEVICE_TYPE = 5  # vendor table 2: mobile phone

_END, _ACTIVITY, _START, _WARN = 0, 1, 2, 3


class _Weighted:
    """A weighted pick with precomputed cumulative weights: one draw, one bisect (what
    ``random.choices`` does, without rebuilding the table on every call)."""

    def __init__(self, table: tuple[tuple[int, int], ...]) -> None:
        self.values = [v for v, _ in table]
        self.cumulative = list(itertools.accumulate(w for _, w in table))
        self.total = float(self.cumulative[-1])

    def pick(self, rng: random.Random) -> int:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


_APPLY = _Weighted(_APPLY_MINUTES)
_SIZE = _Weighted(_SIZES)
_CALL_TYPE = _Weighted(((0, 95), (1, 3), (2, 2)))
_ATTRIB = _Weighted(((3, 90), (1, 8), (2, 2)))


class Population:
    """Ongoing conferences, their evolution in simulated time, and a test-facing API."""

    def __init__(
        self,
        target: int = 20,
        *,
        seed: int = 1,
        clock: SimClock | None = None,
        stringly_numbers: bool = False,
        listener: Listener | None = None,
        audience: Audience | None = None,
        vdn: int = 1,
        prompt_minutes: int = 3,
        activity_mean_s: float = MEAN_ACTIVITY_S,
        replacement_mean_s: float = MEAN_REPLACEMENT_S,
        prolong_probability: float = PROLONG_P,
    ) -> None:
        if not 0 <= target <= MAX_CONFERENCES:
            raise ValueError(f"conferences: 0..{MAX_CONFERENCES}, got {target}")
        self.clock = clock or SimClock()
        self.stringly_numbers = stringly_numbers
        self.listener = listener
        self.audience = audience
        self.vdn = vdn
        self.prompt_minutes = prompt_minutes
        #: churn, changeable at run time (PUT /simulator/population)
        self.activity_mean_s = activity_mean_s
        self.replacement_mean_s = replacement_mean_s
        self.prolong_probability = prolong_probability
        self._rng = random.Random(seed)
        self._confs: dict[int, Conference] = {}
        self._agents: dict[str, set[int]] = {}
        self._heap: list[tuple[int, int, int, int, int]] = []
        self._seq = itertools.count()
        self._next_id = FIRST_CONF_ID
        self._pending_starts = 0
        self._ids_version = 0
        self._ids_cache: tuple[int, list[int], bytes] = (-1, [], b"[]")
        self.target = target
        self.ended_total = 0
        self.started_total = 0
        now = self.clock.now_ms()
        self.truth = Truth(vdn, now)
        for _ in range(target):
            self._add_random(now, mid_flight=True)
        self.truth.reset(now, list(self._confs.values()))

    # ----------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self._confs)

    def __contains__(self, conf_id: object) -> bool:
        return conf_id in self._confs

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def get(self, conf_id: int) -> Conference | None:
        return self._confs.get(conf_id)

    def conf_ids(self) -> list[int]:
        """IDs of every ongoing conference, oldest first (cached until the set changes)."""
        return self._ids()[1]

    def conf_ids_json(self) -> bytes:
        """The same as a JSON array, cached: queryvdnconfid serves it without re-encoding."""
        return self._ids()[2]

    def _ids(self) -> tuple[int, list[int], bytes]:
        if self._ids_cache[0] != self._ids_version:
            ids = list(self._confs)
            self._ids_cache = (
                self._ids_version,
                ids,
                json.dumps(ids, separators=(",", ":")).encode(),
            )
        return self._ids_cache

    def visible_to(self, conf_id: int, agent_id: str) -> bool:
        """An ordinary agent sees only a conference it is in as an agent ("9") address."""
        return conf_id in self._agents.get(agent_id, ())

    def conferences_of(self, agent_id: str) -> set[int]:
        return set(self._agents.get(agent_id, ()))

    def render(self, conf_id: int) -> dict[str, Any] | None:
        conf = self._confs.get(conf_id)
        if conf is None:
            return None
        result: dict[str, Any] = json.loads(conf.to_json(self.now_ms()))
        return result

    def summary(self) -> dict[str, Any]:
        """Counts for the admin API; O(N), for humans and tests, not for the hot path."""
        participants = held = announcing = 0
        for conf in self._confs.values():
            participants += len(conf.participants)
            announcing += conf.conf_state == 1
            held += sum(p.channel_state == 1 for p in conf.participants.values())
        return {
            "count": len(self._confs),
            "target": self.target,
            "participants": participants,
            "held": held,
            "announcing": announcing,
            "started_total": self.started_total,
            "ended_total": self.ended_total,
            "vdn": self.vdn,
            "churn": {
                "activity_mean_seconds": self.activity_mean_s,
                "replacement_mean_seconds": self.replacement_mean_s,
                "prolong_probability": self.prolong_probability,
            },
            "now_ms": self.now_ms(),
            "confIds": self.conf_ids(),
        }

    # ----------------------------------------------------------------- time

    def tick(self) -> int:
        """Apply every change due by simulated now; returns how many were applied."""
        now = self.clock.now_ms()
        heap = self._heap
        applied = 0
        while heap and heap[0][0] <= now:
            t, _, kind, conf_id, token = heapq.heappop(heap)
            if kind == _START:
                self._pending_starts -= 1
                if len(self._confs) < self.target:
                    self._add_random(t, mid_flight=False)
                    applied += 1
                continue
            conf = self._confs.get(conf_id)
            if conf is None:
                continue
            if kind == _END and token == conf.end_token:
                self._on_end_due(conf, t)
                applied += 1
            elif kind == _ACTIVITY and token == conf.activity_token:
                self._on_activity(conf, t)
                applied += 1
            elif kind == _WARN and token == conf.warn_token:
                self._warn(conf)
                applied += 1
        return applied

    def advance(self, seconds: float) -> int:
        """Move simulated time forward (for tests) and apply what became due."""
        self.clock.advance(seconds)
        return self.tick()

    def _schedule(self, t: int, kind: int, conf_id: int = 0, token: int = 0) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, conf_id, token))

    def _schedule_end(self, conf: Conference, not_before: int) -> None:
        """(Re)schedule the end at the applied time, but not before ``not_before`` (the event
        time in a tick, the clock for a test's change), and the AgentConf_Timeout warning
        ``prompt_minutes`` before it when that is still ahead."""
        conf.end_token += 1
        conf.end_scheduled_at = not_before
        self._schedule(max(conf.end_ms, not_before), _END, conf.conf_id, conf.end_token)
        conf.warn_token += 1
        # promptTime >= the applied time means applied - 1 (cec_07_1283)
        prompt = min(self.prompt_minutes, conf.apply_minutes - 1)
        warn_at = conf.end_ms - prompt * 60_000
        if prompt >= 1 and warn_at > not_before:
            self._schedule(warn_at, _WARN, conf.conf_id, conf.warn_token)

    def _schedule_activity(self, conf: Conference, t: int, mean_s: float) -> None:
        conf.activity_token += 1
        delay_ms = int(self._rng.expovariate(1.0 / mean_s) * 1000) + 1
        self._schedule(t + delay_ms, _ACTIVITY, conf.conf_id, conf.activity_token)

    # ----------------------------------------------------------------- size

    def set_target(self, target: int) -> None:
        """Change the population size now: add mid-flight conferences or end the newest."""
        if not 0 <= target <= MAX_CONFERENCES:
            raise ValueError(f"conferences: 0..{MAX_CONFERENCES}, got {target}")
        self.target = target
        now = self.now_ms()
        while len(self._confs) < target:
            self._add_random(now, mid_flight=True)
        surplus = len(self._confs) - target
        if surplus > 0:
            newest = list(itertools.islice(reversed(self._confs), surplus))
            for conf_id in newest:
                self._remove(self._confs[conf_id], now, now, replace=False)

    # ----------------------------------------------------------------- creation

    def _new_id(self) -> int:
        conf_id = self._next_id
        # IDs come from a counter the gateway shares with other work: small gaps.
        self._next_id += 1 + (self._rng.random() < 0.2)
        return conf_id

    def _register(self, conf: Conference, t: int) -> None:
        self._confs[conf.conf_id] = conf
        self._ids_version += 1
        self.started_total += 1
        self.truth.created(conf)
        for p in conf.participants.values():
            self._index_join(conf, p)
        self._schedule_end(conf, t)
        if conf.evolve:
            self._schedule_activity(conf, t, self.activity_mean_s)

    def _random_agent(self) -> str | None:
        for _ in range(4):  # an agent is in at most one conference; give up on collisions
            agent = str(self._rng.randint(1000, 99999))
            if not self._agents.get(agent):
                return agent
        return None

    def _random_participant(self, enter_ms: int, *, chair: bool) -> Participant:
        rng = self._rng
        agent = self._random_agent() if rng.random() < (0.6 if chair else 0.3) else None
        if agent is not None:
            address, address_type, device_type = agent, ADDRESS_AGENT, AGENT_DEVICE_TYPE
        elif rng.random() < 0.5:
            # a fixed-line number: deviceType 0 as in the vendor's sample (cec_07_0485)
            address = str(rng.randint(70000, 79999))
            address_type, device_type = ADDRESS_PHONE, PHONE_DEVICE_TYPE
        else:
            address = "13" + str(rng.randint(100000000, 999999999))
            address_type, device_type = ADDRESS_PHONE, MOBILE_DEVICE_TYPE
        call_type = _CALL_TYPE.pick(rng)
        attrib = 3 if chair else _ATTRIB.pick(rng)
        return Participant(
            address=address,
            address_type=address_type,
            device_call_type=call_type,
            device_type=device_type,
            channel_attrib=attrib,
            channel_state=0,
            role=1 if chair else 0,
            enter_ms=enter_ms,
        )

    def _add_random(self, now: int, *, mid_flight: bool) -> Conference:
        rng = self._rng
        apply_minutes = _APPLY.pick(rng)
        elapsed = int(rng.uniform(0, apply_minutes * 60_000 * 0.95)) if mid_flight else 0
        start = now - elapsed
        conf = Conference(self._new_id(), start, apply_minutes, evolve=True)
        size = _SIZE.pick(rng)
        for i in range(size):
            enter = start if i == 0 else start + int(rng.uniform(0, min(elapsed, 180_000)))
            p = self._random_participant(enter, chair=i == 0)
            conf.participants.setdefault(p.address, p)
        if self.stringly_numbers and rng.random() < 0.3:
            conf.stringly = frozenset(rng.sample(NUMERIC_FIELDS, rng.randint(1, 3)))
        if mid_flight and rng.random() < 0.05:
            self._start_announcement(conf)
        self._register(conf, now)
        return conf

    def add_conference(
        self,
        *,
        apply_minutes: int = 60,
        elapsed_minutes: float = 0,
        participants: Iterable[dict[str, Any]] | None = None,
        conf_state: int = 0,
        evolve: bool = False,
        overrun: bool = False,
        stringly: Iterable[str] = (),
    ) -> int:
        """Create a conference for a test; it changes only when told (unless ``evolve``)
        and ends when its applied time runs out (unless ``overrun``: then it stays, its
        ``confHaveBeenTime`` growing past ``applyConfTime``, until told otherwise).
        ``participants`` use the vendor's keys:
        ``{"address": "154", "addressType": "9", "role": 1, "channelState": 0, ...}``;
        by default two phone numbers, the first one chairing. Returns the conference ID."""
        if isinstance(apply_minutes, bool) or not isinstance(apply_minutes, int):
            raise ValueError("applyConfTime: expected an integer number of minutes")
        if apply_minutes < 0 or elapsed_minutes < 0:
            raise ValueError("minutes must be >= 0")
        now = self.now_ms()
        start = now - int(elapsed_minutes * 60_000)
        conf = Conference(self._new_id(), start, apply_minutes, conf_state=conf_state)
        conf.evolve = evolve
        conf.overrun = overrun
        conf.stringly = frozenset(stringly) & frozenset(NUMERIC_FIELDS)
        specs = list(participants) if participants is not None else _default_participants()
        for spec in specs:
            p = participant_from_mapping(spec, start)
            if p.address in conf.participants:
                raise ValueError(f"participant {p.address} given twice")
            conf.participants[p.address] = p
        self._register(conf, now)
        return conf.conf_id

    # ----------------------------------------------------------------- ending

    def _on_end_due(self, conf: Conference, t: int) -> None:
        if conf.overrun:
            return  # set_overrun(False) schedules the end again
        if conf.evolve and conf.prolonged < 2 and self._rng.random() < self.prolong_probability:
            conf.apply_minutes += self._rng.choice((15, 30, 60))  # the chair prolongs
            conf.prolonged += 1
            self.truth.prolonged(conf)
            conf.touch()
            self._schedule_end(conf, t)
            return
        # Queries tick first, so an end reached by time passing was last visible the
        # millisecond before; an end due at once (a test's change) at that very moment.
        visible = t - 1 if t > conf.end_scheduled_at else t
        self._remove(conf, t, visible, replace=True)

    def _remove(self, conf: Conference, t: int, visible: int, *, replace: bool) -> None:
        """End ``conf`` at ``t``; ``visible`` is the last moment a query could see it."""
        del self._confs[conf.conf_id]
        self._ids_version += 1
        self.ended_total += 1
        self.truth.ended(conf, max(visible, conf.start_ms), t)
        for p in conf.participants.values():
            self._notify(conf, p, LEFT, CONFERENCE_ENDED)
        for p in conf.participants.values():
            self._index_leave(conf, p)
        conf.end_token += 1
        conf.activity_token += 1
        conf.warn_token += 1
        if replace and len(self._confs) + self._pending_starts < self.target:
            self._pending_starts += 1
            delay_ms = int(self._rng.expovariate(1.0 / self.replacement_mean_s) * 1000)
            self._schedule(t + delay_ms, _START)

    def end_conference(self, conf_id: int) -> bool:
        """End a conference now (its agents get SelfLeave events); False if unknown."""
        conf = self._confs.get(conf_id)
        if conf is None:
            return False
        now = self.now_ms()
        self._remove(conf, now, now, replace=True)
        return True

    def _warn(self, conf: Conference) -> None:
        """The applied time is nearly used up: AgentConf_Timeout to the conference's agents."""
        self.truth.warned()
        for agent in self._listening_agents(conf):
            self._deliver(agent, TIMEOUT_EVENT, {"confId": conf.conf_id})

    # ----------------------------------------------------------------- evolution

    def _start_announcement(self, conf: Conference) -> None:
        conf.conf_state = 1
        for p in conf.participants.values():
            if p.channel_state == 0:
                p.channel_state = 2
        conf.touch()

    def _on_activity(self, conf: Conference, t: int) -> None:
        rng = self._rng
        if conf.conf_state == 1:  # an announcement ends
            conf.conf_state = 0
            for p in conf.participants.values():
                if p.channel_state == 2:
                    p.channel_state = 0
            conf.touch()
            self._schedule_activity(conf, t, self.activity_mean_s)
            return
        members = list(conf.participants.values())
        others = [p for p in members if p.role != 1] or members
        # Joins are rarer than leaves so that sizes stay near a mean of about 3 over a
        # conference's life (a birth-death walk on 2..6 with ratio 0.6).
        r = rng.random()
        if r < 0.15:
            if len(members) < MAX_PARTICIPANTS:
                p = self._random_participant(t, chair=False)
                if p.address not in conf.participants:
                    self._join(conf, p)
        elif r < 0.40:
            if len(members) > 2:
                self._leave(conf, rng.choice(others), HUNG_UP)
        elif r < 0.42:
            if len(members) <= 2:
                self._remove(conf, t, t - 1, replace=True)  # everybody hung up: it empties
                return
        elif r < 0.75:
            p = rng.choice(others)
            if p.channel_state in (0, 1):
                p.channel_state = 1 - p.channel_state  # hold / unhold
                self._notify(conf, p, HELD if p.channel_state == 1 else UNHELD)
        elif r < 0.87:
            self._start_announcement(conf)
            self._schedule_activity(conf, t, rng.uniform(10, 60))
            return
        elif r < 0.93:
            p = rng.choice(others)
            p.channel_attrib = 1 if p.channel_attrib == 3 else 3
            self._notify(conf, p, MUTED if p.channel_attrib == 1 else UNMUTED)
        conf.touch()
        self._schedule_activity(conf, t, self.activity_mean_s)

    def _join(self, conf: Conference, p: Participant) -> None:
        """``p`` joins a running conference."""
        conf.participants[p.address] = p
        conf.touch()
        self.truth.joined(conf)
        self._index_join(conf, p)
        self._notify(conf, p, JOINED)

    def _leave(self, conf: Conference, p: Participant, reason: int) -> None:
        """``p`` leaves a conference that goes on."""
        del conf.participants[p.address]
        conf.touch()
        self.truth.left(conf)
        self._notify(conf, p, LEFT, reason)
        self._index_leave(conf, p)

    # ----------------------------------------------------------------- agents' events

    def _wants(self, agent: str) -> bool:
        return self.listener is not None and (self.audience is None or self.audience(agent))

    def _deliver(self, agent: str, event_type: str, content: dict[str, Any]) -> None:
        if self.listener is not None:
            self.listener(agent, event_type, content)

    def _listening_agents(self, conf: Conference) -> list[str]:
        if self.listener is None:
            return []
        return [
            a.address for a in conf.participants.values() if a.is_agent and self._wants(a.address)
        ]

    def _notify(
        self, conf: Conference, subject: Participant, change_type: int, reason: int = NO_REASON
    ) -> None:
        """AgentConf_ParticipantChanged about ``subject`` to the conference's other agents."""
        agents = [a for a in self._listening_agents(conf) if a != subject.address]
        if not agents:
            return
        content = {
            "result": 0,
            "changeType": change_type,
            "changeReason": reason,
            "confId": conf.conf_id,
            "participant": subject.address,
            "participantType": subject.participant_type,
            "deviceCallType": subject.device_call_type,
            "deviceType": subject.device_type,
        }
        for agent in agents:
            self._deliver(agent, CHANGED_EVENT, dict(content))

    def _index_join(self, conf: Conference, p: Participant) -> None:
        if p.is_agent:
            self._agents.setdefault(p.address, set()).add(conf.conf_id)
            if self._wants(p.address):
                self._deliver(p.address, JOIN_EVENT, {"confId": conf.conf_id})

    def _index_leave(self, conf: Conference, p: Participant) -> None:
        if p.is_agent:
            confs = self._agents.get(p.address)
            if confs is not None:
                confs.discard(conf.conf_id)
                if not confs:
                    del self._agents[p.address]
            if self._wants(p.address):
                self._deliver(p.address, LEAVE_EVENT, {"confId": conf.conf_id})

    # ----------------------------------------------------------------- what was served

    def note_served(self, served: Iterable[tuple[Conference, int]]) -> None:
        """These conferences went out in an intact queryconfinfos answer with these elapsed
        minutes (the ground truth's served side)."""
        for conf, minutes in served:
            if conf.conf_id in self._confs:
                self.truth.served_now(conf, minutes)

    def reset_truth(self) -> None:
        """Count the ground truth from now; the live conferences are the baseline."""
        self.tick()
        self.truth.reset(self.now_ms(), list(self._confs.values()))

    # ----------------------------------------------------------------- test API

    def _conf(self, conf_id: int) -> Conference:
        conf = self._confs.get(conf_id)
        if conf is None:
            raise KeyError(conf_id)
        return conf

    def add_participant(self, conf_id: int, address: str, **fields: Any) -> None:
        """Add a participant (vendor or snake_case keys: ``addressType="9"`` or
        ``address_type="9"``); an agent gets a SelfJoin event, the other agents a
        ParticipantChanged. KeyError: no such conference; ValueError: already there."""
        conf = self._conf(conf_id)
        if address in conf.participants:
            raise ValueError(f"{address} is already in conference {conf_id}")
        p = participant_from_mapping({"address": address, **fields}, self.now_ms())
        self._join(conf, p)

    def set_participant(self, conf_id: int, address: str, **fields: Any) -> bool:
        """Add or change a participant (``channel_state=1``/``channelState=1``, ``role=1``...);
        the other agents hear of holds, mutes and a new chair. Returns True when it was added."""
        conf = self._conf(conf_id)
        p = conf.participants.get(address)
        if p is None:
            self.add_participant(conf_id, address, **fields)
            return True
        was_agent, state, attrib, role = p.is_agent, p.channel_state, p.channel_attrib, p.role
        apply_participant_changes(p, fields)
        conf.touch()
        if was_agent and not p.is_agent:
            self._index_leave(conf, p)
        elif p.is_agent and not was_agent:
            self._index_join(conf, p)
        if role != 1 and p.role == 1:
            self._notify(conf, p, CHAIR_CHANGED)
        if attrib != 1 and p.channel_attrib == 1:
            self._notify(conf, p, MUTED)
        elif attrib == 1 and p.channel_attrib != 1:
            self._notify(conf, p, UNMUTED)
        if state != 1 and p.channel_state == 1:
            self._notify(conf, p, HELD)
        elif state == 1 and p.channel_state != 1:
            self._notify(conf, p, UNHELD)
        return False

    def remove_participant(self, conf_id: int, address: str, reason: int = REMOVED) -> bool:
        """Remove a participant (an agent gets SelfLeave, the others a ParticipantChanged with
        ``reason``); the conference ends if it empties. False if the participant was not
        there."""
        conf = self._conf(conf_id)
        p = conf.participants.get(address)
        if p is None:
            return False
        if len(conf.participants) == 1:  # the last one: the conference ends with them
            now = self.now_ms()
            self._remove(conf, now, now, replace=True)
            return True
        self._leave(conf, p, reason)
        return True

    def set_elapsed(self, conf_id: int, minutes: float) -> None:
        """Make the conference have run ``minutes`` (moves ``startTime``); it ends at the
        next tick if that reaches its applied time (no client can have seen that elapsed
        time: use ``overrun`` to show a conference past its applied time)."""
        if minutes < 0:
            raise ValueError("minutes must be >= 0")
        conf = self._conf(conf_id)
        now = self.now_ms()
        conf.start_ms = now - int(minutes * 60_000)
        for p in conf.participants.values():
            p.enter_ms = max(p.enter_ms, conf.start_ms)
        conf.touch()
        self._schedule_end(conf, now)

    def set_apply(self, conf_id: int, minutes: int) -> None:
        """Change ``applyConfTime``; raising it is what prolonging does."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
            raise ValueError("applyConfTime: expected a non-negative integer")
        conf = self._conf(conf_id)
        if minutes > conf.apply_minutes:
            self.truth.prolonged(conf)
        conf.apply_minutes = minutes
        conf.touch()
        self._schedule_end(conf, self.now_ms())

    def set_overrun(self, conf_id: int, overrun: bool) -> None:
        """Keep the conference past its applied time, or stop doing so: then it ends at the
        next tick if its applied time has run out."""
        conf = self._conf(conf_id)
        conf.overrun = overrun
        self._schedule_end(conf, self.now_ms())

    def set_conf_state(self, conf_id: int, state: int) -> None:
        if isinstance(state, bool) or not isinstance(state, int):
            raise ValueError("confState: expected an integer")
        conf = self._conf(conf_id)
        conf.conf_state = state
        conf.touch()

    def set_churn(
        self,
        *,
        activity_mean_s: float | None = None,
        replacement_mean_s: float | None = None,
        prolong_probability: float | None = None,
    ) -> None:
        """Change how lively the population is from now on (changes already scheduled keep
        their times)."""
        for name, value in (
            ("activity_mean_seconds", activity_mean_s),
            ("replacement_mean_seconds", replacement_mean_s),
        ):
            if value is not None and not value > 0:
                raise ValueError(f"{name}: must be > 0")
        if prolong_probability is not None and not 0 <= prolong_probability <= 1:
            raise ValueError("prolong_probability: must be in [0, 1]")
        if activity_mean_s is not None:
            self.activity_mean_s = activity_mean_s
        if replacement_mean_s is not None:
            self.replacement_mean_s = replacement_mean_s
        if prolong_probability is not None:
            self.prolong_probability = prolong_probability


def _default_participants() -> list[dict[str, Any]]:
    return [
        {"address": "70005", "addressType": ADDRESS_PHONE, "role": 1},
        {"address": "70006", "addressType": ADDRESS_PHONE},
    ]
