"""The CC-Gateway HTTP API, one method per vendor call, named as the gateway logs them.

Each call takes an absolute deadline (event-loop time), reports what happened to a `CallStats`
(method, retcode or error reason, duration) and raises only `RetcodeError` or
`TransportError`. Every answer passes the boundary (`boundary.py`) before anything reads it:
no redirect is followed, size is capped before and after decompression, the charset is the
declared one, retcodes and strings are made safe. The client also owns the per-session
transport state the vendor requires: the newest Guid from any `Set-GUID` header, and a cookie
jar that keeps cookies from gateways addressed by IP (load-balancer stickiness), bounded.

Signing in again is not the client's business: on a session retcode it asks its `reauth` (the
session) whether a retry makes sense, and retries once if so.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import multiprocessing
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import Morsel
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from ..logs import SECRETS, redact
from . import boundary, fastpath
from .boundary import TooLarge, Undecodable, safe_text
from .errors import DecodeError, ErrorReason, RetcodeError, TransportError
from .models import (
    Conference,
    ConferencePage,
    Envelope,
    envelope_from,
    parse_conference_ids,
    parse_conferences,
)
from .stats import CallStats
from .vendor import SIGN_IN_CALLS, SignInStatus, SignInVariant, sign_in_body
from .wire import WirePool

API_PREFIX = "/agentgateway/resource/"
MAX_IDS_PER_CALL = 20  # cec_07_0485: confIds, at most 20 per request
# Kept for callers that map a variant to its log name.
SIGN_IN_METHODS: dict[SignInVariant, tuple[str, str]] = {
    variant: (call.method, call.suffix) for variant, call in SIGN_IN_CALLS.items()
}
_REQUEST_HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    # Decompressed by the boundary in bounded steps, not by aiohttp (see boundary.read_capped).
    "Accept-Encoding": "gzip, deflate",
}
# Answers larger than this are decoded in a helper process, so that the event loop (and with
# it /-/healthy and every other scrape) never waits on a long JSON parse.
OFFLOAD_BYTES = 2 * 1024 * 1024
MAX_COOKIES = 32
T = TypeVar("T")


class ReAuth(Protocol):
    """Decides, after a session retcode, whether the failed call may be retried."""

    async def recover(self, error: RetcodeError, guid_used: str | None, deadline: float) -> bool:
        """True once a usable Guid is in place (newer, or from a fresh sign-in)."""
        ...


@dataclass(frozen=True, slots=True)
class ClientSettings:
    base_url: str
    agent_id: str
    ssl: ssl.SSLContext | bool = True
    server_name: str = ""
    max_connections: int = 8
    user_agent: str = "ccgw-exporter"
    # Build `Participant` objects (per-participant series); the counts are complete without.
    participants: bool = True
    # Participant objects kept per conference (per-participant series); counts stay complete.
    max_participants: int = 500
    max_response_size: int = boundary.DEFAULT_MAX_RESPONSE_SIZE
    sign_in_status: SignInStatus = "busy"
    # queryconfinfos over the lean HTTP/1.1 exchange (wire.py) instead of aiohttp's client:
    # half the CPU per call (issue 18). Off by default for clients tests drive through
    # aiohttp mocks; the collector turns it on.
    wire: bool = False


@dataclass(slots=True)
class FailedBatch:
    ids: list[int]
    error: RetcodeError | TransportError


@dataclass(slots=True)
class ConferenceQuery:
    """The merged answer of `queryConfInfos` over all batches.

    `answered` holds the IDs of the batches that were answered: a conference asked for there
    and absent from `conferences` is gone. `unasked` the IDs the deadline left unasked.
    """

    conferences: list[Conference] = field(default_factory=list)
    failed: list[FailedBatch] = field(default_factory=list)
    calls: int = 0
    skipped_entries: int = 0
    answered: list[int] = field(default_factory=list)
    unasked: list[int] = field(default_factory=list)
    succeeded: int = 0  # batches answered (a retried batch counts once)


@dataclass(frozen=True, slots=True)
class HeldSession:
    """A Guid and the balancer's sticky cookies, to go back to (see `GatewayClient.hold`)."""

    guid: str | None
    cookies: dict[str, Morsel[str]]
    epoch: int


