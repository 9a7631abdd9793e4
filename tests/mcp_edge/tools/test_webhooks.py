"""Webhook tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from tests.mcp_edge.tools.conftest import Edge, assert_hints, running_edge

from discord_io.sandbox._access import PERMISSION_BITS
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy

pytestmark = [pytest.mark.anyio]

HINTS = {  # tool: (read_only, destructive, idempotent, open_world)
    "create_webhook": (False, False, False, True),
    "list_webhooks": (True, False, True, True),
    "delete_webhook": (False, True, True, True),
    "send_webhook_message": (False, False, False, True),
}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _guild(edge: Edge) -> int:
    return next(iter(edge.sandbox.state.guilds))


def _grant(edge: Edge, role_name: str, *permissions: str) -> None:
    """Give a seeded role more permissions (scribe and herald hold ``agents``)."""
    guild = edge.sandbox.state.guilds[_guild(edge)]
    role = next(r for r in guild.roles.values() if r.name == role_name)
    for name in permissions:
        role.permissions |= PERMISSION_BITS[name]


def _tokens(edge: Edge) -> list[str]:
    return [w.token for w in edge.sandbox.state.webhooks.values()]


def _no_token_in(edge: Edge, value: Any) -> None:
    """Neither a token field nor any webhook's token appears in a result or an error."""
    text = value if isinstance(value, str) else json.dumps(value)
    assert '"token"' not in text
    assert '"url"' not in text
    for token in _tokens(edge):
        assert token not in text


async def _make(edge: Edge, channel: str, name: str = "Relay") -> dict[str, Any]:
    _grant(edge, "agents", "manage_webhooks")
    return await edge.ok("create_webhook", {"channel_id": channel, "name": name})


async def test_create_list_post_delete(edge: Edge) -> None:
    """A webhook is created (reason audited, no token), listed, posted through, deleted."""
    _grant(edge, "agents", "manage_webhooks")
    general = edge.channel("general")
    hook = await edge.ok(
        "create_webhook",
        {
            "channel_id": general,
            "name": "Relay",
            "avatar_base64": base64.b64encode(PNG).decode(),
            "reason": "personas for the demo",
        },
    )
    _no_token_in(edge, hook)
    assert hook["type"] == "incoming"
    assert hook["channel_id"] == general
    assert hook["can_post"] is True
    assert hook["avatar"]
    assert hook["creator_id"] == str(edge.user_id("scribe"))
    reasons = [e.reason for e in edge.sandbox.state.guilds[_guild(edge)].audit_log]
    assert "personas for the demo" in reasons

    by_channel = await edge.ok("list_webhooks", {"channel_id": general})
    by_guild = await edge.ok("list_webhooks", {"guild_id": str(_guild(edge))})
    _no_token_in(edge, by_channel)
    _no_token_in(edge, by_guild)
    assert [w["id"] for w in by_channel["webhooks"]] == [hook["id"]]
    assert hook["id"] in [w["id"] for w in by_guild["webhooks"]]

    deleted = await edge.ok("delete_webhook", {"webhook_id": hook["id"], "reason": "demo over"})
    assert deleted == {"deleted": True, "webhook_id": hook["id"]}
    assert int(hook["id"]) not in edge.sandbox.state.webhooks
    assert "demo over" in [e.reason for e in edge.sandbox.state.guilds[_guild(edge)].audit_log]
    again = await edge.error("delete_webhook", {"webhook_id": hook["id"]})
    assert "not found" in again
    assert "list_webhooks" in again


