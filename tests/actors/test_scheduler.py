"""SchedulerActor with the real Store and a fake wall clock: due, not yet, cancel, order, wake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from tests.actors.test_channel import AGENT, FakePort

from actors import SendState, StoreHandle, open_store
from actors.agent import AgentActor, AgentOptions
from actors.scheduler import SchedulerActor

anyio_test = pytest.mark.anyio

T0 = 1_800_000_000.0
FAST = AgentOptions(base_backoff=0.01, max_backoff=0.05, ready_wait=1.0, default_timeout=5.0)


@pytest.fixture
def anyio_backend() -> str:
    """The real Store waits on a worker thread: run on asyncio's real clock."""
    return "asyncio"


@attrs.define
class WallClock:
    """The injected wall clock, shared by the Store and the scheduler."""

    now: float = T0

    def __call__(self) -> float:
        return self.now


@attrs.define(eq=False)
class Running:
    store: StoreHandle
    clock: WallClock
    port: FakePort
    scheduler: SchedulerActor


@asynccontextmanager
async def running(
    tmp_path: Path, *, before: list[tuple[str, float]] | None = None, max_sleep: float = 0.02
) -> AsyncIterator[Running]:
    """A Store, one agent on a FakePort and the scheduler; ``before``: scheduled pre-start."""
    clock = WallClock()
    port = FakePort(latency=0.001)
    async with open_store(tmp_path / "s.db", synchronous="NORMAL", clock=clock) as store:
        for content, send_at in before or ():
            await store.schedule(AGENT, 10, {"content": content}, send_at)
        async with anyio.create_task_group() as tg:
            agent = AgentActor(port, store, None, FAST)
            await tg.start(agent.run)
            scheduler = SchedulerActor(store, {AGENT: agent}, clock, max_sleep=max_sleep)
            await tg.start(scheduler.run)
            try:
                yield Running(store, clock, port, scheduler)
            finally:
                scheduler.stop()
                agent.stop()


async def sent(port: FakePort, channel_id: int, count: int, timeout: float = 5.0) -> list[str]:
    with anyio.fail_after(timeout):
        while len(port.contents(channel_id)) < count:  # noqa: ASYNC110 - polls the fake port
            await anyio.sleep(0.005)
    return port.contents(channel_id)


@anyio_test
async def test_row_due_before_start_goes_out_at_start(tmp_path: Path) -> None:
    """A send due while the server was down is moved and delivered as the scheduler starts."""
    async with running(tmp_path, before=[("overdue", T0 - 60)]) as r:
        assert r.scheduler.statistics().moved == 1  # before run reported started
        assert await sent(r.port, 10, 1) == ["overdue"]
        (row,) = await r.store.scheduled(AGENT, everything=True)
        assert row.outbox_id is not None
        outbox = await r.store.get(row.outbox_id)
        assert outbox is not None
        assert outbox.state is SendState.DELIVERED


@anyio_test
async def test_future_row_goes_out_after_its_time_not_before(tmp_path: Path) -> None:
    """Scheduled for T0+30: nothing over several checks before, delivered once the clock passes."""
    async with running(tmp_path) as r:
        await r.store.schedule(AGENT, 10, {"content": "later"}, T0 + 30)
        r.scheduler.wake()
        await anyio.sleep(0.2)  # ~10 rounds of max_sleep
        r.clock.now = T0 + 29.9
        await anyio.sleep(0.1)
        assert r.port.contents(10) == []
        assert await r.store.pending(AGENT) == ()
        assert r.scheduler.statistics().next_due == T0 + 30
        r.clock.now = T0 + 30
        assert await sent(r.port, 10, 1) == ["later"]


@anyio_test
async def test_cancelled_before_due_is_never_sent(tmp_path: Path) -> None:
    """A scheduled send cancelled before its time never reaches the outbox or Discord."""
    async with running(tmp_path) as r:
        keep = await r.store.schedule(AGENT, 10, {"content": "keep"}, T0 + 10)
        drop = await r.store.schedule(AGENT, 10, {"content": "drop"}, T0 + 5)
        await r.store.cancel_scheduled(drop.row.id)
        r.clock.now = T0 + 20
        assert await sent(r.port, 10, 1) == ["keep"]
        await anyio.sleep(0.1)
        assert r.port.contents(10) == ["keep"]
        assert keep.row.id != drop.row.id
        assert r.scheduler.statistics().moved == 1


@anyio_test
async def test_several_due_rows_go_out_in_send_at_order(tmp_path: Path) -> None:
    """Rows due together go out per channel in (send_at, id) order, not insertion order."""
    plan = [("c", T0 + 3), ("a", T0 + 1), ("b", T0 + 2), ("b2", T0 + 2), ("x", T0 + 1.5)]
    async with running(tmp_path) as r:
        for content, send_at in plan:
            channel = 20 if content == "x" else 10
            await r.store.schedule(AGENT, channel, {"content": content}, send_at)
        r.clock.now = T0 + 10
        assert await sent(r.port, 10, 4) == ["a", "b", "b2", "c"]
        assert await sent(r.port, 20, 1) == ["x"]
        assert r.scheduler.statistics().moved == 5


@anyio_test
async def test_wake_ends_a_long_sleep_for_a_sooner_schedule(tmp_path: Path) -> None:
    """Sleeping toward a far send_at, a wake() makes a newly due row go out at once."""
    async with running(tmp_path, max_sleep=3600.0) as r:
        await r.store.schedule(AGENT, 10, {"content": "far"}, T0 + 3600)
        r.scheduler.wake()
        await anyio.sleep(0.05)  # now asleep for up to an hour of real time
        await r.store.schedule(AGENT, 10, {"content": "soon"}, T0 - 1)
        with anyio.fail_after(2):
            r.scheduler.wake()
            assert await sent(r.port, 10, 1) == ["soon"]
        assert r.scheduler.statistics().next_due == T0 + 3600


@anyio_test
async def test_without_wake_a_sooner_row_waits_for_the_sleep(tmp_path: Path) -> None:
    """The wake is what ends the sleep: without it the due row waits (max_sleep bounds it)."""
    async with running(tmp_path, max_sleep=0.5) as r:
        await r.store.schedule(AGENT, 10, {"content": "far"}, T0 + 3600)
        r.scheduler.wake()
        await anyio.sleep(0.05)
        await r.store.schedule(AGENT, 10, {"content": "soon"}, T0 - 1)
        await anyio.sleep(0.1)
        assert r.port.contents(10) == []
        assert await sent(r.port, 10, 1) == ["soon"]


@anyio_test
async def test_rows_of_an_agent_not_running_here_stay_pending(tmp_path: Path) -> None:
    """A due row for an unknown agent is moved and counted, left pending for its replay."""
    async with running(tmp_path) as r:
        await r.store.schedule("elsewhere", 10, {"content": "x"}, T0 - 1)
        r.scheduler.wake()
        with anyio.fail_after(2):
            while r.scheduler.statistics().unrouted < 1:  # noqa: ASYNC110
                await anyio.sleep(0.005)
        pending = await r.store.pending("elsewhere")
        assert [row.payload["content"] for row in pending] == ["x"]


def test_max_sleep_must_be_positive() -> None:
    """A zero max_sleep would spin: refused."""
    kwargs: dict[str, Any] = {"max_sleep": 0.0}
    with pytest.raises(ValueError, match="max_sleep"):
        SchedulerActor(None, {}, **kwargs)  # type: ignore[arg-type]
