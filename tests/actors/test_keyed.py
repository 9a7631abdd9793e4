"""KeyedSupervisor: one actor per key on demand, idle reaping, crash restarts, shutdown."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import anyio
import attrs
import pytest
import trio
from anyio.abc import TaskStatus

from actors import (
    ActorGoneError,
    ChildSpec,
    KeyedSupervisor,
    Mailbox,
    Reply,
    RestartIntensityError,
    Supervisor,
    SupervisorState,
    TooManyChildrenError,
)

anyio_test = pytest.mark.anyio


@attrs.frozen
class Do:
    value: int
    takes: float = 0.0


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Block:
    until: anyio.Event = attrs.field(repr=False)


@attrs.frozen
class Seen:
    reply: Reply[list[int]] = attrs.field(repr=False)


ChannelMsg = Do | Crash | Block | Seen


@attrs.define(eq=False)
class Record:
    """What all incarnations of all keys did; checks there is never more than one per key."""

    done: defaultdict[str, list[int]] = attrs.field(factory=lambda: defaultdict(list))
    started: defaultdict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    ended: defaultdict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    active: defaultdict[str, int] = attrs.field(factory=lambda: defaultdict(int))
    most_active: int = 0

    def factory(self, key: str, mailbox: Mailbox[ChannelMsg]) -> Channel:
        return Channel(key, mailbox, self)


@attrs.define(eq=False)
class Channel:
    key: str
    mailbox: Mailbox[ChannelMsg]
    record: Record

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        record = self.record
        record.started[self.key].append(anyio.current_time())
        record.active[self.key] += 1
        record.most_active = max(record.most_active, record.active[self.key])
        try:
            task_status.started()
            async for msg in self.mailbox:
                match msg:
                    case Do(value=value, takes=takes):
                        if takes:
                            await anyio.sleep(takes)
                        record.done[self.key].append(value)
                    case Crash():
                        raise ValueError(f"{self.key} was told to crash")
                    case Block(until=until):
                        await until.wait()
                    case Seen(reply=reply):
                        reply.send(list(record.done[self.key]))
        finally:
            record.active[self.key] -= 1
            record.ended[self.key].append(anyio.current_time())


def keyed(record: Record, **options: Any) -> KeyedSupervisor[str, ChannelMsg]:
    return KeyedSupervisor("channels", record.factory, **options)


@anyio_test
async def test_spawns_one_actor_per_key_on_demand() -> None:
    """The first message for a key spawns its actor; later ones reuse it."""
    record = Record()
    sup = keyed(record)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            assert sup.statistics().children == 0
            sup.tell_nowait("a", Do(1))
            await sup.tell("b", Do(2))
            sup.tell_nowait("a", Do(3))
            assert await sup.ask("a", Seen, timeout=5) == [1, 3]
            assert await sup.ask("b", Seen, timeout=5) == [2]
            stats = sup.statistics()
            sup.stop()
    assert (stats.children, stats.spawned) == (2, 2)
    assert {key: len(times) for key, times in record.started.items()} == {"a": 1, "b": 1}
    assert record.most_active == 1


@anyio_test
async def test_each_key_keeps_fifo_order_under_backpressure() -> None:
    """Messages for one key are handled in the order they were accepted, across many keys."""
    record = Record()
    sup = keyed(record, capacity=2)
    rng = random.Random(7)
    sent: defaultdict[str, list[int]] = defaultdict(list)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            for i in range(300):
                key = f"k{rng.randrange(5)}"
                await sup.tell(key, Do(i, takes=rng.choice([0, 0, 0.001])))
                sent[key].append(i)
            sup.stop()
    assert dict(record.done) == dict(sent)
    assert sup.statistics().state is SupervisorState.STOPPED


@pytest.mark.trio
async def test_idle_child_is_reaped_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A child with nothing arriving for idle_timeout is stopped; each message restarts the wait."""
    record = Record()
    sup = keyed(record, idle_timeout=300)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        start = anyio.current_time()
        sup.tell_nowait("a", Do(1))
        await anyio.sleep(200)
        sup.tell_nowait("a", Do(2))
        await anyio.sleep(299)
        assert sup.statistics().children == 1
        await anyio.sleep(2)
        stats = sup.statistics()
        sup.stop()
    assert (stats.children, stats.retiring, stats.reaped) == (0, 0, 1)
    assert record.done["a"] == [1, 2]
    assert record.ended["a"] == [pytest.approx(start + 500)]


