"""One signed-in agent per configured gateway account, kept alive and healed.

The gateway signs out an agent that has not polled its events for two minutes, rotates the Guid
every minute under dynamic authentication, forgets every session when it restarts, and may move
a session on a disaster-recovery switch. The session hides all of that from the collector:

- it signs in with the configured variant (falling back to `forcelogin` on `100-002` when
  allowed), never twice at once for the same agent;
- it polls events in the background (the only background traffic the exporter makes), which
  both keeps the session alive and brings the newest Guid (taken by the client from every
  `Set-GUID`) and the IDs of conferences this agent is in;
- on an authentication retcode it first tries a newer Guid if one has arrived (the rotation
  overlap), otherwise signs in again;
- failed sign-ins back off exponentially with jitter; a wrong password or a locked account is
  retried slowly, since only an operator can fix it. A scrape may still try at once after a
  transport failure, so the first scrape after the gateway comes back sees it back;
- a trouble is logged once, not once per attempt: a loss is logged with the sign-in that
  heals it ("session lost; signed in again"), a failure when its kind changes, so a gateway
  that stays broken costs one line while the counters keep every attempt.
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
from .client import GatewayClient, HeldSession, SignInVariant
from .errors import (
    ALREADY_SIGNED_IN,
    CREDENTIAL_RETCODES,
    DISASTER_SWITCH,
    NO_PERMISSION,
    GatewayError,
    RetcodeError,
    TransportError,
)

log = logging.getLogger(__name__)

SessionState = Literal["new", "signing_in", "signed_in", "signed_out", "rejected", "stopped"]


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """How to sign in and how patient to be; durations in seconds."""

    agent_id: str
    password: str = field(repr=False)
    sign_in: SignInVariant = "loginex"
    force_on_conflict: bool = False
    phone_number: str = ""
    poll_events: bool = True
    poll_gap: tuple[float, float] = (0.2, 0.5)
    poll_timeout: float = 30.0  # the gateway holds a poll ~10 s
    call_timeout: float = 10.0  # sign-in, sign-out
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    credential_retry: float = 300.0  # after 100-004 / 110-016
    # A 000-003 soon after a fresh sign-in is not cured by another sign-in (a storm of them
    # would just hammer the gateway); only older sessions are renewed on it.
    resign_min_interval: float = 5.0


class Session:
    """Sign-in state machine plus the event poll for one agent on one gateway."""

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
        self._rng = rng or random.Random()
        self.state: SessionState = "new"
        self.last_error: str | None = None
        self.sign_in_attempted = False  # readiness: signed in once, or knows why it cannot
        self.signed_in_at: float | None = None
        self.event_conference_ids: set[int] = set()
        self._on_conference_event = on_conference_event
        self._failures = 0
        self._next_attempt = 0.0
        # The trouble the log has already reported (cleared by a working event poll), why the
        # session was last lost, and how long after a sign-in a 000-003 is not cured by
        # another one (doubled each time that did not help, while 000-003s keep coming).
        self._logged: str | None = None
        self._lost_reason: str | None = None
        self._resign_interval = settings.resign_min_interval
        # The last sign-in got no usable answer (cut, timed out, unreadable): the gateway may
        # well have signed the agent in, so a 100-002 now is most likely our own session.
        self._answer_lost = False
        # The Guid and cookies of a session lost to 000-003, to go back to if the gateway says
        # the agent is still signed in (see `_keep`); or, when the refusal came after the
        # session went unpolled for longer than a Guid lives, the note that it had expired.
        self._held: HeldSession | None = None
        self._expired = False
        # When an event poll last worked, and how often the Guid rotates as seen by the polls
        # (None until two renewals were seen, and under static authentication).
        self._last_poll_ok: float | None = None
        self._rotation: float | None = None
        self._seen_guid: str | None = None
        self._seen_at = 0.0
        self._sign_in_task: asyncio.Task[bool] | None = None
        self._poll_task: asyncio.Task[None] | None = None

    @property
    def signed_in(self) -> bool:
        return self.state == "signed_in"

    @property
    def retry_in(self) -> float:
        """Seconds until the next sign-in may be tried (0 when it may be tried now)."""
        return max(0.0, self._next_attempt - asyncio.get_running_loop().time())

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Sign in and keep polling in the background until `stop()`."""
        if self._poll_task is None:
            self._poll_task = asyncio.get_running_loop().create_task(
                self._run(), name=f"ccgw-session-{self.name}"
            )

    async def stop(self) -> None:
        """Stop polling, sign out if signed in, release connections."""
        for task in (self._poll_task, self._sign_in_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._poll_task = None
        if self.signed_in:
            deadline = asyncio.get_running_loop().time() + min(self.settings.call_timeout, 3.0)
            try:
                await self.client.logout(deadline)
                log.info("signed out", extra=kv(gateway=self.name, agent=self.settings.agent_id))
            except GatewayError as error:
                log.warning(
                    "sign-out failed",
                    extra=kv(gateway=self.name, agent=self.settings.agent_id, error=error.label),
                )
        self.state = "stopped"
        await self.client.close()

    # -- signing in ----------------------------------------------------------------------------

    async def ensure_signed_in(self, deadline: float, *, now: bool = False) -> bool:
        """Signed in by `deadline`? Joins a sign-in under way instead of starting another.

        Respects the back-off: while it runs, answers False at once without calling the gateway.
        `now` (a scrape asking) skips the back-off after a transport failure: scrapes come at
        the scrape interval, so this cannot hammer, and without it the first scrapes after a
        gateway comes back would report it down for up to `backoff_max`. A wrong password or a
        locked account still waits: retrying those is what locks an account.
        """
        if self.signed_in:
            return True
        if self.state in ("stopped",):
            return False
        loop = asyncio.get_running_loop()
        task = self._sign_in_task
        if task is None or task.done():
            if loop.time() < self._next_attempt and (not now or self.state == "rejected"):
                return False
            task = self._sign_in_task = loop.create_task(self._sign_in())
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            return await asyncio.wait_for(asyncio.shield(task), remaining)
        except asyncio.TimeoutError:
            return False

    async def _sign_in(self) -> bool:
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.call_timeout
        self.state = "signing_in"
        variant: SignInVariant = settings.sign_in
        try:
            try:
                await self._attempt(variant, deadline)
            except RetcodeError as error:
                if error.retcode != ALREADY_SIGNED_IN or variant == "forcelogin":
                    raise
                if self._held is not None and not settings.force_on_conflict:
                    self._keep(self._held)
                    return True
                # Our own session, as far as anyone can tell: the answer to our last sign-in
                # was lost, our Guid had expired (see `_lost`), or the gateway switched over
                # and asked for a new sign-in (105-00x).
                ours = self._answer_lost or self._expired or self._lost_reason in DISASTER_SWITCH
                if not (settings.force_on_conflict or ours):
                    raise
                if not ours:  # our own lost session: the sign-in line says forcelogin
                    log.info(
                        "agent already signed in elsewhere; taking the session over (forcelogin)",
                        extra=kv(gateway=self.name, agent=settings.agent_id),
                    )
                variant = "forcelogin"
                await self._attempt(variant, deadline)
        except GatewayError as error:
            self._answer_lost = isinstance(error, TransportError)
            self._sign_in_failed(error, variant)
            return False
        self._answer_lost = False
        self._held = None
        self._expired = False
        self._seen_guid = None
        failures, lost = self._failures, self._lost_reason
        self.state = "signed_in"
        self.signed_in_at = loop.time()
        self.sign_in_attempted = True
        self.last_error = None
        self._failures = 0
        self._next_attempt = 0.0
        self._lost_reason = None
        fields = kv(
            gateway=self.name,
            agent=settings.agent_id,
            variant=variant,
            guid=short_guid(self.client.guid),
            reason=lost,
            failed_attempts=failures or None,
        )
        if lost is None:
            log.info("signed in", extra=fields)
        else:
            # The same loss again before anything worked (a 000-003 storm): counted, not logged.
            repeat = self._logged == f"lost {lost}"
            self._logged = f"lost {lost}"
            log.log(logging.DEBUG if repeat else logging.WARNING,
                    "session lost; signed in again", extra=fields)  # fmt: skip
        return True

    async def _attempt(self, variant: SignInVariant, deadline: float) -> None:
        try:
            await self.client.sign_in(
                variant, self.settings.password, self.settings.phone_number, deadline
            )
        except GatewayError as error:
            self.client.stats.sign_in(error.label)
            raise
        self.client.stats.sign_in("0")

    def _sign_in_failed(self, error: GatewayError, variant: SignInVariant) -> None:
        settings = self.settings
        self._failures += 1
        self.sign_in_attempted = True
        if isinstance(error, RetcodeError) and error.retcode in CREDENTIAL_RETCODES:
            what = "wrong password" if error.retcode == "100-004" else "account locked"
            delay = settings.credential_retry * self._rng.uniform(0.9, 1.1)
            self.state = "rejected"
            self.last_error = f"sign-in rejected: {what} ({error.retcode})"
            level = logging.ERROR
        else:
            exp = settings.backoff_initial * 2 ** min(self._failures - 1, 16)
            delay = min(settings.backoff_max, exp) * self._rng.uniform(0.5, 1.0)
            self.state = "signed_out"
            self.last_error = f"sign-in failed: {error.label}"
            level = logging.WARNING
        self._next_attempt = asyncio.get_running_loop().time() + delay
        if self._logged == f"failed {error.label}":
            level = logging.DEBUG  # the same failure again: the counters have it
        self._logged = f"failed {error.label}"
        log.log(
            level,
            self.last_error,
            extra=kv(
                gateway=self.name,
                agent=settings.agent_id,
                variant=variant,
                error=error.detail,
                retry_in=f"{delay:.1f}s",
                after=f"session lost: {self._lost_reason}" if self._lost_reason else None,
            ),
        )

    def _lost(self, reason: str) -> None:
        """The gateway no longer knows this session: the next call or poll signs in again.

        Not logged here: the sign-in that follows logs the loss with its outcome, one line.
        """
        if self.state == "signed_in":
            # A Guid refused right after the session worked is not about expiry: keep it aside
            # (see `_keep`). One refused after longer without a working poll than a Guid lives
            # has expired; the agent's session on the gateway is still ours.
            self._expired = reason == NO_PERMISSION and self._unpolled_for_a_rotation()
            refused = reason == NO_PERMISSION and not self._expired
            self._held = self.client.hold() if refused else None
            self.state = "signed_out"
            self.last_error = f"session lost: {reason}"
            self._lost_reason = reason
            if reason == NO_PERMISSION:
                self._resign_interval = min(self.settings.backoff_max, self._resign_interval * 2)
            self.client.forget_session()

    def _keep(self, held: HeldSession) -> None:
        """The gateway refused our Guid (000-003) and then refused a new sign-in because the
        agent is still signed in (100-002). That session is ours, or someone took the account
        over with forcelogin. Either way go back to it rather than kick anyone out: if it is
        ours, it works again as soon as the gateway does; if not, its Guid keeps being refused
        and `ccgw_up` says so, without a fight over the account."""
        self.client.take_back(held)
        self._held = None
        self._seen_guid = None
        self._lost_reason = None
        self._answer_lost = False
        self.state = "signed_in"
        self.signed_in_at = asyncio.get_running_loop().time()  # the next 000-003 waits
        self.sign_in_attempted = True
        self.last_error = "Guid refused (000-003), agent still signed in: session kept"
        self._failures = 0
        self._next_attempt = 0.0
        repeat = self._logged == "kept"
        self._logged = "kept"
        log.log(
            logging.DEBUG if repeat else logging.WARNING,
            "Guid refused but the agent is still signed in; keeping the session",
            extra=kv(gateway=self.name, agent=self.settings.agent_id,
                     guid=short_guid(self.client.guid)),
        )  # fmt: skip

    def _working(self) -> None:
        """An event poll was answered: whatever went wrong before is over."""
        self._logged = None
        self._resign_interval = self.settings.resign_min_interval
        now = asyncio.get_running_loop().time()
        self._last_poll_ok = now
        guid = self.client.guid
        if guid != self._seen_guid:
            if self._seen_guid is not None:
                self._rotation = now - self._seen_at
            self._seen_guid, self._seen_at = guid, now

    def _unpolled_for_a_rotation(self) -> bool:
        """No working poll for longer than the Guid takes to rotate: the Guid in hand may have
        expired (a gateway keeps each Guid about two rotations)."""
        if self._rotation is None or self._last_poll_ok is None:
            return False
        return asyncio.get_running_loop().time() - self._last_poll_ok > self._rotation

    # -- healing (the client's ReAuth) ---------------------------------------------------------

    async def recover(self, error: RetcodeError, guid_used: str | None, deadline: float) -> bool:
        """After an authentication retcode: True once a retry has a chance."""
        current = self.client.guid
        if current is not None and current != guid_used:
            # A newer Guid arrived (rotation, or another caller already signed in again).
            return True
        loop = asyncio.get_running_loop()
        if (
            error.retcode == NO_PERMISSION
            and self.signed_in_at is not None
            and loop.time() - self.signed_in_at < self._resign_interval
        ):
            return False
        self._lost(error.retcode)
        return await self.ensure_signed_in(deadline)

    # -- the event poll ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        transport_failures = 0
        while True:
            if not self.signed_in:
                wait = self.retry_in
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.ensure_signed_in(loop.time() + settings.call_timeout)
                continue
            if not settings.poll_events:
                await asyncio.sleep(1.0)
                continue
            guid_used = self.client.guid
            try:
                answer = await self.client.getAgentEvent(loop.time() + settings.poll_timeout)
            except RetcodeError as error:
                if error.needs_sign_in and not await self.recover(
                    error, guid_used, loop.time() + settings.call_timeout
                ):
                    await asyncio.sleep(settings.backoff_initial)
            except TransportError:
                transport_failures += 1
                delay = min(settings.backoff_max, 2 ** min(transport_failures, 6))
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
                continue
            else:
                transport_failures = 0
                self._working()
                if answer.event is not None:
                    self._on_event(answer.event.event_type, answer.event.conf_id)
            await asyncio.sleep(self._rng.uniform(*settings.poll_gap))

    def _on_event(self, event_type: str, conf_id: int | None) -> None:
        if conf_id is None or not event_type.startswith("AgentConf_"):
            return
        joined = "Leave" not in event_type and "End" not in event_type
        if joined:
            self.event_conference_ids.add(conf_id)
        else:
            self.event_conference_ids.discard(conf_id)
        if self._on_conference_event is not None:
            self._on_conference_event(conf_id, joined)

    def forget_conferences(self, conf_ids: set[int]) -> None:
        """Conferences the gateway no longer reports (ended): stop asking for them."""
        self.event_conference_ids -= conf_ids
