"""DiscordBucket: predicted waiting against a fake Discord, stale answers, 429s, fairness."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import anyio
import attrs
import pytest
import trio
import trio.testing
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors import (
    BucketStatistics,
    DiscordBucket,
    Permit,
    RateLimitHeaders,
    RateLimitScope,
    RetryLaterError,
)

TICK = 1 / 64
"""Simulated times are whole ticks: binary fractions, so clock arithmetic is exact."""

EPOCH = 1_700_000_000.0
"""Discord's clock in the fake: far from ours, to show only Reset-After is used for time."""


@attrs.define
class FakeDiscord:
    """One Discord bucket: the first request after a reset opens a window of ``period`` s."""

    limit: int
    period: float
    send_reset: bool = True
    window_end: float = -math.inf
    count: int = 0
    windows: Counter[float] = attrs.field(factory=Counter)
    """Requests counted per window (keyed by the window's end)."""

    def handle(self, now: float) -> RateLimitHeaders:
        """Count one request arriving now and answer with Discord's headers."""
        if now >= self.window_end:
            self.window_end, self.count = now + self.period, 0
        self.count += 1
        self.windows[self.window_end] += 1
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset-After": f"{self.window_end - now:.6f}",
            "X-RateLimit-Bucket": "abcd1234",
        }
        if self.send_reset:
            headers["X-RateLimit-Reset"] = f"{EPOCH + self.window_end:.6f}"
        return RateLimitHeaders.from_headers(headers)

    @property
    def overshoot(self) -> dict[float, int]:
        """Windows that got more requests than the limit (each would have been a 429)."""
        return {end: n for end, n in self.windows.items() if n > self.limit}


@attrs.frozen
class Request:
    arrival: int
    """Ticks after the start at which the caller wants to send."""
    latency: int = 0
    """Ticks from admission until Discord counts the request."""
    delay: int = 0
    """Ticks from Discord's count until the answer reaches us."""
    lost: bool = False
    """The answer never arrives: the caller gives up after ``delay`` and releases."""
    discarded: bool = False
    """The caller changes its mind after admission and never sends."""


def simulate(
    requests: Sequence[Request], server: FakeDiscord, *, tolerance: float = 0.1
) -> list[float]:
    """Run every request through one bucket on trio's virtual clock; return admission times."""
    admitted = [math.nan] * len(requests)

    async def client(i: int, request: Request, bucket: DiscordBucket) -> None:
        await trio.sleep_until(request.arrival * TICK)
        permit = await bucket.acquire()
        admitted[i] = trio.current_time()
        if request.discarded:
            permit.discard()
            return
        if request.latency:
            await trio.sleep(request.latency * TICK)
        headers = server.handle(trio.current_time())
        if request.delay:
            await trio.sleep(request.delay * TICK)
        if request.lost:
            permit.release()
        else:
            permit.update(headers)

    async def main() -> None:
        bucket = DiscordBucket("sim", window_tolerance=tolerance)
        with trio.fail_after(1e6):  # virtual seconds: a deadlock fails instead of hanging
            async with trio.open_nursery() as nursery:
                for i, request in enumerate(requests):
                    nursery.start_soon(client, i, request, bucket)
        assert bucket.statistics().in_flight == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return admitted


def ideal_schedule(arrivals: Sequence[int], limit: int, period: float) -> list[float]:
    """When each request could go at the earliest, first come first served, knowing everything."""
    end, count, previous, out = -math.inf, 0, -math.inf, []
    for arrival in sorted(arrivals):
        t = max(arrival * TICK, previous)
        if t >= end:
            end, count = t + period, 0
        if count == limit:
            t, end, count = end, end + period, 0
        count += 1
        out.append(t)
        previous = t
    return out


@st.composite
def server_traffic(draw: st.DrawFn) -> tuple[FakeDiscord, list[Request]]:
    """A bucket and requests with arbitrary arrivals, latencies, reordering and lost answers."""
    send_reset = draw(st.booleans())
    # Without X-RateLimit-Reset, windows are told apart by their estimated end: the spread of
    # answer delays must stay within the bucket's 0.1 s tolerance (6 ticks < 0.1 s).
    max_delay = 32 if send_reset else 6
    server = FakeDiscord(
        limit=draw(st.integers(1, 5)),
        period=draw(st.integers(16, 160)) * TICK,
        send_reset=send_reset,
    )
    # Dense bursts make queues; delays are often extreme, so answers overtake one another.
    span = draw(st.sampled_from([0, 32, 160, 640]))
    arrivals = sorted(draw(st.lists(st.integers(0, span), min_size=1, max_size=30)))
    ticks = st.one_of(st.sampled_from([0, max_delay]), st.integers(0, max_delay))
    requests = [
        Request(
            arrival=arrival,
            latency=draw(st.one_of(st.just(0), st.integers(0, 16))),
            delay=draw(ticks),
            # Until a first answer arrives nothing is known, not even the window's length: a
            # probe that is lost teaches nothing. The first arrivals always get their answers.
            lost=arrival > arrivals[0] and draw(st.integers(0, 5)) == 0,
            discarded=arrival > arrivals[0] and draw(st.integers(0, 9)) == 0,
        )
        for arrival in arrivals
    ]
    return server, requests


