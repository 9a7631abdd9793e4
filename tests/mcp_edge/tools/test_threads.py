"""Thread and forum tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge

from discord_io.sandbox._access import permission_value
from discord_io.sandbox._model import Guild
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy

pytestmark = [pytest.mark.anyio]


def _guild(edge: Edge) -> Guild:
    return next(iter(edge.sandbox.state.guilds.values()))


def _grant(edge: Edge, role: str, *permissions: str) -> None:
    """Give a role of the seeded guild more permissions (@everyone included)."""
    guild = _guild(edge)
    target = next(r for r in guild.roles.values() if r.name == role)
    target.permissions |= permission_value(permissions)


def _revoke(edge: Edge, role: str, *permissions: str) -> None:
    guild = _guild(edge)
    target = next(r for r in guild.roles.values() if r.name == role)
    target.permissions &= ~permission_value(permissions)


def _reasons(edge: Edge) -> list[str | None]:
    return [entry.reason for entry in _guild(edge).audit_log]


def _welcome(edge: Edge) -> tuple[str, str]:
    general = edge.channel("general")
    return general, str(edge.sandbox.delivered(int(general))[0].id)


async def test_create_thread_on_a_message(edge: Edge) -> None:
    """A thread on the welcome message is public, belongs to general and reaches Discord."""
    general, message = _welcome(edge)
    thread = await edge.ok(
        "create_thread",
        {
            "channel_id": general,
            "message_id": message,
            "name": "welcome chat",
            "auto_archive_duration": 60,
            "reason": "discuss the welcome",
        },
    )
    assert thread["id"] == message
    assert thread["type"] == "public_thread"
    assert thread["parent_id"] == general
    assert thread["owner_id"] == str(edge.user_id("scribe"))
    assert thread["auto_archive_duration"] == 60
    assert thread["archived"] is False
    assert edge.sandbox.state.channels[int(thread["id"])].name == "welcome chat"
    assert "discuss the welcome" in _reasons(edge)
    again = await edge.error(
        "create_thread", {"channel_id": general, "message_id": message, "name": "twice"}
    )
    assert "already" in again.lower()


async def test_create_standalone_threads(edge: Edge) -> None:
    """Without a message: a private thread in a text channel, an announcement thread in an
    announcement channel; private is refused there and for message threads."""
    lab = edge.channel("bot-lab")
    private = await edge.ok("create_thread", {"channel_id": lab, "name": "secret", "private": True})
    assert private["type"] == "private_thread"
    public = await edge.ok("create_thread", {"channel_id": lab, "name": "open"})
    assert public["type"] == "public_thread"
    news = edge.channel("announcements")
    announced = await edge.ok("create_thread", {"channel_id": news, "name": "release notes"})
    assert announced["type"] == "announcement_thread"
    text = await edge.error("create_thread", {"channel_id": news, "name": "x", "private": True})
    assert "private" in text
    general, message = _welcome(edge)
    text = await edge.error(
        "create_thread",
        {"channel_id": general, "message_id": message, "name": "x", "private": True},
    )
    assert "private" in text
    assert "message_id" in text


async def test_create_thread_bad_arguments(edge: Edge) -> None:
    """A forum, a voice channel, an unknown channel, a bad duration and a bad id are refused
    with the field or the next step named."""
    forum = await edge.error("create_thread", {"channel_id": edge.channel("ideas"), "name": "x"})
    assert "create_forum_post" in forum
    voice = await edge.error("create_thread", {"channel_id": edge.channel("Lounge"), "name": "x"})
    assert "text or announcement" in voice
    unknown = await edge.error("create_thread", {"channel_id": "12345", "name": "x"})
    assert "not found" in unknown
    assert "list_channels" in unknown
    duration = await edge.error(
        "create_thread",
        {"channel_id": edge.channel("bot-lab"), "name": "x", "auto_archive_duration": 30},
    )
    assert "auto_archive_duration" in duration
    bad_id = await edge.error("create_thread", {"channel_id": "general", "name": "x"})
    assert "channel_id" in bad_id
    empty = await edge.error("create_thread", {"channel_id": edge.channel("bot-lab"), "name": ""})
    assert "name" in empty


async def test_create_thread_needs_discords_permission(edge: Edge) -> None:
    """Without Create Public Threads Discord refuses and the error names the permission."""
    _revoke(edge, "@everyone", "create_public_threads")
    async with edge.as_agent("sentinel"):
        text = await edge.error(
            "create_thread", {"channel_id": edge.channel("bot-lab"), "name": "x"}
        )
    assert "create_public_threads" in text


async def test_forum_post_with_tags_and_dedup(edge: Edge) -> None:
    """A forum post carries its first message and tag; the same title again returns it."""
    ideas = edge.channel("ideas")
    forum = edge.sandbox.state.channels[int(ideas)]
    tag = next(t["id"] for t in forum.available_tags if t["name"] == "feature")
    args = {
        "forum_id": ideas,
        "title": "Dark mode",
        "content": "Please add a dark mode.",
        "tags": ["Feature"],
        "reason": "user request",
    }
    post = await edge.ok("create_forum_post", args)
    assert post["duplicate"] is False
    thread = post["thread"]
    assert thread["parent_id"] == ideas
    assert thread["tag_ids"] == [tag]
    by_id = await edge.ok(
        "create_forum_post", {"forum_id": ideas, "title": "Other", "content": "c", "tags": [tag]}
    )
    assert by_id["thread"]["tag_ids"] == [tag]
    first = edge.sandbox.delivered(int(thread["id"]))
    assert [m.content for m in first] == ["Please add a dark mode."]
    assert post["message_id"] == str(first[0].id)
    again = await edge.ok("create_forum_post", args)
    assert again["duplicate"] is True
    assert again["thread"]["id"] == thread["id"]
    forced = await edge.ok("create_forum_post", {**args, "allow_duplicate_title": True})
    assert forced["duplicate"] is False
    assert forced["thread"]["id"] != thread["id"]
    posts = [c for c in edge.sandbox.state.channels.values() if c.parent_id == int(ideas)]
    assert len(posts) == 3


async def test_forum_post_errors(edge: Edge) -> None:
    """A text channel is not a forum; an unknown tag is Discord's refusal; without Send
    Messages Discord's 403 names it."""
    text = await edge.error(
        "create_forum_post",
        {"forum_id": edge.channel("general"), "title": "t", "content": "c"},
    )
    assert "not a forum" in text
    assert "create_thread" in text
    ideas = edge.channel("ideas")
    tag = await edge.error(
        "create_forum_post", {"forum_id": ideas, "title": "t", "content": "c", "tags": ["nope"]}
    )
    assert "'nope' is not a tag" in tag
    assert "feature (" in tag
    empty = await edge.error("create_forum_post", {"forum_id": ideas, "title": "t", "content": ""})
    assert "content" in empty
    _revoke(edge, "@everyone", "send_messages")
    async with edge.as_agent("sentinel"):
        denied = await edge.error(
            "create_forum_post", {"forum_id": ideas, "title": "t", "content": "c"}
        )
    assert "send_messages" in denied


