"""Channel administration: modify, delete, permission overwrites, pins and bulk delete.

Each function takes the :class:`~discord_io.sandbox._state.SandboxState`, checks what Discord
checks (view → 10003/50001, the permission → 50013, the channel type → 50003/50024, the body →
50035 naming the field), changes the world, and publishes the dispatch Discord sends:

==============================  ===================================  =========================
operation                       permission                           dispatch
==============================  ===================================  =========================
modify a channel                MANAGE_CHANNELS (+ MANAGE_ROLES for  CHANNEL_UPDATE
                                overwrites)
modify a thread                 owner, or MANAGE_THREADS (locking    THREAD_UPDATE
                                always needs it)
delete a channel / a thread     MANAGE_CHANNELS / MANAGE_THREADS     CHANNEL_DELETE /
                                                                     THREAD_DELETE
put / delete an overwrite       MANAGE_ROLES                         CHANNEL_UPDATE
pin / unpin                     PIN_MESSAGES (or MANAGE_MESSAGES)    CHANNEL_PINS_UPDATE
bulk delete                     MANAGE_MESSAGES                      MESSAGE_DELETE_BULK
==============================  ===================================  =========================

Pinning accepts MANAGE_MESSAGES as well as PIN_MESSAGES: Discord split PIN_MESSAGES off
MANAGE_MESSAGES in 2025 and honoured both while moderators' roles were migrated, and seed
files name permissions from ``_access.PERMISSION_BITS``. Every change is recorded in the guild's
audit log (``_guild_ops.record_audit``) with the request's ``X-Audit-Log-Reason``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from . import _errors as errors
from ._access import MANAGE_MESSAGES, PERMISSION_BITS, READ_MESSAGE_HISTORY
from ._errors import DiscordError
from ._events import Dispatch
from ._guild_ops import change, record_audit
from ._intents import Intent
from ._model import (
    THREAD_TYPES,
    Channel,
    ChannelType,
    JSONObject,
    Message,
    MessageType,
    PermissionOverwrite,
)
from ._permissions import ALL_PERMISSIONS, Overwrite, Permission
from ._serialize import channel_json
from ._snowflake import iso_timestamp, parse_snowflake, snowflake_time
from ._state import SandboxState

MANAGE_CHANNELS = PERMISSION_BITS["manage_channels"]
MANAGE_ROLES = PERMISSION_BITS["manage_roles"]
MANAGE_THREADS = PERMISSION_BITS["manage_threads"]
PIN_PERMISSIONS = int(Permission.PIN_MESSAGES) | MANAGE_MESSAGES

MAX_PINS = 250
"""Pins a channel may hold (30003 beyond), per ``topics/opcodes-and-status-codes.mdx``."""
BULK_DELETE_MAX_AGE = dt.timedelta(days=14)
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
MAX_SLOWMODE = 21600
NAMED_LOWERCASE = frozenset(
    {ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM}
)
"""Channel types whose names Discord lower-cases, with spaces turned into dashes."""

Problems = dict[str, list[tuple[str, str]]]


class AuditEvent(enum.IntEnum):
    """Discord's audit log event numbers for the channel families' actions."""

    CHANNEL_UPDATE = 11
    CHANNEL_DELETE = 12
    CHANNEL_OVERWRITE_CREATE = 13
    CHANNEL_OVERWRITE_UPDATE = 14
    CHANNEL_OVERWRITE_DELETE = 15
    WEBHOOK_CREATE = 50
    WEBHOOK_UPDATE = 51
    WEBHOOK_DELETE = 52
    MESSAGE_DELETE = 72
    MESSAGE_BULK_DELETE = 73
    MESSAGE_PIN = 74
    MESSAGE_UNPIN = 75
    THREAD_CREATE = 110
    THREAD_UPDATE = 111
    THREAD_DELETE = 112


def audit(
    state: SandboxState,
    guild_id: int | None,
    action: AuditEvent,
    user_id: int,
    target_id: int | None,
    *,
    reason: str | None,
    changes: Sequence[JSONObject] = (),
    options: Mapping[str, str] | None = None,
) -> None:
    """Record an audit log entry in the guild (nothing for DMs)."""
    guild = state.guilds.get(guild_id) if guild_id is not None else None
    if guild is None:
        return
    record_audit(
        state, guild, action, user_id, target_id, reason=reason, changes=changes, options=options
    )


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[JSONObject]:
    return [change(key, before[key], after[key]) for key in before if before[key] != after[key]]


# ----------------------------------------------------------------------------- errors


def dm_channel() -> DiscordError:
    """403 50003: the action has no meaning in a DM."""
    return DiscordError(403, 50003, "Cannot execute action on a DM channel")


def wrong_channel_type() -> DiscordError:
    """400 50024: the action does not apply to this kind of channel."""
    return DiscordError(400, 50024, "Cannot execute action on this channel type")


def archived_thread() -> DiscordError:
    """400 50083: the thread must be unarchived first."""
    return DiscordError(400, 50083, "Thread is archived")


def too_old_to_bulk_delete() -> DiscordError:
    """400 50034: bulk delete takes only messages under 14 days old."""
    return DiscordError(400, 50034, "You can only bulk delete messages that are under 14 days old.")


def max_pins() -> DiscordError:
    """400 30003: the channel holds as many pins as it may."""
    return DiscordError(400, 30003, f"Maximum number of pins reached ({MAX_PINS})")


def fail_on(problems: Problems) -> None:
    """Raise 50035 with every collected problem, if any."""
    if problems:
        raise errors.form_error(problems)


# ----------------------------------------------------------------------------- helpers


def guild_perms(state: SandboxState, user_id: int, channel: Channel) -> int:
    """The user's permissions in a guild channel; DMs raise 50003."""
    if channel.guild_id is None:
        raise dm_channel()
    return state.permissions_for(user_id, channel)


