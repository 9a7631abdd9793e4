"""Reactions: add / remove (own or a user's), list who reacted, clear all or one emoji's.

The rules and dispatches are ``_reaction_ops``'; these handlers read the path and query.
"""

from __future__ import annotations

from .. import _reaction_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._serialize import user_json

router = Router()

_BASE = "/channels/{channel_id}/messages/{message_id}/reactions"


def _ids(call: Call) -> tuple[int, int]:
    return call.snowflake("channel_id"), call.snowflake("message_id")


def _emoji(call: Call) -> ops.Emoji:
    return ops.parse_emoji(call.request.match_info["emoji"])


@router.put(_BASE + "/{emoji}/@me")
async def add_reaction(call: Call) -> Reply:
    """``PUT .../reactions/{emoji}/@me``: 204; dispatches MESSAGE_REACTION_ADD."""
    channel_id, message_id = _ids(call)
    ops.add_reaction(call.state, call.me.id, channel_id, message_id, _emoji(call))
    return NO_CONTENT


@router.delete(_BASE + "/{emoji}/@me")
async def remove_own_reaction(call: Call) -> Reply:
    """``DELETE .../reactions/{emoji}/@me``: 204; dispatches MESSAGE_REACTION_REMOVE."""
    channel_id, message_id = _ids(call)
    me = call.me.id
    ops.remove_reaction(call.state, me, channel_id, message_id, _emoji(call), me)
    return NO_CONTENT


@router.delete(_BASE + "/{emoji}/{user_id}")
async def remove_user_reaction(call: Call) -> Reply:
    """``DELETE .../reactions/{emoji}/{user_id}``: someone's reaction (MANAGE_MESSAGES)."""
    channel_id, message_id = _ids(call)
    user_id = call.snowflake("user_id")
    ops.remove_reaction(call.state, call.me.id, channel_id, message_id, _emoji(call), user_id)
    return NO_CONTENT


@router.get(_BASE + "/{emoji}")
async def list_reaction_users(call: Call) -> Reply:
    """``GET .../reactions/{emoji}?after&limit``: users who reacted, by id (limit 1-100)."""
    channel_id, message_id = _ids(call)
    limit = call.query_int("limit", default=25, low=1, high=100)
    ids = ops.reaction_users(
        call.state,
        call.me.id,
        channel_id,
        message_id,
        _emoji(call),
        after=call.query_snowflake("after"),
        limit=limit,
    )
    return ok([user_json(call.state.users[uid]) for uid in ids])


@router.delete(_BASE + "/{emoji}")
async def clear_emoji(call: Call) -> Reply:
    """``DELETE .../reactions/{emoji}``: one emoji's reactions; MESSAGE_REACTION_REMOVE_EMOJI."""
    channel_id, message_id = _ids(call)
    ops.clear_reactions(call.state, call.me.id, channel_id, message_id, _emoji(call))
    return NO_CONTENT


@router.delete(_BASE)
async def clear_reactions(call: Call) -> Reply:
    """``DELETE .../reactions``: every reaction; MESSAGE_REACTION_REMOVE_ALL."""
    channel_id, message_id = _ids(call)
    ops.clear_reactions(call.state, call.me.id, channel_id, message_id, None)
    return NO_CONTENT
