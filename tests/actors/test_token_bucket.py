"""TokenBucket: exact waits, FIFO fairness, the capacity + rate*T bound, budgets over minutes."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from fractions import Fraction

import anyio
import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import RetryLaterError, TokenBucket, TokenBucketStatistics


def simulate(rate: float, capacity: float, requests: Sequence[tuple[float, float]]) -> list[float]:
    """Each (arrival, n) acquires n tokens on trio's virtual clock; return the grant times."""
    granted = [math.nan] * len(requests)

    async def client(i: int, arrival: float, n: float, bucket: TokenBucket) -> None:
        await trio.sleep_until(arrival)
        await bucket.acquire(n)
        granted[i] = trio.current_time()

    async def main() -> None:
        bucket = TokenBucket(rate, capacity)
        with trio.fail_after(1e9):
            async with trio.open_nursery() as nursery:
                for i, (arrival, n) in enumerate(requests):
                    nursery.start_soon(client, i, arrival, n, bucket)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return granted


def fluid_schedule(
    rate: float, capacity: float, requests: Sequence[tuple[float, float]]
) -> list[float]:
    """The earliest FIFO grant times, in exact arithmetic, for a bucket that starts full."""
    r, c = Fraction(rate), Fraction(capacity)
    tokens, last, out = c, Fraction(0), []
    for arrival, n in requests:
        t = max(Fraction(arrival), last)
        tokens = min(c, tokens + r * (t - last))
        if tokens < Fraction(n):
            t += (Fraction(n) - tokens) / r
            tokens = Fraction(n)
        tokens -= Fraction(n)
        last = t
        out.append(float(t))
    return out


@st.composite
def token_traffic(draw: st.DrawFn) -> tuple[float, float, list[tuple[float, float]]]:
    """A rate, a capacity and requests at distinct, increasing times for up to `capacity`."""
    rate = draw(st.floats(0.5, 100))
    capacity = draw(st.floats(1, 20))
    gaps = draw(st.lists(st.floats(0.001, 2), min_size=1, max_size=40))
    sizes = st.one_of(st.just(1.0), st.just(capacity), st.floats(0.01, capacity))
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    return rate, capacity, [(a, min(draw(sizes), capacity)) for a in arrivals]


@settings(max_examples=100, deadline=None)
@given(token_traffic())
def test_token_bucket_never_exceeds_capacity_plus_rate_times_t(
    traffic: tuple[float, float, list[tuple[float, float]]],
) -> None:
    """Over every interval [t_i, t_j] between grants, at most capacity + rate * (t_j - t_i)
    tokens are handed out, and each request is granted at the earliest exact instant."""
    rate, capacity, requests = traffic
    granted = simulate(rate, capacity, requests)
    assert granted == sorted(granted)  # first come, first served
    for i in range(len(granted)):
        total = 0.0
        for j in range(i, len(granted)):
            total += requests[j][1]
            assert total <= capacity + rate * (granted[j] - granted[i]) + 1e-6
    for actual, ideal in zip(granted, fluid_schedule(rate, capacity, requests), strict=True):
        assert actual == pytest.approx(ideal, rel=1e-9, abs=1e-9)


def assert_elapsed(backend: str, elapsed: float, expected: float) -> None:
    """Never early on either backend; exact on trio's virtual clock. On asyncio's real clock
    a loaded machine may run late, so the upper bound there only catches gross errors."""
    assert elapsed >= expected - 1e-9
    assert elapsed <= expected + (1e-9 if backend == "trio" else 2.0)


def assert_predicted(backend: str, predicted: float, expected: float) -> None:
    """A predicted wait: exact on trio; on a loaded real clock, waiters woken late may push it
    later, but it is never short (beyond the instants between measuring and asking)."""
    assert predicted >= expected - (1e-9 if backend == "trio" else 0.01)
    assert predicted <= expected + (1e-9 if backend == "trio" else 1.0)


@pytest.mark.anyio
async def test_full_bucket_grants_a_burst_then_paces(anyio_backend_name: str) -> None:
    """A new bucket is full: `capacity` acquisitions pass at once, the next waits 1/rate."""
    bucket = TokenBucket(rate=50, capacity=3)
    start = anyio.current_time()
    for _ in range(3):
        await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0)
    await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 1 / 50)


