"""One collection of one gateway: IDs -> batches of 20 -> conferences, within a deadline.

Nothing here runs between scrapes: a collection starts when Prometheus asks and ends before its
scrape timeout, with whatever the gateway managed to answer by then (`ccgw_up` and
`ccgw_collection_failed_requests` say how complete it is). Scrapes that arrive while a
collection of the same gateway is in flight share it, so two (or ten) Prometheus replicas cost
the gateway one set of calls when their scrapes meet. Replicas of an HA pair scrape at their own
offsets and rarely meet: `share_window` lets a scrape take the collection that ended less than
that long ago, which, at half the scrape interval, makes the second replica free at the gateway
in exchange for data up to that old (reported in `ccgw_collection_age_seconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .gateway.client import ClientSettings, GatewayClient
from .gateway.errors import GatewayError, RetcodeError
from .gateway.models import Conference
from .gateway.session import Session, SessionSettings
from .gateway.stats import CallStats
from .gateway.tls import TLSSettings, build_ssl_context
from .idsource import IdsFile
from .logs import kv

if TYPE_CHECKING:
    from .config import GatewayConfig

log = logging.getLogger(__name__)

# Sources of conference IDs, in the order of `ccgw_conferences_by_source`.
ID_SOURCES = ("discovered", "configured", "file", "events")
# Prometheus's scrape-timeout header minus this is the collection's budget: time to render and
# send the answer (blackbox_exporter uses the same idea).
SCRAPE_TIMEOUT_OFFSET = 0.5
MIN_TIMEOUT = 0.1


@dataclass(slots=True)
class Collection:
    """The result of one collection, everything the exposition needs and nothing else."""

    gateway: str
    timeout: float
    up: bool = False
    signed_in: bool = False
    duration: float = 0.0
    failed_requests: int = 0
    requested: int = 0
    conferences: list[Conference] = field(default_factory=list)
    # Conferences exported per conference (sorted by ID, capped); `conferences` holds them all.
    detailed: list[Conference] = field(default_factory=list)
    truncated: int = 0
    ids_by_source: dict[str, int] = field(default_factory=dict)
    skipped_entries: int = 0
    error: str | None = None
    finished_at: float = 0.0  # wall clock, for the landing page
    # Seconds since this collection ended, when a scrape was answered with an earlier one
    # (`share_window`); 0 for a collection made for the scrape.
    age: float = 0.0


def scrape_timeout(configured: float, header: str | None) -> float:
    """min(configured timeout, X-Prometheus-Scrape-Timeout-Seconds - 0.5 s)."""
    timeout = configured
    if header:
        try:
            offered = float(header) - SCRAPE_TIMEOUT_OFFSET
        except ValueError:
            offered = configured
        if offered == offered:  # not NaN
            timeout = min(timeout, offered)
    return max(MIN_TIMEOUT, timeout)


class GatewayTarget:
    """A configured gateway: its session, its ID sources and its collections."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = CallStats()
        tls = config.tls
        ssl_context: ssl.SSLContext | bool = True
        if config.url.startswith("https"):
            ssl_context = build_ssl_context(
                TLSSettings(
                    ca_file=tls.ca_file,
                    cert_file=tls.cert_file,
                    key_file=tls.key_file,
                    server_name=tls.server_name,
                    insecure_skip_verify=tls.insecure_skip_verify,
                ),
                gateway=config.name,
            )
        self.client = GatewayClient(
            ClientSettings(
                base_url=config.url,
                agent_id=config.agent_id,
                ssl=ssl_context,
                server_name=tls.server_name,
                max_connections=config.max_concurrency,
                participants=config.participants.metrics,
            ),
            self.stats,
        )
        self.session = Session(
            config.name,
            SessionSettings(
                agent_id=config.agent_id,
                password=config.password.reveal(),
                sign_in=config.sign_in,
                force_on_conflict=config.force_on_conflict,
                phone_number=config.phone_number,
                poll_events=True,
                call_timeout=config.timeout,
            ),
            self.client,
        )
        conferences = config.conferences
        self.ids_file = IdsFile(conferences.ids_file, config.name) if conferences.ids_file else None
        self.last: Collection | None = None
        self.discovery_failures = 0
        self._discovery_error: str | None = None
        self._in_flight: asyncio.Future[Collection] | None = None
        self._last_done = 0.0  # loop time at which `last` ended

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.session.start()

    async def stop(self) -> None:
        """Stop a collection still running (a scrape cut at shutdown, a gateway removed by a
        reload) before the session closes the client under it, then sign out."""
        collection = self._in_flight
        if collection is not None and not collection.done():
            collection.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collection
        await self.session.stop()

    # -- collection ----------------------------------------------------------------------------

    async def collect(self, timeout: float) -> Collection:
        """A collection within `timeout` seconds, shared with scrapes already waiting for one."""
        loop = asyncio.get_running_loop()
        future = self._in_flight
        if future is None or future.done():
            last, age = self.last, loop.time() - self._last_done
            if last is not None and age < self.config.share_window:
                # A copy: the body of the scrape that made it must not be shared (SharedBodies
                # goes by identity), as it carries that moment's exporter metrics.
                return dataclasses.replace(last, age=age)
            future = self._in_flight = loop.create_task(self._collect(timeout))
        try:
            # Later arrivals wait for the shared collection, never longer than their own budget
            # (plus a little: the collection itself stops at its own deadline).
            return await asyncio.wait_for(asyncio.shield(future), timeout + 0.25)
        except asyncio.TimeoutError:
            result = Collection(self.name, timeout, signed_in=self.session.signed_in)
            result.failed_requests = 1
            result.duration = timeout
            result.error = "collection still running at the deadline"
            return result

    async def _collect(self, timeout: float) -> Collection:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + timeout
        result = Collection(self.name, timeout)
        try:
            await self._collect_into(result, deadline)
        except Exception as exc:  # a bug must cost one scrape's data, never the scrape
            log.exception("collection failed", extra=kv(gateway=self.name))
            result.up = False
            result.failed_requests += 1
            result.error = f"internal error: {type(exc).__name__}"
        result.duration = time.perf_counter() - started
        result.finished_at = time.time()
        self.last = result
        self._last_done = loop.time()
        return result

    async def _collect_into(self, result: Collection, deadline: float) -> None:
        conf = self.config.conferences
        session = self.session
        if not await session.ensure_signed_in(deadline, now=True):
            result.failed_requests += 1
            result.error = session.last_error or "not signed in"
            return
        succeeded = 0
        ids: set[int] = set(conf.ids)
        by_source = dict.fromkeys(ID_SOURCES, 0)
        by_source["configured"] = len(conf.ids)
        if self.ids_file is not None:
            file_ids = self.ids_file.current()
            by_source["file"] = len(file_ids)
            ids |= file_ids
        event_ids = set(session.event_conference_ids) if conf.from_events else set()
        by_source["events"] = len(event_ids)
        ids |= event_ids
        if conf.discover:
            try:
                discovered = await self.client.queryAllConfIds(deadline)
            except GatewayError as error:
                result.failed_requests += 1
                self._discovery_failed(error)
            else:
                succeeded += 1
                self._discovery_ok()
                by_source["discovered"] = len(discovered)
                ids.update(discovered)
        result.ids_by_source = by_source
        result.requested = len(ids)
        if ids:
            answer = await self.client.queryConfInfos(
                sorted(ids), deadline, self.config.max_concurrency
            )
            result.conferences = answer.conferences
            result.skipped_entries = answer.skipped_entries
            result.failed_requests += len(answer.failed)
            succeeded += answer.calls - len(answer.failed)
            if event_ids:
                failed_ids = {i for batch in answer.failed for i in batch.ids}
                found = {c.conf_id for c in answer.conferences}
                session.forget_conferences(event_ids - found - failed_ids)
            if answer.failed:
                first = answer.failed[0].error
                result.error = f"{len(answer.failed)} batch(es) failed, first: {first.label}"
        result.signed_in = session.signed_in
        # With nothing to ask, the live session is the proof the gateway is reachable.
        result.up = session.signed_in and (succeeded > 0 or result.failed_requests == 0)
        cap = conf.max_conferences if conf.per_conference_metrics else 0
        detailed = sorted(result.conferences, key=_conf_id)
        result.truncated = max(0, len(detailed) - cap)
        result.detailed = detailed[:cap]

    def _discovery_failed(self, error: GatewayError) -> None:
        """Counted every time; logged once per distinct failure so logs stay quiet."""
        self.discovery_failures += 1
        if isinstance(error, RetcodeError) and error.needs_sign_in:
            return  # the session's trouble, and the session logs it
        if error.label != self._discovery_error:
            self._discovery_error = error.label
            log.warning(
                "conference discovery failed; using the other ID sources",
                extra=kv(gateway=self.name, error=error.detail),
            )

    def _discovery_ok(self) -> None:
        if self._discovery_error is not None:
            log.info("conference discovery works again", extra=kv(gateway=self.name))
            self._discovery_error = None


def _conf_id(conference: Conference) -> int:
    return conference.conf_id
