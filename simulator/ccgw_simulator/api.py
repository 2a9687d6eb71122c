"""The gateway's HTTP API under ``/agentgateway/resource/``, as aiohttp routes.

Each route is a small handler that returns an :class:`Answer`; one wrapper (:meth:`
GatewayApi._dispatch`) does what every call shares, in the order a real deployment would:
count the call, inject latency/slow/HTTP-error faults (the balancer's and network's doing),
route to a node, inject a retcode fault or run the handler, then break the answer if a
malformed/reset fault was drawn. Business and authentication failures are HTTP 200 envelopes
with a non-"0" retcode; wrong paths and methods are aiohttp's own 404/405, and so is an agent
ID outside the gateway's range (``agent_id_range: old``). Answers are encoded in, and declare,
the configured charset (UTF-8 unless told otherwise).

Vendor pages (api-cec) behind each route are named at the route; see also signin.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .auth import Accounts, GatewayError, Session, SessionTable, agent_event
from .conference import Conference
from .config import SimulatorConfig
from .faults import (
    SUCCESS_MESSAGES,
    FaultDecision,
    FaultInjector,
    html_error,
    retcode_message,
)
from .nodes import COOKIE_NAME, Balancer, Node
from .population import Population
from .signin import FORCED, LICENCE_TAKING, SIGN_IN_EVENTS, SIGN_IN_PATHS, parse_sign_in_body
from .stats import Stats

PREFIX = "/agentgateway/resource"
JSON_TYPE = "application/json;charset=UTF-8"
MAX_CONF_IDS = 20
#: The older gateways' path template for {agentid} (the generated JS client):
#: ``[1-9][\d]{0,3}|[1-5][\d]{4}``, i.e. 1..59999; anything else matches no resource: 404.
OLD_AGENT_ID_RE = re.compile(r"(?:[1-9]\d{0,3}|[1-5]\d{4})")


@dataclass
class Answer:
    retcode: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    signin: bool = False
    #: queryconfinfos: the conferences in the answer and their elapsed minutes, recorded as
    #: served (ground truth) once the answer has left intact
    served: list[tuple[Conference, int]] = field(default_factory=list)


def envelope(retcode: str, message: str = "", **extra: Any) -> bytes:
    """``{"message", "retcode", ...}`` as compact UTF-8 JSON."""
    doc: dict[str, Any] = {"message": message, "retcode": retcode, **extra}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


Handler = Callable[[web.Request, Node, str], Awaitable[Answer]]


class GatewayApi:
    """The gateway methods; state lives in the objects passed in (shared with the admin API)."""

    def __init__(
        self,
        *,
        config: SimulatorConfig,
        stats: Stats,
        accounts: Accounts,
        balancer: Balancer,
        population: Population,
        injector: FaultInjector,
        stopping: asyncio.Event,
    ) -> None:
        self.config = config
        self.stats = stats
        self.accounts = accounts
        self.balancer = balancer
        self.population = population
        self.injector = injector
        self.stopping = stopping

    def add_routes(self, app: web.Application) -> None:
        agent = PREFIX + "/onlineagent/{agentid}"
        conf = PREFIX + "/agentconf/{agentid}"
        routes: list[tuple[str, str, str, Handler]] = [
            # the sign-ins: cec_07_1202, cec_07_1203, cec_07_0357/cec_07_1224; forceloginex
            # is on no page, only in the gateway's generated JS client (config: forceloginex)
            *(
                ("PUT", agent + suffix, variant, self._signin_route(variant))
                for variant, suffix in SIGN_IN_PATHS.items()
                if variant != "forceLoginEx" or self.config.forceloginex
            ),
            ("DELETE", agent + "/logout", "logout", self._logout),  # cec_07_1219
            ("DELETE", agent + "/forcelogout", "forceLogout", self._force_logout),  # cec_07_0353
            ("PUT", agent + "/updateGuid", "updateGuid", self._update_guid),  # cec_07_0358
            ("GET", agent + "/agentstatus", "getAgentStatus", self._agent_status),  # cec_07_0355
            ("GET", PREFIX + "/agentevent/{agentid}", "getAgentEvent", self._get_event),  # 1274
            # an inspector signs another agent of its VDN out (cec_07_0441, cec_07_2407)
            (
                "POST",
                PREFIX + "/qualitycontrol/{agentid}/forcelogout/{workno}",
                "forceLogOutAgent",
                self._quality_force_logout,
            ),
            ("GET", conf + "/queryvdnconfid", "queryAllConfIds", self._query_ids),  # 0486
            ("POST", conf + "/queryconfinfos", "queryConfInfos", self._query_infos),  # 0485
        ]
        for http_method, path, name, handler in routes:
            app.router.add_route(http_method, path, self._wrap(name, handler))

    def _error_answer(self, err: GatewayError) -> Answer:
        message = err.message or retcode_message(err.retcode, self.config.messages)
        return Answer(err.retcode, envelope(err.retcode, message))

    def _agent_id_routed(self, agent_id: str) -> bool:
        """Whether the gateway's path template takes this agent ID at all."""
        if self.config.agent_id_range == "old":
            return OLD_AGENT_ID_RE.fullmatch(agent_id) is not None
        return True

    # ------------------------------------------------------------------ the wrapper

    def _wrap(
        self, method: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            if not self._agent_id_routed(request.match_info["agentid"]):
                self.stats.agent_id_not_found += 1
                raise web.HTTPNotFound()
            self.stats.call_started(method)
            try:
                return await self._dispatch(request, method, handler)
            finally:
                self.stats.call_finished(method)

        return route

    async def _sleep(self, seconds: float) -> None:
        """Sleep that ends early when the simulator stops, so shutdown never waits on it."""
        if seconds <= 0 or self.stopping.is_set():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _dispatch(
        self, request: web.Request, method: str, handler: Handler
    ) -> web.StreamResponse:
        decision = self.injector.decide(method)
        if decision.delay_s:
            self.stats.faults["latency"] += 1
            await self._sleep(decision.delay_s)
        if decision.slow_s:
            self.stats.faults["slow"] += 1
            await self._sleep(decision.slow_s)
        if decision.http_status:
            self.stats.faults["http_error"] += 1
            return _html_response(decision.http_status)
        agent_id = request.match_info["agentid"]
        node, new_cookie = self.balancer.route(request.cookies.get(COOKIE_NAME), agent_id)
        if node is None:  # every node down: the balancer has nowhere to send it
            return _html_response(503)
        self.stats.requests_by_node[node.index] += 1
        if decision.retcode:
            self.stats.faults["retcode"] += 1
            answer = self._error_answer(GatewayError(decision.retcode))
        else:
            try:
                answer = await handler(request, node, agent_id)
            except GatewayError as err:
                answer = self._error_answer(err)
        return await self._respond(request, method, answer, decision, node, new_cookie)

    async def _respond(
        self,
        request: web.Request,
        method: str,
        answer: Answer,
        decision: FaultDecision,
        node: Node,
        new_cookie: bool,
    ) -> web.StreamResponse:
        charset = self.config.charset
        headers = {"Content-Type": f"application/json;charset={charset}", **answer.headers}
        body = answer.body
        if charset.upper() not in ("UTF-8", "UTF8"):
            # what the charset cannot hold becomes "?", still JSON (a test tool must not 500)
            body = body.decode("utf-8").encode(charset, errors="replace")
        if decision.malformed:
            self.stats.faults["malformed"] += 1
            body = self.injector.malform(body)
        elif not decision.reset:
            self.stats.answered(method, answer.retcode)
            # Served: intact, and to a client still there (a slow fault outlives any client's
            # deadline; a client that gave up has closed the connection).
            transport = request.transport
            gone = transport is None or transport.is_closing()
            if answer.served and not decision.slow_s and not gone:
                self.population.note_served(answer.served)
        if decision.reset:
            self.stats.faults["reset"] += 1
            return await self._reset(request, headers, body, node, new_cookie or answer.signin)
        response = web.Response(body=body, headers=headers)
        if self.balancer.clustered and (new_cookie or answer.signin):
            response.set_cookie(COOKIE_NAME, node.cookie_value, path="/")
        return response

    async def _reset(
        self,
        request: web.Request,
        headers: dict[str, str],
        body: bytes,
        node: Node,
        cookie: bool,
    ) -> web.StreamResponse:
        """Send the headers and part of the body, then abort the connection (RST)."""
        response = web.StreamResponse(headers=headers)
        response.content_length = len(body)
        if self.balancer.clustered and cookie:
            response.set_cookie(COOKIE_NAME, node.cookie_value, path="/")
        await response.prepare(request)
        await response.write(body[: self.injector.reset_cut(body)])
        await asyncio.sleep(0.01)  # let the partial write leave before the abort
        if request.transport is not None:
            request.transport.abort()
        return response

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _json_body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    @staticmethod
    def _check_agent_id(agent_id: str, retcode: str) -> None:
        if not agent_id.isdigit():
            raise GatewayError(retcode)

    def _authenticate(self, request: web.Request, node: Node, agent_id: str) -> Session:
        self._check_agent_id(agent_id, "000-002")
        return node.sessions.authenticate(agent_id, request.headers.get("Guid"))

    def _guid_header(self, session: Session) -> dict[str, str]:
        return {"Set-GUID": f"JSESSIONID={session.current_guid}"}

    # ------------------------------------------------------------------ sign-in / out

    def _signed_in_anywhere(self, agent_id: str) -> bool:
        """The CTI holds an agent's sign-in, not the node: held on any node is held."""
        return any(n.sessions.get(agent_id) is not None for n in self.balancer.nodes)

    def _sign_out_everywhere(self, agent_id: str, reason: str) -> bool:
        signed_out = False
        for n in self.balancer.nodes:
            signed_out = n.sessions.sign_out(agent_id, reason) or signed_out
        return signed_out

    def _signin_route(self, variant: str) -> Handler:
        async def route(request: web.Request, node: Node, agent_id: str) -> Answer:
            return await self._signin(request, node, agent_id, variant)

        return route

    async def _signin(
        self, request: web.Request, node: Node, agent_id: str, variant: str
    ) -> Answer:
        """Every variant: the body by the vendor's rules (signin.py), the password, then
        100-002 for an agent already signed in, whatever the variant, unless it is a forced
        one, which signs the other client out (CTI reason 264, cec_07_4243)."""
        self._check_agent_id(agent_id, "100-001")
        body = parse_sign_in_body(await self._json_body(request), variant)
        self.accounts.begin_signin(agent_id)
        try:
            if self.config.signin_delay > 0:
                await asyncio.sleep(self.config.signin_delay)
            account = self.accounts.verify(agent_id, body.password)
            if variant in FORCED:
                self._sign_out_everywhere(agent_id, variant.lower())
            elif self._signed_in_anywhere(agent_id):
                raise GatewayError("100-002")
            session = node.sessions.sign_in(
                agent_id,
                variant,
                licence=variant in LICENCE_TAKING,
                status=body.status,
                push=body.push,
                body_fields=body.fields,
            )
        finally:
            self.accounts.end_signin(agent_id)
        now_ms = self.population.now_ms()
        for event_type in SIGN_IN_EVENTS[body.status]:  # cec_07_1224: by the status
            node.sessions.push_event(agent_id, agent_event(event_type, agent_id, None, now_ms))
        # The result's fields as the vendor's sample has them (cec_07_1224): strings, but
        # vdnid a number as in the sample (its table says string).
        result = {
            "vdnid": account.vdn,
            "workno": agent_id,
            "mediatype": body.mediatype,
            "loginTime": str(now_ms),
            "isForceChange": "false",
            "serverName": "AgentGateway",
            "timeRemaining": "",
        }
        return Answer("0", envelope("0", result=result), self._guid_header(session), signin=True)

    async def _logout(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        """Not signed in: 100-008 (already signed out); otherwise the Guid must be valid."""
        self._check_agent_id(agent_id, "000-002")
        if node.sessions.get(agent_id) is None:
            raise GatewayError("100-008")
        self._authenticate(request, node, agent_id)
        node.sessions.sign_out(agent_id, "logout")
        return Answer("0", envelope("0", result={}))

    async def _force_logout(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        """The Guid is mandatory (cec_07_0353, cec_07_1220), as for logout: a client that lost
        its Guid cannot use this; it signs in again with a forced variant instead. The page
        lists no error code; 100-008 when not signed in is ours, as for logout."""
        self._check_agent_id(agent_id, "000-002")
        if node.sessions.get(agent_id) is None:
            raise GatewayError("100-008")
        self._authenticate(request, node, agent_id)
        self._sign_out_everywhere(agent_id, "forcelogout")
        return Answer("0", envelope("0", result={}))

    async def _quality_force_logout(
        self, request: web.Request, node: Node, agent_id: str
    ) -> Answer:
        """An inspector signs out another agent of its VDN (cec_07_0441, cec_07_2407). The
        codes are inferred by meaning (cec_07_0580): 000-003 when the caller is no inspector
        of that VDN, 100-006 when the agent is not signed in."""
        self._authenticate(request, node, agent_id)
        inspector = self.accounts.get(agent_id)
        target_id = request.match_info["workno"]
        target = self.accounts.get(target_id)
        if inspector is None or not inspector.inspector:
            raise GatewayError("000-003")
        if target is not None and target.vdn != inspector.vdn:
            raise GatewayError("000-003")
        if not self._sign_out_everywhere(target_id, "qualitycontrol"):
            raise GatewayError("100-006")
        return Answer("0", envelope("0", result={}))

    async def _agent_status(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        """The agent's own state (cec_07_0355): the status it signed in with (3 busy, 4 idle,
        5 wrap-up; nothing here changes it afterwards), never working."""
        session = self._authenticate(request, node, agent_id)
        result = {"agentState": session.status, "isWorking": False}
        return Answer("0", envelope("0", result=result))

    async def _update_guid(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        session = self._authenticate(request, node, agent_id)
        guid = node.sessions.update_guid(session)
        return Answer("0", envelope("0", result={"guid": guid}), self._guid_header(session))

    # ------------------------------------------------------------------ event poll

    async def _get_event(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        table = node.sessions
        session = self._authenticate(request, node, agent_id)
        if session.push:
            # signed in with callBackUri + serviceToken: events are pushed, polling is the
            # wrong way (000-001 by its meaning, cec_07_0580; cec_07_1274's prerequisite)
            raise GatewayError("000-001")
        session.polls_in_flight += 1
        try:
            event = await self._wait_event(table, session)
        finally:
            session.polls_in_flight -= 1
            session.last_poll = table.now()
        if session.closed:
            raise GatewayError("100-006")
        table.rotate_if_due(session)
        headers = self._guid_header(session) if table.dynamic else {}
        if event is None:
            return Answer("0", envelope("0"), headers)
        self.stats.events_delivered += 1
        self.stats.events_delivered_by_type[str(event.get("eventType"))] += 1
        return Answer("0", envelope("0", event=event), headers)

    async def _wait_event(self, table: SessionTable, session: Session) -> dict[str, Any] | None:
        """Hold the poll until an event, the end of ``poll_hold``, or a Guid rotation."""
        deadline = table.now() + self.config.poll_hold
        while True:
            if session.closed or self.stopping.is_set():
                return None
            if session.events:
                return session.events.popleft()
            if table.rotate_if_due(session):
                return None  # answer early so the client gets the new Guid at once
            timeout = min(deadline, table.next_rotation(session)) - table.now()
            if timeout <= 0:
                return None
            session.wakeup.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(session.wakeup.wait(), timeout)

    # ------------------------------------------------------------------ conferences

    def _sees_population(self, agent_id: str) -> bool:
        account = self.accounts.get(agent_id)
        return account is not None and account.vdn == self.population.vdn

    async def _query_ids(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        self._authenticate(request, node, agent_id)
        account = self.accounts.get(agent_id)
        if account is None or not account.inspector:
            # INFERRED: the page lists 000-002, 100-006, 100-007 only (cec_07_0486); 101-004
            # "a non-inspector may not query the VDN's conferences" is in the result-code
            # table (cec_07_0580) and is what a non-inspector is assumed to get.
            raise GatewayError("101-004")
        self.population.tick()
        ids = self.population.conf_ids_json() if self._sees_population(agent_id) else b"[]"
        message = SUCCESS_MESSAGES[self.config.messages]
        body = (
            b'{"message":"'
            + message.encode()
            + b'","retcode":"0","result":{"confIds":'
            + ids
            + b"}}"
        )
        return Answer("0", body)

    async def _query_infos(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        self._authenticate(request, node, agent_id)
        body = await self._json_body(request)
        ids = body.get("confIds") if isinstance(body, dict) else None
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= MAX_CONF_IDS
            or not all(type(i) is int for i in ids)
        ):
            raise GatewayError("000-002")
        population = self.population
        population.tick()
        account = self.accounts.get(agent_id)
        inspector = account is not None and account.inspector
        now = population.now_ms()
        parts: list[bytes] = []
        served: list[tuple[Conference, int]] = []
        if self._sees_population(agent_id):
            for conf_id in dict.fromkeys(ids):
                conf = population.get(conf_id)
                if conf is not None and (inspector or population.visible_to(conf_id, agent_id)):
                    parts.append(conf.to_json(now))
                    served.append((conf, conf.elapsed_minutes(now)))
        self.stats.conf_ids_requested += len(ids)
        self.stats.confs_returned += len(parts)
        confs = b"[" + b",".join(parts) + b"]"
        if self.config.result_shape == "confs":
            confs = b'{"confs":' + confs + b"}"
        body = b'{"message":"","retcode":"0","result":' + confs + b"}"
        return Answer("0", body, served=served)


def _html_response(status: int) -> web.Response:
    return web.Response(status=status, body=html_error(status), content_type="text/html")
