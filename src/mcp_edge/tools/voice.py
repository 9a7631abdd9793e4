"""``list_voice_states``: who is in which voice channel, muted, deafened or streaming.

Discord has no REST route that lists a guild's voice states; the list is the agent's gateway
view (see :mod:`discord_io.ops.voice`). Asking about one ``user_id`` asks Discord live instead.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from discord_io.ops import voice as ops
from discord_io.ops.voice import VoiceStateInfo
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Snowflake, not_found_hint, opt_id, to_id


class VoiceState(BaseModel):
    """One member connected to a voice (or stage) channel."""

    channel_id: str
    user_id: str
    username: str | None = Field(None, description="Null when Discord did not say.")
    display_name: str | None = None
    server_mute: bool = Field(description="Muted by a moderator.")
    server_deaf: bool = Field(description="Deafened by a moderator.")
    self_mute: bool
    self_deaf: bool
    streaming: bool = Field(description="Sharing their screen (Go Live).")
    video: bool = Field(description="Camera on.")
    suppressed: bool = Field(description="In a stage channel without speaking rights.")

    @classmethod
    def of(cls, v: VoiceStateInfo) -> VoiceState:
        return cls(
            channel_id=str(v.channel_id),
            user_id=str(v.user_id),
            username=v.username,
            display_name=v.display_name,
            server_mute=v.mute,
            server_deaf=v.deaf,
            self_mute=v.self_mute,
            self_deaf=v.self_deaf,
            streaming=v.self_stream,
            video=v.self_video,
            suppressed=v.suppress,
        )


class VoiceStates(BaseModel):
    guild_id: str
    voice_states: list[VoiceState] = Field(description="By channel, then user id.")
    live: bool = Field(
        description="true: asked of Discord just now (one user_id); false: the agent's gateway "
        "view of the whole guild."
    )


def register(kit: ToolKit) -> None:
    @kit.tool(title="List voice states", read_only=True)
    async def list_voice_states(
        guild_id: Snowflake,
        ctx: Context,
        channel_id: Annotated[
            Snowflake | None, Field(description="Only this voice channel.")
        ] = None,
        user_id: Annotated[
            Snowflake | None,
            Field(description="Only this user, asked of Discord live (empty: not in voice)."),
        ] = None,
    ) -> VoiceStates:
        """Who is in the guild's voice channels right now: per member the channel, whether a
        moderator muted or deafened them, whether they muted or deafened themselves, and
        whether they stream or have video on.

        The whole list is the agent's gateway view of the guild; pass user_id to ask Discord
        about one member live. An empty list means nobody is in voice (or, with user_id, that
        member is not).
        """
        gid = to_id(guild_id, "guild_id")
        cid, uid = opt_id(channel_id, "channel_id"), opt_id(user_id, "user_id")
        handle = kit.caller().handle
        with not_found_hint("check guild_id: list_guilds gives the ones this agent can use"):
            if uid is not None:
                one = await handle.call(lambda port: ops.voice_state_of(port, gid, uid))
                states = [] if one is None else [one]
            else:
                states = await handle.call(lambda port: ops.list_voice_states(port, gid))
        if cid is not None:
            states = [s for s in states if s.channel_id == cid]
        return VoiceStates(
            guild_id=guild_id, voice_states=[VoiceState.of(s) for s in states], live=uid is not None
        )


__all__ = ["VoiceState", "VoiceStates", "register"]
