"""How a :data:`~actors.discord_port.DiscordEvent` is written into the event log.

Each event becomes a ``(type, channel_id, payload)`` row: ``type`` is the event's class name in
snake case (``MessageCreated`` -> ``message_created``), ``channel_id`` the channel it happened
in (None for member and gateway events) and ``payload`` a JSON object of its fields, without
``agent`` (a column of its own). Snowflakes (``id``, ``*_id``, ``reply_to``, ``guild_ids``,
``roles``) are strings in the payload, as in Discord's own JSON (JavaScript clients lose
precision past 2**53);
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
    MessageInfo,
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
    return _plain_fields(event, _fields(type(event), skip_agent=True))


def message_payload(message: MessageInfo) -> dict[str, Any]:
    """The payload of ``MessageCreated(agent, message)``, without building the event."""
    return {"message": _plain_attrs(message)}


# The conversion runs for every event the hub logs, so it is kept cheap: each attrs class's
# field names (and which of them hold snowflakes) are looked up once (:func:`_fields`), and the
# values events are made of (str, int, bool, None, datetime, an empty tuple, an attrs value met
# before) are recognised by their exact type ahead of the general rules of :func:`_plain`,
# which give the same answer for them.

_AS_IS: frozenset[type[Any]] = frozenset({str, bool, float, type(None)})
"""Types written as they are (a bool too: an int, but never a snowflake)."""

_FieldNames = tuple[tuple[str, bool], ...]
"""An attrs class's fields to write: (name, whether it holds a snowflake), in field order."""

_FIELDS: dict[tuple[type[Any], bool], _FieldNames] = {}


def _fields(cls: type[Any], *, skip_agent: bool = False) -> _FieldNames:
    names = _FIELDS.get((cls, skip_agent))
    if names is None:
        names = _FIELDS[cls, skip_agent] = tuple(
            (field.name, _is_id(field.name))
            for field in attrs.fields(cls)
            if not (skip_agent and field.name == "agent")
        )
    return names


_ID_NAMES = frozenset({"id", "reply_to"})
"""Fields holding one snowflake besides ``*_id`` (``reply_to``: the message replied to)."""


def _is_id(key: str) -> bool:
    return key in _ID_NAMES or key.endswith("_id")


def _plain_attrs(value: Any) -> dict[str, Any]:
    return _plain_fields(value, _fields(type(value)))


def _plain_fields(value: Any, fields: _FieldNames) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for name, is_id in fields:
        item = getattr(value, name)
        kind = type(item)
        if kind in _AS_IS:
            plain[name] = item
        elif kind is int:
            plain[name] = str(item) if is_id else item
        elif kind is dt.datetime:
            plain[name] = item.isoformat()
        elif kind is tuple and not item:
            plain[name] = []
        else:
            plain[name] = _plain(name, item)
    return plain


def _plain(key: str, value: Any) -> Any:
    fields = _FIELDS.get((type(value), False))
    if fields is not None:
        return _plain_fields(value, fields)  # an attrs class met before
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int):
        return str(value) if _is_id(key) else value
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
