"""Pins, bulk deletion, reaction lists and message search: pin_message, unpin_message,
list_pins, bulk_delete_messages, list_reactions, search_messages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors.discord_port import (
    DiscordBadRequest,
    DiscordForbidden,
    DiscordNotFound,
    MessageInfo,
)
from discord_io.ops import pins as ops
from mcp_edge.tools._history import MessageFilter, time_bound
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Message, Reason, Snowflake, iso, not_found_hint, opt_id, to_id
from mcp_edge.tools.reactions import Emoji, parse_emoji
from mcp_edge.tools.threads import archived_hint

SEARCH_PAGE = 100
"""Messages per history page a search reads (Discord's maximum)."""
MAX_SEARCH_CHANNELS = 10

_REOPEN = "reopen it first with update_thread (archived=false)"
_MESSAGE_ADVICE = "check channel_id and message_id (read_messages gives them)"


class Pinned(BaseModel):
    channel_id: str
    message_id: str
    pinned: bool = Field(description="Whether the message is pinned now.")


class Pin(BaseModel):
    pinned_at: str
    message: Message


class PinList(BaseModel):
    pins: list[Pin] = Field(description="Most recently pinned first.")
    next_cursor: str | None = Field(
        None, description="Pass as cursor for earlier pins; null: that was all."
    )


class BulkDeleted(BaseModel):
    channel_id: str
    message_ids: list[str] = Field(
        description="The ids sent to Discord (duplicates removed). Ids of messages that are not "
        "in the channel (or already deleted) are silently skipped by Discord."
    )
    count: int


class User(BaseModel):
    id: str
    username: str
    global_name: str | None = None
    is_bot: bool


class ReactionUsers(BaseModel):
    channel_id: str
    message_id: str
    emoji: str
    users: list[User] = Field(description="Ordered by user id.")
    next_cursor: str | None = Field(
        None, description="Pass as cursor for the next users; null: that was all."
    )


class ChannelFailure(BaseModel):
    channel_id: str
    error: str


class SearchResult(BaseModel):
    messages: list[Message] = Field(
        description="Matches found in this call, newest first within each channel."
    )
    scanned: int = Field(description="Messages examined.")
    pages: int = Field(description="History pages (of up to 100 messages) read.")
    next_cursor: str | None = Field(
        None,
        description="More history is left unscanned: call again with the same channel_ids and "
        "filters and this cursor. null: the search is complete.",
    )
    failed_channels: list[ChannelFailure] = Field(
        default_factory=list,
        description="Channels that could not be read (others were still searched).",
    )


def _pin_cursor(value: str) -> dt.datetime:
    prefix, _, stamp = value.partition(":")
    try:
        if prefix != "pins":
            raise ValueError(prefix)
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(
            f"cursor {value!r} is not one this server issued; pass next_cursor from a previous "
            "list_pins result unchanged"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _encode_search(positions: list[tuple[int, int | None]]) -> str:
    return "search:" + ",".join(f"{cid}.{'-' if at is None else at}" for cid, at in positions)


def _decode_search(value: str, channels: list[int]) -> list[tuple[int, int | None]]:
    bad = ValueError(
        f"cursor {value!r} is not one this server issued for these channel_ids; pass "
        "next_cursor from a previous search_messages result unchanged, with the same channel_ids"
    )
    prefix, _, body = value.partition(":")
    if prefix != "search" or not body:
        raise bad
    out: list[tuple[int, int | None]] = []
    for part in body.split(","):
        cid, _, at = part.partition(".")
        if not cid.isdigit() or not (at == "-" or at.isdigit()) or int(cid) not in channels:
            raise bad
        out.append((int(cid), None if at == "-" else int(at)))
    return out


def register(kit: ToolKit) -> None:
    @kit.tool(title="Pin a message", read_only=False, destructive=False, idempotent=True)
    async def pin_message(
        channel_id: Snowflake, message_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> Pinned:
        """Pin a message to its channel so everyone finds it in the channel's pins.

        Pinning a pinned message changes nothing. Needs the Pin Messages permission (the
        error names it when missing); a channel holds at most 250 pins, and messages in an
        archived thread cannot be pinned until it is reopened (update_thread).
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        with not_found_hint(_MESSAGE_ADVICE), archived_hint(_REOPEN):
            await kit.caller().handle.call(
                lambda port: ops.set_pinned(port, cid, mid, pin=True, reason=reason)
            )
        return Pinned(channel_id=channel_id, message_id=message_id, pinned=True)

    @kit.tool(title="Unpin a message", read_only=False, destructive=True, idempotent=True)
    async def unpin_message(
        channel_id: Snowflake, message_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> Pinned:
        """Remove a message from its channel's pins (the message itself stays).

        Unpinning a message that is not pinned changes nothing. Needs the Pin Messages
        permission.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        with not_found_hint(_MESSAGE_ADVICE), archived_hint(_REOPEN):
            await kit.caller().handle.call(
                lambda port: ops.set_pinned(port, cid, mid, pin=False, reason=reason)
            )
        return Pinned(channel_id=channel_id, message_id=message_id, pinned=False)

    @kit.tool(title="List pinned messages", read_only=True)
    async def list_pins(
        channel_id: Snowflake,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=50)] = 50,
        cursor: Annotated[str | None, Field(description="next_cursor of a previous call.")] = None,
    ) -> PinList:
        """List a channel's pinned messages, most recently pinned first, with when each was
        pinned. Continue with next_cursor when there are more than `limit`."""
        cid = to_id(channel_id, "channel_id")
        before = None if cursor is None else _pin_cursor(cursor)
        with not_found_hint("check channel_id (list_channels gives channel ids)"):
            page = await kit.caller().handle.call(
                lambda port: ops.list_pins(port, cid, before=before, limit=limit)
            )
        pins = [
            Pin(pinned_at=iso(p.pinned_at) or "", message=Message.of(p.message)) for p in page.pins
        ]
        more = page.has_more and bool(page.pins)
        return PinList(
            pins=pins,
            next_cursor=f"pins:{iso(page.pins[-1].pinned_at)}" if more else None,
        )

    @kit.tool(title="Delete many messages", read_only=False, destructive=True, idempotent=True)
    async def bulk_delete_messages(
        channel_id: Snowflake,
        message_ids: Annotated[
            list[Snowflake],
            Field(min_length=2, max_length=100, description="2 to 100 ids of this channel."),
        ],
        ctx: Context,
        reason: Reason = None,
    ) -> BulkDeleted:
        """Delete 2 to 100 messages of one channel in a single request (moderation cleanup).

        Discord only bulk-deletes messages younger than 14 days: if any id is older, nothing
        is deleted and the error names those ids -- delete them one by one with
        delete_message instead, and call this again without them. Ids of messages not in the
        channel are ignored. Needs the Manage Messages permission. This cannot be undone.
        """
        cid = to_id(channel_id, "channel_id")
        ids: list[int] = []
        for value in message_ids:
            mid = to_id(value, "message_ids")
            if mid not in ids:
                ids.append(mid)
        if len(ids) < 2:
            raise ValueError(
                "message_ids must hold at least 2 different ids; delete a single message with "
                "delete_message"
            )
        old = ops.too_old(ids)
        if old:
            raise ValueError(
                f"message_ids {', '.join(map(str, old))} are older than 14 days, which Discord "
                "refuses to bulk-delete; nothing was deleted. Delete those with delete_message, "
                "and call bulk_delete_messages again with the others"
            )
        with not_found_hint("check channel_id (list_channels gives channel ids)"):
            await kit.caller().handle.call(
                lambda port: ops.bulk_delete(port, cid, ids, reason=reason)
            )
        return BulkDeleted(channel_id=channel_id, message_ids=[str(m) for m in ids], count=len(ids))

    @kit.tool(title="List who reacted", read_only=True)
    async def list_reactions(
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Emoji,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 25,
        cursor: Annotated[str | None, Field(description="next_cursor of a previous call.")] = None,
    ) -> ReactionUsers:
        """List the users who reacted to a message with one emoji (a unicode emoji, or name:id
        for a custom one), by user id; continue with next_cursor for more.

        An emoji nobody reacted with gives an empty list. Use it to count votes or see who
        acknowledged a message.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        name = parse_emoji(emoji)
        after = None if cursor is None else to_id(cursor, "cursor")
        with not_found_hint(_MESSAGE_ADVICE):
            users = await kit.caller().handle.call(
                lambda port: ops.reaction_users(port, cid, mid, name, after=after, limit=limit)
            )
        return ReactionUsers(
            channel_id=channel_id,
            message_id=message_id,
            emoji=name,
            users=[
                User(id=str(u.id), username=u.name, global_name=u.global_name, is_bot=u.bot)
                for u in users
            ],
            next_cursor=str(users[-1].id) if len(users) >= limit else None,
        )

    @kit.tool(title="Search messages", read_only=True)
    async def search_messages(
        channel_ids: Annotated[
            list[Snowflake],
            Field(
                min_length=1,
                max_length=MAX_SEARCH_CHANNELS,
                description="The channels or threads to search (1 to 10).",
            ),
        ],
        ctx: Context,
        author_id: Annotated[Snowflake | None, Field(description="Only this author's.")] = None,
        contains: Annotated[
            str | None,
            Field(min_length=1, max_length=200, description="Text to find (case-insensitive)."),
        ] = None,
        has_attachments: Annotated[bool | None, Field(description="Only with/without.")] = None,
        mentions: Annotated[
            Snowflake | None,
            Field(description="Only messages whose text mentions this user or role id."),
        ] = None,
        since: Annotated[
            dt.datetime | None, Field(description="Only at or after (ISO 8601).")
        ] = None,
        until: Annotated[dt.datetime | None, Field(description="Only before (ISO 8601).")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Stop after this many.")] = 25,
        max_pages: Annotated[
            int,
            Field(ge=1, le=20, description="History pages of 100 to read in this call, at most."),
        ] = 5,
        cursor: Annotated[str | None, Field(description="next_cursor of a previous call.")] = None,
    ) -> SearchResult:
        """Search the history of one or more channels for messages matching filters, newest
        first, reading a bounded number of history pages per call.

        Filters combine: author_id, contains (case-insensitive text), has_attachments,
        mentions (a user or role id mentioned in the text), since/until (ISO 8601 times).
        Each call reads at most max_pages pages of 100 messages in all (the channels take
        turns) and reports progress. If next_cursor is set, history is left unscanned: call
        again with the same arguments plus cursor to continue. A channel the bot cannot read
        is reported in failed_channels while the others are searched; if none can be read,
        the call fails with Discord's error. Text is empty (so contains and mentions cannot
        match) for others' messages when the agent lacks the message content intent.
        """
        channels: list[int] = []
        for value in channel_ids:
            cid = to_id(value, "channel_ids")
            if cid not in channels:
                channels.append(cid)
        keep = MessageFilter(
            author_id=opt_id(author_id, "author_id"),
            contains=contains,
            has_attachments=has_attachments,
            since=time_bound(since, "since"),
            until=time_bound(until, "until"),
            mentions=opt_id(mentions, "mentions"),
        )
        if keep.since is not None and keep.until is not None and keep.since >= keep.until:
            raise ValueError("since must be before until")
        positions: list[tuple[int, int | None]] = (
            [(c, None) for c in channels] if cursor is None else _decode_search(cursor, channels)
        )
        handle = kit.caller().handle
        found: list[MessageInfo] = []
        failed: list[ChannelFailure] = []
        first_error: DiscordForbidden | DiscordNotFound | DiscordBadRequest | None = None
        scanned = pages = 0
        while positions and pages < max_pages and len(found) < limit:
            cid, anchor = positions.pop(0)
            before = anchor if anchor is not None else keep.until
            try:
                page = await handle.read_messages(cid, limit=SEARCH_PAGE, before=before)
            except (DiscordForbidden, DiscordNotFound, DiscordBadRequest) as exc:
                failed.append(ChannelFailure(channel_id=str(cid), error=str(exc)))
                first_error = first_error or exc
                continue
            pages += 1
            done = len(page) < SEARCH_PAGE
            last = anchor
            for m in sorted(page, key=lambda m: m.id, reverse=True):
                if keep.since is not None and m.id < keep.since:
                    done = True
                    break
                scanned += 1
                last = m.id
                if keep(m):
                    found.append(m)
                    if len(found) >= limit:
                        done = done and m.id == min(x.id for x in page)
                        break
            if not done:
                positions.append((cid, last))
            await ctx.report_progress(
                pages, max_pages, f"scanned {scanned} messages, {len(found)} found"
            )
        if first_error is not None and pages == 0:
            raise first_error
        return SearchResult(
            messages=[Message.of(m) for m in found],
            scanned=scanned,
            pages=pages,
            next_cursor=_encode_search(positions) if positions else None,
            failed_channels=failed,
        )


__all__ = ["register"]
