"""The edge's pure parts: JSON → attrs values, discord.py errors → typed errors, intents, bodies."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import RateLimitScope
from actors.discord_port import (
    AgentCapabilities,
    AgentLoginFailed,
    AllowedMentions,
    DiscordBadRequest,
    DiscordForbidden,
    DiscordNotFound,
    DiscordRateLimited,
    DiscordUnavailable,
    FileUpload,
)
from discord_io._errors import translate_error
from discord_io._intents import intents_for, missing_privileged, privileged
from discord_io._translate import member_from_payload, message_from_payload
from discord_io.agent_client import AgentClient, message_params

snowflakes = st.integers(min_value=1, max_value=2**63 - 1)
stamps = st.datetimes(
    min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)


@st.composite
def message_payloads(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(draw(snowflakes)),
        "channel_id": str(draw(snowflakes)),
        "type": 0,
        "content": draw(st.text(max_size=50)),
        "timestamp": draw(stamps).isoformat(),
        "edited_timestamp": draw(st.none() | stamps.map(dt.datetime.isoformat)),
        "author": {
            "id": str(draw(snowflakes)),
            "username": draw(st.text(min_size=1, max_size=32)),
            "bot": draw(st.booleans()),
        },
        "attachments": [
            {
                "id": str(draw(snowflakes)),
                "filename": "f.txt",
                "size": draw(st.integers(0, 10**8)),
                "url": "http://cdn/f.txt",
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
    }
    if draw(st.booleans()):
        data["guild_id"] = str(draw(snowflakes))
    if draw(st.booleans()):
        data["nonce"] = draw(st.text(max_size=25) | st.integers(0, 10**20))
    if draw(st.booleans()):
        data["message_reference"] = {
            "type": draw(st.sampled_from([0, 1])),
            "message_id": str(draw(snowflakes)),
        }
    return data


@given(message_payloads())
def test_message_payloads_translate_with_int_ids_and_aware_times(data: dict[str, Any]) -> None:
    """Any message Discord could send becomes a MessageInfo with int ids and UTC timestamps."""
    message = message_from_payload(data)
    assert message.id == int(data["id"])
    assert message.author_id == int(data["author"]["id"])
    assert message.guild_id == (int(data["guild_id"]) if "guild_id" in data else None)
    assert message.created_at.tzinfo is not None
    assert len(message.attachments) == len(data["attachments"])
    nonce = data.get("nonce")
    assert message.nonce == (None if nonce is None else str(nonce))
    reference = data.get("message_reference")
    replies = reference is not None and reference["type"] == 0
    assert message.reply_to == (int(reference["message_id"]) if replies else None)


def test_member_display_name_prefers_nick_then_global_name() -> None:
    """display_name: nick, else global name, else username; roles become ints."""
    user = {"id": "5", "username": "al", "global_name": "Alice"}
    base = {"user": user, "roles": ["7"], "joined_at": "2024-01-01T00:00:00+00:00"}
    assert member_from_payload({**base, "nick": "Boss"}, 1).display_name == "Boss"
    member = member_from_payload(base, 1)
    assert (member.display_name, member.roles, member.guild_id) == ("Alice", (7,), 1)


def _response(status: int, headers: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(status=status, reason="", headers=headers or {})


def _translate(exc: BaseException, **kwargs: Any) -> Any:
    kwargs.setdefault("agent", "a")
    kwargs.setdefault("action", "do it")
    return translate_error(exc, **kwargs)


def test_forbidden_names_the_permission_or_view_channel() -> None:
    """50013 names the operation's permission; 50001 (Missing Access) names view_channel."""
    body = {"code": 50013, "message": "Missing Permissions"}
    error = _translate(discord.Forbidden(_response(403), body), permission="manage_messages")
    assert isinstance(error, DiscordForbidden)
    assert (error.permission, error.code, error.text) == (
        "manage_messages",
        50013,
        "Missing Permissions",
    )
    assert "'manage_messages' permission" in str(error)
    hidden = discord.Forbidden(_response(403), {"code": 50001, "message": "Missing Access"})
    assert _translate(hidden, permission="send_messages").permission == "view_channel"