async def test_personas_post_under_their_own_names(edge: Edge) -> None:
    """One webhook posts as two personas; the message ids come back and Discord holds them."""
    general = edge.channel("general")
    hook = await _make(edge, general)
    ada = await edge.ok(
        "send_webhook_message",
        {
            "webhook_id": hook["id"],
            "content": "hello, I am Ada",
            "username": "Ada",
            "avatar_url": "https://example.com/ada.png",
        },
    )
    bob = await edge.ok(
        "send_webhook_message",
        {
            "webhook_id": hook["id"],
            "username": "Bob",
            "embeds": [{"title": "Bob's note", "description": "embeds work"}],
        },
    )
    _no_token_in(edge, ada)
    assert ada["message"]["author_name"] == "Ada"
    assert ada["message"]["author_id"] == hook["id"]
    assert ada["message"]["channel_id"] == general
    assert bob["message"]["author_name"] == "Bob"
    held = {m.id: m for m in edge.sandbox.delivered(int(general))}
    first = held[int(ada["message"]["id"])]
    assert first.content == "hello, I am Ada"
    assert first.webhook_id == int(hook["id"])
    assert first.webhook_author is not None
    assert first.webhook_author.username == "Ada"
    assert held[int(bob["message"]["id"])].embeds[0]["title"] == "Bob's note"


async def test_post_into_a_thread(edge: Edge) -> None:
    """thread_id posts into a thread of the webhook's channel."""
    general = edge.channel("general")
    thread = edge.channel("welcome-thread")
    hook = await _make(edge, general)
    post = await edge.ok(
        "send_webhook_message",
        {"webhook_id": hook["id"], "content": "in the thread", "thread_id": thread},
    )
    assert post["message"]["channel_id"] == thread
    assert [m.content for m in edge.sandbox.delivered(int(thread))][-1] == "in the thread"


async def test_idempotency_key_posts_once(edge: Edge) -> None:
    """The same idempotency key twice posts once and returns the first post as a duplicate."""
    general = edge.channel("general")
    hook = await _make(edge, general)
    args = {"webhook_id": hook["id"], "content": "exactly once", "idempotency_key": "wh-1"}
    first = await edge.ok("send_webhook_message", args)
    second = await edge.ok("send_webhook_message", args)
    assert first["duplicate"] is False
    assert second["duplicate"] is True
    assert second["message"]["id"] == first["message"]["id"]
    held = [m.content for m in edge.sandbox.delivered(int(general))]
    assert held.count("exactly once") == 1


async def test_unknown_outcome_refuses_a_blind_retry(edge: Edge) -> None:
    """After a 503 on the execute, a retry with the same key is refused with advice; a new
    key posts."""
    general = edge.channel("general")
    hook = await _make(edge, general)
    edge.sandbox.inject_status(1, 503, route="POST /webhooks/{webhook_id}/{webhook_token}")
    args = {"webhook_id": hook["id"], "content": "maybe", "idempotency_key": "wh-2"}
    failed = await edge.error("send_webhook_message", args)
    _no_token_in(edge, failed)
    assert "unavailable" in failed.lower()
    refused = await edge.error("send_webhook_message", args)
    assert "may or may not have posted" in refused
    assert "read_messages" in refused
    await edge.ok("send_webhook_message", {**args, "idempotency_key": "wh-3"})


async def test_discord_refusal_leaves_the_key_reusable(edge: Edge) -> None:
    """A definite refusal (unknown thread) or a failure before the post (fetching the webhook)
    remembers nothing: the same key works after."""
    general = edge.channel("general")
    hook = await _make(edge, general)
    args = {"webhook_id": hook["id"], "content": "x", "idempotency_key": "wh-4"}
    text = await edge.error("send_webhook_message", {**args, "thread_id": "1"})
    assert "not found" in text
    _no_token_in(edge, text)
    edge.sandbox.inject_status(1, 503, route="GET /webhooks/{webhook_id}")
    before_post = await edge.error("send_webhook_message", args)
    assert "may or may not" not in before_post
    await edge.ok("send_webhook_message", args)


async def test_without_manage_webhooks_discord_refuses(edge: Edge) -> None:
    """sentinel lacks manage_webhooks: create, list and post are refused naming it."""
    general = edge.channel("general")
    hook = await _make(edge, general)
    async with edge.as_agent("sentinel"):
        created = await edge.error("create_webhook", {"channel_id": general, "name": "Nope"})
        listed = await edge.error("list_webhooks", {"channel_id": general})
        posted = await edge.error(
            "send_webhook_message", {"webhook_id": hook["id"], "content": "sneaky"}
        )
        deleted = await edge.error("delete_webhook", {"webhook_id": hook["id"]})
    for text in (created, listed, posted, deleted):
        assert "manage_webhooks" in text
        _no_token_in(edge, text)
    assert "sneaky" not in [m.content for m in edge.sandbox.delivered(int(general))]


