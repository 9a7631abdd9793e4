"""REST v10 on the wire: Discord's JSON shapes, content type, error bodies for bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

from discord_io.sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """A small body limit, so the 413 test need not upload megabytes."""
    return SandboxConfig(max_body=64 * 1024)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client authenticated as the scribe bot."""
    headers = {"Authorization": f"Bot {sandbox.bot('scribe').token}"}
    async with aiohttp.ClientSession(base_url=sandbox.http_url, headers=headers) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, str, Any]:
    """Status, exact Content-Type header, and parsed JSON body (None for empty)."""
    with anyio.fail_after(10):
        async with http.request(method, "/api/v10" + path, **kwargs) as response:
            raw = await response.read()
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                json.loads(raw) if raw else None,
            )


async def test_login_endpoints_have_discords_shapes(sandbox: Sandbox, http) -> None:
    """/users/@me, /oauth2/applications/@me and /gateway/bot answer what discord.py needs."""
    status, ctype, me = await call(http, "GET", "/users/@me")
    assert (status, ctype) == (200, "application/json")
    assert me["id"] == str(sandbox.bot("scribe").id)
    assert me["bot"] is True
    assert {"username", "discriminator", "avatar", "global_name"} <= me.keys()
    _, _, app = await call(http, "GET", "/oauth2/applications/@me")
    assert {"id", "name", "owner", "verify_key", "bot_public", "flags"} <= app.keys()
    _, _, gateway = await call(http, "GET", "/gateway/bot")
    assert gateway["url"] == sandbox.gateway_url
    assert gateway["session_start_limit"]["max_concurrency"] == 1


async def test_missing_or_bad_token_is_401(sandbox: Sandbox) -> None:
    """No token or an unknown one gets 401 {"message": "401: Unauthorized", "code": 0}."""
    async with aiohttp.ClientSession(base_url=sandbox.http_url) as anonymous:
        assert await call(anonymous, "GET", "/users/@me") == (
            401,
            "application/json",
            {"message": "401: Unauthorized", "code": 0},
        )
        status, _, body = await call(
            anonymous, "GET", "/users/@me", headers={"Authorization": "Bot nope"}
        )
        assert (status, body["code"]) == (401, 0)
        status, _, body = await call(anonymous, "GET", "/gateway")
        assert (status, body) == (200, {"url": sandbox.gateway_url})


async def test_unknown_route_is_404_code_0(http) -> None:
    """An unknown route answers Discord's generic 404 body."""
    assert await call(http, "GET", "/no/such/route") == (
        404,
        "application/json",
        {"message": "404: Not Found", "code": 0},
    )


async def test_wrong_method_is_405(sandbox: Sandbox, http) -> None:
    """A known route with the wrong method answers 405 with code 0."""
    status, _, body = await call(http, "PUT", f"/channels/{sandbox.channel_id('general')}")
    assert (status, body) == (405, {"message": "405: Method Not Allowed", "code": 0})