STALE_ANSWER_OVERTAKEN = (
    FakeDiscord(limit=4, period=17 * TICK),
    [Request(0, delay=32 if i in (2, 11) else 0) for i in range(12)],
)
"""Found by hypothesis: a slow answer from window 1 arrives after window 2 was learned."""


@settings(max_examples=150, deadline=None)
@given(server_traffic())
@example(STALE_ANSWER_OVERTAKEN)
def test_bucket_never_exceeds_the_limit_in_any_window(
    traffic: tuple[FakeDiscord, list[Request]],
) -> None:
    """Under any interleaving of arrivals, latencies and late, reordered or lost answers, Discord
    never counts more than `limit` requests in one window (no 429), and everyone gets through."""
    server, requests = traffic
    admitted = simulate(requests, server)
    assert server.overshoot == {}
    assert not any(math.isnan(t) for t in admitted)


@settings(max_examples=100, deadline=None)
@given(
    arrivals=st.lists(st.integers(0, 400), min_size=1, max_size=30),
    limit=st.integers(1, 5),
    period=st.integers(1, 200),
    send_reset=st.booleans(),
)
def test_bucket_releases_each_caller_at_the_earliest_instant(
    arrivals: list[int], limit: int, period: int, send_reset: bool
) -> None:
    """With instant answers the bucket knows what Discord knows: each caller is released exactly
    when Discord would first accept it, and earlier arrivals never go after later ones."""
    server = FakeDiscord(limit=limit, period=period * TICK, send_reset=send_reset)
    requests = [Request(arrival=a) for a in arrivals]
    admitted = simulate(requests, server, tolerance=TICK / 2)
    assert sorted(admitted) == ideal_schedule(arrivals, limit, period * TICK)
    for a, b in zip(requests, admitted, strict=True):
        for c, d in zip(requests, admitted, strict=True):
            assert not (a.arrival < c.arrival and b > d)


def headers(
    remaining: int,
    reset_after: float,
    *,
    limit: int = 5,
    reset: float | None = None,
    **extra: Any,
) -> RateLimitHeaders:
    """Parsed headers of one response, as discord_io would hand them over."""
    return RateLimitHeaders(
        limit=limit, remaining=remaining, reset_after=reset_after, reset=reset, **extra
    )


def assert_elapsed(backend: str, elapsed: float, expected: float) -> None:
    """Never early on either backend; exact on trio's virtual clock. On asyncio's real clock
    a loaded machine may run late, so the upper bound there only catches gross errors."""
    assert elapsed >= expected - 1e-9
    assert elapsed <= expected + (1e-9 if backend == "trio" else 2.0)


async def learned(bucket: DiscordBucket, info: RateLimitHeaders) -> None:
    """Send the bucket's first request and answer it with ``info``."""
    (await bucket.acquire()).update(info)


@pytest.mark.anyio
async def test_unknown_bucket_allows_one_request_until_the_first_answer(
    anyio_backend_name: str,
) -> None:
    """Before any headers a bucket lets one request fly; its answer releases the next at once."""
    bucket = DiscordBucket("unknown")
    first = await bucket.acquire()
    with pytest.raises(RetryLaterError) as info:
        bucket.acquire_nowait()
    assert math.isinf(info.value.retry_after)
    assert "answered" in str(info.value)
    got: list[Permit] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_append, bucket, got)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        start = anyio.current_time()
        first.update(headers(remaining=3, reset_after=30))
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.0)
    stats = bucket.statistics()
    assert stats.limit == 5
    assert stats.in_flight == 1
    assert stats.remaining == 2


async def _append(bucket: DiscordBucket, into: list[Permit]) -> None:
    into.append(await bucket.acquire())


