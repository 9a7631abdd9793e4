"""Thread and forum tools: create_thread, create_forum_post, list_threads, update_thread."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import ChannelKind, DiscordBadRequest
from discord_io.ops import threads as ops
from discord_io.ops.pins import snowflake_time
from discord_io.ops.threads import ForumTag, ThreadInfo
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import (
    Reason,
    Snowflake,
    channel_kind,
    iso,
    not_found_hint,
    opt_id,
    to_id,
)

THREAD_ARCHIVED = 50083
"""Discord's error code for a change to an archived thread."""

FORUM_DEDUP_WINDOW = dt.timedelta(minutes=10)
"""create_forum_post returns an existing post instead of a second one when this bot opened a
post with the same title in the same forum this recently."""

ArchiveMinutes = Literal[60, 1440, 4320, 10080]
ThreadName = Annotated[str, Field(min_length=1, max_length=100)]


class Thread(BaseModel):
    """A thread, or a forum post (a forum post is a thread of the forum channel)."""

    id: str = Field(description="The thread's id: use it as a channel_id to read or send.")
    name: str
    type: str = Field(description="public_thread, private_thread or announcement_thread.")
    guild_id: str | None = None
    parent_id: str | None = Field(None, description="The channel or forum it belongs to.")
    owner_id: str | None = Field(None, description="Who started it.")
    archived: bool
    locked: bool = Field(description="Locked: only members with Manage Threads can unarchive it.")
    auto_archive_duration: int = Field(description="Minutes of inactivity before it archives.")
    archived_at: str | None = Field(None, description="When its archived state last changed.")
    created_at: str | None = None
    message_count: int | None = None
    member_count: int | None = None
    tag_ids: list[str] = Field(default_factory=list, description="Forum tags applied.")

    @classmethod
    def of(cls, t: ThreadInfo) -> Thread:
        return cls(
            id=str(t.id),
            name=t.name,
            type=channel_kind(t.type),
            guild_id=None if t.guild_id is None else str(t.guild_id),
            parent_id=None if t.parent_id is None else str(t.parent_id),
            owner_id=None if t.owner_id is None else str(t.owner_id),
            archived=t.archived,
            locked=t.locked,
            auto_archive_duration=t.auto_archive_duration,
            archived_at=iso(t.archived_at),
            created_at=iso(t.created_at),
            message_count=t.message_count,
            member_count=t.member_count,
            tag_ids=[str(x) for x in t.applied_tags],
        )


class ForumPostResult(BaseModel):
    thread: Thread
    message_id: str = Field(
        description="The post's first message (Discord gives it the thread's id)."
    )
    duplicate: bool = Field(
        default=False,
        description="True: this bot opened a post with this title in this forum a few minutes "
        "ago; that post is returned and nothing new was posted.",
    )


class ThreadList(BaseModel):
    threads: list[Thread]
    archived: bool = Field(description="Whether these are archived threads (else active ones).")
    next_cursor: str | None = Field(
        None, description="Pass as cursor (with the same channel_id) for older archived threads."
    )