async def test_list_active_threads(edge: Edge) -> None:
    """Active threads of the guild, or of one channel, by guild_id or channel_id."""
    guild = str(_guild(edge).id)
    lab = edge.channel("bot-lab")
    made = await edge.ok("create_thread", {"channel_id": lab, "name": "lab talk"})
    every = await edge.ok("list_threads", {"guild_id": guild})
    names = {t["name"] for t in every["threads"]}
    assert {"welcome-thread", "lab talk"} <= names
    assert every["archived"] is False
    assert every["next_cursor"] is None
    only_lab = await edge.ok("list_threads", {"channel_id": lab})
    assert [t["id"] for t in only_lab["threads"]] == [made["id"]]
    one = await edge.ok("list_threads", {"guild_id": guild, "limit": 1})
    assert len(one["threads"]) == 1


async def test_list_archived_threads_pages(edge: Edge) -> None:
    """Archived public threads come most recently archived first, paged by cursor."""
    lab = edge.channel("bot-lab")
    ids = []
    for name in ("one", "two", "three"):
        made = await edge.ok("create_thread", {"channel_id": lab, "name": name})
        await edge.ok("update_thread", {"thread_id": made["id"], "archived": True})
        ids.append(made["id"])
    first = await edge.ok("list_threads", {"channel_id": lab, "archived": True, "limit": 2})
    assert first["archived"] is True
    assert [t["name"] for t in first["threads"]] == ["three", "two"]
    assert all(t["archived"] for t in first["threads"])
    assert first["next_cursor"]
    rest = await edge.ok(
        "list_threads",
        {"channel_id": lab, "archived": True, "limit": 2, "cursor": first["next_cursor"]},
    )
    assert [t["name"] for t in rest["threads"]] == ["one"]
    assert rest["next_cursor"] is None
    active = await edge.ok("list_threads", {"channel_id": lab})
    assert active["threads"] == []


