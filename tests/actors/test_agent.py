"""AgentActor and AgentHandle: sync vs queued, busy, replay, budgets, reads, the real Store."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from tests.actors.test_channel import (
    AGENT,
    BrokenOutbox,
    FakePort,
    LoseAnswer,
    MemoryOutbox,
    assert_exactly_once_in_order,
    eventually,
    forbidden,
    rate_limited,
    server_error,
)
from trio.testing import MockClock

from actors import SendState, StoreWriteError, open_store
from actors.agent import (
    AgentActor,
    AgentBusyError,
    AgentHandle,
    AgentOptions,
    ReceiptState,
    SendFailedError,
)
from actors.channel import OutboxStore
from actors.discord_port import ConnectionState, DiscordForbidden, DiscordUnavailable
from actors.egress import EgressBudget, EgressBudgetExceededError

anyio_test = pytest.mark.anyio
trio_test = pytest.mark.trio  # long virtual waits: trio's autojump clock only

FAST = AgentOptions(base_backoff=0.1, max_backoff=2.0, ready_wait=5.0, default_timeout=10.0)


@attrs.define(eq=False)
class Running:
    actor: AgentActor
    handle: AgentHandle
    port: FakePort
    store: Any


@asynccontextmanager
async def agent(
    port: FakePort | None = None,
    store: OutboxStore | None = None,
    *,
    egress: EgressBudget | None = None,
    **options: Any,
) -> AsyncIterator[Running]:
    port = port or FakePort()
    store = store if store is not None else MemoryOutbox()
    actor = AgentActor(port, store, egress, attrs.evolve(FAST, **options))
    async with anyio.create_task_group() as tg:
        await tg.start(actor.run)
        try:
            yield Running(actor, actor.handle, port, store)
        finally:
            actor.stop()


@anyio_test
async def test_sync_send_returns_a_delivered_receipt() -> None:
    """delivery=sync replies after Discord accepted: state delivered, with the message id."""
    async with agent() as a:
        receipt = await a.handle.send_message(10, "hello")
    assert receipt.state is ReceiptState.DELIVERED
    assert receipt.message_id == a.port.delivered[10][0].message_id
    assert receipt.nonce == a.store.rows[receipt.outbox_id].nonce
    assert a.store.rows[receipt.outbox_id].state is SendState.DELIVERED


@trio_test
async def test_queued_send_replies_after_the_durable_write(autojump_clock: MockClock) -> None:
    """delivery=queued replies once the row is written, before Discord has it."""
    port = FakePort(latency=5.0)
    async with agent(port) as a:
        start = anyio.current_time()
        receipt = await a.handle.send_message(10, "later", delivery="queued")
        assert anyio.current_time() == start
        assert receipt.state is ReceiptState.QUEUED
        assert receipt.message_id is None
        assert a.store.rows[receipt.outbox_id].state is SendState.PENDING
        await eventually(lambda: a.store.rows[receipt.outbox_id].state is SendState.DELIVERED)
    assert port.contents(10) == ["later"]


@trio_test
async def test_sync_past_its_deadline_is_queued_not_failed(autojump_clock: MockClock) -> None:
    """Discord down: a sync send is told 'queued' at its deadline and goes out on recovery."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with agent(port) as a:
        first = await a.handle.send_message(10, "one", timeout=3.0)
        second = await a.handle.send_message(10, "two", delivery="queued")
        assert first.state is ReceiptState.QUEUED
        assert second.state is ReceiptState.QUEUED
        assert port.calls == []
        port.set_state(ConnectionState.READY)
        third = await a.handle.send_message(10, "three", timeout=60.0)
        assert third.state is ReceiptState.DELIVERED
    assert port.contents(10) == ["one", "two", "three"]


@trio_test
async def test_reads_fail_fast_while_not_ready(autojump_clock: MockClock) -> None:
    """A read while the gateway is down raises DiscordUnavailable at once, naming the state."""
    port = FakePort(state=ConnectionState.RESUMING)
    async with agent(port) as a:
        start = anyio.current_time()
        with pytest.raises(DiscordUnavailable, match=r"resuming.*sends are still accepted"):
            await a.handle.read_messages(10)
        assert anyio.current_time() == start
        port.set_state(ConnectionState.READY)
        await a.handle.send_message(10, "x")
        (msg,) = await a.handle.read_messages(10)
    assert msg.content == "x"


