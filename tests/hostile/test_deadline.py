"""Issue 12, item 7: one scrape cannot shorten another's collection; workers stop at the
deadline; a collection asks for at most `max_ids` IDs.

Before: scrapes shared the collection in flight with its deadline, so a client looping
`/metrics` with `X-Prometheus-Scrape-Timeout-Seconds: -1` made the real scrapes come back
nearly empty (19 of 20); and after the deadline the batch workers kept walking every remaining
batch (1,000,000 IDs: +45k timeout errors per scrape, 7 s scrapes against a 5 s deadline).
"""

from __future__ import annotations

import threading
import time

from .conftest import RigFactory, new_agent_id
from .gateway import HostileGateway, default_population
from .rig import SCRAPE_TIMEOUT, GatewayEntry

#: `gateways[].max_ids`' default (CONTRACT.md).
MAX_IDS = 100_000
#: Real scrapes made while a client loops on a negative timeout (all but one must be complete).
SCRAPES = 5
#: Calls that may still reach the gateway once the scrape has been answered (in flight then).
LATE_CALLS = 8


def test_batch_workers_stop_at_the_deadline(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.url))
    rig.recover("g")
    tenant = rig.tenant("g")
    tenant.set_population(default_population(), discover=range(1, 1_000_001))
    tenant.query_hold = 0.02
    try:
        check = rig.scrape()
        answered = time.monotonic()
        time.sleep(1.0)
        late = [r for r in tenant.requests("queryconfinfos") if r.at > answered]
        metrics = check.metrics
        dropped = metrics.value("ccgw_conference_ids_dropped", gateway="g")
        timeouts = rig.errors(metrics, "g", "queryconfinfos", "timeout")
        print(
            f"FIGURE 1,000,000 IDs: scrape {check.seconds:.2f}s, {len(late)} calls after it was "
            f"answered, {timeouts:g} timeout errors, ids dropped {dropped}, "
            f"RSS {rig.exporter.rss() / 2**20:.0f} MiB"
        )
        assert check.seconds <= SCRAPE_TIMEOUT
        assert len(late) <= LATE_CALLS, f"{len(late)} queryconfinfos calls after the deadline"
        assert timeouts <= 2 * LATE_CALLS, f"{timeouts:g} timeout errors in one collection"
        assert dropped == 1_000_000 - MAX_IDS, f"ccgw_conference_ids_dropped {dropped}"
        rig.check_resources(metrics)
    finally:
        tenant.query_hold = 0.0
        tenant.set_population(default_population())
    rig.recover("g")


def test_a_negative_scrape_timeout_does_not_empty_other_scrapes(
    make_rig: RigFactory, hostile_gateway: HostileGateway
) -> None:
    rig = make_rig(GatewayEntry("g", new_agent_id(), hostile_gateway.url))
    rig.recover("g")
    tenant = rig.tenant("g")
    tenant.query_hold = 0.3  # a slow gateway: a 0.1 s collection gets nothing
    stop = threading.Event()

    def poison() -> None:
        while not stop.is_set():
            rig.exporter.get("/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "-1"})

    thread = threading.Thread(target=poison, daemon=True)
    thread.start()
    try:
        full = 0
        for _ in range(SCRAPES):
            metrics = rig.scrape(promtool=False).metrics
            full += metrics.value("ccgw_conferences", gateway="g") == 3
        print(f"FIGURE timeout poisoning: {full} of {SCRAPES} real scrapes complete")
        assert full >= SCRAPES - 1, f"only {full} of {SCRAPES} real scrapes were complete"
    finally:
        stop.set()
        thread.join(10)
        tenant.query_hold = 0.0
    rig.recover("g")