@pytest.mark.anyio
async def test_exhausted_bucket_releases_waiters_exactly_at_the_reset(
    anyio_backend_name: str,
) -> None:
    """With nothing left in the window, the next caller goes at the reset and not later."""
    bucket = DiscordBucket("reset")
    start = anyio.current_time()
    await learned(bucket, headers(remaining=0, reset_after=0.05, limit=1))
    assert bucket.wait_time() <= 0.05
    permit = await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.05)
    permit.discard()
    stats = bucket.statistics()
    assert stats.acquired == 2
    if anyio_backend_name == "trio":
        assert (stats.waited, stats.wait_seconds) == (1, 0.05)


@pytest.mark.anyio
async def test_requests_in_flight_count_before_their_answers() -> None:
    """Permits not yet answered take slots, so concurrent callers cannot overshoot."""
    bucket = DiscordBucket("in-flight")
    await learned(bucket, headers(remaining=3, reset_after=30))
    held = [bucket.acquire_nowait() for _ in range(3)]
    with pytest.raises(RetryLaterError) as info:
        bucket.acquire_nowait()
    assert info.value.retry_after == pytest.approx(30, abs=1)
    held[0].update(headers(remaining=2, reset_after=29.95))
    with pytest.raises(RetryLaterError):
        bucket.acquire_nowait()  # Discord counted that one: still nothing left
    assert bucket.statistics().in_flight == 2


@pytest.mark.anyio
async def test_many_concurrent_callers_stay_within_each_window(anyio_backend_name: str) -> None:
    """Forty tasks at once against a 5-per-window fake Discord: no window overflows, FIFO waits."""
    period = 1.0 if anyio_backend_name == "trio" else 0.04
    server = FakeDiscord(limit=5, period=period)
    bucket = DiscordBucket("busy")
    times: list[float] = []

    async def call() -> None:
        with await bucket.acquire() as permit:
            times.append(anyio.current_time())
            await anyio.lowlevel.checkpoint()
            permit.update(server.handle(anyio.current_time()))

    start = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(40):
            tg.start_soon(call)
    assert server.overshoot == {}
    assert_elapsed(anyio_backend_name, max(times) - start, 7 * period)
    stats = bucket.statistics()
    assert (stats.acquired, stats.in_flight, stats.waiting) == (40, 0, 0)
    if anyio_backend_name == "trio":  # real time may let a window lapse half used
        assert len(server.windows) == 8
        assert stats.waited == 39


@pytest.mark.anyio
async def test_out_of_order_answers_in_one_window_keep_the_lowest_remaining() -> None:
    """Within a window remaining only falls: a late, higher Remaining does not raise it."""
    bucket = DiscordBucket("reorder")
    await learned(bucket, headers(remaining=4, reset_after=10, reset=EPOCH + 10))
    a, b = bucket.acquire_nowait(), bucket.acquire_nowait()
    b.update(headers(remaining=1, reset_after=9.9, reset=EPOCH + 10))  # counted second
    a.update(headers(remaining=2, reset_after=9.8, reset=EPOCH + 10))  # counted first, late
    assert bucket.statistics().remaining == 1


@pytest.mark.anyio
@pytest.mark.parametrize("with_reset", [True, False], ids=["by-reset", "by-reset-after"])
async def test_late_answer_from_the_previous_window_does_not_refill(with_reset: bool) -> None:
    """An answer from the previous window that arrives after the next one began is ignored."""
    bucket = DiscordBucket("stale")
    now = anyio.current_time()

    def at(reset_after: float, window_end: float, remaining: int) -> RateLimitHeaders:
        epoch = EPOCH + window_end if with_reset else None
        return headers(remaining=remaining, reset_after=reset_after, limit=3, reset=epoch)

    await learned(bucket, at(0.02, now + 0.02, remaining=2))
    old = bucket.acquire_nowait()  # sent in window 1, answered very late
    await anyio.sleep(0.03)
    # Window 2 began; another process of ours used it up (this permit is counted last):
    later = anyio.current_time()
    bucket.acquire_nowait().update(at(5, later + 5, remaining=0))
    assert bucket.statistics().remaining == 0
    old.update(at(0.01, now + 0.02, remaining=1))  # window 1 said "1 left": not window 2
    assert bucket.statistics().remaining == 0
    with pytest.raises(RetryLaterError):
        bucket.acquire_nowait()


@pytest.mark.anyio
async def test_late_answer_does_not_revive_an_ended_window() -> None:
    """After a window's end, a late answer from it (matched by Reset-After) changes nothing."""
    bucket = DiscordBucket("revive", window_tolerance=1.0)
    await learned(bucket, headers(remaining=2, reset_after=0.02, limit=3))
    late = bucket.acquire_nowait()
    await anyio.sleep(0.03)
    late.update(headers(remaining=0, reset_after=0.03, limit=3))  # ends within tolerance
    assert bucket.statistics().remaining == 3


