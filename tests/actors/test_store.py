"""The Store: group commit, durability (reopen, kill -9), outbox, schedules, event log."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import Reply, open_mailbox
from actors import store as store_module
from actors._store_schema import LATEST_VERSION, NONCE_MAX_LENGTH, agent_tag
from actors.store import (
    Accepted,
    AppendSends,
    InvalidPayloadError,
    MarkDelivered,
    NewEvent,
    NewSend,
    ScheduleState,
    SendState,
    StoreActor,
    StoreClosedError,
    StoreHandle,
    StoreMsg,
    StoreOpenError,
    StoreWriteError,
    UnknownRowError,
    nonce_for,
    open_store,
)

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Both backends on the real clock (autojump would see thread waits as idle time)."""
    return request.param, {}


@attrs.define
class FakeClock:
    """A wall clock the test moves by hand."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def payload(n: int) -> dict[str, Any]:
    return {"content": f"message {n}", "embeds": [], "allowed_mentions": {"parse": []}}


def wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_append_gives_ordered_rows_with_nonces() -> None:
    """Appended sends come back pending, in acceptance order, each with a short unique nonce."""
    async with open_store(":memory:", timeout=10) as store:
        rows = [(await store.append("alice", 10 + n % 2, payload(n))).row for n in range(6)]
        assert [row.id for row in rows] == sorted(row.id for row in rows)
        assert all(row.state is SendState.PENDING and row.attempts == 0 for row in rows)
        assert len({row.nonce for row in rows}) == 6
        assert all(len(row.nonce) <= NONCE_MAX_LENGTH for row in rows)
        assert rows[0].payload == payload(0)
        assert await store.pending() == tuple(rows)
        assert await store.pending("alice", 11) == tuple(rows[1::2])
        assert await store.pending("bob") == ()
        assert await store.pending(after_id=rows[3].id, limit=1) == (rows[4],)


def test_nonce_scheme_is_deterministic_short_and_per_agent() -> None:
    """The nonce is agent tag + base-36 id: stable, at most 25 chars even for 2**63 - 1."""
    assert nonce_for("s", "alice", 35) == agent_tag("s", "alice") + "z"
    assert nonce_for("s", "alice", 36) == agent_tag("s", "alice") + "10"
    assert nonce_for("s", "alice", 7) == nonce_for("s", "alice", 7)
    assert nonce_for("s", "alice", 7) != nonce_for("s", "bob", 7)
    assert nonce_for("s", "alice", 7) != nonce_for("t", "alice", 7)
    assert len(nonce_for("s", "a" * 100, 2**63 - 1)) <= NONCE_MAX_LENGTH


async def test_many_concurrent_tells_commit_in_few_transactions() -> None:
    """300 sends told at once are written in a handful of batches, not 300 transactions."""
    async with open_store(":memory:", timeout=10, capacity=512) as store:
        async with anyio.create_task_group() as tg:
            for n in range(300):
                send = NewSend("alice", 1, payload(n))
                tg.start_soon(store.handle.tell, AppendSends((send,)))
        stats = await store.statistics()
        assert stats.pending_outbox == 300
        assert stats.messages == 301  # the statistics query rides in the last batch
        assert 2 <= stats.batches <= 10  # at most batch_limit (256) messages per transaction
        assert stats.average_batch_size >= 30
        assert stats.rows_written == 300
        pending = await store.pending()
        assert sorted(row.payload["content"] for row in pending) == sorted(
            f"message {n}" for n in range(300)
        )
        assert [row.id for row in pending] == sorted(row.id for row in pending)


async def test_batch_limit_one_commits_every_message_alone() -> None:
    """With batch_limit=1 every message is its own transaction (the unbatched baseline)."""
    async with open_store(":memory:", timeout=10, batch_limit=1) as store:
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(store.handle.tell, AppendSends((NewSend("a", 1, payload(n)),)))
        stats = await store.statistics()
        assert stats.batches == stats.messages == 21
        assert stats.largest_batch == 1


async def test_concurrent_asks_are_answered_after_a_shared_commit() -> None:
    """Concurrent appends each get their own row back; the rows share few commits."""
    results: dict[int, int] = {}
    async with open_store(":memory:", timeout=10) as store:

        async def one(n: int) -> None:
            results[n] = (await store.append("alice", 1, payload(n))).row.id

        async with anyio.create_task_group() as tg:
            for n in range(100):
                tg.start_soon(one, n)
        stats = await store.statistics()
    assert len(set(results.values())) == 100
    assert stats.batches < 100


async def test_file_store_survives_close_and_reopen(tmp_path: Path) -> None:
    """Rows written to a file are all there, in order, after the store closes and reopens."""
    path = tmp_path / "data" / "store.db"
    path.parent.mkdir()
    async with open_store(path, timeout=10) as store:
        first = [(await store.append(f"agent{n % 3}", n % 5, payload(n))).row for n in range(30)]
        await store.mark_delivered(first[0].id, 111)
    assert wal_bytes(path) == 0  # checkpointed on close
    async with open_store(path, timeout=10) as store:
        pending = await store.pending()
        assert pending == tuple(first[1:])
        delivered = await store.get(first[0].id)
        assert delivered is not None
        assert (delivered.state, delivered.message_id) == (SendState.DELIVERED, 111)
        assert delivered.nonce == first[0].nonce
        again = (await store.append("agent0", 1, payload(99))).row
        assert again.id > first[-1].id
        assert again.nonce[:10] == first[0].nonce[:10]  # agent0: same salt, same tag


async def test_closing_the_handle_commits_queued_tells(tmp_path: Path) -> None:
    """Writes still queued when the Handle closes are committed before the store ends."""
    path = tmp_path / "store.db"
    async with open_store(path, timeout=10, capacity=128) as store:
        for n in range(100):
            store.handle.tell_nowait(AppendSends((NewSend("a", 1, payload(n)),)))
        store.close()
    async with open_store(path, timeout=10) as store:
        assert len(await store.pending()) == 100


async def test_calls_after_close_raise_store_closed() -> None:
    """A call on a closed store says so instead of hanging."""
    async with open_store(":memory:", timeout=10) as store:
        store.close()
        with pytest.raises(StoreClosedError):
            await store.append("a", 1, payload(0))


async def test_idempotency_key_returns_the_existing_row(tmp_path: Path) -> None:
    """A key used again by the same agent returns the first row; other agents are separate."""
    path = tmp_path / "store.db"
    async with open_store(path, timeout=10) as store:
        first = await store.append("alice", 1, payload(1), idempotency_key="k1")
        again = await store.append("alice", 1, payload(2), idempotency_key="k1")
        other = await store.append("bob", 1, payload(3), idempotency_key="k1")
        assert not first.duplicate
        assert again.duplicate
        assert not other.duplicate
        assert again.row == first.row
        assert other.row.id != first.row.id
        both = await store.append_many(
            [NewSend("carol", 1, payload(4), "k2"), NewSend("carol", 1, payload(5), "k2")]
        )
        assert [a.duplicate for a in both] == [False, True]
        assert both[0].row == both[1].row
    async with open_store(path, timeout=10) as store:
        after_restart = await store.append("alice", 1, payload(6), idempotency_key="k1")
        assert after_restart.duplicate
        assert after_restart.row.id == first.row.id
        assert len(await store.pending()) == 3


async def test_state_transitions_and_attempts() -> None:
    """Attempts count up; failed and cancelled are only reached from pending; delivered wins."""
    async with open_store(":memory:", timeout=10) as store:
        a, b, c = [(await store.append("x", 1, payload(n))).row for n in range(3)]
        row = await store.record_attempt(a.id, "503 from Discord")
        row = await store.record_attempt(a.id)
        assert (row.attempts, row.last_error) == (2, "503 from Discord")
        assert (await store.mark_delivered(a.id, 42)).state is SendState.DELIVERED
        assert (await store.mark_failed(a.id, "too late")).state is SendState.DELIVERED
        assert (await store.cancel(a.id)).state is SendState.DELIVERED
        failed = await store.mark_failed(b.id, "50013 missing permissions")
        assert (failed.state, failed.last_error) == (SendState.FAILED, "50013 missing permissions")
        assert (await store.cancel(c.id)).state is SendState.CANCELLED
        counts = await store.outbox_counts()
        assert (counts.pending, counts.delivered, counts.failed, counts.cancelled) == (0, 1, 1, 1)
        assert counts.oldest_pending_age is None
        with pytest.raises(UnknownRowError):
            await store.mark_delivered(999, 1)
        assert await store.get(999) is None


async def test_a_failing_message_does_not_spoil_its_batch() -> None:
    """One bad message in a batch fails alone; the others in the same transaction commit."""
    async with open_store(":memory:", timeout=10) as store:
        await store.handle.tell(MarkDelivered(12345, 1))  # unknown row, nobody asking
        good = await store.append("a", 1, payload(1))
        with pytest.raises(InvalidPayloadError):
            await store.append("a", 1, {"content": object()})
        with pytest.raises(InvalidPayloadError):
            await store.append("a", 1, {"content": float("nan")})
        assert await store.pending() == (good.row,)
        stats = await store.statistics()
        assert stats.failed_messages == 3


async def test_one_bad_message_in_a_batch_fails_alone() -> None:
    """In one transaction of good and bad messages, only the bad ones fail."""
    replies = [Reply[tuple[Accepted, ...]]() for _ in range(9)]
    async with open_store(":memory:", timeout=10) as store:
        for n, reply in enumerate(replies):
            content: object = object() if n in (3, 7) else f"message {n}"
            store.handle.tell_nowait(
                AppendSends((NewSend("a", 1, {"content": content}),), reply=reply)
            )
        store.handle.tell_nowait(MarkDelivered(424242, 1))
        stats = await store.statistics()
        assert stats.batches == 1
        for n, reply in enumerate(replies):
            if n in (3, 7):
                with pytest.raises(InvalidPayloadError):
                    await reply.wait()
            else:
                assert (await reply.wait())[0].row.payload == {"content": f"message {n}"}
        assert [r.payload["content"] for r in await store.pending()] == [
            f"message {n}" for n in range(9) if n not in (3, 7)
        ]
        assert stats.failed_messages == 3
        assert stats.rows_written == 7


async def test_bad_messages_are_refused_when_built() -> None:
    """Sends and events validate their fields at construction."""
    with pytest.raises(ValueError, match="agent"):
        NewSend("", 1, {})
    with pytest.raises(TypeError):
        NewSend("a", "1", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NewEvent("a", "MESSAGE_CREATE", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idempotency_key"):
        NewSend("a", 1, {}, "")


async def test_take_due_moves_due_rows_into_the_outbox_in_order() -> None:
    """Due schedules move by (send_at, id) into the outbox once; later ones stay scheduled."""
    clock = FakeClock()
    t0 = clock.now
    async with open_store(":memory:", timeout=10, clock=clock) as store:
        late = await store.schedule("a", 1, payload(3), t0 + 30)
        second = await store.schedule("a", 1, payload(2), t0 + 10)
        first = await store.schedule("a", 2, payload(1), t0 + 5)
        tie = await store.schedule("b", 1, payload(4), t0 + 10)
        assert await store.next_due() == t0 + 5
        assert await store.take_due() == ()
        assert [r.id for r in await store.scheduled("a")] == [
            first.row.id,
            second.row.id,
            late.row.id,
        ]
        clock.now = t0 + 10
        moved = await store.take_due()
        assert [r.scheduled_id for r in moved] == [first.row.id, second.row.id, tie.row.id]
        assert [r.payload for r in moved] == [payload(1), payload(2), payload(4)]
        assert await store.pending() == moved
        assert await store.take_due() == ()
        rows = await store.scheduled("a", everything=True)
        states = {r.id: (r.state, r.outbox_id) for r in rows}
        assert states[first.row.id] == (ScheduleState.QUEUED, moved[0].id)
        assert states[late.row.id] == (ScheduleState.SCHEDULED, None)
        assert [r.id for r in await store.scheduled("a")] == [late.row.id]
        cancelled = await store.cancel_scheduled(late.row.id)
        assert cancelled.state is ScheduleState.CANCELLED
        assert (await store.cancel_scheduled(first.row.id)).state is ScheduleState.QUEUED
        clock.now = t0 + 100
        assert await store.take_due() == ()
        assert await store.next_due() is None
        with pytest.raises(UnknownRowError):
            await store.cancel_scheduled(999)


async def test_take_due_with_limit_and_schedule_idempotency() -> None:
    """take_due honours its limit; a schedule key used twice returns the first schedule."""
    clock = FakeClock()
    async with open_store(":memory:", timeout=10, clock=clock) as store:
        one = await store.schedule("a", 1, payload(1), clock.now - 1, idempotency_key="daily")
        dup = await store.schedule("a", 1, payload(9), clock.now - 1, idempotency_key="daily")
        assert dup.duplicate
        assert dup.row == one.row
        await store.schedule("a", 1, payload(2), clock.now - 1)
        assert len(await store.take_due(limit=1)) == 1
        assert len(await store.take_due(limit=5)) == 1
        with pytest.raises(InvalidPayloadError):
            await store.schedule("a", 1, payload(3), float("inf"))


async def test_take_due_that_fails_midway_moves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """If moving due rows fails part way, none moved: no half-moved schedule, no duplicate."""
    clock = FakeClock()
    async with open_store(":memory:", timeout=10, clock=clock) as store:
        for n in range(3):
            await store.schedule("a", 1, payload(n), clock.now - 1)
        real = store_module._Database._insert_send

        def flaky(self: Any, agent: str, channel_id: int, text: str, *a: Any, **k: Any) -> Any:
            if "message 1" in text:  # the second of the three due rows
                raise sqlite3.OperationalError("disk I/O error")
            return real(self, agent, channel_id, text, *a, **k)

        monkeypatch.setattr(store_module._Database, "_insert_send", flaky)
        with pytest.raises(StoreWriteError):
            await store.take_due()
        assert await store.pending() == ()
        assert len(await store.scheduled("a")) == 3
        monkeypatch.setattr(store_module._Database, "_insert_send", real)
        moved = await store.take_due()
        assert [r.payload for r in moved] == [payload(n) for n in range(3)]
        assert await store.scheduled("a") == ()


async def test_a_failed_commit_fails_the_batch_and_the_store_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When SQLite refuses a whole transaction, every asker in it gets StoreWriteError."""
    async with open_store(":memory:", timeout=10) as store:
        real = store_module._Database.run_batch

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(store_module._Database, "run_batch", refuse)
        with pytest.raises(StoreWriteError, match="disk is full"):
            await store.append("a", 1, payload(0))
        monkeypatch.setattr(store_module._Database, "run_batch", real)
        await store.append("a", 1, payload(1))
        assert [r.payload for r in await store.pending()] == [payload(1)]
        assert (await store.statistics()).failed_messages == 1


