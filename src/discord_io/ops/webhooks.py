"""Channel webhooks: create, list, delete, and post through one (``execute``).

A webhook is a channel's posting endpoint with its own name and avatar; anyone holding its
*token* can post through it, under any display name per message (agent personas). Managing
webhooks needs the bot's ``manage_webhooks`` permission in the channel.

The token is a secret and never leaves this module: :class:`WebhookInfo` has no token field,
only ``can_post`` (Discord showed this bot a token). :func:`execute_webhook` fetches the token
again with ``GET /webhooks/{id}`` as the bot (Discord returns it to a bot that may manage the
webhook) right before posting, so nothing stores it and a bot that lost ``manage_webhooks``
can no longer post through it. The token sits in the execute route's path; errors never name
it (Discord's "Unknown Webhook" and "Invalid Webhook Token" become messages about the webhook
id), though discord.py's own rate-limit warnings print the request URL (the log formatter
must redact ``/webhooks/{id}/{token}``).

Executing a webhook has no nonce: Discord cannot deduplicate a retried execute, so a request
that timed out after Discord took it may have posted. The tool layer keeps idempotency keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from actors.discord_port import (
    AgentLoginFailed,
    DiscordError,
    DiscordNotFound,
    DiscordPort,
    DiscordUnavailable,
    JSONObject,
    MessageInfo,
)
from discord_io._translate import message_from_payload

INCOMING = 1
"""Webhook type 1: an incoming webhook, the only kind one can post through with a token."""


@attrs.frozen
class WebhookInfo:
    """A webhook as tools see it: never its token."""

    id: int
    type: int
    """1 incoming, 2 channel follower, 3 application."""
    channel_id: int | None
    guild_id: int | None
    name: str | None
    avatar: str | None
    """The avatar's image hash, if it has one."""
    creator_id: int | None
    application_id: int | None
    can_post: bool
    """Discord showed this bot the webhook's token: ``execute_webhook`` can post through it."""


def webhook_from_payload(data: Mapping[str, Any]) -> WebhookInfo:
    """The :class:`WebhookInfo` of Discord's webhook object (dropping its token and URL)."""
    user = data.get("user")
    return WebhookInfo(
        id=int(data["id"]),
        type=int(data.get("type", INCOMING)),
        channel_id=_opt_id(data.get("channel_id")),
        guild_id=_opt_id(data.get("guild_id")),
        name=data.get("name"),
        avatar=data.get("avatar"),
        creator_id=None if not isinstance(user, Mapping) else _opt_id(user.get("id")),
        application_id=_opt_id(data.get("application_id")),
        can_post=bool(data.get("token")),
    )


def _opt_id(value: Any) -> int | None:
    return None if value is None else int(value)


