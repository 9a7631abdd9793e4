"""Reaction tools: ``add_reaction`` and ``remove_reaction`` (the bot's own, or someone's).

An emoji is given as Discord's REST API takes it: the unicode emoji itself (``👍``), or
``name:id`` for a guild's custom emoji. The chat forms ``<:name:id>`` and ``<a:name:id>`` (what
a message's text holds) are accepted and normalised; a shortcode such as ``:thumbsup:`` is
refused with advice, because Discord does not know shortcodes. Both operations are idempotent
on Discord's side (adding twice or removing what is not there succeeds), and both are a single
REST request through :meth:`~actors.AgentHandle.call`. Removing another user's reaction needs
the ``manage_messages`` permission; the 403 names it.
"""

from __future__ import annotations

import re
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Snowflake, not_found_hint, opt_id, to_id

Emoji = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description='A unicode emoji ("👍", "🎉"), or "name:id" for a custom emoji.',
        examples=["👍", "party_parrot:123456789012345678"],
    ),
]

_CHAT_FORM = re.compile(r"^<a?:(\w{1,32}):([0-9]{1,20})>$")
_CUSTOM = re.compile(r"^\w{1,32}:[0-9]{1,20}$")
_SHORTCODE = re.compile(r"^:?[\w+-]+:?$", re.ASCII)
_ADVICE = (
    "check channel_id and message_id (read_messages gives them); the emoji must be a unicode "
    "emoji or name:id of a custom emoji of this guild"
)


def parse_emoji(value: str) -> str:
    """The emoji in the form Discord's REST API takes (``ValueError`` naming the field)."""
    text = value.strip()
    chat = _CHAT_FORM.match(text)
    if chat is not None:
        return f"{chat[1]}:{chat[2]}"
    if _CUSTOM.match(text):
        return text
    if not text or _SHORTCODE.match(text) or any(c.isspace() for c in text):
        raise ValueError(
            f"emoji must be the unicode emoji itself (like 👍) or name:id for a custom emoji, "
            f"not {value!r}"
        )
    return text


class Reaction(BaseModel):
    channel_id: str
    message_id: str
    emoji: str = Field(description="As Discord took it: the unicode emoji or name:id.")
    user_id: str | None = Field(default=None, description="Whose reaction; null: this agent's bot.")
    present: bool = Field(description="Whether the reaction is there now.")


def register(kit: ToolKit) -> None:
    @kit.tool(title="Add a reaction", read_only=False, destructive=False, idempotent=True)
    async def add_reaction(
        channel_id: Snowflake, message_id: Snowflake, emoji: Emoji, ctx: Context
    ) -> Reaction:
        """React to a message with an emoji as this agent's bot.

        A cheap way to acknowledge a message without posting. Adding the same reaction again
        does nothing. Fails with "emoji not found" for a custom emoji of another guild.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        name = parse_emoji(emoji)
        with not_found_hint(_ADVICE):
            await kit.caller().handle.call(lambda port: port.add_reaction(cid, mid, name))
        return Reaction(channel_id=channel_id, message_id=message_id, emoji=name, present=True)

    @kit.tool(title="Remove a reaction", read_only=False, destructive=True, idempotent=True)
    async def remove_reaction(
        channel_id: Snowflake,
        message_id: Snowflake,
        emoji: Emoji,
        ctx: Context,
        user_id: Annotated[
            Snowflake | None,
            Field(
                description="Remove this user's reaction (needs Manage Messages). "
                "Omit to remove the bot's own."
            ),
        ] = None,
    ) -> Reaction:
        """Remove a reaction from a message: the bot's own, or another user's with user_id.

        Removing another user's reaction needs the Manage Messages permission in the channel
        and cannot be undone by the bot. Removing a reaction that is not there succeeds.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        name = parse_emoji(emoji)
        handle = kit.caller().handle
        uid = opt_id(user_id, "user_id")
        if uid is not None and uid == handle.user_id:
            uid = None  # the bot's own: no permission needed
        with not_found_hint(_ADVICE):
            await handle.call(lambda port: port.remove_reaction(cid, mid, name, user_id=uid))
        return Reaction(
            channel_id=channel_id,
            message_id=message_id,
            emoji=name,
            user_id=None if uid is None else str(uid),
            present=False,
        )


__all__ = ["Reaction", "parse_emoji", "register"]
