"""The guild audit log: ``GET /guilds/{guild_id}/audit-logs`` (VIEW_AUDIT_LOG).

Filters ``user_id`` and ``action_type``; pages with ``before`` (newest first) or ``after``
(oldest first after it, as discord.py's ``oldest_first`` paging expects); ``limit`` 1-100.
"""

from __future__ import annotations

from .. import _guild_rules as rules
from .._app import Call, Reply, Router, ok
from .._serialize import channel_json
from .._serialize_guild import audit_log_json

router = Router()


@router.get("/guilds/{guild_id}/audit-logs")
async def get_audit_log(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/audit-logs?user_id&action_type&before&after&limit``."""
    me = call.me
    state = call.state
    guild = rules.guild_for(state, me.id, call.snowflake("guild_id"))
    user_id = call.query_snowflake("user_id")
    action_type = None
    if "action_type" in call.request.query:
        action_type = call.query_int("action_type", default=0, low=1, high=1 << 16)
    limit = call.query_int("limit", default=50, low=1, high=100)
    before = call.query_snowflake("before")
    after = call.query_snowflake("after")
    rules.require(guild, me.id, rules.VIEW_AUDIT_LOG)
    entries = rules.audit_entries(
        guild, user_id=user_id, action_type=action_type, before=before, after=after, limit=limit
    )
    targets = {e.target_id for e in entries}
    threads = [
        channel_json(state, state.channels[cid])
        for cid in sorted(t for t in targets if t is not None)
        if cid in state.channels and state.channels[cid].is_thread
    ]
    return ok(audit_log_json(entries, state.users, threads))
