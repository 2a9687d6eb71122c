"""A simulated Huawei CC-Gateway (AgentGateway) for tests, the demo and benchmarks.

It speaks the gateway's HTTP API (sign-in, Guid rotation, event long polls, conference
queries) over real sockets, with a deterministic living conference population, load-balancer
nodes and fault injection. It never imports the exporter's own gateway client: it is the
other side of the wire. See ``README.md`` beside this file.
"""

from __future__ import annotations

from .config import Account, ConfigError, FaultConfig, FaultRule, SimulatorConfig
from .population import Population
from .server import GatewaySimulator

__all__ = [
    "Account",
    "ConfigError",
    "FaultConfig",
    "FaultRule",
    "GatewaySimulator",
    "Population",
    "SimulatorConfig",
]
