"""The faults of issue 6, as data: how each is done to the `faulty` gateway, how it is cleared,
and what the exporter must say about it while it lasts.

Each is done the way it happens in production, over real sockets: the simulator's fault
injection (HTML 502/503 from the balancer, resets mid-body, broken JSON, retcodes, slow
answers), stopping the gateway (connection refused), a host under the reserved `.invalid` TLD
(RFC 6761: the resolver says no at once and nothing leaves the machine), certificates that are
signed by another CA, expired or for another host, a gateway restart, a fast Guid rotation and
a load-balancer node going down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from ccgw_simulator import GatewaySimulator

from .rig import FAULTY, Rig, Scrape

Step = Callable[[Rig], Awaitable[None]]
Check = Callable[[Rig, Scrape, Scrape], None]

FAULTY_CONFERENCES = 45  # three queryConfInfos batches: 20, 20 and 5


async def nothing(rig: Rig) -> None:
    return None


@dataclass(frozen=True)
class FaultCase:
    """One row of the fault table."""

    id: str
    title: str
    inject: Step
    clear: Step
    # The faulty simulator's options, and the faulty gateway's config (url, tls, ...).
    sim: dict[str, Any] = field(default_factory=dict)
    gateway: Callable[[Rig], dict[str, Any]] | None = None
    # Re-arm an instantaneous fault (a restart, a node going down) before each fault scrape.
    each_scrape: Step | None = None
    # The fault is there before the exporter starts (it never signed in).
    from_start: bool = False
    # What the faulty gateway's metrics must say under the fault (None: either).
    up: bool | None = False
    fault_scrapes: int = 3
    failed_requests: int | None = 1
    signed_in: bool | None = None
    # (method, reason): every call of `method` in the scrape fails with `reason`, and the
    # counter grows by exactly the number of calls the simulator saw (when it saw them).
    all_fail: tuple[tuple[str, str], ...] = ()
    # (method, retcode): answers that must be counted.
    retcodes: tuple[tuple[str, str], ...] = ()
    check: Check | None = None
    scrape_gap: float = 0.1
    # False when the calls never reach the simulator (refused, unresolved, TLS handshake).
    reaches_sim: bool = True
    # The fault is healed inside the scrape that meets it (a restart, a node gone): recovery
    # is timed from the fault to the end of that scrape, not from a clearing.
    heals_within_scrape: bool = False


# -- helpers ------------------------------------------------------------------------------------


def faulty(rig: Rig) -> GatewaySimulator:
    return rig.sims[FAULTY]


def set_faults(**faults: Any) -> Step:
    async def step(rig: Rig) -> None:
        sim = faulty(rig)
        for key, value in faults.items():
            setattr(sim.faults, key, value)

    return step


async def clear_faults(rig: Rig) -> None:
    from ccgw_simulator.config import FaultConfig

    faulty(rig).set_faults(FaultConfig())


def delta(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.counter(name, **labels) - before.counter(name, **labels)


# -- gateway down ---------------------------------------------------------------------------------


async def stop_gateway(rig: Rig) -> None:
    sim = faulty(rig)
    sim.config.port = sim.port  # come back on the same port
    await sim.stop()


async def restart_gateway(rig: Rig) -> None:
    sim = faulty(rig)
    sim.restart()  # a rebooted gateway has forgotten every session
    await sim.start()


# -- name resolution ----------------------------------------------------------------------------

UNRESOLVABLE = "ccgw-faulty.invalid"


def unresolvable_url(rig: Rig) -> dict[str, Any]:
    return {"url": f"http://{UNRESOLVABLE}:{faulty(rig).port}"}


async def make_name_resolve(rig: Rig) -> None:
    """DNS is fixed: from now on the name resolves to the loopback simulator. Done to the
    event loop's resolver (what aiohttp's default resolver calls), for this test only."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == UNRESOLVABLE:
            host = "127.0.0.1"
            kwargs["family"] = socket.AF_INET
        return await real(host, *args, **kwargs)

    loop.getaddrinfo = getaddrinfo  # type: ignore[method-assign]
    rig.undo.append(lambda: setattr(loop, "getaddrinfo", real))


# -- TLS ----------------------------------------------------------------------------------------


