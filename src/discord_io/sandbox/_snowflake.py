"""Discord snowflakes: 64-bit ids whose top 42 bits are milliseconds since Discord's epoch.

Layout (most significant first): 42 bits of milliseconds since 2015-01-01T00:00:00Z, 5 bits of
worker id, 5 bits of process id, 12 bits of a per-process increment. Ids made by one generator are
strictly increasing, so sorting by id is sorting by creation, which message history relies on.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import attrs

DISCORD_EPOCH_MS = 1_420_070_400_000
"""2015-01-01T00:00:00Z in Unix milliseconds: Discord's epoch."""

MAX_SNOWFLAKE = (1 << 64) - 1


def snowflake_time(snowflake: int) -> dt.datetime:
    """The UTC instant encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso_timestamp(moment: dt.datetime) -> str:
    """Discord's ISO 8601 form: microseconds and an explicit +00:00 offset."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.define
class SnowflakeGenerator:
    """Strictly increasing snowflakes; ``clock`` returns Unix milliseconds.

    A fixed clock (see :meth:`fixed`) makes a seed's ids identical on every run.
    """

    clock: Callable[[], int] = _wall_ms
    worker: int = 1
    process: int = 0
    _last_ms: int = attrs.field(default=0, init=False)
    _increment: int = attrs.field(default=0, init=False)

    @classmethod
    def fixed(cls, start: dt.datetime) -> SnowflakeGenerator:
        """A generator whose clock stands still at ``start``; the increment carries it on."""
        ms = int(start.timestamp() * 1000)
        return cls(clock=lambda: ms)

    def next(self) -> int:
        """A new id, greater than every id this generator made before."""
        now = max(self.clock(), self._last_ms)
        if now == self._last_ms:
            self._increment += 1
            if self._increment >= 4096:
                now += 1
                self._increment = 0
        else:
            self._increment = 0
        self._last_ms = now
        return (
            ((now - DISCORD_EPOCH_MS) << 22)
            | (self.worker << 17)
            | (self.process << 12)
            | self._increment
        )

    def observe(self, snowflake: int) -> None:
        """Never issue an id at or below ``snowflake`` (an id a seed chose itself)."""
        ms = (snowflake >> 22) + DISCORD_EPOCH_MS
        if ms > self._last_ms or (ms == self._last_ms and (snowflake & 0xFFF) > self._increment):
            self._last_ms = ms
            self._increment = snowflake & 0xFFF


def parse_snowflake(value: object) -> int | None:
    """The id in ``value`` (a decimal string or int), or None if it is not a snowflake."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_SNOWFLAKE else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        number = int(value)
        return number if number <= MAX_SNOWFLAKE else None
    return None