async def test_bad_arguments_name_the_field(edge: Edge) -> None:
    """Bad ids, missing content, both/neither ids and a non-image avatar say which field."""
    general = edge.channel("general")
    _grant(edge, "agents", "manage_webhooks")
    assert "channel_id" in await edge.error(
        "create_webhook", {"channel_id": "general", "name": "x"}
    )
    assert "name" in await edge.error("create_webhook", {"channel_id": general, "name": ""})
    assert "avatar_base64" in await edge.error(
        "create_webhook",
        {
            "channel_id": general,
            "name": "x",
            "avatar_base64": base64.b64encode(b"not an image").decode(),
        },
    )
    assert "exactly one" in await edge.error("list_webhooks", {})
    assert "exactly one" in await edge.error(
        "list_webhooks", {"channel_id": general, "guild_id": str(_guild(edge))}
    )
    assert "webhook_id" in await edge.error(
        "send_webhook_message", {"webhook_id": "hook", "content": "x"}
    )
    hook = await edge.ok("create_webhook", {"channel_id": general, "name": "Relay"})
    assert "content or embeds" in await edge.error(
        "send_webhook_message", {"webhook_id": hook["id"]}
    )
    assert "username" in await edge.error(
        "send_webhook_message", {"webhook_id": hook["id"], "content": "x", "username": "x" * 81}
    )
    named = await edge.error("create_webhook", {"channel_id": general, "name": "my discord hook"})
    assert "name" in named


async def test_annotations(edge: Edge) -> None:
    """The tools' hints say truthfully what they do, and each has a title and output schema."""
    await assert_hints(edge, HINTS)


async def test_forum_webhook_opens_a_post(edge: Edge) -> None:
    """A forum channel's webhook opens a new post with thread_name; without one Discord
    refuses, and thread_id with thread_name is a bad argument."""
    ideas = edge.channel("ideas")
    hook = await _make(edge, ideas, name="Ideas Bot")
    post = await edge.ok(
        "send_webhook_message",
        {"webhook_id": hook["id"], "content": "what about dark mode?", "thread_name": "Dark"},
    )
    thread = edge.sandbox.state.channels[int(post["message"]["channel_id"])]
    assert thread.parent_id == int(ideas)
    assert thread.name == "Dark"
    refused = await edge.error("send_webhook_message", {"webhook_id": hook["id"], "content": "x"})
    assert "thread" in refused
    both = await edge.error(
        "send_webhook_message",
        {"webhook_id": hook["id"], "content": "x", "thread_id": ideas, "thread_name": "y"},
    )
    assert "not both" in both


async def test_channel_rules_follow_the_webhook_to_its_channel(tmp_path: Path) -> None:
    """A webhook into a denied channel cannot be used to post there, and the refusal names it."""
    rules = ChannelAcl(ChannelRules(deny=("bot-lab",)))
    policy = Policy.of(
        [
            AgentPolicy("scribe", profile="admin", channels=rules),
            AgentPolicy("herald", profile="admin"),
        ]
    )
    async with running_edge(tmp_path, policy=policy) as edge:
        async with edge.as_agent("herald"):  # herald has no rules: it makes the webhook
            hook = await _make(edge, edge.channel("bot-lab"))
            general = await _make(edge, edge.channel("general"), "Open")
        refused = await edge.error(
            "send_webhook_message", {"webhook_id": hook["id"], "content": "sneaky"}
        )
        assert "bot-lab" in refused
        assert not [
            m for m in edge.sandbox.delivered(int(edge.channel("bot-lab"))) if m.content == "sneaky"
        ]
        await edge.ok("send_webhook_message", {"webhook_id": general["id"], "content": "fine"})
