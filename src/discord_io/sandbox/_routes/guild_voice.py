"""Guild voice states: ``GET /guilds/{guild_id}/voice-states/@me`` and ``/{user_id}``.

A user not connected to voice answers 404 10065 Unknown Voice State. (The seed's voice states
also arrive in GUILD_CREATE's ``voice_states``.)
"""

from __future__ import annotations

from .. import _guild_ops as ops
from .._app import Call, Reply, Router, ok
from .._model import VoiceState
from .._serialize import voice_state_json
from .._serialize_guild import member_event_json

router = Router()


def _voice_json(call: Call, guild_id: int, voice: VoiceState) -> Reply:
    out = voice_state_json(guild_id, voice)
    member = call.state.guilds[guild_id].members.get(voice.user_id)
    if member is not None:
        out["member"] = member_event_json(guild_id, member, call.state.users[voice.user_id])
        del out["member"]["guild_id"]
    return ok(out)


@router.get("/guilds/{guild_id}/voice-states/@me")
async def get_my_voice_state(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/voice-states/@me``."""
    guild_id = call.snowflake("guild_id")
    voice = ops.voice_state(call.state, call.me.id, guild_id, call.me.id)
    return _voice_json(call, guild_id, voice)


@router.get("/guilds/{guild_id}/voice-states/{user_id}")
async def get_voice_state(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/voice-states/{user_id}``."""
    guild_id = call.snowflake("guild_id")
    voice = ops.voice_state(call.state, call.me.id, guild_id, call.snowflake("user_id"))
    return _voice_json(call, guild_id, voice)
