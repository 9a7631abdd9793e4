"""Sandbox objects in Discord's JSON shapes (API v10), as the OpenAPI spec names them.

Every function returns a fresh JSON-ready dict: ids are strings, timestamps ISO 8601 with an
offset, permission bit sets strings. The REST routes and the gateway share these, so an object
looks the same whichever way a bot reads it. Shapes follow the spec's ``*Response`` schemas
(``UserResponse``, ``GuildChannelResponse``, ``MessageResponse`` ...), with every required key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from ._intents import application_flags
from ._model import (
    Attachment,
    Bot,
    Channel,
    ChannelType,
    Guild,
    JSONObject,
    Member,
    Message,
    Reaction,
    Role,
    User,
    VoiceState,
    Webhook,
)
from ._snowflake import iso_timestamp

if TYPE_CHECKING:
    from ._state import SandboxState


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else iso_timestamp(moment)


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_json(user: User) -> JSONObject:
    """``UserResponse``: a user as other users see it."""
    out: JSONObject = {
        "id": str(user.id),
        "username": user.username,
        "avatar": user.avatar,
        "discriminator": user.discriminator,
        "public_flags": user.public_flags,
        "flags": user.public_flags,
        "global_name": user.global_name,
        "primary_guild": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "banner": None,
        "accent_color": None,
    }
    if user.bot:
        out["bot"] = True
    return out


def self_user_json(user: User) -> JSONObject:
    """``UserPIIResponse``: the authenticated user (``GET /users/@me``, READY's ``user``)."""
    out = user_json(user)
    out.update(mfa_enabled=False, locale="en-US", verified=True, email=None, premium_type=0)
    return out


def application_json(bot: Bot, owner: User) -> JSONObject:
    """``PrivateApplicationResponse``: the bot's application (``/oauth2/applications/@me``)."""
    flags = application_flags(bot.granted_intents)
    verify_key = hashlib.sha256(f"sandbox-verify:{bot.application_id}".encode()).hexdigest()
    return {
        "id": str(bot.application_id),
        "name": bot.name,
        "icon": None,
        "description": bot.description,
        "type": None,
        "bot": user_json(bot.user),
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": verify_key,
        "flags": flags,
        "flags_new": str(flags),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": user_json(owner),
        "approximate_guild_count": 0,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": [],
        "tags": [],
    }


def role_json(role: Role) -> JSONObject:
    """``GuildRoleResponse``."""
    out: JSONObject = {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if role.bot_id is not None:
        out["tags"] = {"bot_id": str(role.bot_id)}
    return out


def partial_member_json(member: Member) -> JSONObject:
    """A member without its ``user`` (MESSAGE_CREATE's and TYPING_START's ``member``)."""
    return {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": _iso(member.communication_disabled_until),
        "flags": member.flags,
        "joined_at": iso_timestamp(member.joined_at),
        "nick": member.nick,
        "pending": member.pending,
        "premium_since": None,
        "roles": [str(r) for r in member.roles],
        "mute": member.mute,
        "deaf": member.deaf,
    }


def member_json(member: Member, user: User) -> JSONObject:
    """``GuildMemberResponse``."""
    out = partial_member_json(member)
    out["user"] = user_json(user)
    return out


def overwrite_json(channel: Channel) -> list[JSONObject]:
    """``ChannelPermissionOverwriteResponse`` list."""
    return [
        {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
        for o in channel.permission_overwrites
    ]


def channel_json(state: SandboxState, channel: Channel, viewer_id: int | None = None) -> JSONObject:
    """The channel's shape for its type: guild channel, thread, or DM (seen by ``viewer_id``)."""
    kind = channel.type
    if kind in (ChannelType.DM, ChannelType.GROUP_DM):
        return _dm_json(state, channel, viewer_id)
    if channel.thread is not None:
        return _thread_json(channel)
    out: JSONObject = {
        "id": str(channel.id),
        "type": int(kind),
        "flags": channel.flags,
        "guild_id": _id(channel.guild_id),
        "name": channel.name or "",
        "position": channel.position,
        "parent_id": _id(channel.parent_id),
        "permission_overwrites": overwrite_json(channel),
        "nsfw": channel.nsfw,
    }
    if kind in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        out.update(
            topic=channel.topic,
            last_message_id=_id(channel.last_message_id),
            rate_limit_per_user=channel.rate_limit_per_user,
            last_pin_timestamp=_iso(channel.last_pin_timestamp),
            default_auto_archive_duration=1440,
        )
    elif kind in (ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE):
        out.update(
            bitrate=channel.bitrate,
            user_limit=channel.user_limit,
            rtc_region=None,
            last_message_id=_id(channel.last_message_id),
            rate_limit_per_user=channel.rate_limit_per_user,
        )
    elif kind in (ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA):
        out.update(
            topic=channel.topic,
            last_message_id=_id(channel.last_message_id),
            rate_limit_per_user=channel.rate_limit_per_user,
            available_tags=[dict(tag) for tag in channel.available_tags],
            default_reaction_emoji=None,
            default_sort_order=None,
            default_forum_layout=0,
            default_thread_rate_limit_per_user=0,
            default_auto_archive_duration=1440,
            default_tag_setting=None,
        )
    return out


def _thread_json(channel: Channel) -> JSONObject:
    info = channel.thread
    assert info is not None
    metadata: JSONObject = {
        "archived": info.archived,
        "archive_timestamp": _iso(info.archive_timestamp or info.create_timestamp),
        "auto_archive_duration": info.auto_archive_duration,
        "locked": info.locked,
        "create_timestamp": iso_timestamp(info.create_timestamp),
    }
    if channel.type == ChannelType.PRIVATE_THREAD:
        metadata["invitable"] = info.invitable
    return {
        "id": str(channel.id),
        "type": int(channel.type),
        "flags": channel.flags,
        "guild_id": _id(channel.guild_id),
        "name": channel.name or "",
        "parent_id": _id(channel.parent_id),
        "owner_id": str(info.owner_id),
        "last_message_id": _id(channel.last_message_id),
        "last_pin_timestamp": _iso(channel.last_pin_timestamp),
        "rate_limit_per_user": channel.rate_limit_per_user,
        "thread_metadata": metadata,
        "message_count": info.message_count,
        "member_count": len(info.member_ids),
        "total_message_sent": info.total_message_sent,
        "applied_tags": [str(t) for t in info.applied_tags],
    }


def _dm_json(state: SandboxState, channel: Channel, viewer_id: int | None) -> JSONObject:
    others = [uid for uid in channel.recipients if uid != viewer_id] or channel.recipients
    return {
        "id": str(channel.id),
        "type": int(channel.type),
        "flags": channel.flags,
        "last_message_id": _id(channel.last_message_id),
        "last_pin_timestamp": _iso(channel.last_pin_timestamp),
        "recipients": [user_json(state.users[uid]) for uid in others],
    }


def guild_json(guild: Guild, *, counts: tuple[int, int] | None = None) -> JSONObject:
    """``GuildResponse`` (or ``GuildWithCountsResponse`` when ``counts`` is given)."""
    out: JSONObject = {
        "id": str(guild.id),
        "name": guild.name,
        "icon": guild.icon,
        "description": guild.description,
        "home_header": None,
        "splash": None,
        "discovery_splash": None,
        "features": list(guild.features),
        "banner": None,
        "owner_id": str(guild.owner_id),
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": _id(guild.afk_channel_id),
        "afk_timeout": guild.afk_timeout,
        "system_channel_id": _id(guild.system_channel_id),
        "system_channel_flags": 0,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": guild.verification_level,
        "roles": [role_json(r) for r in guild.roles.values()],
        "default_message_notifications": guild.default_message_notifications,
        "mfa_level": guild.mfa_level,
        "explicit_content_filter": guild.explicit_content_filter,
        "max_presences": None,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "premium_tier": guild.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": guild.preferred_locale,
        "rules_channel_id": None,
        "safety_alerts_channel_id": None,
        "public_updates_channel_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "nsfw_level": guild.nsfw_level,
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
    }
    if counts is not None:
        out["approximate_member_count"], out["approximate_presence_count"] = counts
    return out


def voice_state_json(guild_id: int | None, state: VoiceState) -> JSONObject:
    """``VoiceStateResponse`` (GUILD_CREATE omits ``guild_id``: pass None)."""
    out: JSONObject = {
        "channel_id": str(state.channel_id),
        "user_id": str(state.user_id),
        "session_id": state.session_id,
        "deaf": state.deaf,
        "mute": state.mute,
        "self_deaf": state.self_deaf,
        "self_mute": state.self_mute,
        "self_video": state.self_video,
        "self_stream": False,
        "suppress": state.suppress,
        "request_to_speak_timestamp": None,
    }
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    return out


def presence_json(user: User, guild_id: int | None) -> JSONObject:
    """A PRESENCE_UPDATE payload (also GUILD_CREATE's and chunks' ``presences`` items)."""
    status = user.status
    out: JSONObject = {
        "user": {"id": str(user.id)},
        "status": status,
        "activities": [dict(a) for a in user.activities],
        "client_status": {} if status == "offline" else {"desktop": status},
    }
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    return out


def attachment_json(attachment: Attachment) -> JSONObject:
    """``MessageAttachmentResponse``."""
    out: JSONObject = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": attachment.url,
        "proxy_url": attachment.proxy_url,
    }
    if attachment.content_type is not None:
        out["content_type"] = attachment.content_type
    if attachment.description is not None:
        out["description"] = attachment.description
    return out


def reaction_json(reaction: Reaction, viewer_id: int | None) -> JSONObject:
    """``MessageReactionResponse``."""
    count = len(reaction.user_ids)
    return {
        "emoji": {"id": _id(reaction.emoji_id), "name": reaction.emoji_name},
        "count": count,
        "count_details": {"burst": 0, "normal": count},
        "burst_colors": [],
        "me_burst": False,
        "me": viewer_id in reaction.user_ids,
    }


def message_json(
    state: SandboxState,
    message: Message,
    *,
    viewer_id: int | None = None,
    redact: bool = False,
    nonce: bool = False,
    gateway: bool = False,
) -> JSONObject:
    """``MessageResponse``; ``redact`` blanks what the message_content intent guards.

    ``nonce`` includes the create's nonce (only the create response and MESSAGE_CREATE carry
    it); ``gateway`` adds ``guild_id`` and the author's ``member`` as dispatches do.
    """
    users = state.users
    out: JSONObject = {
        "type": int(message.type),
        "content": "" if redact else message.content,
        "mentions": [user_json(users[uid]) for uid in message.mentions if uid in users],
        "mention_roles": [str(r) for r in message.mention_roles],
        "attachments": [] if redact else [attachment_json(a) for a in message.attachments],
        "embeds": [] if redact else [dict(e) for e in message.embeds],
        "timestamp": iso_timestamp(message.timestamp),
        "edited_timestamp": _iso(message.edited_timestamp),
        "flags": message.flags,
        "components": [] if redact else [dict(c) for c in message.components],
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": user_json(message.webhook_author or users[message.author_id]),
        "pinned": message.pinned,
        "mention_everyone": message.mention_everyone,
        "tts": message.tts,
    }
    if message.reactions:
        out["reactions"] = [reaction_json(r, viewer_id) for r in message.reactions.values()]
    if nonce and message.nonce is not None:
        out["nonce"] = message.nonce
    if message.webhook_id is not None:
        out["webhook_id"] = str(message.webhook_id)
    if message.message_reference is not None:
        out["message_reference"] = dict(message.message_reference)
        ref_id = message.message_reference.get("message_id")
        referenced = state.messages.get(int(ref_id)) if ref_id is not None else None
        out["referenced_message"] = (
            None
            if referenced is None or referenced.deleted
            else message_json(state, referenced, viewer_id=viewer_id, redact=redact)
        )
    if gateway and message.guild_id is not None:
        out["guild_id"] = str(message.guild_id)
        guild = state.guilds.get(message.guild_id)
        member = guild.members.get(message.author_id) if guild is not None else None
        if member is not None:
            out["member"] = partial_member_json(member)
    return out


def webhook_json(state: SandboxState, webhook: Webhook, *, token: bool = True) -> JSONObject:
    """``GuildIncomingWebhookResponse``; ``token`` is shown to those who may manage it."""
    out: JSONObject = {
        "id": str(webhook.id),
        "type": webhook.type,
        "guild_id": _id(webhook.guild_id),
        "channel_id": str(webhook.channel_id),
        "name": webhook.name,
        "avatar": webhook.avatar,
        "application_id": _id(webhook.application_id),
    }
    creator = state.users.get(webhook.user_id) if webhook.user_id is not None else None
    if creator is not None:
        out["user"] = user_json(creator)
    if token:
        out["token"] = webhook.token
        out["url"] = f"{state.cdn_base}/api/v10/webhooks/{webhook.id}/{webhook.token}"
    return out


def thread_member_json(channel: Channel, user_id: int) -> JSONObject:
    """``ThreadMemberResponse``: one user's membership of a thread."""
    info = channel.thread
    assert info is not None
    joined = info.joined_at.get(user_id, info.create_timestamp)
    return {
        "id": str(channel.id),
        "user_id": str(user_id),
        "join_timestamp": iso_timestamp(joined),
        "flags": 0,
    }
