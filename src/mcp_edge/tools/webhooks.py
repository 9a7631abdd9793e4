"""Webhook tools: ``create_webhook``, ``list_webhooks``, ``delete_webhook`` and
``send_webhook_message`` (post under any name and avatar per message: agent personas).

Tokens. A webhook's token lets anyone post through it, so no tool ever returns one: the
server fetches it as the bot right before each post (:func:`discord_io.ops.webhooks
.execute_webhook`), and posting therefore needs the same ``manage_webhooks`` permission as
managing the webhook.

Exactly-once. Unlike ``send_message`` (outbox, nonce, Discord-side dedup), a webhook post has
no nonce: if the request fails after Discord took it (a timeout, a dropped connection), a
retry posts a second copy. ``idempotency_key`` narrows that window: the server remembers each
key's outcome for :data:`KEY_TTL` seconds *in memory* (a restart forgets): a repeat returns
the first post (``duplicate``), and a repeat after an unknown outcome is refused with advice
to check the channel instead of risking a double post. Concurrent calls with one key run one
at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal

import anyio
import attrs
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import DiscordError, MessageInfo
from discord_io.ops import webhooks as ops
from mcp_edge.tools._attachments import decode_base64, download
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Message, Reason, Snowflake, not_found_hint, opt_id, to_id
from mcp_edge.tools.messages import Embed

KEY_TTL = 24 * 3600.0
"""How long (seconds) ``send_webhook_message`` remembers an idempotency key's outcome."""
MAX_KEYS = 10_000
"""Keys remembered at most (the oldest go first)."""
MAX_AVATAR_BYTES = 8 * 1024 * 1024
WebhookKind = Literal["incoming", "channel_follower", "application", "unknown"]
_KINDS: Mapping[int, WebhookKind] = {1: "incoming", 2: "channel_follower", 3: "application"}
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class Webhook(BaseModel):
    """A channel webhook (never its token: the server keeps that)."""

    id: str
    type: WebhookKind
    channel_id: str | None = None
    guild_id: str | None = None
    name: str | None = None
    avatar: str | None = Field(None, description="The avatar image's hash, if it has one.")
    creator_id: str | None = Field(None, description="The user (or bot) that created it.")
    can_post: bool = Field(
        description="send_webhook_message can post through it (an incoming webhook this "
        "agent's bot may manage)."
    )

    @classmethod
    def of(cls, w: ops.WebhookInfo) -> Webhook:
        return cls(
            id=str(w.id),
            type=_KINDS.get(w.type, "unknown"),
            channel_id=None if w.channel_id is None else str(w.channel_id),
            guild_id=None if w.guild_id is None else str(w.guild_id),
            name=w.name,
            avatar=w.avatar,
            creator_id=None if w.creator_id is None else str(w.creator_id),
            can_post=w.can_post and w.type == ops.INCOMING,
        )


class WebhookList(BaseModel):
    webhooks: list[Webhook] = Field(description="Oldest first.")


class WebhookDeleted(BaseModel):
    deleted: bool
    webhook_id: str


class WebhookPost(BaseModel):
    """A message posted through a webhook."""

    webhook_id: str
    message: Message = Field(
        description="The posted message; author_id is the webhook's id, author_name the name "
        "shown for this message."
    )
    duplicate: bool = Field(
        default=False,
        description="The idempotency_key was used before: this is that post, nothing new.",
    )