async def test_scheduled_sends_survive_restart_without_loss_or_duplicates(tmp_path: Path) -> None:
    """Across a restart, a due schedule moves exactly once and a waiting one is kept."""
    clock = FakeClock()
    path = tmp_path / "store.db"
    async with open_store(path, timeout=10, clock=clock) as store:
        await store.schedule("a", 1, payload(1), clock.now + 5)
        await store.schedule("a", 1, payload(2), clock.now + 50)
    clock.now += 10
    async with open_store(path, timeout=10, clock=clock) as store:
        moved = await store.take_due()
        assert [r.payload for r in moved] == [payload(1)]
    async with open_store(path, timeout=10, clock=clock) as store:
        assert await store.take_due() == ()
        assert [r.payload for r in await store.pending()] == [payload(1)]
        assert [r.payload for r in await store.scheduled("a")] == [payload(2)]


async def test_event_cursors_increase_and_reads_filter() -> None:
    """Cursors grow within every agent's log; reads after a cursor honour types and channels."""
    async with open_store(":memory:", timeout=10) as store:
        events = [
            NewEvent("a", "MESSAGE_CREATE", {"n": 0}, channel_id=1),
            NewEvent("b", "MESSAGE_CREATE", {"n": 1}, channel_id=1),
            NewEvent("a", "TYPING_START", {"n": 2}, channel_id=2),
            NewEvent("a", "MESSAGE_CREATE", {"n": 3}, channel_id=2),
            NewEvent("a", "MESSAGE_DELETE", {"n": 4}, channel_id=1),
        ]
        cursors = await store.append_events(events)
        assert list(cursors) == sorted(cursors)
        assert len(set(cursors)) == 5
        page = await store.read_events("a")
        assert [e.payload["n"] for e in page.events] == [0, 2, 3, 4]
        assert page.next_cursor == cursors[-1]
        assert not page.missed
        page = await store.read_events("a", cursors[0], limit=2)
        assert [e.payload["n"] for e in page.events] == [2, 3]
        assert page.next_cursor == cursors[3]
        page = await store.read_events("a", types=["MESSAGE_CREATE"])
        assert [e.payload["n"] for e in page.events] == [0, 3]
        page = await store.read_events("a", channel_ids=[1], types=["MESSAGE_DELETE"])
        assert [e.payload["n"] for e in page.events] == [4]
        empty = await store.read_events("a", cursors[-1])
        assert empty.events == ()
        assert empty.next_cursor == cursors[-1]
        assert await store.latest_cursor("a") == cursors[4]
        assert await store.latest_cursor("b") == cursors[1]
        assert await store.latest_cursor("nobody") == cursors[4]  # the high-water mark
        more = await store.append_events([NewEvent("b", "MESSAGE_CREATE", {"n": 5})])
        assert more[0] > cursors[-1]
        with pytest.raises(InvalidPayloadError):
            await store.read_events("a", limit=0)


