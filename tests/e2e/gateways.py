"""The simulated gateways of the end-to-end run, each set up for one story.

Every cause is in place from the first scrape, so the alerts' `for:` clocks all run at once
and the tests, though they run one after another, mostly find their alert already on its way.
Each gateway carries one story, so that removing one cause cannot end another test's alert.

Watched by exporter A (job ccgw, /metrics):
- gw-conf: healthy; a conference at 95 % of its applied time, one the gateway keeps at 105 %
  (the simulator's `overrun`), one with a participant on hold, one with a single participant,
  and one with none of these (the control case).
- gw-fail: every conference query answers HTTP 502: unreachable (critical). Recovered as soon as
  that alert arrives; its request-error warning must never be sent (issue 13, case 2).
- gw-flaky: discovery works, queryConfInfos answers 100-007: error ratio high and partial
  collections, still "up".
- gw-dash: HTTPS, participant metrics on, a held participant and one early 100-007 answer,
  so that every dashboard panel has something to show.
- gw-agent: signed in as account 154, an ordinary agent, with the default `discover: true`
  (issue 13, case 4): discovery answers 101-004; the agent's own conference is seen.
- gw-split: 39 conferences (two batches of 20), one past its applied time and one with a
  participant on hold; every batch answers 100-007 half of the time (issue 13, case 3).
- gw-contend: healthy; exporter A signs in first, and exporter B is configured with the same
  account (issue 13, case 5).

Watched by exporter B (killed and restarted by test_blind.py), also through /probe:
- gw-blind-conf: a conference past its applied time and one with a participant on hold.
- gw-blind-down: every conference query answers HTTP 502.
- and gw-contend, as above.

Time is frozen in every simulator (time_scale 0): a conference changes only when told.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ccgw_simulator import FaultConfig, GatewaySimulator, SimulatorConfig

#: The simulator's built-in quality-inspector account, and its ordinary agent.
INSPECTOR, INSPECTOR_PASSWORD = "153", "sim-inspector"
AGENT, AGENT_PASSWORD = "154", "sim-agent"

PHONE_A, PHONE_B, PHONE_C = "13800001111", "13800002222", "13800003333"
QUERY_METHODS = ["queryAllConfIds", "queryConfInfos"]


def _people(
    *phones: str, held: str | None = None, agent: str | None = None
) -> list[dict[str, Any]]:
    """Participants in the vendor's fields: an agent chairing (if given), then phones."""
    people: list[dict[str, Any]] = []
    if agent is not None:
        people.append({"address": agent, "addressType": "9", "role": 1, "deviceType": 6})
    for phone in phones:
        people.append(
            {
                "address": phone,
                "addressType": "6",
                "role": 0 if people else 1,
                "channelState": 1 if phone == held else 0,
                "deviceType": 5,
            }
        )
    return people


@dataclass(frozen=True)
class ConferencePlan:
    key: str
    apply_minutes: int
    elapsed_minutes: float
    participants: list[dict[str, Any]]
    overrun: bool = False


@dataclass(frozen=True)
class GatewayPlan:
    name: str
    conferences: tuple[ConferencePlan, ...]
    faults: dict[str, Any] = field(default_factory=dict)
    https: bool = False
    participant_metrics: bool = False
    random_conferences: int = 0
    #: which exporters watch it: "a" (the shared one) and/or "b" (the one test_blind.py kills)
    exporters: tuple[str, ...] = ("a",)
    agent_id: str = INSPECTOR
    #: conferences created once the exporters are signed in (their agents get the join event)
    later: tuple[ConferencePlan, ...] = ()


EVERY_QUERY_502 = {"methods": QUERY_METHODS, "http_error_rate": 1.0, "http_error_status": 502}

