"""Kicks and bans: KICK_MEMBERS / BAN_MEMBERS, the actor above the member, audit entries.

A ban removes the member (GUILD_MEMBER_REMOVE; GUILD_DELETE to a banned bot), may delete the
user's recent messages, and keeps them out: ``_member_ops.join_guild`` answers 40007 until the
ban is lifted.
"""

from __future__ import annotations

import datetime as dt

from . import _errors as errors
from ._events import Dispatch
from ._guild_rules import (
    BAN_MEMBERS,
    KICK_MEMBERS,
    AuditAction,
    guild_for,
    record_audit,
    remove_from_guild,
    require,
    require_outranks_member,
    utcnow,
)
from ._intents import Intent
from ._model import (
    Ban,
    Guild,
)
from ._serialize import user_json
from ._state import SandboxState

# ----------------------------------------------------------------------------- moderation


def kick(
    state: SandboxState, actor_id: int, guild_id: int, user_id: int, *, reason: str | None = None
) -> None:
    """Remove a member (KICK_MEMBERS, hierarchy); dispatches GUILD_MEMBER_REMOVE."""
    guild = guild_for(state, actor_id, guild_id)
    if user_id not in guild.members:
        raise errors.unknown("Member")
    require(guild, actor_id, KICK_MEMBERS)
    require_outranks_member(guild, actor_id, user_id)
    remove_from_guild(state, guild, user_id)
    record_audit(state, guild, AuditAction.MEMBER_KICK, actor_id, user_id, reason=reason)


def ban(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    user_id: int,
    *,
    delete_message_seconds: int = 0,
    reason: str | None = None,
) -> None:
    """Ban a user (BAN_MEMBERS, hierarchy if a member); dispatches GUILD_BAN_ADD and removes.

    Messages the user sent in the guild over the last ``delete_message_seconds`` are deleted
    (MESSAGE_DELETE_BULK per channel). Banning a banned user changes nothing.
    """
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, BAN_MEMBERS)
    user = state.users.get(user_id)
    if user is None:
        raise errors.unknown("User")
    if user_id in guild.members:
        require_outranks_member(guild, actor_id, user_id)
    elif user_id == guild.owner_id:
        raise errors.missing_permissions()
    if user_id in guild.bans:
        return
    guild.bans[user_id] = Ban(user_id=user_id, reason=reason)
    state.publish(
        Dispatch(
            "GUILD_BAN_ADD",
            {"guild_id": str(guild.id), "user": user_json(user)},
            int(Intent.GUILD_MODERATION),
            guild_id=guild.id,
        )
    )
    if user_id in guild.members:
        remove_from_guild(state, guild, user_id)
    if delete_message_seconds > 0:
        _delete_recent_messages(state, guild, user_id, delete_message_seconds)
    record_audit(state, guild, AuditAction.MEMBER_BAN_ADD, actor_id, user_id, reason=reason)


def _delete_recent_messages(state: SandboxState, guild: Guild, user_id: int, seconds: int) -> None:
    since = utcnow() - dt.timedelta(seconds=seconds)
    for channel in state.guild_channels(guild):
        doomed = [
            state.messages[mid]
            for mid in list(state.history_ids(channel.id))
            if mid in state.messages
            and state.messages[mid].author_id == user_id
            and state.messages[mid].timestamp >= since
        ]
        if not doomed:
            continue
        for message in doomed:
            state.unlist_message(message)
        state.publish(
            Dispatch(
                "MESSAGE_DELETE_BULK",
                {
                    "ids": [str(m.id) for m in doomed],
                    "channel_id": str(channel.id),
                    "guild_id": str(guild.id),
                },
                int(Intent.GUILD_MESSAGES),
                guild_id=guild.id,
                channel_id=channel.id,
            )
        )


def unban(
    state: SandboxState, actor_id: int, guild_id: int, user_id: int, *, reason: str | None = None
) -> None:
    """Lift a ban (BAN_MEMBERS; 10026 Unknown Ban); dispatches GUILD_BAN_REMOVE."""
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, BAN_MEMBERS)
    if guild.bans.pop(user_id, None) is None:
        raise errors.unknown("Ban")
    state.publish(
        Dispatch(
            "GUILD_BAN_REMOVE",
            {"guild_id": str(guild.id), "user": user_json(state.users[user_id])},
            int(Intent.GUILD_MODERATION),
            guild_id=guild.id,
        )
    )
    record_audit(state, guild, AuditAction.MEMBER_BAN_REMOVE, actor_id, user_id, reason=reason)


def list_bans(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    *,
    limit: int,
    before: int | None,
    after: int | None,
) -> list[Ban]:
    """Bans by ascending user id; ``before`` wins over ``after`` (BAN_MEMBERS)."""
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, BAN_MEMBERS)
    ids = sorted(guild.bans)
    if before is not None:
        ids = [uid for uid in ids if uid < before][-limit:]
    else:
        ids = [uid for uid in ids if after is None or uid > after][:limit]
    return [guild.bans[uid] for uid in ids]


def get_ban(state: SandboxState, actor_id: int, guild_id: int, user_id: int) -> Ban:
    """One ban (BAN_MEMBERS; 10026 Unknown Ban)."""
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, BAN_MEMBERS)
    found = guild.bans.get(user_id)
    if found is None:
        raise errors.unknown("Ban")
    return found
