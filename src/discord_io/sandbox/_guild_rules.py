"""Discord's rules for guild management: permissions, role hierarchy, audit log, dispatches.

Shared by the guild operations (``_guild_ops`` for channels, ``_member_ops``,
``_moderation_ops``, ``_role_ops``): functions over the state that check what Discord checks,
in Discord's order, raising :class:`~discord_io.sandbox._errors.DiscordError`; change the world;
record an audit log entry (with the ``X-Audit-Log-Reason`` the caller gave); and publish the
gateway dispatches.

Two checks make up Discord's rules here:

- **guild permissions**: the actor's guild-level permissions (@everyone and its roles; owner and
  ADMINISTRATOR have all), reduced to VIEW_CHANNEL and READ_MESSAGE_HISTORY while the actor is
  timed out. Missing one answers ``403 50013 Missing Permissions``.
- **role hierarchy** (``topics/permissions.mdx``, "Permission Hierarchy"): a member's rank is
  their highest role's position (ties: the older role, the lower id, ranks higher); the owner
  outranks everyone and nobody outranks the owner. Kicking, banning, timing out and renaming
  another member, assigning or editing a role, and moving a role all need the actor to outrank
  the target; otherwise ``403 50013``.

Who hears what: CHANNEL_*, GUILD_ROLE_* under GUILDS; GUILD_MEMBER_UPDATE/REMOVE under
GUILD_MEMBERS (a member always hears its own update); GUILD_BAN_* and
GUILD_AUDIT_LOG_ENTRY_CREATE under GUILD_MODERATION (the latter only for VIEW_AUDIT_LOG);
a removed bot gets GUILD_DELETE.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from . import _errors as errors
from ._access import ADMINISTRATOR, PERMISSION_BITS, permissions_for
from ._events import Dispatch
from ._intents import Intent
from ._model import (
    AuditLogEntry,
    Channel,
    ChannelType,
    Guild,
    JSONObject,
    Member,
    Role,
    VoiceState,
)
from ._permissions import TIMED_OUT_PERMISSIONS
from ._serialize import channel_json, role_json, user_json, voice_state_json
from ._serialize_guild import audit_entry_json, member_event_json
from ._state import SandboxState

KICK_MEMBERS = PERMISSION_BITS["kick_members"]
BAN_MEMBERS = PERMISSION_BITS["ban_members"]
MANAGE_CHANNELS = PERMISSION_BITS["manage_channels"]
MANAGE_ROLES = PERMISSION_BITS["manage_roles"]
MANAGE_NICKNAMES = PERMISSION_BITS["manage_nicknames"]
CHANGE_NICKNAME = PERMISSION_BITS["change_nickname"]
MUTE_MEMBERS = PERMISSION_BITS["mute_members"]
DEAFEN_MEMBERS = PERMISSION_BITS["deafen_members"]
MOVE_MEMBERS = PERMISSION_BITS["move_members"]
MODERATE_MEMBERS = PERMISSION_BITS["moderate_members"]
VIEW_AUDIT_LOG = PERMISSION_BITS["view_audit_log"]
MANAGE_WEBHOOKS = PERMISSION_BITS["manage_webhooks"]
CONNECT = PERMISSION_BITS["connect"]
CREATE_INSTANT_INVITE = PERMISSION_BITS["create_instant_invite"]

MAX_TIMEOUT = dt.timedelta(days=28)
MAX_ROLES = 250
MAX_CHANNELS = 500
MAX_BAN_DELETE_SECONDS = 7 * 24 * 3600

VOICE_TYPES = frozenset({ChannelType.GUILD_VOICE, ChannelType.GUILD_STAGE_VOICE})
CREATABLE_TYPES = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_CATEGORY,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_STAGE_VOICE,
        ChannelType.GUILD_FORUM,
        ChannelType.GUILD_MEDIA,
    }
)
"""What ``POST /guilds/{id}/channels`` makes (threads and DMs come from elsewhere)."""


class AuditAction(enum.IntEnum):
    """Discord's audit log event numbers for what the sandbox records."""

    CHANNEL_CREATE = 10
    CHANNEL_UPDATE = 11
    CHANNEL_DELETE = 12
    MEMBER_KICK = 20
    MEMBER_BAN_ADD = 22
    MEMBER_BAN_REMOVE = 23
    MEMBER_UPDATE = 24
    MEMBER_ROLE_UPDATE = 25
    MEMBER_MOVE = 26
    MEMBER_DISCONNECT = 27
    ROLE_CREATE = 30
    ROLE_UPDATE = 31
    ROLE_DELETE = 32


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


