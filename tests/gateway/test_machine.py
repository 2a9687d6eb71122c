"""The session's rules, table-driven against the sans-I/O machine: no sockets, no real time.

Each scenario is a script of events at given times and what the machine must decide; the
whole fault matrix runs in milliseconds. The same behaviours are proven over real sockets by
test_session.py and tests/faults/ (the integration proof).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.gateway.machine import (
    TRANSITIONS,
    CountConflict,
    Failure,
    ForgetSession,
    HoldSession,
    Log,
    MachineSettings,
    SessionMachine,
    SignIn,
    TakeBack,
    session_doc,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "session.md"


def machine(**settings: object) -> SessionMachine:
    options: dict[str, object] = {"backoff_initial": 1.0, "backoff_max": 60.0}
    options.update(settings)
    rng = random.Random(1)
    return SessionMachine(MachineSettings(**options), rng)  # type: ignore[arg-type]


def signed_in(m: SessionMachine, now: float = 0.0) -> None:
    assert m.want_sign_in(now) == SignIn(m.settings.sign_in)
    m.signed_in_ok(now)
    assert m.state == "signed_in"


def kinds(actions: list[object]) -> list[type]:
    return [type(a) for a in actions if not isinstance(a, Log)]


# -- signing in --------------------------------------------------------------------------------


def test_first_sign_in_uses_the_configured_variant() -> None:
    m = machine(sign_in="loginex")
    assert m.want_sign_in(0.0) == SignIn("loginex")
    assert m.state == "signing_in"
    assert m.want_sign_in(0.0) is None, "never two sign-ins at once"
    actions = m.signed_in_ok(0.1)
    assert m.signed_in
    assert [a.message for a in actions if isinstance(a, Log)] == ["signed in"]


@dataclass(frozen=True)
class ConflictCase:
    id: str
    sign_in: str
    force_on_conflict: bool
    answer_lost: bool
    expected: SignIn | None


@pytest.mark.parametrize(
    "case",
    [
        # 100-002 and no right to take over: refused, counted as a conflict.
        ConflictCase("refused", "loginex", False, False, None),
        # force_on_conflict: the forced variant of the same licence class.
        ConflictCase("forced-ex", "loginex", True, False, SignIn("forceloginex")),
        ConflictCase("forced-login", "login", True, False, SignIn("forcelogin")),
        # our own session (the answer to our last sign-in was lost): taken back, no licence.
        ConflictCase("own-session", "loginex", False, True, SignIn("forceloginex")),
    ],
    ids=lambda c: c.id,
)
def test_already_signed_in(case: ConflictCase) -> None:
    forced = "forceloginex" if case.sign_in == "loginex" else "forcelogin"
    m = machine(sign_in=case.sign_in, force_on_conflict=case.force_on_conflict,
                force_variant=forced)  # fmt: skip
    if case.answer_lost:
        m.want_sign_in(0.0)
        m.sign_in_failed(0.0, Failure("transport", "timeout"))
        assert m.answer_lost
    assert m.want_sign_in(100.0) is not None
    actions = m.sign_in_failed(100.0, Failure("retcode", "100-002"))
    follow = [a for a in actions if isinstance(a, SignIn)]
    if case.expected is None:
        assert follow == []
        assert m.state == "signed_out"
        assert CountConflict in kinds(actions)
        assert "100-002" in (m.last_error or "")
        assert m.retry_at() > 100.0
    else:
        assert follow == [case.expected]
        assert m.state == "signing_in"
        m.signed_in_ok(100.5)
        assert m.signed_in


def test_a_missing_forced_variant_is_said_not_replaced() -> None:
    m = machine(force_on_conflict=True)
    m.want_sign_in(0.0)
    m.sign_in_failed(0.0, Failure("retcode", "100-002"))
    m.sign_in_failed(0.0, Failure("transport", "http_status", "HTTP 404", 404))
    assert m.state == "signed_out"
    assert "forceloginex is not offered by this gateway" in (m.last_error or "")


@pytest.mark.parametrize("code", ["100-004", "110-016", "100-001", "000-002"])
def test_what_only_an_operator_can_fix_is_retried_slowly(code: str) -> None:
    m = machine(operator_retry=300.0)
    m.want_sign_in(0.0)
    actions = m.sign_in_failed(0.0, Failure("retcode", code))
    assert m.state == "rejected"
    assert [a.level for a in actions if isinstance(a, Log)] == ["error"]
    assert 270.0 <= m.retry_at() <= 330.0
    assert m.want_sign_in(10.0, urgent=True) is None, "a scrape may not hurry a locked account"
    assert m.want_sign_in(m.retry_at()) is not None


def test_transport_failures_back_off_but_a_scrape_may_try_at_once() -> None:
    m = machine(backoff_initial=1.0, backoff_max=60.0)
    delays = []
    now = 0.0
    for _ in range(8):
        assert m.want_sign_in(now, urgent=False) is not None
        m.sign_in_failed(now, Failure("transport", "connect"))
        delays.append(m.retry_at() - now)
        now = m.retry_at()
    assert delays[-1] <= 60.0
    assert delays[3] > delays[0], "exponential"
    m.want_sign_in(now)
    m.sign_in_failed(now, Failure("transport", "connect"))
    assert m.want_sign_in(now + 0.01) is None
    assert m.want_sign_in(now + 0.01, urgent=True) is not None


def test_the_same_failure_is_logged_once() -> None:
    m = machine()
    levels = []
    now = 0.0
    for _ in range(5):
        m.want_sign_in(now)
        actions = m.sign_in_failed(now, Failure("transport", "connect"))
        levels += [a.level for a in actions if isinstance(a, Log)]
        now = m.retry_at()
    assert levels == ["warning"] + ["debug"] * 4


# -- losing the session -------------------------------------------------------------------------


def test_100_006_long_after_sign_in_signs_in_again_at_once() -> None:
    m = machine()
    signed_in(m, 0.0)
    verdict, actions = m.refused(600.0, "100-006", "g1", "g1")
    assert verdict == "sign_in"
    assert kinds(actions) == [ForgetSession]
    assert m.want_sign_in(600.0) is not None
    m.signed_in_ok(600.1)
    assert m.conflicts == 0


def test_a_newer_guid_is_tried_before_anything_else() -> None:
    m = machine()
    signed_in(m)
    assert m.refused(10.0, "000-003", "old", "new") == ("retry", [])
    assert m.signed_in


def test_000_003_soon_after_a_sign_in_is_not_cured_by_another() -> None:
    m = machine(resign_min_interval=5.0)
    signed_in(m, 0.0)
    assert m.refused(1.0, "000-003", "g", "g") == ("give_up", [])
    assert m.signed_in


def test_000_003_holds_the_session_and_100_002_takes_it_back() -> None:
    m = machine(resign_min_interval=5.0)
    signed_in(m, 0.0)
    verdict, actions = m.refused(100.0, "000-003", "g", "g")
    assert verdict == "sign_in"
    assert kinds(actions) == [HoldSession, ForgetSession]
    assert m.want_sign_in(100.0) is not None
    actions = m.sign_in_failed(100.0, Failure("retcode", "100-002"))
    assert kinds(actions) == [TakeBack]
    assert m.signed_in
    assert m.conflicts == 0


@pytest.mark.parametrize("code", ["100-006", "105-005", "105-006", "105-007"])
def test_every_re_sign_in_cause_is_damped(code: str) -> None:
    """A poll answering the same session retcode on every call: 167 sign-ins a minute before
    (issue 12, item 6); now the interval doubles from the second quick loss on."""
    m = machine(resign_min_interval=5.0, resign_max_interval=300.0, quick_window=60.0)
    now = 0.0
    sign_ins = 0
    while now < 600.0:
        if m.want_sign_in(now) is not None:
            sign_ins += 1
            m.signed_in_ok(now)
            m.refused(now + 0.01, code, "g", "g")  # the next poll, at once
            now += 0.01
        now = max(now + 0.3, m.retry_at())  # the poll loop's pace, or the damping
    assert sign_ins <= 10, f"{sign_ins} sign-ins in 10 minutes"
    assert m.conflicts == sign_ins - 1


def test_a_fight_between_two_clients_settles_at_the_cap_and_is_counted() -> None:
    """Two exporters on one account signing each other out: each loss comes soon after our
    own sign-in. The interval doubles to its cap and stays there (the quick window grows with
    it), instead of fighting every 2.7 s for ever (issue 13, item 5)."""
    m = machine(resign_min_interval=5.0, resign_max_interval=300.0, quick_window=60.0)
    now = 0.0
    gaps = []
    last = None
    while now < 7200.0:
        if m.want_sign_in(now) is not None:
            m.signed_in_ok(now)
            if last is not None:
                gaps.append(now - last)
            last = now
            now += 3.0  # the other client signs in 3 s later and we are out
            m.refused(now, "100-006", "g", "g")
        now = max(now + 1.0, m.retry_at())
    assert gaps[-1] >= 240.0
    assert all(g >= 240.0 for g in gaps[-5:]), gaps[-5:]
    assert m.conflicts >= 5
    logged = m.storm_reported
    assert logged


def test_a_storm_is_one_warning() -> None:
    m = machine(resign_min_interval=1.0)
    now = 0.0
    warnings = []
    for _ in range(20):
        while m.want_sign_in(now) is None:
            now += 0.5
        warnings += [a for a in m.signed_in_ok(now) if isinstance(a, Log) and a.level != "debug"]
        m.poll_ok(now + 0.1, "g")  # polls work between the kicks
        _, actions = m.refused(now + 2.0, "100-006", "g", "g")
        warnings += [a for a in actions if isinstance(a, Log) and a.level != "debug"]
        now += 2.0
    assert [w.message for w in warnings].count("session lost; signed in again") <= 1
    assert len(warnings) <= 3, [w.message for w in warnings]


def test_a_session_that_survives_resets_the_damping() -> None:
    m = machine(resign_min_interval=5.0, quick_window=60.0)
    signed_in(m, 0.0)
    m.refused(1.0, "100-006", "g", "g")
    m.want_sign_in(1.0)
    m.signed_in_ok(1.0)
    m.refused(2.0, "100-006", "g", "g")
    assert m.retry_at() > 2.0
    t = m.retry_at()
    m.want_sign_in(t)
    m.signed_in_ok(t)
    m.refused(t + 3600.0, "100-006", "g", "g")  # survived an hour
    assert m.retry_at() <= t + 3600.0
    assert m.resign_interval == 5.0


def test_an_expired_guid_makes_100_002_our_own_session() -> None:
    """Polls failed for longer than a Guid lives: the refused Guid expired, and the agent's
    session on the gateway is ours, so the forced variant takes it (without a licence)."""
    m = machine()
    signed_in(m, 0.0)
    m.poll_ok(1.0, "g1")
    m.poll_ok(61.0, "g2")  # one rotation seen: 60 s
    verdict, actions = m.refused(200.0, "000-003", "g2", "g2")
    assert verdict == "sign_in"
    assert HoldSession not in kinds(actions)
    m.want_sign_in(200.0)
    actions = m.sign_in_failed(200.0, Failure("retcode", "100-002"))
    assert [a for a in actions if isinstance(a, SignIn)] == [SignIn("forceloginex")]


# -- the diagram ---------------------------------------------------------------------------------


def test_every_transition_is_in_the_table() -> None:
    m = machine()
    m.state = "signed_in"
    with pytest.raises(AssertionError):
        m._go("new")


def test_the_diagram_in_docs_is_generated_from_the_table() -> None:
    assert DOC.read_text() == session_doc(), (
        "run: python -m exporter.gateway.machine > docs/session.md"
    )
    for transition in TRANSITIONS:
        assert f"{transition.source} --> {transition.target}: {transition.event}" in DOC.read_text()


def test_stop_signs_out_only_a_live_session() -> None:
    m = machine()
    assert m.stop() is False
    m = machine()
    signed_in(m)
    assert m.stop() is True
    assert m.state == "stopped"
    assert m.want_sign_in(10.0) is None


def test_polls_failing_past_the_idle_sign_out_mean_the_session_is_gone() -> None:
    """HTML 502 for 11 minutes: the gateway had signed the idle account out, while
    ccgw_session_signed_in stayed 1 (issue 13, item 7)."""
    m = machine(idle_signout=120.0)
    signed_in(m, 0.0)
    m.poll_ok(10.0, "g")
    assert m.poll_failed(100.0) == []
    assert m.signed_in
    assert kinds(m.poll_failed(131.0)) == [ForgetSession]
    assert m.state == "signed_out"
    assert "idle" in (m.last_error or "")
    # the sign-in that follows finds our own idle session: taken back without a licence
    m.want_sign_in(131.0, urgent=True)
    actions = m.sign_in_failed(131.5, Failure("retcode", "100-002"))
    assert [a for a in actions if isinstance(a, SignIn)] == [SignIn("forceloginex")]
