"""Moderation: kick (``DELETE /guilds/{id}/members/{user_id}``) and bans.

Kick needs KICK_MEMBERS, bans BAN_MEMBERS, and both need the actor to outrank the member.
They dispatch GUILD_MEMBER_REMOVE (and GUILD_BAN_ADD/REMOVE under GUILD_MODERATION) and
record audit log entries with the ``X-Audit-Log-Reason``.
"""

from __future__ import annotations

from .. import _moderation_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._guild_rules import MAX_BAN_DELETE_SECONDS
from .._serialize_guild import ban_json
from ._args import Problems, audit_reason, fail_on, integer

router = Router()


@router.delete("/guilds/{guild_id}/members/{user_id}")
async def kick_member(call: Call) -> Reply:
    """``DELETE /guilds/{guild_id}/members/{user_id}``: 204; GUILD_MEMBER_REMOVE."""
    ops.kick(
        call.state,
        call.me.id,
        call.snowflake("guild_id"),
        call.snowflake("user_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.get("/guilds/{guild_id}/bans")
async def list_bans(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/bans?limit&before&after``: by ascending user id."""
    guild_id = call.snowflake("guild_id")
    limit = call.query_int("limit", default=1000, low=1, high=1000)
    bans = ops.list_bans(
        call.state,
        call.me.id,
        guild_id,
        limit=limit,
        before=call.query_snowflake("before"),
        after=call.query_snowflake("after"),
    )
    users = call.state.users
    return ok([ban_json(b, users[b.user_id]) for b in bans])


@router.get("/guilds/{guild_id}/bans/{user_id}")
async def get_ban(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/bans/{user_id}`` (10026 Unknown Ban)."""
    found = ops.get_ban(
        call.state, call.me.id, call.snowflake("guild_id"), call.snowflake("user_id")
    )
    return ok(ban_json(found, call.state.users[found.user_id]))


@router.put("/guilds/{guild_id}/bans/{user_id}")
async def create_ban(call: Call) -> Reply:
    """``PUT /guilds/{guild_id}/bans/{user_id}``: 204; GUILD_BAN_ADD, GUILD_MEMBER_REMOVE.

    ``delete_message_seconds`` (0-604800) or the older ``delete_message_days`` (0-7) come in
    the JSON body or, as discord.py sends them, the query string.
    """
    guild_id, user_id = call.snowflake("guild_id"), call.snowflake("user_id")
    payload = await call.json(empty={})
    for key in ("delete_message_seconds", "delete_message_days"):
        if key not in payload and key in call.request.query:
            payload[key] = call.request.query[key]
    problems: Problems = {}
    seconds = integer(
        payload, "delete_message_seconds", problems, low=0, high=MAX_BAN_DELETE_SECONDS
    )
    days = integer(payload, "delete_message_days", problems, low=0, high=7)
    fail_on(problems)
    if seconds is None:
        seconds = (days or 0) * 86400
    ops.ban(
        call.state,
        call.me.id,
        guild_id,
        user_id,
        delete_message_seconds=seconds,
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.delete("/guilds/{guild_id}/bans/{user_id}")
async def remove_ban(call: Call) -> Reply:
    """``DELETE /guilds/{guild_id}/bans/{user_id}``: 204; GUILD_BAN_REMOVE."""
    ops.unban(
        call.state,
        call.me.id,
        call.snowflake("guild_id"),
        call.snowflake("user_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT
