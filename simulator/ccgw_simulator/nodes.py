"""Gateway nodes and the NSLB load balancer in front of them.

With ``nodes > 1`` the simulator plays the balancer: sign-in lands on a node chosen
round-robin and the answer sets a sticky cookie naming it; a request that brings the cookie
back goes to that node. A request without a usable cookie (none, unknown, or naming a node
that is down) is sent, on purpose, to a node where the agent is *not* signed in, so a client
that drops cookies (the classic IP-host cookie-jar mistake) fails every time with
``100-006`` instead of passing by luck. With one node there is no balancer and no cookie.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .auth import SessionTable

COOKIE_NAME = "NSLB_ROUTE"


@dataclass(eq=False)
class Node:
    index: int
    sessions: SessionTable
    up: bool = True

    @property
    def cookie_value(self) -> str:
        return f"node{self.index}"


class Balancer:
    """Routes a request to a node; says whether the answer must (re)set the sticky cookie."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self._rr = itertools.count()

    @property
    def clustered(self) -> bool:
        return len(self.nodes) > 1

    def _from_cookie(self, cookie: str | None) -> Node | None:
        if not cookie or not cookie.startswith("node") or not cookie[4:].isdigit():
            return None
        index = int(cookie[4:])
        if index < len(self.nodes) and self.nodes[index].up:
            return self.nodes[index]
        return None

    def route(self, cookie: str | None, agent_id: str) -> tuple[Node | None, bool]:
        """(node or None when every node is down, set the cookie?)."""
        if not self.clustered:
            single = self.nodes[0]
            return (single if single.up else None), False
        sticky = self._from_cookie(cookie)
        if sticky is not None:
            return sticky, False
        up = [n for n in self.nodes if n.up]
        if not up:
            return None, False
        start = next(self._rr)
        ordered = [up[(start + i) % len(up)] for i in range(len(up))]
        for candidate in ordered:
            if agent_id not in candidate.sessions:
                return candidate, True
        return ordered[0], True
