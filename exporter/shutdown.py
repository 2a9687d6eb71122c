"""Graceful shutdown of the HTTP side: stop taking scrapes, let those in flight finish, but
never for longer than the grace.

aiohttp's own `shutdown_timeout` is not a bound on the whole: it waits that long for handlers
to finish, then cancels them and waits up to that long again, so a 5 s setting can take 10 s,
and a supervisor's kill (Kubernetes gives 30 s by default, systemd 90 s) may land before the
sessions are signed out. Tracking the requests in flight here makes the grace exact: wait for
them up to the grace, cancel what is left, and only then hand over to aiohttp's cleanup, which
then has nothing left to wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Draining:
    """The requests being handled, and whether new ones are still welcome."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self.closing = False

    @property
    def in_flight(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.closing:
            # A request on a keep-alive connection opened before the signal: new connections
            # are already refused, and this one is told to go elsewhere, not left hanging.
            return web.Response(status=503, text="shutting down\n", headers={"Connection": "close"})
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - aiohttp always runs handlers in a task
            return await handler(request)
        self._tasks.add(task)
        try:
            return await handler(request)
        finally:
            self._tasks.discard(task)

    async def drain(self, grace: float) -> int:
        """Refuse new requests; wait up to `grace` seconds for those in flight, cancel the
        rest. Returns how many had to be cut."""
        self.closing = True
        pending = {task for task in self._tasks if not task.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            # Cancelled handlers unwind at once; the bound only guards against one that does
            # not, so that signing out still happens.
            await asyncio.wait(pending, timeout=1.0)
        return len(pending)
