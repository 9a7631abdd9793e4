"""Member tools: ``list_members`` (paged by user id) and ``get_member``.

Listing a guild's members needs Discord's privileged Server Members intent (``guild_members``):
without it Discord answers 403 Missing Access, which ``discord_io`` turns into
:class:`~actors.discord_port.DiscordForbidden` with ``permission="guild_members intent ..."``.
The tool turns that into a ToolError that says who can fix it (the server's operator, in the
developer portal and the agent's capabilities) and what works meanwhile (``get_member`` by id
needs no intent). Pages follow Discord's own order, ascending user id: ``next_cursor`` is the
last user id of a full page, passed back as ``after``.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import DiscordForbidden
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Member, Snowflake, not_found_hint, opt_id, to_id


class MemberPage(BaseModel):
    guild_id: str
    members: list[Member] = Field(description="By ascending user id.")
    next_cursor: str | None = Field(
        default=None,
        description="Pass as after to get the next page; null: this was the last page.",
    )


def register(kit: ToolKit) -> None:
    @kit.tool(title="List members", read_only=True)
    async def list_members(
        guild_id: Snowflake,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=1000, description="Members per page.")] = 100,
        after: Annotated[
            Snowflake | None,
            Field(description="Only members with a user id above this: next_cursor of a page."),
        ] = None,
    ) -> MemberPage:
        """List a guild's members (users and bots): names, nicknames, roles, join dates.

        Pages by user id: keep passing next_cursor as after until it is null. Needs the
        agent's Server Members intent; without it the call fails -- use get_member for a user
        whose id you know (from a message's author_id, say), which needs no intent.
        """
        gid = to_id(guild_id, "guild_id")
        start = opt_id(after, "after")
        handle = kit.caller().handle
        try:
            with not_found_hint("call list_guilds for the guild ids this agent can use"):
                members = await handle.call(
                    lambda port: port.list_members(gid, limit=limit, after=start)
                )
        except DiscordForbidden as exc:
            if exc.permission is None or "intent" not in exc.permission:
                raise
            raise ToolError(
                f"{exc}. This agent cannot list members: ask the server's operator to enable "
                "the Server Members intent for its bot (Bot → Privileged Gateway Intents in the "
                "developer portal) and the agent's members capability. Meanwhile get_member "
                "works for a user id you already know."
            ) from exc
        ordered = sorted(members, key=lambda m: m.user_id)
        more = len(ordered) >= limit
        return MemberPage(
            guild_id=guild_id,
            members=[Member.of(m) for m in ordered],
            next_cursor=str(ordered[-1].user_id) if more and ordered else None,
        )

    @kit.tool(title="Get a member", read_only=True)
    async def get_member(guild_id: Snowflake, user_id: Snowflake, ctx: Context) -> Member:
        """Get one member of a guild by user id: username, display name, nickname, roles.

        Use it to learn who wrote a message (its author_id) or who reacted. Fails with "not
        found" when that user is not (or no longer) in the guild.
        """
        gid, uid = to_id(guild_id, "guild_id"), to_id(user_id, "user_id")
        with not_found_hint(
            "check guild_id (list_guilds gives them) and user_id: the user may not be (or no "
            "longer be) in this guild"
        ):
            member = await kit.caller().handle.call(lambda port: port.get_member(gid, uid))
        return Member.of(member)


__all__ = ["MemberPage", "register"]