# ----------------------------------------------------------------------------- checks


def guild_for(state: SandboxState, user_id: int, guild_id: int) -> Guild:
    """The guild, if it exists (10004) and the user is a member (50001)."""
    return state.visible_guild(user_id, guild_id)


def guild_permissions(guild: Guild, user_id: int) -> int:
    """The user's guild-level permissions (0 for a non-member), a timeout applied."""
    member = guild.members.get(user_id)
    if member is None:
        return 0
    perms = permissions_for(guild, member, None, None)
    if perms & ADMINISTRATOR:
        return perms
    until = member.communication_disabled_until
    if until is not None and until > utcnow():
        perms &= TIMED_OUT_PERMISSIONS
    return perms


def require(guild: Guild, user_id: int, bits: int) -> int:
    """Raise 403 50013 unless the user has every permission in ``bits``; returns theirs."""
    perms = guild_permissions(guild, user_id)
    if perms & bits != bits:
        raise errors.missing_permissions()
    return perms


def role_rank(role: Role) -> tuple[int, int]:
    """Where a role sits: higher position first, then the lower (older) id."""
    return (role.position, -role.id)


TOP_RANK = (1 << 62, 0)


def member_rank(guild: Guild, user_id: int) -> tuple[int, int]:
    """A member's rank: their highest role's; the owner is above every role."""
    if user_id == guild.owner_id:
        return TOP_RANK
    member = guild.members.get(user_id)
    best = role_rank(guild.everyone_role)
    if member is not None:
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                best = max(best, role_rank(role))
    return best


def require_outranks_member(guild: Guild, actor_id: int, target_id: int) -> None:
    """403 50013 unless the actor is above the target in the hierarchy."""
    if target_id == guild.owner_id or member_rank(guild, actor_id) <= member_rank(guild, target_id):
        raise errors.missing_permissions()


def require_outranks_role(guild: Guild, actor_id: int, role: Role) -> None:
    """403 50013 unless the actor's highest role is above ``role``."""
    if member_rank(guild, actor_id) <= role_rank(role):
        raise errors.missing_permissions()


def require_grantable(guild: Guild, actor_id: int, permissions: int) -> None:
    """Only permissions the actor has may be granted (administrators may grant any)."""
    have = guild_permissions(guild, actor_id)
    if not have & ADMINISTRATOR and permissions & ~have:
        raise errors.missing_permissions()


# ----------------------------------------------------------------------------- the audit log


def change(key: str, old: Any = None, new: Any = None) -> JSONObject:
    """One audit log change (``old_value``/``new_value`` left out when None)."""
    out: JSONObject = {"key": key}
    if old is not None:
        out["old_value"] = old
    if new is not None:
        out["new_value"] = new
    return out


def record_audit(
    state: SandboxState,
    guild: Guild,
    action: int,
    user_id: int | None,
    target_id: int | None,
    *,
    reason: str | None = None,
    changes: Sequence[JSONObject] = (),
    options: Mapping[str, str] | None = None,
) -> AuditLogEntry:
    """Add an audit log entry; dispatches GUILD_AUDIT_LOG_ENTRY_CREATE to bots that may view it."""
    entry = AuditLogEntry(
        id=state.snowflakes.next(),
        action_type=int(action),
        user_id=user_id,
        target_id=target_id,
        changes=tuple(changes),
        options=dict(options) if options is not None else None,
        reason=reason,
    )
    guild.audit_log.append(entry)
    viewers = frozenset(
        uid
        for uid in guild.members
        if uid in state.bots and guild_permissions(guild, uid) & VIEW_AUDIT_LOG
    )
    if viewers:
        state.publish(
            Dispatch(
                "GUILD_AUDIT_LOG_ENTRY_CREATE",
                audit_entry_json(entry, guild.id),
                int(Intent.GUILD_MODERATION),
                guild_id=guild.id,
                user_ids=viewers,
            )
        )
    return entry