async def test_latest_messages_gives_each_channels_newest_logged_message() -> None:
    """Per channel, the highest message id among the agent's message_created events only."""
    big = 1_200_000_000_000_000_000  # past 2**53: compared as integers, not as text or floats

    def msg(agent: str, channel_id: int, mid: int) -> NewEvent:
        payload = {"message": {"id": str(big + mid), "channel_id": str(channel_id)}}
        return NewEvent(agent, "message_created", payload, channel_id)

    async with open_store(":memory:", timeout=10) as store:
        assert await store.latest_messages("a") == {}
        await store.append_events(
            [
                msg("a", 1, 9),
                msg("a", 1, 10),
                msg("a", 1, 7),  # logged later (a backfill), but older
                msg("a", 2, 3),
                msg("b", 1, 50),  # another agent
                NewEvent("a", "message_deleted", {"id": str(big + 99)}, 1),
                NewEvent("a", "reaction_added", {"message_id": str(big + 98)}, 2),
                NewEvent("a", "gateway_ready", {"session_id": "s"}),
            ]
        )
        assert await store.latest_messages("a") == {1: big + 10, 2: big + 3}
        assert await store.latest_messages("b") == {1: big + 50}
        assert await store.latest_messages("nobody") == {}


async def test_pruning_applies_the_retention_periods() -> None:
    """Old events and old finished sends are pruned; pending sends never are."""
    clock = FakeClock()
    t0 = clock.now
    options: dict[str, Any] = {"event_retention": 60.0, "outbox_retention": 600.0}
    async with open_store(":memory:", timeout=10, clock=clock, **options) as store:
        old = await store.append_events([NewEvent("a", "X", {"n": 0}), NewEvent("a", "X", {})])
        done = (await store.append("a", 1, payload(0))).row
        await store.mark_delivered(done.id, 5)
        waiting = (await store.append("a", 1, payload(1))).row
        clock.now = t0 + 30
        fresh = await store.append_events([NewEvent("a", "X", {"n": 2}, received_at=t0 + 30)])
        clock.now = t0 + 61
        result = await store.prune()
        assert (result.events, result.sends, result.scheduled) == (2, 0, 0)
        page = await store.read_events("a")
        assert [e.cursor for e in page.events] == list(fresh)
        assert page.missed
        after = await store.read_events("a", old[-1])
        assert not after.missed
        assert [e.cursor for e in after.events] == list(fresh)
        clock.now = t0 + 1_000
        result = await store.prune()
        assert (result.events, result.sends) == (1, 1)
        assert await store.pending() == (waiting,)
        assert await store.latest_cursor("a") == fresh[0]  # cursors are never reused
        assert (await store.append_events([NewEvent("a", "X", {})]))[0] > fresh[0]
        stats = await store.statistics()
        assert stats.prunes == 2
        assert stats.pruned_rows == 4
        assert stats.oldest_pending_age == pytest.approx(1_000)


