"""Guild roles: list, get, member counts, create, modify, delete, reorder.

Writes need MANAGE_ROLES, touch only roles below the actor's highest role, and grant only
permissions the actor has; they dispatch GUILD_ROLE_CREATE/UPDATE/DELETE (GUILDS) and record
audit log entries. ``roles/member-counts`` is registered before ``roles/{role_id}``.
"""

from __future__ import annotations

from typing import Any

from .. import _role_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._model import JSONObject
from .._serialize import role_json
from ._args import (
    Problems,
    audit_reason,
    boolean,
    fail_on,
    integer,
    json_array,
    permissions,
    snowflake,
    string,
)

router = Router()

MAX_COLOR = 0xFFFFFF


@router.get("/guilds/{guild_id}/roles")
async def list_roles(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/roles``."""
    guild = call.state.visible_guild(call.me.id, call.snowflake("guild_id"))
    return ok([role_json(r) for r in ops.sorted_roles(guild)])


@router.get("/guilds/{guild_id}/roles/member-counts")
async def role_member_counts(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/roles/member-counts``: role id → members (no @everyone)."""
    guild = call.state.visible_guild(call.me.id, call.snowflake("guild_id"))
    counts = {str(r.id): 0 for r in guild.roles.values() if r.id != guild.id}
    for member in guild.members.values():
        for role_id in member.roles:
            if str(role_id) in counts:
                counts[str(role_id)] += 1
    return ok(counts)


@router.get("/guilds/{guild_id}/roles/{role_id}")
async def get_role(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/roles/{role_id}`` (10011 Unknown Role)."""
    role = ops.get_role(
        call.state, call.me.id, call.snowflake("guild_id"), call.snowflake("role_id")
    )
    return ok(role_json(role))


def parse_role_edit(payload: JSONObject) -> ops.RoleEdit:
    """A role body (create or modify), checked (400 50035 naming each bad field)."""
    problems: Problems = {}
    name = string(payload, "name", problems, high=100)
    perms = permissions(payload, "permissions", problems)
    color = integer(payload, "color", problems, low=0, high=MAX_COLOR)
    colors = payload.get("colors")
    if isinstance(colors, dict) and colors.get("primary_color") is not None:
        color = integer(
            colors, "primary_color", problems, low=0, high=MAX_COLOR, where="colors.primary_color"
        )
    hoist = boolean(payload, "hoist", problems)
    mentionable = boolean(payload, "mentionable", problems)
    fail_on(problems)
    return ops.RoleEdit(
        name=name, permissions=perms, color=color, hoist=hoist, mentionable=mentionable
    )


@router.post("/guilds/{guild_id}/roles")
async def create_role(call: Call) -> Reply:
    """``POST /guilds/{guild_id}/roles``: the new role; GUILD_ROLE_CREATE."""
    guild_id = call.snowflake("guild_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    edit = parse_role_edit(await call.json(empty={}))
    role = ops.create_role(call.state, me.id, guild_id, edit, reason=audit_reason(call))
    return ok(role_json(role))


@router.patch("/guilds/{guild_id}/roles/{role_id}")
async def modify_role(call: Call) -> Reply:
    """``PATCH /guilds/{guild_id}/roles/{role_id}``: the role; GUILD_ROLE_UPDATE."""
    guild_id, role_id = call.snowflake("guild_id"), call.snowflake("role_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    edit = parse_role_edit(await call.json(empty={}))
    role = ops.modify_role(call.state, me.id, guild_id, role_id, edit, reason=audit_reason(call))
    return ok(role_json(role))


@router.delete("/guilds/{guild_id}/roles/{role_id}")
async def delete_role(call: Call) -> Reply:
    """``DELETE /guilds/{guild_id}/roles/{role_id}``: 204; GUILD_ROLE_DELETE."""
    ops.delete_role(
        call.state,
        call.me.id,
        call.snowflake("guild_id"),
        call.snowflake("role_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT


def _moves(body: list[Any]) -> list[tuple[int, int | None]]:
    problems: Problems = {}
    moves: list[tuple[int, int | None]] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            problems[str(index)] = [
                ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            ]
            continue
        if item.get("id") is None:
            problems[f"{index}.id"] = [("BASE_TYPE_REQUIRED", "This field is required")]
            continue
        ident = snowflake(item, "id", problems, where=f"{index}.id")
        position = integer(item, "position", problems, where=f"{index}.position")
        if ident is not None:
            moves.append((ident, position))
    fail_on(problems)
    return moves


@router.patch("/guilds/{guild_id}/roles")
async def reorder_roles(call: Call) -> Reply:
    """``PATCH /guilds/{guild_id}/roles``: every role, after the move; GUILD_ROLE_UPDATEs."""
    guild_id = call.snowflake("guild_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    moves = _moves(await json_array(call))
    roles = ops.reorder_roles(call.state, me.id, guild_id, moves, reason=audit_reason(call))
    return ok([role_json(r) for r in roles])
