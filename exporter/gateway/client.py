"""The CC-Gateway HTTP API, one method per vendor call, named as the gateway logs them.

Each call takes an absolute deadline (event-loop time), reports what happened to a `CallStats`
(method, retcode or error reason, duration) and raises only `RetcodeError` or
`TransportError`. The client also owns the two pieces of per-session transport state the vendor
requires: the newest Guid from any `Set-GUID` header, and a cookie jar that keeps cookies from
gateways addressed by IP (load-balancer stickiness).

Signing in again is not the client's business: on an authentication retcode it asks its
`reauth` (the session) whether a retry makes sense, and retries once if so.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import Morsel
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
from yarl import URL

from .errors import DecodeError, RetcodeError, TransportError
from .models import (
    AgentEvent,
    Conference,
    ConferencePage,
    Envelope,
    parse_conference_ids,
    parse_conferences,
    parse_envelope,
)
from .stats import CallStats

API_PREFIX = "/agentgateway/resource/"
MAX_IDS_PER_CALL = 20
SignInVariant = Literal["loginex", "login", "forcelogin"]
SIGN_IN_METHODS: dict[SignInVariant, tuple[str, str]] = {
    # variant -> (vendor log name, path suffix)
    "login": ("login", ""),
    "forcelogin": ("forceLogin", "/forcelogin"),
    "loginex": ("loginEx", "/loginex"),
}
_JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
T = TypeVar("T")


class ReAuth(Protocol):
    """Decides, after an authentication retcode, whether the failed call may be retried."""

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


@dataclass(slots=True)
class FailedBatch:
    ids: list[int]
    error: RetcodeError | TransportError


@dataclass(slots=True)
class ConferenceQuery:
    """The merged answer of `queryConfInfos` over all batches."""

    conferences: list[Conference] = field(default_factory=list)
    failed: list[FailedBatch] = field(default_factory=list)
    calls: int = 0
    skipped_entries: int = 0


@dataclass(frozen=True, slots=True)
class HeldSession:
    """A Guid and the balancer's sticky cookies, to go back to (see `GatewayClient.hold`)."""

    guid: str | None
    cookies: dict[str, Morsel[str]]
    epoch: int


@dataclass(slots=True)
class EventAnswer:
    event: AgentEvent | None


