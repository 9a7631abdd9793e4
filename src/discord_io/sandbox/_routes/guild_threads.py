"""Active guild threads: ``GET /guilds/{guild_id}/threads/active``.

Unarchived threads the bot can see, highest id first, with a thread member object for each one
the bot has joined.
"""

from __future__ import annotations

from .. import _guild_ops as ops
from .._app import Call, Reply, Router, ok
from .._serialize import channel_json, thread_member_json

router = Router()


@router.get("/guilds/{guild_id}/threads/active")
async def list_active_threads(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/threads/active``: ``{threads, members, has_more}``."""
    me = call.me
    threads = ops.active_threads(call.state, me.id, call.snowflake("guild_id"))
    return ok(
        {
            "threads": [channel_json(call.state, t, viewer_id=me.id) for t in threads],
            "members": [
                thread_member_json(t, me.id)
                for t in threads
                if t.thread is not None and me.id in t.thread.member_ids
            ],
            "has_more": False,
        }
    )
