"""One Discord per-route bucket that never sends a request Discord would refuse.

The Discord side is explained in :mod:`actors._ratelimit`. This module is the client side: a
:class:`DiscordBucket` predicts, from the headers of earlier responses, whether one more
request fits, and makes the caller wait (with :func:`anyio.sleep`-style deadlines on
:func:`anyio.current_time`) until it does.

Using it
--------
::

    with await bucket.acquire() as permit:          # waits until the request fits
        response = await send_request()
        permit.update(RateLimitHeaders.from_headers(response.headers))

A :class:`Permit` is one request's slot. Resolve it exactly once, with what came back:

* ``permit.update(headers)`` -- Discord answered (any status but 429);
* ``permit.rate_limited(retry_after, headers)`` -- Discord answered 429;
* ``permit.release()`` -- no usable answer (timeout, connection reset, unparsable headers):
  the request may or may not have been counted, so its slot stays taken for a window;
* ``permit.discard()`` -- the request was never sent: the slot is free again.

Leaving the ``with`` block unresolved counts as ``release()``.

The model
---------
The bucket knows the *window* it last heard about: its limit, the lowest ``Remaining`` reported
for it, when it ends on our clock (``now + Reset-After`` at the moment the response arrived;
late by the response's trip, so never early) and its name (``X-RateLimit-Reset``, identical in
every response from one window). It also counts requests *in flight*: admitted and not yet
answered. One more request is admitted while ::

    remaining_in_window - in_flight - held > 0

where ``remaining_in_window`` is the window's remaining while it runs and the full ``limit``
once our estimate of its end has passed, and ``held`` counts slots of requests that ended
without an answer. Each request in flight thus takes a slot before Discord has counted it, so
any number of concurrent callers never overshoot, and a request sent just before a reset still
counts against the next window until its answer tells which window it landed in.

An answer is compared to the window the bucket knows:

* **the same window** (same ``Reset``): ``remaining = min(remaining, Remaining)``. Within a
  window remaining only falls; a smaller number is simply the newer news.
* **a later window**: adopt it (limit, remaining, end, name).
* **an earlier window**, or any window that has already ended: ignored. A late answer from the
  previous window never refills the current one.

Without ``X-RateLimit-Reset`` the windows are told apart by their estimated end instead:
answers whose ends differ by at most ``window_tolerance`` (default 0.1 s) belong to one window.
That needs the spread of response delays to stay below the tolerance and the window to be
longer than tolerance plus spread.

Until the first answer the bucket is *unknown*: it admits ``unknown_in_flight`` requests
(default 1) and learns the limit from the first response. A probe that ends without an answer
teaches nothing and frees its slot; if it did count and the limit is 1, the next probe is
refused with a 429, whose headers then teach the limit. A 429 blocks the bucket for its
``retry_after`` whatever the scope (for ``global``, the caller also pauses the bot's global
:class:`~actors.TokenBucket`). Waiters are served first come, first served, and the head waiter
is released at the first instant the model allows: the estimated reset, the end of a 429 block,
or the moment an answer frees a slot.
"""

from __future__ import annotations

import math
from typing import Literal, final

import anyio
import attrs

from actors._ratelimit import RateLimitHeaders, RetryLaterError, _Turnstile

_EPOCH_PRECISION = 0.0011
"""Discord's ``Reset`` has millisecond precision: values this close name the same window."""


@attrs.frozen
class BucketStatistics:
    """A snapshot of one :class:`DiscordBucket`, for metrics and tests."""

    name: str
    bucket: str | None
    """The ``X-RateLimit-Bucket`` hash, once a response named it."""
    limit: int | None
    """Requests per window; ``None`` while the bucket is unknown."""
    remaining: int
    """Requests that may start now (remaining in the window less those in flight or held)."""
    reset_after: float | None
    """Seconds until the known window resets; ``None`` if no window is running."""
    in_flight: int
    waiting: int
    """Callers queued in ``acquire``."""
    acquired: int
    """Permits handed out since the bucket was made."""
    waited: int
    """How many of those had to queue."""
    wait_seconds: float
    """Total time callers spent queued."""
    rate_limited: int
    """429 answers received."""