async def test_outbox_ids_and_nonces_are_never_reused(tmp_path: Path) -> None:
    """After every row is delivered, pruned and the store reopened, new ids are still new."""
    clock = FakeClock()
    path = tmp_path / "store.db"
    async with open_store(path, timeout=10, clock=clock, outbox_retention=1.0) as store:
        old = [(await store.append("a", 1, payload(n))).row for n in range(3)]
        for row in old:
            await store.mark_delivered(row.id, 1000 + row.id)
        clock.now += 10
        assert (await store.prune()).sends == 3
    async with open_store(path, timeout=10, clock=clock) as store:
        new = (await store.append("a", 1, payload(9))).row
    assert new.id > max(row.id for row in old)
    assert new.nonce not in {row.nonce for row in old}


async def test_periodic_prune_loop_runs() -> None:
    """With a prune interval the actor prunes on its own."""
    clock = FakeClock()
    options: dict[str, Any] = {"event_retention": 1.0, "prune_interval": 0.01}
    async with open_store(":memory:", timeout=10, clock=clock, **options) as store:
        await store.append_events([NewEvent("a", "X", {})])
        clock.now += 5
        with anyio.fail_after(10):
            while True:
                if not (await store.statistics()).event_rows:
                    break
                await anyio.sleep(0.01)
        assert (await store.statistics()).prunes >= 1


