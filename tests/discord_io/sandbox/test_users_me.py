"""``PATCH /users/@me``: the bot changes its username and avatar, as Discord checks them."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, raw_request

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32


def _data_uri(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def _problem(body: Any, field: str) -> str:
    """The first form-error code Discord gave for ``field``."""
    assert body["code"] == 50035, body
    return str(body["errors"][field]["_errors"][0]["code"])


async def test_discord_py_edits_username_and_avatar(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """ClientUser.edit renames the bot and sets its avatar; the bot's sessions get USER_UPDATE."""
    user = sandbox.bot("scribe").user
    with anyio.fail_after(20):
        async with connect("scribe", enable_debug_events=True, wait_ready=False) as client:
            raw = RawEvents(client)
            await client.ready.wait()
            assert client.user is not None
            await client.user.edit(username="  scribe   two ", avatar=PNG)
            assert user.username == "scribe two"
            assert user.avatar is not None
            assert not user.avatar.startswith("a_")
            await eventually_fn(lambda: raw.of("USER_UPDATE"))
            (update,) = raw.of("USER_UPDATE")
            assert update["username"] == "scribe two"
            assert update["avatar"] == user.avatar
            await eventually_fn(
                lambda: client.user is not None and client.user.name == "scribe two"
            )


async def test_other_bots_hear_no_user_update(sandbox: Sandbox, connect, eventually_fn) -> None:
    """USER_UPDATE goes to the changed bot's own sessions only."""
    scribe = sandbox.bot("scribe").id
    with anyio.fail_after(20):
        async with connect("herald", enable_debug_events=True, wait_ready=False) as other:
            raw = RawEvents(other)
            await other.ready.wait()
            status, body = await raw_request(
                sandbox, "PATCH", "/users/@me", json_body={"username": "renamed"}
            )
            assert status == 200
            assert body["username"] == "renamed"
            assert body["id"] == str(scribe)
            await anyio.sleep(0.2)
            assert raw.of("USER_UPDATE") == []


async def test_gif_avatar_is_animated_and_null_removes_it(sandbox: Sandbox) -> None:
    """A GIF's hash starts with a_; avatar null goes back to the default avatar."""
    status, body = await raw_request(
        sandbox, "PATCH", "/users/@me", json_body={"avatar": _data_uri("gif", GIF)}
    )
    assert status == 200
    assert body["avatar"].startswith("a_")
    status, body = await raw_request(sandbox, "PATCH", "/users/@me", json_body={"avatar": None})
    assert status == 200
    assert body["avatar"] is None
    assert sandbox.bot("scribe").user.avatar is None


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("x", "BASE_TYPE_BAD_LENGTH"),
        ("y" * 33, "BASE_TYPE_BAD_LENGTH"),
        ("my discord bot", "USERNAME_INVALID_CONTAINS"),
        ("a@b", "USERNAME_INVALID_CONTAINS"),
        ("a#b", "USERNAME_INVALID_CONTAINS"),
        ("a:b", "USERNAME_INVALID_CONTAINS"),
        ("a```b", "USERNAME_INVALID_CONTAINS"),
        ("everyone", "USERNAME_INVALID"),
        ("Here", "USERNAME_INVALID"),
        (42, "BASE_TYPE_STRING"),
    ],
)
async def test_bad_usernames_are_50035(sandbox: Sandbox, username: object, code: str) -> None:
    """Each documented username rule is a 400 50035 naming username; nothing changes."""
    before = sandbox.bot("scribe").user.username
    status, body = await raw_request(
        sandbox, "PATCH", "/users/@me", json_body={"username": username}
    )
    assert status == 400
    assert _problem(body, "username") == code
    assert sandbox.bot("scribe").user.username == before


@pytest.mark.parametrize(
    "avatar",
    ["not an image", "data:text/plain;base64,aGk=", "data:image/png;base64,@@@", 7],
)
async def test_bad_avatar_is_image_invalid(sandbox: Sandbox, avatar: object) -> None:
    """Anything but image data is 400 50035 IMAGE_INVALID on avatar."""
    status, body = await raw_request(
        sandbox, "PATCH", "/users/@me", json_body={"avatar": avatar, "username": "fine name"}
    )
    assert status == 400
    assert _problem(body, "avatar") == "IMAGE_INVALID"
    assert sandbox.bot("scribe").user.username == "scribe"


async def test_empty_body_changes_nothing(sandbox: Sandbox) -> None:
    """An empty object is allowed (every field is optional) and answers the user unchanged."""
    status, body = await raw_request(sandbox, "PATCH", "/users/@me", json_body={})
    assert status == 200
    assert body["username"] == "scribe"
