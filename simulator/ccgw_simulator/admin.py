"""The simulator's own control API under ``/simulator/`` (never under ``/agentgateway``).

For tests and benchmarks run against a simulator in another process: read and reset the
counters, change faults, restart the gateway, take nodes down, and drive the conference
population. JSON in and out; mistakes are 400 and unknown things 404, each with
``{"message": "..."}``. Conference and participant fields use the vendor's names
(``applyConfTime``, ``confHaveBeenTime``, ``channelState``...), as the gateway answers them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .config import ConfigError, FaultConfig
from .truth import empty_truth

if TYPE_CHECKING:
    from .server import GatewaySimulator

ADMIN = "/simulator"

AdminHandler = Callable[[web.Request, "GatewaySimulator"], Awaitable[web.Response]]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as err:
        raise AdminError(400, f"body is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AdminError(400, f"unknown key(s): {', '.join(unknown)}; allowed: {sorted(allowed)}")


def _int_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdminError(400, f"{name}: expected an integer")
    return value


def _bool_arg(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise AdminError(400, f"{name}: expected true or false")
    return value


def _number_arg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise AdminError(400, f"{name}: expected a non-negative number")
    return float(value)


def _conf_id(request: web.Request) -> int:
    text = request.match_info["conf_id"]
    if not text.isdigit():
        raise AdminError(404, f"no conference {text}")
    return int(text)


def _conference(sim: GatewaySimulator, conf_id: int) -> dict[str, Any]:
    rendered = sim.population.render(conf_id)
    if rendered is None:
        raise AdminError(404, f"no conference {conf_id}")
    return rendered


# ---------------------------------------------------------------------- handlers


async def index(request: web.Request, sim: GatewaySimulator) -> web.Response:
    cfg = sim.config
    return _reply(
        {
            "url": sim.url,
            "auth_mode": cfg.auth_mode,
            "nodes": len(sim.nodes),
            "result_shape": cfg.result_shape,
            "agent_id_range": cfg.agent_id_range,
            "forceloginex": cfg.forceloginex,
            "charset": cfg.charset,
            "messages": cfg.messages,
            "vdn": cfg.vdn,
            "accounts": [
                {"agent_id": a.agent_id, "inspector": a.inspector, "vdn": a.vdn}
                for a in cfg.accounts
            ],
        }
    )


async def get_stats(request: web.Request, sim: GatewaySimulator) -> web.Response:
    return _reply(sim.stats.to_dict())


async def reset_stats(request: web.Request, sim: GatewaySimulator) -> web.Response:
    sim.stats.reset()
    return _reply({"ok": True})


async def get_faults(request: web.Request, sim: GatewaySimulator) -> web.Response:
    return _reply(sim.faults.to_mapping())


async def put_faults(request: web.Request, sim: GatewaySimulator) -> web.Response:
    try:
        faults = FaultConfig.from_mapping(await _body(request))
    except ConfigError as err:
        raise AdminError(400, str(err)) from err
    sim.set_faults(faults)
    return _reply(sim.faults.to_mapping())


async def restart(request: web.Request, sim: GatewaySimulator) -> web.Response:
    return _reply({"ok": True, "signed_out": sim.restart()})


async def get_nodes(request: web.Request, sim: GatewaySimulator) -> web.Response:
    return _reply([{"node": n.index, "up": n.up, "sessions": len(n.sessions)} for n in sim.nodes])


async def put_node(request: web.Request, sim: GatewaySimulator) -> web.Response:
    text = request.match_info["node"]
    if not text.isdigit() or int(text) >= len(sim.nodes):
        raise AdminError(404, f"no node {text}; nodes are 0..{len(sim.nodes) - 1}")
    body = await _body(request)
    _only(body, {"up"})
    if not isinstance(body.get("up"), bool):
        raise AdminError(400, 'expected {"up": true|false}')
    sim.set_node_up(int(text), body["up"])
    return _reply({"node": int(text), "up": body["up"]})


async def get_sessions(request: web.Request, sim: GatewaySimulator) -> web.Response:
    out = []
    for node in sim.nodes:
        now = node.sessions.now()
        for s in node.sessions.sessions():
            out.append(
                {
                    "node": node.index,
                    "agent_id": s.agent_id,
                    "method": s.method,
                    "licence": s.licence,
                    "status": s.status,
                    "push": s.push,
                    "body_fields": list(s.body_fields),
                    "valid_guids": len(s.guids),
                    "queued_events": len(s.events),
                    "polls_in_flight": s.polls_in_flight,
                    "seconds_since_poll": round(now - s.last_poll, 3),
                }
            )
    return _reply(out)


async def delete_session(request: web.Request, sim: GatewaySimulator) -> web.Response:
    agent_id = request.match_info["agent_id"]
    if not sim.sign_out(agent_id, "admin"):
        raise AdminError(404, f"agent {agent_id} is not signed in")
    return _reply({"ok": True})


async def get_licences(request: web.Request, sim: GatewaySimulator) -> web.Response:
    holders = [
        {"agent_id": s.agent_id, "node": node.index, "method": s.method}
        for node in sim.nodes
        for s in node.sessions.sessions()
        if s.licence
    ]
    return _reply(
        {
            "in_use": len(holders),
            "taken": dict(sorted(sim.stats.licences_taken.items())),
            "holders": holders,
        }
    )


async def get_truth(request: web.Request, sim: GatewaySimulator) -> web.Response:
    population = sim.population
    population.tick()
    now = population.now_ms()
    records = request.query.get("conferences", "true").lower() not in ("0", "false", "no")
    vdn_text = request.query.get("vdn")
    if vdn_text is not None:
        if not vdn_text.isdigit():
            raise AdminError(400, f"vdn: expected a number, got {vdn_text!r}")
        if int(vdn_text) != population.vdn:
            return _reply(empty_truth(int(vdn_text), population.truth.since_ms, now))
    return _reply(population.truth.to_dict(now, len(population), records=records))


async def reset_truth(request: web.Request, sim: GatewaySimulator) -> web.Response:
    sim.population.reset_truth()
    truth = sim.population.truth
    return _reply({"ok": True, "since_ms": truth.since_ms, "live": len(sim.population)})


async def list_conferences(request: web.Request, sim: GatewaySimulator) -> web.Response:
    sim.population.tick()
    return _reply(sim.population.summary())


async def get_conference(request: web.Request, sim: GatewaySimulator) -> web.Response:
    sim.population.tick()
    return _reply(_conference(sim, _conf_id(request)))


async def create_conference(request: web.Request, sim: GatewaySimulator) -> web.Response:
    body = await _body(request)
    _only(
        body, {"applyConfTime", "confHaveBeenTime", "confState", "addresses", "evolve", "overrun"}
    )
    addresses = body.get("addresses")
    if addresses is not None and (
        not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses)
    ):
        raise AdminError(400, "addresses: expected a list of participant objects")
    evolve = _bool_arg(body.get("evolve", False), "evolve")
    overrun = _bool_arg(body.get("overrun", False), "overrun")
    conf_id = sim.population.add_conference(
        apply_minutes=_int_arg(body.get("applyConfTime", 60), "applyConfTime"),
        elapsed_minutes=_number_arg(body.get("confHaveBeenTime", 0), "confHaveBeenTime"),
        conf_state=_int_arg(body.get("confState", 0), "confState"),
        participants=addresses,
        evolve=evolve,
        overrun=overrun,
    )
    return _reply({"confId": conf_id}, status=201)


async def patch_conference(request: web.Request, sim: GatewaySimulator) -> web.Response:
    conf_id = _conf_id(request)
    body = await _body(request)
    _only(body, {"applyConfTime", "confHaveBeenTime", "confState", "overrun"})
    population = sim.population
    _conference(sim, conf_id)
    if "overrun" in body:
        population.set_overrun(conf_id, _bool_arg(body["overrun"], "overrun"))
    if "applyConfTime" in body:
        population.set_apply(conf_id, _int_arg(body["applyConfTime"], "applyConfTime"))
    if "confHaveBeenTime" in body:
        population.set_elapsed(conf_id, _number_arg(body["confHaveBeenTime"], "confHaveBeenTime"))
    if "confState" in body:
        population.set_conf_state(conf_id, _int_arg(body["confState"], "confState"))
    population.tick()
    rendered = population.render(conf_id)
    return _reply(rendered if rendered is not None else {"confId": conf_id, "ended": True})


async def delete_conference(request: web.Request, sim: GatewaySimulator) -> web.Response:
    conf_id = _conf_id(request)
    if not sim.population.end_conference(conf_id):
        raise AdminError(404, f"no conference {conf_id}")
    return _reply({"ok": True})


async def put_participant(request: web.Request, sim: GatewaySimulator) -> web.Response:
    conf_id = _conf_id(request)
    address = request.match_info["address"]
    body = await _body(request)
    _conference(sim, conf_id)
    added = sim.population.set_participant(conf_id, address, **body)
    return _reply(_conference(sim, conf_id), status=201 if added else 200)


async def delete_participant(request: web.Request, sim: GatewaySimulator) -> web.Response:
    conf_id = _conf_id(request)
    address = request.match_info["address"]
    _conference(sim, conf_id)
    reason_text = request.query.get("changeReason", "1")
    if reason_text not in ("0", "1", "2", "4", "6"):
        raise AdminError(400, "changeReason: 0 left, 1 removed, 2 hung up, 4 signed out, 6 other")
    if not sim.population.remove_participant(conf_id, address, int(reason_text)):
        raise AdminError(404, f"{address} is not in conference {conf_id}")
    return _reply({"ok": True, "ended": conf_id not in sim.population})


async def advance(request: web.Request, sim: GatewaySimulator) -> web.Response:
    body = await _body(request)
    _only(body, {"seconds"})
    seconds = _number_arg(body.get("seconds"), "seconds")
    changes = sim.population.advance(seconds)
    return _reply({"now_ms": sim.population.now_ms(), "changes": changes})


async def put_population(request: web.Request, sim: GatewaySimulator) -> web.Response:
    body = await _body(request)
    churn = {"activity_mean_seconds", "replacement_mean_seconds", "prolong_probability"}
    _only(body, {"conferences"} | churn)
    population = sim.population

    def number(key: str) -> float | None:
        return _number_arg(body[key], key) if key in body else None

    population.set_churn(
        activity_mean_s=number("activity_mean_seconds"),
        replacement_mean_s=number("replacement_mean_seconds"),
        prolong_probability=number("prolong_probability"),
    )
    if "conferences" in body:
        population.set_target(_int_arg(body["conferences"], "conferences"))
    return _reply(
        {
            "target": population.target,
            "count": len(population),
            "activity_mean_seconds": population.activity_mean_s,
            "replacement_mean_seconds": population.replacement_mean_s,
            "prolong_probability": population.prolong_probability,
        }
    )


# ---------------------------------------------------------------------- wiring


def _bind(
    handler: AdminHandler, sim: GatewaySimulator
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def route(request: web.Request) -> web.Response:
        try:
            return await handler(request, sim)
        except AdminError as err:
            return _reply({"message": err.message}, status=err.status)
        except KeyError as err:
            return _reply({"message": f"not found: {err.args[0]}"}, status=404)
        except (ValueError, TypeError) as err:
            return _reply({"message": str(err)}, status=400)

    return route


def add_admin_routes(app: web.Application, sim: GatewaySimulator) -> None:
    conf = ADMIN + "/conferences/{conf_id}"
    routes: list[tuple[str, str, AdminHandler]] = [
        ("GET", ADMIN + "/", index),
        ("GET", ADMIN + "/stats", get_stats),
        ("POST", ADMIN + "/stats/reset", reset_stats),
        ("GET", ADMIN + "/faults", get_faults),
        ("PUT", ADMIN + "/faults", put_faults),
        ("POST", ADMIN + "/restart", restart),
        ("GET", ADMIN + "/nodes", get_nodes),
        ("PUT", ADMIN + "/nodes/{node}", put_node),
        ("GET", ADMIN + "/sessions", get_sessions),
        ("DELETE", ADMIN + "/sessions/{agent_id}", delete_session),
        ("GET", ADMIN + "/licences", get_licences),
        ("GET", ADMIN + "/truth", get_truth),
        ("POST", ADMIN + "/truth/reset", reset_truth),
        ("GET", ADMIN + "/conferences", list_conferences),
        ("POST", ADMIN + "/conferences", create_conference),
        ("GET", conf, get_conference),
        ("PATCH", conf, patch_conference),
        ("DELETE", conf, delete_conference),
        ("PUT", conf + "/participants/{address}", put_participant),
        ("DELETE", conf + "/participants/{address}", delete_participant),
        ("POST", ADMIN + "/advance", advance),
        ("PUT", ADMIN + "/population", put_population),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _bind(handler, sim))
