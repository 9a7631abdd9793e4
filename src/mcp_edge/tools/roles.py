"""Role tools: ``list_roles``, ``create_role``, ``update_role``, ``delete_role``, and a
member's roles with ``add_role`` and ``remove_role``.

Each is a REST call or two through :mod:`discord_io.ops.roles`. Permissions are given and
returned by Discord's names (``manage_messages``), colours as ``#rrggbb``. Writes take an
optional audit-log ``reason``. Discord's rules, which its 403 (naming ``manage_roles``)
enforces: the bot needs Manage Roles, its highest role must be above the role it touches, it
can grant a role only permissions it has itself, and managed roles (a bot's own) cannot be
given, taken or changed. ``update_role`` can grant or revoke single permissions
(``add_permissions`` / ``remove_permissions``): it reads the role first and writes the result.
"""

from __future__ import annotations

import re
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from discord_io.ops import roles as ops
from discord_io.ops.permissions import parse_permissions, permission_names
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Reason, Snowflake, not_found_hint, to_id
from mcp_edge.tools.channel_admin import PermissionName

Color = Annotated[
    str | None,
    Field(
        max_length=7,
        description='The role\'s colour as "#rrggbb" (e.g. "#3498db"); "#000000" means none.',
        examples=["#3498db"],
    ),
]
Permissions = Annotated[
    list[PermissionName] | None,
    Field(max_length=64, description='Discord permission names, e.g. ["manage_messages"].'),
]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
_GUILD_ADVICE = "call list_guilds for the guild ids this agent can use"
_ROLE_ADVICE = "check guild_id and role_id (list_roles gives the guild's roles)"


def parse_color(value: str, field: str = "color") -> int:
    """``#rrggbb`` (or ``rrggbb``) as an int (``ValueError`` naming ``field``)."""
    match = _HEX.match(value.strip())
    if match is None:
        raise ValueError(f'{field} must be "#rrggbb", six hex digits like "#3498db", not {value!r}')
    return int(match[1], 16)


def format_color(value: int) -> str | None:
    return None if value == 0 else f"#{value:06x}"


class Role(BaseModel):
    """A guild role."""

    id: str
    guild_id: str
    name: str
    permissions: list[str] = Field(description="Discord permission names, in bit order.")
    position: int = Field(description="Higher is more senior; @everyone is 0.")
    color: str | None = Field(None, description='"#rrggbb"; null: no colour.')
    hoist: bool = Field(default=False, description="Shown separately in the member list.")
    mentionable: bool = False
    managed: bool = Field(
        default=False, description="Owned by an integration (a bot's own role): cannot be assigned."
    )
    is_everyone: bool = Field(
        default=False, description="The @everyone role (its id is the guild's)."
    )
    bot_id: str | None = Field(None, description="The bot whose own role this is.")
    member_count: int | None = Field(
        None, description="Members with the role (null if unknown; never counted for @everyone)."
    )

    @classmethod
    def of(cls, r: ops.RoleInfo) -> Role:
        return cls(
            id=str(r.id),
            guild_id=str(r.guild_id),
            name=r.name,
            permissions=permission_names(r.permissions),
            position=r.position,
            color=format_color(r.color),
            hoist=r.hoist,
            mentionable=r.mentionable,
            managed=r.managed,
            is_everyone=r.is_everyone,
            bot_id=None if r.bot_id is None else str(r.bot_id),
            member_count=r.member_count,
        )


class RoleList(BaseModel):
    guild_id: str
    roles: list[Role] = Field(description="Highest position first; @everyone last.")


class DeletedRole(BaseModel):
    deleted: bool
    guild_id: str
    role_id: str


class MemberRole(BaseModel):
    guild_id: str
    user_id: str
    role_id: str
    has_role: bool = Field(description="Whether the member has the role now.")


