"""Direct messages: ``send_dm`` and ``read_dms``.

Both open the DM channel with the user first (``POST /users/@me/channels``: Discord answers
the same channel every time, so this is safe to repeat). ``send_dm`` then sends through the
agent's exactly-once path (outbox, nonce, per-channel order), like ``send_message``; ``read_dms``
reads the channel's history. Discord lets a bot DM only users who share a guild with it and
accept DMs from its members; it refuses others with 403 50007, and bots never DM each other.
An agent whose policy says ``dms: false`` is refused before anything is sent or read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import DiscordForbidden
from discord_io.ops import users as ops
from mcp_edge.policy import ChannelFacts
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Message, Snowflake, not_found_hint, to_id
from mcp_edge.tools.messages import AttachmentIn, Embed, SendResult, uploads

CANNOT_DM = 50007
"""Discord's "Cannot send messages to this user"."""

_USER_HINT = (
    "check user_id: it must be a user's id (a message's author_id, or list_members), not a "
    "channel's"
)


class DmSendResult(SendResult):
    user_id: str = Field(description="The recipient.")


class DmPage(BaseModel):
    user_id: str
    channel_id: str = Field(description="The DM channel (read_messages works on it too).")
    messages: list[Message] = Field(description="Oldest first.")
    next_cursor: str | None = Field(
        None, description="Pass as cursor to read older messages; null: nothing older."
    )


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    async def dm_channel(user_id: int) -> int:
        """The DM channel with ``user_id``, if this agent's policy allows DMs."""
        caller = kit.caller()
        with not_found_hint(_USER_HINT):
            channel = await caller.handle.call(lambda port: ops.open_dm(port, user_id))
        policy = kit.policy()
        if policy is not None:  # the tools take a user, not a channel: judge the DM here
            policy.check_channel(
                caller.agent, ChannelFacts(id=channel.id, name=None, guild_id=None)
            )
        return channel.id

    @kit.tool(title="Send a direct message", read_only=False, destructive=False, idempotent=False)
    async def send_dm(
        user_id: Snowflake,
        ctx: Context,
        content: Annotated[str, Field(max_length=2000)] = "",
        embeds: Annotated[list[Embed] | None, Field(max_length=10)] = None,
        attachments: Annotated[list[AttachmentIn] | None, Field(max_length=10)] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                max_length=128,
                description="Any unique string: a retry with the same key never sends twice "
                "and returns the first send's result.",
            ),
        ] = None,
        delivery: Annotated[
            Literal["sync", "queued"],
            Field(
                description="sync: wait until Discord holds the message (returns message_id). "
                "queued: return once it is durably accepted (delivered in order)."
            ),
        ] = "sync",
    ) -> DmSendResult:
        """Send a private direct message to a user as this agent's bot.

        Delivered exactly once and in order, like send_message; state "queued" means it WILL
        arrive -- do not send it again; use idempotency_key when you might retry. Discord only
        lets a bot DM users who share a guild with it and accept DMs; otherwise it refuses
        (then reach them in a guild channel instead). Bots cannot DM other bots.
        """
        if not content and not embeds and not attachments:
            raise ValueError("give content, embeds or attachments: a message cannot be empty")
        uid = to_id(user_id, "user_id")
        files = await uploads(attachments, runtime)
        cid = await dm_channel(uid)
        try:
            receipt = await kit.caller().handle.send_message(
                cid,
                content,
                delivery=delivery,
                idempotency_key=idempotency_key,
                embeds=[e.payload() for e in embeds or ()],
                files=files,
                timeout=runtime.send_timeout,
            )
        except DiscordForbidden as exc:
            if exc.code != CANNOT_DM:
                raise
            raise ToolError(
                f"{exc}. User {uid} does not accept DMs from this bot (no shared guild, DMs "
                "closed, or a bot): reach them in a guild channel instead."
            ) from exc
        result = SendResult.of(receipt)
        return DmSendResult(**result.model_dump(), user_id=user_id)

    @kit.tool(title="Read direct messages", read_only=True)
    async def read_dms(
        user_id: Snowflake,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[
            str | None, Field(description="next_cursor of a previous call: older messages.")
        ] = None,
    ) -> DmPage:
        """Read the direct-message conversation between this agent's bot and a user, oldest
        first in each page, newest page first.

        Keep passing next_cursor to go further back. Use wait_for_events to watch for new DMs.
        """
        uid = to_id(user_id, "user_id")
        before = None
        if cursor is not None:
            if not cursor.isdigit():
                raise ValueError(
                    f"cursor {cursor!r} is not one this server issued; pass next_cursor from a "
                    "previous read_dms result unchanged"
                )
            before = int(cursor)
        cid = await dm_channel(uid)
        page = await kit.caller().handle.read_messages(cid, limit=limit, before=before)
        ordered = sorted(page, key=lambda m: m.id)
        more = len(page) >= limit and bool(ordered)
        return DmPage(
            user_id=user_id,
            channel_id=str(cid),
            messages=[Message.of(m) for m in ordered],
            next_cursor=str(ordered[0].id) if more else None,
        )


__all__ = ["DmPage", "DmSendResult", "register"]
