"""``send_dm`` and ``read_dms`` against the sandbox, with the real discord.py and MCP client."""

from __future__ import annotations

import pytest
from tests.mcp_edge.tools.conftest import Edge

from mcp_edge.policy import AgentPolicy, Policy

pytestmark = [pytest.mark.anyio]


def _dm_with(edge: Edge, bot: str, user: str) -> int:
    """The sandbox's DM channel between ``bot`` and ``user`` (opened if need be)."""
    return edge.sandbox.state.open_dm(edge.user_id(bot), edge.user_id(user)).id


async def test_send_dm_delivers_once(edge: Edge) -> None:
    """send_dm opens bob's DM and posts there; the same idempotency_key never posts twice."""
    bob = str(edge.user_id("bob"))
    args = {"user_id": bob, "content": "hello bob", "idempotency_key": "greet-bob"}
    out = await edge.ok("send_dm", args)
    assert out["state"] == "delivered"
    assert out["user_id"] == bob
    assert int(out["channel_id"]) == _dm_with(edge, "scribe", "bob")
    again = await edge.ok("send_dm", args)
    assert again["duplicate"] is True
    assert again["message_id"] == out["message_id"]
    delivered = edge.sandbox.delivered(int(out["channel_id"]))
    assert [(m.id, m.content) for m in delivered] == [(int(out["message_id"]), "hello bob")]


async def test_read_dms_pages_back(edge: Edge) -> None:
    """alice's DM with scribe reads oldest first per page; next_cursor goes further back."""
    alice = edge.user_id("alice")
    channel = _dm_with(edge, "scribe", "alice")
    for n in range(3):
        edge.sandbox.state.create_message(alice, channel, content=f"note {n}")
    first = await edge.ok("read_dms", {"user_id": str(alice), "limit": 2})
    assert first["channel_id"] == str(channel)
    assert [m["content"] for m in first["messages"]] == ["note 1", "note 2"]
    assert first["messages"][0]["author_id"] == str(alice)
    older = await edge.ok(
        "read_dms", {"user_id": str(alice), "limit": 2, "cursor": first["next_cursor"]}
    )
    assert [m["content"] for m in older["messages"]] == ["note 0"]
    assert older["next_cursor"] is None


async def test_reply_round_trip(edge: Edge) -> None:
    """What send_dm posts, read_dms reads back in the same conversation."""
    carol = str(edge.user_id("carol"))
    await edge.ok("send_dm", {"user_id": carol, "content": "are you there?"})
    page = await edge.ok("read_dms", {"user_id": carol})
    assert [(m["content"], m["author_id"]) for m in page["messages"]] == [
        ("are you there?", str(edge.user_id("scribe")))
    ]


async def test_unknown_user_is_discords_not_found(edge: Edge) -> None:
    """A user id Discord does not know is "not found", saying to check user_id."""
    for tool, args in (
        ("send_dm", {"user_id": "123456789012345678", "content": "hi"}),
        ("read_dms", {"user_id": "123456789012345678"}),
    ):
        text = await edge.error(tool, args)
        assert "user 123456789012345678 was not found" in text, tool
        assert "user_id" in text, tool


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("send_dm", {"content": ""}, "content"),
        ("send_dm", {"user_id": "bob", "content": "x"}, "user_id"),
        ("send_dm", {"content": "x" * 2001}, "content"),
        ("read_dms", {"cursor": "before:12"}, "cursor"),
        ("read_dms", {"limit": 101}, "limit"),
    ],
)
async def test_bad_arguments_name_the_field(
    edge: Edge, tool: str, args: dict[str, object], field: str
) -> None:
    """Empty, malformed or out-of-range arguments are refused before Discord, naming the field."""
    text = await edge.error(tool, {"user_id": str(edge.user_id("bob")), **args})
    assert field in text
    assert edge.sandbox.delivered(_dm_with(edge, "scribe", "bob")) == []


async def test_policy_refuses(edge: Edge) -> None:
    """A reader may not send_dm (names the grant); dms: false refuses even reading DMs (naming
    the setting that would allow it)."""
    bob = str(edge.user_id("bob"))
    edge.runtime.policy = Policy.of([AgentPolicy("scribe", profile="reader")])
    text = await edge.error("send_dm", {"user_id": bob, "content": "hi"})
    assert "send_dm is not granted" in text
    edge.runtime.policy = Policy.of([AgentPolicy("scribe", profile="chatter", dms=False)])
    for tool, args in (("send_dm", {"content": "hi"}), ("read_dms", {})):
        text = await edge.error(tool, {"user_id": bob, **args})
        assert "`dms: true`" in text, tool  # the refusal names the setting that allows it
    assert edge.sandbox.delivered(_dm_with(edge, "scribe", "bob")) == []
