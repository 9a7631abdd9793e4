"""Pins, bulk deletion and the users behind a reaction.

Discord's routes used here::

    PUT    /channels/{id}/messages/pins/{message_id}      pin (pin_messages)
    DELETE /channels/{id}/messages/pins/{message_id}      unpin (pin_messages)
    GET    /channels/{id}/messages/pins?before&limit      pinned messages, latest pin first
    POST   /channels/{id}/messages/bulk-delete            2-100 messages younger than 14 days
    GET    /channels/{id}/messages/{mid}/reactions/{emoji}?after&limit   who reacted
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from actors.discord_port import DiscordPort, MessageInfo
from discord_io._translate import message_from_payload

BULK_DELETE_MAX_AGE = dt.timedelta(days=14)
"""Discord refuses to bulk-delete a message older than this."""

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time(snowflake: int) -> dt.datetime:
    """When a snowflake was made (its top 42 bits are milliseconds since 2015)."""
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, dt.UTC)


@attrs.frozen
class PinInfo:
    pinned_at: dt.datetime
    message: MessageInfo


@attrs.frozen
class PinPage:
    pins: tuple[PinInfo, ...]
    has_more: bool


@attrs.frozen
class UserInfo:
    """A Discord user (as a reaction list names them)."""

    id: int
    name: str
    """The username."""
    global_name: str | None
    bot: bool


def _time(value: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(value)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


async def set_pinned(
    port: DiscordPort, channel_id: int, message_id: int, *, pin: bool, reason: str | None = None
) -> None:
    """Pin (``pin=True``) or unpin a message; doing it twice changes nothing."""
    verb = "pin" if pin else "unpin"
    await port.rest(
        "PUT" if pin else "DELETE",
        "/channels/{channel_id}/messages/pins/{message_id}",
        action=f"{verb} message {message_id} in channel {channel_id}",
        reason=reason,
        permission="pin_messages",
        what=f"message {message_id} in channel {channel_id}",
        ids={"channel_id": channel_id, "message_id": message_id},
    )


async def list_pins(
    port: DiscordPort, channel_id: int, *, before: dt.datetime | None = None, limit: int = 50
) -> PinPage:
    """Pinned messages, most recently pinned first; ``before`` is a pin time (exclusive)."""
    query: dict[str, str | int] = {"limit": limit}
    if before is not None:
        query["before"] = before.astimezone(dt.UTC).isoformat()
    data: Any = await port.rest(
        "GET",
        "/channels/{channel_id}/messages/pins",
        action=f"list the pinned messages of channel {channel_id}",
        query=query,
        permission="read_message_history",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    pins = tuple(
        PinInfo(pinned_at=_time(item["pinned_at"]), message=message_from_payload(item["message"]))
        for item in data.get("items") or ()
    )
    return PinPage(pins=pins, has_more=bool(data.get("has_more", False)))


def too_old(message_ids: Sequence[int], *, now: dt.datetime | None = None) -> list[int]:
    """The ids Discord would refuse to bulk-delete (older than 14 days, with a minute's
    margin so a message does not age out between the check and the request)."""
    limit = (now or dt.datetime.now(dt.UTC)) - BULK_DELETE_MAX_AGE + dt.timedelta(minutes=1)
    return [m for m in message_ids if snowflake_time(m) < limit]


async def bulk_delete(
    port: DiscordPort, channel_id: int, message_ids: Sequence[int], *, reason: str | None = None
) -> None:
    """Delete 2 to 100 messages of one channel, all younger than 14 days, in one request."""
    await port.rest(
        "POST",
        "/channels/{channel_id}/messages/bulk-delete",
        action=f"bulk-delete messages in channel {channel_id}",
        json={"messages": [str(m) for m in message_ids]},
        reason=reason,
        permission="manage_messages",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )


async def reaction_users(
    port: DiscordPort,
    channel_id: int,
    message_id: int,
    emoji: str,
    *,
    after: int | None = None,
    limit: int = 25,
) -> list[UserInfo]:
    """Users who reacted with ``emoji`` (unicode, or ``name:id``), by user id ascending."""
    query: dict[str, str | int] = {"limit": limit}
    if after is not None:
        query["after"] = str(after)
    data: Any = await port.rest(
        "GET",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
        action=f"list the {emoji} reactions on message {message_id}",
        query=query,
        permission="read_message_history",
        what=f"message {message_id} in channel {channel_id} (or its {emoji} reaction)",
        ids={"channel_id": channel_id, "message_id": message_id, "emoji": emoji},
    )
    return [
        UserInfo(
            id=int(u["id"]),
            name=str(u["username"]),
            global_name=u.get("global_name"),
            bot=bool(u.get("bot", False)),
        )
        for u in data or ()
    ]


__all__ = [
    "BULK_DELETE_MAX_AGE",
    "PinInfo",
    "PinPage",
    "UserInfo",
    "bulk_delete",
    "list_pins",
    "reaction_users",
    "set_pinned",
    "snowflake_time",
    "too_old",
]
