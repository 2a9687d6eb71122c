"""Property: no answer of a gateway can take the exporter down, leak a secret or grow it.

For each example the hostile gateway serves generated answers (strategies.py) to the next
calls of one vendor method, then answers well again. Throughout, every scrape answers 200
within the scrape timeout and passes promtool and both prometheus_client parsers; afterwards
the well-behaved population is served exactly again within `RECOVERY_SECONDS`, the event poll
still reaches the gateway, no secret is in the log, the metrics, the landing page or the error
pages, no redirect was followed, and RSS and asyncio tasks stay bounded.

One exporter process serves the module's examples (an example costs about a second, not a
start). An example that leaves it unhealthy fails, and the next one starts a fresh exporter,
so examples stay independent and hypothesis can shrink to the answer that did it; so does an
example that cost the session (see `Target`).

`make test` runs a curated example (`strategies.curated`) and one derandomized generated one
per method; `make fuzz` runs the `hostile-fuzz` profile (CCGW_FUZZ_EXAMPLES generated per
method, default 40; a quarter of it for the sign-out).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import example, given

from .conftest import new_agent_id, start_rig
from .gateway import Answer, HostileGateway, Method
from .rig import GatewayEntry, Rig
from .strategies import Attack, answers, attacks, curated, hostile_settings

NAME = "fuzz"
#: CCGW_HOSTILE_TRACE=1 prints a line per example (time, RSS before and after, the attack).
TRACE = os.environ.get("CCGW_HOSTILE_TRACE") == "1"
#: How long the exporter may take to make the calls the hostile answers were scripted for.
HOSTILE_PHASE = 20.0


class Target:
    """The module's exporter, started afresh when the last example left it broken or cost it
    its session (the exporter damps repeated quick session losses for a minute, on purpose,
    which would make the next examples' recovery depend on this one), and for every sign-in
    example (its answers meet the first sign-in of a new process)."""

    def __init__(self, gateway: HostileGateway, workdir: Path, promtool: str | None) -> None:
        self.gateway = gateway
        self.workdir = workdir
        self.promtool = promtool
        self.rig: Rig | None = None
        self.starts = 0
        self.fresh_needed = False

    def ready(self, sign_in: Sequence[Answer] = ()) -> Rig:
        rig = self.rig
        if rig is not None and not sign_in and not self.fresh_needed and self._healthy(rig):
            return rig
        if rig is not None:
            rig.exporter.stop()
        self.starts += 1
        agent = new_agent_id()  # a fresh tenant: nothing left over from the last run
        self.gateway.tenant(agent).script("sign_in", *sign_in)
        entry = GatewayEntry(NAME, agent, self.gateway.url, participants=True, address="plain")
        rig = start_rig(self.gateway, self.workdir / f"run{self.starts}", self.promtool, [entry])
        self.rig, self.fresh_needed = rig, False
        if not sign_in:
            rig.recover(NAME)
            rig.new_log()
        return rig

    @staticmethod
    def _healthy(rig: Rig) -> bool:
        if not rig.exporter.alive():
            return False
        try:
            rig.recover(NAME, within=2.0)
        except (AssertionError, OSError):
            return False
        return True

    def close(self) -> None:
        if self.rig is not None:
            self.rig.exporter.stop()


@pytest.fixture(scope="module")
def target(
    hostile_gateway: HostileGateway, tmp_path_factory: pytest.TempPathFactory, promtool: str | None
) -> Iterator[Target]:
    target = Target(hostile_gateway, tmp_path_factory.mktemp("fuzz"), promtool)
    yield target
    target.close()


def run_attack(target: Target, attack: Attack) -> None:
    method = attack.method
    count = len(attack.answers)
    if method == "sign_in":
        rig = target.ready(sign_in=attack.answers)
        tenant = rig.tenant(NAME)
        sign_ins = 0
    else:
        rig = target.ready()
        tenant = rig.tenant(NAME)
        sign_ins = tenant.count("sign_in")
        count += tenant.hostile_served(method)
        tenant.script(method, *attack.answers)
    started = time.monotonic()
    rss = rig.exporter.rss()
    try:
        rig.wait_served(NAME, method, count, HOSTILE_PHASE)
        rig.scrape()
        scrapes, metrics = rig.recover(NAME)
        rig.check_polling(NAME, after=tenant.count("poll"))
        rig.check_no_secrets()
        if TRACE:
            print(
                f"TRACE {time.monotonic() - started:5.2f}s run{target.starts} "
                f"RSS {rss >> 20}->{rig.exporter.rss() >> 20} MiB, {scrapes} scrape(s) "
                f"to recover: {attack!r}"[:400]
            )
        rig.check_resources(metrics)
    finally:
        tenant.reset()
        target.fresh_needed = tenant.count("sign_in") > sign_ins


METHODS: tuple[Method, ...] = ("sign_in", "poll", "discovery", "queryconfinfos")


@pytest.mark.parametrize("method", METHODS)
def test_hostile_answers(target: Target, method: Method) -> None:
    @hostile_settings()
    @given(attack=attacks((method,)))
    @example(attack=curated(method))
    def run(attack: Attack) -> None:
        run_attack(target, attack)

    run()


@hostile_settings(share=0.25)  # each example starts an exporter of its own
@given(answer=answers("logout"))
def test_hostile_sign_out(
    hostile_gateway: HostileGateway,
    tmp_path_factory: pytest.TempPathFactory,
    promtool: str | None,
    answer: Answer,
) -> None:
    """SIGTERM exits 0, promptly, whatever the sign-out's answer, leaking nothing."""
    entry = GatewayEntry(NAME, new_agent_id(), hostile_gateway.url)
    rig = start_rig(hostile_gateway, tmp_path_factory.mktemp("logout"), promtool, [entry])
    try:
        rig.recover(NAME, participants=None)
        rig.tenant(NAME).script("logout", answer)
        status, seconds = rig.exporter.terminate()
        assert status == 0, f"SIGTERM: exit status {status} after {seconds:.1f}s" + rig.context()
        assert seconds < 9.0, f"SIGTERM: {seconds:.1f}s to exit" + rig.context()
        assert rig.tenant(NAME).count("logout") == 1
        rig.check_no_secrets(pages=False)
    finally:
        rig.exporter.stop()