@pytest.mark.anyio
async def test_answer_for_an_ended_window_is_ignored() -> None:
    """An answer whose window has already reset (Reset-After 0) changes nothing."""
    bucket = DiscordBucket("ended")
    await learned(bucket, headers(remaining=1, reset_after=10))
    permit = bucket.acquire_nowait()
    permit.update(headers(remaining=0, reset_after=0))
    assert bucket.statistics().remaining == 1


@pytest.mark.anyio
async def test_user_429_blocks_until_retry_after(anyio_backend_name: str) -> None:
    """A 429 (scope user) blocks the bucket for retry_after, then requests flow again."""
    bucket = DiscordBucket("429")
    await learned(bucket, headers(remaining=3, reset_after=0.01))
    start = anyio.current_time()
    bucket.acquire_nowait().rate_limited(
        0.06, headers(remaining=0, reset_after=0.01, scope=RateLimitScope.USER)
    )
    assert bucket.statistics().remaining == 0
    permit = await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.06)
    permit.discard()
    assert bucket.statistics().rate_limited == 1


@pytest.mark.anyio
async def test_shared_429_blocks_even_with_remaining_left() -> None:
    """A shared-scope 429 outlasts the bucket's own window: its retry_after wins."""
    bucket = DiscordBucket("shared")
    await learned(bucket, headers(remaining=9, reset_after=64.57, limit=10))
    shared = headers(remaining=9, reset_after=64.57, limit=10, scope=RateLimitScope.SHARED)
    bucket.acquire_nowait().rate_limited(1336.57, shared)
    with pytest.raises(RetryLaterError) as info:
        bucket.acquire_nowait()
    assert info.value.retry_after == pytest.approx(1336.57, abs=1)


@pytest.mark.anyio
async def test_global_429_without_bucket_headers_blocks_without_holding_a_slot() -> None:
    """A global 429 carries no bucket headers: the refused request frees its slot, all wait."""
    bucket = DiscordBucket("global")
    await learned(bucket, headers(remaining=1, reset_after=30))
    refused = RateLimitHeaders(is_global=True, scope=RateLimitScope.GLOBAL, retry_after=65)
    bucket.acquire_nowait().rate_limited(64.57, refused)
    assert bucket.wait_time() == pytest.approx(64.57, abs=1)
    stats = bucket.statistics()
    assert (stats.in_flight, stats.remaining) == (0, 0)
    with pytest.raises(RetryLaterError):
        bucket.acquire_nowait()


@pytest.mark.anyio
async def test_rate_limited_rejects_nonsense_retry_after() -> None:
    """retry_after must be finite and non-negative; the permit stays unresolved on error."""
    bucket = DiscordBucket("bad-429")
    permit = await bucket.acquire()
    with pytest.raises(ValueError, match="retry_after"):
        permit.rate_limited(-1)
    assert not permit.resolved
    permit.discard()


@pytest.mark.anyio
async def test_release_without_answer_holds_the_slot_for_the_window(
    anyio_backend_name: str,
) -> None:
    """A request that ended without an answer may have counted: its slot stays taken."""
    bucket = DiscordBucket("lost")
    start = anyio.current_time()
    await learned(bucket, headers(remaining=1, reset_after=0.05, limit=2))
    with bucket.acquire_nowait():
        pass  # e.g. a timeout: leaving unresolved releases
    with pytest.raises(RetryLaterError):
        bucket.acquire_nowait()
    # Held until the window it may have counted in has ended (here: the one running).
    permit = await bucket.acquire()
    assert_elapsed(anyio_backend_name, anyio.current_time() - start, 0.05)
    permit.discard()


@pytest.mark.anyio
async def test_discard_gives_the_slot_back_and_resolution_happens_once() -> None:
    """A permit never sent returns its slot; later resolutions of a permit are ignored."""
    bucket = DiscordBucket("discard")
    await learned(bucket, headers(remaining=1, reset_after=30))
    permit = bucket.acquire_nowait()
    permit.discard()
    permit.update(headers(remaining=0, reset_after=30))
    permit.release()
    assert permit.resolved
    stats = bucket.statistics()
    assert stats.reset_after == pytest.approx(30, abs=1)
    assert attrs.evolve(stats, reset_after=None) == BucketStatistics(
        name="discard",
        bucket=None,
        limit=5,
        remaining=1,
        reset_after=None,
        in_flight=0,
        waiting=0,
        acquired=2,
        waited=0,
        wait_seconds=0.0,
        rate_limited=0,
    )


