"""Rate limits: what Discord enforces, and the primitives the actors use to stay under it.

How Discord rate limits work
============================

Discord limits every bot (identified by its token) in three independent ways. A request has to
get past all three; the rules are in ``topics/rate-limits`` of the API docs and the figures that
bound this product are in ``notes/limits.md``.

1. Per-route buckets
--------------------
Every REST route (method + path template, e.g. ``POST /channels/{channel.id}/messages``) sits in
a *bucket*: at most ``limit`` requests per *window*, after which the bucket refuses until the
window resets. Discord does not publish the limits and changes them without notice ("never hard
code them"); instead every response carries what the bucket looks like right after that request::

    X-RateLimit-Limit: 5                 requests per window
    X-RateLimit-Remaining: 0             requests left in the current window
    X-RateLimit-Reset-After: 1.337       seconds (ms decimals) until the window resets
    X-RateLimit-Reset: 1470173023.123    the same moment as Unix epoch seconds
    X-RateLimit-Bucket: abcd1234         an opaque id of the bucket

Three details matter for an implementation:

* **The bucket hash does not include the major parameter.** ``X-RateLimit-Bucket`` names the
  rule, and several routes may share one rule (same hash). But the *counting* happens per
  top-level resource: ``channel_id``, ``guild_id``, ``webhook_id`` (+ token). So
  ``POST /channels/1/messages`` and ``POST /channels/2/messages`` report the same hash yet have
  separate counters. The key of a real bucket is therefore ``(bucket hash, major parameter)``,
  and until the first response for a route arrives we do not even know its hash: the route is
  an *unknown bucket*, keyed by its route template and major parameter.
  The one published figure for messages, observed rather than documented, is 5 per 5 s per
  (bot, channel): one channel tops out near one message per second per bot.

* **Reset-After, not Reset.** ``X-RateLimit-Reset`` is an absolute time on Discord's clock, and
  our clock is not Discord's (nor, in tests, the wall clock at all). ``Reset-After`` is relative,
  so "now + Reset-After" is a correct *local* deadline, late by at most the response's trip time,
  which errs on the safe side. ``Reset`` is still useful as the window's *name*: every response
  from one window carries the same value, so it tells a late answer from the previous window
  apart from a fresh one without any assumption about network delays.

* **Headers describe the past.** A response reports the bucket as it was when Discord counted
  *that* request. Requests still in flight have been (or will be) counted too, and their answers
  may arrive in any order. A client that believes the latest ``Remaining`` and forgets what is
  in flight overshoots; one that lets a late answer from the previous window refill the current
  one overshoots too.

2. The global limit
-------------------
Independently of the buckets, a bot may make at most **50 requests per second** in total
(interaction endpoints exempt; larger bots can ask Discord for more). Nothing in a successful
response announces it: a client has to budget for it itself.

3. 429 responses and their scopes
---------------------------------
Going over a limit returns ``429 Too Many Requests`` with a JSON body ``{"message", "retry_after"
(float seconds), "global" (bool)}``, a ``Retry-After`` header (whole seconds) and
``X-RateLimit-Scope``:

* ``user`` -- this bot exceeded a per-route bucket; the bucket headers come along
  (``Remaining: 0``).
* ``global`` -- this bot exceeded the global limit (``X-RateLimit-Global: true``); every request
  of the bot must wait ``retry_after``.
* ``shared`` -- the *resource* is limited for everyone (a busy channel, say); ``retry_after`` may
  be far longer than the bucket's own ``Reset-After``. Shared 429s are not held against the bot.

A 429 is a failure to avoid, not a signal to rely on: see the next section.

4. The invalid-request limit (the Cloudflare ban)
-------------------------------------------------
An **IP address** that receives 10,000 responses of status 401, 403 or 429 (shared-scope 429s
excepted) within 10 minutes is banned by Cloudflare for a while -- every bot behind that egress
IP at once. At 1,000 requests/s that is a failure budget of about 1.7 %. So the goal is zero 429s
in steady state: wait *before* sending, predicted from the headers, and count failures per
egress IP, not per bot.

The primitives
==============
discord.py already paces a single bot by these headers. What the swarm needs on top is
predictable, testable pacing with budgets of our own, so the runtime has two primitives, both
driven only by :func:`anyio.current_time` (so trio's ``MockClock`` runs a minute of rate limits
in milliseconds), both FIFO-fair and both exact about time: a waiter is released at the first
instant the limit allows it, never later.

:class:`~actors.DiscordBucket`
    One per-route bucket, as Discord describes it: learns limit, remaining and reset from each
    response's headers, counts requests in flight, survives stale and out-of-order answers, and
    obeys 429s. ``acquire()`` hands out a :class:`~actors.Permit` that the caller resolves with
    the response.

:class:`~actors.TokenBucket`
    ``rate`` tokens per second, at most ``capacity`` stored. For the budgets Discord does not
    announce: the global 50/s per bot, per-agent budgets, per-egress budgets. Over any interval
    of ``T`` seconds it admits at most ``capacity + rate * T`` tokens, so a global budget that
    must never exceed 50 in any one second needs ``capacity + rate <= 50``, e.g.
    ``TokenBucket(rate=45, capacity=5)``. (The same arithmetic shows why a token bucket is a
    poor fit for the 10,000-per-10-minutes invalid-request ceiling unless ``capacity + rate *
    600 <= 10000``.)

Both have ``acquire`` (waits), ``acquire_nowait`` (raises :class:`RetryLaterError` carrying
``retry_after``, for "retry in N s" answers to a model), ``wait_time`` and ``statistics()``.

Exceptions::

    ActorError
    └── RateLimitError             a rate-limit primitive refused or could not read something
        ├── RetryLaterError        acquire_nowait: no capacity now (carries retry_after)
        └── RateLimitHeaderError   a rate-limit header Discord would not send (also a ValueError)

Programming errors (a token bucket asked for more than its capacity, a negative rate) raise a
plain :class:`ValueError`.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Final, final

import anyio
import attrs

from actors._mailbox import ActorError


class RateLimitError(ActorError):
    """Base of the errors the rate-limit primitives raise."""


class RetryLaterError(RateLimitError):
    """No capacity right now; ``retry_after`` says when there probably will be.

    ``retry_after`` is ``math.inf`` when the limiter is waiting for answers to requests in
    flight and cannot predict when they arrive.
    """

    def __init__(self, name: str, retry_after: float) -> None:
        when = (
            "once requests in flight are answered"
            if math.isinf(retry_after)
            else f"in {retry_after:.3f} s"
        )
        super().__init__(f"{name} is rate limited; retry {when}")
        self.name = name
        self.retry_after = retry_after


class RateLimitHeaderError(RateLimitError, ValueError):
    """A rate-limit header whose value Discord would never send."""

    def __init__(self, header: str, value: str, expected: str) -> None:
        super().__init__(f"bad rate-limit header {header}: {value!r} (expected {expected})")
        self.header = header
        self.value = value


class RateLimitScope(enum.StrEnum):
    """What a 429 was about (``X-RateLimit-Scope``)."""

    USER = "user"
    """This bot exceeded a per-route bucket."""
    GLOBAL = "global"
    """This bot exceeded its global limit (50/s): every request must wait."""
    SHARED = "shared"
    """The resource is limited for everyone; does not count as an invalid request."""


LIMIT: Final = "X-RateLimit-Limit"
REMAINING: Final = "X-RateLimit-Remaining"
RESET: Final = "X-RateLimit-Reset"
RESET_AFTER: Final = "X-RateLimit-Reset-After"
BUCKET: Final = "X-RateLimit-Bucket"
GLOBAL: Final = "X-RateLimit-Global"
SCOPE: Final = "X-RateLimit-Scope"
RETRY_AFTER: Final = "Retry-After"

_NAMES: Final = {
    name.lower(): name
    for name in (LIMIT, REMAINING, RESET, RESET_AFTER, BUCKET, GLOBAL, SCOPE, RETRY_AFTER)
}
"""The lower-case form of each header name :meth:`RateLimitHeaders.from_headers` reads."""


def _integer(name: str, raw: str | None, *, minimum: int) -> int | None:
    if raw is None:
        return None
    text = raw.strip()
    # ASCII digits only, like [0-9]+: str.isdigit alone takes other scripts' digits and "²"
    if not (text.isascii() and text.isdigit()) or (value := int(text)) < minimum:
        raise RateLimitHeaderError(name, raw, f"an integer >= {minimum}")
    return value


def _seconds(name: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    text = raw.strip()
    whole, dot, fraction = text.partition(".")
    if (
        not text.isascii()
        or not whole.isdigit()
        or (dot and not fraction.isdigit())  # [0-9]+(\.[0-9]+)?, nothing else
        or not math.isfinite(value := float(text))
    ):
        raise RateLimitHeaderError(name, raw, "non-negative decimal seconds")
    return value


@attrs.frozen
class RateLimitHeaders:
    """The rate-limit facts of one Discord response, parsed; every field is optional.

    Build it with :meth:`from_headers`. Times stay as Discord sent them: ``reset_after`` and
    ``retry_after`` are relative seconds (the bucket adds its own clock's "now" when it is
    told), ``reset`` is Discord's epoch time and only ever used to tell windows apart.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    reset: float | None = None
    bucket: str | None = None
    is_global: bool = False
    scope: RateLimitScope | None = None
    retry_after: float | None = None
    """The ``Retry-After`` header (whole seconds); a 429's JSON ``retry_after`` is finer."""

    @property
    def describes_bucket(self) -> bool:
        """Whether limit, remaining and reset-after are all present: enough to pace by."""
        return None not in (self.limit, self.remaining, self.reset_after)

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, str], *, case_insensitive: bool = False
    ) -> RateLimitHeaders:
        """Parse Discord's rate-limit headers, matching names case-insensitively.

        Absent headers become ``None``; other headers are ignored. A present header with a
        value Discord would not send (not a number, negative, ``Remaining`` above ``Limit``,
        an unknown scope, an empty bucket) raises :class:`RateLimitHeaderError`, because a
        misread limit is worse than none: the caller then resolves its permit without headers.

        ``case_insensitive=True`` says that ``headers`` matches names case-insensitively
        itself (aiohttp's ``CIMultiDictProxy``, say): its own lookups are used, without the
        lower-cased copy a plain mapping needs.
        """
        lookup: Mapping[str, str] = headers
        if not case_insensitive:
            lookup = {
                name: value
                for key, value in headers.items()
                if (name := _NAMES.get(key.lower())) is not None
            }
            if not lookup:
                return _NONE
        get = lookup.get
        limit = _integer(LIMIT, get(LIMIT), minimum=1)
        remaining = _integer(REMAINING, get(REMAINING), minimum=0)
        if limit is not None and remaining is not None and remaining > limit:
            raise RateLimitHeaderError(REMAINING, str(remaining), f"at most the limit {limit}")
        raw_bucket = get(BUCKET)
        bucket = None if raw_bucket is None else raw_bucket.strip()
        if raw_bucket is not None and not bucket:
            raise RateLimitHeaderError(BUCKET, raw_bucket, "a non-empty bucket id")
        raw_global = get(GLOBAL)
        is_global = False
        if raw_global is not None:
            flag = raw_global.strip().lower()
            if flag not in ("true", "false"):
                raise RateLimitHeaderError(GLOBAL, raw_global, "true or false")
            is_global = flag == "true"
        scope = get(SCOPE)
        try:
            parsed_scope = None if scope is None else RateLimitScope(scope.strip().lower())
        except ValueError:
            raise RateLimitHeaderError(SCOPE, scope or "", "user, global or shared") from None
        return cls(
            limit=limit,
            remaining=remaining,
            reset_after=_seconds(RESET_AFTER, get(RESET_AFTER)),
            reset=_seconds(RESET, get(RESET)),
            bucket=bucket,
            is_global=is_global,
            scope=parsed_scope,
            retry_after=_seconds(RETRY_AFTER, get(RETRY_AFTER)),
        )