def test_not_found_names_the_thing_from_discords_code() -> None:
    """10008 → the message (and its channel); an unknown code → the operation's ``what``."""
    body = {"code": 10008, "message": "Unknown Message"}
    error = _translate(
        discord.NotFound(_response(404), body), ids={"channel": 2, "message": 1}, what="x"
    )
    assert isinstance(error, DiscordNotFound)
    assert error.what == "message 1 in channel 2"
    plain = _translate(discord.NotFound(_response(404), "404: Not Found"), what="channel 9")
    assert plain.what == "channel 9"


def test_rate_limits_server_errors_and_bad_requests_are_typed() -> None:
    """RateLimited/429, 5xx, connection errors, 401 and 400 each get their own error type."""
    limited = _translate(discord.RateLimited(42.0))
    assert isinstance(limited, DiscordRateLimited)
    assert (limited.retry_after, limited.retryable) == (42.0, True)
    headers = {"Retry-After": "3", "X-RateLimit-Scope": "shared"}
    banned = _translate(discord.HTTPException(_response(429, headers), "banned"))
    assert (banned.retry_after, banned.scope) == (3.0, RateLimitScope.SHARED)
    down = _translate(discord.DiscordServerError(_response(503), "down"))
    assert isinstance(down, DiscordUnavailable)
    assert down.retryable
    assert isinstance(_translate(ConnectionResetError()), DiscordUnavailable)
    assert isinstance(_translate(discord.HTTPException(_response(401), "")), AgentLoginFailed)
    body = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Too long"}]}
        },
    }
    bad = _translate(discord.HTTPException(_response(400), body))
    assert isinstance(bad, DiscordBadRequest)
    assert (bad.code, dict(bad.field_errors)) == (50035, {"content": "Too long"})
    assert "content: Too long" in str(bad)
    assert _translate(ValueError("a bug")) is None


def test_intents_follow_the_capabilities() -> None:
    """Only what the agent does: guilds and voice states always; privileged only when configured."""
    reader = intents_for(AgentCapabilities())
    assert (reader.guilds, reader.guild_messages, reader.guild_reactions) == (True, True, True)
    assert (reader.message_content, reader.members, reader.presences) == (False, False, False)
    assert privileged(reader) == ()
    quiet = intents_for(AgentCapabilities(read_messages=False, reactions=False))
    assert quiet.value == discord.Intents(guilds=True, voice_states=True).value
    everything = intents_for(AgentCapabilities(message_content=True, members=True, presences=True))
    assert privileged(everything) == ("presences", "guild_members", "message_content")
    content_granted = 1 << 18
    assert missing_privileged(everything, content_granted) == ("presences", "guild_members")
    assert missing_privileged(everything, None) == privileged(everything)


def test_message_body_carries_nonce_reply_mentions_and_files() -> None:
    """The create body: nonce with enforce_nonce as asked, a reply, safe mentions, multipart."""
    params = message_params(
        7,
        "hi",
        nonce="n",
        enforce_nonce=False,
        reply_to=3,
        embeds=[{"title": "t"}],
        allowed_mentions=AllowedMentions(users=(5,)),
        files=(),
    )
    assert params.payload is not None
    assert (params.payload["nonce"], params.payload["enforce_nonce"]) == ("n", False)
    assert params.payload["message_reference"]["message_id"] == "3"
    assert params.payload["allowed_mentions"] == {
        "parse": [],
        "replied_user": False,
        "users": ["5"],
    }
    with message_params(
        7,
        "file",
        nonce=None,
        enforce_nonce=True,
        reply_to=None,
        embeds=(),
        allowed_mentions=None,
        files=[FileUpload("a.txt", b"abc")],
    ) as upload:
        assert upload.payload is None
        assert upload.multipart is not None
        body = json.loads(upload.multipart[0]["value"])
        assert body["attachments"] == [{"id": 0, "filename": "a.txt"}]
        assert "nonce" not in body
        assert upload.multipart[1]["name"] == "files[0]"


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [0, 101])
async def test_fetch_limit_is_checked_before_any_request(limit: int) -> None:
    """A history page is 1 to 100 messages: anything else is a programming error."""
    agent = AgentClient(agent="a", token="t")
    with pytest.raises(ValueError, match="limit of 1 to 100"):
        await agent.fetch_messages(1, limit=limit)
