"""Moderation: timeouts, kicks and bans, each with its reason in the guild's audit log.

Discord's rules, as the errors explain them: a timeout needs ``moderate_members``, a kick
``kick_members``, a ban or unban ``ban_members``; all of them also need the bot's highest role
above the member's (and never reach the guild owner), which Discord reports as the same 403
Missing Permissions, so the tools add that to the message. ``reason`` goes to the audit log
through ``X-Audit-Log-Reason``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from actors.discord_port import DiscordPort, MemberInfo
from discord_io._translate import member_from_payload

MAX_TIMEOUT = dt.timedelta(days=28)
"""The longest timeout Discord accepts (40320 minutes)."""
MAX_BAN_DELETE_SECONDS = 604_800
"""A ban deletes at most the last 7 days of the member's messages."""
MAX_BANS_PAGE = 1000


@attrs.frozen
class BanInfo:
    """One ban: who, and the reason recorded with it."""

    guild_id: int
    user_id: int
    username: str
    bot: bool
    reason: str | None = None


def _ids(guild_id: int, user_id: int) -> dict[str, int]:
    return {"guild_id": guild_id, "user_id": user_id}


async def timeout_member(
    port: DiscordPort,
    guild_id: int,
    user_id: int,
    *,
    until: dt.datetime | None,
    reason: str | None = None,
) -> MemberInfo:
    """Time the member out until ``until`` (at most 28 days ahead), or lift it with None."""
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    value = None if until is None else until.astimezone(dt.UTC).isoformat()
    data = await port.rest(
        "PATCH",
        "/guilds/{guild_id}/members/{user_id}",
        action=(
            f"time out member {user_id} of guild {guild_id}"
            if until is not None
            else f"lift the timeout of member {user_id} of guild {guild_id}"
        ),
        json={"communication_disabled_until": value},
        reason=reason,
        permission="moderate_members",
        what=f"member {user_id} of guild {guild_id}",
        ids=_ids(guild_id, user_id),
    )
    return member_from_payload(data, guild_id)


async def kick_member(
    port: DiscordPort, guild_id: int, user_id: int, *, reason: str | None = None
) -> None:
    """Remove the member from the guild (they may rejoin with an invite)."""
    await port.rest(
        "DELETE",
        "/guilds/{guild_id}/members/{user_id}",
        action=f"kick member {user_id} from guild {guild_id}",
        reason=reason,
        permission="kick_members",
        what=f"member {user_id} of guild {guild_id}",
        ids=_ids(guild_id, user_id),
    )


async def ban_member(
    port: DiscordPort,
    guild_id: int,
    user_id: int,
    *,
    delete_message_seconds: int = 0,
    reason: str | None = None,
) -> None:
    """Ban the user (member or not), deleting their last ``delete_message_seconds`` of
    messages (0 to 604800)."""
    if not 0 <= delete_message_seconds <= MAX_BAN_DELETE_SECONDS:
        raise ValueError(
            f"delete_message_seconds must be 0 to {MAX_BAN_DELETE_SECONDS} (7 days), "
            f"not {delete_message_seconds}"
        )
    await port.rest(
        "PUT",
        "/guilds/{guild_id}/bans/{user_id}",
        action=f"ban user {user_id} from guild {guild_id}",
        json={"delete_message_seconds": delete_message_seconds},
        reason=reason,
        permission="ban_members",
        what=f"user {user_id} or guild {guild_id}",
        ids=_ids(guild_id, user_id),
    )


async def unban_member(
    port: DiscordPort, guild_id: int, user_id: int, *, reason: str | None = None
) -> None:
    """Lift the user's ban (404 when there is none)."""
    await port.rest(
        "DELETE",
        "/guilds/{guild_id}/bans/{user_id}",
        action=f"unban user {user_id} in guild {guild_id}",
        reason=reason,
        permission="ban_members",
        what=f"a ban of user {user_id} in guild {guild_id}",
        ids=_ids(guild_id, user_id),
    )


def ban_from_payload(data: Any, guild_id: int) -> BanInfo:
    user = data["user"]
    return BanInfo(
        guild_id=guild_id,
        user_id=int(user["id"]),
        username=str(user["username"]),
        bot=bool(user.get("bot", False)),
        reason=data.get("reason"),
    )


async def list_bans(
    port: DiscordPort, guild_id: int, *, limit: int = 100, after: int | None = None
) -> list[BanInfo]:
    """Up to ``limit`` (1 to 1000) bans with a user id above ``after``, by ascending user id."""
    if not 1 <= limit <= MAX_BANS_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_BANS_PAGE}, not {limit}")
    query: dict[str, str | int] = {"limit": limit}
    if after is not None:
        query["after"] = after
    data = await port.rest(
        "GET",
        "/guilds/{guild_id}/bans",
        action=f"list the bans of guild {guild_id}",
        query=query,
        permission="ban_members",
        what=f"guild {guild_id}",
        ids={"guild_id": guild_id},
    )
    bans = [ban_from_payload(b, guild_id) for b in data]
    return sorted(bans, key=lambda b: b.user_id)


__all__ = [
    "MAX_BAN_DELETE_SECONDS",
    "MAX_TIMEOUT",
    "BanInfo",
    "ban_from_payload",
    "ban_member",
    "kick_member",
    "list_bans",
    "timeout_member",
    "unban_member",
]
