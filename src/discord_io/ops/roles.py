"""Guild roles and members' roles: list, create, change, delete, give and take away.

Routes (REST v10): ``GET``/``POST /guilds/{guild_id}/roles``, ``GET
/guilds/{guild_id}/roles/member-counts``, ``PATCH``/``DELETE
/guilds/{guild_id}/roles/{role_id}``, ``PUT``/``DELETE
/guilds/{guild_id}/members/{user_id}/roles/{role_id}``. Every write takes an audit-log
``reason``. What Discord requires (and a 403 names ``manage_roles``):

- ``manage_roles``, and the bot's highest role must be above every role it creates, changes,
  deletes, gives or takes away ("role hierarchy": a 403 also when only that is wrong);
- a role may only be granted permissions the bot has itself;
- managed roles (a bot's own, a booster role) cannot be given, taken, changed or deleted.

Giving a role a member already has, or taking one they lack, succeeds and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from actors.discord_port import DiscordError, DiscordPort
from discord_io.ops.permissions import parse_bits

_HIERARCHY = (
    "manage_roles (and a highest role above the role; managed roles, like a bot's own, "
    "cannot be assigned)"
)


@attrs.frozen
class RoleInfo:
    """A guild role. ``permissions`` is a bit set; ``color`` 0 means none."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None
    """The bot whose own role this is (managed), if it is one."""
    member_count: int | None = None

    @property
    def is_everyone(self) -> bool:
        return self.id == self.guild_id

    @classmethod
    def from_payload(
        cls, data: Mapping[str, Any], guild_id: int, member_count: int | None = None
    ) -> RoleInfo:
        tags = data.get("tags") or {}
        bot = tags.get("bot_id")
        return cls(
            id=int(data["id"]),
            guild_id=guild_id,
            name=str(data["name"]),
            permissions=parse_bits(data.get("permissions")),
            position=int(data.get("position") or 0),
            color=int(data.get("color") or 0),
            hoist=bool(data.get("hoist", False)),
            mentionable=bool(data.get("mentionable", False)),
            managed=bool(data.get("managed", False)),
            bot_id=None if bot is None else int(bot),
            member_count=member_count,
        )


async def list_roles(
    port: DiscordPort, guild_id: int, *, member_counts: bool = True
) -> list[RoleInfo]:
    """A guild's roles, highest position first; with ``member_counts`` each role's member
    count too (one more request; left ``None`` if Discord will not give it)."""
    ids = {"guild_id": guild_id}
    data = await port.rest(
        "GET",
        "/guilds/{guild_id}/roles",
        action=f"list the roles of guild {guild_id}",
        what=f"guild {guild_id}",
        ids=ids,
    )
    counts: Mapping[str, Any] = {}
    if member_counts:
        try:
            counts = await port.rest(
                "GET",
                "/guilds/{guild_id}/roles/member-counts",
                action=f"count the role members of guild {guild_id}",
                what=f"guild {guild_id}",
                ids=ids,
            )
        except DiscordError:
            counts = {}
    roles = []
    for role in data:
        count = counts.get(str(role["id"]))
        roles.append(RoleInfo.from_payload(role, guild_id, None if count is None else int(count)))
    return sorted(roles, key=lambda r: (-r.position, r.id))


async def get_role(port: DiscordPort, guild_id: int, role_id: int) -> RoleInfo:
    """One role of a guild."""
    data = await port.rest(
        "GET",
        "/guilds/{guild_id}/roles/{role_id}",
        action=f"see role {role_id} of guild {guild_id}",
        what=f"role {role_id} of guild {guild_id}",
        ids={"guild_id": guild_id, "role_id": role_id},
    )
    return RoleInfo.from_payload(data, guild_id)