@trio_test
async def test_full_channel_makes_the_caller_wait_then_busy(autojump_clock: MockClock) -> None:
    """A full channel queue: the caller waits its whole deadline, then AgentBusyError, unwritten."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with agent(port, channel_capacity=1, max_backlog=1) as a:
        await a.handle.send_message(10, "fills the backlog", delivery="queued")
        await anyio.sleep(1)
        # the intake holds one Accept (blocked on the backlog), the mailbox another
        async with anyio.create_task_group() as tg:
            for i in range(2):
                tg.start_soon(partial(a.handle.send_message, 10, f"waits{i}", timeout=600.0))
            await anyio.sleep(1)
            start = anyio.current_time()
            with pytest.raises(AgentBusyError, match=r"NOT accepted; retry after \d+ s") as info:
                await a.handle.send_message(10, "too many", delivery="queued", timeout=7.0)
            assert anyio.current_time() - start == pytest.approx(7.0)
            assert info.value.retry_after >= 1
            assert not any(r.payload["content"] == "too many" for r in a.store.rows.values())
            port.set_state(ConnectionState.READY)
    assert port.contents(10)[0] == "fills the backlog"
    assert sorted(port.contents(10)[1:]) == ["waits0", "waits1"]


@trio_test
async def test_send_never_taken_by_its_deadline_is_busy(autojump_clock: MockClock) -> None:
    """Queued behind a full backlog until its deadline: busy, and never sent afterwards."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with agent(port, channel_capacity=8, max_backlog=1) as a:
        await a.handle.send_message(10, "fills the backlog", delivery="queued")
        start = anyio.current_time()
        with pytest.raises(AgentBusyError, match="NOT accepted"):
            await a.handle.send_message(10, "gives up", delivery="queued", timeout=5.0)
        assert anyio.current_time() - start == pytest.approx(5.0)
        port.set_state(ConnectionState.READY)
        last = await a.handle.send_message(10, "after", timeout=60.0)
        assert last.state is ReceiptState.DELIVERED
    assert port.contents(10) == ["fills the backlog", "after"]
    assert [r.payload["content"] for r in a.store.rows.values()] == ["fills the backlog", "after"]


@trio_test
async def test_swarm_of_senders_under_faults_exactly_once_in_order(
    autojump_clock: MockClock,
) -> None:
    """Many senders, several channels, every fault kind: each acknowledged send once, in order."""
    rng = random.Random(11)
    port = FakePort()
    channels = [10, 11, 12, 13]
    for channel in channels:
        for _ in range(25):
            port.script(
                channel,
                rng.choice([server_error(), rate_limited(rng.uniform(0.1, 3.0)), LoseAnswer()]),
            )
    acked: dict[int, list[int]] = {c: [] for c in channels}
    async with agent(port) as a:

        async def sender(name: str) -> None:
            for i in range(20):
                channel = rng.choice(channels)
                receipt = await a.handle.send_message(
                    channel,
                    f"{name}-{i}",
                    delivery=rng.choice(["sync", "queued"]),
                    timeout=rng.choice([0.5, 30.0]),
                )
                acked[channel].append(receipt.outbox_id)

        async def outages() -> None:
            for _ in range(3):
                await anyio.sleep(rng.uniform(1, 10))
                port.set_state(ConnectionState.DISCONNECTED)
                await anyio.sleep(rng.uniform(1, 30))
                port.set_state(ConnectionState.READY)

        async with anyio.create_task_group() as tg:
            for name in "abcdef":
                tg.start_soon(sender, name)
            tg.start_soon(outages)
        total = sum(len(v) for v in acked.values())
        await eventually(lambda: sum(len(port.delivered[c]) for c in channels) >= total, 3600)
        await anyio.sleep(60)
    for channel in channels:
        assert_exactly_once_in_order(port, a.store, channel, acked[channel])
    assert sum(len(port.delivered[c]) for c in channels) == 120
    assert len(port.calls) >= 120 + 4 * 25  # every scripted fault was met


@trio_test
async def test_global_limit_holds_across_all_channels(autojump_clock: MockClock) -> None:
    """20 busy channels: the agent never makes more than 50 sends in any one second."""
    port = FakePort(latency=0.0)
    async with agent(port) as a, anyio.create_task_group() as tg:
        for channel in range(100, 120):
            for i in range(15):
                tg.start_soon(partial(a.handle.send_message, channel, f"m{i}", timeout=600.0))
    await_times = sorted(t for t, _, _ in port.calls)
    assert len(await_times) == 300
    worst = max(
        sum(1 for t in await_times[i:] if t < start + 1.0) for i, start in enumerate(await_times)
    )
    assert worst <= 50
    assert await_times[-1] - await_times[0] >= (300 - 50) / 45 - 0.01


