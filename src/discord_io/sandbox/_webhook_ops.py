"""Channel webhooks: create, list, get, modify, delete, and execute (post as the webhook).

A webhook belongs to one guild channel. Managing it (with a bot token) needs MANAGE_WEBHOOKS
in that channel (50013 otherwise) and dispatches WEBHOOKS_UPDATE ``{guild_id, channel_id}`` to
sessions with the GUILD_WEBHOOKS intent. Executing it needs only its token (50027 for a wrong
one): the message's author is the webhook itself, shown with the per-message ``username`` and
``avatar_url`` overrides, and MESSAGE_CREATE carries ``webhook_id`` and no ``member``.

Names are 1-80 characters and may not contain "clyde" or "discord" (50035); a channel holds at
most 15 webhooks (30007). A forum channel's webhook must post into a thread (``thread_id``).
Creating, modifying and deleting one is recorded in the guild's audit log with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence

from . import _errors as errors
from ._access import PERMISSION_BITS
from ._channel_ops import AuditEvent, Problems, audit, dm_channel, fail_on, wrong_channel_type
from ._errors import DiscordError
from ._events import Dispatch
from ._guild_ops import change
from ._intents import Intent
from ._model import (
    THREAD_TYPES,
    Channel,
    ChannelType,
    JSONObject,
    Message,
    User,
    Webhook,
)
from ._serialize import message_json
from ._snowflake import parse_snowflake
from ._state import NewAttachment, SandboxState
from ._thread_ops import open_webhook_post

MANAGE_WEBHOOKS = PERMISSION_BITS["manage_webhooks"]
MENTION_EVERYONE = PERMISSION_BITS["mention_everyone"]
MAX_PER_CHANNEL = 15
HOOKABLE = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_STAGE_VOICE,
        ChannelType.GUILD_FORUM,
        ChannelType.GUILD_MEDIA,
    }
)
"""Channel types a webhook may belong to (not categories, threads or DMs)."""
_FORBIDDEN_WORDS = ("clyde", "discord")


def invalid_token() -> DiscordError:
    """401 50027: the webhook token does not match."""
    return DiscordError(401, 50027, "Invalid Webhook Token")


def too_many_webhooks() -> DiscordError:
    """400 30007: the channel already has 15 webhooks."""
    return DiscordError(400, 30007, f"Maximum number of webhooks reached ({MAX_PER_CHANNEL})")


def forum_needs_thread() -> DiscordError:
    """400 220001: a forum webhook posts into a thread."""
    return DiscordError(
        400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
    )


def check_name(value: object, key: str, problems: Problems, *, required: bool) -> str | None:
    """A webhook name or username override: 1-80 characters, no "clyde" or "discord"."""
    if value is None:
        if required:
            problems[key] = [("BASE_TYPE_REQUIRED", "This field is required")]
        return None
    if not isinstance(value, str):
        problems[key] = [("BASE_TYPE_STRING", "Must be a string.")]
        return None
    if not 1 <= len(value) <= 80:
        problems[key] = [("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")]
        return None
    lowered = value.lower()
    for word in _FORBIDDEN_WORDS:
        if word in lowered:
            problems[key] = [("USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')]
            return None
    return value


def avatar_hash(data: object, key: str, problems: Problems) -> str | None:
    """The hash stored for an avatar image data URI (``data:image/png;base64,...``)."""
    if data is None:
        return None
    if not isinstance(data, str) or not data.startswith("data:image/"):
        problems[key] = [("IMAGE_INVALID", "Invalid image data")]
        return None
    return hashlib.md5(data.encode(), usedforsecurity=False).hexdigest()


def _channel_for_hooks(state: SandboxState, user_id: int, channel_id: int) -> Channel:
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        raise dm_channel()
    if channel.type not in HOOKABLE:
        raise wrong_channel_type()
    if not state.permissions_for(user_id, channel) & MANAGE_WEBHOOKS:
        raise errors.missing_permissions()
    return channel


def _updated(state: SandboxState, channel_id: int) -> None:
    channel = state.channels.get(channel_id)
    if channel is None or channel.guild_id is None:
        return
    state.publish(
        Dispatch(
            "WEBHOOKS_UPDATE",
            {"guild_id": str(channel.guild_id), "channel_id": str(channel.id)},
            int(Intent.GUILD_WEBHOOKS),
            guild_id=channel.guild_id,
            channel_id=channel.id,
        )
    )


# ----------------------------------------------------------------------------- with a bot token


def create_webhook(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> Webhook:
    """``POST /channels/{id}/webhooks`` ``{name, avatar?}``."""
    channel = _channel_for_hooks(state, user_id, channel_id)
    problems: Problems = {}
    name = check_name(payload.get("name"), "name", problems, required=True)
    avatar = avatar_hash(payload.get("avatar"), "avatar", problems)
    fail_on(problems)
    assert name is not None
    if sum(1 for w in state.webhooks.values() if w.channel_id == channel.id) >= MAX_PER_CHANNEL:
        raise too_many_webhooks()
    bot = state.bots.get(user_id)
    webhook = Webhook(
        id=state.snowflakes.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        name=name,
        token=secrets.token_urlsafe(51),
        user_id=user_id,
        application_id=bot.application_id if bot is not None else None,
        avatar=avatar,
    )
    state.webhooks[webhook.id] = webhook
    audit(
        state,
        webhook.guild_id,
        AuditEvent.WEBHOOK_CREATE,
        user_id,
        webhook.id,
        reason=reason,
        changes=[
            change("name", new=webhook.name),
            change("type", new=webhook.type),
            change("channel_id", new=str(webhook.channel_id)),
        ],
    )
    _updated(state, channel.id)
    return webhook


def channel_webhooks(state: SandboxState, user_id: int, channel_id: int) -> list[Webhook]:
    """``GET /channels/{id}/webhooks``, oldest first."""
    channel = _channel_for_hooks(state, user_id, channel_id)
    return [w for w in state.webhooks.values() if w.channel_id == channel.id]


def managed_webhook(state: SandboxState, user_id: int, webhook_id: int) -> Webhook:
    """A webhook the user may manage (10015 Unknown Webhook, 50013 without MANAGE_WEBHOOKS)."""
    webhook = state.webhooks.get(webhook_id)
    if webhook is None:
        raise errors.unknown("Webhook")
    _channel_for_hooks(state, user_id, webhook.channel_id)
    return webhook


def modify_webhook(
    state: SandboxState,
    webhook: Webhook,
    payload: JSONObject,
    *,
    user_id: int | None,
    reason: str | None = None,
) -> Webhook:
    """``PATCH /webhooks/{id}`` (name, avatar, channel_id) or ``/{id}/{token}`` (no channel)."""
    problems: Problems = {}
    name = check_name(payload.get("name"), "name", problems, required=False)
    avatar = avatar_hash(payload.get("avatar"), "avatar", problems)
    target: Channel | None = None
    if user_id is not None and payload.get("channel_id") is not None:
        target_id = parse_snowflake(payload["channel_id"])
        if target_id is None:
            problems["channel_id"] = [
                ("NUMBER_TYPE_COERCE", f'Value "{payload["channel_id"]}" is not snowflake.')
            ]
        else:
            target = _channel_for_hooks(state, user_id, target_id)
            if target.guild_id != webhook.guild_id:
                raise errors.unknown("Channel")
    fail_on(problems)
    old_channel, old_name = webhook.channel_id, webhook.name
    if name is not None:
        webhook.name = name
    if "avatar" in payload:
        webhook.avatar = avatar
    if target is not None:
        webhook.channel_id = target.id
    if user_id is not None:  # changes made with the token have no audited user
        changes = []
        if webhook.name != old_name:
            changes.append(change("name", old_name, webhook.name))
        if webhook.channel_id != old_channel:
            changes.append(change("channel_id", str(old_channel), str(webhook.channel_id)))
        audit(
            state,
            webhook.guild_id,
            AuditEvent.WEBHOOK_UPDATE,
            user_id,
            webhook.id,
            reason=reason,
            changes=changes,
        )
    _updated(state, old_channel)
    if webhook.channel_id != old_channel:
        _updated(state, webhook.channel_id)
    return webhook


def delete_webhook(
    state: SandboxState,
    webhook: Webhook,
    *,
    user_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Forget a webhook; dispatches WEBHOOKS_UPDATE (audited when a bot deletes it)."""
    del state.webhooks[webhook.id]
    if user_id is not None:
        audit(
            state,
            webhook.guild_id,
            AuditEvent.WEBHOOK_DELETE,
            user_id,
            webhook.id,
            reason=reason,
            changes=[change("name", old=webhook.name), change("type", old=webhook.type)],
        )
    _updated(state, webhook.channel_id)


