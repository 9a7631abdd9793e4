"""Users: look one up, and open a DM with one."""

from __future__ import annotations

from .. import _errors as errors
from .._app import Call, Reply, Router, ok
from .._serialize import channel_json, user_json
from .._snowflake import parse_snowflake

router = Router()


@router.get("/users/{user_id}")
async def get_user(call: Call) -> Reply:
    """``GET /users/{user_id}``: any user by id (10013 Unknown User)."""
    user = call.state.users.get(call.snowflake("user_id"))
    if user is None:
        raise errors.unknown("User")
    return ok(user_json(user))


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
