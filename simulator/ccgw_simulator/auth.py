"""Accounts, sessions and Guids: the gateway's authentication rules.

``Accounts`` is shared by every node (it stands for the CTI's account data: passwords,
lockout, sign-ins in progress). ``SessionTable`` is one node's memory of signed-in agents;
in load-balancer mode each node has its own, which is what makes stickiness matter.

Guid timing runs on the real monotonic clock, and rotation is computed lazily from a fixed
timeline (sign-in + k x ``guid_interval``), so the answer to "is this Guid valid now?" is
the same whether or not anybody looked in between, and idle sessions cost nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import Account, SimulatorConfig
from .stats import Stats

MAX_QUEUED_EVENTS = 1000


def agent_event(
    event_type: str, work_no: str, content: dict[str, Any] | None, now_ms: int
) -> dict[str, Any]:
    """An event as getAgentEvent carries it (cec_07_1274); the current pages' samples add
    ``eventGenTime``, epoch milliseconds (cec_07_0561, cec_07_0564)."""
    return {"eventType": event_type, "workNo": work_no, "content": content, "eventGenTime": now_ms}


class GatewayError(Exception):
    """A business or authentication failure, answered as HTTP 200 with this retcode."""

    def __init__(self, retcode: str, message: str = "") -> None:
        super().__init__(retcode, message)
        self.retcode = retcode
        self.message = message


@dataclass(eq=False)
class Session:
    agent_id: str
    node: int
    #: the sign-in variant, by the vendor's log name (login, forceLogin, loginEx, forceLoginEx)
    method: str
    current_guid: str
    current_issued: float
    last_poll: float
    #: whether this sign-in took an agent licence (login/forcelogin; see signin.py)
    licence: bool = False
    #: the agent state signed in with: 3 busy, 4 idle, 5 wrap-up
    status: int = 4
    #: events pushed to a callback instead of polled (callBackUri + serviceToken)
    push: bool = False
    #: the documented sign-in fields the client sent (names only)
    body_fields: tuple[str, ...] = ()
    #: every Guid of this session that may still be valid -> when it was issued
    guids: dict[str, float] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_QUEUED_EVENTS))
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    polls_in_flight: int = 0
    closed: bool = False

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


class Accounts:
    """Passwords, consecutive-failure lockout, and the sign-in-in-progress guard (000-007)."""

    def __init__(
        self,
        config: SimulatorConfig,
        stats: Stats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._stats = stats
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._signing_in: set[str] = set()

    def get(self, agent_id: str) -> Account | None:
        for account in self._config.accounts:
            if account.agent_id == agent_id:
                return account
        return None

    def begin_signin(self, agent_id: str) -> None:
        """Mark a sign-in as being answered; a second one meanwhile gets 000-007."""
        if agent_id in self._signing_in:
            self._stats.concurrent_signins_rejected += 1
            raise GatewayError("000-007")
        self._signing_in.add(agent_id)

    def end_signin(self, agent_id: str) -> None:
        self._signing_in.discard(agent_id)

    def verify(self, agent_id: str, password: str) -> Account:
        """Check the password: 100-004 when wrong or unknown, 110-016 while locked."""
        now = self._clock()
        until = self._locked_until.get(agent_id)
        if until is not None:
            if now < until:
                raise GatewayError("110-016")
            del self._locked_until[agent_id]
            self._failures.pop(agent_id, None)
        account = self.get(agent_id)
        if account is None:
            raise GatewayError("100-004")
        if password != account.password:
            failures = self._failures.get(agent_id, 0) + 1
            self._failures[agent_id] = failures
            if failures >= self._config.lock_after:
                self._locked_until[agent_id] = now + self._config.lock_seconds
            raise GatewayError("100-004")
        self._failures.pop(agent_id, None)
        return account

    def unlock_all(self) -> None:
        self._failures.clear()
        self._locked_until.clear()


class SessionTable:
    """One node's signed-in agents, their Guids and event queues."""

    def __init__(
        self,
        node: int,
        config: SimulatorConfig,
        stats: Stats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self._config = config
        self._stats = stats
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[Session]:
        return list(self._sessions.values())

    def now(self) -> float:
        return self._clock()

    @property
    def dynamic(self) -> bool:
        return self._config.auth_mode == "dynamic"

    def _new_guid(self) -> str:
        self._stats.guids_issued += 1
        return f"{uuid.uuid4()}.AgentGateway{self.node}"

    def get(self, agent_id: str) -> Session | None:
        """The agent's live session, signing it out first if it has gone idle."""
        session = self._sessions.get(agent_id)
        if session is not None and self._is_idle(session, self._clock()):
            self.sign_out(agent_id, "idle")
            return None
        return session

    def sign_in(
        self,
        agent_id: str,
        method: str,
        *,
        licence: bool = False,
        status: int = 4,
        push: bool = False,
        body_fields: tuple[str, ...] = (),
    ) -> Session:
        """Create the agent's session; a session already there is replaced (forcelogin)."""
        if agent_id in self._sessions:
            self.sign_out(agent_id, method.lower())
        now = self._clock()
        guid = self._new_guid()
        session = Session(
            agent_id,
            self.node,
            method,
            guid,
            now,
            now,
            licence=licence,
            status=status,
            push=push,
            body_fields=body_fields,
            guids={guid: now},
        )
        self._sessions[agent_id] = session
        self._stats.signins[method] += 1
        if licence:
            self._stats.licences_taken[method] += 1
        return session

    def sign_out(self, agent_id: str, reason: str) -> bool:
        session = self._sessions.pop(agent_id, None)
        if session is None:
            return False
        session.close()
        self._stats.signouts[reason] += 1
        return True

    def clear(self, reason: str) -> int:
        """Sign everybody out (gateway restart, node down)."""
        agents = list(self._sessions)
        for agent_id in agents:
            self.sign_out(agent_id, reason)
        return len(agents)

    def _is_idle(self, session: Session, now: float) -> bool:
        return session.polls_in_flight == 0 and now - session.last_poll >= self._config.idle_signout

    def expire_idle(self) -> int:
        """Sign out agents that have not polled for ``idle_signout`` (housekeeping)."""
        now = self._clock()
        idle = [a for a, s in self._sessions.items() if self._is_idle(s, now)]
        for agent_id in idle:
            self.sign_out(agent_id, "idle")
        return len(idle)

    # ------------------------------------------------------------------ Guids

    def next_rotation(self, session: Session) -> float:
        """When the current Guid is due to be replaced (inf in static mode)."""
        if not self.dynamic:
            return math.inf
        return session.current_issued + self._config.guid_interval

    def rotate_if_due(self, session: Session) -> bool:
        """Dynamic mode: issue the Guid the timeline says is current. Skipped rotations
        nobody saw are not materialised: only the newest one matters."""
        if not self.dynamic or session.closed:
            return False
        now = self._clock()
        interval = self._config.guid_interval
        if now < session.current_issued + interval:
            return False
        steps = math.floor((now - session.current_issued) / interval)
        issued = session.current_issued + steps * interval
        self._install(session, self._new_guid(), issued)
        return True

    def update_guid(self, session: Session) -> str:
        """updateGuid: a new Guid now; the old ones keep their own validity (overlap)."""
        self._install(session, self._new_guid(), self._clock())
        return session.current_guid

    def _install(self, session: Session, guid: str, issued: float) -> None:
        session.current_guid = guid
        session.current_issued = issued
        session.guids[guid] = issued
        self._prune(session, self._clock())

    def _prune(self, session: Session, now: float) -> None:
        timeout = self._config.guid_timeout
        for old, at in list(session.guids.items()):
            if old != session.current_guid and now - at >= timeout:
                del session.guids[old]

    def _guid_valid(self, session: Session, guid: str, now: float) -> bool:
        issued = session.guids.get(guid)
        if issued is None:
            return False
        if guid == session.current_guid and not self.dynamic:
            return True  # static: the sign-in Guid holds until sign-out
        return now - issued < self._config.guid_timeout

    def authenticate(self, agent_id: str, guid: str | None) -> Session:
        """The rule for every call but sign-in: no Guid 000-003; agent not signed in on this
        node 100-006; a Guid that is neither current nor a previous one still within
        ``guid_timeout`` 000-003."""
        if not guid:
            raise GatewayError("000-003")
        session = self.get(agent_id)
        if session is None:
            raise GatewayError("100-006")
        self.rotate_if_due(session)
        if not self._guid_valid(session, guid.strip(), self._clock()):
            raise GatewayError("000-003")
        return session

    # ------------------------------------------------------------------ events

    def push_event(self, agent_id: str, event: dict[str, Any]) -> bool:
        session = self._sessions.get(agent_id)
        if session is None or session.closed:
            return False
        session.events.append(event)
        session.wakeup.set()
        self._stats.events_queued += 1
        return True

    def wake_all(self) -> None:
        for session in self._sessions.values():
            session.wakeup.set()
