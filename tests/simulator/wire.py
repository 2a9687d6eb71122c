"""A raw HTTP view of the simulated gateway for the tests (plain aiohttp, on purpose not the
exporter's gateway client: these tests pin down what the simulator says on the wire)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from ccgw_simulator import GatewaySimulator, SimulatorConfig

API = "/agentgateway/resource"
INSPECTOR = ("153", "sim-inspector")
AGENT = ("154", "sim-agent")
#: The sign-in variants whose body must carry phonenum, and the number the tests send.
PHONE_REQUIRED = ("login", "forcelogin")
PHONE = "40038"

StartSim = Callable[..., Awaitable[GatewaySimulator]]


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    @property
    def retcode(self) -> str:
        return str(self.body["retcode"])

    @property
    def set_guid(self) -> str | None:
        value = self.headers.get("Set-GUID")
        if value is None:
            return None
        assert value.startswith("JSESSIONID="), value
        return value[len("JSESSIONID=") :]


class Gateway:
    """Raw calls to one simulator through one aiohttp session (one cookie jar)."""

    def __init__(self, sim: GatewaySimulator, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.http = http

    async def call(
        self,
        method: str,
        path: str,
        *,
        guid: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        hdrs = {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
        if guid is not None:
            hdrs["Guid"] = guid
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        url = self.sim.url + (path if path.startswith("/simulator") else API + path)
        async with self.http.request(
            method, url, data=data, headers=hdrs, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            return Reply(resp.status, resp.headers, await resp.text())

    async def login(
        self,
        agent: str = INSPECTOR[0],
        password: str = INSPECTOR[1],
        kind: str = "loginex",
        **fields: Any,
    ) -> Reply:
        """A sign-in; login and forcelogin carry the mandatory ``phonenum`` (cec_07_1202,
        cec_07_1203) unless ``phonenum=None`` is given; ``fields`` are more body fields."""
        suffix = "" if kind == "login" else "/" + kind
        body: dict[str, Any] = {"password": password}
        if kind in PHONE_REQUIRED:
            body["phonenum"] = PHONE
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        return await self.call("PUT", f"/onlineagent/{agent}{suffix}", body=body)

    async def sign_in(
        self,
        agent: str = INSPECTOR[0],
        password: str = INSPECTOR[1],
        kind: str = "loginex",
        **fields: Any,
    ) -> str:
        reply = await self.login(agent, password, kind, **fields)
        assert reply.retcode == "0", reply.text
        guid = reply.set_guid
        assert guid is not None
        return guid

    async def drain(self, agent: str, guid: str) -> str:
        """Take queued events (the sign-in's InService); returns the newest Guid."""
        sim = self.sim
        hold, sim.config.poll_hold = sim.config.poll_hold, 0.01
        try:
            while True:
                reply = await self.poll(agent, guid)
                guid = reply.set_guid or guid
                if "event" not in reply.body:
                    return guid
        finally:
            sim.config.poll_hold = hold

    async def poll(self, agent: str, guid: str | None, timeout: float = 10.0) -> Reply:
        return await self.call("GET", f"/agentevent/{agent}", guid=guid, timeout=timeout)

    async def conf_ids(self, agent: str, guid: str | None) -> Reply:
        return await self.call("GET", f"/agentconf/{agent}/queryvdnconfid", guid=guid)

    async def conf_infos(
        self, agent: str, guid: str | None, ids: Any, timeout: float = 10.0
    ) -> Reply:
        path = f"/agentconf/{agent}/queryconfinfos"
        return await self.call("POST", path, guid=guid, body={"confIds": ids}, timeout=timeout)

    async def admin(self, method: str, path: str, body: Any = None) -> Reply:
        return await self.call(method, "/simulator" + path, body=body)


def fast_config(**overrides: Any) -> SimulatorConfig:
    """Fast defaults for tests: plain HTTP, any port, no conferences, short holds."""
    values: dict[str, Any] = {
        "https": False,
        "port": 0,
        "conferences": 0,
        "signin_delay": 0.0,
        "poll_hold": 0.5,
        "time_scale": 0.0,
        "tick_interval": 0.05,
    }
    values.update(overrides)
    return SimulatorConfig(**values)
