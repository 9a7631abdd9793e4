"""Guild roles: create, modify, delete, reorder, within the actor's reach.

Writes need MANAGE_ROLES, may only touch roles below the actor's highest role, and may only
grant permissions the actor has (administrators excepted). Positions stay 1..n above @everyone.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from . import _errors as errors
from ._errors import DiscordError
from ._events import Dispatch
from ._guild_rules import (
    MANAGE_ROLES,
    MAX_ROLES,
    TOP_RANK,
    AuditAction,
    change,
    guild_for,
    member_rank,
    publish_role,
    record_audit,
    require,
    require_grantable,
    require_outranks_role,
    role_rank,
)
from ._intents import Intent
from ._model import (
    Guild,
    JSONObject,
    Role,
)
from ._state import SandboxState

# ----------------------------------------------------------------------------- roles


@attrs.frozen
class RoleEdit:
    """A checked role body (create or modify); None means 'not given'."""

    name: str | None = None
    permissions: int | None = None
    color: int | None = None
    hoist: bool | None = None
    mentionable: bool | None = None


def get_role(state: SandboxState, actor_id: int, guild_id: int, role_id: int) -> Role:
    """A role of a guild the actor is in (10011 Unknown Role)."""
    guild = guild_for(state, actor_id, guild_id)
    role = guild.roles.get(role_id)
    if role is None:
        raise errors.unknown("Role")
    return role


def sorted_roles(guild: Guild) -> list[Role]:
    """A guild's roles from the bottom (@everyone) up."""
    return sorted(guild.roles.values(), key=role_rank)


def create_role(
    state: SandboxState, actor_id: int, guild_id: int, edit: RoleEdit, *, reason: str | None = None
) -> Role:
    """A new role just above @everyone (MANAGE_ROLES); dispatches GUILD_ROLE_CREATE."""
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, MANAGE_ROLES)
    permissions = edit.permissions
    if permissions is None:
        permissions = guild.everyone_role.permissions
    require_grantable(guild, actor_id, permissions)
    if len(guild.roles) >= MAX_ROLES:
        raise DiscordError(400, 30005, "Maximum number of guild roles reached (250)")
    bumped = [r for r in guild.roles.values() if r.id != guild.id and r.position >= 1]
    for other in bumped:
        other.position += 1
    role = Role(
        id=state.snowflakes.next(),
        guild_id=guild.id,
        name=edit.name if edit.name is not None else "new role",
        permissions=permissions,
        position=1,
        color=edit.color or 0,
        hoist=bool(edit.hoist),
        mentionable=bool(edit.mentionable),
    )
    state.add_role(role)
    publish_role(state, "GUILD_ROLE_CREATE", guild, role)
    for other in bumped:
        publish_role(state, "GUILD_ROLE_UPDATE", guild, other)
    record_audit(
        state,
        guild,
        AuditAction.ROLE_CREATE,
        actor_id,
        role.id,
        reason=reason,
        changes=[
            change("name", new=role.name),
            change("permissions", new=str(role.permissions)),
            change("color", new=role.color),
            change("hoist", new=role.hoist),
            change("mentionable", new=role.mentionable),
        ],
    )
    return role


def modify_role(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    role_id: int,
    edit: RoleEdit,
    *,
    reason: str | None = None,
) -> Role:
    """Edit a role below the actor (MANAGE_ROLES); dispatches GUILD_ROLE_UPDATE."""
    guild = guild_for(state, actor_id, guild_id)
    role = guild.roles.get(role_id)
    if role is None:
        raise errors.unknown("Role")
    require(guild, actor_id, MANAGE_ROLES)
    if guild.owner_id != actor_id and role.id != guild.id:
        require_outranks_role(guild, actor_id, role)
    if edit.permissions is not None and edit.permissions != role.permissions:
        require_grantable(guild, actor_id, edit.permissions & ~role.permissions)
    changes: list[JSONObject] = []
    if edit.name is not None and edit.name != role.name and role.id != guild.id:
        changes.append(change("name", role.name, edit.name))
        role.name = edit.name
    if edit.permissions is not None and edit.permissions != role.permissions:
        changes.append(change("permissions", str(role.permissions), str(edit.permissions)))
        role.permissions = edit.permissions
    if edit.color is not None and edit.color != role.color:
        changes.append(change("color", role.color, edit.color))
        role.color = edit.color
    if edit.hoist is not None and edit.hoist != role.hoist:
        changes.append(change("hoist", role.hoist, edit.hoist))
        role.hoist = edit.hoist
    if edit.mentionable is not None and edit.mentionable != role.mentionable:
        changes.append(change("mentionable", role.mentionable, edit.mentionable))
        role.mentionable = edit.mentionable
    if changes:
        publish_role(state, "GUILD_ROLE_UPDATE", guild, role)
        record_audit(
            state, guild, AuditAction.ROLE_UPDATE, actor_id, role.id, reason=reason, changes=changes
        )
    return role


