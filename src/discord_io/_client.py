"""The discord.py Client one agent runs: trimmed caches, and dispatches handed over in-line.

discord.py turns every ``on_<event>`` coroutine into a loose asyncio task per event. This
client defines none: it overrides :meth:`dispatch`, which discord.py calls synchronously from
its gateway parser, and hands ``(event, args)`` to a plain function that translates, puts the
result in a bounded sink with ``send_nowait`` and returns. No task per event, no awaiting.

Caches are cut to what the port needs (it asks Discord by REST, not the cache): no message
cache, no member cache, no member chunking at start-up. Guilds, channels and roles stay cached:
discord.py needs them to build the Message and channel objects its events carry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

_log = logging.getLogger(__name__)

DispatchHook = Callable[[str, tuple[Any, ...]], None]
"""Called for every dispatch with the event name (``message``, ``ready``, ...) and its args."""


class AgentDiscordClient(discord.Client):
    """A ``discord.Client`` whose events go to ``on_dispatch`` synchronously."""

    def __init__(
        self,
        *,
        intents: discord.Intents,
        on_dispatch: DispatchHook,
        identify_delay: float = 5.0,
        guild_ready_timeout: float = 2.0,
        max_ratelimit_timeout: float = 30.0,
        connector: aiohttp.BaseConnector | None = None,
    ) -> None:
        super().__init__(
            connector=connector,
            intents=intents,
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,
            max_ratelimit_timeout=max_ratelimit_timeout,
        )
        self._on_dispatch = on_dispatch
        self._identify_delay = identify_delay

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        super().dispatch(event, *args, **kwargs)  # wait_for() listeners, if any
        try:
            self._on_dispatch(event, args)
        except Exception:  # never into discord.py's gateway loop: record and go on
            _log.exception("handling the %r dispatch failed", event)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait ``identify_delay`` before a re-IDENTIFY (discord.py's default: 5 s)."""
        if not initial and self._identify_delay > 0:
            await asyncio.sleep(self._identify_delay)
