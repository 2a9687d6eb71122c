"""Process-wide memory settings for the exporter, applied once at start.

A scrape of a large contact center is a burst of allocation: at 10,000 conferences, ~50,000
conference objects that live until the next scrape replaces them, and an ~11 MB body. Two
defaults of the runtime handle that pattern badly (numbers in docs/performance.md):

- CPython's garbage collector, at thresholds (700, 10, 10), traverses each of those objects in
  a young collection, again in a middle one, and the heap's growth sets off a full collection
  about every other scrape: a fifth of the process's CPU per scrape. Almost nothing the exporter
  builds is cyclic (measured: ~60 objects per scrape, from aiohttp), so collecting rarely is
  safe; freezing what exists after start-up (modules, classes, the app) also takes it out of
  every later collection.
- The price of collecting rarely shows under light load: with few allocations a young
  collection comes seldom, and whatever is alive at that moment (a request in flight, a
  connection about to close) is promoted and, once garbage, waits for a full collection, which
  the frozen start-up heap postpones further. In a 20-minute soak (36 conferences, faults
  cycling) RSS grew 155 KiB a minute this way, against 35 KiB at the default thresholds and
  flattening. So a full collection also runs every minute, from a timer: with a collection of
  10,000 conferences alive it took 0.8 ms (measured in-process: the conference objects are
  not tracked by the collector), nothing next to a scrape.
- glibc's malloc raises its mmap threshold after the first large block is freed, so later
  bodies come from the heap, which fragments and is not given back: RSS wandered between 125
  and 150 MB where 90 MB is enough. A fixed threshold keeps every large block in its own
  mapping, returned to the system when freed.
- Small blocks are another matter: after a burst (a thousand connections of a slowloris, five
  hundred concurrent scrapes) glibc keeps the freed pages of its heap and arenas for reuse, and
  RSS stayed at the peak for good (issue 12, item 13). So the minute's full collection is
  followed by ``malloc_trim(0)``, which hands free pages back (``MADV_DONTNEED``) wherever they
  are in the heap; it costs about a millisecond (measured figures in docs/security.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
from typing import Any

# Young collections every 50,000 net new container objects instead of every 700: about one per
# scrape of 10,000 conferences; the older generations keep their default ratios.
GC_THRESHOLDS = (50_000, 10, 10)
# glibc's own initial value; setting it explicitly turns the dynamic adjustment off.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's malloc.h
#: Seconds between the full collections of `PeriodicCollection`.
FULL_COLLECTION_INTERVAL = 60.0


def tune() -> None:
    """Call once, after imports and start-up, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    fix_mmap_threshold()


class PeriodicCollection:
    """A full garbage collection every `interval` seconds on the running loop, from a timer
    (no task: nothing to await or cancel in flight); `stop()` at shutdown."""

    def __init__(self, interval: float = FULL_COLLECTION_INTERVAL) -> None:
        self.interval = interval
        self.runs = 0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._run)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _run(self) -> None:
        gc.collect()
        release_free_memory()
        self.runs += 1
        self.start()


def release_free_memory() -> bool:
    """glibc's ``malloc_trim(0)``: free pages of every arena go back to the system. True when
    something was released; False elsewhere (musl, macOS) or when nothing was."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


def _libc_function(name: str) -> Any:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def fix_mmap_threshold() -> bool:
    """True when glibc took the setting; False elsewhere (musl, macOS) or when the operator set
    MALLOC_MMAP_THRESHOLD_ in the environment, which then wins."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