@pytest.mark.trio
async def test_next_message_after_reaping_spawns_a_fresh_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After its child was reaped, a key gets a new actor on its next message."""
    record = Record()
    sup = keyed(record, idle_timeout=60)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        sup.tell_nowait("a", Do(1))
        await anyio.sleep(61)
        assert sup.statistics().children == 0
        assert await sup.ask("a", Seen, timeout=5) == [1]
        stats = sup.statistics()
        sup.stop()
    assert (stats.children, stats.spawned, stats.reaped) == (1, 2, 1)
    assert len(record.started["a"]) == 2


@pytest.mark.trio
async def test_a_fresh_child_waits_for_the_reaped_one_to_finish(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A key's new actor starts only once its reaped predecessor has ended: one at a time."""
    record = Record()
    sup = keyed(record, idle_timeout=60)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        sup.tell_nowait("a", Do(1, takes=100))  # still busy when reaped at 60
        await anyio.sleep(70)
        assert sup.statistics().retiring == 1
        sup.tell_nowait("a", Do(2))
        assert await sup.ask("a", Seen, timeout=60) == [1, 2]
        sup.stop()
    assert record.most_active == 1
    assert record.started["a"][1] >= record.ended["a"][0] == pytest.approx(100)


@anyio_test
async def test_no_message_is_lost_at_the_edge_of_the_idle_timeout(
    anyio_backend: tuple[str, dict[str, Any]],
) -> None:
    """Messages sent just before, at and just after the idle timeout all arrive, in order."""
    virtual = anyio_backend[0] == "trio"
    timeout = 60.0 if virtual else 0.02
    delays = [0.0, timeout * 0.999, timeout, timeout, timeout * 1.001, timeout * 2]
    rng = random.Random(2024)
    record = Record()
    sup = keyed(record, idle_timeout=timeout)
    sent = []
    rounds = 400 if virtual else 60
    with anyio.fail_after(rounds * max(delays) + 10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            for i in range(rounds):
                await anyio.sleep(rng.choice(delays))
                how = rng.randrange(3)
                if how == 2:
                    assert await sup.ask("a", Seen, timeout=5) == sent
                    continue
                if how == 1:
                    await sup.tell("a", Do(i))
                else:
                    sup.tell_nowait("a", Do(i))
                sent.append(i)
            stats = sup.statistics()
            sup.stop()
    assert record.done["a"] == sent
    assert record.most_active == 1
    assert stats.reaped > 0
    assert stats.children == 1
    assert stats.spawned == stats.reaped + stats.children


@anyio_test
async def test_crashed_child_restarts_on_the_same_mailbox() -> None:
    """A crash restarts the key's actor; messages queued behind the crash survive."""
    record = Record()
    sup = keyed(record)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            for msg in (Do(1), Crash(), Do(2)):
                sup.tell_nowait("a", msg)
            assert await sup.ask("a", Seen, timeout=5) == [1, 2]
            stats = sup.statistics()
            sup.stop()
    assert (stats.spawned, stats.restarts) == (1, 1)
    assert stats.per_child[0].key == "a"
    assert stats.per_child[0].restarts == 1
    assert len(record.started["a"]) == 2


async def run_catching(
    sup: Supervisor | KeyedSupervisor[str, ChannelMsg],
    caught: list[RestartIntensityError],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    try:
        await sup.run(task_status=task_status)
    except RestartIntensityError as exc:
        caught.append(exc)


@anyio_test
async def test_crashes_beyond_the_intensity_escalate() -> None:
    """Too many crashes across keys make run raise RestartIntensityError; sends then fail."""
    record = Record()
    sup = keyed(record, max_restarts=2, period=60)
    caught: list[RestartIntensityError] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(run_catching, sup, caught)
            sup.tell_nowait("a", Crash())
            sup.tell_nowait("b", Crash())
            sup.tell_nowait("a", Crash())
            sup.tell_nowait("a", Do(1))
    assert len(caught) == 1
    assert isinstance(caught[0].__cause__, ValueError)
    assert sup.statistics().state is SupervisorState.FAILED
    assert sup.statistics().restarts == 2
    assert record.done == {}
    assert record.active == {"a": 0, "b": 0}
    with pytest.raises(ActorGoneError):
        sup.tell_nowait("a", Do(1))


@anyio_test
async def test_escalation_reaches_the_parent_naming_the_key() -> None:
    """A keyed supervisor's RestartIntensityError names the key and reaches its parent."""
    record = Record()
    sup = keyed(record, max_restarts=0)
    outer = Supervisor("root", [ChildSpec("channels", lambda: sup)], max_restarts=0)
    caught: list[RestartIntensityError] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(run_catching, outer, caught)
            sup.tell_nowait("x", Crash())
    [error] = caught
    assert error.child == "channels"
    inner = error.__cause__
    assert isinstance(inner, RestartIntensityError)
    assert inner.child == "channels['x']"
    assert isinstance(inner.__cause__, ValueError)


@anyio_test
async def test_max_children_refuses_a_new_key_with_a_typed_error() -> None:
    """Beyond max_children, a new key is refused; existing keys still take messages."""
    record = Record()
    sup = keyed(record, max_children=2)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            sup.tell_nowait("a", Do(1))
            await sup.tell("b", Do(2))
            with pytest.raises(TooManyChildrenError) as info:
                sup.tell_nowait("c", Do(3))
            with pytest.raises(TooManyChildrenError):
                await sup.ask("c", Seen, timeout=1)
            sup.tell_nowait("a", Do(4))
            sup.stop()
    assert info.value.max_children == 2
    assert dict(record.done) == {"a": [1, 4], "b": [2]}


@anyio_test
async def test_stop_drains_every_child_then_refuses_messages() -> None:
    """stop() lets every child drain what was queued, then sends raise ActorGoneError."""
    record = Record()
    sup = keyed(record)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            for i in range(30):
                sup.tell_nowait(f"k{i % 3}", Do(i, takes=0.001))
            sup.stop()
            with pytest.raises(ActorGoneError):
                sup.tell_nowait("k0", Do(99))
        with pytest.raises(ActorGoneError):
            await sup.tell("k0", Do(99))
    assert {k: len(v) for k, v in record.done.items()} == {"k0": 10, "k1": 10, "k2": 10}
    stats = sup.statistics()
    assert (stats.state, stats.children, stats.retiring) == (SupervisorState.STOPPED, 0, 0)


@anyio_test
async def test_stop_cancels_a_child_stuck_past_the_deadline() -> None:
    """A keyed child still busy after the shutdown deadline is cancelled."""
    record = Record()
    sup = keyed(record, shutdown=0.25)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            sup.tell_nowait("a", Block(anyio.Event()))
            sup.tell_nowait("a", Do(1))
            sup.tell_nowait("b", Do(2))
            await anyio.wait_all_tasks_blocked()
            began = anyio.current_time()
            sup.stop()
        took = anyio.current_time() - began
    assert 0.25 <= took < 1
    assert dict(record.done) == {"b": [2]}
    assert record.active == {"a": 0, "b": 0}


@anyio_test
async def test_nested_under_a_supervisor_it_is_stopped_in_order() -> None:
    """A Supervisor stops its keyed child through stop(), so keyed children drain."""
    record = Record()
    sup = keyed(record)
    root = Supervisor("root", [ChildSpec("channels", lambda: sup)])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(root.run)
            for i in range(5):
                sup.tell_nowait("a", Do(i, takes=0.01))
            root.stop()
    assert record.done["a"] == [0, 1, 2, 3, 4]
    assert sup.statistics().state is SupervisorState.STOPPED


@anyio_test
async def test_sends_before_run_raise_actor_gone() -> None:
    """A keyed supervisor that is not running refuses messages."""
    sup = keyed(Record())
    with pytest.raises(ActorGoneError):
        sup.tell_nowait("a", Do(1))
    with pytest.raises(ActorGoneError):
        await sup.ask("a", Seen, timeout=1)


@pytest.mark.trio
async def test_statistics_report_children_reaps_and_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """statistics() is a frozen snapshot of live and retiring children, reaps and restarts."""
    record = Record()
    sup = keyed(record, idle_timeout=10)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        sup.tell_nowait("a", Crash())
        sup.tell_nowait("a", Do(1))
        sup.tell_nowait("b", Do(2, takes=30))
        await anyio.sleep(5)
        sup.tell_nowait("a", Do(3))
        await anyio.sleep(7)  # b reaped at 10 while still busy; a idle only at 15
        stats = sup.statistics()
        sup.stop()
    assert (stats.children, stats.retiring, stats.spawned) == (1, 1, 2)
    assert (stats.reaped, stats.restarts) == (1, 1)
    child = stats.per_child[0]
    assert (child.key, child.restarts) == ("a", 1)
    assert (child.mailbox.accepted, child.mailbox.depth, child.mailbox.closed) == (3, 0, False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.reaped = 0  # type: ignore[misc]