@pytest.mark.anyio
async def test_acquire_n_waits_exactly_for_the_missing_tokens(anyio_backend_name: str) -> None:
    """Taking 4 tokens from an empty bucket refilling 100/s waits 0.04 s."""
    bucket = TokenBucket(rate=100, capacity=10)
    start = anyio.current_time()
    await bucket.acquire(10)
    assert 0 <= bucket.wait_time(4) <= 0.04 + 1e-9
    await bucket.acquire(4)
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.04)
    if anyio_backend_name == "trio":
        assert bucket.statistics().tokens == 0


@pytest.mark.anyio
async def test_impossible_requests_raise_value_error() -> None:
    """More than the capacity (or nothing at all) can never be granted: ValueError at once."""
    bucket = TokenBucket(rate=1, capacity=5, name="agent budget")
    with pytest.raises(ValueError, match=r"agent budget holds at most 5 tokens; 6 can never"):
        await bucket.acquire(6)
    for n in (0, -1, math.nan):
        with pytest.raises(ValueError, match="positive"):
            bucket.acquire_nowait(n)
    with pytest.raises(ValueError, match="at most 5 tokens"):
        bucket.wait_time(5.5)
    assert bucket.statistics().tokens == 5


@pytest.mark.parametrize(
    ("rate", "capacity"), [(0, 1), (-1, 1), (math.inf, 1), (1, 0), (1, math.nan)]
)
def test_nonsense_rate_or_capacity_is_refused(rate: float, capacity: float) -> None:
    """A bucket needs a finite positive rate and capacity."""
    with pytest.raises(ValueError, match=r"rate|capacity"):
        TokenBucket(rate, capacity)


@pytest.mark.anyio
async def test_acquire_nowait_refuses_with_retry_after_and_never_jumps_the_queue(
    anyio_backend_name: str,
) -> None:
    """nowait raises RetryLaterError with the exact wait, and refuses while others queue even
    when the tokens it asks for are there."""
    bucket = TokenBucket(rate=1, capacity=3)
    taken = anyio.current_time()
    bucket.acquire_nowait(2)  # 1 token left
    with pytest.raises(RetryLaterError) as info:
        bucket.acquire_nowait(2)
    assert taken + 1 - anyio.current_time() <= info.value.retry_after <= 1 + 1e-9
    async with anyio.create_task_group() as tg:
        tg.start_soon(bucket.acquire, 3)  # queued until taken + 2
        await anyio.wait_all_tasks_blocked()
        now = anyio.current_time()
        assert bucket.statistics().tokens >= 1
        with pytest.raises(RetryLaterError) as info:
            bucket.acquire_nowait(1)
        # Behind the queued 3 tokens, 1 more: at taken + 3.
        assert_predicted(anyio_backend_name, info.value.retry_after, taken + 3 - now)
        tg.cancel_scope.cancel()  # no need to wait the queue out
    stats = bucket.statistics()
    assert (stats.acquired, stats.tokens_acquired, stats.waiting) == (1, 2, 0)


@pytest.mark.anyio
async def test_large_request_at_the_head_is_not_overtaken() -> None:
    """Strict FIFO: small requests behind a large one wait their turn (no starvation)."""
    bucket = TokenBucket(rate=100, capacity=5)
    await bucket.acquire(5)
    order: list[str] = []

    async def take(name: str, n: float) -> None:
        await bucket.acquire(n)
        order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "big", 5)
        await anyio.wait_all_tasks_blocked()
        for i in range(3):
            tg.start_soon(take, f"small{i}", 1)
            await anyio.wait_all_tasks_blocked()
    assert order == ["big", "small0", "small1", "small2"]


@pytest.mark.anyio
async def test_many_concurrent_callers_share_the_rate(anyio_backend_name: str) -> None:
    """Sixty tasks at once on 1000/s with a burst of 5 finish after (60 - 5) / 1000 s."""
    bucket = TokenBucket(rate=1000, capacity=5)
    start = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(60):
            tg.start_soon(bucket.acquire)
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 55 / 1000)
    stats = bucket.statistics()
    assert (stats.acquired, stats.waiting) == (60, 0)
    if anyio_backend_name == "trio":  # on a real clock, late starters may find tokens
        assert stats.waited == 55


@pytest.mark.anyio
async def test_block_for_pauses_grants(anyio_backend_name: str) -> None:
    """After a global 429, block_for(retry_after) holds every caller back that long."""
    bucket = TokenBucket(rate=50, capacity=50)
    start = anyio.current_time()
    bucket.block_for(0.05)
    assert 0 < bucket.wait_time() <= 0.05
    await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.05)
    with pytest.raises(ValueError, match="seconds"):
        bucket.block_for(-1)


