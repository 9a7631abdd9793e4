"""Guilds: the guild object and its channel list."""

from __future__ import annotations

from .._app import Call, Reply, Router, ok
from .._serialize import channel_json, guild_json

router = Router()


@router.get("/guilds/{guild_id}")
async def get_guild(call: Call) -> Reply:
    """``GET /guilds/{guild_id}`` (``?with_counts=true`` adds approximate counts)."""
    guild = call.state.visible_guild(call.me.id, call.snowflake("guild_id"))
    counts = None
    if call.request.query.get("with_counts", "").lower() == "true":
        online = sum(1 for uid in guild.members if call.state.users[uid].status != "offline")
        counts = (len(guild.members), online)
    return ok(guild_json(guild, counts=counts))


@router.get("/guilds/{guild_id}/channels")
async def list_guild_channels(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/channels``: channels the bot can see, threads excluded."""
    me = call.me
    state = call.state
    guild = state.visible_guild(me.id, call.snowflake("guild_id"))
    return ok(
        [
            channel_json(state, channel)
            for channel in state.guild_channels(guild)
            if not channel.is_thread and state.can_view(me.id, channel)
        ]
    )
