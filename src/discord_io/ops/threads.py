"""Threads and forum posts: start, list (active and archived), and change them.

Discord's routes used here::

    POST  /channels/{id}/messages/{message_id}/threads   a thread on a message
    POST  /channels/{id}/threads                         a thread without one, or a forum post
                                                         (the post and its first message in one)
    GET   /guilds/{id}/threads/active                    every active thread the bot can see
    GET   /channels/{id}/threads/archived/public         archived public threads, newest first
    PATCH /channels/{id}                                 rename, archive, lock a thread

A thread is a channel; :class:`ThreadInfo` is the part of it that matters for threads (its
``thread_metadata``), built by :func:`thread_from_payload`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from actors.discord_port import ChannelInfo, ChannelKind, DiscordPort, MessageInfo
from discord_io._translate import channel_from_payload, message_from_payload
from discord_io.ops.channel_admin import channel_payload

ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
"""Minutes of inactivity after which Discord archives a thread (the only values it takes)."""

THREAD_KINDS = frozenset(
    {ChannelKind.ANNOUNCEMENT_THREAD, ChannelKind.PUBLIC_THREAD, ChannelKind.PRIVATE_THREAD}
)
FORUM_KINDS = frozenset({ChannelKind.FORUM, ChannelKind.MEDIA})
THREAD_PARENT_KINDS = frozenset({ChannelKind.TEXT, ChannelKind.ANNOUNCEMENT})


@attrs.frozen
class ThreadInfo:
    """A thread (or forum post) and its metadata."""

    id: int
    type: int
    """A :class:`ChannelKind` thread value (10, 11 or 12)."""
    guild_id: int | None
    parent_id: int | None
    name: str
    owner_id: int | None
    archived: bool
    locked: bool
    auto_archive_duration: int
    archived_at: dt.datetime | None = None
    """When the archived state last changed (Discord's ``archive_timestamp``)."""
    created_at: dt.datetime | None = None
    message_count: int | None = None
    member_count: int | None = None
    applied_tags: tuple[int, ...] = ()


@attrs.frozen
class ForumTag:
    id: int
    name: str


@attrs.frozen
class ForumInfo:
    """A channel, with the tags its posts may carry when it is a forum."""

    channel: ChannelInfo
    tags: tuple[ForumTag, ...] = ()


@attrs.frozen
class ThreadPage:
    threads: tuple[ThreadInfo, ...]
    has_more: bool


@attrs.frozen
class ForumPost:
    thread: ThreadInfo
    message: MessageInfo | None
    """The starter message (None when Discord's answer left it out)."""


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    stamp = dt.datetime.fromisoformat(str(value))
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def thread_from_payload(data: Mapping[str, Any]) -> ThreadInfo:
    """A thread channel object (with ``thread_metadata``) as a :class:`ThreadInfo`."""
    meta = data.get("thread_metadata") or {}
    return ThreadInfo(
        id=int(data["id"]),
        type=int(data["type"]),
        guild_id=_opt_int(data.get("guild_id")),
        parent_id=_opt_int(data.get("parent_id")),
        name=str(data.get("name") or ""),
        owner_id=_opt_int(data.get("owner_id")),
        archived=bool(meta.get("archived", False)),
        locked=bool(meta.get("locked", False)),
        auto_archive_duration=int(meta.get("auto_archive_duration") or 1440),
        archived_at=_time(meta.get("archive_timestamp")),
        created_at=_time(meta.get("create_timestamp")),
        message_count=_opt_int(data.get("message_count")),
        member_count=_opt_int(data.get("member_count")),
        applied_tags=tuple(int(t) for t in data.get("applied_tags") or ()),
    )


async def get_forum(port: DiscordPort, channel_id: int) -> ForumInfo:
    """A channel and (for a forum or media channel) its ``available_tags``."""
    data = await channel_payload(port, channel_id)
    tags = tuple(
        ForumTag(id=int(t["id"]), name=str(t.get("name") or ""))
        for t in data.get("available_tags") or ()
    )
    return ForumInfo(channel=channel_from_payload(data), tags=tags)


def _duration(value: int | None) -> int | None:
    if value is not None and value not in ARCHIVE_DURATIONS:
        raise ValueError(
            f"auto_archive_duration must be one of {', '.join(map(str, ARCHIVE_DURATIONS))} "
            f"(minutes), not {value}"
        )
    return value


async def create_thread(
    port: DiscordPort,
    channel_id: int,
    name: str,
    *,
    message_id: int | None = None,
    auto_archive_duration: int | None = None,
    private: bool = False,
    reason: str | None = None,
) -> ThreadInfo:
    """Start a thread on ``message_id``, or without a message in a text/announcement channel
    (private threads only in text channels)."""
    body: dict[str, Any] = {"name": name}
    if _duration(auto_archive_duration) is not None:
        body["auto_archive_duration"] = auto_archive_duration
    if message_id is not None:
        if private:
            raise ValueError(
                "private cannot be true with message_id: a thread on a message is always public"
            )
        data = await port.rest(
            "POST",
            "/channels/{channel_id}/messages/{message_id}/threads",
            action=f"start a thread on message {message_id} in channel {channel_id}",
            json=body,
            reason=reason,
            permission="create_public_threads",
            what=f"message {message_id} in channel {channel_id}",
            ids={"channel_id": channel_id, "message_id": message_id},
        )
        return thread_from_payload(data)
    channel = await port.get_channel(channel_id)
    if channel.type in FORUM_KINDS:
        raise ValueError(
            f"channel_id {channel_id} is a forum: start a post there with create_forum_post"
        )
    if channel.type not in THREAD_PARENT_KINDS:
        raise ValueError(
            f"channel_id {channel_id} is not a text or announcement channel "
            f"(its type is {channel.type}); threads start in those (or use create_forum_post)"
        )
    if channel.type == ChannelKind.ANNOUNCEMENT:
        if private:
            raise ValueError("private threads cannot be started in an announcement channel")
        kind = ChannelKind.ANNOUNCEMENT_THREAD
    else:
        kind = ChannelKind.PRIVATE_THREAD if private else ChannelKind.PUBLIC_THREAD
    body["type"] = int(kind)
    data = await port.rest(
        "POST",
        "/channels/{channel_id}/threads",
        action=f"start a thread in channel {channel_id}",
        json=body,
        reason=reason,
        permission="create_private_threads" if private else "create_public_threads",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return thread_from_payload(data)


async def create_forum_post(
    port: DiscordPort,
    forum_id: int,
    title: str,
    content: str,
    *,
    tags: Sequence[int] = (),
    auto_archive_duration: int | None = None,
    reason: str | None = None,
) -> ForumPost:
    """Open a post (a thread and its first message, in one request) in a forum channel."""
    body: dict[str, Any] = {"name": title, "message": {"content": content}}
    if _duration(auto_archive_duration) is not None:
        body["auto_archive_duration"] = auto_archive_duration
    if tags:
        body["applied_tags"] = [str(t) for t in tags]
    data = await port.rest(
        "POST",
        "/channels/{channel_id}/threads",
        action=f"open a post in forum {forum_id}",
        json=body,
        reason=reason,
        permission="send_messages",
        what=f"forum channel {forum_id}",
        ids={"channel_id": forum_id},
    )
    first = data.get("message")
    return ForumPost(
        thread=thread_from_payload(data),
        message=None if not first else message_from_payload(first),
    )


async def active_threads(port: DiscordPort, guild_id: int) -> ThreadPage:
    """Every active (unarchived) thread of the guild the bot can see, newest first."""
    data = await port.rest(
        "GET",
        "/guilds/{guild_id}/threads/active",
        action=f"list the active threads of guild {guild_id}",
        what=f"guild {guild_id}",
        ids={"guild_id": guild_id},
    )
    threads = tuple(thread_from_payload(t) for t in data.get("threads") or ())
    return ThreadPage(threads=threads, has_more=bool(data.get("has_more", False)))


async def archived_public_threads(
    port: DiscordPort, channel_id: int, *, before: dt.datetime | None = None, limit: int = 50
) -> ThreadPage:
    """Archived public threads of a channel, most recently archived first; ``before`` is an
    archive time (exclusive)."""
    query: dict[str, str | int] = {"limit": limit}
    if before is not None:
        query["before"] = before.astimezone(dt.UTC).isoformat()
    data = await port.rest(
        "GET",
        "/channels/{channel_id}/threads/archived/public",
        action=f"list the archived threads of channel {channel_id}",
        query=query,
        permission="read_message_history",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    threads = tuple(thread_from_payload(t) for t in data.get("threads") or ())
    return ThreadPage(threads=threads, has_more=bool(data.get("has_more", False)))


async def update_thread(
    port: DiscordPort,
    thread_id: int,
    *,
    name: str | None = None,
    archived: bool | None = None,
    locked: bool | None = None,
    auto_archive_duration: int | None = None,
    reason: str | None = None,
) -> ThreadInfo:
    """Rename, (un)archive, (un)lock a thread or change its auto-archive time."""
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if archived is not None:
        body["archived"] = archived
    if locked is not None:
        body["locked"] = locked
    if _duration(auto_archive_duration) is not None:
        body["auto_archive_duration"] = auto_archive_duration
    if not body:
        raise ValueError("give at least one of name, archived, locked, auto_archive_duration")
    channel = await port.get_channel(thread_id)
    if channel.type not in THREAD_KINDS:
        raise ValueError(
            f"thread_id {thread_id} is a channel, not a thread: change channels with update_channel"
        )
    data = await port.rest(
        "PATCH",
        "/channels/{channel_id}",
        action=f"change thread {thread_id}",
        json=body,
        reason=reason,
        permission="manage_threads",
        what=f"thread {thread_id}",
        ids={"channel_id": thread_id},
    )
    return thread_from_payload(data)


__all__ = [
    "ARCHIVE_DURATIONS",
    "ForumInfo",
    "ForumPost",
    "ForumTag",
    "ThreadInfo",
    "ThreadPage",
    "active_threads",
    "archived_public_threads",
    "create_forum_post",
    "create_thread",
    "get_forum",
    "thread_from_payload",
    "update_thread",
]