def _archived_cursor(value: str) -> dt.datetime:
    prefix, _, stamp = value.partition(":")
    try:
        if prefix != "archived":
            raise ValueError(prefix)
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(
            f"cursor {value!r} is not one this server issued; pass next_cursor from a previous "
            "list_threads result unchanged"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@contextlib.contextmanager
def archived_hint(advice: str) -> Iterator[None]:
    """Re-raise Discord's "Thread is archived" refusal as a ToolError that says what to do."""
    try:
        yield
    except DiscordBadRequest as exc:
        if exc.code != THREAD_ARCHIVED:
            raise
        raise ToolError(f"{exc}: the thread is archived; {advice}") from exc


def _tag(available: tuple[ForumTag, ...], wanted: str) -> int:
    """A forum tag's id, by id or (case-insensitive) name; ``ValueError`` listing the tags."""
    for tag in available:
        if wanted == str(tag.id) or wanted.casefold() == tag.name.casefold():
            return tag.id
    known = ", ".join(f"{t.name} ({t.id})" for t in available) or "none"
    raise ValueError(f"tags: {wanted!r} is not a tag of this forum; its tags are: {known}")


_THREAD_ADVICE = "check the id: list_threads gives thread ids, list_channels channel ids"


def register(kit: ToolKit) -> None:
    @kit.tool(title="Start a thread", read_only=False, destructive=False, idempotent=False)
    async def create_thread(
        channel_id: Annotated[
            Snowflake, Field(description="The text or announcement channel to start it in.")
        ],
        name: ThreadName,
        ctx: Context,
        message_id: Annotated[
            Snowflake | None,
            Field(description="Start the thread on this message of the channel (public)."),
        ] = None,
        auto_archive_duration: Annotated[
            ArchiveMinutes | None,
            Field(description="Minutes of inactivity before Discord archives it; default 1440."),
        ] = None,
        private: Annotated[
            bool,
            Field(
                description="A private thread (text channels only, not with message_id): only "
                "people added or mentioned see it."
            ),
        ] = False,
        reason: Reason = None,
    ) -> Thread:
        """Start a thread in a text or announcement channel, on a message or on its own.

        With message_id the thread hangs off that message (one thread per message: Discord
        refuses a second). Without it you get a standalone thread, public unless private is
        true. The result's id is the thread's channel id: send_message and read_messages take
        it. For a forum channel use create_forum_post instead. Each call starts a new thread,
        so do not retry a call that succeeded. Fails with a missing create_public_threads or
        create_private_threads permission when the bot may not start threads there.
        """
        cid = to_id(channel_id, "channel_id")
        mid = opt_id(message_id, "message_id")
        with not_found_hint("check channel_id and message_id (list_channels, read_messages)"):
            thread = await kit.caller().handle.call(
                lambda port: ops.create_thread(
                    port,
                    cid,
                    name,
                    message_id=mid,
                    auto_archive_duration=auto_archive_duration,
                    private=private,
                    reason=reason,
                )
            )
        return Thread.of(thread)

    @kit.tool(title="Open a forum post", read_only=False, destructive=False, idempotent=False)
    async def create_forum_post(
        forum_id: Annotated[Snowflake, Field(description="The forum channel's id.")],
        title: ThreadName,
        content: Annotated[
            str, Field(min_length=1, max_length=2000, description="The post's first message.")
        ],
        ctx: Context,
        tags: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
            Field(
                max_length=5,
                description="Up to 5 of the forum's tags, by name (as shown in Discord) or id.",
            ),
        ] = None,
        auto_archive_duration: ArchiveMinutes | None = None,
        allow_duplicate_title: Annotated[
            bool,
            Field(
                description="Post even if this bot opened a post with the same title in this "
                "forum in the last 10 minutes (normally that post is returned instead)."
            ),
        ] = False,
        reason: Reason = None,
    ) -> ForumPostResult:
        """Open a new post in a forum channel: a thread titled `title` whose first message is
        `content`.

        Discord creates the post and its first message in one request, which does not go
        through the exactly-once send queue. Instead, retries are made safe like this: if this
        bot already opened a post with the same title in the same forum in the last 10 minutes
        and it is still active, that post is returned with duplicate=true and nothing new is
        posted. Set allow_duplicate_title to post anyway. Reply in the post with send_message
        using the returned thread id as channel_id. Tags are the forum's own (by name or id):
        an unknown one is refused with the list of the forum's tags.
        """
        fid = to_id(forum_id, "forum_id")
        handle = kit.caller().handle
        with not_found_hint("check forum_id: list_channels shows forums with type forum"):
            info = await handle.call(lambda port: ops.get_forum(port, fid))
        forum = info.channel
        if forum.type not in (ChannelKind.FORUM, ChannelKind.MEDIA):
            raise ValueError(
                f"forum_id {forum_id} is a {channel_kind(forum.type)} channel, not a forum: use "
                "create_thread or send_message there"
            )
        tag_ids = [_tag(info.tags, t) for t in tags or ()]
        if not allow_duplicate_title and forum.guild_id is not None:
            gid = forum.guild_id
            page = await handle.call(lambda port: ops.active_threads(port, gid))
            recent = dt.datetime.now(dt.UTC) - FORUM_DEDUP_WINDOW
            for t in page.threads:
                if (
                    t.parent_id == fid
                    and t.owner_id == handle.user_id
                    and t.name.casefold() == title.casefold()
                    and (t.created_at or snowflake_time(t.id)) >= recent
                ):
                    return ForumPostResult(
                        thread=Thread.of(t), message_id=str(t.id), duplicate=True
                    )
        post = await handle.call(
            lambda port: ops.create_forum_post(
                port,
                fid,
                title,
                content,
                tags=tag_ids,
                auto_archive_duration=auto_archive_duration,
                reason=reason,
            )
        )
        first = post.thread.id if post.message is None else post.message.id
        return ForumPostResult(thread=Thread.of(post.thread), message_id=str(first))

    @kit.tool(title="List threads", read_only=True)
    async def list_threads(
        ctx: Context,
        guild_id: Annotated[
            Snowflake | None, Field(description="Active threads of this whole guild.")
        ] = None,
        channel_id: Annotated[
            Snowflake | None,
            Field(description="Only threads of this channel or forum (required with archived)."),
        ] = None,
        archived: Annotated[
            bool,
            Field(
                description="false: active threads. true: archived public threads of "
                "channel_id, most recently archived first, paged with cursor."
            ),
        ] = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        cursor: Annotated[
            str | None, Field(description="next_cursor of a previous archived listing.")
        ] = None,
    ) -> ThreadList:
        """List threads and forum posts: the active ones of a guild or channel, or the archived
        public ones of a channel.

        Active threads: give guild_id, channel_id, or both (channel_id narrows to that
        channel's or forum's threads); at most `limit` are returned, newest first. Archived
        threads: archived=true with channel_id; continue with next_cursor. Private archived
        threads are not listed. A thread's id is a channel id for read_messages and
        send_message; update_thread unarchives one.
        """
        cid = opt_id(channel_id, "channel_id")
        gid = opt_id(guild_id, "guild_id")
        handle = kit.caller().handle
        if archived:
            if cid is None:
                raise ValueError("channel_id is required with archived=true")
            before = None if cursor is None else _archived_cursor(cursor)
            with not_found_hint(_THREAD_ADVICE):
                page = await handle.call(
                    lambda port: ops.archived_public_threads(port, cid, before=before, limit=limit)
                )
            last = page.threads[-1].archived_at if page.threads else None
            more = page.has_more and last is not None
            return ThreadList(
                threads=[Thread.of(t) for t in page.threads],
                archived=True,
                next_cursor=f"archived:{iso(last)}" if more else None,
            )
        if cursor is not None:
            raise ValueError("cursor only pages archived threads (archived=true)")
        if gid is None:
            if cid is None:
                raise ValueError("give guild_id or channel_id")
            with not_found_hint(_THREAD_ADVICE):
                channel = await handle.call(lambda port: port.get_channel(cid))
            if channel.guild_id is None:
                raise ValueError(f"channel_id {channel_id} is a DM channel: it has no threads")
            gid = channel.guild_id
        guild = gid
        with not_found_hint("check guild_id: list_guilds gives the bot's guilds"):
            page = await handle.call(lambda port: ops.active_threads(port, guild))
        found = [t for t in page.threads if cid is None or t.parent_id == cid]
        found.sort(key=lambda t: t.id, reverse=True)
        return ThreadList(
            threads=[Thread.of(t) for t in found[:limit]], archived=False, next_cursor=None
        )

    @kit.tool(title="Change a thread", read_only=False, destructive=True, idempotent=True)
    async def update_thread(
        thread_id: Snowflake,
        ctx: Context,
        name: ThreadName | None = None,
        archived: Annotated[
            bool | None, Field(description="true: archive (close) it; false: reopen it.")
        ] = None,
        locked: Annotated[
            bool | None,
            Field(description="true: only Manage Threads members may reopen it (moderators)."),
        ] = None,
        auto_archive_duration: ArchiveMinutes | None = None,
        reason: Reason = None,
    ) -> Thread:
        """Rename, archive/unarchive, lock/unlock a thread or forum post, or change when it
        auto-archives. Give only what should change; the rest stays.

        An archived thread must be reopened (archived=false) before anything else changes: do
        both in the same call. The bot can rename and archive threads it started; locking,
        and changing others' threads, need the Manage Threads permission (the error names it).
        Returns the thread as it is now.
        """
        tid = to_id(thread_id, "thread_id")
        with (
            not_found_hint(_THREAD_ADVICE),
            archived_hint("reopen it in the same call: archived=false with the other changes"),
        ):
            thread = await kit.caller().handle.call(
                lambda port: ops.update_thread(
                    port,
                    tid,
                    name=name,
                    archived=archived,
                    locked=locked,
                    auto_archive_duration=auto_archive_duration,
                    reason=reason,
                )
            )
        return Thread.of(thread)


__all__ = ["ForumPostResult", "Thread", "ThreadList", "archived_hint", "register"]
