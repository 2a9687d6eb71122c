"""The set of configured gateways, and reloading it without losing what still holds.

A reload re-reads the file; a bad file is refused, logged, and the old config keeps serving.
Gateways whose settings did not change keep their session (no sign-out, no new sign-in, their
counters continue); changed ones are rebuilt; removed ones sign out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .collector import GatewayTarget
from .config import Config, ConfigError, LoadedConfig, load_config
from .logs import kv

log = logging.getLogger(__name__)


class Targets:
    def __init__(
        self,
        config: Config,
        *,
        path: str | None = None,
        loader: Callable[[str], LoadedConfig] = load_config,
    ) -> None:
        self.path = path
        self.config = config
        self._loader = loader
        self._targets: dict[str, GatewayTarget] = {
            g.name: GatewayTarget(g) for g in config.gateways
        }
        self.last_reload_ok = True
        self.last_reload_success = time.time()
        self._lock = asyncio.Lock()

    def all(self) -> list[GatewayTarget]:
        return list(self._targets.values())

    def get(self, name: str) -> GatewayTarget | None:
        return self._targets.get(name)

    def start(self) -> None:
        for target in self._targets.values():
            target.start()

    async def stop(self) -> None:
        await asyncio.gather(*(t.stop() for t in self._targets.values()))

    async def reload(self) -> tuple[bool, str]:
        """Re-read the config file; (ok, message). The old config stays on any error."""
        if self.path is None:
            return False, "no config file to reload"
        async with self._lock:
            try:
                loaded = self._loader(self.path)
            except ConfigError as error:
                self.last_reload_ok = False
                log.error(
                    "config reload failed; keeping the previous config",
                    extra=kv(path=self.path, errors="; ".join(error.messages)),
                )
                return False, "config reload failed; previous config kept:\n" + str(error)
            for warning in loaded.warnings:
                log.warning(warning, extra=kv(path=self.path))
            await self._apply(loaded.config)
            self.last_reload_ok = True
            self.last_reload_success = time.time()
            return True, "config reloaded"

    async def _apply(self, config: Config) -> None:
        old = self._targets
        new: dict[str, GatewayTarget] = {}
        retired: list[GatewayTarget] = []
        for gateway in config.gateways:
            current = old.get(gateway.name)
            if current is not None and current.config == gateway:
                new[gateway.name] = current
                continue
            if current is not None:
                retired.append(current)
            target = GatewayTarget(gateway)
            target.start()
            new[gateway.name] = target
        retired.extend(t for name, t in old.items() if name not in new)
        self._targets = new
        self.config = config
        kept = sorted(n for n in new if old.get(n) is new[n])
        log.info(
            "config reloaded",
            extra=kv(
                gateways=len(new),
                kept=",".join(kept) or "-",
                started=",".join(sorted(set(new) - set(kept))) or "-",
                stopped=",".join(sorted(t.name for t in retired)) or "-",
            ),
        )
        await asyncio.gather(*(t.stop() for t in retired))