def register(kit: ToolKit) -> None:
    @kit.tool(title="List roles", read_only=True)
    async def list_roles(guild_id: Snowflake, ctx: Context) -> RoleList:
        """List a guild's roles: ids, names, permissions (by name), positions, colours and
        how many members have each.

        Use it to find a role_id for add_role, update_role or set_channel_permissions, or to
        see what a role allows. Higher positions outrank lower ones: a bot can only manage
        roles below its own highest role.
        """
        gid = to_id(guild_id, "guild_id")
        with not_found_hint(_GUILD_ADVICE):
            roles = await kit.caller().handle.call(lambda port: ops.list_roles(port, gid))
        return RoleList(guild_id=guild_id, roles=[Role.of(r) for r in roles])

    @kit.tool(title="Create a role", read_only=False, destructive=False, idempotent=False)
    async def create_role(
        guild_id: Snowflake,
        name: Annotated[str, Field(min_length=1, max_length=100)],
        ctx: Context,
        permissions: Permissions = None,
        color: Color = None,
        hoist: Annotated[
            bool | None, Field(description="Show its members separately in the member list.")
        ] = None,
        mentionable: Annotated[
            bool | None, Field(description="Anyone may @mention the role.")
        ] = None,
        reason: Reason = None,
    ) -> Role:
        """Create a role in a guild, with permissions given by name.

        Without permissions the role grants nothing beyond @everyone's. Discord places it just
        above @everyone. Needs Manage Roles, and the bot can only grant permissions it has
        itself. Calling twice creates two roles: check list_roles first if unsure.
        """
        gid = to_id(guild_id, "guild_id")
        bits = None if permissions is None else parse_permissions(permissions, "permissions")
        rgb = None if color is None else parse_color(color)
        with not_found_hint(_GUILD_ADVICE):
            role = await kit.caller().handle.call(
                lambda port: ops.create_role(
                    port,
                    gid,
                    name=name,
                    permissions=bits,
                    color=rgb,
                    hoist=hoist,
                    mentionable=mentionable,
                    reason=reason,
                )
            )
        return Role.of(role)

    @kit.tool(title="Change a role", read_only=False, destructive=True, idempotent=True)
    async def update_role(
        guild_id: Snowflake,
        role_id: Snowflake,
        ctx: Context,
        name: Annotated[str | None, Field(min_length=1, max_length=100)] = None,
        permissions: Annotated[
            list[PermissionName] | None,
            Field(
                max_length=64,
                description="REPLACES the role's permissions ([] removes them all). To grant "
                "or revoke a few, use add_permissions / remove_permissions instead.",
            ),
        ] = None,
        add_permissions: Annotated[
            list[PermissionName] | None,
            Field(max_length=64, description="Grant these, keeping the others."),
        ] = None,
        remove_permissions: Annotated[
            list[PermissionName] | None,
            Field(max_length=64, description="Revoke these, keeping the others."),
        ] = None,
        color: Color = None,
        hoist: bool | None = None,
        mentionable: bool | None = None,
        reason: Reason = None,
    ) -> Role:
        """Change a role's name, permissions, colour, hoist or mentionable flag. Only what you
        give changes.

        Returns the role as it now is. Needs Manage Roles, a highest role above this one, and
        every permission it grants. Changing @everyone (role_id = the guild id) changes what
        everyone may do.
        """
        gid, rid = to_id(guild_id, "guild_id"), to_id(role_id, "role_id")
        if permissions is not None and (add_permissions or remove_permissions):
            raise ValueError(
                "give permissions (the whole new set) or add_permissions/remove_permissions, "
                "not both"
            )
        bits = None if permissions is None else parse_permissions(permissions, "permissions")
        grant = parse_permissions(add_permissions or (), "add_permissions")
        revoke = parse_permissions(remove_permissions or (), "remove_permissions")
        if grant & revoke:
            both = ", ".join(permission_names(grant & revoke))
            raise ValueError(f"add_permissions and remove_permissions both name {both}")
        rgb = None if color is None else parse_color(color)
        if (
            all(v is None for v in (name, bits, rgb, hoist, mentionable))
            and not grant
            and not revoke
        ):
            raise ValueError(
                "give at least one of name, permissions, add_permissions, remove_permissions, "
                "color, hoist, mentionable"
            )
        handle = kit.caller().handle
        with not_found_hint(_ROLE_ADVICE):
            if grant or revoke:
                current = await handle.call(lambda port: ops.get_role(port, gid, rid))
                bits = (current.permissions | grant) & ~revoke
            new_bits = bits
            role = await handle.call(
                lambda port: ops.update_role(
                    port,
                    gid,
                    rid,
                    name=name,
                    permissions=new_bits,
                    color=rgb,
                    hoist=hoist,
                    mentionable=mentionable,
                    reason=reason,
                )
            )
        return Role.of(role)

    @kit.tool(title="Delete a role", read_only=False, destructive=True, idempotent=True)
    async def delete_role(
        guild_id: Snowflake, role_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> DeletedRole:
        """Delete a role: every member who had it loses it. This cannot be undone.

        Needs Manage Roles and a highest role above this one; @everyone and managed roles
        (a bot's own) cannot be deleted.
        """
        gid, rid = to_id(guild_id, "guild_id"), to_id(role_id, "role_id")
        if rid == gid:
            raise ValueError("role_id is the @everyone role, which cannot be deleted")
        with not_found_hint(f"{_ROLE_ADVICE}; it may already be deleted"):
            await kit.caller().handle.call(
                lambda port: ops.delete_role(port, gid, rid, reason=reason)
            )
        return DeletedRole(deleted=True, guild_id=guild_id, role_id=role_id)

    @kit.tool(title="Give a member a role", read_only=False, destructive=False, idempotent=True)
    async def add_role(
        guild_id: Snowflake,
        user_id: Snowflake,
        role_id: Snowflake,
        ctx: Context,
        reason: Reason = None,
    ) -> MemberRole:
        """Give a member of a guild a role. Giving a role they already have changes nothing.

        Needs Manage Roles and a highest role above the role given; managed roles (a bot's
        own) cannot be given. list_roles gives role ids; a message's author_id is a user id.
        """
        gid, uid, rid = _member_role_ids(guild_id, user_id, role_id)
        with not_found_hint(_member_advice()):
            await kit.caller().handle.call(
                lambda port: ops.add_member_role(port, gid, uid, rid, reason=reason)
            )
        return MemberRole(guild_id=guild_id, user_id=user_id, role_id=role_id, has_role=True)

    @kit.tool(title="Take a role from a member", read_only=False, destructive=True, idempotent=True)
    async def remove_role(
        guild_id: Snowflake,
        user_id: Snowflake,
        role_id: Snowflake,
        ctx: Context,
        reason: Reason = None,
    ) -> MemberRole:
        """Take a role away from a member of a guild. If they do not have it, nothing changes.

        Needs Manage Roles and a highest role above the role taken; managed roles (a bot's
        own) cannot be taken away.
        """
        gid, uid, rid = _member_role_ids(guild_id, user_id, role_id)
        with not_found_hint(_member_advice()):
            await kit.caller().handle.call(
                lambda port: ops.remove_member_role(port, gid, uid, rid, reason=reason)
            )
        return MemberRole(guild_id=guild_id, user_id=user_id, role_id=role_id, has_role=False)


def _member_role_ids(guild_id: str, user_id: str, role_id: str) -> tuple[int, int, int]:
    gid, uid, rid = (
        to_id(guild_id, "guild_id"),
        to_id(user_id, "user_id"),
        to_id(role_id, "role_id"),
    )
    if rid == gid:
        raise ValueError("role_id is the @everyone role, which every member always has")
    return gid, uid, rid


def _member_advice() -> str:
    return (
        "check guild_id (list_guilds), user_id (the user must be a member of the guild) and "
        "role_id (list_roles)"
    )


__all__ = [
    "DeletedRole",
    "MemberRole",
    "Role",
    "RoleList",
    "format_color",
    "parse_color",
    "register",
]
