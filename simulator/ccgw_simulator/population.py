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

Agents put into or taken out of a conference are reported to ``listener(work_no, event_type,
conf_id)``, which the simulator turns into ``AgentConf_SelfJoinResult`` /
``AgentConf_SelfLeaveResult`` events on that agent's poll.
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
    NUMERIC_FIELDS,
    Conference,
    Participant,
    apply_participant_changes,
    participant_from_mapping,
)

FIRST_CONF_ID = 1029888
MAX_CONFERENCES = 20000
JOIN_EVENT = "AgentConf_SelfJoinResult"
LEAVE_EVENT = "AgentConf_SelfLeaveResult"

Listener = Callable[[str, str, int], None]

# (applied minutes, weight): mostly 30/60/120, the whole documented range 4..1440 present.
_APPLY_MINUTES: tuple[tuple[int, int], ...] = (
    (30, 25), (60, 35), (120, 15), (15, 5), (45, 5), (90, 5), (180, 4),
    (240, 2), (480, 1), (4, 1), (10, 1), (1440, 1),
)  # fmt: skip
# (participants, weight): 2..6, mean about 3.15.
_SIZES: tuple[tuple[int, int], ...] = ((2, 35), (3, 35), (4, 15), (5, 10), (6, 5))
MAX_PARTICIPANTS = 6
_MEAN_ACTIVITY_S = 240.0  # a conference changes about every 4 simulated minutes
_MEAN_REPLACEMENT_S = 20.0  # a replacement starts about 20 simulated seconds after an end
_PROLONG_P = 0.1

