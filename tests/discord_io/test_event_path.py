"""Events end to end: real DiscordIO -> EventHub -> SQLite log, across gateway faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest
from tests.discord_io.agent_helpers import make_agent, running

from actors.event_hub import EventHub, open_event_hub
from actors.store import EventRecord, open_store
from discord_io.agent_client import AgentClient
from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

BOT = "herald"


@attrs.define
class EventPath:
    """One agent's DiscordIO feeding a hub over a real Store, and a reader of its log."""

    sandbox: Sandbox
    hub: EventHub
    agent: AgentClient
    channel_id: int
    alice: int
    records: list[EventRecord] = attrs.field(factory=list)
    cursor: int | None = None

    def post(self, *contents: str) -> list[int]:
        """Alice posts; the ids Discord gave the messages."""
        return [
            self.sandbox.inject_message(self.channel_id, text, author_id=self.alice).id
            for text in contents
        ]

    async def read_until(self, done: Callable[[list[EventRecord]], bool]) -> None:
        """Follow the log with long-polls until ``done(records)`` holds."""
        with anyio.fail_after(20, reason="the event log never got there"):
            while not done(self.records):
                page = await self.hub.wait_for_events(BOT, self.cursor, timeout=5)
                self.records.extend(page.events)
                self.cursor = page.next_cursor

    def logged_ids(self) -> list[int]:
        return [
            int(r.payload["message"]["id"])
            for r in self.records
            if r.type == "message_created" and r.channel_id == self.channel_id
        ]

    async def wait_readies(self, count: int) -> None:
        with anyio.fail_after(10, reason=f"no READY number {count}"):
            while self.agent.statistics().readies < count:  # noqa: ASYNC110 - no event to await
                await anyio.sleep(0.01)
        await self.agent.wait_ready(10)


@asynccontextmanager
async def event_path(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[EventPath]:
    alice = next(u for u in sandbox.state.users.values() if u.username == "alice")
    ports: dict[str, AgentClient] = {}
    async with open_store(tmp_path / "events.db", prune_interval=None) as store:
        async with open_event_hub(store, ports) as hub:
            agent = make_agent(sandbox, BOT, sink=hub.sink)
            ports[BOT] = agent
            async with running(agent):
                yield EventPath(sandbox, hub, agent, sandbox.channel_id("general"), alice.id)


def in_order_once(posted: list[int], logged: list[int]) -> None:
    """Every posted message is in the log exactly once, in posting order."""
    assert len(logged) == len(set(logged)), "a message was logged twice"
    assert [mid for mid in logged if mid in set(posted)] == posted


async def test_failed_resume_is_backfilled_exactly_once_in_order(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """INVALID_SESSION(false): messages posted before the new READY come back by REST."""
    async with event_path(sandbox, tmp_path) as path:
        posted = path.post("before 1", "before 2")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
        assert sandbox.invalidate_session(BOT, resumable=False) >= 1
        posted += path.post(*(f"while away {i}" for i in range(130)))  # two pages of history
        await path.wait_readies(2)
        posted += path.post("after 1", "after 2")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
        stats = path.hub.statistics()
    in_order_once(posted, path.logged_ids())
    assert stats.backfills >= 1
    assert stats.backfilled >= 130  # every "while away" came by REST (live ones may too)
    assert stats.dropped_at_intake == 0


async def test_dead_client_restart_is_backfilled(sandbox: Sandbox, tmp_path: Path) -> None:
    """A close code discord.py gives up on: a new client IDENTIFYs; the gap is fetched."""
    async with event_path(sandbox, tmp_path) as path:
        posted = path.post("before")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
        assert sandbox.close_gateway(BOT, 4010) >= 1
        posted += path.post(*(f"while dead {i}" for i in range(5)))
        await path.wait_readies(2)
        posted += path.post("after")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
    in_order_once(posted, path.logged_ids())


async def test_resumed_session_replays_without_backfill(sandbox: Sandbox, tmp_path: Path) -> None:
    """A cut socket resumes: Discord replays what was missed; nothing is fetched or doubled."""
    async with event_path(sandbox, tmp_path) as path:
        posted = path.post("before")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
        assert sandbox.drop_gateway(BOT) == 1
        posted += path.post("while away 1", "while away 2")
        await path.read_until(lambda records: any(r.type == "gateway_resumed" for r in records))
        posted += path.post("after")
        await path.read_until(lambda _: set(posted) <= set(path.logged_ids()))
        stats = path.hub.statistics()
    in_order_once(posted, path.logged_ids())
    assert stats.backfills == 0
