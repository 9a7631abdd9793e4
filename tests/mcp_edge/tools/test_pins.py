"""Pin, bulk-delete and reaction-list tools against the sandbox with the real discord.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge

from actors.event_hub import snowflake_at
from discord_io.ops.pins import snowflake_time, too_old
from discord_io.sandbox._access import permission_value
from discord_io.sandbox._model import Guild
from discord_io.sandbox._reaction_ops import Emoji, add_reaction
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy

pytestmark = [pytest.mark.anyio]


def _guild(edge: Edge) -> Guild:
    return next(iter(edge.sandbox.state.guilds.values()))


def _grant(edge: Edge, role: str, *permissions: str) -> None:
    target = next(r for r in _guild(edge).roles.values() if r.name == role)
    target.permissions |= permission_value(permissions)


def _reasons(edge: Edge) -> list[str | None]:
    return [entry.reason for entry in _guild(edge).audit_log]


def _alive(edge: Edge, channel: str) -> list[int]:
    return [m.id for m in edge.sandbox.delivered(int(channel)) if not m.deleted]


async def _posts(edge: Edge, channel: str, *texts: str) -> list[str]:
    alice = edge.user_id("alice")
    return [str(edge.sandbox.inject_message(int(channel), t, author_id=alice).id) for t in texts]


def test_too_old_uses_the_snowflake_time() -> None:
    """A message id from 15 days ago is too old to bulk-delete; one from an hour ago is not."""
    now = dt.datetime.now(dt.UTC)
    old = snowflake_at((now - dt.timedelta(days=15)).timestamp())
    fresh = snowflake_at((now - dt.timedelta(hours=1)).timestamp())
    assert abs(snowflake_time(fresh) - (now - dt.timedelta(hours=1))) < dt.timedelta(seconds=1)
    assert too_old([old, fresh], now=now) == [old]


async def test_pin_list_unpin(edge: Edge) -> None:
    """A granted bot pins two messages (twice changes nothing), lists them latest first with a
    cursor, and unpins one; the reason reaches the audit log."""
    _grant(edge, "agents", "pin_messages")
    general = edge.channel("general")
    first, second = await _posts(edge, general, "rules", "faq")
    pinned = await edge.ok(
        "pin_message", {"channel_id": general, "message_id": first, "reason": "important"}
    )
    assert pinned == {"channel_id": general, "message_id": first, "pinned": True}
    await edge.ok("pin_message", {"channel_id": general, "message_id": first})
    await edge.ok("pin_message", {"channel_id": general, "message_id": second})
    assert "important" in _reasons(edge)
    page = await edge.ok("list_pins", {"channel_id": general, "limit": 1})
    assert [p["message"]["id"] for p in page["pins"]] == [second]
    assert page["pins"][0]["message"]["content"] == "faq"
    assert page["pins"][0]["pinned_at"].endswith("Z")
    assert page["next_cursor"]
    rest = await edge.ok(
        "list_pins", {"channel_id": general, "limit": 1, "cursor": page["next_cursor"]}
    )
    assert [p["message"]["id"] for p in rest["pins"]] == [first]
    assert rest["next_cursor"] is None
    unpinned = await edge.ok("unpin_message", {"channel_id": general, "message_id": second})
    assert unpinned["pinned"] is False
    await edge.ok("unpin_message", {"channel_id": general, "message_id": second})
    left = await edge.ok("list_pins", {"channel_id": general})
    assert [p["message"]["id"] for p in left["pins"]] == [first]


async def test_pin_needs_discords_permission(edge: Edge) -> None:
    """sentinel has neither Pin Messages nor Manage Messages: Discord's 403 names pin_messages."""
    general = edge.channel("general")
    (message,) = await _posts(edge, general, "pin me")
    async with edge.as_agent("sentinel"):
        text = await edge.error("pin_message", {"channel_id": general, "message_id": message})
        unpin = await edge.error("unpin_message", {"channel_id": general, "message_id": message})
    assert "pin_messages" in text
    assert "pin_messages" in unpin


async def test_pin_in_archived_thread_says_reopen(edge: Edge) -> None:
    """Pinning in an archived thread is Discord's refusal, with the way out named."""
    _grant(edge, "agents", "pin_messages")
    thread = await edge.ok("create_thread", {"channel_id": edge.channel("bot-lab"), "name": "t"})
    sent = await edge.ok("send_message", {"channel_id": thread["id"], "content": "note"})
    await edge.ok("update_thread", {"thread_id": thread["id"], "archived": True})
    text = await edge.error(
        "pin_message", {"channel_id": thread["id"], "message_id": sent["message_id"]}
    )
    assert "update_thread" in text
    assert "archived=false" in text


async def test_pin_bad_arguments(edge: Edge) -> None:
    """An unknown message, a non-numeric id and a foreign cursor are refused, naming them."""
    general = edge.channel("general")
    unknown = await edge.error("pin_message", {"channel_id": general, "message_id": "42"})
    assert "not found" in unknown
    assert "read_messages" in unknown
    bad = await edge.error("pin_message", {"channel_id": general, "message_id": "x"})
    assert "message_id" in bad
    cursor = await edge.error("list_pins", {"channel_id": general, "cursor": "before:12"})
    assert "cursor" in cursor


