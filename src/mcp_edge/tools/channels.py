"""Channel tools: ``list_channels`` of a guild (optionally of some types) and ``get_channel``.

Both are one REST read each through :meth:`~actors.AgentHandle.call`. Channel types are given
and returned by name (``text``, ``voice``, ``category``, ``forum``, ``public_thread`` ...), not
by Discord's numbers; a type Discord adds later comes back as ``unknown_<n>``. A 404 becomes
a ToolError naming the id and saying where valid ids come from.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Channel, ChannelType, Snowflake, not_found_hint, to_id


class ChannelList(BaseModel):
    guild_id: str
    channels: list[Channel] = Field(description="In Discord's order; categories included.")


def register(kit: ToolKit) -> None:
    @kit.tool(title="List channels", read_only=True)
    async def list_channels(
        guild_id: Snowflake,
        ctx: Context,
        types: Annotated[
            list[ChannelType] | None,
            Field(
                max_length=13,
                description='Only channels of these types, e.g. ["text", "announcement"] for '
                "the ones you can post in. Omit for all.",
            ),
        ] = None,
    ) -> ChannelList:
        """List a guild's channels this agent's bot can see: ids, names, types, topics.

        Use it to find where to read or post (text and announcement channels, threads).
        parent_id is the channel's category (or a thread's channel). Get guild ids from
        list_guilds.
        """
        gid = to_id(guild_id, "guild_id")
        with not_found_hint("call list_guilds for the guild ids this agent can use"):
            channels = await kit.caller().handle.call(lambda port: port.list_channels(gid))
        out = [Channel.of(c) for c in channels]
        if types is not None:
            wanted = set(types)
            out = [c for c in out if c.type in wanted]
        return ChannelList(guild_id=guild_id, channels=out)

    @kit.tool(title="Get a channel", read_only=True)
    async def get_channel(channel_id: Snowflake, ctx: Context) -> Channel:
        """Get one channel, thread or DM channel by id: its name, type, guild, category, topic.

        Use it to check what an id from a message or event refers to before acting on it.
        """
        cid = to_id(channel_id, "channel_id")
        with not_found_hint("check the id; list_channels gives the channels of a guild"):
            channel = await kit.caller().handle.call(lambda port: port.get_channel(cid))
        return Channel.of(channel)


__all__ = ["ChannelList", "register"]