@pytest.mark.anyio
async def test_answer_without_headers_is_treated_as_no_answer() -> None:
    """A response without rate-limit headers (a 502, say) teaches nothing and holds its slot."""
    bucket = DiscordBucket("no-headers")
    await learned(bucket, headers(remaining=1, reset_after=30))
    bucket.acquire_nowait().update(RateLimitHeaders())
    assert bucket.statistics().remaining == 0


@pytest.mark.anyio
async def test_waiters_are_served_in_arrival_order() -> None:
    """Callers queued on an exhausted bucket get their permits first come, first served."""
    bucket = DiscordBucket("fifo")
    await learned(bucket, headers(remaining=0, reset_after=0.02, limit=1))
    order: list[int] = []

    async def call(i: int) -> None:
        permit = await bucket.acquire()
        order.append(i)
        permit.update(headers(remaining=0, reset_after=0.01, limit=1, reset=EPOCH + i))

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(call, i)
            await anyio.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3, 4]


@pytest.mark.anyio
async def test_cancelled_waiter_leaves_the_queue_without_a_slot() -> None:
    """Cancelling a queued caller removes it; the next one is still served, nothing leaks."""
    bucket = DiscordBucket("cancel")
    await learned(bucket, headers(remaining=0, reset_after=0.2, limit=1))
    got: list[Permit] = []
    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_cancellable, bucket, scope)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(_append, bucket, got)
        await anyio.wait_all_tasks_blocked()
        assert bucket.statistics().waiting == 2
        scope.cancel()
    assert len(got) == 1
    stats = bucket.statistics()
    assert (stats.acquired, stats.in_flight, stats.waiting) == (2, 1, 0)


async def _cancellable(bucket: DiscordBucket, scope: anyio.CancelScope) -> None:
    with scope:
        await bucket.acquire()
        pytest.fail("a cancelled waiter got a permit")


@pytest.mark.anyio
async def test_acquire_is_a_checkpoint_even_when_it_does_not_wait() -> None:
    """An already-cancelled caller is refused without taking a slot."""
    bucket = DiscordBucket("checkpoint")
    with anyio.CancelScope() as scope:
        scope.cancel()
        await bucket.acquire()
    assert bucket.statistics().in_flight == 0


def test_constructor_rejects_nonsense() -> None:
    """The knobs must make sense: at least one probe in flight, a finite tolerance."""
    with pytest.raises(ValueError, match="unknown_in_flight"):
        DiscordBucket(unknown_in_flight=0)
    with pytest.raises(ValueError, match="window_tolerance"):
        DiscordBucket(window_tolerance=math.nan)


@pytest.mark.trio
async def test_minute_long_window_runs_in_milliseconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Five messages a minute, sixteen to send: four windows of virtual time, instantly."""
    cpu = time.process_time()  # CPU, not wall time: a loaded machine must not fail this
    server = FakeDiscord(limit=5, period=60.0)
    bucket = DiscordBucket("slow-route")
    start = trio.current_time()
    times: list[float] = []

    async def send() -> None:
        with await bucket.acquire() as permit:
            times.append(trio.current_time() - start)
            await trio.sleep(0.1)
            permit.update(server.handle(trio.current_time()))

    async with trio.open_nursery() as nursery:
        for _ in range(16):
            nursery.start_soon(send)
    assert server.overshoot == {}
    assert sorted(Counter(int(t // 60) for t in times).items()) == [(0, 5), (1, 5), (2, 5), (3, 1)]
    # Each window opens when Discord counts its first request, 0.1 s after we send it.
    assert max(times) == pytest.approx(180.3)
    assert time.process_time() - cpu < 1.0


@pytest.mark.anyio
async def test_try_acquire_gives_a_free_slot_and_never_jumps_the_queue() -> None:
    """try_acquire: a permit when one fits and nobody waits, None otherwise, no slot taken."""
    bucket = DiscordBucket("try")
    probe = bucket.try_acquire()
    assert probe is not None
    assert bucket.try_acquire() is None  # the unknown bucket's one probe is out
    probe.update(headers(remaining=1, reset_after=60.0, limit=2))
    async with anyio.create_task_group() as tg:
        first = bucket.try_acquire()
        assert first is not None  # the window's last slot
        tg.start_soon(bucket.acquire)  # queued until the window resets
        await anyio.wait_all_tasks_blocked()
        first.discard()  # the slot is free again, but a caller is queued for it first
        assert bucket.try_acquire() is None
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    stats = bucket.statistics()
    assert (stats.acquired, stats.waiting) == (3, 0)
