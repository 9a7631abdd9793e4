"""The EventHub: durable log with cursors, long-poll, subscribers, intake gaps and backfill."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from actors._event_payload import event_payload
from actors.discord_port import (
    ChannelCreated,
    ChannelInfo,
    DiscordEvent,
    DiscordForbidden,
    DiscordUnavailable,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    MessageCreated,
    MessageInfo,
    ReactionAdded,
)
from actors.event_hub import (
    BACKFILL_INCOMPLETE,
    EVENTS_LOST,
    EventHub,
    open_event_hub,
    snowflake_at,
)
from actors.store import EventPage, EventRecord, NewEvent, open_store

pytestmark = pytest.mark.anyio

AGENT = "ada"
C1, C2, C3 = 9001, 9002, 9003
GUILD = 77
T0 = 1_700_000_000.0
BASE = snowflake_at(T0)


# ----------------------------------------------------------------------------- doubles


@attrs.define
class MemoryLog:
    """An in-memory ``EventLog`` with the Store's read semantics (no threads: virtual time)."""

    records: list[EventRecord] = attrs.field(factory=list)
    high_water: int = 0
    pruned_through: int = 0
    appends: int = 0
    fail_next: int = 0

    async def append_events(
        self, events: Iterable[NewEvent], *, timeout: float | None = None
    ) -> tuple[int, ...]:
        await anyio.lowlevel.checkpoint()
        if self.fail_next:
            from actors.store import StoreWriteError

            self.fail_next -= 1
            raise StoreWriteError("disk full")
        self.appends += 1
        cursors = []
        for event in events:
            self.high_water += 1
            assert event.received_at is not None
            self.records.append(
                EventRecord(
                    self.high_water,
                    event.agent,
                    event.type,
                    event.channel_id,
                    event.payload,
                    event.received_at,
                )
            )
            cursors.append(self.high_water)
        return tuple(cursors)

    async def read_events(
        self,
        agent: str,
        after: int = 0,
        *,
        limit: int = 100,
        types: Iterable[str] | None = None,
        channel_ids: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> EventPage:
        await anyio.lowlevel.checkpoint()
        type_set = None if types is None else set(types)
        channel_set = None if channel_ids is None else set(channel_ids)
        chosen = tuple(
            r
            for r in self.records
            if r.agent == agent
            and r.cursor > after
            and (type_set is None or r.type in type_set)
            and (channel_set is None or r.channel_id in channel_set)
        )[:limit]
        full = len(chosen) == limit
        next_cursor = chosen[-1].cursor if full else max(after, self.high_water)
        return EventPage(chosen, next_cursor, missed=after < self.pruned_through)

    async def latest_messages(self, agent: str, *, timeout: float | None = None) -> dict[int, int]:
        await anyio.lowlevel.checkpoint()
        latest: dict[int, int] = {}
        for r in self.of_type("message_created", agent):
            assert r.channel_id is not None
            mid = int(r.payload["message"]["id"])
            latest[r.channel_id] = max(latest.get(r.channel_id, 0), mid)
        return latest

    def of_type(self, type_: str, agent: str = AGENT) -> list[EventRecord]:
        return [r for r in self.records if r.type == type_ and r.agent == agent]


def message(mid: int, channel_id: int = C1, *, guild_id: int | None = GUILD) -> MessageInfo:
    """A message whose id is ``BASE + mid`` (ids order like Discord's snowflakes)."""
    return MessageInfo(
        id=BASE + mid,
        channel_id=channel_id,
        guild_id=guild_id,
        author_id=5,
        author_name="human",
        author_bot=False,
        content=f"m{mid}",
        created_at=dt.datetime(2023, 11, 14, tzinfo=dt.UTC),
    )


def created(mid: int, channel_id: int = C1) -> MessageCreated:
    return MessageCreated(AGENT, message(mid, channel_id))


@attrs.define
class FakePort:
    """Channel history as Discord pages it (``after``: the next 100, newest first)."""

    history: dict[int, list[MessageInfo]] = attrs.field(factory=dict)
    calls: list[tuple[int, int | None]] = attrs.field(factory=list)
    delay: float = 0.0
    errors: list[Exception] = attrs.field(factory=list)
    gate: anyio.Event | None = None
    """When set, every fetch waits for it."""

    def post(self, *mids: int, channel_id: int = C1) -> list[MessageInfo]:
        posted = [message(mid, channel_id, guild_id=None) for mid in mids]
        self.history.setdefault(channel_id, []).extend(posted)
        self.history[channel_id].sort(key=lambda m: m.id)
        return posted

    async def fetch_messages(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]:
        assert before is None
        assert around is None
        assert 1 <= limit <= 100
        self.calls.append((channel_id, after))
        if self.delay:
            await anyio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        if self.errors:
            raise self.errors.pop(0)
        msgs = self.history.get(channel_id, [])
        at = bisect.bisect_right([m.id for m in msgs], after or 0)
        return list(reversed(msgs[at : at + limit]))


def wall() -> float:
    return T0


@asynccontextmanager
async def running_hub(
    log: Any = None, port: FakePort | None = None, **options: Any
) -> AsyncIterator[EventHub]:
    ports = {} if port is None else {AGENT: port}
    options.setdefault("clock", wall)
    async with open_event_hub(MemoryLog() if log is None else log, ports, **options) as hub:
        yield hub


async def settle(hub: EventHub) -> None:
    """Wait until the hub has logged everything queued and no backfill is running."""
    while True:
        await anyio.wait_all_tasks_blocked()
        stats = hub.statistics()
        if stats.mailbox.depth == 0 and stats.held == 0 and not _backfilling(hub):
            await anyio.wait_all_tasks_blocked()
            if hub.statistics().mailbox.depth == 0:
                return
        await anyio.sleep(0.01)


def fill_up(hub: EventHub, event: DiscordEvent) -> None:
    """Send ``event`` until the hub's mailbox refuses one."""
    for _ in range(hub.statistics().mailbox.capacity + 2):
        try:
            hub.sink.send_nowait(event)
        except anyio.WouldBlock:
            return
    raise AssertionError("the mailbox never filled up")


def _backfilling(hub: EventHub) -> bool:
    return any(state.backfilling for state in hub._agents.values())


def message_ids(log: MemoryLog, channel_id: int | None = None) -> list[int]:
    return [
        int(r.payload["message"]["id"]) - BASE
        for r in log.of_type("message_created")
        if channel_id is None or r.channel_id == channel_id
    ]


# ----------------------------------------------------------------------------- the log


async def test_cursors_increase_and_a_backlog_returns_at_once() -> None:
    """Logged events get strictly increasing cursors; a long-poll with a backlog returns at once."""
    log = MemoryLog()
    async with running_hub(log) as hub:
        for mid in range(1, 6):
            hub.sink.send_nowait(created(mid))
        await settle(hub)
        start = anyio.current_time()
        page = await hub.wait_for_events(AGENT, None, timeout=60)
        assert anyio.current_time() - start < 1
    cursors = [r.cursor for r in page.events]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 5
    assert page.next_cursor == cursors[-1]
    assert [r.payload["message"]["content"] for r in page.events] == [f"m{i}" for i in range(1, 6)]
    assert not page.missed


async def test_pages_follow_next_cursor_exactly_once() -> None:
    """Reading with limit and next_cursor sees every event once, in order."""
    log = MemoryLog()
    async with running_hub(log) as hub:
        for mid in range(1, 8):
            hub.sink.send_nowait(created(mid))
        await settle(hub)
        seen: list[int] = []
        cursor: int | None = None
        while True:
            page = await hub.wait_for_events(AGENT, cursor, timeout=0, limit=3)
            if not page.events:
                break
            seen.extend(r.cursor for r in page.events)
            cursor = page.next_cursor
    assert seen == [r.cursor for r in log.records]


async def test_payload_is_json_with_snowflakes_as_strings() -> None:
    """The payload leaves out the agent, writes ids as strings and datetimes as ISO text."""
    log = MemoryLog()
    async with running_hub(log) as hub:
        hub.sink.send_nowait(created(1))
        hub.sink.send_nowait(ReactionAdded(AGENT, C1, BASE + 1, GUILD, 5, "👍"))
        await settle(hub)
    msg, reaction = log.records
    assert "agent" not in msg.payload
    assert msg.type == "message_created"
    assert msg.channel_id == C1
    assert msg.payload["message"]["id"] == str(BASE + 1)
    assert msg.payload["message"]["author_id"] == "5"
    assert msg.payload["message"]["created_at"] == "2023-11-14T00:00:00+00:00"
    assert msg.payload == event_payload(created(1))  # the hub's shortcut writes the same
    assert reaction.type == "reaction_added"
    assert reaction.payload == {
        "channel_id": str(C1),
        "message_id": str(BASE + 1),
        "guild_id": str(GUILD),
        "user_id": "5",
        "emoji": "👍",
    }


# ----------------------------------------------------------------------------- long-poll


async def test_long_poll_wakes_on_a_new_event() -> None:
    """A waiter with nothing after its cursor returns when the next event is logged."""
    async with running_hub() as hub:
        hub.sink.send_nowait(created(1))
        await settle(hub)
        first = await hub.wait_for_events(AGENT, None, timeout=0)
        result: list[EventPage] = []

        async def wait() -> None:
            result.append(await hub.wait_for_events(AGENT, first.next_cursor, timeout=30))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await settle(hub)
            assert hub.statistics().waiters == 1
            await anyio.sleep(0.05)
            hub.sink.send_nowait(created(2))
        assert hub.statistics().waiters == 0
    (page,) = result
    assert [r.payload["message"]["content"] for r in page.events] == ["m2"]
    assert page.next_cursor == page.events[-1].cursor > first.next_cursor


async def test_long_poll_times_out_empty_with_the_same_cursor() -> None:
    """With nothing new the long-poll waits out its timeout and returns the cursor it got."""
    async with running_hub() as hub:
        hub.sink.send_nowait(created(1))
        await settle(hub)
        cursor = (await hub.wait_for_events(AGENT, None, timeout=0)).next_cursor
        start = anyio.current_time()
        page = await hub.wait_for_events(AGENT, cursor, timeout=0.2)
        elapsed = anyio.current_time() - start
    assert page.events == ()
    assert page.next_cursor == cursor
    assert not page.missed
    assert 0.2 <= elapsed < 5


async def test_long_poll_filters_by_type_and_channel() -> None:
    """A filtered waiter ignores other events and wakes for a matching one."""
    async with running_hub() as hub:
        result: list[EventPage] = []

        async def wait() -> None:
            result.append(
                await hub.wait_for_events(
                    AGENT, None, timeout=30, types={"message_created"}, channel_ids={C2}
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await settle(hub)
            hub.sink.send_nowait(created(1, C1))
            hub.sink.send_nowait(ReactionAdded(AGENT, C2, BASE + 1, GUILD, 5, "x"))
            hub.sink.send_nowait(MessageCreated("bob", message(2, C2)))
            await settle(hub)
            assert not result
            assert hub.statistics().waiters == 1
            hub.sink.send_nowait(created(3, C2))
    (page,) = result
    assert [(r.type, r.channel_id, r.agent) for r in page.events] == [
        ("message_created", C2, AGENT)
    ]


async def test_long_poll_rejects_unknown_types_and_negative_cursors() -> None:
    """Unknown filter types and negative cursors are ValueErrors naming the problem."""
    async with running_hub() as hub:
        with pytest.raises(ValueError, match="unknown event type"):
            await hub.wait_for_events(AGENT, None, timeout=0, types={"message_sent"})
        with pytest.raises(ValueError, match="cursor"):
            await hub.wait_for_events(AGENT, -1, timeout=0)


# ----------------------------------------------------------------------------- subscribers


async def test_full_subscriber_drops_are_counted_and_never_block_the_hub() -> None:
    """A subscriber that does not read loses records (counted); the log still gets them all."""
    log = MemoryLog()
    async with running_hub(log) as hub:
        with (
            hub.subscribe(AGENT, buffer=2) as slow,
            hub.subscribe(AGENT, types={"reaction_added"}) as reactions,
        ):
            for mid in range(1, 11):
                hub.sink.send_nowait(created(mid))
            hub.sink.send_nowait(ReactionAdded(AGENT, C1, BASE + 1, GUILD, 5, "x"))
            await settle(hub)
            stats = hub.statistics()
            assert len(log.records) == 11
            assert [s.dropped for s in stats.subscribers] == [9, 0]
            assert stats.subscriber_drops == 9
            assert slow.receive_nowait().cursor == log.records[0].cursor
            assert reactions.receive_nowait().type == "reaction_added"
            with pytest.raises(anyio.WouldBlock):
                reactions.receive_nowait()
        stats = hub.statistics()
        assert stats.subscribers == ()
        assert stats.subscriber_drops == 9


async def test_subscriptions_end_when_the_hub_stops() -> None:
    """``async for`` over a subscription ends after the hub stops and its queue drains."""
    async with running_hub() as hub:
        sub = hub.subscribe(AGENT)
        hub.sink.send_nowait(created(1))
        await settle(hub)
    with sub:
        got = [record.type async for record in sub]
    assert got == ["message_created"]


# ----------------------------------------------------------------------------- backfill


async def test_failed_resume_backfill_recovers_exactly_the_missing_messages_in_order() -> None:
    """READY after a disconnect fetches every missed message once, before newer live ones."""
    port = FakePort(delay=0.01)
    log = MemoryLog()
    async with running_hub(log, port) as hub:
        for mid in (1, 2):
            port.post(mid)
            hub.sink.send_nowait(created(mid))
        port.post(1_010, channel_id=C2)
        hub.sink.send_nowait(created(1_010, C2))
        await settle(hub)
        hub.sink.send_nowait(GatewayDisconnected(AGENT))
        port.post(*range(3, 251))  # 248 missed in C1: three pages
        port.post(1_011, 1_012, channel_id=C2)
        port.post(251)
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", (GUILD,)))
        await anyio.sleep(0.015)  # the backfill is under way: live events are held
        hub.sink.send_nowait(created(250))  # seen live as well as fetched
        hub.sink.send_nowait(created(251))
        await settle(hub)
        stats = hub.statistics()
    assert message_ids(log, C1) == list(range(1, 252))
    assert message_ids(log, C2) == [1_010, 1_011, 1_012]
    assert stats.backfilled == 249 + 2
    assert stats.backfills == 1
    assert stats.duplicates == 2
    assert stats.held == 0
    assert [c for c, _ in port.calls].count(C1) == 3
    ready = log.of_type("gateway_ready")[0]
    backfilled = [r for r in log.of_type("message_created") if r.payload.get("backfilled")]
    assert all(r.cursor > ready.cursor for r in backfilled)
    assert backfilled[0].payload["message"]["guild_id"] == str(GUILD)  # filled in from live


async def test_resumed_session_needs_no_backfill() -> None:
    """Disconnect then RESUMED: Discord replayed the gap, nothing is fetched."""
    port = FakePort()
    log = MemoryLog()
    async with running_hub(log, port) as hub:
        hub.sink.send_nowait(created(1))
        hub.sink.send_nowait(GatewayDisconnected(AGENT))
        hub.sink.send_nowait(GatewayResumed(AGENT))
        await settle(hub)
    assert port.calls == []
    assert [r.type for r in log.records] == [
        "message_created",
        "gateway_disconnected",
        "gateway_resumed",
    ]


async def test_intake_drop_leaves_a_gap_the_backfill_closes() -> None:
    """Messages dropped by a full mailbox come back by backfill, once each, in order."""
    port = FakePort()
    log = MemoryLog()
    async with running_hub(log, port, capacity=2) as hub:
        dropped = 0
        for mid in range(1, 8):
            port.post(mid)
            try:
                hub.sink.send_nowait(created(mid))
            except anyio.WouldBlock:
                dropped += 1
        assert dropped >= 3
        await settle(hub)
        stats = hub.statistics()
    assert message_ids(log) == list(range(1, 8))
    assert stats.dropped_at_intake == dropped
    assert stats.backfilled == dropped
    assert stats.lost == 0
    assert log.of_type(EVENTS_LOST) == []


async def test_dropped_events_history_cannot_recover_are_logged_as_lost() -> None:
    """A dropped reaction is a visible ``events_lost`` record, not a silent hole."""
    log = MemoryLog()
    async with running_hub(log, FakePort(), capacity=1) as hub:
        dropped = 0
        for user in range(5):
            try:
                hub.sink.send_nowait(ReactionAdded(AGENT, C1, BASE + 1, GUILD, user, "x"))
            except anyio.WouldBlock:
                dropped += 1
        await settle(hub)
        stats = hub.statistics()
    assert dropped >= 3
    assert stats.lost == dropped
    (lost,) = log.of_type(EVENTS_LOST)
    assert lost.payload == {"count": dropped, "types": {"reaction_added": dropped}}


async def test_dropped_ready_still_triggers_a_backfill() -> None:
    """Losing the READY itself at intake still backfills every watched channel."""
    port = FakePort()
    log = MemoryLog()
    async with running_hub(log, port, capacity=1) as hub:
        hub.sink.send_nowait(created(1))
        await settle(hub)
        port.post(2, 3)
        fill_up(hub, GatewayDisconnected(AGENT))
        with pytest.raises(anyio.WouldBlock):
            hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        await settle(hub)
    assert message_ids(log) == [1, 2, 3]
    assert log.of_type("gateway_ready") == []


async def test_backfill_page_limit_is_recorded_as_incomplete() -> None:
    """A channel more pages behind than allowed gets what fits and a backfill_incomplete."""
    port = FakePort()
    log = MemoryLog()
    async with running_hub(log, port, backfill_max_pages=1) as hub:
        hub.sink.send_nowait(created(1))
        await settle(hub)
        port.post(*range(2, 152))
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        await settle(hub)
        stats = hub.statistics()
    assert message_ids(log) == list(range(1, 102))
    (gap,) = log.of_type(BACKFILL_INCOMPLETE)
    assert gap.channel_id == C1
    assert gap.payload["after_id"] == str(BASE + 101)
    assert "pages" in gap.payload["reason"]
    assert stats.backfill_incomplete == 1


async def test_backfill_retries_outages_and_gives_up_on_forbidden() -> None:
    """A 5xx is retried; a 403 leaves that channel incomplete and the others recovered."""
    port = FakePort()
    log = MemoryLog()
    async with running_hub(log, port, backfill_retry_delay=0.01) as hub:
        hub.sink.send_nowait(created(1, C1))
        hub.sink.send_nowait(created(1_000, C2))
        await settle(hub)
        port.post(2, channel_id=C1)
        port.post(1_001, channel_id=C2)
        port.errors = [
            DiscordUnavailable("502 from Discord"),
            DiscordForbidden("read the history", permission="read_message_history"),
        ]
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        await settle(hub)
    assert message_ids(log, C1) == [1]  # C1: 502, then 403 -> given up
    assert message_ids(log, C2) == [1_000, 1_001]
    (gap,) = log.of_type(BACKFILL_INCOMPLETE)
    assert gap.channel_id == C1
    assert "read_message_history" in gap.payload["reason"]


async def test_watched_and_created_channels_are_backfilled() -> None:
    """Channels given to watch() or announced by CHANNEL_CREATE are fetched after a READY."""
    port = FakePort()
    log = MemoryLog()
    new_channel = BASE + 500
    async with running_hub(log, port) as hub:
        await hub.watch(AGENT, C3, after=BASE + 40)
        hub.sink.send_nowait(ChannelCreated(AGENT, ChannelInfo(new_channel, 0, GUILD, "new", None)))
        await settle(hub)
        port.post(41, 42, channel_id=C3)
        port.post(501, channel_id=new_channel)
        hub.sink.send_nowait(GatewayReady(AGENT, "s1", (GUILD,)))
        await settle(hub)
    assert message_ids(log, C3) == [41, 42]
    assert message_ids(log, new_channel) == [501]


async def test_store_failure_turns_the_batch_into_a_gap() -> None:
    """A batch the Store refuses is fetched again by backfill, so its messages survive."""
    port = FakePort()
    log = MemoryLog(fail_next=1)
    async with running_hub(log, port) as hub:
        port.post(1, 2)
        hub.sink.send_nowait(created(1))
        hub.sink.send_nowait(created(2))
        await settle(hub)
        stats = hub.statistics()
    assert message_ids(log) == [1, 2]
    assert stats.store_failures == 1
    assert stats.backfilled == 2


async def test_hold_overflow_during_backfill_is_fetched_by_the_next_one() -> None:
    """Live events beyond hold_limit during a backfill become a gap the next backfill closes."""
    port = FakePort(delay=0.05)
    log = MemoryLog()
    async with running_hub(log, port, hold_limit=1) as hub:
        port.post(1)
        hub.sink.send_nowait(created(1))
        await settle(hub)
        port.post(2, 3)
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        await anyio.sleep(0.01)  # the backfill waits on its first page
        for mid in (4, 5, 6):
            port.post(mid)
            hub.sink.send_nowait(created(mid))
        await settle(hub)
        stats = hub.statistics()
    assert message_ids(log) == [1, 2, 3, 4, 5, 6]
    assert stats.backfills == 2
    assert stats.lost == 0


async def test_one_agents_backfill_does_not_hold_another_agents_events() -> None:
    """While ada backfills, bob's events are logged at once."""
    gate = anyio.Event()
    port = FakePort(gate=gate)
    log = MemoryLog()
    async with running_hub(log, port) as hub:
        hub.sink.send_nowait(created(1))
        await settle(hub)
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        hub.sink.send_nowait(created(2))
        hub.sink.send_nowait(MessageCreated("bob", message(3)))
        await anyio.wait_all_tasks_blocked()
        page = await hub.wait_for_events("bob", None, timeout=1)
        assert len(page.events) == 1
        assert hub.statistics().held == 1
        gate.set()
        await settle(hub)
    assert message_ids(log) == [1, 2]


async def test_a_port_that_crashes_leaves_the_channel_incomplete_not_the_hub_dead() -> None:
    """An unexpected error from the port is recorded as backfill_incomplete; logging goes on."""
    port = FakePort(errors=[RuntimeError("boom")])
    log = MemoryLog()
    async with running_hub(log, port) as hub:
        hub.sink.send_nowait(created(1))
        hub.sink.send_nowait(GatewayReady(AGENT, "s2", ()))
        hub.sink.send_nowait(created(2))
        await settle(hub)
    assert message_ids(log) == [1, 2]
    (gap,) = log.of_type(BACKFILL_INCOMPLETE)
    assert gap.payload["reason"] == "RuntimeError: boom"


# ----------------------------------------------------------------------------- the real Store


@attrs.define
class WallClock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("anyio_backend", [("asyncio", {}), ("trio", {})], ids=["asyncio", "trio"])
async def test_real_store_cursors_wakeups_and_retention(tmp_path: Path) -> None:
    """Against SQLite: monotonic cursors, a woken long-poll, and a pruned cursor reports missed."""
    clock = WallClock()
    async with open_store(
        tmp_path / "events.db", clock=clock, event_retention=60.0, prune_interval=None
    ) as store:
        async with open_event_hub(store, clock=clock) as hub:
            for mid in (1, 2, 3):
                hub.sink.send_nowait(created(mid))
            first = await hub.wait_for_events(AGENT, None, timeout=5)
            while len(first.events) < 3:
                more = await hub.wait_for_events(AGENT, first.next_cursor, timeout=5)
                first = attrs.evolve(more, events=first.events + more.events)
            cursors = [r.cursor for r in first.events]
            assert cursors == sorted(set(cursors))

            async with anyio.create_task_group() as tg:
                woken: list[EventPage] = []

                async def wait() -> None:
                    woken.append(await hub.wait_for_events(AGENT, cursors[-1], timeout=10))

                tg.start_soon(wait)
                await anyio.sleep(0.05)
                hub.sink.send_nowait(created(4))
            assert [r.payload["message"]["content"] for r in woken[0].events] == ["m4"]

            clock.now += 3600  # everything so far is past retention
            hub.sink.send_nowait(created(5))
            await hub.wait_for_events(AGENT, woken[0].next_cursor, timeout=5)
            pruned = await store.prune()
            assert pruned.events == 4
            stale = await hub.wait_for_events(AGENT, cursors[0], timeout=0)
            fresh = await hub.wait_for_events(AGENT, None, timeout=0)
    assert stale.missed
    assert [r.payload["message"]["content"] for r in stale.events] == ["m5"]
    assert not fresh.missed
    assert [r.payload["message"]["content"] for r in fresh.events] == ["m5"]


@pytest.mark.parametrize("anyio_backend", [("asyncio", {}), ("trio", {})], ids=["asyncio", "trio"])
async def test_restarted_hub_backfills_from_where_the_log_ended(tmp_path: Path) -> None:
    """A new hub on the same Store resumes each logged channel after its newest message."""
    path = tmp_path / "events.db"
    port = FakePort()
    async with open_store(path, clock=wall, prune_interval=None) as store:
        async with open_event_hub(store, {AGENT: port}, clock=wall) as hub:
            for mid, channel_id in ((1, C1), (2, C1), (1_010, C2)):
                port.post(mid, channel_id=channel_id)
                hub.sink.send_nowait(created(mid, channel_id))
            await settle(hub)
    # Down: the process is gone; these are posted meanwhile, and never seen live.
    port.post(3, 4, channel_id=C1)
    port.post(1_011, channel_id=C2)
    port.calls.clear()
    async with open_store(path, clock=wall, prune_interval=None) as store:
        async with open_event_hub(store, {AGENT: port}, clock=wall) as hub:
            assert hub.statistics().watched_channels == 2
            hub.sink.send_nowait(GatewayReady(AGENT, "s2", (GUILD,)))
            await settle(hub)
        page = await store.read_events(AGENT, limit=1000)  # the hub has drained: all logged
    logged = [r for r in page.events if r.type == "message_created"]
    ids = [(r.channel_id, int(r.payload["message"]["id"]) - BASE) for r in logged]
    assert ids == [(C1, 1), (C1, 2), (C2, 1_010), (C1, 3), (C1, 4), (C2, 1_011)]
    assert [r.payload.get("backfilled", False) for r in logged] == [False] * 3 + [True] * 3
    assert port.calls == [(C1, BASE + 2), (C2, BASE + 1_010)]  # from where the log ended
