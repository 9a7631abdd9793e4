"""Channel administration tools against the sandbox with the real discord.py and MCP client.

scribe and herald have the seed's ``agents`` role; the ``admin`` fixture gives that role
Manage Channels and Manage Roles (in the sandbox's state, which it consults on every request),
so scribe administers and sentinel (no roles) meets Discord's own 403s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge

from discord_io.sandbox._model import ChannelType, Guild
from discord_io.sandbox._permissions import Permission
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy

pytestmark = [pytest.mark.anyio]


def guild_of(edge: Edge) -> Guild:
    return next(iter(edge.sandbox.state.guilds.values()))


def role_id(edge: Edge, name: str) -> int:
    return next(r.id for r in guild_of(edge).roles.values() if r.name == name)


def grant(edge: Edge, role: str, permissions: Permission) -> None:
    """Give a seeded role more permissions, directly in the sandbox's state."""
    guild_of(edge).roles[role_id(edge, role)].permissions |= int(permissions)


def last_reason(edge: Edge) -> str | None:
    return guild_of(edge).audit_log[-1].reason


@pytest.fixture
def admin(edge: Edge) -> Edge:
    """The edge, with scribe (agents role) allowed to manage channels and roles."""
    grant(edge, "agents", Permission.MANAGE_CHANNELS | Permission.MANAGE_ROLES)
    return edge


async def test_create_private_text_channel(admin: Edge) -> None:
    """A text channel in a category, with topic, slowmode, overwrites and an audit reason."""
    guild = guild_of(admin)
    category = admin.channel("Text Channels")
    agents = str(role_id(admin, "agents"))
    made = await admin.ok(
        "create_channel",
        {
            "guild_id": str(guild.id),
            "name": "Ops Room",
            "topic": "Agents only.",
            "slowmode": 30,
            "parent_id": category,
            "nsfw": False,
            "permission_overwrites": [
                {"id": str(guild.id), "type": "role", "deny": ["view_channel"]},
                {"id": agents, "type": "role", "allow": ["view_channel", "send_messages"]},
            ],
            "reason": "a room for the agents",
        },
    )
    assert made["type"] == "text"
    assert made["name"] == "ops-room"
    assert made["parent_id"] == category
    assert made["topic"] == "Agents only."
    assert made["slowmode"] == 30
    overwrites = {o["id"]: o for o in made["permission_overwrites"]}
    assert overwrites[str(guild.id)]["deny"] == ["view_channel"]
    assert overwrites[agents]["allow"] == ["view_channel", "send_messages"]
    channel = admin.sandbox.state.channels[int(made["id"])]
    assert channel.rate_limit_per_user == 30
    assert channel.parent_id == int(category)
    assert last_reason(admin) == "a room for the agents"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("voice", ChannelType.GUILD_VOICE),
        ("category", ChannelType.GUILD_CATEGORY),
        ("forum", ChannelType.GUILD_FORUM),
        ("announcement", ChannelType.GUILD_ANNOUNCEMENT),
    ],
)
async def test_create_each_type(admin: Edge, kind: str, expected: ChannelType) -> None:
    """Each named type reaches Discord as its channel type and comes back by name."""
    made = await admin.ok(
        "create_channel", {"guild_id": str(guild_of(admin).id), "name": f"new {kind}", "type": kind}
    )
    assert made["type"] == kind
    assert admin.sandbox.state.channels[int(made["id"])].type == expected


async def test_update_channel_changes_only_what_is_given(admin: Edge) -> None:
    """Rename and slow a channel, then take it out of its category; the topic stays."""
    channel = admin.channel("bot-lab")
    updated = await admin.ok(
        "update_channel",
        {"channel_id": channel, "name": "Agent Lab", "slowmode": 10, "reason": "renamed"},
    )
    assert updated["name"] == "agent-lab"
    assert updated["slowmode"] == 10
    assert updated["topic"] == "Where agents try things."
    assert last_reason(admin) == "renamed"
    moved = await admin.ok("update_channel", {"channel_id": channel, "parent_id": "none"})
    assert moved["parent_id"] is None
    cleared = await admin.ok("update_channel", {"channel_id": channel, "topic": ""})
    assert cleared["topic"] is None
    state = admin.sandbox.state.channels[int(channel)]
    assert (state.name, state.parent_id, state.rate_limit_per_user) == ("agent-lab", None, 10)


