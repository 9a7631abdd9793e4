"""``wait_for_events``: long-poll the caller's durable event log with a cursor.

Every agent's gateway events (messages, edits, deletions, reactions, members, channels, its own
connection) are logged by the :class:`~actors.event_hub.EventHub` with a cursor that strictly
increases within the agent's log. The tool is a thin window onto
:meth:`EventHub.wait_for_events`: it answers at once when something after ``cursor`` matches
the filters, else parks until something does or ``timeout`` runs out, and returns an empty page
with a ``next_cursor`` that is safe to pass next time. A reader that only ever passes
``next_cursor`` sees each event exactly once, in order, with no gap -- across reconnects
(the hub backfills) and server restarts (the log is durable).

The wire shape: cursors are strings of digits (they are 64-bit), ``received_at`` is ISO 8601,
and ``data`` is the event's payload with every id (keys ``id``, ``*_id``, ``*_ids`` and
``roles``) a string, whatever the log held (:func:`ids_as_strings`). ``timeout`` is capped two
seconds below the server's tool time limit so a wait always returns before the call is cut.
The read touches only the Store: it works while the agent is disconnected from Discord.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors.store import EventRecord
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Snowflake, iso, to_id

EventType = Literal[
    "message_created",
    "message_edited",
    "message_deleted",
    "reaction_added",
    "reaction_removed",
    "member_joined",
    "member_left",
    "channel_created",
    "channel_updated",
    "channel_deleted",
    "gateway_ready",
    "gateway_resumed",
    "gateway_disconnected",
    "events_lost",
    "backfill_incomplete",
]
"""The hub's event types (``actors._event_payload.EVENT_TYPES``; a test keeps them equal)."""

EVENT_TYPE_NAMES: tuple[str, ...] = get_args(EventType)

DEFAULT_TIMEOUT = 25.0
HEADROOM = 2.0
"""Seconds a wait leaves before the tool call's own time limit."""

MISSED_EXPLANATION = (
    "Some events after your cursor were deleted by the server's retention before you read "
    "them, so there may be a gap before these. Use read_messages to catch up on channel history "
    "if it matters, then keep passing next_cursor."
)

MAX_LOG_INT = 2**63 - 1
"""SQLite's largest integer: Discord ids and cursors stay below it."""

_ID_LISTS = frozenset({"roles", "guild_ids"})


def _is_id_key(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids")) or key in _ID_LISTS


def ids_as_strings(value: Any, key: str = "") -> Any:
    """``value`` as JSON with every integer under an id key (at any depth) a string."""
    if isinstance(value, Mapping):
        return {str(k): ids_as_strings(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [ids_as_strings(item, key) for item in value]
    if _is_id_key(key) and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class Event(BaseModel):
    cursor: str = Field(description="This event's place in the log.")
    type: str = Field(description="message_created, reaction_added, ... (see the tool).")
    channel_id: str | None = Field(
        default=None, description="Where it happened; null for member, gateway and hub events."
    )
    received_at: str = Field(description="When the server logged it (ISO 8601, UTC).")
    data: dict[str, Any] = Field(
        description="The event itself (e.g. message_created: {message: {id, content, "
        "author_id, ...}}); every id is a string."
    )

    @classmethod
    def of(cls, record: EventRecord) -> Event:
        when = dt.datetime.fromtimestamp(record.received_at, dt.UTC)
        return cls(
            cursor=str(record.cursor),
            type=record.type,
            channel_id=None if record.channel_id is None else str(record.channel_id),
            received_at=iso(when) or "",
            data=ids_as_strings(dict(record.payload)),
        )


class EventPage(BaseModel):
    events: list[Event] = Field(description="Oldest first; empty when the wait timed out.")
    next_cursor: str = Field(
        description="Pass as cursor on your next call (always, even after an empty page)."
    )
    missed: bool = Field(
        description="True: events between your cursor and these may be gone (see explanation)."
    )
    explanation: str | None = Field(default=None, description="What missed means and what to do.")


def _log_int(value: str, field: str) -> int:
    """An id or cursor as the log (SQLite, signed 64-bit) can compare it."""
    number = to_id(value, field)
    if number > MAX_LOG_INT:
        raise ValueError(f"{field} {value} is larger than any id or cursor can be")
    return number


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    @kit.tool(title="Wait for events", read_only=True)
    async def wait_for_events(
        ctx: Context,
        cursor: Annotated[
            str | None,
            Field(
                pattern=r"^[0-9]{1,20}$",
                description='next_cursor of your previous call. Omit (or give "0") to start '
                "at the oldest event the server still keeps.",
            ),
        ] = None,
        timeout: Annotated[
            float,
            Field(
                ge=0,
                le=3600,
                description="Seconds to wait for a first event; 0 returns at once. Capped just "
                "below the server's tool time limit (28 s by default).",
            ),
        ] = DEFAULT_TIMEOUT,
        types: Annotated[
            list[EventType] | None,
            Field(
                max_length=len(EVENT_TYPE_NAMES),
                description="Only these event types (omitted or empty: all).",
            ),
        ] = None,
        channel_ids: Annotated[
            list[Snowflake] | None,
            Field(
                max_length=100, description="Only events in these channels (omitted or empty: all)."
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Most events returned.")] = 50,
    ) -> EventPage:
        """Wait for new Discord events for this agent: messages, edits, reactions and more.

        Returns as soon as there is at least one event after cursor (up to limit), or an
        empty page after timeout seconds. Always call again with next_cursor: that way you
        see every event exactly once, in order, even across reconnects and server restarts.
        types: message_created, message_edited, message_deleted, reaction_added,
        reaction_removed, member_joined, member_left, channel_created, channel_updated,
        channel_deleted, gateway_ready, gateway_resumed, gateway_disconnected, events_lost
        (events that could not be recovered, counted by type) and backfill_incomplete (a
        channel's history after a reconnect is incomplete: use read_messages). Message text
        is empty for others' messages when the agent lacks the message content intent.
        """
        after = 0 if cursor is None else _log_int(cursor, "cursor")
        channels = [_log_int(c, "channel_ids") for c in channel_ids or ()] or None
        wait = max(0.0, min(timeout, runtime.tool_timeout - HEADROOM))
        page = await runtime.swarm.hub.wait_for_events(
            kit.caller().agent,
            after,
            timeout=wait,
            types=types or None,
            channel_ids=channels,
            limit=limit,
        )
        return EventPage(
            events=[Event.of(r) for r in page.events],
            next_cursor=str(page.next_cursor),
            missed=page.missed,
            explanation=MISSED_EXPLANATION if page.missed else None,
        )


__all__ = ["EVENT_TYPE_NAMES", "Event", "EventPage", "EventType", "ids_as_strings", "register"]