@dataclass
class Certificates:
    """One trusted CA (the exporter's ca_file) and the certificates a gateway might serve."""

    directory: Path
    ca: trustme.CA = field(default_factory=trustme.CA)
    other_ca: trustme.CA = field(default_factory=trustme.CA)

    def __post_init__(self) -> None:
        self.ca.cert_pem.write_to_path(str(self.directory / "ca.pem"))
        now = dt.datetime.now(dt.timezone.utc)
        self.files = {
            "good": self.ca.issue_cert("127.0.0.1", "localhost"),
            "other_ca": self.other_ca.issue_cert("127.0.0.1", "localhost"),
            "expired": self.ca.issue_cert(
                "127.0.0.1",
                "localhost",
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            ),
            "wrong_host": self.ca.issue_cert("gateway.example"),
        }

    @property
    def ca_file(self) -> str:
        return str(self.directory / "ca.pem")

    def paths(self, kind: str) -> tuple[str, str]:
        cert = self.directory / f"{kind}.pem"
        key = self.directory / f"{kind}-key.pem"
        leaf = self.files[kind]
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)


def certificates(rig: Rig) -> Certificates:
    if "certificates" not in rig.extra:
        rig.extra["certificates"] = Certificates(rig.directory)
    found: Certificates = rig.extra["certificates"]
    return found


def tls_sim(rig: Rig, kind: str) -> dict[str, Any]:
    cert, key = certificates(rig).paths(kind)
    return {"https": True, "cert_file": cert, "key_file": key}


def tls_gateway(rig: Rig) -> dict[str, Any]:
    return {"tls": {"ca_file": certificates(rig).ca_file}}


async def serve_good_certificate(rig: Rig) -> None:
    """The gateway's operator installs a good certificate. Loaded into the simulator's live
    SSL context, which is what a server does on a certificate reload: new handshakes use it."""
    cert, key = certificates(rig).paths("good")
    context = faulty(rig)._ssl
    assert context is not None
    context.load_cert_chain(cert, key)


# -- checks ---------------------------------------------------------------------------------------


def served_stale(rig: Rig, before: Scrape, after: Scrape) -> None:
    """Nothing answered: the known conferences are served as they were last seen, said so,
    and the collection is neither up nor complete."""
    assert after.gauge("ccgw_collection_complete") == 0
    assert after.gauge("ccgw_conferences") == FAULTY_CONFERENCES
    assert after.gauge("ccgw_conferences_stale") == FAULTY_CONFERENCES
    assert after.gauge("ccgw_conferences_stale_age_seconds") > 0


def some_batches_fail(rig: Rig, before: Scrape, after: Scrape) -> None:
    """One of three batches answered 100-007 (once: the retry is answered): every
    conference is there, from this collection, and the counters show the failed answer."""
    assert after.gauge("ccgw_up") == 1
    assert after.gauge("ccgw_collection_complete") == 1
    assert after.gauge("ccgw_collection_failed_requests") == 0
    assert after.gauge("ccgw_conferences_requested") == FAULTY_CONFERENCES
    assert after.gauge("ccgw_conferences") == FAULTY_CONFERENCES
    assert after.gauge("ccgw_conferences_stale") == 0
    assert delta(after, before, "ccgw_responses_total", method="queryConfInfos",
                 retcode="100-007") == 1  # fmt: skip
    assert delta(after, before, "ccgw_responses_total", method="queryConfInfos", retcode="0") == 3


def batches_keep_failing(rig: Rig, before: Scrape, after: Scrape) -> None:
    """One batch answers 100-007 on every try: its conferences are served from the last
    collection (stale, for keep_stale_for), so counts do not drop and alerts do not flap."""
    assert after.gauge("ccgw_up") == 1
    assert after.gauge("ccgw_collection_complete") == 0
    assert after.gauge("ccgw_collection_failed_requests") == 1
    assert after.gauge("ccgw_conferences") == FAULTY_CONFERENCES
    assert after.gauge("ccgw_conferences_stale") in (20, 5)


def no_sign_in_storm(rig: Rig, before: Scrape, after: Scrape) -> None:
    """A 000-003 soon after a sign-in is not cured by signing in again: at most one new
    sign-in while the storm lasts, however many calls were refused."""
    assert after.gauge("ccgw_session_signed_in") == 1
    assert sum(faulty(rig).stats.signins.values()) <= 2