async def create_webhook(
    port: DiscordPort,
    channel_id: int,
    name: str,
    *,
    avatar: str | None = None,
    reason: str | None = None,
) -> WebhookInfo:
    """``POST /channels/{channel_id}/webhooks``; ``avatar`` is an image data URI."""
    body: dict[str, Any] = {"name": name}
    if avatar is not None:
        body["avatar"] = avatar
    data = await port.rest(
        "POST",
        "/channels/{channel_id}/webhooks",
        action=f"create a webhook in channel {channel_id}",
        json=body,
        reason=reason,
        permission="manage_webhooks",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return webhook_from_payload(data)


async def channel_webhooks(port: DiscordPort, channel_id: int) -> list[WebhookInfo]:
    """``GET /channels/{channel_id}/webhooks``."""
    data = await port.rest(
        "GET",
        "/channels/{channel_id}/webhooks",
        action=f"list the webhooks of channel {channel_id}",
        permission="manage_webhooks",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return [webhook_from_payload(w) for w in data]


async def guild_webhooks(port: DiscordPort, guild_id: int) -> list[WebhookInfo]:
    """``GET /guilds/{guild_id}/webhooks``."""
    data = await port.rest(
        "GET",
        "/guilds/{guild_id}/webhooks",
        action=f"list the webhooks of guild {guild_id}",
        permission="manage_webhooks",
        what=f"guild {guild_id}",
        ids={"guild_id": guild_id},
    )
    return [webhook_from_payload(w) for w in data]


async def get_webhook(port: DiscordPort, webhook_id: int) -> WebhookInfo:
    """``GET /webhooks/{webhook_id}`` as the bot."""
    data = await _fetch(port, webhook_id)
    return webhook_from_payload(data)


async def delete_webhook(port: DiscordPort, webhook_id: int, *, reason: str | None = None) -> None:
    """``DELETE /webhooks/{webhook_id}``."""
    await port.rest(
        "DELETE",
        "/webhooks/{webhook_id}",
        action=f"delete webhook {webhook_id}",
        reason=reason,
        permission="manage_webhooks",
        what=f"webhook {webhook_id}",
        ids={"webhook_id": webhook_id},
    )


async def _fetch(port: DiscordPort, webhook_id: int) -> Mapping[str, Any]:
    data: Mapping[str, Any] = await port.rest(
        "GET",
        "/webhooks/{webhook_id}",
        action=f"see webhook {webhook_id}",
        permission="manage_webhooks",
        what=f"webhook {webhook_id}",
        ids={"webhook_id": webhook_id},
    )
    return data


class WebhookNotPostable(DiscordError):
    """The webhook has no token this bot can use (a follower or another application's)."""

    def __init__(self, webhook_id: int, kind: int) -> None:
        super().__init__(
            f"webhook {webhook_id} (type {kind}) has no token this bot may use: only incoming "
            "webhooks the bot can manage can be posted through; create_webhook makes one"
        )
        self.webhook_id = webhook_id


class WebhookOutcomeUnknown(DiscordUnavailable):
    """The execute request failed (5xx, lost connection, timeout) after it may have reached
    Discord: the message may or may not have been posted."""


async def execute_webhook(
    port: DiscordPort,
    webhook_id: int,
    *,
    content: str = "",
    username: str | None = None,
    avatar_url: str | None = None,
    embeds: Sequence[JSONObject] = (),
    thread_id: int | None = None,
    thread_name: str | None = None,
    allow_mentions: bool = False,
) -> MessageInfo:
    """Post through the webhook (``?wait=true``: Discord answers with the message).

    ``thread_id`` posts into a thread of the webhook's channel; ``thread_name`` opens a new
    post in a forum channel. Mentions ping nobody unless ``allow_mentions``. Raises
    :class:`DiscordNotFound` for an unknown webhook (or thread), :class:`WebhookNotPostable`
    when the bot gets no token, :class:`WebhookOutcomeUnknown` when the post itself failed
    without a clear answer (every other error means nothing was posted).
    """
    hook = await _fetch(port, webhook_id)
    token = hook.get("token")
    if not isinstance(token, str) or not token:
        raise WebhookNotPostable(webhook_id, int(hook.get("type", INCOMING)))
    body: dict[str, Any] = {"content": content}
    if username is not None:
        body["username"] = username
    if avatar_url is not None:
        body["avatar_url"] = avatar_url
    if embeds:
        body["embeds"] = [dict(e) for e in embeds]
    if thread_name is not None:
        body["thread_name"] = thread_name
    if not allow_mentions:
        body["allowed_mentions"] = {"parse": []}
    query: dict[str, str | int] = {"wait": "true"}
    if thread_id is not None:
        query["thread_id"] = thread_id
    try:
        data = await port.rest(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            action=f"post through webhook {webhook_id}",
            json=body,
            query=query,
            what=f"webhook {webhook_id}" if thread_id is None else f"thread {thread_id}",
            ids={"webhook_id": webhook_id, "webhook_token": token},
        )
    except DiscordUnavailable as exc:
        unknown = WebhookOutcomeUnknown(
            f"{exc} -- the message may or may not have been posted", status=exc.status
        )
        unknown.egress_counted = exc.egress_counted
        raise unknown from exc
    except AgentLoginFailed as exc:
        # A 401 here refuses the webhook's token (reset since we fetched it), not the bot's.
        error = DiscordNotFound(
            f"webhook {webhook_id}'s token (it was reset meanwhile; retry, or list_webhooks)"
        )
        error.egress_counted = exc.egress_counted  # the port's trace saw the 401
        raise error from None
    return message_from_payload(data)


__all__ = [
    "WebhookInfo",
    "WebhookNotPostable",
    "WebhookOutcomeUnknown",
    "channel_webhooks",
    "create_webhook",
    "delete_webhook",
    "execute_webhook",
    "get_webhook",
    "guild_webhooks",
    "webhook_from_payload",
]
