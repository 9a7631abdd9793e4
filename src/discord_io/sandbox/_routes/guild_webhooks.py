"""A guild's webhooks: ``GET /guilds/{guild_id}/webhooks`` (MANAGE_WEBHOOKS).

Channel webhooks (create, execute, edit) live with the channel endpoints; this lists them all.
"""

from __future__ import annotations

from .. import _guild_rules as rules
from .._app import Call, Reply, Router, ok
from .._serialize import webhook_json

router = Router()


@router.get("/guilds/{guild_id}/webhooks")
async def list_guild_webhooks(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/webhooks``: every webhook of the guild, oldest first."""
    me = call.me
    state = call.state
    guild = rules.guild_for(state, me.id, call.snowflake("guild_id"))
    rules.require(guild, me.id, rules.MANAGE_WEBHOOKS)
    hooks = sorted(
        (w for w in state.webhooks.values() if w.guild_id == guild.id), key=lambda w: w.id
    )
    return ok([webhook_json(state, w) for w in hooks])
