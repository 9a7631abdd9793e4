"""Guild members: list, search, modify (nick, roles, voice, timeout), roles one by one, join.

Each field of a modify is checked before anything changes: nick needs MANAGE_NICKNAMES (or
CHANGE_NICKNAME for oneself), roles MANAGE_ROLES and roles below the actor, mute/deaf/move the
voice permissions and a member in voice (400 40032), a timeout MODERATE_MEMBERS, at most 28
days, and never on an administrator or the owner. The rules are ``_guild_rules``'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from . import _errors as errors
from ._access import ADMINISTRATOR
from ._errors import DiscordError
from ._events import Dispatch
from ._guild_rules import (
    CHANGE_NICKNAME,
    CONNECT,
    DEAFEN_MEMBERS,
    MANAGE_NICKNAMES,
    MANAGE_ROLES,
    MAX_TIMEOUT,
    MODERATE_MEMBERS,
    MOVE_MEMBERS,
    MUTE_MEMBERS,
    VOICE_TYPES,
    AuditAction,
    change,
    guild_for,
    guild_permissions,
    publish_member_update,
    publish_voice_state,
    record_audit,
    require,
    require_outranks_member,
    require_outranks_role,
    utcnow,
)
from ._intents import Intent
from ._model import (
    Channel,
    Guild,
    JSONObject,
    Member,
    Role,
    VoiceState,
)
from ._serialize import voice_state_json
from ._serialize_guild import member_event_json
from ._state import SandboxState

# ----------------------------------------------------------------------------- members


def get_member(state: SandboxState, actor_id: int, guild_id: int, user_id: int) -> Member:
    """A member of a guild the actor is in (10007 Unknown Member)."""
    guild = guild_for(state, actor_id, guild_id)
    member = guild.members.get(user_id)
    if member is None:
        raise errors.unknown("Member")
    return member


def list_members(
    state: SandboxState, actor_id: int, guild_id: int, *, limit: int, after: int
) -> list[Member]:
    """Members by ascending user id after ``after`` (needs the GUILD_MEMBERS intent granted)."""
    guild = guild_for(state, actor_id, guild_id)
    bot = state.bots.get(actor_id)
    if bot is None or not bot.granted_intents & Intent.GUILD_MEMBERS:
        raise errors.missing_access()
    ids = sorted(uid for uid in guild.members if uid > after)
    return [guild.members[uid] for uid in ids[:limit]]


def search_members(
    state: SandboxState, actor_id: int, guild_id: int, *, query: str, limit: int
) -> list[Member]:
    """Members whose username or nickname starts with ``query`` (case-insensitive)."""
    guild = guild_for(state, actor_id, guild_id)
    needle = query.casefold()
    found = [
        member
        for uid, member in sorted(guild.members.items())
        if state.users[uid].username.casefold().startswith(needle)
        or (member.nick is not None and member.nick.casefold().startswith(needle))
        or (state.users[uid].global_name or "").casefold().startswith(needle)
    ]
    return found[:limit]


_UNSET: Any = object()


@attrs.frozen
class MemberEdit:
    """A checked ``PATCH /guilds/{id}/members/{user_id}`` body; ``_UNSET`` means not given."""

    nick: str | None = _UNSET
    roles: tuple[int, ...] | None = _UNSET
    mute: bool | None = _UNSET
    deaf: bool | None = _UNSET
    channel_id: int | None = _UNSET
    communication_disabled_until: dt.datetime | None = _UNSET

    @staticmethod
    def given(value: object) -> bool:
        """Whether a field was in the body."""
        return value is not _UNSET


UNSET: Any = _UNSET
"""The value of a :class:`MemberEdit` field the body did not carry."""


def modify_member(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    user_id: int,
    edit: MemberEdit,
    *,
    reason: str | None = None,
) -> Member:
    """Edit a member as Discord allows; dispatches GUILD_MEMBER_UPDATE (and voice updates)."""
    guild = guild_for(state, actor_id, guild_id)
    member = guild.members.get(user_id)
    if member is None:
        raise errors.unknown("Member")
    have = guild_permissions(guild, actor_id)
    is_self = actor_id == user_id
    given = MemberEdit.given

    # permissions first, for every field, before anything changes
    if given(edit.nick):
        if is_self:
            if not have & (CHANGE_NICKNAME | MANAGE_NICKNAMES):
                raise errors.missing_permissions()
        else:
            require(guild, actor_id, MANAGE_NICKNAMES)
            require_outranks_member(guild, actor_id, user_id)
    added: list[Role] = []
    removed: list[Role] = []
    if given(edit.roles) and edit.roles is not None:
        wanted = [rid for rid in dict.fromkeys(edit.roles) if rid != guild.id]
        for rid in wanted:
            if rid not in guild.roles:
                raise errors.unknown("Role")
        added = [guild.roles[rid] for rid in wanted if rid not in member.roles]
        removed = [guild.roles[rid] for rid in member.roles if rid not in wanted]
        _check_role_assignment(guild, actor_id, added + removed)
    voice = guild.voice_states.get(user_id)
    target_channel = _check_voice_edit(state, guild, actor_id, edit, voice)
    if given(edit.communication_disabled_until):
        _check_timeout(guild, actor_id, user_id, edit.communication_disabled_until)

    # then the changes, audited as Discord records them
    changes: list[JSONObject] = []
    if given(edit.nick):
        nick = edit.nick or None
        if nick != member.nick:
            changes.append(change("nick", member.nick, nick))
            member.nick = nick
    voice_changed = False
    if given(edit.mute) and edit.mute is not None and edit.mute != member.mute:
        changes.append(change("mute", member.mute, edit.mute))
        member.mute = edit.mute
        if voice is not None:
            voice.mute = edit.mute
            voice_changed = True
    if given(edit.deaf) and edit.deaf is not None and edit.deaf != member.deaf:
        changes.append(change("deaf", member.deaf, edit.deaf))
        member.deaf = edit.deaf
        if voice is not None:
            voice.deaf = edit.deaf
            voice_changed = True
    if given(edit.communication_disabled_until):
        until = edit.communication_disabled_until
        if until != member.communication_disabled_until:
            old = member.communication_disabled_until
            changes.append(
                change(
                    "communication_disabled_until",
                    None if old is None else old.isoformat(),
                    None if until is None else until.isoformat(),
                )
            )
            member.communication_disabled_until = until
    if changes:
        record_audit(
            state,
            guild,
            AuditAction.MEMBER_UPDATE,
            actor_id,
            user_id,
            reason=reason,
            changes=changes,
        )
    roles_changed = _apply_roles(state, guild, member, actor_id, added, removed, reason)
    if changes or roles_changed:
        publish_member_update(state, guild, member)
    if voice_changed and voice is not None:
        publish_voice_state(state, guild, voice)
    if given(edit.channel_id) and voice is not None:
        _move_voice(state, guild, actor_id, voice, target_channel, reason)
    return member


def _check_voice_edit(
    state: SandboxState,
    guild: Guild,
    actor_id: int,
    edit: MemberEdit,
    voice: VoiceState | None,
) -> Channel | None:
    """mute/deaf/channel_id: the voice permissions, a member in voice; returns the move target."""
    given = MemberEdit.given
    if given(edit.mute) and edit.mute is not None:
        require(guild, actor_id, MUTE_MEMBERS)
        if voice is None:
            raise _not_in_voice()
    if given(edit.deaf) and edit.deaf is not None:
        require(guild, actor_id, DEAFEN_MEMBERS)
        if voice is None:
            raise _not_in_voice()
    if not given(edit.channel_id):
        return None
    require(guild, actor_id, MOVE_MEMBERS)
    if voice is None:
        raise _not_in_voice()
    if edit.channel_id is None:
        return None
    target = state.channels.get(edit.channel_id)
    if target is None or target.guild_id != guild.id:
        raise errors.unknown("Channel")
    if target.type not in VOICE_TYPES:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    if not state.permissions_for(actor_id, target) & CONNECT:
        raise errors.missing_permissions()
    return target


def _check_timeout(guild: Guild, actor_id: int, user_id: int, until: dt.datetime | None) -> None:
    """MODERATE_MEMBERS, at most 28 days ahead, the actor above the member, never an admin."""
    require(guild, actor_id, MODERATE_MEMBERS)
    if until is not None and until > utcnow() + MAX_TIMEOUT:
        raise errors.form_error(
            {
                "communication_disabled_until": [
                    (
                        "INVALID_COMMUNICATION_DISABLED_TIMESTAMP",
                        "Invalid communication disabled timestamp",
                    )
                ]
            }
        )
    if until is not None and guild_permissions(guild, user_id) & ADMINISTRATOR:
        raise errors.missing_permissions()
    require_outranks_member(guild, actor_id, user_id)


def _not_in_voice() -> DiscordError:
    return DiscordError(400, 40032, "Target user is not connected to voice.")


def _check_role_assignment(guild: Guild, actor_id: int, roles: Iterable[Role]) -> None:
    """MANAGE_ROLES, and every role changed must be below the actor and not managed.

    The member's own rank does not matter: a role below the actor may be given to anyone.
    """
    require(guild, actor_id, MANAGE_ROLES)
    for role in roles:
        if role.managed:
            raise errors.missing_permissions()
        require_outranks_role(guild, actor_id, role)


def _apply_roles(
    state: SandboxState,
    guild: Guild,
    member: Member,
    actor_id: int,
    added: Sequence[Role],
    removed: Sequence[Role],
    reason: str | None,
) -> bool:
    if not added and not removed:
        return False
    gone = {r.id for r in removed}
    member.roles = [rid for rid in member.roles if rid not in gone] + [r.id for r in added]
    changes = []
    if added:
        changes.append(change("$add", new=[{"id": str(r.id), "name": r.name} for r in added]))
    if removed:
        changes.append(change("$remove", new=[{"id": str(r.id), "name": r.name} for r in removed]))
    record_audit(
        state,
        guild,
        AuditAction.MEMBER_ROLE_UPDATE,
        actor_id,
        member.user_id,
        reason=reason,
        changes=changes,
    )
    return True


def _move_voice(
    state: SandboxState,
    guild: Guild,
    actor_id: int,
    voice: VoiceState,
    channel: Channel | None,
    reason: str | None,
) -> None:
    if channel is None:
        guild.voice_states.pop(voice.user_id, None)
        data = voice_state_json(guild.id, voice)
        data["channel_id"] = None
        member = guild.members[voice.user_id]
        data["member"] = member_event_json(guild.id, member, state.users[voice.user_id])
        del data["member"]["guild_id"]
        state.publish(
            Dispatch("VOICE_STATE_UPDATE", data, int(Intent.GUILD_VOICE_STATES), guild_id=guild.id)
        )
        record_audit(
            state,
            guild,
            AuditAction.MEMBER_DISCONNECT,
            actor_id,
            None,
            reason=reason,
            options={"count": "1"},
        )
        return
    if channel.id == voice.channel_id:
        return
    voice.channel_id = channel.id
    publish_voice_state(state, guild, voice)
    record_audit(
        state,
        guild,
        AuditAction.MEMBER_MOVE,
        actor_id,
        None,
        reason=reason,
        options={"channel_id": str(channel.id), "count": "1"},
    )


def modify_current_member(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    *,
    nick: str | None = _UNSET,
    reason: str | None = None,
) -> Member:
    """``PATCH /guilds/{id}/members/@me``: the bot's own nickname (CHANGE_NICKNAME)."""
    return modify_member(state, actor_id, guild_id, actor_id, MemberEdit(nick=nick), reason=reason)