PLANS = (
    GatewayPlan(
        "gw-conf",
        (
            ConferencePlan("near", 60, 57, _people(PHONE_A, PHONE_B, agent="201")),
            ConferencePlan("over", 60, 63, _people(PHONE_A, PHONE_B), overrun=True),
            ConferencePlan("held", 60, 10, _people(PHONE_A, PHONE_B, PHONE_C, held=PHONE_B)),
            ConferencePlan("single", 60, 5, _people(PHONE_A)),
            ConferencePlan("quiet", 120, 20, _people(PHONE_A, PHONE_B)),
        ),
    ),
    GatewayPlan(
        "gw-fail",
        (ConferencePlan("any", 60, 10, _people(PHONE_A, PHONE_B)),),
        faults=EVERY_QUERY_502,
    ),
    GatewayPlan(
        "gw-flaky",
        (ConferencePlan("any", 60, 10, _people(PHONE_A, PHONE_B)),),
        faults={"methods": ["queryConfInfos"], "retcodes": {"100-007": 1.0}},
    ),
    GatewayPlan(
        "gw-dash",
        (
            ConferencePlan(
                "detail", 60, 30, _people(PHONE_A, PHONE_B, PHONE_C, held=PHONE_C, agent="202")
            ),
        ),
        faults={"methods": ["queryConfInfos"], "retcodes": {"100-007": 1.0}, "limit": 1},
        https=True,
        participant_metrics=True,
        random_conferences=3,
    ),
    GatewayPlan(
        "gw-agent",
        (ConferencePlan("other", 60, 10, _people(PHONE_A, PHONE_B)),),
        agent_id=AGENT,
        later=(ConferencePlan("own", 60, 10, _people(PHONE_A, agent=AGENT)),),
    ),
    GatewayPlan(
        "gw-split",
        (
            ConferencePlan("over", 60, 63, _people(PHONE_A, PHONE_B), overrun=True),
            ConferencePlan("held", 60, 10, _people(PHONE_A, PHONE_B, PHONE_C, held=PHONE_B)),
        ),
        faults={"methods": ["queryConfInfos"], "retcodes": {"100-007": 0.5}},
        random_conferences=37,
    ),
    GatewayPlan(
        "gw-contend",
        (ConferencePlan("any", 60, 10, _people(PHONE_A, PHONE_B)),),
        exporters=("a", "b"),
    ),
    GatewayPlan(
        "gw-blind-conf",
        (
            ConferencePlan("over", 60, 63, _people(PHONE_A, PHONE_B), overrun=True),
            ConferencePlan("held", 60, 10, _people(PHONE_A, PHONE_B, PHONE_C, held=PHONE_B)),
        ),
        exporters=("b",),
    ),
    GatewayPlan(
        "gw-blind-down",
        (ConferencePlan("any", 60, 10, _people(PHONE_A, PHONE_B)),),
        faults=EVERY_QUERY_502,
        exporters=("b",),
    ),
)
#: The gateways exporter B also serves through /probe (job ccgw-probe).
PROBED = ("gw-blind-conf", "gw-blind-down")


class SimulatorAdmin:
    """The simulator's admin API (/simulator/...) over HTTP, from the test's thread."""

    def __init__(self, base_url: str, ca_file: str | None) -> None:
        self.base = base_url.rstrip("/") + "/simulator"
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5, context=self._ssl) as response:
            return json.load(response)

    def patch_conference(self, conf_id: int, **fields: Any) -> Any:
        return self._call("PATCH", f"/conferences/{conf_id}", fields)

    def put_participant(self, conf_id: int, address: str, **fields: Any) -> Any:
        return self._call("PUT", f"/conferences/{conf_id}/participants/{address}", fields)

    def put_faults(self, faults: dict[str, Any]) -> Any:
        return self._call("PUT", "/faults", faults)

    def conferences(self) -> Any:
        return self._call("GET", "/conferences")

    def create_conference(self, **fields: Any) -> int:
        return int(self._call("POST", "/conferences", fields)["confId"])

    def end_conference(self, conf_id: int) -> Any:
        return self._call("DELETE", f"/conferences/{conf_id}")

    def sign_out(self, agent_id: str) -> Any:
        """The gateway signs the agent out (as it does after 2 minutes without a poll)."""
        return self._call("DELETE", f"/sessions/{agent_id}")

    def sessions(self) -> Any:
        return self._call("GET", "/sessions")


@dataclass
class SimGateway:
    """A running simulator, the plan it was built from, and its conferences' IDs by key."""

    plan: GatewayPlan
    sim: GatewaySimulator
    conf_ids: dict[str, int]
    admin: SimulatorAdmin

    @property
    def name(self) -> str:
        return self.plan.name

    def conf_id(self, key: str) -> str:
        """The conf_id label value of a planned conference."""
        return str(self.conf_ids[key])

    def create_later(self) -> None:
        """The plan's `later` conferences, through the admin API (the simulator's agents get
        their join events now that they are signed in)."""
        for c in self.plan.later:
            self.conf_ids[c.key] = self.admin.create_conference(
                applyConfTime=c.apply_minutes,
                confHaveBeenTime=int(c.elapsed_minutes),
                addresses=c.participants,
                overrun=c.overrun,
            )


async def start_gateway(plan: GatewayPlan, seed: int) -> SimGateway:
    """Must run on the loop that will serve the simulator."""
    sim = GatewaySimulator(
        SimulatorConfig(
            port=0,
            https=plan.https,
            conferences=plan.random_conferences,
            seed=seed,
            time_scale=0.0,
            poll_hold=2.0,
            signin_delay=0.0,
            faults=FaultConfig.from_mapping(plan.faults),
        )
    )
    await sim.start()
    conf_ids = {
        c.key: sim.population.add_conference(
            apply_minutes=c.apply_minutes,
            elapsed_minutes=c.elapsed_minutes,
            participants=c.participants,
            overrun=c.overrun,
        )
        for c in plan.conferences
    }
    return SimGateway(plan, sim, conf_ids, SimulatorAdmin(sim.url, sim.ca_file))