async def test_list_threads_bad_arguments(edge: Edge) -> None:
    """Nothing to list, archived without a channel, and a foreign cursor are refused."""
    assert "guild_id or channel_id" in await edge.error("list_threads", {})
    text = await edge.error("list_threads", {"guild_id": str(_guild(edge).id), "archived": True})
    assert "channel_id" in text
    text = await edge.error(
        "list_threads",
        {"channel_id": edge.channel("general"), "archived": True, "cursor": "before:1"},
    )
    assert "cursor" in text
    unknown = await edge.error("list_threads", {"guild_id": "42"})
    assert "not found" in unknown


async def test_update_thread_rename_archive_reopen(edge: Edge) -> None:
    """The bot renames and archives its own thread, then reopens and renames it in one call;
    changing an archived thread without reopening it is Discord's refusal."""
    made = await edge.ok("create_thread", {"channel_id": edge.channel("bot-lab"), "name": "draft"})
    tid = made["id"]
    renamed = await edge.ok(
        "update_thread", {"thread_id": tid, "name": "final", "reason": "tidy up"}
    )
    assert renamed["name"] == "final"
    assert "tidy up" in _reasons(edge)
    closed = await edge.ok("update_thread", {"thread_id": tid, "archived": True})
    assert closed["archived"] is True
    refused = await edge.error("update_thread", {"thread_id": tid, "name": "again"})
    assert "archived=false" in refused
    reopened = await edge.ok(
        "update_thread",
        {"thread_id": tid, "archived": False, "name": "again", "auto_archive_duration": 10080},
    )
    assert reopened["archived"] is False
    assert reopened["name"] == "again"
    assert reopened["auto_archive_duration"] == 10080


async def test_update_thread_lock_needs_manage_threads(edge: Edge) -> None:
    """Locking needs Manage Threads (Discord's 403 names it); granted, the lock holds; others'
    threads need it too."""
    made = await edge.ok("create_thread", {"channel_id": edge.channel("bot-lab"), "name": "hot"})
    denied = await edge.error("update_thread", {"thread_id": made["id"], "locked": True})
    assert "manage_threads" in denied
    welcome = edge.channel("welcome-thread")
    async with edge.as_agent("sentinel"):
        other = await edge.error("update_thread", {"thread_id": welcome, "name": "mine"})
    assert "manage_threads" in other
    _grant(edge, "agents", "manage_threads")
    locked = await edge.ok(
        "update_thread", {"thread_id": made["id"], "locked": True, "reason": "heated"}
    )
    assert locked["locked"] is True
    assert edge.sandbox.state.channels[int(made["id"])].thread.locked  # type: ignore[union-attr]


async def test_update_thread_bad_arguments(edge: Edge) -> None:
    """No change, a channel that is not a thread, an unknown thread and a bad duration are
    refused with what to do."""
    made = await edge.ok("create_thread", {"channel_id": edge.channel("bot-lab"), "name": "t"})
    assert "at least one" in await edge.error("update_thread", {"thread_id": made["id"]})
    channel = await edge.error(
        "update_thread", {"thread_id": edge.channel("general"), "name": "renamed"}
    )
    assert "not a thread" in channel
    assert "update_channel" in channel
    assert edge.sandbox.state.channels[int(edge.channel("general"))].name == "general"
    unknown = await edge.error("update_thread", {"thread_id": "777", "archived": True})
    assert "not found" in unknown
    assert "list_threads" in unknown
    duration = await edge.error(
        "update_thread", {"thread_id": made["id"], "auto_archive_duration": 5}
    )
    assert "auto_archive_duration" in duration


async def test_policy_denials(tmp_path: Path) -> None:
    """The chatter profile leaves out update_thread (destructive), naming the grant; a denied
    channel refuses create_thread and hides its threads from list_threads."""
    rules = ChannelAcl(ChannelRules(deny=("bot-lab",)))
    policy = Policy.of([AgentPolicy("scribe", profile="chatter", channels=rules)])
    async with running_edge(tmp_path, policy=policy) as edge:
        welcome = edge.channel("welcome-thread")
        denied = await edge.error("update_thread", {"thread_id": welcome, "name": "x"})
        assert "update_thread" in denied
        assert "grant" in denied
        lab = edge.channel("bot-lab")
        refused = await edge.error("create_thread", {"channel_id": lab, "name": "x"})
        assert "bot-lab" in refused
        async with edge.as_agent("herald"):
            await edge.ok("create_thread", {"channel_id": lab, "name": "hidden"})
        listed = await edge.ok("list_threads", {"guild_id": str(_guild(edge).id)})
        names = {t["name"] for t in listed["threads"]}
        assert "welcome-thread" in names
        assert "hidden" not in names