@attrs.define(eq=False)
class _PostKeys:
    """Webhook posts by (agent, idempotency key): in memory, for ``ttl`` seconds.

    A value of None marks a post whose outcome is unknown (it failed after the request may
    have reached Discord).
    """

    ttl: float = KEY_TTL
    limit: int = MAX_KEYS
    _outcomes: dict[tuple[str, str], tuple[float, WebhookPost | None]] = attrs.field(
        factory=dict, init=False
    )
    _locks: dict[tuple[str, str], anyio.Lock] = attrs.field(factory=dict, init=False)

    async def once(
        self, key: tuple[str, str], post: Callable[[], Awaitable[WebhookPost]]
    ) -> WebhookPost:
        """``post()`` at most once per key: a repeat returns the first post (``duplicate``);
        a repeat after an unknown outcome is refused (see the module docstring)."""
        try:
            async with self._lock(key):
                known, earlier = self._get(key)
                if earlier is not None:
                    return earlier.model_copy(update={"duplicate": True})
                if known:
                    raise ToolError(
                        f"an earlier send_webhook_message with idempotency_key {key[1]!r} "
                        "failed after its request may have reached Discord, so it may or may "
                        "not have posted: check the channel with read_messages; to post (again) "
                        "use a new idempotency_key"
                    )
                settled = False
                try:
                    result = await post()
                    self._put(key, result)
                    settled = True
                    return result
                except ops.WebhookOutcomeUnknown:
                    raise  # it may have posted: the finally remembers "unknown"
                except (DiscordError, ValueError):
                    settled = True  # Discord answered no: nothing was posted; retrying is safe
                    raise
                finally:
                    if not settled:
                        self._put(key, None)
        finally:
            self._release(key)

    def _lock(self, key: tuple[str, str]) -> anyio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        return lock

    def _release(self, key: tuple[str, str]) -> None:
        lock = self._locks.get(key)
        if lock is not None and not lock.locked() and lock.statistics().tasks_waiting == 0:
            del self._locks[key]

    def _get(self, key: tuple[str, str]) -> tuple[bool, WebhookPost | None]:
        """(known, post): known False when the key is new or forgotten."""
        self._expire()
        found = self._outcomes.get(key)
        return (False, None) if found is None else (True, found[1])

    def _put(self, key: tuple[str, str], post: WebhookPost | None) -> None:
        self._outcomes.pop(key, None)
        self._outcomes[key] = (anyio.current_time() + self.ttl, post)
        while len(self._outcomes) > self.limit:
            del self._outcomes[next(iter(self._outcomes))]

    def _expire(self) -> None:
        """Forget expired keys: insertion order is expiry order (one ttl for all)."""
        now = anyio.current_time()
        while self._outcomes:
            key = next(iter(self._outcomes))
            if self._outcomes[key][0] > now:
                break
            del self._outcomes[key]