async def test_bulk_delete(edge: Edge) -> None:
    """Three messages go in one request (duplicates dropped); the reason is audited."""
    lab = edge.channel("bot-lab")
    ids = await _posts(edge, lab, "spam 1", "spam 2", "spam 3")
    (keep,) = await _posts(edge, lab, "keep me")
    done = await edge.ok(
        "bulk_delete_messages",
        {"channel_id": lab, "message_ids": [*ids, ids[0]], "reason": "spam wave"},
    )
    assert done == {"channel_id": lab, "message_ids": ids, "count": 3}
    left = {str(m) for m in _alive(edge, lab)}
    assert keep in left
    assert not left & set(ids)
    assert "spam wave" in _reasons(edge)


async def test_bulk_delete_refuses_old_and_too_few(edge: Edge) -> None:
    """Ids older than 14 days are named and nothing is deleted; 1 id points to
    delete_message; more than 100 is refused by the schema."""
    lab = edge.channel("bot-lab")
    (fresh,) = await _posts(edge, lab, "fresh")
    old = str(snowflake_at((dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).timestamp()))
    text = await edge.error(
        "bulk_delete_messages", {"channel_id": lab, "message_ids": [fresh, old]}
    )
    assert old in text
    assert "14 days" in text
    assert "delete_message" in text
    assert fresh not in text
    assert int(fresh) in _alive(edge, lab)
    one = await edge.error(
        "bulk_delete_messages", {"channel_id": lab, "message_ids": [fresh, fresh]}
    )
    assert "delete_message" in one
    many = await edge.error(
        "bulk_delete_messages", {"channel_id": lab, "message_ids": [fresh] * 101}
    )
    assert "message_ids" in many


async def test_bulk_delete_needs_manage_messages(edge: Edge) -> None:
    """sentinel lacks Manage Messages: Discord's 403 names it and nothing is deleted."""
    lab = edge.channel("bot-lab")
    ids = await _posts(edge, lab, "a", "b")
    async with edge.as_agent("sentinel"):
        text = await edge.error("bulk_delete_messages", {"channel_id": lab, "message_ids": ids})
    assert "manage_messages" in text
    assert {int(i) for i in ids} <= set(_alive(edge, lab))


async def test_list_reactions_pages(edge: Edge) -> None:
    """Who reacted with 👍, by user id, paged with a cursor; another emoji gives nobody."""
    general = edge.channel("general")
    (message,) = await _posts(edge, general, "vote")
    state = edge.sandbox.state
    voters = sorted(edge.user_id(n) for n in ("alice", "bob", "carol"))
    for uid in voters:
        add_reaction(state, uid, int(general), int(message), Emoji("👍"))
    args = {"channel_id": general, "message_id": message, "emoji": "👍", "limit": 2}
    first = await edge.ok("list_reactions", args)
    assert [u["id"] for u in first["users"]] == [str(v) for v in voters[:2]]
    assert first["users"][0]["is_bot"] is False
    assert first["next_cursor"] == str(voters[1])
    rest = await edge.ok("list_reactions", {**args, "cursor": first["next_cursor"]})
    assert [u["id"] for u in rest["users"]] == [str(voters[2])]
    assert rest["next_cursor"] is None
    none = await edge.ok("list_reactions", {**args, "emoji": "🎉"})
    assert none["users"] == []


async def test_list_reactions_errors(edge: Edge) -> None:
    """A shortcode emoji and an unknown message are refused, naming what to fix; a channel the
    bot cannot see is Discord's own refusal."""
    general = edge.channel("general")
    (message,) = await _posts(edge, general, "hello")
    bad = await edge.error(
        "list_reactions", {"channel_id": general, "message_id": message, "emoji": ":thumbsup:"}
    )
    assert "emoji" in bad
    unknown = await edge.error(
        "list_reactions", {"channel_id": general, "message_id": "99", "emoji": "👍"}
    )
    assert "not found" in unknown
    staff = edge.channel("staff")
    secret = edge.sandbox.inject_message(int(staff), "psst", author_id=edge.user_id("alice"))
    async with edge.as_agent("sentinel"):
        hidden = await edge.error(
            "list_reactions", {"channel_id": staff, "message_id": str(secret.id), "emoji": "👍"}
        )
    assert "view_channel" in hidden or "not found" in hidden


async def test_policy_denials(tmp_path: Path) -> None:
    """chatter has neither pins nor bulk deletion (the error names the grant); list_reactions
    is a read, but not in a denied channel."""
    rules = ChannelAcl(ChannelRules(deny=("general",)))
    policy = Policy.of([AgentPolicy("scribe", profile="chatter", channels=rules)])
    async with running_edge(tmp_path, policy=policy) as edge:
        lab = edge.channel("bot-lab")
        ids = await _posts(edge, lab, "a", "b")
        for tool, args in (
            ("pin_message", {"channel_id": lab, "message_id": ids[0]}),
            ("unpin_message", {"channel_id": lab, "message_id": ids[0]}),
            ("bulk_delete_messages", {"channel_id": lab, "message_ids": ids}),
        ):
            text = await edge.error(tool, args)
            assert tool in text
            assert "grant" in text
        assert {int(i) for i in ids} <= set(_alive(edge, lab))
        listed = await edge.ok("list_pins", {"channel_id": lab})
        assert listed["pins"] == []
        general = edge.channel("general")
        (message,) = await _posts(edge, general, "vote")
        refused = await edge.error(
            "list_reactions", {"channel_id": general, "message_id": message, "emoji": "👍"}
        )
        assert "general" in refused
