"""Helpers for the AgentClient tests: build agents for sandbox bots, run them, read events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from actors.discord_port import AgentCapabilities, DiscordEvent
from discord_io.agent_client import AgentClient
from discord_io.sandbox import Sandbox

E = TypeVar("E")

ALL = AgentCapabilities(message_content=True, members=True)
"""Everything but presences: what the default seed's ``scribe`` is granted."""

GRANTED: dict[str, AgentCapabilities] = {
    "scribe": ALL,
    "herald": AgentCapabilities(message_content=True),
    "sentinel": AgentCapabilities(),
    "courier": AgentCapabilities(members=True),
}
"""For each bot of the default seed, the capabilities its privileged intents allow."""


def make_agent(
    sandbox: Sandbox,
    bot: str,
    *,
    capabilities: AgentCapabilities | None = None,
    sink: MemoryObjectSendStream[DiscordEvent] | None = None,
    token: str | None = None,
    **options: Any,
) -> AgentClient:
    """An agent for the sandbox bot ``bot``, with the sandbox's fast timings."""
    options.setdefault("identify_delay", 0.0)
    options.setdefault("guild_ready_timeout", 0.1)
    options.setdefault("backoff", 0.05)
    return AgentClient(
        agent=bot,
        token=token if token is not None else sandbox.bot(bot).token,
        capabilities=capabilities or GRANTED.get(bot, AgentCapabilities()),
        sink=sink,
        **options,
    )


@asynccontextmanager
async def running(agent: AgentClient, *, ready: bool = True) -> AsyncIterator[AgentClient]:
    """Run ``agent`` in a task group for the block (READY first, unless ``ready`` is False).

    A single failure comes out as itself, not wrapped in an ExceptionGroup.
    """
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            try:
                if ready:
                    await agent.wait_ready(10)
                yield agent
            finally:
                agent.stop()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


def event_stream(
    capacity: int = 1000,
) -> tuple[MemoryObjectSendStream[DiscordEvent], MemoryObjectReceiveStream[DiscordEvent]]:
    return anyio.create_memory_object_stream[DiscordEvent](capacity)


async def next_event(
    events: MemoryObjectReceiveStream[DiscordEvent],
    kind: type[E],
    where: Callable[[E], bool] = lambda _: True,
    *,
    timeout: float = 5.0,
) -> E:
    """The next event of type ``kind`` for which ``where`` holds (others are skipped)."""
    with anyio.fail_after(timeout, reason=f"no {kind.__name__} arrived"):
        async for event in events:
            if isinstance(event, kind) and where(event):
                return event
    raise AssertionError(f"the event stream ended before a {kind.__name__}")
