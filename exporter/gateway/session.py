"""One signed-in agent per configured gateway account, kept alive and healed: the driver.

The rules live in `machine.py` (a sans-I/O state machine, drawn in docs/session.md); this
module only performs what it decides: the sign-in calls, the event long poll (the only
background traffic the exporter makes, which both keeps the session alive and brings the newest
Guid and the account's own conference events), the sleeps, the sign-out at the end, and the
log lines. It also keeps what the account is, for `ccgw_session_info`: its VDN (from the
sign-in answer), the gateway node that issued its Guid, and whether it may discover the VDN's
conferences (an inspector) or not (an ordinary agent, `101-004`).

Nothing may kill the background task silently (issue 12): an unexpected exception in the poll
loop is logged once, counted and retried with back-off; `stop()` signs out whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..logs import kv, short_guid
from . import events as agent_events
from .boundary import guid_node
from .client import GatewayClient, HeldSession
from .errors import GatewayError, RetcodeError, TransportError
from .machine import (
    SESSION_LOST,
    Action,
    CountConflict,
    Failure,
    ForgetSession,
    HoldSession,
    Log,
    MachineSettings,
    SessionMachine,
    SignIn,
    State,
    TakeBack,
)
from .vendor import FORCED, SIGN_IN_CALLS, SignInVariant

log = logging.getLogger(__name__)

SessionState = State
Role = Literal["inspector", "agent", "unknown"]
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """How to sign in and how patient to be; durations in seconds."""

    agent_id: str
    password: str = field(repr=False)
    sign_in: SignInVariant = "loginex"
    force_on_conflict: bool = False
    # The forced variant (100-002 answered for our own session, or force_on_conflict); None
    # keeps `sign_in`'s licence class (loginex -> forceloginex, login -> forcelogin).
    force_sign_in: SignInVariant | None = None
    phone_number: str = ""
    poll_events: bool = True
    poll_gap: tuple[float, float] = (0.2, 0.5)  # cec_07_1274: poll again 200-500 ms later
    poll_timeout: float = 30.0  # the gateway holds a poll ~10 s
    call_timeout: float = 10.0  # sign-in, sign-out
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    credential_retry: float = 300.0  # after 100-004 / 110-016 / 100-001
    # Damping of re-sign-ins after a session loss (see machine.py).
    resign_min_interval: float = 5.0
    resign_max_interval: float = 300.0
    quick_window: float = 60.0

    def machine_settings(self) -> MachineSettings:
        return MachineSettings(
            sign_in=self.sign_in,
            force_variant=self.force_sign_in or FORCED[self.sign_in],
            force_on_conflict=self.force_on_conflict,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
            operator_retry=self.credential_retry,
            resign_min_interval=self.resign_min_interval,
            resign_max_interval=max(self.resign_min_interval, self.resign_max_interval),
            quick_window=self.quick_window,
        )


@dataclass(slots=True)
class AccountInfo:
    """What the gateway told us about the account, for `ccgw_session_info`."""

    vdn: str = ""
    node: str = ""
    role: Role = "unknown"


class Session:
    """The asyncio driver of one `SessionMachine`: calls, sleeps, the event poll."""

    def __init__(
        self,
        name: str,
        settings: SessionSettings,
        client: GatewayClient,
        *,
        rng: random.Random | None = None,
        on_conference_event: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        client.reauth = self
        self.machine = SessionMachine(settings.machine_settings(), rng or random.Random())
        self.info = AccountInfo()
        self.event_conference_ids: set[int] = set()
        self._on_conference_event = on_conference_event
        self._held: HeldSession | None = None
        self._sign_in_task: asyncio.Task[bool] | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._crashes = 0
        self._crash_logged: str | None = None
        self._poll_failures = 0
        self._stopping = False

    # -- what the collector and the views read -------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self.machine.state

    @property
    def signed_in(self) -> bool:
        return self.machine.signed_in

    @property
    def last_error(self) -> str | None:
        return self.machine.last_error

    @property
    def sign_in_attempted(self) -> bool:
        """Readiness: signed in once, or knows why it cannot."""
        return self.machine.attempted

    @property
    def signed_in_at(self) -> float | None:
        return self.machine.signed_in_at

    @property
    def retry_in(self) -> float:
        """Seconds until the next sign-in may be tried (0 when it may be tried now)."""
        return max(0.0, self.machine.retry_at() - asyncio.get_running_loop().time())

    @property
    def crashes(self) -> int:
        """Unexpected exceptions the poll loop survived (a bug; logged once each kind)."""
        return self._crashes

    def discovery_answered(self, retcode: str) -> None:
        """The account's kind, learnt from discovery: 0 an inspector, 101-004 not one."""
        if retcode == "0":
            self.info.role = "inspector"
        elif retcode == "101-004":
            self.info.role = "agent"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Sign in and keep polling in the background until `stop()`."""
        if self._poll_task is None:
            self._poll_task = asyncio.get_running_loop().create_task(
                self._run(), name=f"ccgw-session-{self.name}"
            )

    async def stop(self) -> None:
        """Stop polling, sign out if signed in, release connections. Never raises: a
        shutdown must always sign out what it can and exit cleanly."""
        self._stopping = True
        for task in (self._poll_task, self._sign_in_task):
            if task is not None and not task.done():
                task.cancel()
                # Bounded: Python 3.10/3.11's wait_for can swallow a cancellation that meets a
                # result (gh-86296); the loop then ends at its next turn (`_stopping`), and a
                # stuck task must never hold up the sign-out of every gateway.
                await asyncio.wait({task}, timeout=5.0)
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a failure here was logged where it happened
        self._poll_task = None
        if self.machine.stop():
            deadline = asyncio.get_running_loop().time() + min(self.settings.call_timeout, 3.0)
            try:
                await self.client.logout(deadline)
                log.info("signed out", extra=kv(gateway=self.name, agent=self.settings.agent_id))
            except GatewayError as error:
                log.warning(
                    "sign-out failed",
                    extra=kv(gateway=self.name, agent=self.settings.agent_id, error=error.label),
                )
            except Exception as exc:  # a bug must not cost the sign-out of other gateways
                log.error(
                    "sign-out failed",
                    extra=kv(gateway=self.name, error=type(exc).__name__),
                )
        with contextlib.suppress(Exception):
            await self.client.close()

    # -- signing in ----------------------------------------------------------------------------

    async def ensure_signed_in(self, deadline: float, *, now: bool = False) -> bool:
        """Signed in by `deadline`? Joins a sign-in under way instead of starting another.

        Respects back-off and damping: while they run, answers False at once without calling
        the gateway. `now` (a scrape asking) skips the back-off after a transport failure
        (machine.want_sign_in says when).
        """
        if self.machine.signed_in:
            return True
        loop = asyncio.get_running_loop()
        task = self._sign_in_task
        if task is None or task.done():
            action = self.machine.want_sign_in(loop.time(), urgent=now)
            if action is None:
                return False
            task = self._sign_in_task = loop.create_task(
                self._sign_in(action), name=f"ccgw-sign-in-{self.name}"
            )
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            return await asyncio.wait_for(asyncio.shield(task), remaining)
        except asyncio.TimeoutError:
            return False
        except Exception:  # the task's own failure is logged where it happened
            return False

    async def _sign_in(self, action: SignIn) -> bool:
        """Run the sign-in the machine asked for, and whatever it asks next (the forced
        variant after a 100-002), until it is signed in or has failed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.call_timeout
        next_action: SignIn | None = action
        while next_action is not None:
            variant = next_action.variant
            method = SIGN_IN_CALLS[variant].method
            try:
                answer = await self.client.sign_in(
                    variant, self.settings.password, self.settings.phone_number, deadline
                )
            except GatewayError as error:
                self.client.stats.sign_in(error.label, method)
                actions = self.machine.sign_in_failed(loop.time(), _failure(error))
            except Exception as exc:  # a bug: the machine must not stay "signing_in" for ever
                log.exception("sign-in failed unexpectedly", extra=kv(gateway=self.name))
                failure = Failure("transport", "internal", type(exc).__name__)
                actions = self.machine.sign_in_failed(loop.time(), failure)
            else:
                self.client.stats.sign_in("0", method)
                self.info.vdn = answer.vdn or self.info.vdn
                self.info.node = guid_node(self.client.guid)
                actions = self.machine.signed_in_ok(loop.time())
            next_action = self._perform(actions)
        if self.machine.signed_in:
            self._wake.set()
        return self.machine.signed_in

    def _perform(self, actions: list[Action]) -> SignIn | None:
        """Carry out the machine's actions; returns a further sign-in, if it asked for one."""
        follow: SignIn | None = None
        for action in actions:
            if isinstance(action, SignIn):
                follow = action
            elif isinstance(action, HoldSession):
                self._held = self.client.hold()
            elif isinstance(action, TakeBack):
                if self._held is not None:
                    self.client.take_back(self._held)
                self._held = None
                self.info.node = guid_node(self.client.guid)
            elif isinstance(action, ForgetSession):
                self.client.forget_session()
            elif isinstance(action, CountConflict):
                self.client.stats.conflicts += 1
            elif isinstance(action, Log):
                fields = {k: v for k, v in action.fields if v is not None}
                if action.message.startswith(("signed in", "session lost", "Guid refused")):
                    fields["guid"] = short_guid(self.client.guid)
                log.log(
                    _LEVELS[action.level],
                    action.message,
                    extra=kv(gateway=self.name, agent=self.settings.agent_id, **fields),
                )
        return follow

    # -- healing (the client's ReAuth) ---------------------------------------------------------

    async def recover(self, error: RetcodeError, guid_used: str | None, deadline: float) -> bool:
        """After a session retcode: True once a retry has a chance."""
        loop = asyncio.get_running_loop()
        verdict, actions = self.machine.refused(
            loop.time(), error.retcode, guid_used, self.client.guid
        )
        self._perform(actions)
        if verdict == "retry":
            return True
        if verdict == "give_up":
            return False
        return await self.ensure_signed_in(deadline)

    # -- the event poll ------------------------------------------------------------------------

    async def _run(self) -> None:
        """The background loop; survives anything but cancellation and `stop()`."""
        while not self._stopping:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: keep the session alive, say so once
                self._crashes += 1
                kind = f"{type(exc).__name__}: {exc}"[:200]
                if kind != self._crash_logged:
                    self._crash_logged = kind
                    log.exception("session loop failed; retrying", extra=kv(gateway=self.name))
                await asyncio.sleep(min(self.settings.backoff_max, 2 ** min(self._crashes, 6)))

    async def _step(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        if not self.machine.signed_in:
            wait = self.retry_in
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    # A scrape may sign in meanwhile; then poll at once.
                    await asyncio.wait_for(self._wake.wait(), wait)
            signed_in = await self.ensure_signed_in(loop.time() + settings.call_timeout)
            if not signed_in and self.retry_in <= 0:
                # Not signed in and nothing to wait for (a sign-in still under way past its
                # deadline): do not spin.
                await asyncio.sleep(settings.backoff_initial)
            return
        if not settings.poll_events:
            await asyncio.sleep(1.0)
            return
        await self._poll_once()
        await asyncio.sleep(self.machine.rng.uniform(*settings.poll_gap))

    async def _poll_once(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        guid_used = self.client.guid
        try:
            answer = await self.client.getAgentEvent(loop.time() + settings.poll_timeout)
        except RetcodeError as error:
            if error.retcode in SESSION_LOST:
                if not await self.recover(error, guid_used, loop.time() + settings.call_timeout):
                    await asyncio.sleep(settings.backoff_initial)
            else:
                await asyncio.sleep(settings.backoff_initial)
            return
        except TransportError:
            self._perform(self.machine.poll_failed(loop.time()))
            self._poll_failures += 1
            delay = min(settings.backoff_max, 2 ** min(self._poll_failures, 6))
            await asyncio.sleep(delay * self.machine.rng.uniform(0.5, 1.0))
            return
        self._poll_failures = 0
        self.machine.poll_ok(loop.time(), self.client.guid)
        self.info.node = guid_node(self.client.guid) or self.info.node
        if answer.event is not None:
            self._on_event(answer.event)

    def _on_event(self, raw: object) -> None:
        news = agent_events.interpret(raw, self.settings.agent_id)
        if news is None:
            return
        if news.effect == "timeout":
            self.client.stats.timeout_warnings += 1
            self.event_conference_ids.add(news.conf_id)
            joined = True
        elif news.effect == "ended" or (news.effect == "left" and news.own):
            self.event_conference_ids.discard(news.conf_id)
            joined = False
        else:
            self.event_conference_ids.add(news.conf_id)
            joined = True
        if self._on_conference_event is not None:
            self._on_conference_event(news.conf_id, joined)

    def forget_conferences(self, conf_ids: set[int]) -> None:
        """Conferences the gateway no longer reports (ended): stop asking for them."""
        self.event_conference_ids -= conf_ids


def _failure(error: GatewayError) -> Failure:
    if isinstance(error, RetcodeError):
        return Failure("retcode", error.retcode, error.detail)
    assert isinstance(error, TransportError)
    return Failure("transport", error.reason, error.detail, error.status)
