"""Moderation tools: ``timeout_member``, ``kick_member``, ``ban_member``, ``unban_member``,
``list_bans``.

Each takes an optional ``reason`` that Discord records in the guild's audit log (and shows the
member for a ban). Discord answers a missing permission and a role-hierarchy problem with the
same 403, so a refusal names the permission and adds the hierarchy rule: the bot's highest role
must be above the member's, and the guild owner can never be moderated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors.discord_port import DiscordForbidden, DiscordNotFound, DiscordPort
from discord_io.ops import moderation as ops
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Member, Reason, Snowflake, iso, opt_id, to_id

T = TypeVar("T")

MAX_TIMEOUT_MINUTES = 40_320
"""28 days: Discord's longest timeout."""


_HIERARCHY = (
    " Discord also refuses when the bot's highest role is not above the member's highest role, "
    "or the member owns the guild: ask a server admin to grant the permission or move the "
    "bot's role higher."
)


class TimeoutResult(BaseModel):
    guild_id: str
    user_id: str
    timed_out_until: str | None = Field(
        description="When the timeout ends (ISO 8601, UTC); null: the member is not timed out."
    )
    member: Member


class Moderated(BaseModel):
    guild_id: str
    user_id: str
    action: str = Field(description="kicked, banned or unbanned.")
    reason: str | None = None


class Ban(BaseModel):
    user_id: str
    username: str
    is_bot: bool
    reason: str | None = Field(None, description="The reason recorded when the ban was made.")


class BanPage(BaseModel):
    guild_id: str
    bans: list[Ban] = Field(description="By ascending user id.")
    next_cursor: str | None = Field(
        None, description="Pass as after for the next page; null: this was the last page."
    )


@contextmanager
def _explained(not_found: str, *, hierarchy: bool = True) -> Iterator[None]:
    """Add what to do to Discord's 403 and 404 answers."""
    try:
        yield
    except DiscordForbidden as exc:
        advice = _HIERARCHY if hierarchy else " Ask a server admin to grant it to the bot."
        raise ToolError(f"{exc}.{advice}") from exc
    except DiscordNotFound as exc:
        raise ToolError(f"{exc}: {not_found}") from exc


def _until(
    minutes: int | None, until: dt.datetime | None, clear: bool, now: dt.datetime
) -> dt.datetime | None:
    """The end of the timeout the arguments ask for (None: lift it)."""
    given = sum((minutes is not None, until is not None, clear))
    if given != 1:
        raise ValueError(
            "give exactly one of minutes (1 to 40320; 0 lifts the timeout), until (an ISO 8601 "
            "time within 28 days) or clear=true"
        )
    if clear or minutes == 0:
        return None
    if minutes is not None:
        return now + dt.timedelta(minutes=minutes)
    assert until is not None
    if until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    if until <= now:
        raise ValueError(f"until must be in the future, not {iso(until)}; use clear to lift it")
    if until > now + ops.MAX_TIMEOUT:
        raise ValueError(f"until must be within 28 days (by {iso(now + ops.MAX_TIMEOUT)})")
    return until