# ----------------------------------------------------------------------------- with its token


def by_token(state: SandboxState, webhook_id: int, token: str) -> Webhook:
    """The webhook if ``token`` is its token (10015 / 50027)."""
    webhook = state.webhooks.get(webhook_id)
    if webhook is None:
        raise errors.unknown("Webhook")
    if not secrets.compare_digest(webhook.token, token):
        raise invalid_token()
    return webhook


def execute(
    state: SandboxState,
    webhook: Webhook,
    *,
    content: str,
    embeds: Sequence[JSONObject],
    components: Sequence[JSONObject],
    files: Sequence[NewAttachment],
    username: str | None,
    avatar_url: str | None,
    tts: bool,
    flags: int,
    thread_id: int | None,
    thread_name: object = None,
    applied_tags: object = None,
) -> Message:
    """Post a message as the webhook (into ``thread_id`` when given; in a forum, a new post
    named ``thread_name``); dispatches MESSAGE_CREATE (and THREAD_CREATE for a new post)."""
    channel = state.channels.get(webhook.channel_id)
    if channel is None:
        raise errors.unknown("Webhook")
    if thread_id is not None:
        thread = state.channels.get(thread_id)
        if thread is None or thread.type not in THREAD_TYPES or thread.parent_id != channel.id:
            raise errors.unknown("Channel")
        channel = thread
        info = thread.thread
        if info is not None and info.archived:
            if info.locked:
                raise errors.missing_permissions()
            info.archived = False  # posting into an archived thread unarchives it
            info.archive_timestamp = dt.datetime.now(dt.UTC)
    elif channel.type in (ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA):
        if thread_name is None:
            raise forum_needs_thread()
    elif thread_name is not None:
        raise errors.form_error(
            {"thread_name": [("WEBHOOK_THREAD_NAME_NOT_FORUM", "Only forum channels take it.")]}
        )
    if not content and not embeds and not files and not components:
        raise errors.empty_message()
    message_id = None
    if thread_name is not None and thread_id is None:
        channel = open_webhook_post(state, channel, webhook.id, thread_name, applied_tags)
        message_id = channel.id  # a post's first message shares the thread's id
    avatar = webhook.avatar
    if avatar_url is not None:
        avatar = hashlib.md5(avatar_url.encode(), usedforsecurity=False).hexdigest()
    author = User(
        id=webhook.id,
        username=username or webhook.name,
        discriminator="0000",
        avatar=avatar,
        bot=True,
    )
    message = Message(
        id=message_id or state.snowflakes.next(),
        channel_id=channel.id,
        author_id=webhook.id,
        guild_id=channel.guild_id,
        content=content,
        tts=tts,
        embeds=[{"type": "rich", **e} for e in embeds],
        components=list(components),
        flags=flags,
        webhook_id=webhook.id,
        webhook_author=author,
    )
    message.attachments = [state.store_attachment(channel.id, f) for f in files]
    state.post_message(message, channel, perms=MENTION_EVERYONE)
    if message_id is not None and channel.thread is not None:
        channel.thread.message_count = 0  # a post's first message does not count
    return message


