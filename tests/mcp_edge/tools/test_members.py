"""Member tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import pytest
from tests.mcp_edge.tools.conftest import Edge

pytestmark = [pytest.mark.anyio]

SEEDED = {"alice", "bob", "carol", "scribe", "herald", "sentinel", "courier"}


async def _guild_id(edge: Edge) -> str:
    listed = await edge.ok("list_guilds")
    return str(listed["guilds"][0]["id"])


async def test_list_members(edge: Edge) -> None:
    """scribe (members intent) lists every seeded member with string ids and roles."""
    gid = await _guild_id(edge)
    page = await edge.ok("list_members", {"guild_id": gid})
    assert {m["username"] for m in page["members"]} == SEEDED
    assert page["next_cursor"] is None
    carol = next(m for m in page["members"] if m["username"] == "carol")
    assert carol["nick"] == "caz"
    assert carol["user_id"] == str(edge.user_id("carol"))
    alice = next(m for m in page["members"] if m["username"] == "alice")
    assert alice["role_ids"]
    assert all(r.isdigit() for r in alice["role_ids"])


async def test_paging_has_no_repeats_or_gaps(edge: Edge) -> None:
    """Pages of 3 passed along with next_cursor cover every member exactly once."""
    gid = await _guild_id(edge)
    seen: list[str] = []
    after: str | None = None
    for _ in range(10):
        args = {"guild_id": gid, "limit": 3} | ({} if after is None else {"after": after})
        page = await edge.ok("list_members", args)
        seen.extend(m["username"] for m in page["members"])
        after = page["next_cursor"]
        if after is None:
            break
    assert sorted(seen) == sorted(SEEDED)


async def test_members_intent_missing_is_explained(edge: Edge) -> None:
    """sentinel lacks the members intent: the error names it and offers get_member."""
    gid = await _guild_id(edge)
    async with edge.as_agent("sentinel"):
        text = await edge.error("list_members", {"guild_id": gid})
    assert "guild_members intent" in text
    assert "get_member" in text


async def test_get_member_needs_no_intent(edge: Edge) -> None:
    """sentinel can still get one member by id."""
    gid = await _guild_id(edge)
    async with edge.as_agent("sentinel"):
        member = await edge.ok(
            "get_member", {"guild_id": gid, "user_id": str(edge.user_id("carol"))}
        )
    assert member["username"] == "carol"
    assert member["display_name"] == "caz"
    assert member["guild_id"] == gid


async def test_unknown_member_is_named(edge: Edge) -> None:
    """A user who is not in the guild is named in the error."""
    gid = await _guild_id(edge)
    text = await edge.error("get_member", {"guild_id": gid, "user_id": "77"})
    assert "member 77" in text
    assert "not found" in text


async def test_bad_arguments_name_the_field(edge: Edge) -> None:
    """An out-of-range limit and a non-numeric user id each name their field."""
    gid = await _guild_id(edge)
    assert "limit" in await edge.error("list_members", {"guild_id": gid, "limit": 0})
    assert "user_id" in await edge.error("get_member", {"guild_id": gid, "user_id": "@alice"})
