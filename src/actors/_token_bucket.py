"""A token bucket for the budgets Discord does not announce: global, per agent, per egress.

``TokenBucket(rate, capacity)`` gains ``rate`` tokens per second up to ``capacity`` and starts
full. A request for ``n`` tokens waits until the bucket holds ``n``, then takes them. Over any
interval of ``T`` seconds it therefore admits at most ``capacity + rate * T`` tokens; the
arithmetic for choosing the two numbers (Discord's global 50/s, say) is in
:mod:`actors._ratelimit`.

The state is one number, the time at which the bucket will be full again (the "theoretical
arrival time" of the generic cell rate algorithm): ``tokens(t) = capacity - rate * max(0,
full_at - t)``. The time at which ``n`` tokens are there is computed by one expression, and the
same expression decides admission, so a caller that sleeps until that deadline is admitted
exactly then, with no float rounding left over to wait for.

Waiters are served strictly first come, first served: a large request at the head of the queue
is not overtaken by smaller ones behind it (that would starve it).
"""

from __future__ import annotations

import math
from typing import final

import anyio
import attrs

from actors._ratelimit import RetryLaterError, _Turnstile


@attrs.frozen
class TokenBucketStatistics:
    """A snapshot of one :class:`TokenBucket`, for metrics and tests."""

    name: str
    rate: float
    """Tokens gained per second."""
    capacity: float
    """The most tokens the bucket holds (the limit of a burst)."""
    tokens: float
    """Tokens in the bucket now."""
    waiting: int
    """Callers queued in ``acquire``."""
    acquired: int
    """Successful acquisitions since the bucket was made."""
    tokens_acquired: float
    """Tokens handed out by those acquisitions."""
    waited: int
    """How many acquisitions had to queue."""
    wait_seconds: float
    """Total time callers spent queued."""


@attrs.define
class _TokenModel:
    """The pure, clock-injected state of a token bucket: every method takes ``now``."""

    rate: float
    capacity: float
    full_at: float = -math.inf
    blocked_until: float = -math.inf

    def tokens(self, t: float) -> float:
        return self.capacity - self.rate * max(0.0, self.full_at - t)

    def ready_at(self, now: float, n: float) -> float:
        return max(now, self.blocked_until, self.full_at - (self.capacity - n) / self.rate)

    def admit(self, now: float, n: float) -> None:
        self.full_at = max(self.full_at, now) + n / self.rate


@final
class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` held; starts full.

    ``acquire(n)`` waits exactly as long as needed for ``n`` tokens, first come first served.
    """

    __slots__ = (
        "_acquired",
        "_model",
        "_name",
        "_tokens_acquired",
        "_turnstile",
        "_wait_seconds",
        "_waited",
    )

    def __init__(self, rate: float, capacity: float, *, name: str = "token bucket") -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a finite number of tokens per second > 0, not {rate}")
        if not (capacity > 0 and math.isfinite(capacity)):
            raise ValueError(f"capacity must be a finite number of tokens > 0, not {capacity}")
        self._name = name
        self._model = _TokenModel(float(rate), float(capacity))
        self._turnstile = _Turnstile()
        self._acquired = 0
        self._tokens_acquired = 0.0
        self._waited = 0
        self._wait_seconds = 0.0

    @property
    def name(self) -> str:
        return self._name

    @property
    def rate(self) -> float:
        return self._model.rate

    @property
    def capacity(self) -> float:
        return self._model.capacity

    async def acquire(self, n: float = 1) -> None:
        """Wait until the bucket holds ``n`` tokens, then take them.

        Raises :class:`ValueError` if ``n`` is not in ``(0, capacity]``: such a request could
        never be granted. Always a checkpoint, taken before the tokens: a caller cancelled
        there, or while waiting, leaves the queue with the tokens intact.
        """
        self._check(n)
        start = anyio.current_time()
        if not self._turnstile and self._model.ready_at(start, n) <= start:
            await anyio.lowlevel.checkpoint()  # then take the tokens, with no await after it
            if self._try_admit(n):
                return
            start = anyio.current_time()  # taken by another meanwhile: queue up
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()  # the queue is the schedule point
        now = await self._turnstile.wait(lambda t: self._model.ready_at(t, n), n)
        self._waited += 1
        self._wait_seconds += now - start
        self._admit(now, n)

    def try_acquire(self, n: float = 1) -> bool:
        """Take ``n`` tokens if they are there and nobody is queued; False if not. Never waits.

        Raises :class:`ValueError` as :meth:`acquire` does.
        """
        self._check(n)
        return self._try_admit(n)

    def acquire_nowait(self, n: float = 1) -> None:
        """Take ``n`` tokens now or raise :class:`RetryLaterError` (never jumps the queue)."""
        if not self.try_acquire(n):
            raise RetryLaterError(self._name, self.wait_time(n))

    def wait_time(self, n: float = 1) -> float:
        """Seconds until a new request for ``n`` tokens would be granted, behind the queue."""
        self._check(n)
        now = anyio.current_time()
        model = attrs.evolve(self._model)
        t = now
        for queued in self._turnstile.sizes():
            t = model.ready_at(t, queued)
            model.admit(t, queued)
        return model.ready_at(t, n) - now

    def block_for(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (a global 429's ``retry_after``); tokens still accrue."""
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be finite and >= 0, not {seconds!r}")
        model = self._model
        model.blocked_until = max(model.blocked_until, anyio.current_time() + seconds)

    def statistics(self) -> TokenBucketStatistics:
        return TokenBucketStatistics(
            name=self._name,
            rate=self._model.rate,
            capacity=self._model.capacity,
            tokens=self._model.tokens(anyio.current_time()),
            waiting=len(self._turnstile),
            acquired=self._acquired,
            tokens_acquired=self._tokens_acquired,
            waited=self._waited,
            wait_seconds=self._wait_seconds,
        )

    def _check(self, n: float) -> None:
        if not n > 0:
            raise ValueError(f"must acquire a positive number of tokens, not {n!r}")
        if n > self._model.capacity:
            raise ValueError(
                f"{self._name} holds at most {self._model.capacity:g} tokens; "
                f"{n:g} can never be granted (split the request)"
            )

    def _try_admit(self, n: float) -> bool:
        if self._turnstile:
            return False  # never jump the queue
        now = anyio.current_time()
        if self._model.ready_at(now, n) > now:
            return False
        self._admit(now, n)
        return True

    def _admit(self, now: float, n: float) -> None:
        self._model.admit(now, n)
        self._acquired += 1
        self._tokens_acquired += n
