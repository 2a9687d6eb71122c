"""The session's rules as a plain object: events in, decisions out, no I/O and no clock.

The gateway signs out an agent that stops polling, rotates its Guid, forgets every session when
it restarts, moves sessions on a disaster-recovery switch, and lets a second client sign in as
the same agent. What the exporter does about each of these is decided here, in the style of
h11: the asyncio driver (`session.py`) performs the calls and the sleeps and reports what
happened; this object keeps the state and answers what to do next. Every time is passed in, so
the whole fault matrix runs table-driven in milliseconds (tests/gateway/test_machine.py), and
every transition the code makes is checked against `TRANSITIONS`, from which the diagram in
docs/session.md is generated (`python -m exporter.gateway.machine`), so the picture cannot lie.

The rules, with the vendor pages they come from:
- Sign in with the configured variant. `100-002` (already signed in, cec_07_1202) is answered
  with the forced variant only when the account's session is our own (the answer to our last
  sign-in was lost, our Guid expired unpolled, or the gateway switched over and asked for a new
  sign-in, 105-00x) or when `force_on_conflict` allows taking it over. The forced variant keeps
  the licence class of `sign_in`: `forceloginex` after `loginex` (no licence), `forcelogin`
  after `login` (cec_07_1203; `phonenum` mandatory there).
- A Guid refused with `000-003` may only be stale: a newer one (rotation) is tried first; one
  refused soon after a sign-in is not cured by another sign-in.
- Every re-sign-in cause is damped (issue 12, item 6): a session lost soon after it was signed
  in (`quick_window`) a second time in a row makes the next sign-in wait `resign_interval`,
  which doubles while losses stay quick and returns to its floor once a session survives (the
  first quick loss is healed at once: a gateway restart is not a storm). Quick losses in a row
  are counted as conflicts, as is a 100-002 we may not take over: another client signed in as
  this agent, or a gateway dropping sessions, look the same from here, and both want an
  operator (issue 13, item 5).
- Failed sign-ins back off exponentially with jitter; a wrong password, a locked account or a
  refused parameter (100-004, 110-016, 100-001, 000-002) waits `operator_retry`: retrying those
  is what locks an account. A scrape may skip the back-off after a transport failure, never
  the damping and never an operator's problem.
- A trouble is logged once, when its kind changes; the counters keep every attempt.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from typing import Final, Literal

State = Literal["new", "signing_in", "signed_in", "signed_out", "rejected", "stopped"]
STATES: Final[tuple[State, ...]] = (
    "new",
    "signing_in",
    "signed_in",
    "signed_out",
    "rejected",
    "stopped",
)
SignInVariant = Literal["loginex", "login", "forcelogin", "forceloginex"]
FailureKind = Literal["retcode", "transport"]
Verdict = Literal["retry", "sign_in", "give_up"]

NOT_SIGNED_IN: Final = "100-006"
NO_PERMISSION: Final = "000-003"
ALREADY_SIGNED_IN: Final = "100-002"
DISASTER_SWITCH: Final = frozenset({"105-005", "105-006", "105-007"})
SESSION_LOST: Final = frozenset({NOT_SIGNED_IN, NO_PERMISSION}) | DISASTER_SWITCH
# Sign-in answers only an operator can fix (cec_07_0580): wrong password, locked account,
# a parameter the gateway refuses (e.g. a missing phonenum).
OPERATOR_RETCODES: Final = frozenset({"100-004", "110-016", "100-001", "000-002"})
_OPERATOR_WHAT: Final = {
    "100-004": "wrong password",
    "110-016": "account locked",
    "100-001": "sign-in parameter refused",
    "000-002": "sign-in parameter refused",
}


@dataclass(frozen=True, slots=True)
class Transition:
    source: State
    target: State
    event: str


# Every transition the machine makes; `_go` refuses any other, and the diagram is drawn from it.
TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition("new", "signing_in", "sign-in wanted"),
    Transition("signed_out", "signing_in", "sign-in wanted (back-off over)"),
    Transition("rejected", "signing_in", "operator retry interval over"),
    Transition("signing_in", "signed_in", "sign-in answered 0"),
    Transition("signing_in", "signed_in", "100-002 for our own held session: take it back"),
    Transition("signing_in", "signing_in", "100-002 for our own session: forced variant"),
    Transition("signing_in", "signed_out", "sign-in failed (back-off)"),
    Transition("signing_in", "signed_out", "100-002: signed in elsewhere (conflict)"),
    Transition("signing_in", "rejected", "100-004 / 110-016 / 100-001 / 000-002"),
    Transition("signed_in", "signed_out", "100-006 / 000-003 / 105-00x: session lost"),
    Transition("signed_in", "signed_out", "no working poll for 2 min: signed out as idle"),
    Transition("new", "stopped", "stop"),
    Transition("signing_in", "stopped", "stop"),
    Transition("signed_in", "stopped", "stop (sign out)"),
    Transition("signed_out", "stopped", "stop"),
    Transition("rejected", "stopped", "stop"),
)
_ALLOWED: Final = frozenset((t.source, t.target) for t in TRANSITIONS)


@dataclass(frozen=True, slots=True)
class MachineSettings:
    """How patient to be; durations in seconds."""

    sign_in: SignInVariant = "loginex"
    force_variant: SignInVariant = "forceloginex"
    force_on_conflict: bool = False
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    operator_retry: float = 300.0
    # Damping of re-sign-ins after session losses: floor, cap, and how soon after a sign-in a
    # loss counts as quick (at least this, and at least twice the current interval, so that a
    # fight settled at the cap stays there instead of resetting).
    resign_min_interval: float = 5.0
    resign_max_interval: float = 300.0
    quick_window: float = 60.0
    # The gateway signs out an agent that has not polled for 2 minutes (cec_07_1202,
    # MAXTIME 120000 ms, devg cec_05_4012): polls failing that long mean the session is gone,
    # whatever the last answer said.
    idle_signout: float = 120.0


# --------------------------------------------------------------------------------------------
# What the driver is told to do


@dataclass(frozen=True, slots=True)
class SignIn:
    variant: SignInVariant


@dataclass(frozen=True, slots=True)
class HoldSession:
    """Keep the current Guid and sticky cookies aside (the gateway refused the Guid)."""


@dataclass(frozen=True, slots=True)
class TakeBack:
    """Return to the held session: the gateway says the agent is still signed in with it."""


@dataclass(frozen=True, slots=True)
class ForgetSession:
    """Drop Guid and cookies: the next sign-in starts a new sticky session."""


@dataclass(frozen=True, slots=True)
class Log:
    level: Literal["debug", "info", "warning", "error"]
    message: str
    fields: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class CountConflict:
    """Another client on this account, or a gateway dropping sessions (issue 13, item 5)."""


Action = SignIn | HoldSession | TakeBack | ForgetSession | Log | CountConflict


@dataclass(frozen=True, slots=True)
class Failure:
    """A sign-in that did not work: a retcode, or a transport failure's reason."""

    kind: FailureKind
    code: str  # the retcode, or the reason (timeout, connect, http_status, ...)
    detail: str = ""
    status: int | None = None