@trio_test
async def test_per_agent_budget_paces_all_channels(autojump_clock: MockClock) -> None:
    """A per-agent budget of 2/s (burst 2): 20 sends over 4 channels take about 9 s."""
    port = FakePort(latency=0.0)
    async with agent(port, budget_rate=2.0, budget_burst=2.0) as a:
        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for channel in range(4):
                for i in range(5):
                    tg.start_soon(partial(a.handle.send_message, channel, f"m{i}", timeout=60.0))
        assert anyio.current_time() - start == pytest.approx(9.0, abs=0.1)


@anyio_test
async def test_permanent_refusal_is_raised_to_a_sync_caller() -> None:
    """A 403 reaches the sync caller as DiscordForbidden; the row is failed."""
    port = FakePort()
    port.script(10, forbidden())
    async with agent(port) as a:
        with pytest.raises(DiscordForbidden):
            await a.handle.send_message(10, "nope", idempotency_key="k")
        with pytest.raises(SendFailedError, match="already failed"):
            await a.handle.send_message(10, "nope", idempotency_key="k")
    assert [r.state for r in a.store.rows.values()] == [SendState.FAILED]


@anyio_test
async def test_idempotency_key_returns_the_first_send() -> None:
    """The same key twice: one message on Discord; the second receipt is a duplicate."""
    async with agent() as a:
        first = await a.handle.send_message(10, "once", idempotency_key="abc")
        again = await a.handle.send_message(10, "once", idempotency_key="abc")
    assert again.duplicate
    assert (again.outbox_id, again.message_id) == (first.outbox_id, first.message_id)
    assert again.state is ReceiptState.DELIVERED
    assert a.port.contents(10) == ["once"]


@anyio_test
async def test_idempotency_key_reused_on_another_channel_sends_nothing_there() -> None:
    """A key reused for another channel returns the first send; nothing goes to the second."""
    async with agent() as a:
        first = await a.handle.send_message(10, "here", idempotency_key="k")
        again = await a.handle.send_message(11, "there", idempotency_key="k")
    assert again.duplicate
    assert (again.channel_id, again.outbox_id) == (10, first.outbox_id)
    assert a.port.contents(10) == ["here"]
    assert a.port.contents(11) == []


@trio_test
async def test_cross_channel_key_while_pending_is_reported_queued(
    autojump_clock: MockClock,
) -> None:
    """Reused on another channel while the first is still pending: queued, delivered once."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with agent(port) as a:
        first = await a.handle.send_message(10, "here", idempotency_key="k", delivery="queued")
        start = anyio.current_time()
        again = await a.handle.send_message(11, "there", idempotency_key="k")
        assert anyio.current_time() == start
        assert again.state is ReceiptState.QUEUED
        assert (again.channel_id, again.outbox_id) == (10, first.outbox_id)
        port.set_state(ConnectionState.READY)
        await eventually(lambda: a.store.rows[first.outbox_id].state is SendState.DELIVERED)
    assert port.contents(10) == ["here"]
    assert port.contents(11) == []


@trio_test
async def test_egress_budget_stops_sends_before_the_fraction(autojump_clock: MockClock) -> None:
    """403s across agents use the egress budget; at the fraction, sends are refused clearly."""
    egress = EgressBudget(limit=10, fraction=0.5, window=600.0)
    port_a, port_b = FakePort(agent="a"), FakePort(agent="b")
    port_a.script(10, forbidden(), forbidden(), forbidden())
    port_b.script(10, forbidden(), forbidden())
    async with agent(port_a, egress=egress) as a, agent(port_b, egress=egress) as b:
        for handle in (a.handle, b.handle):
            for _ in range(2):
                with pytest.raises(DiscordForbidden):
                    await handle.send_message(10, "denied")
        with pytest.raises(DiscordForbidden):
            await a.handle.send_message(10, "denied")
        with pytest.raises(EgressBudgetExceededError, match=r"5 of the 10 invalid") as info:
            await b.handle.send_message(10, "refused before sending")
        assert info.value.retry_after > 500
        with pytest.raises(EgressBudgetExceededError):
            await b.handle.read_messages(10)
        assert len(port_b.calls) == 2
        await anyio.sleep(601)
        receipt = await b.handle.send_message(10, "allowed again")
        assert receipt.state is ReceiptState.DELIVERED


@trio_test
async def test_replay_at_start_before_new_sends(autojump_clock: MockClock) -> None:
    """Pending rows from before a crash go out first, in order; one already posted is deduped."""
    store = MemoryOutbox()
    port = FakePort()
    old = [store.add(AGENT, 10 + i % 2, {"content": f"old{i}"}) for i in range(6)]
    port.post_directly(10, "old0", old[0].nonce)
    async with agent(port, store) as a:
        new = await a.handle.send_message(10, "new", timeout=60)
        await eventually(lambda: all(store.rows[r.id].state is SendState.DELIVERED for r in old))
    assert port.contents(10) == ["old0", "old2", "old4", "new"]
    assert port.contents(11) == ["old1", "old3", "old5"]
    assert_exactly_once_in_order(port, store, 10, [old[0].id, old[2].id, old[4].id, new.outbox_id])


@trio_test
async def test_sweep_wakes_a_channel_whose_actor_was_reaped(autojump_clock: MockClock) -> None:
    """An actor reaped during an outage leaves rows pending; the sweep brings them out."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with agent(port, idle_timeout=30.0, sweep_interval=60.0) as a:
        receipt = await a.handle.send_message(10, "survives reaping", delivery="queued")
        await anyio.sleep(45)
        assert a.actor._channels.statistics().children == 0
        port.set_state(ConnectionState.READY)
        await eventually(lambda: a.store.rows[receipt.outbox_id].state is SendState.DELIVERED, 200)
    assert port.contents(10) == ["survives reaping"]


