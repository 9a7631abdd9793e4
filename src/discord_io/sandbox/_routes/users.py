"""Users: look one up, change the bot's own (``PATCH /users/@me``), open a DM with one.

``PATCH /users/@me`` follows Discord's documented rules (all fields optional; unknown ones
ignored): a ``username`` is trimmed and its internal whitespace collapsed, must be 2 to 32
characters, must not contain ``@``, ``#``, ``:``, a code fence or "discord", and must not be
"everyone" or "here"; an ``avatar`` or ``banner`` is image data (a ``data:image/...;base64,``
URI of PNG, JPEG, GIF or WebP) or null to remove it. Every problem is a 400 50035 naming its
field. The answer is the bot's own user, and its sessions get USER_UPDATE.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from .. import _errors as errors
from .._app import Call, Reply, Router, ok
from .._events import Dispatch
from .._serialize import channel_json, self_user_json, user_json
from .._snowflake import parse_snowflake
from ._args import Problems, fail_on

router = Router()

USERNAME_MIN, USERNAME_MAX = 2, 32
_FORBIDDEN_SUBSTRINGS = ("@", "#", ":", "```", "discord")
_FORBIDDEN_NAMES = ("everyone", "here")
_IMAGE_URI = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp);base64,(.*)$", re.DOTALL)


def _username(value: Any, problems: Problems) -> str | None:
    """A checked, sanitised username (None with a problem recorded when it is refused)."""
    key = "username"
    if not isinstance(value, str):
        problems[key] = [("BASE_TYPE_STRING", f'Could not interpret "{value}" as string.')]
        return None
    name = " ".join(value.split())
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        problems[key] = [
            (
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {USERNAME_MIN} and {USERNAME_MAX} in length.",
            )
        ]
        return None
    lowered = name.lower()
    for word in _FORBIDDEN_SUBSTRINGS:
        if word in lowered:
            problems[key] = [("USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"')]
            return None
    if lowered in _FORBIDDEN_NAMES:
        problems[key] = [("USERNAME_INVALID", f'Username cannot be "{lowered}"')]
        return None
    return name


def _image_hash(value: Any, key: str, problems: Problems) -> str | None:
    """The hash stored for image data (``a_`` first for a GIF, as Discord marks animated)."""
    match = _IMAGE_URI.match(value) if isinstance(value, str) else None
    raw = b""
    if match is not None:
        try:
            raw = base64.b64decode(match[2], validate=True)
        except (binascii.Error, ValueError):
            match = None
    if match is None or not raw:
        problems[key] = [("IMAGE_INVALID", "Invalid image data")]
        return None
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    return f"a_{digest}" if match[1] == "gif" else digest


@router.get("/users/{user_id}")
async def get_user(call: Call) -> Reply:
    """``GET /users/{user_id}``: any user by id (10013 Unknown User)."""
    user = call.state.users.get(call.snowflake("user_id"))
    if user is None:
        raise errors.unknown("User")
    return ok(user_json(user))


@router.patch("/users/@me")
async def modify_current_user(call: Call) -> Reply:
    """``PATCH /users/@me`` ``{username?, avatar?, banner?}``: the bot's user; USER_UPDATE."""
    body = await call.json(empty={})
    problems: Problems = {}
    username = _username(body["username"], problems) if "username" in body else None
    avatar = None
    if body.get("avatar") is not None:
        avatar = _image_hash(body["avatar"], "avatar", problems)
    if body.get("banner") is not None:
        _image_hash(body["banner"], "banner", problems)  # checked; the sandbox keeps no banners
    fail_on(problems)
    user = call.me.user
    changed = False
    if username is not None and username != user.username:
        user.username = username
        changed = True
    if "avatar" in body and avatar != user.avatar:
        user.avatar = avatar
        changed = True
    data = self_user_json(user)
    if changed:
        call.state.publish(Dispatch("USER_UPDATE", data, 0, user_ids=frozenset({user.id})))
    return ok(data)


@router.post("/users/@me/channels")
async def create_dm(call: Call) -> Reply:
    """``POST /users/@me/channels`` ``{recipient_id}``: the DM channel with a user."""
    body = await call.json()
    raw = body.get("recipient_id")
    recipient = parse_snowflake(raw)
    if recipient is None:
        raise errors.form_error(
            {"recipient_id": [("NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')]}
        )
    if recipient not in call.state.users:
        raise errors.unknown("User")
    me = call.me
    channel = call.state.open_dm(me.id, recipient)
    return ok(channel_json(call.state, channel, viewer_id=me.id))
