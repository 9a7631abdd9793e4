"""The server process's garbage-collector settings: no long pauses for what startup built.

CPython's cyclic collector walks every tracked object of the oldest generation on each full
collection. After startup a server with 100 agents holds ~400,000 such objects (the imported
libraries, every agent's discord.py client and caches, the channel actors), so a full collection
stopped the event loop for 250-330 ms every few seconds under load: every tool call in flight
waited for it (the swarm benchmark's p99 showed it as spikes). Nothing built at startup is
garbage, so once the agents are up :func:`freeze_startup_heap` collects once and moves every
surviving object to the permanent generation (:func:`gc.freeze`), which collections skip; the
objects made afterwards are still collected as usual. Only the server process does this
(``mcp-discord serve``); code that runs ``serve`` in-process (tests) keeps the defaults.

The young generations are collected less often too (:data:`THRESHOLDS`, set at start by
:func:`tune_collector`): with CPython's default of a collection every 700 net allocations, a
server with thousands of calls in flight walked the same live objects of those calls over and
over -- in the swarm benchmark (100 agents, ``send_message`` at 500-1000/s, see docs/performance.md)
the collector took 20-45 % of the server's CPU; with these thresholds 2-17 %, and the server's CPU
per message fell from 3.2 to 1.8 ms at 1000/s offered. A young collection then walks some tens
of thousands of objects: a few ms at a load the server carries; under overload, with a backlog of
calls in flight, a middle-generation collection has taken up to ~400 ms. What a cycle holds is
freed a little later, which costs a few MB at most.

:func:`freeze_when_ready` is the task ``serve`` runs: it waits until every agent is READY (or
``settle`` seconds, whichever is first: a slow or failing agent must not leave the heap unfrozen)
and freezes once.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

import anyio

_log = logging.getLogger("mcp_edge.heap")

THRESHOLDS = (20_000, 20, 20)
"""``gc.set_threshold`` for the server process: allocations before a young collection, young
collections before a middle one, middle ones before a full one (CPython: 700, 10, 10)."""

SETTLE = 60.0
"""Seconds after start at which the heap is frozen even if some agent is not READY yet."""


def tune_collector() -> None:
    """Collect the young generations less often (:data:`THRESHOLDS`)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_startup_heap() -> int:
    """Collect once, then exempt every live object from later collections; how many moved."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    _log.info(
        "froze %d startup objects out of the garbage collector's walks (%.0f ms)",
        frozen,
        (time.perf_counter() - started) * 1000,
    )
    return frozen


async def freeze_when_ready(
    ready: Callable[[], bool], *, settle: float = SETTLE, poll: float = 0.5
) -> None:
    """Freeze the heap once ``ready()`` holds, or after ``settle`` seconds."""
    with anyio.move_on_after(settle):
        while not ready():  # noqa: ASYNC110 -- readiness is a snapshot, not an event
            await anyio.sleep(poll)
    freeze_startup_heap()