def delete_role(
    state: SandboxState, actor_id: int, guild_id: int, role_id: int, *, reason: str | None = None
) -> None:
    """Delete a role below the actor (MANAGE_ROLES); dispatches GUILD_ROLE_DELETE."""
    guild = guild_for(state, actor_id, guild_id)
    role = guild.roles.get(role_id)
    if role is None:
        raise errors.unknown("Role")
    require(guild, actor_id, MANAGE_ROLES)
    if role.id == guild.id or role.managed:
        raise DiscordError(400, 50028, "Invalid Role")
    require_outranks_role(guild, actor_id, role)
    del guild.roles[role.id]
    for member in guild.members.values():
        if role.id in member.roles:
            member.roles.remove(role.id)
    shifted = [r for r in guild.roles.values() if r.id != guild.id and r.position > role.position]
    for other in shifted:
        other.position -= 1
    state.publish(
        Dispatch(
            "GUILD_ROLE_DELETE",
            {"guild_id": str(guild.id), "role_id": str(role.id)},
            int(Intent.GUILDS),
            guild_id=guild.id,
        )
    )
    for other in shifted:
        publish_role(state, "GUILD_ROLE_UPDATE", guild, other)
    record_audit(
        state,
        guild,
        AuditAction.ROLE_DELETE,
        actor_id,
        role.id,
        reason=reason,
        changes=[
            change("name", old=role.name),
            change("permissions", old=str(role.permissions)),
            change("color", old=role.color),
            change("hoist", old=role.hoist),
            change("mentionable", old=role.mentionable),
        ],
    )


def reorder_roles(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    moves: Sequence[tuple[int, int | None]],
    *,
    reason: str | None = None,
) -> list[Role]:
    """Move roles (``(id, position)`` pairs) below the actor; GUILD_ROLE_UPDATE for each moved.

    Positions are then renumbered 1..n from the bottom, as Discord keeps them.
    """
    guild = guild_for(state, actor_id, guild_id)
    require(guild, actor_id, MANAGE_ROLES)
    top = member_rank(guild, actor_id)
    wanted: dict[int, int] = {}
    for role_id, position in moves:
        role = guild.roles.get(role_id)
        if role is None:
            raise errors.unknown("Role")
        if position is None or role.id == guild.id:
            continue
        if top <= role_rank(role) or (top != TOP_RANK and position >= top[0]):
            raise errors.missing_permissions()
        wanted[role.id] = position
    before = {r.id: r.position for r in guild.roles.values()}
    movers = [r for r in guild.roles.values() if r.id in wanted]
    others = [r for r in guild.roles.values() if r.id not in wanted and r.id != guild.id]
    # the moved roles take their asked places; the others keep their order around them
    for role in movers:
        role.position = wanted[role.id]
    ordered = sorted(others + movers, key=lambda r: (r.position, 0 if r.id in wanted else 1, -r.id))
    for index, role in enumerate(ordered, start=1):
        role.position = index
    moved = [r for r in guild.roles.values() if r.position != before[r.id]]
    for role in moved:
        publish_role(state, "GUILD_ROLE_UPDATE", guild, role)
        record_audit(
            state,
            guild,
            AuditAction.ROLE_UPDATE,
            actor_id,
            role.id,
            reason=reason,
            changes=[change("position", before[role.id], role.position)],
        )
    return sorted_roles(guild)