@pytest.mark.anyio
async def test_cancelled_waiter_takes_no_tokens(anyio_backend_name: str) -> None:
    """A cancelled caller leaves the queue untouched; the next is served as if it never came."""
    bucket = TokenBucket(rate=10, capacity=4)
    start = anyio.current_time()
    await bucket.acquire(4)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bucket.acquire, 4)  # would be served at start + 0.4
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(bucket.acquire, 2)
        await anyio.wait_all_tasks_blocked()
        assert bucket.statistics().waiting == 2
        tg.cancel_scope.cancel()
    await bucket.acquire(2)
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.2)
    stats = bucket.statistics()
    assert (stats.acquired, stats.tokens_acquired) == (2, 6)


@pytest.mark.anyio
async def test_wait_time_counts_the_callers_ahead(anyio_backend_name: str) -> None:
    """wait_time covers what the queue ahead takes: 3 + 2 tokens at 1/s, then 1 more."""
    bucket = TokenBucket(rate=1, capacity=3)
    emptied = anyio.current_time()
    await bucket.acquire(3)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bucket.acquire, 3)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(bucket.acquire, 2)
        await anyio.wait_all_tasks_blocked()
        now = anyio.current_time()
        assert_predicted(anyio_backend_name, bucket.wait_time(1), emptied + 6 - now)
        assert bucket.statistics().waiting == 2
        tg.cancel_scope.cancel()  # no need to wait the queue out


@pytest.mark.anyio
async def test_statistics_snapshot() -> None:
    """statistics() reports the configuration, tokens now and the counters."""
    bucket = TokenBucket(rate=2, capacity=4, name="agent:alice")
    start = anyio.current_time()
    bucket.acquire_nowait(1.5)
    stats = bucket.statistics()
    assert 2.5 <= stats.tokens <= 2.5 + 2 * (anyio.current_time() - start)
    assert attrs.evolve(stats, tokens=0) == TokenBucketStatistics(
        name="agent:alice",
        rate=2.0,
        capacity=4.0,
        tokens=0,
        waiting=0,
        acquired=1,
        tokens_acquired=1.5,
        waited=0,
        wait_seconds=0.0,
    )


@pytest.mark.trio
async def test_global_budget_over_a_minute_runs_in_milliseconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A bot's global budget of 45/s + 5 burst: ten agents for a minute never pass 50 in any
    second, use the whole budget, and the minute costs no real time."""
    cpu = time.process_time()  # CPU, not wall time: a loaded machine must not fail this
    bucket = TokenBucket(rate=45, capacity=5, name="global")
    start = trio.current_time()
    sent: list[float] = []

    async def agent() -> None:
        while trio.current_time() - start < 60:
            await bucket.acquire()
            sent.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(agent)
    # The burst, a minute of refill, and the round of agents already queued at the end:
    assert abs(len(sent) - (5 + 45 * 60 + 10)) <= 1
    j = 0
    for i, t in enumerate(sent):
        while sent[j] < t - 1:  # grants in the closed second [t - 1, t]
            j += 1
        assert i - j + 1 <= 50
    assert time.process_time() - cpu < 1.0


@pytest.mark.anyio
async def test_try_acquire_takes_what_is_there_and_never_jumps_the_queue() -> None:
    """try_acquire takes free tokens at once, says False when short or while others queue."""
    bucket = TokenBucket(rate=1, capacity=3)
    assert bucket.try_acquire(2)
    assert not bucket.try_acquire(2)  # 1 token left
    with pytest.raises(ValueError, match="never be granted"):
        bucket.try_acquire(4)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bucket.acquire, 3)
        await anyio.wait_all_tasks_blocked()
        assert bucket.statistics().tokens >= 1
        assert not bucket.try_acquire(1)
        tg.cancel_scope.cancel()
    stats = bucket.statistics()
    assert (stats.acquired, stats.tokens_acquired, stats.waiting) == (1, 2, 0)


@pytest.mark.anyio
async def test_acquire_is_a_checkpoint_even_when_tokens_are_there() -> None:
    """An already-cancelled caller is refused and the tokens stay in the bucket."""
    bucket = TokenBucket(rate=1, capacity=3)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await bucket.acquire(2)
    assert scope.cancelled_caught
    assert bucket.statistics().acquired == 0
    assert bucket.try_acquire(3)