def parse_set_guid(value: str) -> str | None:
    """`JSESSIONID=<guid>` (possibly with cookie attributes) or a bare Guid."""
    text = value.split(";", 1)[0].strip()
    if "=" in text:
        name, _, text = text.partition("=")
        if name.strip().upper() != "JSESSIONID":
            return None
    text = text.strip()
    return text or None


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
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                headers={"User-Agent": self.settings.user_agent},
                json_serialize=json.dumps,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- transport -----------------------------------------------------------------------------

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
    ) -> Any:
        """One HTTP exchange, classified and recorded once.

        Returns the envelope (retcode "0"), or what `parse` makes of it: a result that cannot
        be parsed is recorded as a `decode` error, not as a successful answer.
        """
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        epoch = self._epoch
        remaining = deadline - loop.time()
        headers = dict(_JSON_HEADERS)
        if auth and self._guid:
            headers["Guid"] = self._guid
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            async with self._http_session().request(
                http_method,
                self._base + path,
                data=None if body is None else json.dumps(body),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=remaining),
                server_hostname=self.settings.server_name or None,
                # Never follow a redirect: it would carry the sign-in body (the password) or
                # the Guid header to whatever host `Location` names (issue 12, item 1).
                allow_redirects=False,
            ) as response:
                new_guid = response.headers.get("Set-GUID")
                if new_guid is not None and epoch == self._epoch:
                    self._take_guid(new_guid)
                payload = await response.read()
                status = response.status
        except asyncio.TimeoutError:
            raise self._fail(
                method, "timeout", f"no answer within {max(remaining, 0):.3g}s", started
            ) from None
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
            raise self._fail(method, "tls", _describe(exc), started) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._fail(method, "connect", _describe(exc), started) from exc
        if status != 200:
            raise self._fail(method, "http_status", f"HTTP {status}", started, status=status)
        try:
            envelope = parse_envelope(payload)
            parsed = parse(envelope) if parse is not None and envelope.ok else envelope
        except DecodeError as exc:
            raise self._fail(method, "decode", str(exc), started) from exc
        self.stats.observe(
            method, envelope.retcode, error=False, seconds=time.perf_counter() - started
        )
        if not envelope.ok:
            raise RetcodeError(method, envelope.retcode, envelope.message)
        return parsed

    def _fail(
        self,
        method: str,
        reason: Literal["timeout", "connect", "tls", "http_status", "decode"],
        detail: str,
        started: float,
        status: int | None = None,
    ) -> TransportError:
        self.stats.observe(method, reason, error=True, seconds=time.perf_counter() - started)
        return TransportError(method, reason, detail, status)

    def _take_guid(self, header: str) -> None:
        guid = parse_set_guid(header)
        if guid is None or guid == self._guid:
            return
        renewed = self._guid is not None
        self._guid = guid
        if renewed:
            self.stats.guid_renewed()
            if self._on_guid_renewed is not None:
                self._on_guid_renewed(guid)

    async def _authed(self, deadline: float, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`; after an authentication retcode let the session heal, then retry once."""
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

    async def _sign_in(
        self, variant: SignInVariant, password: str, phone_number: str, deadline: float
    ) -> dict[str, Any]:
        method, suffix = SIGN_IN_METHODS[variant]
        body: dict[str, Any] = {"password": password}
        if phone_number:
            body["phonenum"] = phone_number
        self.forget_session()
        envelope = await self._call(
            method,
            "PUT",
            f"onlineagent/{self._agent}{suffix}",
            deadline=deadline,
            body=body,
            auth=False,
        )
        if self._guid is None:
            raise TransportError(method, "decode", "sign-in answer carried no Set-GUID header")
        return envelope.result if isinstance(envelope.result, dict) else {}

    async def login(self, password: str, phone_number: str, deadline: float) -> dict[str, Any]:
        return await self._sign_in("login", password, phone_number, deadline)

    async def forceLogin(self, password: str, phone_number: str, deadline: float) -> dict[str, Any]:
        return await self._sign_in("forcelogin", password, phone_number, deadline)

    async def loginEx(self, password: str, phone_number: str, deadline: float) -> dict[str, Any]:
        return await self._sign_in("loginex", password, phone_number, deadline)

    async def sign_in(
        self, variant: SignInVariant, password: str, phone_number: str, deadline: float
    ) -> dict[str, Any]:
        """Dispatch by the configured variant name."""
        return await self._sign_in(variant, password, phone_number, deadline)

    async def logout(self, deadline: float) -> None:
        await self._call("logout", "DELETE", f"onlineagent/{self._agent}/logout", deadline=deadline)
        self.forget_session()

    async def forceLogout(self, deadline: float) -> None:
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
            self._take_guid(guid)
        return self._guid

    # -- the session's heartbeat ---------------------------------------------------------------

    async def getAgentEvent(self, deadline: float) -> EventAnswer:
        """The long poll: answers at once with an event, or after ~10 s with none."""
        envelope = await self._call(
            "getAgentEvent", "GET", f"agentevent/{self._agent}", deadline=deadline
        )
        return EventAnswer(AgentEvent.parse(envelope.event))

    # -- conferences ---------------------------------------------------------------------------

    async def queryAllConfIds(self, deadline: float) -> list[int]:
        """`queryvdnconfid`: every ongoing conference of the VDN (inspectors only)."""

        async def call() -> list[int]:
            ids: list[int] = await self._call(
                "queryAllConfIds",
                "GET",
                f"agentconf/{self._agent}/queryvdnconfid",
                deadline=deadline,
                parse=lambda envelope: parse_conference_ids(envelope.result),
            )
            return ids

        return await self._authed(deadline, call)

    async def query_conf_batch(self, ids: Sequence[int], deadline: float) -> ConferenceQuery:
        """One `queryconfinfos` call of at most 20 IDs, with the session's one retry."""
        if not 0 < len(ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"a batch holds 1 to {MAX_IDS_PER_CALL} IDs, not {len(ids)}")
        body = {"confIds": list(ids)}
        wanted = self.settings.participants
        calls = 0

        async def call() -> ConferenceQuery:
            nonlocal calls
            calls += 1
            page: ConferencePage = await self._call(
                "queryConfInfos",
                "POST",
                f"agentconf/{self._agent}/queryconfinfos",
                deadline=deadline,
                body=body,
                parse=lambda envelope: parse_conferences(envelope.result, participants=wanted),
            )
            return ConferenceQuery(page.conferences, [], calls, page.skipped)

        try:
            return await self._authed(deadline, call)
        except (RetcodeError, TransportError) as error:
            return ConferenceQuery([], [FailedBatch(list(ids), error)], calls)

    async def queryConfInfos(
        self, ids: Sequence[int], deadline: float, concurrency: int = 8
    ) -> ConferenceQuery:
        """All of `ids`, in batches of 20 run `concurrency` at a time, merged.

        A failed batch is reported with its IDs; the other batches' conferences are kept.
        Workers pull batches from a shared iterator rather than one task per batch, so 500
        batches cost `concurrency` tasks, not 500.
        """
        batches = [ids[i : i + MAX_IDS_PER_CALL] for i in range(0, len(ids), MAX_IDS_PER_CALL)]
        merged = ConferenceQuery()
        pending = iter(batches)

        async def worker() -> None:
            for batch in pending:
                part = await self.query_conf_batch(batch, deadline)
                merged.conferences.extend(part.conferences)
                merged.failed.extend(part.failed)
                merged.calls += part.calls
                merged.skipped_entries += part.skipped_entries

        workers = max(1, min(concurrency, len(batches)))
        if batches:
            await asyncio.gather(*(worker() for _ in range(workers)))
        return merged


def _describe(exc: BaseException) -> str:
    """A short cause without URLs' query strings or headers (nothing secret travels there)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."