async def test_update_channel_replaces_overwrites(admin: Edge) -> None:
    """permission_overwrites replaces them all; [] clears them."""
    staff = admin.channel("staff")
    guild_id = str(guild_of(admin).id)
    replaced = await admin.ok(
        "update_channel",
        {
            "channel_id": staff,
            "permission_overwrites": [
                {"id": guild_id, "type": "role", "deny": ["send_messages"]},
            ],
        },
    )
    assert replaced["permission_overwrites"] == [
        {"id": guild_id, "type": "role", "allow": [], "deny": ["send_messages"]}
    ]
    cleared = await admin.ok("update_channel", {"channel_id": staff, "permission_overwrites": []})
    assert cleared["permission_overwrites"] == []


async def test_delete_channel(admin: Edge) -> None:
    """The channel goes, with the reason in the audit log; deleting again says not found."""
    channel = admin.channel("bot-lab")
    deleted = await admin.ok("delete_channel", {"channel_id": channel, "reason": "cleanup"})
    assert deleted["deleted"] is True
    assert deleted["channel"]["name"] == "bot-lab"
    assert int(channel) not in admin.sandbox.state.channels
    assert last_reason(admin) == "cleanup"
    text = await admin.error("delete_channel", {"channel_id": channel})
    assert "not found" in text
    assert "already be deleted" in text


async def test_set_channel_permissions_then_remove(admin: Edge) -> None:
    """One member's overwrite is set, replaced, and removed; the answer lists them all."""
    channel = admin.channel("general")
    bob = str(admin.user_id("bob"))
    args: dict[str, Any] = {
        "channel_id": channel,
        "target_id": bob,
        "target_type": "member",
        "deny": ["send_messages", "add_reactions"],
        "reason": "cool down",
    }
    first = await admin.ok("set_channel_permissions", args)
    assert first["deny"] == ["add_reactions", "send_messages"]
    assert first["permission_overwrites"] == [
        {"id": bob, "type": "member", "allow": [], "deny": ["add_reactions", "send_messages"]}
    ]
    assert last_reason(admin) == "cool down"
    second = await admin.ok("set_channel_permissions", {**args, "deny": ["Add Reactions"]})
    assert second["permission_overwrites"][0]["deny"] == ["add_reactions"]
    removed = await admin.ok(
        "set_channel_permissions",
        {"channel_id": channel, "target_id": bob, "target_type": "member", "remove": True},
    )
    assert removed["removed"] is True
    assert removed["permission_overwrites"] == []
    assert admin.sandbox.state.channels[int(channel)].permission_overwrites == []


async def test_permission_names_are_checked_before_discord(admin: Edge) -> None:
    """A misspelt permission names the field and the close match; nothing reaches Discord."""
    channel = admin.channel("general")
    bob = str(admin.user_id("bob"))
    base = {"channel_id": channel, "target_id": bob, "target_type": "member"}
    text = await admin.error("set_channel_permissions", {**base, "allow": ["send_mesages"]})
    assert "allow" in text
    assert "send_messages" in text
    text = await admin.error(
        "set_channel_permissions", {**base, "allow": ["speak"], "deny": ["speak"]}
    )
    assert "both allowed and denied" in text
    text = await admin.error("set_channel_permissions", {**base, "remove": True, "deny": ["speak"]})
    assert "remove" in text
    text = await admin.error(
        "create_channel",
        {
            "guild_id": str(guild_of(admin).id),
            "name": "x",
            "permission_overwrites": [{"id": bob, "type": "member", "deny": ["fly"]}],
        },
    )
    assert "permission_overwrites[0].deny" in text
    assert admin.sandbox.state.channels[int(channel)].permission_overwrites == []


