"""Message tools: send, read (with filters and a cursor), edit, delete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors import SendReceipt
from actors.discord_port import AllowedMentions, FileUpload, MessageInfo
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.tools._attachments import to_upload
from mcp_edge.tools._history import MessageFilter, time_bound
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Message, Reason, Snowflake, opt_id, to_id

MAX_SCAN_PAGES = 5
"""Pages of 100 that one filtered ``read_messages`` call scans at most before returning."""


class EmbedField(BaseModel):
    name: str = Field(max_length=256)
    value: str = Field(max_length=1024)
    inline: bool = False


class Embed(BaseModel):
    """A rich embed (Discord allows 10 per message, 6000 characters in all)."""

    title: str | None = Field(None, max_length=256)
    description: str | None = Field(None, max_length=4096)
    url: str | None = None
    color: int | None = Field(None, ge=0, le=0xFFFFFF, description="RGB as an integer.")
    fields: list[EmbedField] = Field(default_factory=list, max_length=25)
    footer: str | None = Field(None, max_length=2048)
    image_url: str | None = None
    thumbnail_url: str | None = None
    author_name: str | None = Field(None, max_length=256)

    def payload(self) -> dict[str, object]:
        out: dict[str, object] = {"type": "rich"}
        for key in ("title", "description", "url", "color"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.fields:
            out["fields"] = [f.model_dump() for f in self.fields]
        if self.footer is not None:
            out["footer"] = {"text": self.footer}
        if self.image_url is not None:
            out["image"] = {"url": self.image_url}
        if self.thumbnail_url is not None:
            out["thumbnail"] = {"url": self.thumbnail_url}
        if self.author_name is not None:
            out["author"] = {"name": self.author_name}
        return out


class AttachmentIn(BaseModel):
    """A file to attach: its bytes as base64, or a public http(s) URL to download."""

    filename: str = Field(min_length=1, max_length=256, pattern=r"^[^/\\]+$")
    data_base64: str | None = None
    url: str | None = None
    description: str | None = Field(None, max_length=1024, description="Alt text.")


async def uploads(
    attachments: Sequence[AttachmentIn] | None, runtime: EdgeRuntime
) -> list[FileUpload]:
    """The files to send: each attachment decoded or downloaded under the runtime's limits."""
    return [
        await to_upload(
            a.filename,
            data_base64=a.data_base64,
            url=a.url,
            description=a.description,
            max_bytes=runtime.max_attachment_bytes,
            allow_private=runtime.allow_private_urls,
        )
        for a in attachments or ()
    ]


class Mentions(BaseModel):
    """Who the message may ping. Default: nobody, even if the text mentions them."""

    users: list[Snowflake] | Literal["all"] = Field(
        default_factory=list, description='User ids that may be pinged, or "all" mentioned users.'
    )
    roles: list[Snowflake] | Literal["all"] = Field(default_factory=list)
    everyone: bool = Field(default=False, description="Allow @everyone and @here.")
    replied_user: bool = Field(
        default=False, description="Ping the author of the replied-to message."
    )

    def value(self) -> AllowedMentions:
        def pick(v: list[str] | str) -> bool | tuple[int, ...]:
            return True if v == "all" else tuple(to_id(x, "allowed_mentions") for x in v)

        return AllowedMentions(
            everyone=self.everyone,
            users=pick(self.users),
            roles=pick(self.roles),
            replied_user=self.replied_user,
        )


class SendResult(BaseModel):
    state: Literal["delivered", "queued"] = Field(
        description="delivered: Discord holds it (message_id set). queued: accepted durably and "
        "it WILL be delivered, in order, as soon as Discord takes it -- do not send it again."
    )
    message_id: str | None = None
    channel_id: str
    outbox_id: int = Field(description="The server's durable record of this send.")
    duplicate: bool = Field(
        default=False,
        description="The idempotency_key was used before: this is that send's result.",
    )

    @classmethod
    def of(cls, receipt: SendReceipt) -> SendResult:
        return cls(
            state="delivered" if receipt.message_id is not None else "queued",
            message_id=None if receipt.message_id is None else str(receipt.message_id),
            channel_id=str(receipt.channel_id),
            outbox_id=receipt.outbox_id,
            duplicate=receipt.duplicate,
        )