def require(state: SandboxState, user_id: int, channel: Channel, bits: int) -> int:
    """The user's permissions in ``channel`` if they include all of ``bits`` (50013 otherwise)."""
    perms = guild_perms(state, user_id, channel)
    if perms & bits != bits:
        raise errors.missing_permissions()
    return perms


def channel_dispatch(state: SandboxState, event: str, channel: Channel) -> Dispatch:
    """A CHANNEL_* / THREAD_* dispatch for the GUILDS intent, to those who see the channel."""
    return Dispatch(
        event,
        channel_json(state, channel),
        int(Intent.GUILDS),
        guild_id=channel.guild_id,
        channel_id=channel.id,
    )


def string_field(
    payload: Mapping[str, Any], key: str, problems: Problems, low: int, high: int
) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[key] = [("BASE_TYPE_STRING", "Must be a string.")]
        return None
    if not low <= len(value) <= high:
        problems[key] = [("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")]
        return None
    return value


def integer_field(
    payload: Mapping[str, Any], key: str, problems: Problems, low: int, high: int
) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems[key] = [("NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')]
        return None
    if value < low:
        problems[key] = [
            ("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
        ]
        return None
    if value > high:
        problems[key] = [("NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")]
        return None
    return value


def boolean_field(payload: Mapping[str, Any], key: str, problems: Problems) -> bool | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        problems[key] = [("BASE_TYPE_BOOLEAN", "Must be either true or false.")]
        return None
    return value


def parse_overwrites(
    raw: object, problems: Problems, key: str = "permission_overwrites"
) -> list[PermissionOverwrite] | None:
    """A ``permission_overwrites`` list, each item read by :meth:`Overwrite.from_payload`."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        problems[key] = [("BASE_TYPE_LIST", "Must be a list.")]
        return None
    out: list[PermissionOverwrite] = []
    for i, item in enumerate(raw):
        try:
            overwrite = Overwrite.from_payload(item)
        except ValueError as exc:
            problems[f"{key}.{i}"] = [("INVALID_OVERWRITE", str(exc))]
            continue
        out.append(
            PermissionOverwrite(overwrite.id, overwrite.type, overwrite.allow, overwrite.deny)
        )
    return out


def _check_grantable(
    state: SandboxState, user_id: int, channel: Channel, overwrites: Sequence[PermissionOverwrite]
) -> None:
    """Only permissions the user holds in the channel may be allowed or denied (50013)."""
    perms = state.permissions_for(user_id, channel)
    if perms == ALL_PERMISSIONS:
        return
    for overwrite in overwrites:
        if (overwrite.allow | overwrite.deny) & ~perms:
            raise errors.missing_permissions()


def _check_targets(
    state: SandboxState, channel: Channel, overwrites: Sequence[PermissionOverwrite]
) -> None:
    assert channel.guild_id is not None
    guild = state.guilds[channel.guild_id]
    for overwrite in overwrites:
        if overwrite.type == Overwrite.ROLE and overwrite.id not in guild.roles:
            raise errors.unknown("Role")
        if overwrite.type == Overwrite.MEMBER and overwrite.id not in guild.members:
            raise errors.unknown("Member")


# ----------------------------------------------------------------------------- modify


def modify_channel(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> Channel:
    """``PATCH /channels/{id}``: a guild channel's settings, or a thread's (see module doc)."""
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        raise dm_channel()
    if channel.thread is not None:
        return _modify_thread(state, user_id, channel, payload, reason)
    perms = require(state, user_id, channel, MANAGE_CHANNELS)
    problems: Problems = {}
    name = string_field(payload, "name", problems, 1, 100)
    topic_max = 4096 if channel.type in (ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA) else 1024
    topic = string_field(payload, "topic", problems, 0, topic_max)
    slowmode = integer_field(payload, "rate_limit_per_user", problems, 0, MAX_SLOWMODE)
    nsfw = boolean_field(payload, "nsfw", problems)
    position = integer_field(payload, "position", problems, 0, 1 << 31)
    overwrites = parse_overwrites(payload.get("permission_overwrites"), problems)
    tags = None
    if channel.type in (ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA):
        tags = _forum_tags(state, channel, payload.get("available_tags"), problems)
    parent_id: int | None = None
    if payload.get("parent_id") is not None:
        parent_id = parse_snowflake(payload["parent_id"])
        parent = state.channels.get(parent_id) if parent_id is not None else None
        if (
            parent is None
            or parent.guild_id != channel.guild_id
            or parent.type != ChannelType.GUILD_CATEGORY
            or channel.type == ChannelType.GUILD_CATEGORY
        ):
            problems["parent_id"] = [("CHANNEL_PARENT_INVALID", "Invalid parent channel.")]
    fail_on(problems)
    before = _snapshot(channel)
    if overwrites is not None:
        if not perms & MANAGE_ROLES:
            raise errors.missing_permissions()
        _check_targets(state, channel, overwrites)
        _check_grantable(state, user_id, channel, overwrites)
        channel.permission_overwrites = overwrites
    if name is not None:
        if channel.type in NAMED_LOWERCASE:
            name = "-".join(name.lower().split())
        channel.name = name
    if "topic" in payload:
        channel.topic = topic or None
    if slowmode is not None:
        channel.rate_limit_per_user = slowmode
    if nsfw is not None:
        channel.nsfw = nsfw
    if position is not None:
        channel.position = position
    if "parent_id" in payload:
        channel.parent_id = parent_id
    if tags is not None:
        channel.available_tags = tags
    audit(
        state,
        channel.guild_id,
        AuditEvent.CHANNEL_UPDATE,
        user_id,
        channel.id,
        reason=reason,
        changes=_diff(before, _snapshot(channel)),
    )
    state.publish(channel_dispatch(state, "CHANNEL_UPDATE", channel))
    return channel


def _forum_tags(
    state: SandboxState, forum: Channel, raw: object, problems: Problems
) -> list[JSONObject] | None:
    """A forum's ``available_tags`` (at most 20; names 1-20 characters); new tags get ids."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems["available_tags"] = [("BASE_TYPE_LIST", "Must be a list of objects.")]
        return None
    if len(raw) > 20:
        problems["available_tags"] = [("BASE_TYPE_MAX_LENGTH", "Must be 20 or fewer in length.")]
        return None
    known = {str(t["id"]) for t in forum.available_tags}
    tags: list[JSONObject] = []
    for i, item in enumerate(raw):
        name = item.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 20:
            problems[f"available_tags.{i}.name"] = [
                ("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 20 in length.")
            ]
            continue
        ident = str(item.get("id")) if item.get("id") is not None else None
        emoji_id = parse_snowflake(item.get("emoji_id"))
        tags.append(
            {
                "id": ident if ident in known else str(state.snowflakes.next()),
                "name": name,
                "moderated": item.get("moderated") is True,
                "emoji_id": None if emoji_id is None else str(emoji_id),
                "emoji_name": item.get("emoji_name")
                if isinstance(item.get("emoji_name"), str)
                else None,
            }
        )
    return tags


def _snapshot(channel: Channel) -> dict[str, Any]:
    """The audited settings of a channel or thread, as the audit log names them."""
    out: dict[str, Any] = {
        "name": channel.name,
        "topic": channel.topic,
        "rate_limit_per_user": channel.rate_limit_per_user,
        "nsfw": channel.nsfw,
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
    }
    if channel.thread is not None:
        out.update(
            archived=channel.thread.archived,
            locked=channel.thread.locked,
            auto_archive_duration=channel.thread.auto_archive_duration,
        )
    return out


def _modify_thread(
    state: SandboxState, user_id: int, channel: Channel, payload: JSONObject, reason: str | None
) -> Channel:
    info = channel.thread
    assert info is not None
    perms = state.permissions_for(user_id, channel)
    moderator = bool(perms & MANAGE_THREADS)
    problems: Problems = {}
    name = string_field(payload, "name", problems, 1, 100)
    archived = boolean_field(payload, "archived", problems)
    locked = boolean_field(payload, "locked", problems)
    invitable = boolean_field(payload, "invitable", problems)
    slowmode = integer_field(payload, "rate_limit_per_user", problems, 0, MAX_SLOWMODE)
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_DURATIONS:
        problems["auto_archive_duration"] = [
            ("BASE_TYPE_CHOICES", f"Value must be one of {set(ARCHIVE_DURATIONS)}.")
        ]
    tags = applied_tags(state, channel, payload.get("applied_tags"), problems)
    fail_on(problems)
    if not moderator and (user_id != info.owner_id or locked is not None or invitable is not None):
        raise errors.missing_permissions()
    if info.archived and archived is not False:
        raise archived_thread()
    if info.archived and info.locked and not moderator:
        raise errors.missing_permissions()
    before = _snapshot(channel)
    if name is not None:
        channel.name = name
    if locked is not None:
        info.locked = locked
    if invitable is not None:
        info.invitable = invitable
    if slowmode is not None:
        channel.rate_limit_per_user = slowmode
    if isinstance(duration, int):
        info.auto_archive_duration = duration
    if tags is not None:
        info.applied_tags = tags
    if archived is not None and archived != info.archived:
        info.archived = archived
        info.archive_timestamp = dt.datetime.now(dt.UTC)
    audit(
        state,
        channel.guild_id,
        AuditEvent.THREAD_UPDATE,
        user_id,
        channel.id,
        reason=reason,
        changes=_diff(before, _snapshot(channel)),
    )
    state.publish(channel_dispatch(state, "THREAD_UPDATE", channel))
    return channel


def applied_tags(
    state: SandboxState, thread: Channel, raw: object, problems: Problems
) -> list[int] | None:
    if raw is None:
        return None
    parent = state.channels.get(thread.parent_id) if thread.parent_id is not None else None
    known = {int(t["id"]) for t in parent.available_tags} if parent is not None else set()
    if not isinstance(raw, list) or len(raw) > 5:
        problems["applied_tags"] = [("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")]
        return None
    tags: list[int] = []
    for i, item in enumerate(raw):
        tag = parse_snowflake(item)
        if tag is None or tag not in known:
            problems[f"applied_tags.{i}"] = [("TAG_INVALID", "Unknown tag.")]
        elif tag not in tags:
            tags.append(tag)
    return tags


# ----------------------------------------------------------------------------- delete


def delete_channel(
    state: SandboxState, user_id: int, channel_id: int, *, reason: str | None = None
) -> JSONObject:
    """``DELETE /channels/{id}``: the channel's JSON as it was; a DM is only 'closed'."""
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        return channel_json(state, channel, viewer_id=user_id)
    body = channel_json(state, channel)
    if channel.thread is not None:
        require(state, user_id, channel, MANAGE_THREADS)
        data: JSONObject = {
            "id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "type": int(channel.type),
        }
        state.publish(
            Dispatch(
                "THREAD_DELETE",
                data,
                int(Intent.GUILDS),
                guild_id=channel.guild_id,
                channel_id=channel.id,
            )
        )
        _remove(state, channel)
        audit(
            state,
            channel.guild_id,
            AuditEvent.THREAD_DELETE,
            user_id,
            channel.id,
            reason=reason,
            changes=[change("name", old=channel.name)],
        )
        return body
    require(state, user_id, channel, MANAGE_CHANNELS)
    state.publish(channel_dispatch(state, "CHANNEL_DELETE", channel))
    guild = state.guilds[channel.guild_id]
    for other in state.guild_channels(guild):
        if other.parent_id != channel.id:
            continue
        if other.type in THREAD_TYPES:
            _remove(state, other)  # clients drop a deleted channel's threads themselves
        else:
            other.parent_id = None
            state.publish(channel_dispatch(state, "CHANNEL_UPDATE", other))
    _remove(state, channel)
    if guild.system_channel_id == channel.id:
        guild.system_channel_id = None
    audit(
        state,
        guild.id,
        AuditEvent.CHANNEL_DELETE,
        user_id,
        channel.id,
        reason=reason,
        changes=[change("name", old=channel.name), change("type", old=int(channel.type))],
    )
    return body


def _remove(state: SandboxState, channel: Channel) -> None:
    for message_id in list(state.history_ids(channel.id)):
        message = state.messages.get(message_id)
        if message is not None:
            state.unlist_message(message)
    for webhook in [w for w in state.webhooks.values() if w.channel_id == channel.id]:
        del state.webhooks[webhook.id]
    del state.channels[channel.id]
    if channel.guild_id is not None:
        ids = state.guilds[channel.guild_id].channel_ids
        if channel.id in ids:
            ids.remove(channel.id)


# ----------------------------------------------------------------------------- overwrites


def put_overwrite(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    target_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> None:
    """``PUT /channels/{id}/permissions/{overwrite_id}``: add or replace one overwrite."""
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        raise dm_channel()
    if channel.thread is not None:
        raise wrong_channel_type()
    problems: Problems = {}
    kind = payload.get("type")
    if kind is None:
        problems["type"] = [("BASE_TYPE_REQUIRED", "This field is required")]
    elif isinstance(kind, bool) or kind not in (Overwrite.ROLE, Overwrite.MEMBER):
        problems["type"] = [("BASE_TYPE_CHOICES", "Value must be one of {0, 1}.")]
    bits: dict[str, int] = {}
    for key in ("allow", "deny"):
        try:
            parsed = Overwrite.from_payload({"id": target_id, "type": 0, key: payload.get(key)})
        except ValueError as exc:
            problems[key] = [("NUMBER_TYPE_COERCE", str(exc))]
        else:
            bits[key] = getattr(parsed, key)
    fail_on(problems)
    assert isinstance(kind, int)
    try:
        overwrite = Overwrite(target_id, kind, bits["allow"], bits["deny"])
    except ValueError as exc:
        raise errors.form_error({"allow": [("INVALID_OVERWRITE", str(exc))]}) from None
    require(state, user_id, channel, MANAGE_ROLES)
    new = PermissionOverwrite(overwrite.id, overwrite.type, overwrite.allow, overwrite.deny)
    _check_targets(state, channel, [new])
    _check_grantable(state, user_id, channel, [new])
    old = next((o for o in channel.permission_overwrites if o.id == target_id), None)
    channel.permission_overwrites = [
        o for o in channel.permission_overwrites if o.id != target_id
    ] + [new]
    _audit_overwrite(
        state,
        channel,
        user_id,
        new,
        old,
        AuditEvent.CHANNEL_OVERWRITE_CREATE if old is None else AuditEvent.CHANNEL_OVERWRITE_UPDATE,
        reason,
    )
    state.publish(channel_dispatch(state, "CHANNEL_UPDATE", channel))


def delete_overwrite(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    target_id: int,
    *,
    reason: str | None = None,
) -> None:
    """``DELETE /channels/{id}/permissions/{overwrite_id}``: 204 whether or not it existed."""
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        raise dm_channel()
    if channel.thread is not None:
        raise wrong_channel_type()
    require(state, user_id, channel, MANAGE_ROLES)
    kept = [o for o in channel.permission_overwrites if o.id != target_id]
    gone = next((o for o in channel.permission_overwrites if o.id == target_id), None)
    if gone is None:
        return
    channel.permission_overwrites = kept
    _audit_overwrite(
        state, channel, user_id, None, gone, AuditEvent.CHANNEL_OVERWRITE_DELETE, reason
    )
    state.publish(channel_dispatch(state, "CHANNEL_UPDATE", channel))


def _audit_overwrite(
    state: SandboxState,
    channel: Channel,
    user_id: int,
    new: PermissionOverwrite | None,
    old: PermissionOverwrite | None,
    action: AuditEvent,
    reason: str | None,
) -> None:
    subject = new or old
    assert subject is not None
    options = {"id": str(subject.id), "type": str(subject.type)}
    if subject.type == Overwrite.ROLE and channel.guild_id is not None:
        role = state.guilds[channel.guild_id].roles.get(subject.id)
        if role is not None:
            options["role_name"] = role.name
    changes = []
    for key in ("allow", "deny"):
        before = None if old is None else str(getattr(old, key))
        after = None if new is None else str(getattr(new, key))
        if before != after:
            changes.append(change(key, before, after))
    audit(
        state,
        channel.guild_id,
        action,
        user_id,
        channel.id,
        reason=reason,
        changes=changes,
        options=options,
    )


# ----------------------------------------------------------------------------- pins


def pinned(state: SandboxState, channel: Channel) -> list[Message]:
    """The channel's pinned messages, most recently pinned first."""
    found = [
        state.messages[mid]
        for mid in state.history_ids(channel.id)
        if mid in state.messages and state.messages[mid].pinned
    ]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda m: (m.pinned_at or epoch, m.id), reverse=True)


def list_pins(state: SandboxState, user_id: int, channel_id: int) -> list[Message]:
    """Pins the user may read (none without READ_MESSAGE_HISTORY), most recent first."""
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is not None and not (
        state.permissions_for(user_id, channel) & READ_MESSAGE_HISTORY
    ):
        return []
    return pinned(state, channel)


def set_pinned(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    message_id: int,
    *,
    pin: bool,
    reason: str | None = None,
) -> None:
    """Pin or unpin a message; dispatches CHANNEL_PINS_UPDATE when something changed."""
    message = state.visible_message(user_id, channel_id, message_id)
    channel = state.channels[message.channel_id]
    if channel.guild_id is not None:
        perms = state.permissions_for(user_id, channel)
        if not perms & PIN_PERMISSIONS:
            raise errors.missing_permissions()
    if channel.thread is not None and channel.thread.archived:
        raise archived_thread()
    if message.pinned == pin:
        return
    if pin:
        if len(pinned(state, channel)) >= MAX_PINS:
            raise max_pins()
        message.pinned = True
        message.pinned_at = dt.datetime.now(dt.UTC)
        channel.last_pin_timestamp = message.pinned_at
        _announce_pin(state, user_id, channel, message)
    else:
        message.pinned = False
        message.pinned_at = None
        rest = pinned(state, channel)
        channel.last_pin_timestamp = rest[0].pinned_at if rest else None
    audit(
        state,
        channel.guild_id,
        AuditEvent.MESSAGE_PIN if pin else AuditEvent.MESSAGE_UNPIN,
        user_id,
        message.author_id,
        reason=reason,
        options={"channel_id": str(channel.id), "message_id": str(message.id)},
    )
    data: JSONObject = {
        "channel_id": str(channel.id),
        "last_pin_timestamp": (
            None
            if channel.last_pin_timestamp is None
            else iso_timestamp(channel.last_pin_timestamp)
        ),
    }
    if channel.guild_id is None:
        state.publish(
            Dispatch(
                "CHANNEL_PINS_UPDATE",
                data,
                int(Intent.DIRECT_MESSAGES),
                channel_id=channel.id,
                user_ids=frozenset(channel.recipients),
            )
        )
        return
    data["guild_id"] = str(channel.guild_id)
    state.publish(
        Dispatch(
            "CHANNEL_PINS_UPDATE",
            data,
            int(Intent.GUILDS),
            guild_id=channel.guild_id,
            channel_id=channel.id,
        )
    )


def _announce_pin(state: SandboxState, user_id: int, channel: Channel, pinned: Message) -> None:
    """Discord's system message "<user> pinned a message to this channel" (type 6)."""
    reference: JSONObject = {
        "type": 0,
        "channel_id": str(channel.id),
        "message_id": str(pinned.id),
    }
    if channel.guild_id is not None:
        reference["guild_id"] = str(channel.guild_id)
    notice = Message(
        id=state.snowflakes.next(),
        channel_id=channel.id,
        author_id=user_id,
        guild_id=channel.guild_id,
        type=MessageType.CHANNEL_PINNED_MESSAGE,
        message_reference=reference,
    )
    state.post_message(notice, channel)


# ----------------------------------------------------------------------------- bulk delete


def bulk_delete(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> None:
    """``POST .../messages/bulk-delete`` ``{messages: [2-100 ids]}``: MESSAGE_DELETE_BULK."""
    channel = state.visible_channel(user_id, channel_id)
    raw = payload.get("messages")
    problems: Problems = {}
    ids: list[int] = []
    if raw is None:
        problems["messages"] = [("BASE_TYPE_REQUIRED", "This field is required")]
    elif not isinstance(raw, list):
        problems["messages"] = [("BASE_TYPE_LIST", "Must be a list.")]
    elif len(raw) < 2:
        problems["messages"] = [("BASE_TYPE_MIN_LENGTH", "Must be 2 or more in length.")]
    elif len(raw) > 100:
        problems["messages"] = [("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")]
    else:
        for i, item in enumerate(raw):
            ident = parse_snowflake(item)
            if ident is None:
                problems[f"messages.{i}"] = [
                    ("NUMBER_TYPE_COERCE", f'Value "{item}" is not snowflake.')
                ]
            elif ident not in ids:
                ids.append(ident)
    fail_on(problems)
    if channel.guild_id is None:
        raise dm_channel()
    require(state, user_id, channel, MANAGE_MESSAGES)
    oldest_allowed = dt.datetime.now(dt.UTC) - BULK_DELETE_MAX_AGE
    if any(snowflake_time(ident) < oldest_allowed for ident in ids):
        raise too_old_to_bulk_delete()
    deleted = []
    for ident in ids:
        message = state.messages.get(ident)
        if message is not None and message.channel_id == channel.id and not message.deleted:
            state.unlist_message(message)
            deleted.append(str(ident))
    if not deleted:
        return
    audit(
        state,
        channel.guild_id,
        AuditEvent.MESSAGE_BULK_DELETE,
        user_id,
        channel.id,
        reason=reason,
        options={"count": str(len(deleted))},
    )
    state.publish(
        Dispatch(
            "MESSAGE_DELETE_BULK",
            {"ids": deleted, "channel_id": str(channel.id), "guild_id": str(channel.guild_id)},
            int(Intent.GUILD_MESSAGES),
            guild_id=channel.guild_id,
            channel_id=channel.id,
        )
    )