@dataclass(frozen=True, slots=True)
class SignInAnswer:
    """What a successful sign-in says about the account (`result`, cec_07_1224)."""

    vdn: str = ""
    workno: str = ""


@dataclass(slots=True)
class EventAnswer:
    event: object  # the raw `event` object; events.interpret reads it


class BoundedCookieJar(aiohttp.CookieJar):
    """Keeps the balancer's sticky cookies (also for IP hosts) but at most `MAX_COOKIES`: a
    peer setting new cookies on every answer must not grow the jar without bound."""

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        headers = list(headers)[:MAX_COOKIES]
        super().update_cookies_from_headers(headers, response_url)
        if len(self) > MAX_COOKIES:
            self.clear()
            super().update_cookies_from_headers(headers, response_url)


_pool: concurrent.futures.ProcessPoolExecutor | None = None


def _decoder_pool() -> concurrent.futures.ProcessPoolExecutor:
    """One helper process, started on first need (most gateways never send a large answer)."""
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("forkserver")
        )
        # Shut down before the interpreter tears the modules down (else a warning at exit).
        atexit.register(shutdown_decoder_pool)
    return _pool


def shutdown_decoder_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def _decode_envelope(payload: bytes, charset: str | None) -> Envelope:
    try:
        data = boundary.decode_json(payload, charset)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"body is not JSON ({len(payload)} bytes)") from exc
    except Undecodable as exc:
        raise DecodeError(str(exc)) from None
    return envelope_from(data)


def _decode_conferences(
    payload: bytes,
    charset: str | None,
    participants: bool,
    max_participants: int,
    cache: fastpath.AddressCache | None = None,
) -> tuple[Envelope, ConferencePage | None]:
    """The envelope and, on success, the parsed page: by the typed fast path when the answer
    is exactly the vendor's (fastpath.py), else by the lenient parser. Also run in the helper
    process for large answers (no raw JSON travels back, only the small parsed objects; no
    cache there, it lives in this process)."""
    fast = fastpath.decode_page(payload, charset, participants, max_participants, cache)
    if fast is not None:
        return fast
    envelope = _decode_envelope(payload, charset)
    if not envelope.ok:
        return Envelope(envelope.retcode, envelope.message), None
    page = parse_conferences(
        envelope.result, participants=participants, max_participants=max_participants
    )
    return Envelope(envelope.retcode, envelope.message), page