class MessagePage(BaseModel):
    messages: list[Message] = Field(description="Oldest first.")
    next_cursor: str | None = Field(
        None,
        description="Pass as cursor to continue in the same direction; null: nothing more "
        "(or the around/limit window is complete).",
    )
    scanned: int = Field(description="Messages examined to find these (filters skip some).")


class Deleted(BaseModel):
    deleted: bool
    channel_id: str
    message_id: str


def _parse_cursor(cursor: str) -> tuple[str, int]:
    direction, _, value = cursor.partition(":")
    if direction not in ("before", "after") or not value.isdigit():
        raise ValueError(
            f"cursor {cursor!r} is not one this server issued; pass next_cursor from a previous "
            "read_messages result unchanged"
        )
    return direction, int(value)


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    @kit.tool(title="Send a message", read_only=False, destructive=False, idempotent=False)
    async def send_message(
        channel_id: Snowflake,
        ctx: Context,
        content: Annotated[str, Field(max_length=2000)] = "",
        reply_to: Annotated[
            Snowflake | None, Field(description="Reply to this message id (same channel).")
        ] = None,
        embeds: Annotated[list[Embed] | None, Field(max_length=10)] = None,
        attachments: Annotated[list[AttachmentIn] | None, Field(max_length=10)] = None,
        allowed_mentions: Mentions | None = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                max_length=128,
                description="Any unique string: a retry with the same key never posts twice "
                "and returns the first send's result.",
            ),
        ] = None,
        delivery: Annotated[
            Literal["sync", "queued"],
            Field(
                description="sync: wait until Discord holds the message (returns message_id). "
                "queued: return as soon as it is durably accepted (faster; delivered in order)."
            ),
        ] = "sync",
    ) -> SendResult:
        """Post a message in a channel, thread or DM channel as this agent's bot.

        Messages to one channel go out in the order you send them, exactly once, even across
        Discord outages and server restarts. If Discord is down the message is queued and
        delivered later: a result with state "queued" means it WILL be posted -- do not send it
        again. Use idempotency_key when you might retry. Mentions ping nobody unless
        allowed_mentions says so. Give content, embeds or attachments (at least one).
        """
        if not content and not embeds and not attachments:
            raise ValueError("give content, embeds or attachments: a message cannot be empty")
        cid = to_id(channel_id, "channel_id")
        files = await uploads(attachments, runtime)
        receipt = await kit.caller().handle.send_message(
            cid,
            content,
            delivery=delivery,
            idempotency_key=idempotency_key,
            reply_to=opt_id(reply_to, "reply_to"),
            embeds=[e.payload() for e in embeds or ()],
            allowed_mentions=None if allowed_mentions is None else allowed_mentions.value(),
            files=files,
            timeout=runtime.send_timeout,
        )
        return SendResult.of(receipt)

    @kit.tool(title="Read messages", read_only=True)
    async def read_messages(
        channel_id: Snowflake,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        before: Annotated[
            Snowflake | None, Field(description="Messages older than this id.")
        ] = None,
        after: Annotated[
            Snowflake | None, Field(description="Messages newer than this id.")
        ] = None,
        around: Annotated[Snowflake | None, Field(description="Messages around this id.")] = None,
        cursor: Annotated[str | None, Field(description="next_cursor of a previous call.")] = None,
        author_id: Annotated[Snowflake | None, Field(description="Only this author's.")] = None,
        contains: Annotated[
            str | None, Field(max_length=200, description="Only messages whose text has this.")
        ] = None,
        has_attachments: Annotated[bool | None, Field(description="Only with/without.")] = None,
        since: Annotated[
            dt.datetime | None, Field(description="Only at or after (ISO 8601).")
        ] = None,
        until: Annotated[dt.datetime | None, Field(description="Only before (ISO 8601).")] = None,
    ) -> MessagePage:
        """Read a channel's message history, oldest first in each page.

        Without before/after/around you get the latest messages. Filters (author_id, contains,
        has_attachments, since, until) scan up to 500 messages per call; keep calling with
        next_cursor to go further. Use wait_for_events instead to watch for new messages.
        Content is empty for other users' messages if the agent lacks the message content intent.
        """
        cid = to_id(channel_id, "channel_id")
        if sum(x is not None for x in (before, after, around, cursor)) > 1:
            raise ValueError("give at most one of before, after, around and cursor")
        keep = MessageFilter(
            author_id=opt_id(author_id, "author_id"),
            contains=contains,
            has_attachments=has_attachments,
            since=time_bound(since, "since"),
            until=time_bound(until, "until"),
        )
        handle = kit.caller().handle
        if around is not None:
            page = await handle.read_messages(cid, limit=limit, around=to_id(around, "around"))
            found = sorted((m for m in page if keep(m)), key=lambda m: m.id)
            return MessagePage(
                messages=[Message.of(m) for m in found], next_cursor=None, scanned=len(page)
            )
        direction, anchor = "before", opt_id(before, "before")
        if after is not None:
            direction, anchor = "after", to_id(after, "after")
        elif cursor is not None:
            direction, anchor = _parse_cursor(cursor)
        if direction == "before" and keep.until is not None:
            anchor = keep.until if anchor is None else min(anchor, keep.until)
        if direction == "after" and keep.since is not None:
            anchor = keep.since - 1 if anchor is None else max(anchor, keep.since - 1)
        page_size = 100 if keep.active else limit
        found_msgs: list[MessageInfo] = []
        scanned = 0
        last: int | None = None
        exhausted = False
        for _ in range(MAX_SCAN_PAGES if keep.active else 1):
            if direction == "before":
                page = await handle.read_messages(cid, limit=page_size, before=anchor)
                ordered = sorted(page, key=lambda m: m.id, reverse=True)
            else:
                page = await handle.read_messages(cid, limit=page_size, after=anchor or 0)
                ordered = sorted(page, key=lambda m: m.id)
            for m in ordered:
                scanned += 1
                last = m.id
                past = (direction == "before" and keep.since is not None and m.id < keep.since) or (
                    direction == "after" and keep.until is not None and m.id >= keep.until
                )
                if past:
                    exhausted = True
                    break
                if keep(m):
                    found_msgs.append(m)
                    if len(found_msgs) >= limit:
                        break
            if exhausted or len(found_msgs) >= limit:
                break
            if len(page) < page_size:
                exhausted = True
                break
            anchor = last
            await ctx.report_progress(
                scanned, MAX_SCAN_PAGES * page_size, f"scanned {scanned} messages"
            )
        more = not exhausted and last is not None
        return MessagePage(
            messages=[Message.of(m) for m in sorted(found_msgs, key=lambda m: m.id)],
            next_cursor=f"{direction}:{last}" if more else None,
            scanned=scanned,
        )

    @kit.tool(title="Edit a message", read_only=False, destructive=False, idempotent=True)
    async def edit_message(
        channel_id: Snowflake,
        message_id: Snowflake,
        ctx: Context,
        content: Annotated[str | None, Field(max_length=2000)] = None,
        embeds: Annotated[list[Embed] | None, Field(max_length=10)] = None,
    ) -> Message:
        """Change the text or embeds of a message this agent's bot sent (not others').

        Give content, embeds, or both; what you leave out stays as it is. Returns the edited
        message.
        """
        if content is None and embeds is None:
            raise ValueError("give content or embeds (or both) to edit")
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        payload = None if embeds is None else [e.payload() for e in embeds]
        edited = await kit.caller().handle.call(
            lambda port: port.edit_message(cid, mid, content=content, embeds=payload)
        )
        return Message.of(edited)

    @kit.tool(title="Delete a message", read_only=False, destructive=True, idempotent=True)
    async def delete_message(
        channel_id: Snowflake, message_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> Deleted:
        """Delete a message. The bot can always delete its own; others' need Manage Messages.

        This cannot be undone. Give a reason when deleting someone else's message: moderators
        see it in the guild's audit log.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        await kit.caller().handle.call(lambda port: port.delete_message(cid, mid, reason=reason))
        return Deleted(deleted=True, channel_id=channel_id, message_id=message_id)
