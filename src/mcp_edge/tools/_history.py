"""What the history tools share: the message filter and time bounds of ``read_messages`` and
``search_messages``.

A time bound becomes a snowflake (:func:`time_bound`): message ids grow with time, so "at or
after ``since``" is ``id >= snowflake_at(since)`` and a page walk can stop at the first id
past it.
"""

from __future__ import annotations

import datetime as dt
import re

import attrs

from actors.discord_port import MessageInfo
from actors.event_hub import snowflake_at

DISCORD_EPOCH_S = 1_420_070_400
"""2015-01-01T00:00:00Z: no snowflake is older."""


@attrs.frozen
class MessageFilter:
    """Which messages a history scan keeps; every given criterion must hold."""

    author_id: int | None = None
    contains: str | None = None
    has_attachments: bool | None = None
    since: int | None = None
    """Smallest id kept (a snowflake made from a time)."""
    until: int | None = None
    """Ids at or above this are not kept."""
    mentions: int | None = None
    """A user or role id the text must mention (``<@id>``, ``<@!id>`` or ``<@&id>``)."""
    _mention: re.Pattern[str] | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        pattern = None if self.mentions is None else re.compile(rf"<@[!&]?{self.mentions}>")
        object.__setattr__(self, "_mention", pattern)

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (
                self.author_id,
                self.contains,
                self.has_attachments,
                self.since,
                self.until,
                self.mentions,
            )
        )

    def __call__(self, m: MessageInfo) -> bool:
        if self.author_id is not None and m.author_id != self.author_id:
            return False
        if self.contains is not None and self.contains.casefold() not in m.content.casefold():
            return False
        if self.has_attachments is not None and bool(m.attachments) != self.has_attachments:
            return False
        if self._mention is not None and self._mention.search(m.content) is None:
            return False
        if self.since is not None and m.id < self.since:
            return False
        return not (self.until is not None and m.id >= self.until)


def time_bound(value: dt.datetime | None, field: str) -> int | None:
    """The snowflake of a time argument (naive times are UTC); ``ValueError`` naming ``field``
    for a time before Discord existed."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = value.timestamp()
    if seconds < DISCORD_EPOCH_S:
        raise ValueError(f"{field} is before Discord existed (2015-01-01)")
    return snowflake_at(seconds)


__all__ = ["DISCORD_EPOCH_S", "MessageFilter", "time_bound"]
