"""Issue 6, section 1: for each fault, /metrics answers 200 within the scrape timeout, the
faulty gateway's metrics tell the truth, the healthy gateway's do not move, the session
recovers by the first scrape after the fault clears, and logging stays at most one line per
fault per scrape. The measured table is printed at the end of the run (see report.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from . import report
from .cases import CASES, FaultCase, faulty
from .conftest import RigFactory
from .rig import FAULTY, HEALTHY, HEALTHY_CONFERENCES, SCRAPE_TIMEOUT, Rig, Scrape, about


def check_healthy(scrape: Scrape, baseline: Scrape) -> None:
    """The control gateway: complete data, no failure, no error counted, ever."""
    assert scrape.gauge("ccgw_up", HEALTHY) == 1
    assert scrape.gauge("ccgw_collection_failed_requests", HEALTHY) == 0
    assert scrape.gauge("ccgw_conferences", HEALTHY) == HEALTHY_CONFERENCES
    assert scrape.counter("ccgw_request_errors_total", HEALTHY) == 0
    assert scrape.counter("ccgw_session_sign_ins_total", HEALTHY) == baseline.counter(
        "ccgw_session_sign_ins_total", HEALTHY
    )


def check_faulty(case: FaultCase, rig: Rig, before: Scrape, after: Scrape,
                 calls: dict[str, int]) -> None:  # fmt: skip
    """What the faulty gateway's series must say about this scrape."""
    if case.up is not None:
        assert after.gauge("ccgw_up") == (1 if case.up else 0), after.text
    if case.failed_requests is not None:
        assert after.gauge("ccgw_collection_failed_requests") == case.failed_requests
    if case.signed_in is not None:
        assert after.gauge("ccgw_session_signed_in") == (1 if case.signed_in else 0)
    for method, reason in case.all_fail:
        grew = after.counter("ccgw_request_errors_total", method=method, reason=reason) - (
            before.counter("ccgw_request_errors_total", method=method, reason=reason)
        )
        answered = after.counter("ccgw_responses_total", method=method) - before.counter(
            "ccgw_responses_total", method=method
        )
        assert answered == 0, f"{method}: answers counted under {case.id}"
        if method in calls and case.reaches_sim:
            # Scrape-driven calls only: the simulator saw exactly what the exporter counted.
            assert grew == calls[method] >= 1, (method, reason, grew, calls)
        else:
            # The sign-in is retried in the background too; the scrape may or may not add one.
            assert after.counter("ccgw_request_errors_total", method=method, reason=reason) >= 1
    for method, retcode in case.retcodes:
        grew = after.counter("ccgw_responses_total", method=method, retcode=retcode) - (
            before.counter("ccgw_responses_total", method=method, retcode=retcode)
        )
        assert grew >= 1, (method, retcode)
    if case.check is not None:
        case.check(rig, before, after)


def sim_calls(rig: Rig) -> dict[str, int]:
    sim = faulty(rig)
    return {m: sim.stats.calls[m] for m in ("queryAllConfIds", "queryConfInfos")}


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


async def run_fault(case: FaultCase, rig: Rig) -> report.Row:
    """Healthy scrape (unless the fault is there from the start), the fault for a few scrapes,
    then the first scrape after it clears; every check on the way."""
    loop = asyncio.get_running_loop()
    healthy, target = rig.target(HEALTHY), rig.target(FAULTY)
    await rig.wait(lambda: healthy.session.signed_in, what="healthy gateway signed in")
    if case.from_start:
        await rig.wait(lambda: target.session.sign_in_attempted, what="first sign-in attempt")
    else:
        await rig.wait(lambda: target.session.signed_in, what="faulty gateway signed in")
    baseline = await rig.scrape()
    assert baseline.ok, baseline.text[:300]
    check_healthy(baseline, baseline)
    if not case.from_start:
        assert baseline.gauge("ccgw_up") == 1
    mark = len(rig.logs.records)
    await case.inject(rig)
    before = baseline
    during: list[Scrape] = []
    healed: list[float] = []  # for faults healed inside a scrape: from the fault to its end
    for _ in range(case.fault_scrapes):
        await asyncio.sleep(case.scrape_gap)
        struck = loop.time()
        if case.each_scrape is not None:
            await case.each_scrape(rig)
        calls_before = sim_calls(rig)
        scrape = await rig.scrape()
        healed.append(loop.time() - struck)
        during.append(scrape)
        assert scrape.status == 200, scrape.text[:300]
        assert scrape.seconds < SCRAPE_TIMEOUT, f"{scrape.seconds:.2f}s"
        check_healthy(scrape, baseline)
        check_faulty(case, rig, before, scrape, diff(sim_calls(rig), calls_before))
        before = scrape

    cleared = loop.time()
    await case.clear(rig)
    first = await rig.scrape()
    recovered = loop.time() - cleared
    assert first.status == 200
    assert first.seconds < SCRAPE_TIMEOUT
    check_healthy(first, baseline)
    assert first.gauge("ccgw_up") == 1, "not recovered by the first scrape after the fault"
    assert first.gauge("ccgw_collection_failed_requests") == 0
    assert first.gauge("ccgw_session_signed_in") == 1
    assert first.gauge("ccgw_conferences") == first.gauge("ccgw_conferences_requested") > 0

    # Logging: at most one line per fault per scrape, nothing at all about the healthy one,
    # and no traceback (a traceback is a bug's signature, and many lines long).
    scrapes = [*during, first]
    logged = rig.logs.since(mark)
    lines = about(logged, FAULTY)
    assert len(lines) <= len(scrapes), [r.getMessage() for r in lines]
    assert not about(logged, HEALTHY), [r.getMessage() for r in about(logged, HEALTHY)]
    assert not [r for r in logged if r.exc_info], "a traceback was logged"
    assert all(r.levelno < logging.ERROR for r in logged)
    up_values = {int(s.gauge("ccgw_up")) for s in during}
    return report.Row(
        fault=case.title,
        scrapes=len(scrapes),
        answered=sum(1 for s in scrapes if s.ok),
        slowest=max(s.seconds for s in scrapes),
        up_during="/".join(str(v) for v in sorted(up_values)),
        recovered=max(healed) if case.heals_within_scrape else recovered,
        log_lines=len(lines),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_fault(case: FaultCase, make_rig: RigFactory) -> None:
    rig = await make_rig(case)
    report.record(await run_fault(case, rig))
