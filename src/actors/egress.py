"""The egress IP's invalid-request budget, shared by every agent behind it.

Discord (through Cloudflare) bans an IP address that receives 10,000 responses of status 401,
403 or 429 within 10 minutes -- shared-scope 429s excepted -- and the ban hits every bot behind
that address at once. One agent's bad day (a channel it lost access to, a 429 storm) can thus
take the whole swarm off Discord. The budget is per IP, not per bot, so one
:class:`EgressBudget` is shared by all the agents of a process (one egress IP).

It counts the invalid responses of the last ``window`` seconds and refuses further requests
once ``fraction`` of ``limit`` is used, well before Discord would ban, with
:class:`EgressBudgetExceededError` naming the numbers and when to retry. Refused requests are
never sent, so they cost nothing; the count falls as old failures leave the window.

The window slides in whole seconds: failures are tallied per second and a second's tally
leaves the window ``window`` seconds after that second *ends*, so the count is never lower
than the true sliding count (it errs on the side of refusing). Memory is at most
``window`` tallies. Time is :func:`anyio.current_time`, so tests run it on a virtual clock.

It is a plain object, not an actor: every method is synchronous and never awaits, so callers
on one event loop share it without a mailbox.

Exceptions::

    ActorError
    └── RateLimitError
        └── EgressBudgetExceededError   sending stopped to protect the IP (carries retry_after)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final, final

import anyio
import attrs

from actors._ratelimit import RateLimitError, RateLimitScope
from actors.discord_port import AgentLoginFailed, DiscordRateLimited

INVALID_REQUEST_LIMIT: Final = 10_000
"""Discord's ceiling: invalid responses per IP per window before a Cloudflare ban."""
INVALID_REQUEST_WINDOW: Final = 600.0
"""Seconds: Discord's window for the invalid-request ceiling (10 minutes)."""
INVALID_STATUSES: Final = frozenset({401, 403, 429})


class EgressBudgetExceededError(RateLimitError):
    """Too many 401/403/429 answers on this IP lately: sending stops until some age out."""

    def __init__(self, used: int, threshold: int, limit: int, window: float, retry_after: float):
        super().__init__(
            f"sending is paused to protect this server's IP from a Discord ban: {used} of "
            f"the {limit:,} invalid requests (401/403/429) Discord allows per "
            f"{window / 60:g} minutes were used across all agents, and sending stops at "
            f"{threshold:,}; retry after {retry_after:.0f} s"
        )
        self.used = used
        self.threshold = threshold
        self.limit = limit
        self.window = window
        self.retry_after = retry_after


@attrs.frozen
class EgressStatistics:
    """A snapshot of the budget, for metrics and tests."""

    used: int
    """Invalid responses counted in the window now."""
    threshold: int
    """Sending stops once ``used`` reaches this."""
    limit: int
    window: float
    recorded: int
    """Invalid responses recorded since the budget was made."""
    refused: int
    """Requests refused by :meth:`EgressBudget.check`."""


@final
class EgressBudget:
    """Counts invalid responses on one egress IP; refuses requests past ``fraction``."""

    __slots__ = ("_limit", "_recorded", "_refused", "_tallies", "_threshold", "_used", "_window")

    def __init__(
        self,
        *,
        fraction: float = 0.5,
        limit: int = INVALID_REQUEST_LIMIT,
        window: float = INVALID_REQUEST_WINDOW,
    ) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], not {fraction!r}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit!r}")
        if not (window > 0 and math.isfinite(window)):
            raise ValueError(f"window must be finite seconds > 0, not {window!r}")
        self._limit = limit
        self._window = float(window)
        self._threshold = max(1, math.floor(limit * fraction))
        self._tallies: deque[list[int]] = deque()  # [second it started, count]
        self._used = 0
        self._recorded = 0
        self._refused = 0

    @property
    def threshold(self) -> int:
        return self._threshold

    def used(self) -> int:
        """Invalid responses in the window now."""
        self._expire(anyio.current_time())
        return self._used

    def record(self, status: int, *, scope: RateLimitScope | None = None, n: int = 1) -> bool:
        """Count ``n`` responses of ``status`` if they are invalid ones; say whether they were."""
        if status not in INVALID_STATUSES or (status == 429 and scope is RateLimitScope.SHARED):
            return False
        now = anyio.current_time()
        self._expire(now)
        second = math.floor(now)
        if self._tallies and self._tallies[-1][0] == second:
            self._tallies[-1][1] += n
        else:
            self._tallies.append([second, n])
        self._used += n
        self._recorded += n
        return True

    def record_error(self, error: BaseException) -> bool:
        """Count a failed Discord call if Discord answered it 401, 403 or (non-shared) 429.

        An error the port has counted already (``egress_counted``) is not counted again.
        """
        if getattr(error, "egress_counted", False):
            return False
        if isinstance(error, AgentLoginFailed):
            return self.record(401)
        if isinstance(error, DiscordRateLimited):
            return self.record(429, scope=error.scope)
        status = getattr(error, "status", None)
        return isinstance(status, int) and self.record(status)

    def wait_time(self) -> float:
        """Seconds until a request would be allowed (0 if it is allowed now)."""
        now = anyio.current_time()
        self._expire(now)
        excess = self._used - self._threshold + 1
        if excess <= 0:
            return 0.0
        for start, count in self._tallies:  # oldest first: when enough have aged out
            excess -= count
            if excess <= 0:
                return max(0.0, start + 1 + self._window - now)
        return self._window  # unreachable: the tallies sum to used

    def check(self) -> None:
        """Return if a request may go out now, else raise :class:`EgressBudgetExceededError`."""
        wait = self.wait_time()
        if wait > 0:
            self._refused += 1
            raise EgressBudgetExceededError(
                self._used, self._threshold, self._limit, self._window, wait
            )

    def statistics(self) -> EgressStatistics:
        return EgressStatistics(
            used=self.used(),
            threshold=self._threshold,
            limit=self._limit,
            window=self._window,
            recorded=self._recorded,
            refused=self._refused,
        )

    def _expire(self, now: float) -> None:
        tallies = self._tallies
        while tallies and tallies[0][0] + 1 + self._window <= now:
            self._used -= tallies.popleft()[1]
