"""How a :data:`~actors.discord_port.DiscordEvent` is written into the event log.

Each event becomes a ``(type, channel_id, payload)`` row: ``type`` is the event's class name in
snake case (``MessageCreated`` -> ``message_created``), ``channel_id`` the channel it happened
in (None for member and gateway events) and ``payload`` a JSON object of its fields, without
``agent`` (a column of its own). Snowflakes (``id``, ``*_id``, ``guild_ids``, ``roles``) are
strings in the payload, as in Discord's own JSON (JavaScript clients lose precision past 2**53);
datetimes are ISO 8601 strings in UTC. The hub's own records (``events_lost``,
``backfill_incomplete``) are built in :mod:`actors.event_hub`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, assert_never

import attrs

from actors.discord_port import (
    ChannelCreated,
    ChannelDeleted,
    ChannelUpdated,
    DiscordEvent,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    MemberJoined,
    MemberLeft,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    ReactionAdded,
    ReactionRemoved,
)

EVENTS_LOST = "events_lost"
"""Events dropped before the hub could log them that no backfill can bring back."""
BACKFILL_INCOMPLETE = "backfill_incomplete"
"""A channel's backfill stopped (page limit, lost access, Discord down) before catching up."""

DISCORD_EVENT_TYPES: Mapping[type[Any], str] = {
    MessageCreated: "message_created",
    MessageEdited: "message_edited",
    MessageDeleted: "message_deleted",
    ReactionAdded: "reaction_added",
    ReactionRemoved: "reaction_removed",
    MemberJoined: "member_joined",
    MemberLeft: "member_left",
    ChannelCreated: "channel_created",
    ChannelUpdated: "channel_updated",
    ChannelDeleted: "channel_deleted",
    GatewayReady: "gateway_ready",
    GatewayResumed: "gateway_resumed",
    GatewayDisconnected: "gateway_disconnected",
}

EVENT_TYPES: frozenset[str] = frozenset(
    {*DISCORD_EVENT_TYPES.values(), EVENTS_LOST, BACKFILL_INCOMPLETE}
)
"""Every ``type`` the log holds: the filter vocabulary of ``wait_for_events``."""

_ID_LISTS = frozenset({"guild_ids", "roles"})


def event_type(event: DiscordEvent) -> str:
    return DISCORD_EVENT_TYPES[type(event)]


def event_channel(event: DiscordEvent) -> int | None:
    """The channel an event happened in, if it happened in one."""
    match event:
        case MessageCreated(message=message) | MessageEdited(message=message):
            return message.channel_id
        case (
            MessageDeleted(channel_id=channel_id)
            | ReactionAdded(channel_id=channel_id)
            | ReactionRemoved(channel_id=channel_id)
        ):
            return channel_id
        case ChannelCreated(channel=channel) | ChannelUpdated(channel=channel):
            return channel.id
        case ChannelDeleted(channel=channel):
            return channel.id
        case MemberJoined() | MemberLeft() | GatewayReady() | GatewayResumed():
            return None
        case GatewayDisconnected():
            return None
        case _:
            assert_never(event)


def event_payload(event: DiscordEvent) -> dict[str, Any]:
    """The event's fields as a JSON object (without ``agent``)."""
    return _plain_attrs(event, skip_agent=True)


def _plain_attrs(value: Any, *, skip_agent: bool = False) -> dict[str, Any]:
    return {
        field.name: _plain(field.name, getattr(value, field.name))
        for field in attrs.fields(type(value))
        if not (skip_agent and field.name == "agent")
    }


def _plain(key: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int):
        return str(value) if key == "id" or key.endswith("_id") else value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return _plain_attrs(value)
    if isinstance(value, tuple | list):
        if key in _ID_LISTS:
            return [str(item) for item in value]
        return [_plain(key, item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(str(k), v) for k, v in value.items()}
    return value
