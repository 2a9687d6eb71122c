"""One collection of one gateway: IDs -> batches of 20 -> conferences, within a deadline.

Nothing here runs between scrapes: a collection starts when Prometheus asks and ends before its
scrape timeout, with whatever the gateway managed to answer by then. Scrapes that arrive while a
collection of the same gateway is in flight share it, so two (or ten) Prometheus replicas cost
the gateway one set of calls when their scrapes meet; `share_window` lets a scrape take the
collection that ended less than that long ago (HA pairs scrape at their own offsets).

Telling the truth when things fail (issue 13):
- A collection is *complete* when every ID source and every batch answered; `ccgw_up` is 1 for
  a partial one too (the gateway is reachable and the session valid), and
  `ccgw_collection_complete` says which it was.
- A failed batch is retried once while time remains. A conference whose batch still failed (or
  was not asked, or the gateway could not be reached) keeps its last known series for
  `conferences.keep_stale_for`, counted in `ccgw_conferences_stale` with its age, so counts,
  per-conference series and alerts do not flap. A conference is gone only when an answered batch
  that asked for its ID no longer has it; the IDs of known conferences are asked again every
  collection, also when discovery fails, so that is decided by the gateway, never by a gap.
- An account that may not discover (`101-004`, not a quality inspector) is detected, logged
  once, and not asked again for `DISCOVERY_RECHECK`; the collection stays up on its own calls.

Deadlines (issue 12, item 7): scrapes sharing a collection share its deadline as the latest of
theirs, so a scrape with a tiny timeout cannot shorten another's collection; workers stop
asking at the deadline instead of walking every remaining batch; `max_ids` caps the IDs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import operator
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .activity import ConferenceActivity
from .gateway.client import ClientSettings, ConferenceQuery, GatewayClient
from .gateway.errors import GatewayError, RetcodeError, TransportError
from .gateway.models import Conference
from .gateway.session import AccountInfo, Session, SessionSettings
from .gateway.stats import CallStats
from .gateway.tls import TLSSettings, build_ssl_context
from .gateway.vendor import NON_INSPECTOR, SIGN_IN_CALLS
from .idsource import IdsFile
from .logs import kv

if TYPE_CHECKING:
    from .config import GatewayConfig

log = logging.getLogger(__name__)

# Sources of conference IDs, in the order of `ccgw_conference_ids`.
ID_SOURCES = ("discovered", "configured", "file", "events")
# Prometheus's scrape-timeout header minus this is the collection's budget: time to render and
# send the answer (blackbox_exporter uses the same idea).
SCRAPE_TIMEOUT_OFFSET = 0.5
MIN_TIMEOUT = 0.1
# An account found not to be an inspector is asked again this much later (its role may be
# changed by an administrator); until then discovery is not called.
DISCOVERY_RECHECK = 1800.0


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One step of a collection, for `/probe?debug=true` and the landing page."""

    at: float  # seconds since the collection started
    step: str  # "session", "discovery", "batch", "served"
    outcome: str  # retcode, error reason, or a short text
    detail: str = ""
    seconds: float = 0.0


@dataclass(slots=True)
class Collection:
    """The result of one collection, everything the exposition needs and nothing else."""

    gateway: str
    timeout: float
    up: bool = False
    complete: bool = False
    signed_in: bool = False
    duration: float = 0.0
    failed_requests: int = 0
    requested: int = 0
    # Conferences served: fresh from this collection plus stale ones kept from earlier.
    conferences: list[Conference] = field(default_factory=list)
    # Conferences exported per conference (sorted by ID, capped); `conferences` holds them all.
    detailed: list[Conference] = field(default_factory=list)
    truncated: int = 0
    ids_by_source: dict[str, int] = field(default_factory=dict)
    ids_dropped: int = 0
    skipped_entries: int = 0
    stale: int = 0
    stale_age: float = 0.0
    error: str | None = None
    finished_at: float = 0.0  # wall clock, for the landing page
    # Seconds since this collection ended, when a scrape was answered with an earlier one
    # (`share_window`); 0 for a collection made for the scrape.
    age: float = 0.0
    agent_id: str = ""
    account: AccountInfo = field(default_factory=AccountInfo)
    trace: list[TraceEntry] = field(default_factory=list)