def register(kit: ToolKit) -> None:
    async def run(operation: Callable[[DiscordPort], Awaitable[T]]) -> T:
        return await kit.caller().handle.call(operation)

    guild_hint = "check guild_id (list_guilds) and user_id (list_members or get_member)"

    @kit.tool(title="Time out a member", read_only=False, destructive=True, idempotent=True)
    async def timeout_member(
        guild_id: Snowflake,
        user_id: Snowflake,
        ctx: Context,
        minutes: Annotated[
            int | None,
            Field(
                ge=0,
                le=MAX_TIMEOUT_MINUTES,
                description="Time out for this many minutes from now (1 to 40320 = 28 days); "
                "0 lifts a timeout.",
            ),
        ] = None,
        until: Annotated[
            dt.datetime | None,
            Field(description="Or: time out until this ISO 8601 time (within 28 days)."),
        ] = None,
        clear: Annotated[bool, Field(description="Lift the member's timeout now.")] = False,
        reason: Reason = None,
    ) -> TimeoutResult:
        """Time a member out (they cannot send, react, speak or join voice), or lift a timeout.

        Give exactly one of minutes, until or clear. Repeating the call sets the end again; a
        later call replaces an earlier one. Needs the Moderate Members permission and a bot
        role above the member's; administrators cannot be timed out. The reason goes to the
        guild's audit log. Returns when the timeout ends (null once lifted).
        """
        gid, uid = to_id(guild_id, "guild_id"), to_id(user_id, "user_id")
        end = _until(minutes, until, clear, dt.datetime.now(dt.UTC))
        with _explained(guild_hint):
            member = await run(
                lambda port: ops.timeout_member(port, gid, uid, until=end, reason=reason)
            )
        return TimeoutResult(
            guild_id=guild_id, user_id=user_id, timed_out_until=iso(end), member=Member.of(member)
        )

    @kit.tool(title="Kick a member", read_only=False, destructive=True, idempotent=True)
    async def kick_member(
        guild_id: Snowflake, user_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> Moderated:
        """Remove a member from the guild. They can rejoin with an invite (ban_member keeps
        them out).

        Needs the Kick Members permission and a bot role above the member's. The reason goes
        to the audit log. Fails with "not found" if the user is not (or no longer) a member.
        """
        gid, uid = to_id(guild_id, "guild_id"), to_id(user_id, "user_id")
        with _explained(f"{guild_hint}; the user may have left or been kicked already"):
            await run(lambda port: ops.kick_member(port, gid, uid, reason=reason))
        return Moderated(guild_id=guild_id, user_id=user_id, action="kicked", reason=reason)

    @kit.tool(title="Ban a user", read_only=False, destructive=True, idempotent=True)
    async def ban_member(
        guild_id: Snowflake,
        user_id: Snowflake,
        ctx: Context,
        delete_message_seconds: Annotated[
            int,
            Field(
                ge=0,
                le=ops.MAX_BAN_DELETE_SECONDS,
                description="Also delete their messages from this many seconds back (0 to "
                "604800 = 7 days; 0 keeps them).",
            ),
        ] = 0,
        reason: Reason = None,
    ) -> Moderated:
        """Ban a user from the guild: they are removed and cannot rejoin until unbanned.

        Works for users who are not members (a pre-emptive ban). Optionally deletes their
        recent messages. Needs the Ban Members permission and a bot role above the member's.
        The reason goes to the audit log. Undo with unban_member.
        """
        gid, uid = to_id(guild_id, "guild_id"), to_id(user_id, "user_id")
        with _explained(guild_hint):
            await run(
                lambda port: ops.ban_member(
                    port, gid, uid, delete_message_seconds=delete_message_seconds, reason=reason
                )
            )
        return Moderated(guild_id=guild_id, user_id=user_id, action="banned", reason=reason)

    @kit.tool(title="Unban a user", read_only=False, destructive=False, idempotent=True)
    async def unban_member(
        guild_id: Snowflake, user_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> Moderated:
        """Lift a user's ban so they can rejoin with an invite (they are not re-added).

        Needs the Ban Members permission. Fails with "not found" when the user is not banned
        (list_bans shows who is). The reason goes to the audit log.
        """
        gid, uid = to_id(guild_id, "guild_id"), to_id(user_id, "user_id")
        with _explained("the user is not banned there: list_bans shows who is", hierarchy=False):
            await run(lambda port: ops.unban_member(port, gid, uid, reason=reason))
        return Moderated(guild_id=guild_id, user_id=user_id, action="unbanned", reason=reason)

    @kit.tool(title="List bans", read_only=True)
    async def list_bans(
        guild_id: Snowflake,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=1000, description="Bans per page.")] = 100,
        after: Annotated[
            Snowflake | None,
            Field(description="Only bans of user ids above this: next_cursor of a page."),
        ] = None,
    ) -> BanPage:
        """List the guild's bans: who is banned and the reason recorded.

        Pages by user id: pass next_cursor as after until it is null. Needs the Ban Members
        permission.
        """
        gid, start = to_id(guild_id, "guild_id"), opt_id(after, "after")
        with _explained(
            "check guild_id: list_guilds gives the ones this agent can use", hierarchy=False
        ):
            bans = await run(lambda port: ops.list_bans(port, gid, limit=limit, after=start))
        more = len(bans) >= limit
        return BanPage(
            guild_id=guild_id,
            bans=[
                Ban(user_id=str(b.user_id), username=b.username, is_bot=b.bot, reason=b.reason)
                for b in bans
            ],
            next_cursor=str(bans[-1].user_id) if more and bans else None,
        )


__all__ = ["Ban", "BanPage", "Moderated", "TimeoutResult", "register"]
