"""Guild tools: ``list_guilds`` (where the agent's bot is) and ``get_guild`` (one, with channels).

The guild list comes from the agent's gateway session (Discord sends every guild at READY and
keeps it current), so ``list_guilds`` costs no REST request; ``get_guild`` adds one
(``GET /guilds/{id}/channels``) to give the guild's channels in the same answer. Both are read
only and go through :meth:`~actors.AgentHandle.call`: they fail at once, with advice, while the
agent is not connected.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Channel, Guild, Snowflake, not_found_hint, to_id


class GuildList(BaseModel):
    guilds: list[Guild] = Field(description="Every guild (server) this agent's bot is in.")


class GuildDetail(Guild):
    """A guild and its channels."""

    channels: list[Channel] = Field(
        description="The guild's channels this bot can see, in Discord's order."
    )


def register(kit: ToolKit) -> None:
    @kit.tool(title="List guilds", read_only=True)
    async def list_guilds(ctx: Context) -> GuildList:
        """List the Discord servers (guilds) this agent's bot is a member of.

        Start here: it gives the guild ids that list_channels and list_members take. An empty
        list means the bot has not been invited to any server yet.
        """
        guilds = await kit.caller().handle.call(lambda port: port.list_guilds())
        return GuildList(guilds=[Guild.of(g) for g in sorted(guilds, key=lambda g: g.id)])

    @kit.tool(title="Get a guild", read_only=True)
    async def get_guild(guild_id: Snowflake, ctx: Context) -> GuildDetail:
        """Get one guild (server) by id, with its channels (ids, names, types, categories).

        Use it to find a channel by name before reading or posting. The guild must be one
        list_guilds returns: a bot sees only servers it was invited to.
        """
        gid = to_id(guild_id, "guild_id")
        handle = kit.caller().handle
        guilds = await handle.call(lambda port: port.list_guilds())
        found = next((g for g in guilds if g.id == gid), None)
        if found is None:
            raise ToolError(
                f"guild {guild_id} is not one this agent's bot is in: call list_guilds for the "
                "ids it can use (the bot must be invited to a server to see it)"
            )
        with not_found_hint("the bot may have just left it; call list_guilds"):
            channels = await handle.call(lambda port: port.list_channels(gid))
        guild = Guild.of(found)
        return GuildDetail(**guild.model_dump(), channels=[Channel.of(c) for c in channels])


__all__ = ["GuildDetail", "GuildList", "register"]