@attrs.define
class _BucketModel:
    """The pure, clock-injected state of a bucket: every method takes ``now``."""

    unknown_in_flight: int
    window_tolerance: float
    limit: int | None = None
    remaining: int = 0
    reset_at: float = -math.inf
    reset_epoch: float | None = None
    period: float = 0.0
    """The longest Reset-After seen: about one window."""
    in_flight: int = 0
    holds: list[float] = attrs.field(factory=list)
    """When slots of requests that ended without an answer become free again."""
    blocked_until: float = -math.inf
    bucket: str | None = None

    def available(self, t: float) -> int:
        held = sum(1 for until in self.holds if until > t)
        if self.limit is None:
            return self.unknown_in_flight - self.in_flight - held
        in_window = self.remaining if t < self.reset_at else self.limit
        return in_window - self.in_flight - held

    def ready_at(self, now: float) -> float:
        """The first time >= now at which one more request fits, if nothing new is learned."""
        t = max(now, self.blocked_until)
        if self.available(t) > 0:
            return t
        # Without new answers, capacity only returns when the window resets or holds expire.
        for candidate in sorted({self.reset_at, *self.holds}):
            if candidate > t and self.available(candidate) > 0:
                return candidate
        return math.inf

    def admit(self, now: float) -> None:
        self.holds = [until for until in self.holds if until > now]
        self.in_flight += 1

    def answered(self, now: float, headers: RateLimitHeaders) -> None:
        self.in_flight -= 1
        if not headers.describes_bucket:
            self._hold(now)
            return
        assert headers.limit is not None
        assert headers.remaining is not None
        assert headers.reset_after is not None
        if headers.bucket is not None:
            self.bucket = headers.bucket
        self.period = max(self.period, headers.reset_after)
        ends = now + headers.reset_after
        if self.limit is None:
            self._adopt(headers.limit, headers.remaining, ends, headers.reset)
            return
        if ends <= now:
            return  # that window is over: nothing it says applies to the next one
        match self._compare(ends, headers.reset):
            case "earlier":
                return
            case "same":
                if now >= self.reset_at:
                    return  # a late answer from the window that has ended
                self.limit = headers.limit
                self.remaining = min(self.remaining, headers.remaining)
                if headers.reset is not None and self.reset_epoch is not None:
                    self.reset_at = min(self.reset_at, ends)  # every estimate is >= the truth
                else:
                    self.reset_at = max(self.reset_at, ends)  # tolerance-matched: stay safe
                    if self.reset_epoch is None:
                        self.reset_epoch = headers.reset
            case "later":
                self._adopt(headers.limit, headers.remaining, ends, headers.reset)

    def unanswered(self, now: float) -> None:
        self.in_flight -= 1
        if self.limit is not None:
            self._hold(now)

    def discarded(self) -> None:
        self.in_flight -= 1

    def refused(self, now: float, retry_after: float, headers: RateLimitHeaders) -> None:
        """A 429: learn from its headers if it has them, and send nothing for retry_after."""
        if headers.describes_bucket:
            self.answered(now, headers)
        else:
            self.in_flight -= 1  # refused, not counted: there is no slot to hold
        self.blocked_until = max(self.blocked_until, now + retry_after)

    def _hold(self, now: float) -> None:
        # The request may have been counted in the window that runs now or, if it was sent near
        # a reset, in the next one: keep its slot until both could have ended.
        if self.limit is not None:
            self.holds.append(max(self.reset_at, now + self.period))

    def _adopt(self, limit: int, remaining: int, ends: float, epoch: float | None) -> None:
        self.limit = limit
        self.remaining = remaining
        self.reset_at = ends
        self.reset_epoch = epoch

    def _compare(self, ends: float, epoch: float | None) -> Literal["earlier", "same", "later"]:
        if epoch is not None and self.reset_epoch is not None:
            delta, tolerance = epoch - self.reset_epoch, _EPOCH_PRECISION
        else:
            delta, tolerance = ends - self.reset_at, self.window_tolerance
        if abs(delta) <= tolerance:
            return "same"
        return "later" if delta > 0 else "earlier"