def scrape_timeout(configured: float, header: str | None) -> float:
    """min(configured timeout, X-Prometheus-Scrape-Timeout-Seconds - 0.5 s), at least 0.1 s."""
    timeout = configured
    if header:
        try:
            offered = float(header) - SCRAPE_TIMEOUT_OFFSET
        except ValueError:
            offered = configured
        if offered == offered:  # not NaN
            timeout = min(timeout, offered)
    return max(MIN_TIMEOUT, timeout)


class _Deadline:
    """A collection's deadline: the latest of its scrapes', never beyond the gateway's own
    timeout from the start (so a flood of scrapes cannot keep one collection alive)."""

    def __init__(self, at: float, cap: float) -> None:
        self.at = at
        self.cap = cap

    def extend(self, at: float) -> None:
        self.at = max(self.at, min(at, self.cap))

    def __call__(self) -> float:
        return self.at


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
        participants = config.participants
        self.client = GatewayClient(
            ClientSettings(
                base_url=config.url,
                agent_id=config.agent_id,
                ssl=ssl_context,
                server_name=tls.server_name,
                max_connections=config.max_concurrency,
                participants=participants.metrics,
                max_participants=participants.max_per_conference,
                max_response_size=config.max_response_size,
                sign_in_status=config.sign_in_status,
                wire=True,
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
                force_sign_in=config.force_sign_in,
                phone_number=config.phone_number,
                poll_events=True,
                call_timeout=config.timeout,
            ),
            self.client,
        )
        conferences = config.conferences
        self.ids_file = IdsFile(conferences.ids_file, config.name) if conferences.ids_file else None
        self.activity = ConferenceActivity()
        self.last: Collection | None = None
        self.discovery_failures = 0
        self._discovery_error: str | None = None
        self._discovery_paused_until = 0.0
        # Every conference seen and not yet ended, with the loop time of the last answer that
        # had it (a tuple, not an object: 10,000 of them are rewritten every collection).
        self._known: dict[int, tuple[Conference, float]] = {}
        self._in_flight: asyncio.Future[Collection] | None = None
        self._deadline: _Deadline | None = None
        self._last_done = 0.0  # loop time at which `last` ended

    @property
    def methods(self) -> tuple[str, ...]:
        """Vendor methods this gateway calls: their counters are zero-filled."""
        config = self.config
        sign_in = SIGN_IN_CALLS[config.sign_in].method
        forced = SIGN_IN_CALLS[config.force_sign_in].method
        methods = [sign_in, "getAgentEvent", "queryConfInfos"]
        if forced != sign_in:
            methods.append(forced)
        if config.conferences.discover:
            methods.append("queryAllConfIds")
        return tuple(methods)

    @property
    def sign_in_method(self) -> str:
        return SIGN_IN_CALLS[self.config.sign_in].method

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.session.start()

    async def stop(self) -> None:
        """Stop a collection still running (a scrape cut at shutdown, a gateway removed by a
        reload) before the session closes the client under it, then sign out."""
        collection = self._in_flight
        if collection is not None and not collection.done():
            collection.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await collection
        await self.session.stop()

    # -- collection ----------------------------------------------------------------------------

    async def collect(self, timeout: float) -> Collection:
        """A collection within `timeout` seconds, shared with scrapes already waiting for one."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        future = self._in_flight
        if future is None or future.done():
            last, age = self.last, now - self._last_done
            if last is not None and age < self.config.share_window:
                return _copy(last, age=age)
            self._deadline = _Deadline(now + timeout, now + self.config.timeout)
            future = self._in_flight = loop.create_task(
                self._collect(timeout, self._deadline), name=f"ccgw-collect-{self.name}"
            )
        elif self._deadline is not None:
            # Joining a collection in flight: it runs until the latest of its scrapes' deadlines.
            self._deadline.extend(now + timeout)
        try:
            # Each scrape waits at most its own budget (plus a little: the collection itself
            # stops at its deadline).
            return await asyncio.wait_for(asyncio.shield(future), timeout + 0.25)
        except asyncio.TimeoutError:
            return self._still_running(timeout)

    def _still_running(self, timeout: float) -> Collection:
        """A scrape whose budget ended before the shared collection: the last collection's
        conferences, served as stale, rather than nothing."""
        result = Collection(self.name, timeout, signed_in=self.session.signed_in)
        result.failed_requests = 1
        result.duration = timeout
        result.error = "collection still running at the deadline"
        result.agent_id = self.config.agent_id
        result.account = _account(self.session)
        now = asyncio.get_running_loop().time()
        self._serve_stale(result, self._known, now)
        self._detail(result)
        return result

    async def _collect(self, timeout: float, deadline: _Deadline) -> Collection:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        result = Collection(self.name, timeout, agent_id=self.config.agent_id)
        try:
            await self._collect_into(result, deadline, started)
        except Exception as exc:  # a bug must cost one scrape's data, never the scrape
            log.exception("collection failed", extra=kv(gateway=self.name))
            result.up = False
            result.complete = False
            result.failed_requests += 1
            result.error = f"internal error: {type(exc).__name__}"
        result.duration = time.perf_counter() - started
        result.finished_at = time.time()
        result.account = _account(self.session)
        self.last = result
        self._last_done = loop.time()
        return result

    def _trace(
        self, result: Collection, started: float, step: str, outcome: str, detail: str = "",
        seconds: float = 0.0,
    ) -> None:  # fmt: skip
        result.trace.append(
            TraceEntry(time.perf_counter() - started, step, outcome, detail, seconds)
        )

    async def _collect_into(self, result: Collection, deadline: _Deadline, started: float) -> None:
        loop = asyncio.get_running_loop()
        conf = self.config.conferences
        session = self.session
        t0 = time.perf_counter()
        signed_in = await session.ensure_signed_in(deadline(), now=True)
        self._trace(
            result, started, "session", session.state, session.last_error or "",
            time.perf_counter() - t0,
        )  # fmt: skip
        if not signed_in:
            result.failed_requests += 1
            result.error = session.last_error or "not signed in"
            self._serve_stale(result, self._known, loop.time())
            self._detail(result)
            return
        succeeded = 0
        complete = True
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
        discovery_note: str | None = None
        if conf.discover and self.session.info.role == "agent":
            discovery_note = "discovery unavailable: not a quality inspector (101-004)"
        if conf.discover and loop.time() >= self._discovery_paused_until:
            t0 = time.perf_counter()
            try:
                discovered = await self.client.queryAllConfIds(deadline())
            except GatewayError as error:
                self._trace(result, started, "discovery", error.label, error.detail,
                            time.perf_counter() - t0)  # fmt: skip
                if self._not_an_inspector(error):
                    discovery_note = "discovery unavailable: not a quality inspector (101-004)"
                else:
                    result.failed_requests += 1
                    complete = False
                    self._discovery_failed(error)
                    discovery_note = f"discovery failed: {_reason(error)}"
            else:
                self._trace(result, started, "discovery", "0", f"{len(discovered)} IDs",
                            time.perf_counter() - t0)  # fmt: skip
                succeeded += 1
                session.discovery_answered("0")
                self._discovery_ok()
                by_source["discovered"] = len(discovered)
                ids.update(discovered)
        result.ids_by_source = by_source
        # Known conferences are asked again, whatever the sources say now: only an answer may
        # end them (a failed discovery, a shortened ids_file or a lost event are not answers).
        ids.update(self._known)
        ordered = sorted(ids)
        cap = self.config.max_ids
        if len(ordered) > cap:
            result.ids_dropped = len(ordered) - cap
            ordered = ordered[:cap]
            complete = False
        result.requested = len(ordered)
        fresh: list[Conference] = []
        fresh_ids: list[int] = []
        gone: list[int] = []
        found: set[int] = set()
        if ordered:
            answer = await self.client.queryConfInfos(
                ordered,
                deadline(),
                self.config.max_concurrency,
                retry_failed=True,
                deadline_of=deadline,
            )
            self._trace_batches(result, started, answer)
            fresh = answer.conferences
            result.skipped_entries = answer.skipped_entries
            result.failed_requests += len(answer.failed)
            succeeded += answer.succeeded
            fresh_ids = list(map(_CONF_ID, fresh))
            found = set(fresh_ids)
            gone = [i for i in answer.answered if i not in found]
            if answer.failed or answer.unasked:
                complete = False
            if event_ids:
                session.forget_conferences(event_ids & set(gone))
            problems = [discovery_note] if discovery_note else []
            if answer.failed:
                first = answer.failed[0].error
                problems.append(f"{len(answer.failed)} batch(es) failed, first: {_reason(first)}")
            if answer.unasked:
                problems.append(f"{len(answer.unasked)} IDs not asked before the deadline")
            if problems:
                result.error = "; ".join(problems)
        elif discovery_note:
            result.error = discovery_note
        now = loop.time()
        known = self._known
        known.update(zip(fresh_ids, zip(fresh, itertools.repeat(now)), strict=False))
        for conf_id in gone:
            known.pop(conf_id, None)
        self.activity.update(fresh, gone, complete=complete)
        result.conferences = list(fresh)
        # Known and not in this answer: in a failed or unasked batch, or beyond max_ids.
        if len(known) > len(found):
            self._serve_stale(result, [i for i in known if i not in found], now)
        result.signed_in = session.signed_in
        # With nothing to ask, the live session is the proof the gateway is reachable.
        result.up = session.signed_in and (succeeded > 0 or result.failed_requests == 0)
        result.complete = result.up and complete
        self._detail(result)

    def _trace_batches(self, result: Collection, started: float, answer: ConferenceQuery) -> None:
        for failed in answer.failed[:20]:
            error = failed.error
            status = ""
            if isinstance(error, TransportError) and error.status is not None:
                status = f"HTTP {error.status}"
            self._trace(result, started, "batch", error.label,
                        f"{len(failed.ids)} IDs failed {status}".strip())  # fmt: skip
        self._trace(
            result, started, "batches", f"{answer.calls} calls",
            f"{len(answer.answered)} IDs answered, {len(answer.conferences)} conferences, "
            f"{sum(len(f.ids) for f in answer.failed)} IDs failed, "
            f"{len(answer.unasked)} not asked",
        )  # fmt: skip

    def _serve_stale(self, result: Collection, candidates: Iterable[int], now: float) -> None:
        """Add the known conferences among `candidates` seen less than `keep_stale_for` ago."""
        keep = self.config.conferences.keep_stale_for
        if keep <= 0:
            return
        oldest = 0.0
        stale = 0
        for conf_id in sorted(candidates):
            entry = self._known.get(conf_id)
            if entry is None:
                continue
            conference, seen_at = entry
            age = now - seen_at
            if age > keep:
                continue
            result.conferences.append(conference)
            stale += 1
            oldest = max(oldest, age)
        result.stale = stale
        result.stale_age = oldest

    def _detail(self, result: Collection) -> None:
        conf = self.config.conferences
        cap = conf.max_conferences if conf.per_conference_metrics else 0
        detailed = sorted(result.conferences, key=_CONF_ID)
        result.truncated = max(0, len(detailed) - cap)
        result.detailed = detailed[:cap]

    def _not_an_inspector(self, error: GatewayError) -> bool:
        """101-004 on discovery: the account is an ordinary agent. Logged once; discovery
        rests for DISCOVERY_RECHECK, and the collection goes on with the other sources."""
        if not (isinstance(error, RetcodeError) and error.retcode == NON_INSPECTOR):
            return False
        first = self.session.info.role != "agent"
        self.session.discovery_answered(NON_INSPECTOR)
        self._discovery_paused_until = asyncio.get_running_loop().time() + DISCOVERY_RECHECK
        if first:
            log.warning(
                "the account is not a quality inspector (101-004): it cannot discover the "
                "VDN's conferences and sees only its own; set conferences.discover: false "
                "or sign in with an inspector account",
                extra=kv(gateway=self.name, agent=self.config.agent_id),
            )
        return True

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


def _reason(error: GatewayError) -> str:
    """A failure for the landing page: the retcode or reason, and the HTTP status if any."""
    if isinstance(error, TransportError) and error.status is not None:
        return f"{error.label} (HTTP {error.status})"
    if isinstance(error, RetcodeError) and error.message:
        return f"{error.label} ({error.message[:80]})"
    return error.label


def _account(session: Session) -> AccountInfo:
    info = session.info
    return AccountInfo(info.vdn, info.node, info.role)


def _copy(last: Collection, *, age: float) -> Collection:
    """A copy of an earlier collection served again (`share_window`): the body of the scrape
    that made it must not be shared, as it carries that moment's exporter metrics."""
    import dataclasses

    return dataclasses.replace(last, age=age)


_CONF_ID = operator.attrgetter("conf_id")
