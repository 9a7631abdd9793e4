"""Message tools against the sandbox with the real discord.py and a real MCP client."""

from __future__ import annotations

import base64

import pytest
from aiohttp import web
from tests.mcp_edge.tools.conftest import Edge

pytestmark = [pytest.mark.anyio]


async def test_send_then_read_back(edge: Edge) -> None:
    """send_message delivers (state delivered, id as a string) and read_messages finds it."""
    general = edge.channel("general")
    sent = await edge.ok("send_message", {"channel_id": general, "content": "hello from mcp"})
    assert sent["state"] == "delivered"
    assert sent["message_id"].isdigit()
    page = await edge.ok("read_messages", {"channel_id": general, "limit": 5})
    assert page["messages"][-1]["id"] == sent["message_id"]
    assert page["messages"][-1]["content"] == "hello from mcp"
    held = [m.content for m in edge.sandbox.delivered(int(general))]
    assert held.count("hello from mcp") == 1


async def test_idempotency_key_posts_once(edge: Edge) -> None:
    """The same idempotency key twice posts one message and reports the duplicate."""
    general = edge.channel("general")
    args = {"channel_id": general, "content": "once", "idempotency_key": "k-1"}
    first = await edge.ok("send_message", args)
    second = await edge.ok("send_message", args)
    assert second["duplicate"] is True
    assert second["message_id"] == first["message_id"]
    assert [m.content for m in edge.sandbox.delivered(int(general))].count("once") == 1


async def test_attachment_from_base64(edge: Edge) -> None:
    """A base64 attachment arrives as a file on the message."""
    general = edge.channel("general")
    data = base64.b64encode(b"col1,col2\n1,2\n").decode()
    sent = await edge.ok(
        "send_message",
        {
            "channel_id": general,
            "content": "report attached",
            "attachments": [{"filename": "report.csv", "data_base64": data}],
        },
    )
    page = await edge.ok("read_messages", {"channel_id": general, "limit": 1})
    (msg,) = page["messages"]
    assert msg["id"] == sent["message_id"]
    assert [a["filename"] for a in msg["attachments"]] == ["report.csv"]


async def test_empty_message_is_refused_with_advice(edge: Edge) -> None:
    """A send with nothing in it is refused, saying what to give."""
    text = await edge.error("send_message", {"channel_id": edge.channel("general")})
    assert "content, embeds or attachments" in text


async def test_bad_id_names_the_field(edge: Edge) -> None:
    """A non-numeric id is rejected by the schema, naming the field."""
    text = await edge.error("send_message", {"channel_id": "general", "content": "x"})
    assert "channel_id" in text


async def test_filters_and_cursor(edge: Edge) -> None:
    """contains + cursor page through matching messages without repeats."""
    general = edge.channel("general")
    for i in range(6):
        await edge.ok(
            "send_message",
            {"channel_id": general, "content": f"{'needle' if i % 2 else 'hay'} {i}"},
        )
    first = await edge.ok(
        "read_messages", {"channel_id": general, "contains": "NEEDLE", "limit": 2}
    )
    assert [m["content"] for m in first["messages"]] == ["needle 3", "needle 5"]
    assert first["next_cursor"]
    rest = await edge.ok(
        "read_messages",
        {"channel_id": general, "contains": "needle", "limit": 2, "cursor": first["next_cursor"]},
    )
    assert [m["content"] for m in rest["messages"]] == ["needle 1"]


async def test_edit_and_delete(edge: Edge) -> None:
    """The bot edits its own message, then deletes it."""
    general = edge.channel("general")
    sent = await edge.ok("send_message", {"channel_id": general, "content": "draft"})
    edited = await edge.ok(
        "edit_message",
        {"channel_id": general, "message_id": sent["message_id"], "content": "final"},
    )
    assert edited["content"] == "final"
    assert edited["edited_at"]
    await edge.ok("delete_message", {"channel_id": general, "message_id": sent["message_id"]})
    page = await edge.ok("read_messages", {"channel_id": general, "limit": 10})
    assert sent["message_id"] not in [m["id"] for m in page["messages"]]


async def test_discord_permission_error_is_a_tool_error(edge: Edge) -> None:
    """Deleting another user's message without Manage Messages names the permission."""
    lab = edge.channel("general")
    human = edge.sandbox.inject_message(int(lab), "hi bots", author_id=edge.user_id("alice"))
    async with edge.as_agent("sentinel"):
        text = await edge.error("delete_message", {"channel_id": lab, "message_id": str(human.id)})
    assert "manage_messages" in text.lower() or "permission" in text.lower()


async def test_mentions_ping_nobody_unless_allowed(edge: Edge) -> None:
    """A mention in the text pings nobody by default; allowed_mentions lets one user through."""
    general = edge.channel("general")
    alice, bob = edge.user_id("alice"), edge.user_id("bob")
    text = f"<@{alice}> <@{bob}> look"
    quiet = await edge.ok("send_message", {"channel_id": general, "content": text})
    loud = await edge.ok(
        "send_message",
        {"channel_id": general, "content": text, "allowed_mentions": {"users": [str(alice)]}},
    )
    held = {str(m.id): m for m in edge.sandbox.delivered(int(general))}
    assert held[quiet["message_id"]].mentions == []
    assert held[loud["message_id"]].mentions == [alice]


async def test_attachment_from_url(edge: Edge) -> None:
    """An attachment given by URL is downloaded by the server and posted as a file."""

    async def chart(_: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG fake")

    app = web.Application()
    app.router.add_get("/chart.png", chart)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/chart.png"
        sent = await edge.ok(
            "send_message",
            {
                "channel_id": edge.channel("general"),
                "content": "chart",
                "attachments": [{"filename": "chart.png", "url": url}],
            },
        )
        held = {str(m.id): m for m in edge.sandbox.delivered(int(edge.channel("general")))}
        assert [a.filename for a in held[sent["message_id"]].attachments] == ["chart.png"]
        missing = await edge.error(
            "send_message",
            {
                "channel_id": edge.channel("general"),
                "attachments": [{"filename": "x.png", "url": url.replace("chart", "nope")}],
            },
        )
        assert "404" in missing
    finally:
        await runner.cleanup()


async def test_private_urls_are_refused_outside_the_sandbox(edge: Edge) -> None:
    """With private URLs not allowed, a loopback attachment URL is refused before any fetch."""
    edge.runtime.allow_private_urls = False
    text = await edge.error(
        "send_message",
        {
            "channel_id": edge.channel("general"),
            "attachments": [{"filename": "a.txt", "url": "http://127.0.0.1:9/a.txt"}],
        },
    )
    assert "non-public address" in text


async def test_deleting_anothers_message_records_the_reason(edge: Edge) -> None:
    """A moderator's delete of someone else's message carries its reason to the audit log."""
    general = edge.channel("general")
    human = edge.sandbox.inject_message(int(general), "spam", author_id=edge.user_id("bob"))
    await edge.ok(
        "delete_message",
        {"channel_id": general, "message_id": str(human.id), "reason": "spam, per rule 3"},
    )
    guild = next(iter(edge.sandbox.state.guilds.values()))
    assert "spam, per rule 3" in [entry.reason for entry in guild.audit_log]
