"""The gateway's HTTP API under ``/agentgateway/resource/``, as aiohttp routes.

Each route is a small handler that returns an :class:`Answer`; one wrapper (:meth:`
GatewayApi._dispatch`) does what every call shares, in the order a real deployment would:
count the call, inject latency/slow/HTTP-error faults (the balancer's and network's doing),
route to a node, inject a retcode fault or run the handler, then break the answer if a
malformed/reset fault was drawn. Business and authentication failures are HTTP 200 envelopes
with a non-"0" retcode; wrong paths and methods are aiohttp's own 404/405.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .auth import Accounts, GatewayError, Session, SessionTable
from .config import SimulatorConfig
from .faults import FaultDecision, FaultInjector, html_error, retcode_message
from .nodes import COOKIE_NAME, Balancer, Node
from .population import Population
from .stats import Stats

PREFIX = "/agentgateway/resource"
JSON_TYPE = "application/json;charset=UTF-8"
MAX_CONF_IDS = 20


@dataclass
class Answer:
    retcode: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    signin: bool = False


def envelope(retcode: str, message: str = "", **extra: Any) -> bytes:
    """``{"message", "retcode", ...}`` as compact UTF-8 JSON."""
    doc: dict[str, Any] = {"message": message, "retcode": retcode, **extra}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _error_answer(err: GatewayError) -> Answer:
    return Answer(err.retcode, envelope(err.retcode, err.message or retcode_message(err.retcode)))


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
            ("PUT", agent, "login", self._login),
            ("PUT", agent + "/forcelogin", "forceLogin", self._force_login),
            ("PUT", agent + "/loginex", "loginEx", self._login_ex),
            ("DELETE", agent + "/logout", "logout", self._logout),
            ("DELETE", agent + "/forcelogout", "forceLogout", self._force_logout),
            ("PUT", agent + "/updateGuid", "updateGuid", self._update_guid),
            ("GET", PREFIX + "/agentevent/{agentid}", "getAgentEvent", self._get_event),
            ("GET", conf + "/queryvdnconfid", "queryAllConfIds", self._query_ids),
            ("POST", conf + "/queryconfinfos", "queryConfInfos", self._query_infos),
        ]
        for http_method, path, name, handler in routes:
            app.router.add_route(http_method, path, self._wrap(name, handler))

    # ------------------------------------------------------------------ the wrapper

    def _wrap(
        self, method: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
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
            answer = _error_answer(GatewayError(decision.retcode))
        else:
            try:
                answer = await handler(request, node, agent_id)
            except GatewayError as err:
                answer = _error_answer(err)
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
        headers = {"Content-Type": JSON_TYPE, **answer.headers}
        body = answer.body
        if decision.malformed:
            self.stats.faults["malformed"] += 1
            body = self.injector.malform(body)
        elif not decision.reset:
            self.stats.answered(method, answer.retcode)
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

    async def _signin(self, request: web.Request, node: Node, agent_id: str, method: str) -> Answer:
        self._check_agent_id(agent_id, "100-001")
        body = await self._json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("password"), str):
            raise GatewayError("100-001")
        self.accounts.begin_signin(agent_id)
        try:
            if self.config.signin_delay > 0:
                await asyncio.sleep(self.config.signin_delay)
            self.accounts.verify(agent_id, body["password"])
            if method != "forceLogin" and node.sessions.get(agent_id) is not None:
                raise GatewayError("100-002")
            session = node.sessions.sign_in(agent_id, method)
        finally:
            self.accounts.end_signin(agent_id)
        node.sessions.push_event(
            agent_id, {"eventType": "AgentOther_InService", "workNo": agent_id, "content": None}
        )
        result = {
            "vdnid": 1,
            "workno": agent_id,
            "phonenum": str(body.get("phonenum", "")),
            "loginDate": self.population.now_ms(),
            "isForceChange": False,
        }
        return Answer("0", envelope("0", result=result), self._guid_header(session), signin=True)

    async def _login(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        return await self._signin(request, node, agent_id, "login")

    async def _force_login(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        return await self._signin(request, node, agent_id, "forceLogin")

    async def _login_ex(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        return await self._signin(request, node, agent_id, "loginEx")

    async def _logout(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        """Not signed in: 100-008 (already signed out); otherwise the Guid must be valid."""
        self._check_agent_id(agent_id, "000-002")
        if node.sessions.get(agent_id) is None:
            raise GatewayError("100-008")
        self._authenticate(request, node, agent_id)
        node.sessions.sign_out(agent_id, "logout")
        return Answer("0", envelope("0", result={}))

    async def _force_logout(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        """Signs the agent out without its Guid: the way out for a client that lost it."""
        self._check_agent_id(agent_id, "000-002")
        if not node.sessions.sign_out(agent_id, "forcelogout"):
            raise GatewayError("100-008")
        return Answer("0", envelope("0", result={}))

    async def _update_guid(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        session = self._authenticate(request, node, agent_id)
        guid = node.sessions.update_guid(session)
        return Answer("0", envelope("0", result={"guid": guid}), self._guid_header(session))

    # ------------------------------------------------------------------ event poll

    async def _get_event(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        table = node.sessions
        session = self._authenticate(request, node, agent_id)
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

    async def _query_ids(self, request: web.Request, node: Node, agent_id: str) -> Answer:
        self._authenticate(request, node, agent_id)
        account = self.accounts.get(agent_id)
        if account is None or not account.inspector:
            raise GatewayError("101-004")
        self.population.tick()
        body = (
            b'{"message":"success","retcode":"0","result":{"confIds":'
            + self.population.conf_ids_json()
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
        for conf_id in dict.fromkeys(ids):
            conf = population.get(conf_id)
            if conf is not None and (inspector or population.visible_to(conf_id, agent_id)):
                parts.append(conf.to_json(now))
        self.stats.conf_ids_requested += len(ids)
        self.stats.confs_returned += len(parts)
        confs = b"[" + b",".join(parts) + b"]"
        if self.config.result_shape == "confs":
            confs = b'{"confs":' + confs + b"}"
        return Answer("0", b'{"message":"","retcode":"0","result":' + confs + b"}")


def _html_response(status: int) -> web.Response:
    return web.Response(status=status, body=html_error(status), content_type="text/html")
