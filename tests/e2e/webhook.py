"""The Alertmanager webhook receiver, and the event loop thread it (and the simulators) run on.

The tests themselves are synchronous: they wait on Prometheus and Alertmanager for tens of
seconds, and a session-wide stack is simpler to share from plain fixtures. The aiohttp
servers that must run throughout (this receiver, the in-process gateway simulators) live on
one event loop in a daemon thread; `BackgroundLoop.run` hands them coroutines.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class BackgroundLoop:
    """An asyncio loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="e2e-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert of one webhook notification, as Alertmanager sent it."""

    path: str  # the webhook URL's path: which receiver's URL was called
    receiver: str
    status: str  # "firing" or "resolved", of this alert (not of its group)
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    received_at: float  # time.monotonic()

    def matches(self, status: str, labels: Mapping[str, str]) -> bool:
        return self.status == status and all(self.labels.get(k) == v for k, v in labels.items())

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.status} {{{shown}}} -> {self.receiver} ({self.path})"


class WebhookReceiver:
    """Records every alert of every notification; tests wait for the ones they expect."""

    def __init__(self) -> None:
        self._alerts: list[ReceivedAlert] = []
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = time.monotonic()
        received = [
            ReceivedAlert(
                path=request.path,
                receiver=str(body.get("receiver", "")),
                status=str(alert.get("status", "")),
                labels=dict(alert.get("labels") or {}),
                annotations=dict(alert.get("annotations") or {}),
                received_at=now,
            )
            for alert in body.get("alerts", [])
        ]
        with self._lock:
            self._alerts.extend(received)
        return web.Response(text="ok\n")

    def alerts(self) -> list[ReceivedAlert]:
        with self._lock:
            return list(self._alerts)

    def find(self, status: str, **labels: str) -> list[ReceivedAlert]:
        return [a for a in self.alerts() if a.matches(status, labels)]

    def wait_for(
        self,
        status: str,
        labels: Mapping[str, str],
        timeout: float,
        *,
        after: float = 0.0,
        explain: Callable[[], str] = lambda: "",
    ) -> ReceivedAlert:
        """The first alert with this status and these labels received after `after`; on
        timeout an AssertionError listing what did arrive (and `explain()`, e.g. the rule's
        state in Prometheus)."""
        end = time.monotonic() + timeout
        while True:
            for alert in self.find(status, **labels):
                if alert.received_at >= after:
                    return alert
            if time.monotonic() > end:
                seen = "\n  ".join(str(a) for a in self.alerts()) or "(nothing)"
                raise AssertionError(
                    f"no {status} alert {dict(labels)} at the webhook within {timeout:g}s. "
                    f"Received:\n  {seen}\n{explain()}"
                )
            time.sleep(0.1)