async def test_bad_arguments_name_the_field(admin: Edge) -> None:
    """Schema and tool checks name the field: a bad type, a slowmode too long, nothing to do."""
    guild_id = str(guild_of(admin).id)
    text = await admin.error("create_channel", {"guild_id": guild_id, "name": "x", "type": "dm"})
    assert "type" in text
    text = await admin.error(
        "create_channel", {"guild_id": guild_id, "name": "x", "slowmode": 99999}
    )
    assert "slowmode" in text
    text = await admin.error("update_channel", {"channel_id": admin.channel("general")})
    assert "give at least one" in text
    text = await admin.error("delete_channel", {"channel_id": "general"})
    assert "channel_id" in text


async def test_discord_refuses_a_bot_without_the_permission(admin: Edge) -> None:
    """sentinel lacks Manage Channels and Manage Roles: Discord's 403s name them."""
    guild_id = str(guild_of(admin).id)
    async with admin.as_agent("sentinel"):
        text = await admin.error("create_channel", {"guild_id": guild_id, "name": "nope"})
        assert "manage_channels" in text
        text = await admin.error(
            "update_channel", {"channel_id": admin.channel("general"), "name": "nope"}
        )
        assert "manage_channels" in text
        text = await admin.error("delete_channel", {"channel_id": admin.channel("general")})
        assert "manage_channels" in text
        text = await admin.error(
            "set_channel_permissions",
            {
                "channel_id": admin.channel("general"),
                "target_id": guild_id,
                "target_type": "role",
                "deny": ["view_channel"],
            },
        )
        assert "manage_roles" in text
    assert admin.sandbox.state.channels[int(admin.channel("general"))].name == "general"


async def test_overwrites_need_manage_roles_and_held_permissions(edge: Edge) -> None:
    """With Manage Channels alone: creating with overwrites of held permissions works, one
    granting what the bot lacks is refused, and changing overwrites later names manage_roles."""
    grant(edge, "agents", Permission.MANAGE_CHANNELS)
    guild_id = str(guild_of(edge).id)
    private = [{"id": guild_id, "type": "role", "deny": ["view_channel"]}]
    made = await edge.ok(
        "create_channel",
        {"guild_id": guild_id, "name": "private", "permission_overwrites": private},
    )
    assert made["permission_overwrites"][0]["deny"] == ["view_channel"]
    text = await edge.error(
        "create_channel",
        {
            "guild_id": guild_id,
            "name": "bans",
            "permission_overwrites": [{"id": guild_id, "type": "role", "allow": ["ban_members"]}],
        },
    )
    assert "permission_overwrites allow or deny" in text
    text = await edge.error(
        "update_channel", {"channel_id": edge.channel("general"), "permission_overwrites": []}
    )
    assert "manage_roles" in text


@pytest.fixture
async def policed(tmp_path: Path) -> AsyncIterator[Edge]:
    """An edge whose policy makes scribe an admin kept out of #staff, and herald a chatter."""
    policy = Policy.of(
        [
            AgentPolicy(
                agent="scribe",
                profile="admin",
                channels=ChannelAcl(rules=ChannelRules(deny=("staff",))),
            ),
            AgentPolicy(agent="herald", profile="chatter"),
        ]
    )
    async with running_edge(tmp_path, policy=policy) as e:
        grant(e, "agents", Permission.MANAGE_CHANNELS | Permission.MANAGE_ROLES)
        yield e


async def test_policy_denies_tool_and_channel(policed: Edge) -> None:
    """A chatter is not granted channel admin (hidden and refused); a denied channel is refused."""
    guild_id = str(guild_of(policed).id)
    async with policed.as_agent("herald"):
        listed = {t.name for t in (await policed.client.list_tools()).tools}
        assert "create_channel" not in listed
        text = await policed.error("create_channel", {"guild_id": guild_id, "name": "x"})
        assert "create_channel" in text
        assert "not granted" in text
    text = await policed.error(
        "update_channel", {"channel_id": policed.channel("staff"), "name": "x"}
    )
    assert "staff" in text
    assert policed.sandbox.state.channels[int(policed.channel("staff"))].name == "staff"
    made = await policed.ok("create_channel", {"guild_id": guild_id, "name": "allowed"})
    assert made["name"] == "allowed"
