"""Role tools against the sandbox with the real discord.py and a real MCP client.

The seed's roles, lowest first: @everyone, moderator, agents, then each bot's managed role.
The ``admin`` fixture gives ``agents`` Manage Roles, so scribe (agents + its own role at
position 3) may manage moderator, agents and roles it creates, but not the bots' roles above
it; sentinel (no roles) meets Discord's own 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge
from tests.mcp_edge.tools.test_channel_admin import grant, guild_of, last_reason, role_id

from discord_io.sandbox._permissions import Permission
from mcp_edge.policy import AgentPolicy, Policy
from mcp_edge.tools.roles import format_color, parse_color

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def admin(edge: Edge) -> Edge:
    """The edge, with scribe (agents role) allowed to manage roles."""
    grant(edge, "agents", Permission.MANAGE_ROLES)
    return edge


def test_colors() -> None:
    """#rrggbb and rrggbb parse; anything else is refused naming the field; 0 is no colour."""
    assert parse_color("#3498db") == 0x3498DB
    assert parse_color("3498DB") == 0x3498DB
    for bad in ("blue", "#fff", "#3498dbff", ""):
        with pytest.raises(ValueError, match="color must be"):
            parse_color(bad)
    assert format_color(0x3498DB) == "#3498db"
    assert format_color(0) is None


async def test_list_roles(edge: Edge) -> None:
    """Roles come highest first, permissions by name, colours as #rrggbb, members counted."""
    guild = guild_of(edge)
    listed = await edge.ok("list_roles", {"guild_id": str(guild.id)})
    roles = {r["name"]: r for r in listed["roles"]}
    positions = [r["position"] for r in listed["roles"]]
    assert positions == sorted(positions, reverse=True)
    assert listed["roles"][-1]["is_everyone"] is True
    assert listed["roles"][-1]["id"] == str(guild.id)
    moderator = roles["moderator"]
    assert moderator["permissions"] == ["kick_members", "manage_messages", "manage_threads"]
    assert moderator["color"] == "#3498db"
    assert (moderator["hoist"], moderator["mentionable"]) == (True, True)
    assert moderator["member_count"] == 1
    assert roles["agents"]["member_count"] == 2
    assert roles["scribe"]["managed"] is True
    assert roles["scribe"]["bot_id"] == str(edge.user_id("scribe"))
    assert "view_channel" in roles["@everyone"]["permissions"]


async def test_create_update_delete_role(admin: Edge) -> None:
    """A role is created with named permissions, changed piecemeal, and deleted."""
    guild_id = str(guild_of(admin).id)
    made = await admin.ok(
        "create_role",
        {
            "guild_id": guild_id,
            "name": "helpers",
            "permissions": ["send_messages", "Manage Messages"],
            "color": "#1abc9c",
            "mentionable": True,
            "reason": "new helpers",
        },
    )
    assert made["permissions"] == ["send_messages", "manage_messages"]
    assert made["color"] == "#1abc9c"
    assert made["mentionable"] is True
    assert last_reason(admin) == "new helpers"
    rid = made["id"]
    state = guild_of(admin).roles[int(rid)]
    assert state.permissions == int(Permission.SEND_MESSAGES | Permission.MANAGE_MESSAGES)

    changed = await admin.ok(
        "update_role",
        {
            "guild_id": guild_id,
            "role_id": rid,
            "name": "helpers-2",
            "add_permissions": ["add_reactions"],
            "remove_permissions": ["manage_messages"],
            "reason": "tidy",
        },
    )
    assert changed["name"] == "helpers-2"
    assert changed["permissions"] == ["add_reactions", "send_messages"]
    assert last_reason(admin) == "tidy"
    replaced = await admin.ok(
        "update_role", {"guild_id": guild_id, "role_id": rid, "permissions": [], "color": "#000000"}
    )
    assert replaced["permissions"] == []
    assert replaced["color"] is None

    deleted = await admin.ok(
        "delete_role", {"guild_id": guild_id, "role_id": rid, "reason": "done"}
    )
    assert deleted == {"deleted": True, "guild_id": guild_id, "role_id": rid}
    assert int(rid) not in guild_of(admin).roles
    assert last_reason(admin) == "done"
    text = await admin.error("delete_role", {"guild_id": guild_id, "role_id": rid})
    assert f"role {rid}" in text
    assert "not found" in text


async def test_add_and_remove_a_member_role(admin: Edge) -> None:
    """bob gets the moderator role (again: no change) and loses it, with reasons logged."""
    guild = guild_of(admin)
    bob = admin.user_id("bob")
    moderator = str(role_id(admin, "moderator"))
    args = {"guild_id": str(guild.id), "user_id": str(bob), "role_id": moderator}
    given = await admin.ok("add_role", {**args, "reason": "trusted"})
    assert given["has_role"] is True
    assert int(moderator) in guild.members[bob].roles
    assert last_reason(admin) == "trusted"
    await admin.ok("add_role", args)
    assert guild.members[bob].roles.count(int(moderator)) == 1
    taken = await admin.ok("remove_role", {**args, "reason": "rotation"})
    assert taken["has_role"] is False
    assert int(moderator) not in guild.members[bob].roles
    assert last_reason(admin) == "rotation"
    again = await admin.ok("remove_role", args)
    assert again["has_role"] is False