def healed_within_the_scrape(rig: Rig, before: Scrape, after: Scrape) -> None:
    """The session was lost and signed in again inside the scrape: complete data."""
    assert after.gauge("ccgw_conferences") == FAULTY_CONFERENCES
    assert delta(after, before, "ccgw_session_sign_ins_total", retcode="0") >= 1


def rotation_without_sign_in(rig: Rig, before: Scrape, after: Scrape) -> None:
    """Three or more Guids (0.25 s apart, each valid 1 s) came and went between two scrapes
    0.8 s apart; the scrape used one still valid, taken from the event poll, and needed no
    new sign-in. (The client only sees the Guids its polls bring, so it counts at least one
    renewal, not every rotation.)"""
    assert after.gauge("ccgw_conferences") == FAULTY_CONFERENCES
    assert delta(after, before, "ccgw_session_guid_renewals_total") >= 1
    assert delta(after, before, "ccgw_session_sign_ins_total") == 0


def age_session_then(step: Step) -> Step:
    """Make the session look signed in a minute ago, then `step`. A fresh session does not
    sign in again on 000-003 (resign_min_interval, 5 s); an old one does, which is the case
    that matters in production and the one that must not end in 100-002 (already signed
    in, by ourselves) on every later sign-in."""

    async def aged(rig: Rig) -> None:
        machine = rig.target(FAULTY).session.machine
        assert machine.signed_in_at is not None
        machine.signed_in_at -= 60.0
        await step(rig)

    return aged


async def restart(rig: Rig) -> None:
    faulty(rig).restart()


async def restart_and_lose_the_sign_in_answer(rig: Rig) -> None:
    """The gateway restarts, and the answer to the sign-in that follows is cut mid-body: the
    gateway has signed the agent in, the exporter never saw the Guid. The next plain sign-in
    is then refused with 100-002 (already signed in) until the gateway's 2-minute idle
    sign-out, unless the exporter recognises the session as its own."""
    sim = faulty(rig)
    sim.restart()
    for key, value in {"reset_rate": 1.0, "methods": ["loginEx"], "limit": 1}.items():
        setattr(sim.faults, key, value)


async def bring_nodes_up(rig: Rig) -> None:
    sim = faulty(rig)
    for node in sim.nodes:
        sim.set_node_up(node.index, True)


async def take_sticky_node_down(rig: Rig) -> None:
    """The node holding the session goes down (and with it the session); the other stays."""
    await bring_nodes_up(rig)
    sim = faulty(rig)
    (node,) = [n.index for n in sim.nodes if "153" in n.sessions]
    sim.set_node_up(node, False)


async def fast_rotation(rig: Rig) -> None:
    config = faulty(rig).config
    config.guid_interval, config.guid_timeout = 0.25, 1.0


async def slow_rotation(rig: Rig) -> None:
    config = faulty(rig).config
    config.guid_interval, config.guid_timeout = 60.0, 120.0


QUERIES = ("queryAllConfIds",)
# With discovery failing, the known conferences are still asked for (only an answer may end
# them): discovery plus their three batches fail, and the conferences are served stale.
FAILED_WITH_KNOWN = 4

