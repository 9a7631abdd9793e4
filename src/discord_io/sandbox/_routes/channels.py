"""Channels: the channel object and the typing indicator."""

from __future__ import annotations

from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._serialize import channel_json

router = Router()


@router.get("/channels/{channel_id}")
async def get_channel(call: Call) -> Reply:
    """``GET /channels/{channel_id}`` (10003 Unknown Channel, 50001 Missing Access)."""
    me = call.me
    channel = call.state.visible_channel(me.id, call.snowflake("channel_id"))
    return ok(channel_json(call.state, channel, viewer_id=me.id))


@router.post("/channels/{channel_id}/typing")
async def trigger_typing(call: Call) -> Reply:
    """``POST /channels/{channel_id}/typing``: dispatches TYPING_START; answers 204."""
    call.state.trigger_typing(call.me.id, call.snowflake("channel_id"))
    return NO_CONTENT