async def test_discord_refuses_without_manage_roles(admin: Edge) -> None:
    """sentinel lacks Manage Roles: each write's 403 names manage_roles; nothing changes."""
    guild = guild_of(admin)
    moderator = str(role_id(admin, "moderator"))
    bob = str(admin.user_id("bob"))
    async with admin.as_agent("sentinel"):
        for tool, args in (
            ("create_role", {"guild_id": str(guild.id), "name": "nope"}),
            ("update_role", {"guild_id": str(guild.id), "role_id": moderator, "name": "x"}),
            ("delete_role", {"guild_id": str(guild.id), "role_id": moderator}),
            ("add_role", {"guild_id": str(guild.id), "user_id": bob, "role_id": moderator}),
            ("remove_role", {"guild_id": str(guild.id), "user_id": bob, "role_id": moderator}),
        ):
            text = await admin.error(tool, args)
            assert "manage_roles" in text, tool
    assert guild.roles[int(moderator)].name == "moderator"
    assert guild.members[int(bob)].roles == []


async def test_discord_enforces_hierarchy_and_held_permissions(admin: Edge) -> None:
    """Even with Manage Roles, scribe cannot give a managed role above it, nor grant a
    permission it lacks."""
    guild_id = str(guild_of(admin).id)
    courier_role = str(role_id(admin, "courier"))
    text = await admin.error(
        "add_role",
        {"guild_id": guild_id, "user_id": str(admin.user_id("bob")), "role_id": courier_role},
    )
    assert "forbidden" in text
    assert "highest role above" in text
    text = await admin.error(
        "create_role", {"guild_id": guild_id, "name": "bouncers", "permissions": ["ban_members"]}
    )
    assert "every permission it grants" in text


async def test_bad_arguments_name_the_field(admin: Edge) -> None:
    """Bad colours, permission names, empty updates and @everyone are refused before Discord."""
    guild_id = str(guild_of(admin).id)
    moderator = str(role_id(admin, "moderator"))
    text = await admin.error("create_role", {"guild_id": guild_id, "name": "x", "color": "blue"})
    assert "color must be" in text
    text = await admin.error(
        "create_role", {"guild_id": guild_id, "name": "x", "permissions": ["kick_member"]}
    )
    assert "permissions" in text
    assert "kick_members" in text
    text = await admin.error("update_role", {"guild_id": guild_id, "role_id": moderator})
    assert "give at least one" in text
    text = await admin.error(
        "update_role",
        {
            "guild_id": guild_id,
            "role_id": moderator,
            "permissions": ["speak"],
            "add_permissions": ["speak"],
        },
    )
    assert "not both" in text
    text = await admin.error(
        "add_role",
        {"guild_id": guild_id, "user_id": str(admin.user_id("bob")), "role_id": guild_id},
    )
    assert "@everyone" in text
    text = await admin.error("delete_role", {"guild_id": guild_id, "role_id": guild_id})
    assert "@everyone" in text
    text = await admin.error("list_roles", {"guild_id": "Sandbox Guild"})
    assert "guild_id" in text
    assert all(r.name != "x" for r in guild_of(admin).roles.values())


async def test_unknown_ids_are_named(admin: Edge) -> None:
    """An unknown role or member is named in the error, with where to find real ids."""
    guild_id = str(guild_of(admin).id)
    moderator = str(role_id(admin, "moderator"))
    text = await admin.error(
        "add_role",
        {"guild_id": guild_id, "user_id": str(admin.user_id("bob")), "role_id": "12345"},
    )
    assert "role 12345" in text
    assert "list_roles" in text
    text = await admin.error(
        "add_role", {"guild_id": guild_id, "user_id": "12345", "role_id": moderator}
    )
    assert "member 12345" in text


@pytest.fixture
async def policed(tmp_path: Path) -> AsyncIterator[Edge]:
    """An edge whose policy makes herald a chatter (reads roles, cannot change them)."""
    policy = Policy.of([AgentPolicy(agent="herald", profile="chatter")])
    async with running_edge(tmp_path, policy=policy) as e:
        grant(e, "agents", Permission.MANAGE_ROLES)
        yield e


async def test_policy_denies_role_changes_to_a_chatter(policed: Edge) -> None:
    """A chatter may list roles, but add_role is hidden and refused, naming the grant."""
    guild = guild_of(policed)
    moderator = str(role_id(policed, "moderator"))
    bob = str(policed.user_id("bob"))
    async with policed.as_agent("herald"):
        listed = {t.name for t in (await policed.client.list_tools()).tools}
        assert "list_roles" in listed
        assert "add_role" not in listed
        await policed.ok("list_roles", {"guild_id": str(guild.id)})
        text = await policed.error(
            "add_role", {"guild_id": str(guild.id), "user_id": bob, "role_id": moderator}
        )
        assert "add_role" in text
        assert "not granted" in text
    assert guild.members[int(bob)].roles == []
