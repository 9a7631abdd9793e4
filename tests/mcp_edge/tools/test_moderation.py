"""Moderation tools against the sandbox with the real discord.py and a real MCP client.

The default seed gives no bot a moderation permission, so each test grants scribe's managed
role what it needs (through the sandbox state, which Discord checks on every request);
sentinel keeps none, for Discord's own 403.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.mcp_edge.tools.conftest import Edge

from discord_io.sandbox import Guild
from discord_io.sandbox._access import PERMISSION_BITS
from discord_io.sandbox._model import AuditLogEntry, Ban
from mcp_edge.policy import AgentPolicy, Policy

pytestmark = [pytest.mark.anyio]

MEMBER_KICK, MEMBER_BAN_ADD, MEMBER_BAN_REMOVE, MEMBER_UPDATE = 20, 22, 23, 24


def _guild(edge: Edge) -> Guild:
    (guild,) = edge.sandbox.state.guilds.values()
    return guild


def _grant(edge: Edge, bot: str, *permissions: str) -> None:
    """Give ``bot``'s managed role these guild-wide permissions."""
    bot_id = edge.user_id(bot)
    bits = 0
    for name in permissions:
        bits |= PERMISSION_BITS[name]
    for role in _guild(edge).roles.values():
        if role.bot_id == bot_id:
            role.permissions |= bits


def _last_audit(edge: Edge) -> AuditLogEntry:
    return _guild(edge).audit_log[-1]


def _args(edge: Edge, user: str, **extra: object) -> dict[str, object]:
    return {"guild_id": str(_guild(edge).id), "user_id": str(edge.user_id(user)), **extra}


async def test_timeout_for_minutes_then_clear(edge: Edge) -> None:
    """minutes times bob out with the reason in the audit log; clear lifts it."""
    _grant(edge, "scribe", "moderate_members")
    bob = edge.user_id("bob")
    before = dt.datetime.now(dt.UTC)
    out = await edge.ok("timeout_member", _args(edge, "bob", minutes=10, reason="spam"))
    until = _guild(edge).members[bob].communication_disabled_until
    assert until is not None
    assert dt.timedelta(minutes=9) < until - before < dt.timedelta(minutes=11)
    assert out["timed_out_until"] is not None
    assert out["member"]["user_id"] == str(bob)
    entry = _last_audit(edge)
    assert (entry.action_type, entry.target_id, entry.reason) == (MEMBER_UPDATE, bob, "spam")
    cleared = await edge.ok("timeout_member", _args(edge, "bob", clear=True, reason="ok now"))
    assert cleared["timed_out_until"] is None
    assert _guild(edge).members[bob].communication_disabled_until is None
    assert _last_audit(edge).reason == "ok now"


async def test_timeout_until_and_minutes_zero(edge: Edge) -> None:
    """until sets that exact end; minutes=0 lifts the timeout too."""
    _grant(edge, "scribe", "moderate_members")
    carol = edge.user_id("carol")
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0)
    out = await edge.ok("timeout_member", _args(edge, "carol", until=end.isoformat()))
    assert _guild(edge).members[carol].communication_disabled_until == end
    assert out["timed_out_until"] == end.isoformat().replace("+00:00", "Z")
    await edge.ok("timeout_member", _args(edge, "carol", minutes=0))
    assert _guild(edge).members[carol].communication_disabled_until is None


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({}, "minutes"),
        ({"minutes": 5, "clear": True}, "exactly one"),
        ({"until": "2001-01-01T00:00:00Z"}, "until"),
        ({"until": "2999-01-01T00:00:00Z"}, "28 days"),
        ({"minutes": 40321}, "minutes"),
    ],
)
async def test_timeout_bad_arguments_name_the_field(
    edge: Edge, extra: dict[str, object], names: str
) -> None:
    """Missing, conflicting or out-of-range timeout arguments are refused, naming the field."""
    _grant(edge, "scribe", "moderate_members")
    text = await edge.error("timeout_member", _args(edge, "bob", **extra))
    assert names in text
    assert _guild(edge).members[edge.user_id("bob")].communication_disabled_until is None


async def test_timeout_without_permission_is_discords_403(edge: Edge) -> None:
    """sentinel lacks moderate_members: Discord refuses and the error names it."""
    async with edge.as_agent("sentinel"):
        text = await edge.error("timeout_member", _args(edge, "bob", minutes=5))
    assert "moderate_members" in text
    assert "role" in text


async def test_kick_with_reason(edge: Edge) -> None:
    """scribe kicks carol: she leaves the guild, the audit log has the reason."""
    _grant(edge, "scribe", "kick_members")
    carol = edge.user_id("carol")
    out = await edge.ok("kick_member", _args(edge, "carol", reason="rule 3"))
    assert out == {
        "guild_id": str(_guild(edge).id),
        "user_id": str(carol),
        "action": "kicked",
        "reason": "rule 3",
    }
    assert carol not in _guild(edge).members
    entry = _last_audit(edge)
    assert (entry.action_type, entry.target_id, entry.reason) == (MEMBER_KICK, carol, "rule 3")
    again = await edge.error("kick_member", _args(edge, "carol"))
    assert "not found" in again
    assert "left" in again