_NONE: Final = RateLimitHeaders()
"""Headers of an answer without any rate-limit header (frozen, so one is enough)."""


@final
class _Waiter:
    __slots__ = ("event", "size")

    def __init__(self, size: float) -> None:
        self.event = anyio.Event()
        self.size = size


@final
class _Turnstile:
    """A FIFO queue of tasks waiting for capacity. Only the head of the queue watches the clock.

    The head sleeps until the limiter's ready time (an absolute deadline, so a virtual clock
    jumps straight to it and the check afterwards sees exactly that time) or until it is woken
    because the limiter learned something. When it gets through it wakes the next head, which
    re-checks at the same instant: everyone the limit allows goes at once, in arrival order.
    """

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: deque[_Waiter] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def sizes(self) -> list[float]:
        """What each queued caller asked for, head first."""
        return [waiter.size for waiter in self._queue]

    def wake_head(self) -> None:
        """The limiter's state changed: let the head re-check now."""
        if self._queue:
            self._queue[0].event.set()

    async def wait(self, ready_at: Callable[[float], float], size: float = 1) -> float:
        """Wait for this task's turn and until ``ready_at(now) <= now``; return that ``now``.

        ``size`` is what the caller asks for (reported by :meth:`sizes`). The caller must take
        its capacity before its next ``await``.
        """
        waiter = _Waiter(size)
        self._queue.append(waiter)
        try:
            while True:
                if self._queue[0] is waiter:
                    now = anyio.current_time()
                    deadline = ready_at(now)
                    if deadline <= now:
                        self._queue.popleft()
                        self.wake_head()
                        return now
                    with anyio.CancelScope(deadline=deadline):
                        await waiter.event.wait()
                else:
                    await waiter.event.wait()
                waiter.event = anyio.Event()
        except BaseException:
            was_head = self._queue[0] is waiter
            self._queue.remove(waiter)
            if was_head:
                self.wake_head()
            raise
