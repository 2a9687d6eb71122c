"""A simulated Huawei CC-Gateway (AgentGateway) for tests, the demo and benchmarks.

It speaks the gateway's HTTP API (sign-in, Guid rotation, event long polls, conference
queries) over real sockets, with a deterministic living conference population, load-balancer
nodes and fault injection. It never imports the exporter's own gateway client: it is the
other side of the wire. It is a distribution of its own (``ccgw-gateway-sim``, in
``simulator/`` of the exporter's repository) so that an exporter install carries neither it,
its fault-injection admin API, nor ``cryptography``. See ``simulator/README.md``.
"""

from __future__ import annotations

from .config import Account, ConfigError, FaultConfig, FaultRule, SimulatorConfig
from .population import Population
from .server import GatewaySimulator

__version__ = "0.1.0"

__all__ = [
    "Account",
    "ConfigError",
    "FaultConfig",
    "FaultRule",
    "GatewaySimulator",
    "Population",
    "SimulatorConfig",
    "__version__",
]