def audit_entries(
    guild: Guild,
    *,
    user_id: int | None = None,
    action_type: int | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[AuditLogEntry]:
    """Entries newest first (or, with ``after`` and no ``before``, the oldest after it first)."""
    chosen = [
        e
        for e in guild.audit_log
        if (user_id is None or e.user_id == user_id)
        and (action_type is None or e.action_type == action_type)
        and (before is None or e.id < before)
        and (after is None or e.id > after)
    ]
    if after is not None and before is None:
        return chosen[:limit]
    return list(reversed(chosen[-limit:])) if chosen else []


# ----------------------------------------------------------------------------- dispatch helpers


def publish_member_update(state: SandboxState, guild: Guild, member: Member) -> None:
    data = member_event_json(guild.id, member, state.users[member.user_id])
    others = frozenset(uid for uid in guild.members if uid != member.user_id)
    state.publish(
        Dispatch(
            "GUILD_MEMBER_UPDATE",
            data,
            int(Intent.GUILD_MEMBERS),
            guild_id=guild.id,
            user_ids=others,
        )
    )
    state.publish(  # "sent for current-user updates regardless of the GUILD_MEMBERS intent"
        Dispatch(
            "GUILD_MEMBER_UPDATE",
            data,
            0,
            guild_id=guild.id,
            user_ids=frozenset({member.user_id}),
        )
    )


def publish_channel(state: SandboxState, event: str, channel: Channel) -> None:
    state.publish(
        Dispatch(
            event,
            channel_json(state, channel),
            int(Intent.GUILDS),
            guild_id=channel.guild_id,
            channel_id=channel.id,
        )
    )


def publish_role(state: SandboxState, event: str, guild: Guild, role: Role) -> None:
    state.publish(
        Dispatch(
            event,
            {"guild_id": str(guild.id), "role": role_json(role)},
            int(Intent.GUILDS),
            guild_id=guild.id,
        )
    )


def publish_voice_state(state: SandboxState, guild: Guild, voice: VoiceState) -> None:
    data = voice_state_json(guild.id, voice)
    member = guild.members.get(voice.user_id)
    if member is not None:
        data["member"] = member_event_json(guild.id, member, state.users[voice.user_id])
        del data["member"]["guild_id"]
    state.publish(
        Dispatch("VOICE_STATE_UPDATE", data, int(Intent.GUILD_VOICE_STATES), guild_id=guild.id)
    )


def remove_from_guild(state: SandboxState, guild: Guild, user_id: int) -> None:
    """End a membership: GUILD_MEMBER_REMOVE to the rest, GUILD_DELETE to the removed user."""
    voice = guild.voice_states.get(user_id)
    state.remove_member(guild.id, user_id)
    if voice is not None:
        data = voice_state_json(guild.id, voice)
        data["channel_id"] = None
        state.publish(
            Dispatch("VOICE_STATE_UPDATE", data, int(Intent.GUILD_VOICE_STATES), guild_id=guild.id)
        )
    state.publish(
        Dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(guild.id), "user": user_json(state.users[user_id])},
            int(Intent.GUILD_MEMBERS),
            guild_id=guild.id,
        )
    )
    if user_id in state.bots:
        state.publish(
            Dispatch(
                "GUILD_DELETE",
                {"id": str(guild.id)},
                int(Intent.GUILDS),
                user_ids=frozenset({user_id}),
            )
        )