@final
class Permit:
    """One admitted request's slot in a :class:`DiscordBucket`; resolve it exactly once.

    Later resolutions are ignored, so a ``with`` block may resolve it and still exit cleanly.
    """

    __slots__ = ("_bucket", "_done")

    def __init__(self, bucket: DiscordBucket) -> None:
        self._bucket = bucket
        self._done = False

    @property
    def resolved(self) -> bool:
        return self._done

    def update(self, headers: RateLimitHeaders) -> None:
        """Discord answered (any status but 429) with these headers."""
        if self._resolve():
            self._bucket._answered(headers)

    def rate_limited(self, retry_after: float, headers: RateLimitHeaders | None = None) -> None:
        """Discord answered 429: block the bucket ``retry_after`` s and learn from the headers.

        Pass the JSON body's ``retry_after`` (finer than the header). For a ``global`` scope
        the caller should also pause the bot's global :class:`~actors.TokenBucket`.
        """
        if not (retry_after >= 0 and math.isfinite(retry_after)):
            raise ValueError(f"retry_after must be finite seconds >= 0, not {retry_after!r}")
        if self._resolve():
            self._bucket._rate_limited(retry_after, headers or RateLimitHeaders())

    def release(self) -> None:
        """No usable answer: the request may have been counted, so its slot stays taken."""
        if self._resolve():
            self._bucket._unanswered()

    def discard(self) -> None:
        """The request was never sent: give the slot back."""
        if self._resolve():
            self._bucket._discarded()

    def _resolve(self) -> bool:
        done, self._done = self._done, True
        return not done

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@final
class DiscordBucket:
    """A Discord per-route bucket, paced by the headers of its responses.

    ``name`` is for errors and metrics (route and major parameter, say). ``unknown_in_flight``
    requests may be in flight before the first response teaches the limit.
    ``window_tolerance`` tells windows apart when responses lack ``X-RateLimit-Reset``.
    """

    __slots__ = (
        "_acquired",
        "_model",
        "_name",
        "_refusals",
        "_turnstile",
        "_wait_seconds",
        "_waited",
    )

    def __init__(
        self, name: str = "bucket", *, unknown_in_flight: int = 1, window_tolerance: float = 0.1
    ) -> None:
        if unknown_in_flight < 1:
            raise ValueError(f"unknown_in_flight must be at least 1, not {unknown_in_flight}")
        if not (window_tolerance >= 0 and math.isfinite(window_tolerance)):
            raise ValueError(f"window_tolerance must be finite and >= 0, not {window_tolerance}")
        self._name = name
        self._model = _BucketModel(unknown_in_flight, window_tolerance)
        self._turnstile = _Turnstile()
        self._acquired = 0
        self._waited = 0
        self._wait_seconds = 0.0
        self._refusals = 0

    @property
    def name(self) -> str:
        return self._name

    async def acquire(self) -> Permit:
        """Wait until one more request fits in the bucket, then return its :class:`Permit`.

        Waiters are served in arrival order, each at the first instant the bucket allows.
        Always a checkpoint, taken before the slot: a caller cancelled there, or while
        waiting, leaves the queue without a slot.
        """
        start = anyio.current_time()
        if not self._turnstile and self._model.ready_at(start) <= start:
            await anyio.lowlevel.checkpoint()  # then take the slot, with no await after it
            permit = self.try_acquire()
            if permit is not None:
                return permit
            start = anyio.current_time()  # taken by another meanwhile: queue up
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()  # the queue is the schedule point
        now = await self._turnstile.wait(self._model.ready_at)
        self._waited += 1
        self._wait_seconds += now - start
        return self._admit(now)

    def try_acquire(self) -> Permit | None:
        """A slot now if one is free and nobody is queued, else ``None``. Never waits."""
        if self._turnstile:
            return None  # never jump the queue
        now = anyio.current_time()
        if self._model.ready_at(now) > now:
            return None
        return self._admit(now)

    def acquire_nowait(self) -> Permit:
        """Take a slot now, or raise :class:`RetryLaterError` (never jumps the queue)."""
        permit = self.try_acquire()
        if permit is None:
            raise RetryLaterError(self._name, self.wait_time())
        return permit

    def wait_time(self) -> float:
        """Seconds until a new caller would get a slot, behind those already queued.

        Assumes nothing new is learned meanwhile; ``math.inf`` when the answer depends on
        responses still in flight.
        """
        now = anyio.current_time()
        model = attrs.evolve(self._model, holds=list(self._model.holds))
        t = now
        for _ in range(len(self._turnstile) + 1):  # everyone queued, then the new caller
            t = model.ready_at(t)
            if math.isinf(t):
                return math.inf
            model.admit(t)
        return t - now

    def statistics(self) -> BucketStatistics:
        now = anyio.current_time()
        model = self._model
        running = model.limit is not None and now < model.reset_at
        return BucketStatistics(
            name=self._name,
            bucket=model.bucket,
            limit=model.limit,
            remaining=max(0, model.available(now)) if now >= model.blocked_until else 0,
            reset_after=model.reset_at - now if running else None,
            in_flight=model.in_flight,
            waiting=len(self._turnstile),
            acquired=self._acquired,
            waited=self._waited,
            wait_seconds=self._wait_seconds,
            rate_limited=self._refusals,
        )

    def _admit(self, now: float) -> Permit:
        self._model.admit(now)
        self._acquired += 1
        return Permit(self)

    def _answered(self, headers: RateLimitHeaders) -> None:
        self._model.answered(anyio.current_time(), headers)
        self._turnstile.wake_head()

    def _rate_limited(self, retry_after: float, headers: RateLimitHeaders) -> None:
        now = anyio.current_time()
        self._refusals += 1
        self._model.refused(now, retry_after, headers)
        self._turnstile.wake_head()

    def _unanswered(self) -> None:
        self._model.unanswered(anyio.current_time())
        self._turnstile.wake_head()

    def _discarded(self) -> None:
        self._model.discarded()
        self._turnstile.wake_head()