def add_member_role(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    user_id: int,
    role_id: int,
    *,
    reason: str | None = None,
) -> None:
    """``PUT .../members/{user_id}/roles/{role_id}``; dispatches GUILD_MEMBER_UPDATE."""
    guild = guild_for(state, actor_id, guild_id)
    member = guild.members.get(user_id)
    if member is None:
        raise errors.unknown("Member")
    role = guild.roles.get(role_id)
    if role is None or role.id == guild.id:
        raise errors.unknown("Role")
    _check_role_assignment(guild, actor_id, [role])
    if role.id in member.roles:
        return
    if _apply_roles(state, guild, member, actor_id, [role], [], reason):
        publish_member_update(state, guild, member)


def remove_member_role(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    user_id: int,
    role_id: int,
    *,
    reason: str | None = None,
) -> None:
    """``DELETE .../members/{user_id}/roles/{role_id}``; dispatches GUILD_MEMBER_UPDATE."""
    guild = guild_for(state, actor_id, guild_id)
    member = guild.members.get(user_id)
    if member is None:
        raise errors.unknown("Member")
    role = guild.roles.get(role_id)
    if role is None or role.id == guild.id:
        raise errors.unknown("Role")
    _check_role_assignment(guild, actor_id, [role])
    if role.id not in member.roles:
        return
    if _apply_roles(state, guild, member, actor_id, [], [role], reason):
        publish_member_update(state, guild, member)


def join_guild(state: SandboxState, guild_id: int, user_id: int) -> Member | None:
    """Add a user to a guild as a new member (None if already one); 40007 if banned.

    Dispatches GUILD_MEMBER_ADD (GUILD_MEMBERS). The one way back into a guild after a ban is
    to lift the ban first.
    """
    guild = state.guilds.get(guild_id)
    if guild is None:
        raise errors.unknown("Guild")
    if user_id not in state.users:
        raise errors.unknown("User")
    if user_id in guild.bans:
        raise DiscordError(403, 40007, "The user is banned from this guild.")
    if user_id in guild.members:
        return None
    member = state.add_member(Member(user_id=user_id, guild_id=guild.id))
    state.publish(
        Dispatch(
            "GUILD_MEMBER_ADD",
            member_event_json(guild.id, member, state.users[user_id]),
            int(Intent.GUILD_MEMBERS),
            guild_id=guild.id,
        )
    )
    return member