def _image_data_uri(data: bytes, field: str) -> str:
    mime = next((m for magic, m in _IMAGE_TYPES if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise ValueError(f"{field} must be a PNG, JPEG, GIF or WEBP image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def register(kit: ToolKit) -> None:
    runtime = kit.runtime
    keys = _PostKeys()

    @kit.tool(title="Create a webhook", read_only=False, destructive=False, idempotent=False)
    async def create_webhook(
        channel_id: Snowflake,
        name: Annotated[
            str,
            Field(
                min_length=1,
                max_length=80,
                description='The default name posts show (may not contain "discord" or "clyde").',
            ),
        ],
        ctx: Context,
        avatar_base64: Annotated[
            str | None, Field(description="The default avatar: PNG/JPEG/GIF/WEBP bytes, base64.")
        ] = None,
        avatar_image_url: Annotated[
            str | None, Field(description="Or: an http(s) URL to download the avatar from.")
        ] = None,
        reason: Reason = None,
    ) -> Webhook:
        """Create a webhook in a text, announcement, voice or forum channel.

        A webhook lets this agent post under any name and avatar per message
        (send_webhook_message): use it for personas, relays or bridges. The result never
        contains the webhook's token -- the server keeps it. Needs the bot's manage_webhooks
        permission in the channel; a channel holds at most 15 webhooks (list_webhooks, and
        delete_webhook the ones no longer used).
        """
        cid = to_id(channel_id, "channel_id")
        if avatar_base64 is not None and avatar_image_url is not None:
            raise ValueError("give avatar_base64 or avatar_image_url, not both")
        avatar = None
        if avatar_base64 is not None:
            raw = decode_base64("avatar_base64", avatar_base64, MAX_AVATAR_BYTES)
            avatar = _image_data_uri(raw, "avatar_base64")
        elif avatar_image_url is not None:
            raw = await download(
                avatar_image_url,
                "avatar_image_url",
                max_bytes=MAX_AVATAR_BYTES,
                allow_private=runtime.allow_private_urls,
            )
            avatar = _image_data_uri(raw, "avatar_image_url")
        with not_found_hint("call list_channels for the channel ids this agent can see"):
            info = await kit.caller().handle.call(
                lambda port: ops.create_webhook(port, cid, name, avatar=avatar, reason=reason)
            )
        return Webhook.of(info)

    @kit.tool(title="List webhooks", read_only=True)
    async def list_webhooks(
        ctx: Context,
        channel_id: Annotated[Snowflake | None, Field(description="One channel's.")] = None,
        guild_id: Annotated[Snowflake | None, Field(description="Or the whole guild's.")] = None,
    ) -> WebhookList:
        """List the webhooks of a channel, or of a whole guild (give exactly one id).

        can_post tells which ones send_webhook_message can post through. Tokens are never
        shown. Needs the bot's manage_webhooks permission.
        """
        if (channel_id is None) == (guild_id is None):
            raise ValueError("give exactly one of channel_id or guild_id")
        handle = kit.caller().handle
        if channel_id is not None:
            cid = to_id(channel_id, "channel_id")
            with not_found_hint("call list_channels for the channel ids this agent can see"):
                hooks = await handle.call(lambda port: ops.channel_webhooks(port, cid))
        else:
            assert guild_id is not None
            gid = to_id(guild_id, "guild_id")
            with not_found_hint("call list_guilds for the guild ids this agent can use"):
                hooks = await handle.call(lambda port: ops.guild_webhooks(port, gid))
        return WebhookList(webhooks=[Webhook.of(w) for w in sorted(hooks, key=lambda w: w.id)])

    @kit.tool(title="Delete a webhook", read_only=False, destructive=True, idempotent=True)
    async def delete_webhook(
        webhook_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> WebhookDeleted:
        """Delete a webhook for good: nothing can post through it any more.

        Messages it already posted stay. Needs the bot's manage_webhooks permission. Fails
        with "not found" if it is already gone (list_webhooks shows what exists).
        """
        wid = to_id(webhook_id, "webhook_id")
        with not_found_hint("it may be deleted already; list_webhooks shows what exists"):
            await kit.caller().handle.call(
                lambda port: ops.delete_webhook(port, wid, reason=reason)
            )
        return WebhookDeleted(deleted=True, webhook_id=webhook_id)

    @kit.tool(title="Post through a webhook", read_only=False, destructive=False)
    async def send_webhook_message(
        webhook_id: Snowflake,
        ctx: Context,
        content: Annotated[str, Field(max_length=2000)] = "",
        username: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=80,
                description="The name shown for this message only (a persona); default: the "
                'webhook\'s name. May not contain "discord" or "clyde".',
            ),
        ] = None,
        avatar_url: Annotated[
            str | None, Field(description="The avatar image URL shown for this message only.")
        ] = None,
        embeds: Annotated[list[Embed] | None, Field(max_length=10)] = None,
        thread_id: Annotated[
            Snowflake | None,
            Field(
                description="Post into this thread of the webhook's channel (for a forum "
                "channel's webhook: an existing post's id; or give thread_name)."
            ),
        ] = None,
        thread_name: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=100,
                description="For a forum channel's webhook: open a new post with this title.",
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=128,
                description="Any unique string: a retry with the same key (within 24 h, while "
                "the server runs) returns the first post instead of posting again.",
            ),
        ] = None,
    ) -> WebhookPost:
        """Post a message through a webhook, under any name and avatar (agent personas).

        One webhook serves many personas: give username and avatar_url per message. In a
        forum channel give thread_id (an existing post) or thread_name (a new post). Mentions
        ping nobody. Needs an incoming webhook this agent's bot may manage (list_webhooks
        shows can_post; create_webhook makes one). Unlike send_message this is not queued
        and Discord cannot deduplicate it: if the call fails with a timeout or "unavailable",
        the message may or may not have been posted -- pass an idempotency_key so a retry is
        safe, or check with read_messages before posting again.
        """
        wid = to_id(webhook_id, "webhook_id")
        tid = opt_id(thread_id, "thread_id")
        if not content and not embeds:
            raise ValueError("give content or embeds: a message cannot be empty")
        if thread_id is not None and thread_name is not None:
            raise ValueError(
                "give thread_id (an existing thread) or thread_name (a new forum post), not both"
            )
        payload = [e.payload() for e in embeds or ()]
        caller = kit.caller()
        if kit.runtime.policy is not None and kit.runtime.policy.restricts_channels(caller.agent):
            with not_found_hint("list_webhooks shows the webhooks that exist"):
                hook = await caller.handle.call(lambda port: ops.get_webhook(port, wid))
            if hook.channel_id is not None:
                await kit.check_channel(hook.channel_id)  # the channel rules see its channel

        async def post() -> WebhookPost:
            info: MessageInfo = await caller.handle.call(
                lambda port: ops.execute_webhook(
                    port,
                    wid,
                    content=content,
                    username=username,
                    avatar_url=avatar_url,
                    embeds=payload,
                    thread_id=tid,
                    thread_name=thread_name,
                )
            )
            return WebhookPost(webhook_id=webhook_id, message=Message.of(info))

        with not_found_hint("list_webhooks shows the webhooks that exist"):
            if idempotency_key is None:
                return await post()
            return await keys.once((caller.agent, idempotency_key), post)


__all__ = ["KEY_TTL", "Webhook", "WebhookPost", "register"]
