"""The shapes tools take and return, and their conversion from the actors' attrs values.

Discord ids are snowflakes: 64-bit integers that overflow JavaScript numbers, so every id in
every schema, in and out, is a string of digits (:data:`Snowflake`). Outputs are pydantic
models so the SDK publishes an output schema and returns structured content; times are ISO
8601 strings in UTC.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import (
    AttachmentInfo,
    ChannelInfo,
    ChannelKind,
    DiscordNotFound,
    GuildInfo,
    MemberInfo,
    MessageInfo,
)

Snowflake = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,20}$",
        description="A Discord id (snowflake), as a string of digits.",
        examples=["1234567890123456789"],
    ),
]
"""A Discord id in a tool's arguments."""

MAX_SNOWFLAKE = 2**64 - 1

Reason = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=512,
        description="Why: recorded in the guild's audit log beside this change, where "
        "moderators read it.",
    ),
]
"""The audit-log reason the tools that change or remove things take."""


def to_id(value: str, field: str) -> int:
    """A validated snowflake argument as an int (``ValueError`` naming ``field`` otherwise)."""
    if not value.isdigit() or int(value) > MAX_SNOWFLAKE:
        raise ValueError(f"{field} must be a Discord id: a string of digits, not {value!r}")
    return int(value)


def opt_id(value: str | None, field: str) -> int | None:
    return None if value is None else to_id(value, field)


def iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


ChannelType = Literal[
    "text",
    "dm",
    "voice",
    "group_dm",
    "category",
    "announcement",
    "announcement_thread",
    "public_thread",
    "private_thread",
    "stage",
    "directory",
    "forum",
    "media",
]
"""A channel type by name: :class:`~actors.discord_port.ChannelKind`'s names, lower case."""


@contextlib.contextmanager
def not_found_hint(advice: str) -> Iterator[None]:
    """Re-raise a :class:`DiscordNotFound` as a ToolError that adds what to do next."""
    try:
        yield
    except DiscordNotFound as exc:
        raise ToolError(f"{exc}: {advice}") from exc


def channel_kind(value: int) -> str:
    try:
        return ChannelKind(value).name.lower()
    except ValueError:
        return f"unknown_{value}"


class Attachment(BaseModel):
    id: str
    filename: str
    size: int
    url: str
    content_type: str | None = None

    @classmethod
    def of(cls, a: AttachmentInfo) -> Attachment:
        return cls(
            id=str(a.id), filename=a.filename, size=a.size, url=a.url, content_type=a.content_type
        )


class Message(BaseModel):
    """A Discord message."""

    id: str
    channel_id: str
    guild_id: str | None = None
    author_id: str
    author_name: str
    author_is_bot: bool
    content: str = Field(
        description="Empty when Discord hides another user's text from this agent (the "
        "message_content intent is not granted)."
    )
    created_at: str
    edited_at: str | None = None
    reply_to: str | None = Field(None, description="The id of the message this one replies to.")
    attachments: list[Attachment] = Field(default_factory=list)

    @classmethod
    def of(cls, m: MessageInfo) -> Message:
        return cls(
            id=str(m.id),
            channel_id=str(m.channel_id),
            guild_id=None if m.guild_id is None else str(m.guild_id),
            author_id=str(m.author_id),
            author_name=m.author_name,
            author_is_bot=m.author_bot,
            content=m.content,
            created_at=iso(m.created_at) or "",
            edited_at=iso(m.edited_at),
            reply_to=None if m.reply_to is None else str(m.reply_to),
            attachments=[Attachment.of(a) for a in m.attachments],
        )


class Channel(BaseModel):
    """A Discord channel (text, voice, category, forum, thread, DM ...)."""

    id: str
    type: str = Field(description="text, voice, category, announcement, forum, public_thread, ...")
    guild_id: str | None = None
    name: str | None = None
    parent_id: str | None = Field(None, description="The category, or a thread's channel.")
    position: int | None = None
    topic: str | None = None

    @classmethod
    def of(cls, c: ChannelInfo) -> Channel:
        return cls(
            id=str(c.id),
            type=channel_kind(c.type),
            guild_id=None if c.guild_id is None else str(c.guild_id),
            name=c.name,
            parent_id=None if c.parent_id is None else str(c.parent_id),
            position=c.position,
            topic=c.topic,
        )


class Guild(BaseModel):
    """A Discord server (guild) the agent's bot is in."""

    id: str
    name: str
    bot_is_owner: bool = False
    member_count: int | None = None

    @classmethod
    def of(cls, g: GuildInfo) -> Guild:
        return cls(id=str(g.id), name=g.name, bot_is_owner=g.owner, member_count=g.member_count)


class Member(BaseModel):
    """A member of a guild."""

    guild_id: str
    user_id: str
    username: str
    display_name: str
    is_bot: bool
    nick: str | None = None
    role_ids: list[str] = Field(default_factory=list)
    joined_at: str | None = None

    @classmethod
    def of(cls, m: MemberInfo) -> Member:
        return cls(
            guild_id=str(m.guild_id),
            user_id=str(m.user_id),
            username=m.name,
            display_name=m.display_name,
            is_bot=m.bot,
            nick=m.nick,
            role_ids=[str(r) for r in m.roles],
            joined_at=iso(m.joined_at),
        )


__all__ = [
    "Attachment",
    "Channel",
    "ChannelType",
    "Guild",
    "Member",
    "Message",
    "Reason",
    "Snowflake",
    "channel_kind",
    "iso",
    "not_found_hint",
    "opt_id",
    "to_id",
]