async def test_statistics_report_sizes_and_ages(tmp_path: Path) -> None:
    """Statistics give pending count, oldest age by the injected clock, rows and file size."""
    clock = FakeClock()
    async with open_store(tmp_path / "s.db", timeout=10, clock=clock) as store:
        empty = await store.statistics()
        assert empty.pending_outbox == 0
        assert empty.oldest_pending_age is None
        await store.append("a", 1, payload(0))
        clock.now += 12.5
        await store.append("a", 1, payload(1))
        await store.schedule("a", 1, payload(2), clock.now + 60)
        await store.append_events([NewEvent("a", "X", {})])
        stats = await store.statistics()
        assert stats.pending_outbox == 2
        assert stats.oldest_pending_age == pytest.approx(12.5)
        assert (stats.scheduled, stats.event_rows) == (1, 1)
        assert stats.db_size_bytes > 0
        assert (stats.synchronous, stats.schema_version) == ("FULL", LATEST_VERSION)
        counts = await store.outbox_counts("a")
        assert counts.pending == 2
        assert counts.oldest_pending_age == pytest.approx(12.5)
        assert (await store.outbox_counts("nobody")).pending == 0


async def test_migrations_build_the_schema_in_an_empty_file(tmp_path: Path) -> None:
    """A new file gets every migration once; reopening applies none again."""
    path = tmp_path / "fresh.db"
    path.touch()
    async with open_store(path, timeout=10):
        pass
    async with open_store(path, timeout=10):
        pass
    with sqlite3.connect(path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert {"outbox", "scheduled", "events", "store_meta"} <= tables
    assert mode == "wal"


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer release is not opened (nor changed)."""
    path = tmp_path / "future.db"
    async with open_store(path, timeout=10):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', 0)")
    conn.close()
    with pytest.raises(StoreOpenError, match="newer than this release"):
        async with open_store(path, timeout=10):
            pass


@pytest.mark.parametrize("kind", ["missing directory", "a directory", "not a database"])
async def test_bad_paths_fail_with_a_clear_error(tmp_path: Path, kind: str) -> None:
    """A path that cannot hold the database fails at start, naming the path."""
    if kind == "missing directory":
        path = tmp_path / "nope" / "store.db"
    elif kind == "a directory":
        path = tmp_path
    else:
        path = tmp_path / "junk.db"
        path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreOpenError) as info:
        async with open_store(path, timeout=10):
            pass
    assert str(path) in str(info.value)


async def test_a_second_store_cannot_open_a_locked_path(tmp_path: Path) -> None:
    """While one store runs, a second one on the same path fails instead of sharing it."""
    path = tmp_path / "store.db"
    async with open_store(path, timeout=10) as store:
        await store.append("a", 1, payload(0))
        with pytest.raises(StoreOpenError, match="locked"):
            async with open_store(path, timeout=10, busy_timeout=0.05):
                pass
        assert len(await store.pending()) == 1


_KILL_CHILD = textwrap.dedent(
    """
    import sys, anyio
    from actors.store import open_store

    async def main(path):
        async with open_store(path, timeout=30, synchronous=sys.argv[2]) as store:
            async def writer(w):
                n = 0
                while True:
                    acc = await store.append(f"agent{w}", w, {"content": f"{w}:{n}"})
                    print(acc.row.id, acc.row.payload["content"], flush=True)
                    n += 1
            async with anyio.create_task_group() as tg:
                for w in range(8):
                    tg.start_soon(writer, w)

    anyio.run(main, sys.argv[1])
    """
)


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_every_acknowledged_append_survives_kill_9(tmp_path: Path, synchronous: str) -> None:
    """A server SIGKILLed mid-stream loses no acknowledged row; the file stays consistent."""
    path = tmp_path / "store.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    acked: dict[int, str] = {}
    with subprocess.Popen(
        [sys.executable, "-c", _KILL_CHILD, str(path), synchronous],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as child:
        deadline = time.monotonic() + 60
        try:
            assert child.stdout is not None
            while len(acked) < 400 and time.monotonic() < deadline:
                line = child.stdout.readline()
                if not line:
                    break
                row_id, content = line.split()
                acked[int(row_id)] = content
            os.kill(child.pid, signal.SIGKILL)  # while the writers keep going
            child.wait(timeout=30)
            for line in child.stdout:  # acknowledged before the kill landed
                row_id, content = line.split()
                acked[int(row_id)] = content
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert len(acked) >= 400, "the child did not acknowledge enough rows in time"

    async def check() -> None:
        async with open_store(path, timeout=30) as store:
            pending = await store.pending()
        stored = {row.id: row.payload["content"] for row in pending}
        assert [row.id for row in pending] == sorted(stored)
        missing = {i: c for i, c in acked.items() if stored.get(i) != c}
        assert not missing, f"{len(missing)} acknowledged rows were lost"

    anyio.run(check)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from(["a", "b"]), st.integers(1, 3)),
        st.tuples(st.just("deliver"), st.integers(0, 40), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_pending_rows_keep_acceptance_order(ops: list[tuple[str, Any, int]]) -> None:
    """Whatever is appended and delivered, pending lists are the model's, in acceptance order."""

    async def scenario() -> None:
        model: list[tuple[int, str, int]] = []
        async with open_store(":memory:", timeout=10, prune_interval=None) as store:
            accepted: list[int] = []
            for op, a, b in ops:
                if op == "append":
                    row = (await store.append(a, b, {"n": len(accepted)})).row
                    accepted.append(row.id)
                    model.append((row.id, a, b))
                elif accepted:
                    target = accepted[a % len(accepted)]
                    await store.mark_delivered(target, 1)
                    model = [m for m in model if m[0] != target]
            assert [(r.id, r.agent, r.channel_id) for r in await store.pending()] == model
            for agent in ("a", "b"):
                for channel in (1, 2, 3):
                    expected = [m[0] for m in model if m[1:] == (agent, channel)]
                    assert [r.id for r in await store.pending(agent, channel)] == expected
            assert accepted == sorted(accepted)

    anyio.run(scenario)


async def test_store_handle_is_a_thin_typed_wrapper() -> None:
    """StoreHandle wraps the actor's Handle: raw messages and helpers reach the same actor."""
    async with open_store(":memory:", timeout=10, name="my-store") as store:
        assert isinstance(store, StoreHandle)
        assert store.handle.name == "my-store"
        accepted: tuple[Accepted, ...] = await store.handle.ask(
            lambda reply: AppendSends((NewSend("a", 1, {}),), reply=reply), timeout=10
        )
        assert await store.pending() == (accepted[0].row,)


def test_store_options_are_checked() -> None:
    """A synchronous level other than FULL or NORMAL, or a batch limit below 1, is refused."""
    handle, mailbox = open_mailbox[StoreMsg]("store", 1)
    with mailbox, handle:
        with pytest.raises(ValueError, match="synchronous"):
            StoreActor(mailbox, ":memory:", synchronous="OFF")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="batch_limit"):
            StoreActor(mailbox, ":memory:", batch_limit=0)


async def test_actor_runs_in_a_task_group_and_reports_open_errors(tmp_path: Path) -> None:
    """Started with tg.start, the actor serves its mailbox; a bad path fails the start."""
    handle, mailbox = open_mailbox[StoreMsg]("store", 8)
    with mailbox:
        async with anyio.create_task_group() as tg:
            await tg.start(StoreActor(mailbox, tmp_path / "s.db", prune_interval=None).run)
            store = StoreHandle(handle, timeout=10)
            await store.append("a", 1, {})
            store.close()
    bad_handle, bad_mailbox = open_mailbox[StoreMsg]("store", 8)
    with bad_mailbox, bad_handle, pytest.raises(StoreOpenError):
        await StoreActor(bad_mailbox, tmp_path / "missing" / "s.db").run()