@trio_test
async def test_sync_send_refused_by_the_store_raises_at_once(autojump_clock: MockClock) -> None:
    """A failed durable write reaches a sync sender at once, not at its deadline."""
    async with agent(store=BrokenOutbox()) as a:
        start = anyio.current_time()
        with pytest.raises(StoreWriteError, match="disk full"):
            await a.handle.send_message(10, "lost", timeout=60.0)
        assert anyio.current_time() == start
        assert a.actor._intake.handing_over == 0


@trio_test
async def test_sync_duplicate_of_an_earlier_delivery_returns_at_once(
    autojump_clock: MockClock,
) -> None:
    """A key delivered before this process (not in the channel's memory): its receipt, at once."""
    store = MemoryOutbox()
    old = store.add(AGENT, 10, {"content": "before"}, key="k")
    store.rows[old.id] = attrs.evolve(old, state=SendState.DELIVERED, message_id=77)
    async with agent(store=store) as a:
        start = anyio.current_time()
        receipt = await a.handle.send_message(10, "before", idempotency_key="k", timeout=60.0)
        assert anyio.current_time() == start
    assert receipt.duplicate
    assert (receipt.state, receipt.message_id) == (ReceiptState.DELIVERED, 77)
    assert a.port.calls == []


# --------------------------------------------------------------------- with the real Store


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@anyio_test
async def test_kill_and_restart_with_the_real_store_delivers_once(tmp_path: Path) -> None:
    """Accepted while Discord is down, killed mid-retry, restarted: each send once, in order."""
    path = tmp_path / "outbox.db"
    discord = FakePort(state=ConnectionState.DISCONNECTED, latency=0.001)
    fast = attrs.evolve(FAST, base_backoff=0.01, max_backoff=0.05, ready_wait=0.05)
    acked: list[int] = []
    with anyio.fail_after(30):
        async with open_store(path, synchronous="NORMAL") as store:
            async with anyio.create_task_group() as tg:
                actor = AgentActor(discord, store, None, fast)
                await tg.start(actor.run)
                for i in range(5):
                    receipt = await actor.handle.send_message(10, f"m{i}", timeout=0.05)
                    assert receipt.state is ReceiptState.QUEUED
                    acked.append(receipt.outbox_id)
                rows = await store.pending(AGENT)
                # Discord took m0 and m1, but their answers were lost before the "kill -9"
                discord.post_directly(10, "m0", rows[0].nonce)
                discord.post_directly(10, "m1", rows[1].nonce)
                tg.cancel_scope.cancel()  # the kill: nothing finishes, nothing is marked
        discord.set_state(ConnectionState.READY)
        discord.script(10, server_error(), LoseAnswer())
        async with open_store(path, synchronous="NORMAL") as store:
            async with anyio.create_task_group() as tg:
                actor = AgentActor(discord, store, None, fast)
                await tg.start(actor.run)
                late = await actor.handle.send_message(10, "after restart", timeout=10)
                assert late.state is ReceiptState.DELIVERED
                acked.append(late.outbox_id)
                while await store.pending(AGENT):  # noqa: ASYNC110 - polls the real Store
                    await anyio.sleep(0.01)
                final = [await store.get(oid) for oid in acked]
                actor.stop()
    assert discord.contents(10) == ["m0", "m1", "m2", "m3", "m4", "after restart"]
    nonces = [p.nonce for p in discord.delivered[10]]
    assert nonces == [row.nonce for row in final if row is not None]
    assert all(row is not None and row.state is SendState.DELIVERED for row in final)
    assert [row.message_id for row in final if row is not None] == [
        p.message_id for p in discord.delivered[10]
    ]
