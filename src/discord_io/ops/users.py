"""The bot's own user (read and change its name and avatar) and its DM channels.

An avatar goes to Discord as image data: a data URI ``data:image/png;base64,...`` (PNG, JPEG,
GIF or WebP), built here from the raw bytes after checking what image they are.
"""

from __future__ import annotations

import base64
import enum
from typing import Any

import attrs

from actors.discord_port import ChannelInfo, DiscordPort
from discord_io._translate import channel_from_payload

CDN = "https://cdn.discordapp.com"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@attrs.frozen
class UserInfo:
    """A Discord user (the bot's own, here)."""

    id: int
    username: str
    global_name: str | None
    avatar: str | None
    """The avatar's hash (None: the default avatar)."""
    bot: bool

    @property
    def avatar_url(self) -> str | None:
        if self.avatar is None:
            return None
        ext = "gif" if self.avatar.startswith("a_") else "png"
        return f"{CDN}/avatars/{self.id}/{self.avatar}.{ext}"


def user_from_payload(data: Any) -> UserInfo:
    return UserInfo(
        id=int(data["id"]),
        username=str(data["username"]),
        global_name=data.get("global_name"),
        avatar=data.get("avatar"),
        bot=bool(data.get("bot", False)),
    )


def image_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes; None for anything else."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_data_uri(data: bytes, field: str = "avatar") -> str:
    """``data`` as Discord's image data; ``ValueError`` naming ``field`` if not an image."""
    kind = image_type(data)
    if kind is None:
        raise ValueError(f"{field} must be a PNG, JPEG, GIF or WebP image")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


async def current_user(port: DiscordPort) -> UserInfo:
    """The bot's own user (``GET /users/@me``)."""
    data = await port.rest(
        "GET", "/users/@me", action="read the bot's own user", what="the bot's user"
    )
    return user_from_payload(data)


class Keep(enum.Enum):
    """The avatar argument's default: leave the avatar as it is."""

    KEEP = "keep"


async def modify_current_user(
    port: DiscordPort, *, username: str | None = None, avatar: bytes | Keep | None = Keep.KEEP
) -> UserInfo:
    """Change the bot's username and/or avatar (bytes; None removes it); returns the user."""
    body: dict[str, Any] = {}
    if username is not None:
        body["username"] = username
    if avatar is not Keep.KEEP:
        body["avatar"] = None if avatar is None else image_data_uri(avatar)
    if not body:
        raise ValueError("give a username or an avatar to change")
    data = await port.rest(
        "PATCH",
        "/users/@me",
        action="change the bot's profile",
        json=body,
        what="the bot's user",
    )
    return user_from_payload(data)


async def open_dm(port: DiscordPort, user_id: int) -> ChannelInfo:
    """The DM channel with ``user_id`` (Discord answers the same one every time)."""
    data = await port.rest(
        "POST",
        "/users/@me/channels",
        action=f"open a DM with user {user_id}",
        json={"recipient_id": str(user_id)},
        what=f"user {user_id}",
        ids={"user_id": user_id},
    )
    return channel_from_payload(data)


__all__ = [
    "Keep",
    "UserInfo",
    "current_user",
    "image_data_uri",
    "image_type",
    "modify_current_user",
    "open_dm",
    "user_from_payload",
]
