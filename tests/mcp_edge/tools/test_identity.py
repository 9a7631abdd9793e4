"""Identity tools: ``whoami``, ``set_agent_presence``, ``set_agent_profile``, on the sandbox."""

from __future__ import annotations

import base64
import json

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge

from discord_io.sandbox import User
from mcp_edge.policy import AgentPolicy, Policy

pytestmark = [pytest.mark.anyio]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40


def _user(edge: Edge, name: str) -> User:
    return edge.sandbox.state.users[edge.user_id(name)]


async def test_whoami_names_the_caller(edge: Edge) -> None:
    """scribe learns its bot's id and name, its guild, capabilities and intents; no policy, so
    no profile and no grant list."""
    out = await edge.ok("whoami")
    assert out["agent"] == "scribe"
    assert out["user_id"] == str(edge.user_id("scribe"))
    assert out["username"] == "scribe"
    assert out["connection"] == "ready"
    assert out["guild_count"] == 1
    assert out["capabilities"]["message_content"] is True
    assert out["capabilities"]["members"] is True
    assert {"guilds", "message_content", "members"} <= set(out["intents"])
    assert out["profile"] is None
    assert out["granted_tools"] is None
    async with edge.as_agent("sentinel"):
        other = await edge.ok("whoami")
    assert other["agent"] == "sentinel"
    assert other["user_id"] == str(edge.user_id("sentinel"))
    assert other["capabilities"]["message_content"] is False
    assert "message_content" not in other["intents"]


async def test_set_presence_reaches_discord(edge: Edge) -> None:
    """dnd with a status line: the sandbox sees the bot's new status and activity text."""
    out = await edge.ok("set_agent_presence", {"status": "dnd", "activity": "Triaging bugs"})
    assert out == {"status": "dnd", "activity": "Triaging bugs"}
    user = _user(edge, "scribe")
    with anyio.fail_after(5, reason="the presence did not reach the sandbox"):
        while user.status != "dnd":  # noqa: ASYNC110 - the sandbox state has no event to await
            await anyio.sleep(0.01)
    assert "Triaging bugs" in json.dumps(user.activities)
    await edge.ok("set_agent_presence", {"status": "invisible"})
    with anyio.fail_after(5, reason="invisible did not reach the sandbox"):
        while user.status != "offline":  # noqa: ASYNC110 - as above
            await anyio.sleep(0.01)
    assert user.activities == []


@pytest.mark.parametrize(
    ("args", "field"),
    [({"status": "busy"}, "status"), ({"activity": ""}, "activity")],
)
async def test_presence_bad_arguments(edge: Edge, args: dict[str, str], field: str) -> None:
    """An unknown status or an empty activity is refused, naming the field."""
    text = await edge.error("set_agent_presence", args)
    assert field in text


async def test_set_profile_username_and_avatar(edge: Edge) -> None:
    """The bot is renamed and given an avatar; whoami sees both; clear_avatar removes it."""
    user = _user(edge, "scribe")
    out = await edge.ok(
        "set_agent_profile",
        {"username": "scribe prime", "avatar_base64": base64.b64encode(PNG).decode()},
    )
    assert out["username"] == "scribe prime"
    assert user.username == "scribe prime"
    assert user.avatar is not None
    assert out["avatar_url"].endswith(f"/avatars/{user.id}/{user.avatar}.png")
    me = await edge.ok("whoami")
    assert (me["username"], me["avatar_url"]) == ("scribe prime", out["avatar_url"])
    cleared = await edge.ok("set_agent_profile", {"clear_avatar": True})
    assert cleared["avatar_url"] is None
    assert user.avatar is None
    assert user.username == "scribe prime"


async def test_set_avatar_from_url(edge: Edge) -> None:
    """avatar_url downloads the image (here the sandbox's CDN copy of an attachment)."""
    bot_lab = edge.channel("bot-lab")
    sent = await edge.ok(
        "send_message",
        {
            "channel_id": bot_lab,
            "attachments": [
                {"filename": "face.png", "data_base64": base64.b64encode(PNG).decode()}
            ],
        },
    )
    (message,) = [
        m for m in edge.sandbox.delivered(int(bot_lab)) if m.id == int(sent["message_id"])
    ]
    url = message.attachments[0].url
    out = await edge.ok("set_agent_profile", {"avatar_url": url})
    assert out["avatar_url"] is not None
    assert _user(edge, "scribe").avatar is not None


async def test_discord_refuses_a_bad_username(edge: Edge) -> None:
    """Discord's own username rule (no "discord") comes back as its error, naming username."""
    text = await edge.error("set_agent_profile", {"username": "my discord bot"})
    assert "username" in text
    assert "discord" in text
    assert _user(edge, "scribe").username == "scribe"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "username"),
        ({"username": "x"}, "username"),
        ({"avatar_base64": "not base64!"}, "avatar"),
        ({"avatar_base64": base64.b64encode(b"plain text").decode()}, "avatar"),
        ({"avatar_base64": base64.b64encode(PNG).decode(), "clear_avatar": True}, "avatar"),
        ({"avatar_url": "ftp://example.com/a.png"}, "url"),
    ],
)
async def test_profile_bad_arguments(edge: Edge, args: dict[str, object], field: str) -> None:
    """Missing, malformed or conflicting profile arguments are refused, naming the field."""
    text = await edge.error("set_agent_profile", args)
    assert field in text
    user = _user(edge, "scribe")
    assert (user.username, user.avatar) == ("scribe", None)


async def test_policy_keeps_the_profile_for_admins(edge: Edge) -> None:
    """A chatter may set its presence and call whoami, but not change the bot's profile."""
    edge.runtime.policy = Policy.of([AgentPolicy("scribe", profile="chatter")])
    await edge.ok("whoami")
    await edge.ok("set_agent_presence", {"status": "idle"})
    text = await edge.error("set_agent_profile", {"username": "renamed"})
    assert "set_agent_profile is not granted" in text
    assert _user(edge, "scribe").username == "scribe"


async def test_whoami_reports_the_policy(edge: Edge) -> None:
    """With a policy, whoami names the agent's profile and exactly the tools it may call."""
    edge.runtime.policy = Policy.of(
        [AgentPolicy("scribe", profile="reader", grant=("send_message",))]
    )
    out = await edge.ok("whoami")
    assert out["profile"] == "reader"
    assert "send_message" in out["granted_tools"]
    assert "delete_message" not in out["granted_tools"]
    listed = {t.name for t in (await edge.client.list_tools()).tools}
    assert set(out["granted_tools"]) == listed