CASES: list[FaultCase] = [
    FaultCase(
        id="down",
        title="gateway down (connection refused)",
        inject=stop_gateway,
        clear=restart_gateway,
        failed_requests=FAILED_WITH_KNOWN,
        all_fail=(("queryAllConfIds", "connect"),),
        reaches_sim=False,
        check=served_stale,
    ),
    FaultCase(
        id="dns",
        title="name does not resolve (.invalid)",
        inject=nothing,
        clear=make_name_resolve,
        gateway=unresolvable_url,
        from_start=True,
        signed_in=False,
        all_fail=(("loginEx", "connect"),),
        reaches_sim=False,
    ),
    *(
        FaultCase(
            id=f"tls-{kind}",
            title=f"TLS: {title}",
            inject=nothing,
            clear=serve_good_certificate,
            sim={"tls": kind},
            gateway=tls_gateway,
            from_start=True,
            signed_in=False,
            all_fail=(("loginEx", "tls"),),
            reaches_sim=False,
        )
        for kind, title in (
            ("other_ca", "certificate of another CA"),
            ("expired", "expired certificate"),
            ("wrong_host", "certificate for another host"),
        )
    ),
    *(
        FaultCase(
            id=f"http-{status}",
            title=f"HTTP {status} with an HTML body, every call",
            inject=set_faults(http_error_rate=1.0, http_error_status=status),
            clear=clear_faults,
            failed_requests=FAILED_WITH_KNOWN,
            all_fail=(("queryAllConfIds", "http_status"), ("queryConfInfos", "http_status")),
            check=served_stale,
        )
        for status in (502, 503)
    ),
    FaultCase(
        id="reset",
        title="connection reset mid-body, every call",
        inject=set_faults(reset_rate=1.0),
        clear=clear_faults,
        failed_requests=FAILED_WITH_KNOWN,
        all_fail=(("queryAllConfIds", "connect"), ("queryConfInfos", "connect")),
        check=served_stale,
    ),
    FaultCase(
        id="malformed",
        title="malformed and truncated JSON, every call",
        inject=set_faults(malformed_rate=1.0),
        clear=clear_faults,
        failed_requests=FAILED_WITH_KNOWN,
        all_fail=(("queryAllConfIds", "decode"), ("queryConfInfos", "decode")),
        check=served_stale,
    ),
    FaultCase(
        id="100-007",
        title="100-007 on one queryConfInfos call (retried within the deadline)",
        inject=nothing,
        each_scrape=set_faults(retcodes={"100-007": 1.0}, methods=["queryConfInfos"], limit=1),
        clear=clear_faults,
        up=True,
        failed_requests=0,
        check=some_batches_fail,
    ),
    FaultCase(
        id="100-007-stuck",
        # 4 failures: the three batches, then the first retry (one batch stays failed)
        title="100-007 on one queryConfInfos batch, every try",
        inject=nothing,
        each_scrape=set_faults(retcodes={"100-007": 1.0}, methods=["queryConfInfos"], limit=4),
        clear=clear_faults,
        up=True,
        failed_requests=1,
        check=batches_keep_failing,
    ),
    FaultCase(
        id="000-003",
        title="a storm of 000-003 on every call after sign-in",
        inject=age_session_then(
            set_faults(
                retcodes={"000-003": 1.0},
                methods=["getAgentEvent", "queryAllConfIds", "queryConfInfos", "updateGuid"],
            )
        ),
        clear=clear_faults,
        failed_requests=FAILED_WITH_KNOWN,
        retcodes=(("queryAllConfIds", "000-003"), ("queryConfInfos", "000-003")),
        check=no_sign_in_storm,
    ),
    FaultCase(
        id="restart",
        title="every agent signed out at once (gateway restart)",
        inject=nothing,
        each_scrape=restart,
        clear=nothing,
        # One restart: several in a row within a minute of each sign-in are a storm, damped
        # (see test_storms.py).
        fault_scrapes=1,
        heals_within_scrape=True,
        up=True,
        failed_requests=0,
        signed_in=True,
        check=healed_within_the_scrape,
    ),
    FaultCase(
        id="signin-lost",
        title="sign-in answer lost after a restart (reset mid-body)",
        inject=restart_and_lose_the_sign_in_answer,
        clear=clear_faults,
        up=None,
        failed_requests=None,
        fault_scrapes=1,
    ),
    FaultCase(
        id="rotation",
        title="Guid rotation faster than the scrape interval",
        inject=fast_rotation,
        clear=slow_rotation,
        up=True,
        failed_requests=0,
        signed_in=True,
        check=rotation_without_sign_in,
        scrape_gap=0.8,
    ),
    FaultCase(
        id="slow",
        title="answers slower than the deadline",
        inject=set_faults(
            slow_rate=1.0, slow_seconds=30.0, methods=["queryAllConfIds", "queryConfInfos"]
        ),
        clear=clear_faults,
        all_fail=(("queryAllConfIds", "timeout"),),
    ),
    FaultCase(
        id="lb-node",
        title="load-balancer node behind the sticky cookie gone",
        sim={"nodes": 2},
        inject=nothing,
        each_scrape=take_sticky_node_down,
        clear=bring_nodes_up,
        fault_scrapes=1,
        heals_within_scrape=True,
        up=True,
        failed_requests=0,
        signed_in=True,
        check=healed_within_the_scrape,
    ),
]