def _role_body(
    *,
    name: str | None,
    permissions: int | None,
    color: int | None,
    hoist: bool | None,
    mentionable: bool | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if permissions is not None:
        body["permissions"] = str(permissions)
    if color is not None:
        if not 0 <= color <= 0xFFFFFF:
            raise ValueError(f"color must be between 0 and 0xFFFFFF, not {color}")
        body["color"] = color
    if hoist is not None:
        body["hoist"] = hoist
    if mentionable is not None:
        body["mentionable"] = mentionable
    return body


async def create_role(
    port: DiscordPort,
    guild_id: int,
    *,
    name: str,
    permissions: int | None = None,
    color: int | None = None,
    hoist: bool | None = None,
    mentionable: bool | None = None,
    reason: str | None = None,
) -> RoleInfo:
    """Create a role (Discord places it just above @everyone)."""
    body = _role_body(
        name=name, permissions=permissions, color=color, hoist=hoist, mentionable=mentionable
    )
    data = await port.rest(
        "POST",
        "/guilds/{guild_id}/roles",
        action=f"create a role in guild {guild_id}",
        json=body,
        reason=reason,
        permission="manage_roles (and every permission it grants the role)",
        what=f"guild {guild_id}",
        ids={"guild_id": guild_id},
    )
    return RoleInfo.from_payload(data, guild_id)


async def update_role(
    port: DiscordPort,
    guild_id: int,
    role_id: int,
    *,
    name: str | None = None,
    permissions: int | None = None,
    color: int | None = None,
    hoist: bool | None = None,
    mentionable: bool | None = None,
    reason: str | None = None,
) -> RoleInfo:
    """Change a role: only what is given (``permissions`` replaces the whole set)."""
    body = _role_body(
        name=name, permissions=permissions, color=color, hoist=hoist, mentionable=mentionable
    )
    if not body:
        raise ValueError("give at least one of name, permissions, color, hoist, mentionable")
    data = await port.rest(
        "PATCH",
        "/guilds/{guild_id}/roles/{role_id}",
        action=f"change role {role_id} of guild {guild_id}",
        json=body,
        reason=reason,
        permission="manage_roles (a highest role above this one, and every permission granted)",
        what=f"role {role_id} of guild {guild_id}",
        ids={"guild_id": guild_id, "role_id": role_id},
    )
    return RoleInfo.from_payload(data, guild_id)


async def delete_role(
    port: DiscordPort, guild_id: int, role_id: int, *, reason: str | None = None
) -> None:
    """Delete a role; every member loses it."""
    await port.rest(
        "DELETE",
        "/guilds/{guild_id}/roles/{role_id}",
        action=f"delete role {role_id} of guild {guild_id}",
        reason=reason,
        permission="manage_roles (and a highest role above this one)",
        what=f"role {role_id} of guild {guild_id}",
        ids={"guild_id": guild_id, "role_id": role_id},
    )


async def add_member_role(
    port: DiscordPort, guild_id: int, user_id: int, role_id: int, *, reason: str | None = None
) -> None:
    """Give a member a role (already has it: nothing changes)."""
    await port.rest(
        "PUT",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        action=f"give role {role_id} to member {user_id} of guild {guild_id}",
        reason=reason,
        permission=_HIERARCHY,
        what=f"role {role_id} of guild {guild_id}",
        ids={"guild_id": guild_id, "user_id": user_id, "role_id": role_id},
    )


async def remove_member_role(
    port: DiscordPort, guild_id: int, user_id: int, role_id: int, *, reason: str | None = None
) -> None:
    """Take a role away from a member (does not have it: nothing changes)."""
    await port.rest(
        "DELETE",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        action=f"take role {role_id} from member {user_id} of guild {guild_id}",
        reason=reason,
        permission=_HIERARCHY,
        what=f"role {role_id} of guild {guild_id}",
        ids={"guild_id": guild_id, "user_id": user_id, "role_id": role_id},
    )


__all__ = [
    "RoleInfo",
    "add_member_role",
    "create_role",
    "delete_role",
    "get_role",
    "list_roles",
    "remove_member_role",
    "update_role",
]