# --------------------------------------------------------------------------------------------
# The machine


@dataclass(slots=True)
class SessionMachine:
    """One agent's session on one gateway. All times are the caller's monotonic clock."""

    settings: MachineSettings = field(default_factory=MachineSettings)
    rng: random.Random = field(default_factory=random.Random)
    state: State = "new"
    last_error: str | None = None
    # Readiness: a sign-in has answered once (or failed in a way that says why).
    attempted: bool = False
    signed_in_at: float | None = None
    # Sign-in failures in a row, and when the next sign-in may start. `damped_until` is the
    # damping of session losses, which a scrape may not skip; `next_attempt` the back-off.
    failures: int = 0
    next_attempt: float = 0.0
    damped_until: float = 0.0
    resign_interval: float = 0.0
    quick_losses: int = 0  # quick losses in a row
    conflicts: int = 0
    # Why the session was last lost (a retcode), for the next sign-in's log line.
    lost_reason: str | None = None
    # The last sign-in got no usable answer: the gateway may have signed us in, so a 100-002
    # now is most likely our own session.
    answer_lost: bool = False
    # A session kept aside after a 000-003 (see `refused`), or the note that the refused Guid
    # had expired unpolled (then a 100-002 is our own expired session).
    held: bool = False
    expired: bool = False
    last_transport_failure: bool = False
    # The trouble the log already told (cleared by a working poll), and whether the current
    # run of quick losses was told (cleared when a session survives): a storm is one line.
    logged: str | None = None
    storm_reported: bool = False
    # Poll health, for telling an expired Guid from a refused one.
    last_poll_ok: float | None = None
    rotation: float | None = None
    seen_guid: str | None = None
    seen_at: float = 0.0
    _variant: SignInVariant | None = None

    def __post_init__(self) -> None:
        self.resign_interval = self.settings.resign_min_interval

    # -- queries -------------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.state == "signed_in"

    def retry_at(self) -> float:
        """The earliest time the next sign-in may start (damping and back-off)."""
        return max(self.next_attempt, self.damped_until)

    # -- transitions ---------------------------------------------------------------------------

    def _go(self, target: State) -> None:
        if (self.state, target) not in _ALLOWED:
            raise AssertionError(f"session transition {self.state} -> {target} not in TRANSITIONS")
        self.state = target

    def want_sign_in(self, now: float, *, urgent: bool = False) -> SignIn | None:
        """A sign-in may start now: returns it (the state is then `signing_in`), or None.

        `urgent` (a scrape asking) skips the back-off after a transport failure, so the first
        scrape after a gateway comes back sees it back; it never skips the damping of session
        losses nor an operator's problem.
        """
        if self.state in ("signed_in", "signing_in", "stopped"):
            return None
        if now < self.damped_until:
            return None
        if now < self.next_attempt and not (
            urgent and self.state == "signed_out" and self.last_transport_failure
        ):
            return None
        self._go("signing_in")
        self._variant = self.settings.sign_in
        return SignIn(self.settings.sign_in)

    def signed_in_ok(self, now: float) -> list[Action]:
        """The sign-in answered 0 with a Guid."""
        variant = self._variant or self.settings.sign_in
        failures, lost = self.failures, self.lost_reason
        self._go("signed_in")
        self.signed_in_at = now
        self.attempted = True
        self.last_error = None
        self.failures = 0
        self.next_attempt = 0.0
        self.answer_lost = False
        self.held = False
        self.expired = False
        self.last_transport_failure = False
        self.lost_reason = None
        self.seen_guid = None
        fields: tuple[tuple[str, object], ...] = (
            ("variant", variant),
            ("reason", lost),
            ("failed_attempts", failures or None),
        )
        if lost is None:
            return [Log("info", "signed in", fields)]
        # The same loss again before anything worked (a storm): counted, not logged.
        key = f"lost {lost}"
        quiet = self.logged == key or self.storm_reported
        level: Literal["debug", "warning"] = "debug" if quiet else "warning"
        self.logged = key
        return [Log(level, "session lost; signed in again", fields)]

    def sign_in_failed(self, now: float, failure: Failure) -> list[Action]:
        """The sign-in failed; may answer with the forced variant or a take-back."""
        variant = self._variant or self.settings.sign_in
        settings = self.settings
        if failure.kind == "retcode" and failure.code == ALREADY_SIGNED_IN:
            forced = variant in ("forcelogin", "forceloginex")
            if not forced:
                if self.held and not settings.force_on_conflict:
                    return self._take_back(now)
                ours = self.answer_lost or self.expired or self.lost_reason in DISASTER_SWITCH
                if ours or settings.force_on_conflict:
                    self._go("signing_in")
                    self._variant = settings.force_variant
                    actions: list[Action] = [SignIn(settings.force_variant)]
                    if not ours:
                        actions.insert(
                            0,
                            Log(
                                "info",
                                "agent already signed in elsewhere; taking the session over",
                                (("variant", settings.force_variant),),
                            ),
                        )
                    return actions
                return self._conflict_refused(now)
        return self._failed(now, variant, failure)

    def _take_back(self, now: float) -> list[Action]:
        """The gateway refused our Guid (000-003), then refused a new sign-in because the agent
        is still signed in (100-002). That session is ours, or someone took the account over;
        either way go back to it rather than kick anyone out: if it is ours it works again as
        soon as the gateway does; if not, its Guid keeps being refused and `ccgw_up` says so."""
        self._go("signed_in")
        self.held = False
        self.seen_guid = None
        self.lost_reason = None
        self.answer_lost = False
        self.signed_in_at = now  # the next 000-003 waits
        self.attempted = True
        self.last_error = "Guid refused (000-003), agent still signed in: session kept"
        self.failures = 0
        self.next_attempt = 0.0
        quiet = self.logged == "kept" or self.storm_reported
        level: Literal["debug", "warning"] = "debug" if quiet else "warning"
        self.logged = "kept"
        return [
            TakeBack(),
            Log(level, "Guid refused but the agent is still signed in; keeping the session"),
        ]

    def _conflict_refused(self, now: float) -> list[Action]:
        """100-002 and no right to take over: someone else is signed in as this agent."""
        self._go("signed_out")
        self.attempted = True
        self.conflicts += 1
        self.failures += 1
        self.last_transport_failure = False
        settings = self.settings
        exp = settings.backoff_initial * 2 ** min(self.failures - 1, 16)
        delay = min(settings.backoff_max, exp) * self.rng.uniform(0.5, 1.0)
        self.next_attempt = now + delay
        self.last_error = (
            "agent already signed in elsewhere (100-002); not taken over (force_on_conflict is off)"
        )
        key = "conflict 100-002"
        level: Literal["debug", "warning"] = "debug" if self.logged == key else "warning"
        self.logged = key
        return [
            CountConflict(),
            Log(level, self.last_error, (("retry_in", f"{delay:.1f}s"),)),
        ]

    def _failed(self, now: float, variant: SignInVariant, failure: Failure) -> list[Action]:
        settings = self.settings
        self.failures += 1
        self.attempted = True
        self.answer_lost = failure.kind == "transport"
        self.last_transport_failure = failure.kind == "transport"
        level: Literal["debug", "warning", "error"]
        if failure.kind == "retcode" and failure.code in OPERATOR_RETCODES:
            delay = settings.operator_retry * self.rng.uniform(0.9, 1.1)
            self._go("rejected")
            what = _OPERATOR_WHAT[failure.code]
            self.last_error = f"sign-in rejected: {what} ({failure.code})"
            level = "error"
        else:
            exp = settings.backoff_initial * 2 ** min(self.failures - 1, 16)
            delay = min(settings.backoff_max, exp) * self.rng.uniform(0.5, 1.0)
            self._go("signed_out")
            self.last_error = f"sign-in failed: {failure.code}" + (
                f" (HTTP {failure.status})" if failure.status else ""
            )
            if (
                failure.kind == "transport"
                and failure.status == 404
                and variant in ("forceloginex", "forcelogin")
            ):
                self.last_error += (
                    f" ({variant} is not offered by this gateway; set force_sign_in to the "
                    "other forced variant, knowing forcelogin takes a licence)"
                )
            level = "warning"
        self.next_attempt = now + delay
        key = f"failed {failure.code}"
        if self.logged == key:
            level = "debug"  # the same failure again: the counters have it
        self.logged = key
        return [
            Log(
                level,
                self.last_error,
                (
                    ("variant", variant),
                    ("error", failure.detail or failure.code),
                    ("retry_in", f"{delay:.1f}s"),
                    ("after", f"session lost: {self.lost_reason}" if self.lost_reason else None),
                ),
            )
        ]

    # -- a refused Guid ------------------------------------------------------------------------

    def refused(
        self, now: float, retcode: str, guid_used: str | None, guid_now: str | None
    ) -> tuple[Verdict, list[Action]]:
        """A call or poll was answered with a session retcode (`SESSION_LOST`).

        `retry`: a newer Guid is in hand, try again with it. `sign_in`: the session is lost,
        sign in again (subject to damping). `give_up`: a 000-003 soon after a sign-in, which
        another sign-in would not cure.
        """
        if guid_now is not None and guid_now != guid_used:
            return "retry", []
        if self.state != "signed_in":
            return "sign_in", []
        assert self.signed_in_at is not None
        if retcode == NO_PERMISSION and now - self.signed_in_at < self.resign_interval:
            return "give_up", []
        return "sign_in", self._lose(now, retcode)

    def _lose(self, now: float, reason: str) -> list[Action]:
        """The gateway no longer knows this session. Not logged here: the sign-in that follows
        logs the loss with its outcome, in one line."""
        assert self.signed_in_at is not None
        lived = now - self.signed_in_at
        quick = lived < max(self.settings.quick_window, 2 * self.resign_interval)
        # A Guid refused right after the session worked is not about expiry: keep it aside.
        # One refused after longer without a working poll than a Guid lives has expired; the
        # agent's session on the gateway is still ours.
        self.expired = reason == NO_PERMISSION and self._unpolled_for_a_rotation(now)
        refused = reason == NO_PERMISSION and not self.expired
        self._go("signed_out")
        self.last_error = f"session lost: {reason}"
        self.lost_reason = reason
        self.last_transport_failure = False
        actions: list[Action] = []
        if refused:
            self.held = True
            actions.append(HoldSession())
        else:
            self.held = False
        actions.append(ForgetSession())
        delay = self._damp(now, quick=quick)
        if self.quick_losses >= 2:
            self.conflicts += 1
            actions.append(CountConflict())
            told = self.storm_reported or self.logged is not None
            self.storm_reported = True
            if not told:  # a storm whose first loss was already told is not told again
                self.logged = "quick losses"
                actions.append(
                    Log(
                        "warning",
                        "session lost again soon after signing in: another client may be "
                        "signed in as this agent; backing off",
                        (("reason", reason), ("retry_in", f"{delay:.1f}s")),
                    )
                )
        return actions

    def _damp(self, now: float, *, quick: bool) -> float:
        """Delay before the next sign-in after a loss. The first quick loss is free (a
        gateway restart soon after signing in heals at once); from the second in a row the
        delay is `resign_interval`, doubling while losses stay quick."""
        settings = self.settings
        if not quick:
            self.quick_losses = 0
            self.storm_reported = False
            self.resign_interval = settings.resign_min_interval
            return 0.0
        self.quick_losses += 1
        if self.quick_losses == 1:
            return 0.0
        delay = self.resign_interval * self.rng.uniform(0.8, 1.0)
        self.resign_interval = min(settings.resign_max_interval, self.resign_interval * 2)
        self.damped_until = max(self.damped_until, now + delay)
        return delay

    # -- the event poll ------------------------------------------------------------------------

    def poll_ok(self, now: float, guid: str | None) -> None:
        """An event poll was answered: whatever went wrong before is over."""
        self.logged = None
        self.last_poll_ok = now
        if guid != self.seen_guid:
            if self.seen_guid is not None:
                self.rotation = now - self.seen_at
            self.seen_guid, self.seen_at = guid, now

    def poll_failed(self, now: float) -> list[Action]:
        """An event poll got no answer. After `idle_signout` without a working poll the
        gateway has signed the agent out: say so (`ccgw_session_signed_in` 0) rather than
        show a session that exists only here, and sign in again once it answers."""
        if self.state != "signed_in":
            return []
        since = self.last_poll_ok if self.last_poll_ok is not None else self.signed_in_at
        if since is None or now - since < self.settings.idle_signout:
            return []
        self._go("signed_out")
        self.last_error = "session lost: no working event poll for 2 minutes (idle sign-out)"
        self.lost_reason = "idle"
        self.held = False
        self.expired = True  # a 100-002 now is our own idle session
        self.last_transport_failure = True
        return [ForgetSession()]

    def _unpolled_for_a_rotation(self, now: float) -> bool:
        """No working poll for longer than the Guid takes to rotate: the Guid in hand may have
        expired (a gateway keeps each Guid about two rotations)."""
        if self.rotation is None or self.last_poll_ok is None:
            return False
        return now - self.last_poll_ok > self.rotation

    def stop(self) -> bool:
        """Stopping; True when the session should be signed out."""
        was_signed_in = self.state == "signed_in"
        if self.state != "stopped":
            self._go("stopped")
        return was_signed_in


def mermaid() -> str:
    """The state diagram for docs/session.md (a test keeps the file equal to this)."""
    lines = ["stateDiagram-v2", "    [*] --> new"]
    for t in TRANSITIONS:
        lines.append(f"    {t.source} --> {t.target}: {t.event}")
    lines.append("    stopped --> [*]")
    return "\n".join(lines) + "\n"


def session_doc() -> str:
    """docs/session.md: the diagram and the rules (the module docstring)."""
    doc = (__doc__ or "").strip()
    return (
        "# The gateway session\n\n"
        "Generated by `python -m exporter.gateway.machine` from exporter/gateway/machine.py; "
        "a test fails when this file differs.\n\n"
        "```mermaid\n" + mermaid() + "```\n\n"
        "## Rules\n\n" + doc.split("\n\n", 1)[1] + "\n"
    )


if __name__ == "__main__":
    sys.stdout.write(session_doc())