_END, _ACTIVITY, _START = 0, 1, 2


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
    ) -> None:
        if not 0 <= target <= MAX_CONFERENCES:
            raise ValueError(f"conferences: 0..{MAX_CONFERENCES}, got {target}")
        self.clock = clock or SimClock()
        self.stringly_numbers = stringly_numbers
        self.listener = listener
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
        for _ in range(target):
            self._add_random(now, mid_flight=True)

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
        return applied

    def advance(self, seconds: float) -> int:
        """Move simulated time forward (for tests) and apply what became due."""
        self.clock.advance(seconds)
        return self.tick()

    def _schedule(self, t: int, kind: int, conf_id: int = 0, token: int = 0) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, conf_id, token))

    def _schedule_end(self, conf: Conference) -> None:
        conf.end_token += 1
        self._schedule(conf.end_ms, _END, conf.conf_id, conf.end_token)

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
                self._remove(self._confs[conf_id], now, replace=False)

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
        for p in conf.participants.values():
            self._index_join(conf, p)
        self._schedule_end(conf)
        if conf.evolve:
            self._schedule_activity(conf, t, _MEAN_ACTIVITY_S)

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
            address, address_type, device_type = agent, ADDRESS_AGENT, 6
        elif rng.random() < 0.5:
            address, address_type, device_type = str(rng.randint(70000, 79999)), ADDRESS_PHONE, 1
        else:
            address = "13" + str(rng.randint(100000000, 999999999))
            address_type, device_type = ADDRESS_PHONE, 5
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
        if conf.evolve and conf.prolonged < 2 and self._rng.random() < _PROLONG_P:
            conf.apply_minutes += self._rng.choice((15, 30, 60))  # the chair prolongs
            conf.prolonged += 1
            conf.touch()
            self._schedule_end(conf)
            return
        self._remove(conf, t, replace=True)

    def _remove(self, conf: Conference, t: int, *, replace: bool) -> None:
        del self._confs[conf.conf_id]
        self._ids_version += 1
        self.ended_total += 1
        for p in conf.participants.values():
            self._index_leave(conf, p)
        conf.end_token += 1
        conf.activity_token += 1
        if replace and len(self._confs) + self._pending_starts < self.target:
            self._pending_starts += 1
            delay_ms = int(self._rng.expovariate(1.0 / _MEAN_REPLACEMENT_S) * 1000)
            self._schedule(t + delay_ms, _START)

    def end_conference(self, conf_id: int) -> bool:
        """End a conference now (its agents get SelfLeave events); False if unknown."""
        conf = self._confs.get(conf_id)
        if conf is None:
            return False
        self._remove(conf, self.now_ms(), replace=True)
        return True

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
            self._schedule_activity(conf, t, _MEAN_ACTIVITY_S)
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
                    conf.participants[p.address] = p
                    self._index_join(conf, p)
        elif r < 0.40:
            if len(members) > 2:
                gone = rng.choice(others)
                del conf.participants[gone.address]
                self._index_leave(conf, gone)
        elif r < 0.42:
            if len(members) <= 2:
                self._remove(conf, t, replace=True)  # everybody hung up: it empties
                return
        elif r < 0.75:
            p = rng.choice(others)
            if p.channel_state in (0, 1):
                p.channel_state = 1 - p.channel_state  # hold / unhold
        elif r < 0.87:
            self._start_announcement(conf)
            self._schedule_activity(conf, t, rng.uniform(10, 60))
            return
        elif r < 0.93:
            p = rng.choice(others)
            p.channel_attrib = 1 if p.channel_attrib == 3 else 3
        conf.touch()
        self._schedule_activity(conf, t, _MEAN_ACTIVITY_S)

    # ----------------------------------------------------------------- agents' events

    def _emit(self, agent: str, event_type: str, conf_id: int) -> None:
        if self.listener is not None:
            self.listener(agent, event_type, conf_id)

    def _index_join(self, conf: Conference, p: Participant) -> None:
        if p.is_agent:
            self._agents.setdefault(p.address, set()).add(conf.conf_id)
            self._emit(p.address, JOIN_EVENT, conf.conf_id)

    def _index_leave(self, conf: Conference, p: Participant) -> None:
        if p.is_agent:
            confs = self._agents.get(p.address)
            if confs is not None:
                confs.discard(conf.conf_id)
                if not confs:
                    del self._agents[p.address]
            self._emit(p.address, LEAVE_EVENT, conf.conf_id)

    # ----------------------------------------------------------------- test API

    def _conf(self, conf_id: int) -> Conference:
        conf = self._confs.get(conf_id)
        if conf is None:
            raise KeyError(conf_id)
        return conf

    def add_participant(self, conf_id: int, address: str, **fields: Any) -> None:
        """Add a participant (vendor or snake_case keys: ``addressType="9"`` or
        ``address_type="9"``); an agent gets a SelfJoin event.
        KeyError: no such conference; ValueError: already there."""
        conf = self._conf(conf_id)
        if address in conf.participants:
            raise ValueError(f"{address} is already in conference {conf_id}")
        p = participant_from_mapping({"address": address, **fields}, self.now_ms())
        conf.participants[address] = p
        conf.touch()
        self._index_join(conf, p)

    def set_participant(self, conf_id: int, address: str, **fields: Any) -> bool:
        """Add or change a participant (``channel_state=1``/``channelState=1``, ``role=1``...).
        Returns True when it was added."""
        conf = self._conf(conf_id)
        p = conf.participants.get(address)
        if p is None:
            self.add_participant(conf_id, address, **fields)
            return True
        was_agent = p.is_agent
        apply_participant_changes(p, fields)
        conf.touch()
        if was_agent and not p.is_agent:
            self._index_leave(conf, p)
        elif p.is_agent and not was_agent:
            self._index_join(conf, p)
        return False

    def remove_participant(self, conf_id: int, address: str) -> bool:
        """Remove a participant (an agent gets SelfLeave); the conference ends if it empties.
        False if the participant was not there."""
        conf = self._conf(conf_id)
        p = conf.participants.pop(address, None)
        if p is None:
            return False
        conf.touch()
        self._index_leave(conf, p)
        if not conf.participants:
            self._remove(conf, self.now_ms(), replace=True)
        return True

    def set_elapsed(self, conf_id: int, minutes: float) -> None:
        """Make the conference have run ``minutes`` (moves ``startTime``); it ends at the
        next tick if that reaches its applied time."""
        if minutes < 0:
            raise ValueError("minutes must be >= 0")
        conf = self._conf(conf_id)
        conf.start_ms = self.now_ms() - int(minutes * 60_000)
        for p in conf.participants.values():
            p.enter_ms = max(p.enter_ms, conf.start_ms)
        conf.touch()
        self._schedule_end(conf)

    def set_apply(self, conf_id: int, minutes: int) -> None:
        """Change ``applyConfTime`` (what prolonging does)."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
            raise ValueError("applyConfTime: expected a non-negative integer")
        conf = self._conf(conf_id)
        conf.apply_minutes = minutes
        conf.touch()
        self._schedule_end(conf)

    def set_overrun(self, conf_id: int, overrun: bool) -> None:
        """Keep the conference past its applied time, or stop doing so: then it ends at the
        next tick if its applied time has run out."""
        conf = self._conf(conf_id)
        conf.overrun = overrun
        self._schedule_end(conf)

    def set_conf_state(self, conf_id: int, state: int) -> None:
        if isinstance(state, bool) or not isinstance(state, int):
            raise ValueError("confState: expected an integer")
        conf = self._conf(conf_id)
        conf.conf_state = state
        conf.touch()


def _default_participants() -> list[dict[str, Any]]:
    return [
        {"address": "70005", "addressType": ADDRESS_PHONE, "role": 1},
        {"address": "70006", "addressType": ADDRESS_PHONE},
    ]
