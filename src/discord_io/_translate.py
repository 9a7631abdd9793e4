"""Translation from Discord's JSON and discord.py's objects into the port's attrs values.

The filter between reality and what actors see, done once here (actors cannot import
``discord``). Two sources, one named constructor each:

- ``*_from_payload``: Discord's JSON, as REST answers it (``client.http`` returns dicts);
- ``*_from_discord``: discord.py's objects, as gateway event handlers receive them.

Both give equal values for the same thing (a test holds them to it). Ids become ``int``,
timestamps aware ``datetime``; anything missing that a value needs raises ``KeyError`` /
``ValueError`` (a payload Discord would not send), optional things become ``None``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import discord

from actors import RateLimitHeaders
from actors.discord_port import (
    AttachmentInfo,
    ChannelInfo,
    GuildInfo,
    MemberInfo,
    MessageInfo,
    SentMessage,
)

Payload = Mapping[str, Any]

_REPLY = 0
"""``message_reference.type`` of a reply (1 is a forward, which is not a reply)."""


def _id(value: Any) -> int:
    return int(value)


def _opt_id(value: Any) -> int | None:
    return None if value is None else int(value)


def _time(value: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(value)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _opt_time(value: str | None) -> dt.datetime | None:
    return None if value is None else _time(value)


def _nonce(value: Any) -> str | None:
    return None if value is None else str(value)


# ----------------------------------------------------------------------------- from JSON


def attachment_from_payload(data: Payload) -> AttachmentInfo:
    return AttachmentInfo(
        id=_id(data["id"]),
        filename=str(data["filename"]),
        size=int(data["size"]),
        url=str(data["url"]),
        content_type=data.get("content_type"),
    )


def message_from_payload(data: Payload) -> MessageInfo:
    author = data["author"]
    reference = data.get("message_reference")
    reply_to = None
    if reference is not None and reference.get("type", _REPLY) == _REPLY:
        reply_to = _opt_id(reference.get("message_id"))
    attachments = data.get("attachments")
    guild_id = data.get("guild_id")
    edited = data.get("edited_timestamp")
    nonce = data.get("nonce")
    return MessageInfo(  # int() and the None checks in line: every send's answer comes here
        id=int(data["id"]),
        channel_id=int(data["channel_id"]),
        guild_id=None if guild_id is None else int(guild_id),
        author_id=int(author["id"]),
        author_name=str(author["username"]),
        author_bot=bool(author.get("bot", False)),
        content=str(data.get("content") or ""),
        created_at=_time(data["timestamp"]),
        edited_at=None if edited is None else _time(edited),
        attachments=tuple(attachment_from_payload(a) for a in attachments) if attachments else (),
        reply_to=reply_to,
        nonce=None if nonce is None else str(nonce),
    )


def sent_from_payload(data: Payload, *, rate_limit: RateLimitHeaders | None = None) -> SentMessage:
    """The answer to a message create; ``rate_limit``: that answer's rate-limit headers."""
    message = message_from_payload(data)
    return SentMessage(
        id=message.id,
        channel_id=message.channel_id,
        created_at=message.created_at,
        nonce=message.nonce,
        message=message,
        rate_limit=rate_limit,
    )


def channel_from_payload(data: Payload) -> ChannelInfo:
    return ChannelInfo(
        id=_id(data["id"]),
        type=int(data["type"]),
        guild_id=_opt_id(data.get("guild_id")),
        name=data.get("name"),
        parent_id=_opt_id(data.get("parent_id")),
        position=data.get("position"),
        topic=data.get("topic"),
    )


def guild_from_payload(data: Payload) -> GuildInfo:
    return GuildInfo(
        id=_id(data["id"]),
        name=str(data["name"]),
        owner=bool(data.get("owner", False)),
        member_count=data.get("approximate_member_count", data.get("member_count")),
    )


def member_from_payload(data: Payload, guild_id: int) -> MemberInfo:
    user = data["user"]
    nick = data.get("nick")
    name = str(user["username"])
    return MemberInfo(
        guild_id=guild_id,
        user_id=_id(user["id"]),
        name=name,
        display_name=nick or user.get("global_name") or name,
        bot=bool(user.get("bot", False)),
        nick=nick,
        roles=tuple(_id(r) for r in data.get("roles") or ()),
        joined_at=_opt_time(data.get("joined_at")),
    )


# ----------------------------------------------------------------------------- from discord.py


def attachment_from_discord(attachment: discord.Attachment) -> AttachmentInfo:
    return AttachmentInfo(
        id=attachment.id,
        filename=attachment.filename,
        size=attachment.size,
        url=attachment.url,
        content_type=attachment.content_type,
    )


def message_from_discord(message: discord.Message) -> MessageInfo:
    reference = message.reference
    reply_to = None
    if reference is not None and reference.type is discord.MessageReferenceType.reply:
        reply_to = reference.message_id
    return MessageInfo(
        id=message.id,
        channel_id=message.channel.id,
        guild_id=message.guild.id if message.guild is not None else None,
        author_id=message.author.id,
        author_name=message.author.name,
        author_bot=message.author.bot,
        content=message.content,
        created_at=message.created_at,
        edited_at=message.edited_at,
        attachments=tuple(attachment_from_discord(a) for a in message.attachments),
        reply_to=reply_to,
        nonce=_nonce(message.nonce),
    )


def channel_from_discord(channel: discord.abc.GuildChannel | discord.Thread) -> ChannelInfo:
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else channel.category_id
    position = None if isinstance(channel, discord.Thread) else channel.position
    return ChannelInfo(
        id=channel.id,
        type=channel.type.value,
        guild_id=channel.guild.id,
        name=channel.name,
        parent_id=parent_id,
        position=position,
        topic=getattr(channel, "topic", None),
    )


def guild_from_discord(guild: discord.Guild, self_id: int) -> GuildInfo:
    return GuildInfo(
        id=guild.id,
        name=guild.name,
        owner=guild.owner_id == self_id,
        member_count=guild.member_count,
    )


def member_from_discord(member: discord.Member) -> MemberInfo:
    return MemberInfo(
        guild_id=member.guild.id,
        user_id=member.id,
        name=member.name,
        display_name=member.display_name,
        bot=member.bot,
        nick=member.nick,
        roles=tuple(role.id for role in member.roles if not role.is_default()),
        joined_at=member.joined_at,
    )


def emoji_text(emoji: discord.PartialEmoji) -> str:
    """The emoji as the reaction routes take it: unicode as is, custom as ``name:id``."""
    if emoji.id is None:
        return emoji.name or ""
    return f"{emoji.name}:{emoji.id}"