class GatewayClient:
    """One agent's HTTP conversation with one gateway (or its load balancer)."""

    def __init__(
        self,
        settings: ClientSettings,
        stats: CallStats | None = None,
        *,
        on_guid_renewed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = stats if stats is not None else CallStats()
        self.reauth: ReAuth | None = None
        self._on_guid_renewed = on_guid_renewed
        self._guid: str | None = None
        # Bumped at each sign-in so a late answer from the previous session (a long poll that
        # was in flight) cannot put its dead Guid back.
        self._epoch = 0
        self._http: aiohttp.ClientSession | None = None
        self._wire: WirePool | None = None
        # Participants as last decoded per conference (fastpath.AddressCache, issue 18).
        self.addresses = fastpath.AddressCache()
        self._base = settings.base_url.rstrip("/") + API_PREFIX
        self._agent = settings.agent_id

    # -- state ---------------------------------------------------------------------------------

    @property
    def guid(self) -> str | None:
        return self._guid

    def forget_session(self) -> None:
        """Drop the Guid and the cookies: the next sign-in starts a new sticky session."""
        self._guid = None
        self._epoch += 1
        if self._http is not None:
            self._http.cookie_jar.clear()

    def hold(self) -> HeldSession:
        """The current Guid and sticky cookies, kept aside before a sign-in replaces them."""
        cookies = self._http.cookie_jar.filter_cookies(URL(self._base)) if self._http else None
        return HeldSession(self._guid, dict(cookies or {}), self._epoch)

    def take_back(self, held: HeldSession) -> None:
        """Return to a held session: a sign-in found the agent still signed in with it.

        Its epoch comes back too, so that an event poll of that session still in flight may
        deliver the newer Guid it carries (the held one may be the very Guid that expired).
        """
        self._guid = held.guid
        self._epoch = held.epoch
        if held.cookies:
            self._http_session().cookie_jar.update_cookies(held.cookies, URL(self._base))

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(
                limit=self.settings.max_connections + 2,  # +2: the long poll and a sign-in
                ssl=self.settings.ssl,
                keepalive_timeout=30,
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                # unsafe=True: keep cookies from hosts given as IP addresses (NSLB stickiness).
                cookie_jar=BoundedCookieJar(unsafe=True),
                headers={"User-Agent": self.settings.user_agent},
                json_serialize=json.dumps,
                auto_decompress=False,
            )
        return self._http

    def _wire_pool(self) -> WirePool:
        """The lean exchange's connections; it shares the session's cookie jar."""
        http = self._http_session()
        if self._wire is None or self._wire.jar is not http.cookie_jar:
            if self._wire is not None:
                self._wire.close()
            self._wire = WirePool(
                self.settings.base_url,
                self.settings.ssl,
                size=self.settings.max_connections,
                cookie_jar=http.cookie_jar,
                user_agent=self.settings.user_agent,
                limit=self.settings.max_response_size,
            )
        return self._wire

    async def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- transport -----------------------------------------------------------------------------

    async def _exchange(
        self,
        method: str,
        http_method: str,
        path: str,
        *,
        deadline: float,
        body: Any,
        auth: bool,
        limit: int,
        started: float,
        wire: bool = False,
    ) -> tuple[bytes, str | None]:
        """One HTTP exchange through the boundary: the capped, decompressed body and its
        declared charset, or a classified TransportError. `wire`: over the lean exchange
        (wire.py), which takes aiohttp's arguments and gives its response's attributes."""
        loop = asyncio.get_running_loop()
        epoch = self._epoch
        remaining = deadline - loop.time()
        headers = dict(_REQUEST_HEADERS)
        if auth and self._guid:
            headers["Guid"] = self._guid
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            requester = self._wire_pool() if wire else self._http_session()
            async with requester.request(
                http_method,
                self._base + path,
                data=body if body is None or isinstance(body, bytes) else json.dumps(body),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=remaining),
                server_hostname=self.settings.server_name or None,
                # Never follow a redirect: it would carry the sign-in body (the password) or
                # the Guid header to whatever host `Location` names (issue 12, item 1).
                allow_redirects=False,
            ) as response:
                status = response.status
                if status != 200:
                    response.close()  # not read: the connection is not reused
                    raise self._fail(method, "http_status", f"HTTP {status}", started, status)
                raw_guid = response.headers.get("Set-GUID")
                if raw_guid is not None and epoch == self._epoch:
                    self._take_guid(method, raw_guid)
                declared = response.content_length
                if declared is not None and declared > limit:
                    response.close()
                    raise TooLarge(limit, "declared")
                encoding = response.headers.get("Content-Encoding", "").strip().lower()
                try:
                    payload = await boundary.read_capped(response.content, encoding, limit)
                except (TooLarge, Undecodable):
                    response.close()  # the rest is never read; drop the connection
                    raise
                charset = response.charset
        except TransportError:
            raise
        except TooLarge as exc:
            raise self._fail(method, "too_large", str(exc), started) from None
        except Undecodable as exc:
            raise self._fail(method, "decode", str(exc), started) from None
        except asyncio.TimeoutError:
            raise self._fail(
                method, "timeout", f"no answer within {max(remaining, 0):.3g}s", started
            ) from None
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
            raise self._fail(method, "tls", _describe(exc), started) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: aiohttp refusing a header value; nothing of ours is worth a crash.
            raise self._fail(method, "connect", _describe(exc), started) from None
        return payload, charset

    async def _call(
        self,
        method: str,
        http_method: str,
        path: str,
        *,
        deadline: float,
        body: Any = None,
        auth: bool = True,
        parse: Callable[[Envelope], T] | None = None,
        fast: Callable[[bytes, str | None], tuple[Envelope, T] | None] | None = None,
        limit: int = boundary.SMALL_ANSWER_CAP,
    ) -> Any:
        """One call, classified and recorded once.

        Returns the envelope (retcode "0"), or what `parse` makes of it: a result that cannot
        be parsed is recorded as a `decode` error, not as a successful answer. `fast`: a typed
        fast path (fastpath.py) for envelope and parsed result together, tried first; None
        from it means the lenient `_decode` and `parse`.
        """
        started = time.perf_counter()
        payload, charset = await self._exchange(
            method,
            http_method,
            path,
            deadline=deadline,
            body=body,
            auth=auth,
            limit=limit,
            started=started,
        )
        quick = (
            fast(payload, charset) if fast is not None and len(payload) <= OFFLOAD_BYTES else None
        )
        if quick is not None:
            return self._answered(method, quick[0], quick[1], started)
        try:
            envelope = await self._decode(payload, charset)
            parsed = parse(envelope) if parse is not None and envelope.ok else envelope
        except DecodeError as exc:
            raise self._fail(method, "decode", str(exc), started) from None
        return self._answered(method, envelope, parsed, started)

    def _answered(self, method: str, envelope: Envelope, parsed: Any, started: float) -> Any:
        self.stats.observe(
            method, envelope.retcode, error=False, seconds=time.perf_counter() - started
        )
        if not envelope.ok:
            raise RetcodeError(method, envelope.retcode, redact(envelope.message))
        return parsed

    @staticmethod
    async def _decode(payload: bytes, charset: str | None) -> Envelope:
        if len(payload) <= OFFLOAD_BYTES:
            return _decode_envelope(payload, charset)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_decoder_pool(), _decode_envelope, payload, charset)

    def _fail(
        self,
        method: str,
        reason: ErrorReason,
        detail: str,
        started: float,
        status: int | None = None,
    ) -> TransportError:
        self.stats.observe(method, reason, error=True, seconds=time.perf_counter() - started)
        # Redacted before it is cut short: a cut would leave the start of an echoed password.
        return TransportError(method, reason, safe_text(redact(detail)), status)

    def _take_guid(self, method: str, header: str) -> None:
        guid = boundary.parse_set_guid(header)
        if guid is None:
            # Not a Guid the vendor would send (control characters, spaces, too long): never
            # stored, never sent back in a header.
            self.stats.guid_rejected(method)
            return
        if guid == self._guid:
            return
        SECRETS.guid(guid)
        renewed = self._guid is not None
        self._guid = guid
        if renewed:
            self.stats.guid_renewed()
            if self._on_guid_renewed is not None:
                self._on_guid_renewed(guid)

    async def _authed(self, deadline: float, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`; after a session retcode let the session heal, then retry once."""
        guid_used = self._guid
        try:
            return await call()
        except RetcodeError as error:
            if not error.needs_sign_in or self.reauth is None:
                raise
            if not await self.reauth.recover(error, guid_used, deadline):
                raise
        return await call()

    # -- sign-in and sign-out ------------------------------------------------------------------

    async def sign_in(
        self, variant: SignInVariant, password: str, phone_number: str, deadline: float
    ) -> SignInAnswer:
        """`PUT onlineagent/{agentid}[/loginex|/forcelogin|/forceloginex]` with the vendor's
        body (vendor.sign_in_body); the Guid comes in `Set-GUID` (cec_05_4015)."""
        call = SIGN_IN_CALLS[variant]
        SECRETS.password(password)
        body = sign_in_body(variant, password, phone_number, self.settings.sign_in_status)
        self.forget_session()
        envelope: Envelope = await self._call(
            call.method,
            "PUT",
            f"onlineagent/{self._agent}{call.suffix}",
            deadline=deadline,
            body=body,
            auth=False,
        )
        if self._guid is None:
            raise TransportError(
                call.method, "decode", "sign-in answer carried no usable Set-GUID header"
            )
        result = envelope.result if isinstance(envelope.result, dict) else {}
        return SignInAnswer(
            vdn=boundary.label_text(result.get("vdnid"), 32),
            workno=boundary.label_text(result.get("workno"), 32),
        )

    async def login(self, password: str, phone_number: str, deadline: float) -> SignInAnswer:
        return await self.sign_in("login", password, phone_number, deadline)

    async def forceLogin(self, password: str, phone_number: str, deadline: float) -> SignInAnswer:
        return await self.sign_in("forcelogin", password, phone_number, deadline)

    async def loginEx(self, password: str, phone_number: str, deadline: float) -> SignInAnswer:
        return await self.sign_in("loginex", password, phone_number, deadline)

    async def forceLoginEx(self, password: str, phone_number: str, deadline: float) -> SignInAnswer:
        return await self.sign_in("forceloginex", password, phone_number, deadline)

    async def logout(self, deadline: float) -> None:
        """`DELETE onlineagent/{agentid}/logout`, Guid header (cec_07_1219)."""
        await self._call("logout", "DELETE", f"onlineagent/{self._agent}/logout", deadline=deadline)
        self.forget_session()

    async def forceLogout(self, deadline: float) -> None:
        """`DELETE onlineagent/{agentid}/forcelogout`; the Guid is mandatory (cec_07_0353)."""
        await self._call(
            "forceLogout", "DELETE", f"onlineagent/{self._agent}/forcelogout", deadline=deadline
        )
        self.forget_session()

    async def updateGuid(self, deadline: float) -> str | None:
        envelope = await self._call(
            "updateGuid", "PUT", f"onlineagent/{self._agent}/updateGuid", deadline=deadline
        )
        result = envelope.result
        guid = result.get("guid") if isinstance(result, dict) else None
        if isinstance(guid, str) and guid:
            self._take_guid("updateGuid", guid)
        return self._guid

    # -- the session's heartbeat ---------------------------------------------------------------

    async def getAgentEvent(self, deadline: float) -> EventAnswer:
        """The long poll: answers at once with an event, or after ~10 s with none
        (cec_07_1274)."""
        envelope = await self._call(
            "getAgentEvent", "GET", f"agentevent/{self._agent}", deadline=deadline
        )
        return EventAnswer(envelope.event)

    # -- conferences ---------------------------------------------------------------------------

    async def queryAllConfIds(self, deadline: float) -> list[int]:
        """`queryvdnconfid`: every ongoing conference of the VDN (inspectors only,
        cec_07_0486)."""

        async def call() -> list[int]:
            ids: list[int] = await self._call(
                "queryAllConfIds",
                "GET",
                f"agentconf/{self._agent}/queryvdnconfid",
                deadline=deadline,
                parse=lambda envelope: parse_conference_ids(envelope.result),
                fast=fastpath.decode_ids,
                limit=self.settings.max_response_size,
            )
            return ids

        return await self._authed(deadline, call)

    async def _query_page(self, body: bytes, deadline: float) -> ConferencePage:
        method = "queryConfInfos"
        started = time.perf_counter()
        payload, charset = await self._exchange(
            method,
            "POST",
            f"agentconf/{self._agent}/queryconfinfos",
            deadline=deadline,
            body=body,
            auth=True,
            limit=self.settings.max_response_size,
            started=started,
            wire=self.settings.wire,
        )
        settings = self.settings
        try:
            if len(payload) <= OFFLOAD_BYTES:
                envelope, page = _decode_conferences(
                    payload,
                    charset,
                    settings.participants,
                    settings.max_participants,
                    self.addresses,
                )
            else:
                envelope, page = await asyncio.get_running_loop().run_in_executor(
                    _decoder_pool(),
                    _decode_conferences,
                    payload,
                    charset,
                    settings.participants,
                    settings.max_participants,
                )
        except DecodeError as exc:
            raise self._fail(method, "decode", str(exc), started) from None
        result: ConferencePage = self._answered(method, envelope, page, started)
        return result

    async def query_conf_batch(self, ids: Sequence[int], deadline: float) -> ConferenceQuery:
        """One `queryconfinfos` call of at most 20 IDs, with the session's one retry."""
        if not 0 < len(ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"a batch holds 1 to {MAX_IDS_PER_CALL} IDs, not {len(ids)}")
        # What json.dumps({"confIds": ids}) writes, built once per batch (the IDs are ints):
        # 500 calls per scrape at 10,000 conferences.
        body = ('{"confIds": [' + ", ".join(map(str, ids)) + "]}").encode()
        calls = 0

        async def call() -> ConferenceQuery:
            nonlocal calls
            calls += 1
            page = await self._query_page(body, deadline)
            return ConferenceQuery(page.conferences, [], calls, page.skipped, list(ids), [], 1)

        try:
            return await self._authed(deadline, call)
        except (RetcodeError, TransportError) as error:
            return ConferenceQuery([], [FailedBatch(list(ids), error)], calls)

    async def queryConfInfos(
        self,
        ids: Sequence[int],
        deadline: float,
        concurrency: int = 8,
        *,
        retry_failed: bool = False,
        deadline_of: Callable[[], float] | None = None,
    ) -> ConferenceQuery:
        """All of `ids`, in batches of 20 run `concurrency` at a time, merged.

        A failed batch is reported with its IDs; the other batches' conferences are kept.
        Workers pull batches from a shared iterator rather than one task per batch, so 500
        batches cost `concurrency` tasks, not 500, and they stop at the deadline: batches not
        started by then are reported as `unasked`, not as 45,000 timeouts. `retry_failed`
        asks each failed batch once more while time remains. `deadline_of`, when given, is
        read before each batch: a collection shared by several scrapes runs until the latest
        of their deadlines.
        """
        batches = [ids[i : i + MAX_IDS_PER_CALL] for i in range(0, len(ids), MAX_IDS_PER_CALL)]
        merged = ConferenceQuery()
        self.addresses.next_collection()
        loop = asyncio.get_running_loop()

        async def run(pending: list[Sequence[int]]) -> list[FailedBatch]:
            queue = iter(pending)
            failed: list[FailedBatch] = []
            # Unreachable: the first `concurrency` batches all failed without an answer. The
            # rest are not asked (they would fail alike: 500 connection errors per scrape).
            breaker = max(1, concurrency)

            async def worker() -> None:
                for batch in queue:
                    now_deadline = deadline_of() if deadline_of is not None else deadline
                    unreachable = (
                        merged.succeeded == 0
                        and sum(isinstance(f.error, TransportError) for f in failed) >= breaker
                    )
                    if loop.time() >= now_deadline or unreachable:
                        merged.unasked.extend(batch)
                        continue
                    part = await self.query_conf_batch(batch, now_deadline)
                    merged.conferences.extend(part.conferences)
                    failed.extend(part.failed)
                    merged.calls += part.calls
                    merged.skipped_entries += part.skipped_entries
                    merged.answered.extend(part.answered)
                    merged.succeeded += part.succeeded

            workers = max(1, min(concurrency, len(pending)))
            if pending:
                await asyncio.gather(*(worker() for _ in range(workers)))
            return failed

        try:
            failed = await run(batches)
            final = deadline_of() if deadline_of is not None else deadline
            reachable = merged.succeeded > 0 or any(
                isinstance(f.error, RetcodeError) for f in failed
            )
            if retry_failed and failed and reachable and loop.time() < final:
                # Only batches whose failure another try may cure: not a session the retry
                # inside query_conf_batch already healed or gave up on.
                again = [f for f in failed if not _session_failure(f.error)]
                kept = [f for f in failed if _session_failure(f.error)]
                failed = kept + await run([f.ids for f in again])
        finally:
            self.addresses.collection_done()
        merged.failed = failed
        return merged


def _session_failure(error: RetcodeError | TransportError) -> bool:
    return isinstance(error, RetcodeError) and error.needs_sign_in


def _describe(exc: BaseException) -> str:
    """A short cause, never what the peer sent: aiohttp's parse errors quote the offending
    bytes (a header line can carry a new Guid, or an echoed password) and the URL; only their
    first line is kept, without quoted bytes (issue 12, item 9)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        first = (exc.message or "").split("\n", 1)[0].strip().rstrip(":")
        text = f"{exc.status}, {_QUOTED.sub('...', first)}" if first else str(exc.status)
    else:
        text = _QUOTED.sub("...", str(exc).split("\n", 1)[0]) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


_QUOTED = re.compile(r"b?'[^']*'|b?\"[^\"]*\"")


__all__ = [
    "MAX_IDS_PER_CALL",
    "SIGN_IN_METHODS",
    "ClientSettings",
    "ConferenceQuery",
    "EventAnswer",
    "FailedBatch",
    "GatewayClient",
    "HeldSession",
    "ReAuth",
    "SignInAnswer",
    "TransportError",
]