def webhook_message(state: SandboxState, webhook: Webhook, message_id: int) -> Message:
    """A message this webhook posted (10008 Unknown Message otherwise)."""
    message = state.messages.get(message_id)
    if message is None or message.deleted or message.webhook_id != webhook.id:
        raise errors.unknown("Message")
    return message


def edit_message(
    state: SandboxState,
    webhook: Webhook,
    message_id: int,
    *,
    content: str | None,
    embeds: Sequence[JSONObject] | None,
    components: Sequence[JSONObject] | None,
    keep_attachments: Iterable[int] | None,
    files: Sequence[NewAttachment],
) -> Message:
    """``PATCH /webhooks/{id}/{token}/messages/{message_id}``; dispatches MESSAGE_UPDATE."""
    message = webhook_message(state, webhook, message_id)
    if content is not None:
        message.content = content
    if embeds is not None:
        message.embeds = [{"type": "rich", **e} for e in embeds]
    if components is not None:
        message.components = list(components)
    if keep_attachments is not None:
        keep = set(keep_attachments)
        message.attachments = [a for a in message.attachments if a.id in keep]
    message.attachments.extend(state.store_attachment(message.channel_id, f) for f in files)
    message.edited_timestamp = dt.datetime.now(dt.UTC)
    channel = state.channels[message.channel_id]
    state.publish(
        Dispatch(
            "MESSAGE_UPDATE",
            message_json(state, message, gateway=True),
            int(Intent.GUILD_MESSAGES),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            redacted=lambda: message_json(state, message, redact=True, gateway=True),
            sees_content=frozenset(message.mentions),
        )
    )
    return message


def delete_message(state: SandboxState, webhook: Webhook, message_id: int) -> None:
    """``DELETE /webhooks/{id}/{token}/messages/{message_id}``; dispatches MESSAGE_DELETE."""
    message = webhook_message(state, webhook, message_id)
    channel = state.channels[message.channel_id]
    state.unlist_message(message)
    data: JSONObject = {"id": str(message.id), "channel_id": str(channel.id)}
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    state.publish(
        Dispatch(
            "MESSAGE_DELETE",
            data,
            int(Intent.GUILD_MESSAGES),
            guild_id=channel.guild_id,
            channel_id=channel.id,
        )
    )