async def test_invalid_snowflake_is_a_form_error(http) -> None:
    """A path id that is not a snowflake is 50035 with NUMBER_TYPE_COERCE under its name."""
    status, _, body = await call(http, "GET", "/channels/not-a-number")
    assert status == 400
    assert body["code"] == 50035
    assert body["errors"]["channel_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"


async def test_unknown_ids_answer_unknown_errors(http) -> None:
    """Well-formed ids that name nothing answer 10003 / 10004 / 10013 / 10008."""
    status, _, body = await call(http, "GET", "/channels/123")
    assert (status, body) == (404, {"message": "Unknown Channel", "code": 10003})
    assert (await call(http, "GET", "/guilds/123"))[2]["code"] == 10004
    assert (await call(http, "GET", "/users/123"))[2]["code"] == 10013


async def test_malformed_json_body_is_50109(sandbox: Sandbox, http) -> None:
    """A body that is not JSON answers 400 code 50109."""
    status, _, body = await call(
        http,
        "POST",
        f"/channels/{sandbox.channel_id('general')}/messages",
        data=b'{"content": ',
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["code"]) == (400, 50109)


async def test_json_that_is_not_an_object_is_50035(sandbox: Sandbox, http) -> None:
    """A JSON array where an object belongs answers 50035 DICT_TYPE_CONVERT."""
    status, _, body = await call(
        http, "POST", f"/channels/{sandbox.channel_id('general')}/messages", json=["hi"]
    )
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["_errors"][0]["code"] == "DICT_TYPE_CONVERT"


async def test_oversized_body_is_413(sandbox: Sandbox, http) -> None:
    """A body over the size limit answers 413 code 40005 without being read."""
    status, _, body = await call(
        http,
        "POST",
        f"/channels/{sandbox.channel_id('general')}/messages",
        data=b"x" * (65 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["code"]) == (413, 40005)


async def test_message_validation_errors(sandbox: Sandbox, http) -> None:
    """Too-long content and nonce are 50035 per field; an empty message is 50006."""
    path = f"/channels/{sandbox.channel_id('general')}/messages"
    status, _, body = await call(
        http, "POST", path, json={"content": "x" * 2001, "nonce": "n" * 26}
    )
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert body["errors"]["nonce"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    status, _, body = await call(http, "POST", path, json={"content": ""})
    assert (status, body) == (400, {"message": "Cannot send an empty message", "code": 50006})
    status, _, body = await call(http, "GET", path, params={"limit": "101"})
    assert (status, body["errors"]["limit"]["_errors"][0]["code"]) == (400, "NUMBER_TYPE_MAX")


async def test_non_text_channels_refuse_messages(sandbox: Sandbox, http) -> None:
    """Posting to a category or a forum answers 50008."""
    for name in ("Text Channels", "ideas"):
        status, _, body = await call(
            http, "POST", f"/channels/{sandbox.channel_id(name)}/messages", json={"content": "x"}
        )
        assert (status, body["code"]) == (400, 50008)


async def test_others_messages_cannot_be_edited(sandbox: Sandbox, http) -> None:
    """Editing someone else's message answers 403 50005."""
    general = sandbox.channel_id("general")
    (welcome,) = sandbox.delivered(general)
    status, _, body = await call(
        http, "PATCH", f"/channels/{general}/messages/{welcome.id}", json={"content": "mine now"}
    )
    assert (status, body["code"]) == (403, 50005)


async def test_create_message_shape_and_dispatch_nonce(sandbox: Sandbox, http) -> None:
    """A created message has every MessageResponse key and echoes its nonce."""
    status, ctype, body = await call(
        http,
        "POST",
        f"/channels/{sandbox.channel_id('general')}/messages",
        json={"content": "shape check", "nonce": "abc", "enforce_nonce": True},
    )
    assert (status, ctype) == (200, "application/json")
    required = {
        "type", "content", "mentions", "mention_roles", "attachments", "embeds", "timestamp",
        "edited_timestamp", "flags", "components", "id", "channel_id", "author", "pinned",
        "mention_everyone", "tts",
    }  # fmt: skip
    assert required <= body.keys()
    assert body["nonce"] == "abc"
    assert isinstance(body["id"], str)


async def test_guild_and_channel_lists(sandbox: Sandbox, http) -> None:
    """GET /guilds/{id} and /guilds/{id}/channels answer with the seed's guild and channels."""
    guild_id = next(iter(sandbox.state.guilds))
    status, _, guild = await call(
        http, "GET", f"/guilds/{guild_id}", params={"with_counts": "true"}
    )
    assert status == 200
    assert guild["name"] == "Sandbox Guild"
    assert guild["approximate_member_count"] == 7
    _, _, channels = await call(http, "GET", f"/guilds/{guild_id}/channels")
    types = {c["type"] for c in channels}
    assert {0, 2, 4, 5, 15} <= types
    assert 11 not in types  # threads are not listed here


async def test_on_response_sees_every_json_answer(sandbox: Sandbox) -> None:
    """The on_response hook gets method, route template, path, status and the body object."""
    from discord_io.sandbox import sandbox_server

    seen: list[tuple[str, str, str, int, object]] = []
    async with sandbox_server(on_response=lambda *a: seen.append(a)) as sb:
        headers = {"Authorization": f"Bot {sb.bot('scribe').token}"}
        async with aiohttp.ClientSession(base_url=sb.http_url, headers=headers) as session:
            channel = sb.channel_id("general")
            await call(session, "GET", f"/channels/{channel}")
            await call(session, "GET", "/nowhere")
    assert seen[0][:4] == (
        "GET",
        "/api/v10/channels/{channel_id}",
        f"/api/v10/channels/{channel}",
        200,
    )
    assert seen[0][4]["name"] == "general"  # type: ignore[index]
    assert seen[1][1:4] == ("", "/api/v10/nowhere", 404)