async def test_kick_needs_permission_and_hierarchy(edge: Edge) -> None:
    """Without kick_members Discord refuses; with it, the owner still cannot be kicked."""
    async with edge.as_agent("sentinel"):
        text = await edge.error("kick_member", _args(edge, "bob"))
    assert "kick_members" in text
    assert edge.user_id("bob") in _guild(edge).members
    _grant(edge, "scribe", "kick_members")
    text = await edge.error("kick_member", _args(edge, "alice"))
    assert "owns the guild" in text
    assert edge.user_id("alice") in _guild(edge).members


async def test_ban_list_unban(edge: Edge) -> None:
    """ban records the ban with its reason; list_bans shows it; unban lifts it."""
    _grant(edge, "scribe", "ban_members")
    bob = edge.user_id("bob")
    out = await edge.ok(
        "ban_member", _args(edge, "bob", delete_message_seconds=3600, reason="raid")
    )
    assert out["action"] == "banned"
    assert _guild(edge).bans[bob] == Ban(user_id=bob, reason="raid")
    assert bob not in _guild(edge).members
    assert (_last_audit(edge).action_type, _last_audit(edge).reason) == (MEMBER_BAN_ADD, "raid")
    listed = await edge.ok("list_bans", {"guild_id": str(_guild(edge).id)})
    assert listed["bans"] == [
        {"user_id": str(bob), "username": "bob", "is_bot": False, "reason": "raid"}
    ]
    assert listed["next_cursor"] is None
    unbanned = await edge.ok("unban_member", _args(edge, "bob", reason="appeal"))
    assert unbanned["action"] == "unbanned"
    assert bob not in _guild(edge).bans
    assert (_last_audit(edge).action_type, _last_audit(edge).reason) == (
        MEMBER_BAN_REMOVE,
        "appeal",
    )
    text = await edge.error("unban_member", _args(edge, "bob"))
    assert "list_bans" in text


async def test_list_bans_pages(edge: Edge) -> None:
    """Two bans, one per page: next_cursor leads to the second, then null."""
    _grant(edge, "scribe", "ban_members")
    for user in ("bob", "carol"):
        await edge.ok("ban_member", _args(edge, user))
    guild_id = str(_guild(edge).id)
    first = await edge.ok("list_bans", {"guild_id": guild_id, "limit": 1})
    assert len(first["bans"]) == 1
    assert first["next_cursor"] == first["bans"][0]["user_id"]
    second = await edge.ok(
        "list_bans", {"guild_id": guild_id, "limit": 1, "after": first["next_cursor"]}
    )
    assert len(second["bans"]) == 1
    assert second["bans"][0]["user_id"] != first["bans"][0]["user_id"]
    last = await edge.ok("list_bans", {"guild_id": guild_id, "after": second["next_cursor"]})
    assert last == {"guild_id": guild_id, "bans": [], "next_cursor": None}


async def test_ban_tools_without_permission(edge: Edge) -> None:
    """sentinel lacks ban_members: ban, unban and list_bans are Discord's 403, named."""
    async with edge.as_agent("sentinel"):
        for tool, args in (
            ("ban_member", _args(edge, "bob")),
            ("unban_member", _args(edge, "bob")),
            ("list_bans", {"guild_id": str(_guild(edge).id)}),
        ):
            text = await edge.error(tool, args)
            assert "ban_members" in text, tool
    assert not _guild(edge).bans


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("ban_member", {"delete_message_seconds": 604801}, "delete_message_seconds"),
        ("ban_member", {"delete_message_seconds": -1}, "delete_message_seconds"),
        ("kick_member", {"user_id": "bob"}, "user_id"),
        ("kick_member", {"guild_id": "12x"}, "guild_id"),
        ("kick_member", {"reason": "x" * 513}, "reason"),
        ("list_bans", {"limit": 0}, "limit"),
    ],
)
async def test_bad_arguments_name_the_field(
    edge: Edge, tool: str, args: dict[str, object], field: str
) -> None:
    """Out-of-range or malformed arguments are refused before Discord, naming the field."""
    base = _args(edge, "bob")
    if tool == "list_bans":
        del base["user_id"]
    text = await edge.error(tool, {**base, **args})
    assert field in text
    assert edge.user_id("bob") in _guild(edge).members


async def test_policy_denies_moderation_to_a_chatter(edge: Edge) -> None:
    """A chatter has no moderation tools: each call names the missing grant; nothing changes."""
    _grant(edge, "scribe", "kick_members", "ban_members", "moderate_members")
    edge.runtime.policy = Policy.of([AgentPolicy("scribe", profile="chatter")])
    guild_id = str(_guild(edge).id)
    for tool, args in (
        ("timeout_member", _args(edge, "bob", minutes=5)),
        ("kick_member", _args(edge, "bob")),
        ("ban_member", _args(edge, "bob")),
        ("unban_member", _args(edge, "bob")),
        ("list_bans", {"guild_id": guild_id}),
    ):
        text = await edge.error(tool, args)
        assert f"tool {tool} is not granted to agent scribe" in text, tool
        assert "moderator" in text, tool
    assert edge.user_id("bob") in _guild(edge).members
    assert not _guild(edge).bans
    listed = await edge.client.list_tools()
    names = {t.name for t in listed.tools}
    assert not names & {"timeout_member", "kick_member", "ban_member", "unban_member"}
