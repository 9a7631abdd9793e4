"""discord.py's exceptions, translated into the port's typed :class:`DiscordError` tree.

One function, :func:`translate_error`, called at the edge of every REST call. It names what
Discord's JSON error code tells (``10008`` → "message 123 in channel 456") and what the
operation needed (a 403 ``50013`` on a send → the ``send_messages`` permission), so that the
message an agent finally reads says what to do next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import discord

from actors import RateLimitScope
from actors.discord_port import (
    AgentLoginFailed,
    DiscordBadRequest,
    DiscordError,
    DiscordForbidden,
    DiscordNotFound,
    DiscordRateLimited,
    DiscordUnavailable,
)

MISSING_ACCESS = 50001
"""403: the bot cannot see the channel or guild at all."""

# Discord's "Unknown X" codes and the id (of ``ids``) that names the missing thing.
_UNKNOWN: Mapping[int, str] = {
    10003: "channel",
    10004: "guild",
    10007: "member",
    10008: "message",
    10013: "user",
    10014: "emoji",
}


def describe(kind: str, ids: Mapping[str, object]) -> str:
    """``message 1 in channel 2``, ``channel 2``, ``member 3 of guild 4``, ``emoji '👍'``."""
    if kind == "message" and "message" in ids:
        where = f" in channel {ids['channel']}" if "channel" in ids else ""
        return f"message {ids['message']}{where}"
    if kind == "member" and "user" in ids:
        where = f" of guild {ids['guild']}" if "guild" in ids else ""
        return f"member {ids['user']}{where}"
    if kind == "emoji" and "emoji" in ids:
        return f"emoji {ids['emoji']!r}"
    if kind in ids:
        return f"{kind} {ids[kind]}"
    return kind


def _flatten(errors: Any, prefix: str = "") -> dict[str, str]:
    """Discord's nested ``errors`` object as ``{"embeds.0.title": "why"}``."""
    out: dict[str, str] = {}
    if not isinstance(errors, Mapping):
        return out
    for key, value in errors.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key == "_errors" and isinstance(value, list):
            out[prefix or "(body)"] = " ".join(str(e.get("message", "")) for e in value)
        elif isinstance(value, Mapping):
            if "_errors" in value and isinstance(value["_errors"], list):
                out[path] = " ".join(str(e.get("message", "")) for e in value["_errors"])
            else:
                out.update(_flatten(value, path))
    return out


def _retry_after(exc: discord.HTTPException) -> float:
    headers = getattr(exc.response, "headers", {}) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        raw = headers.get(name)
        if raw is not None:
            try:
                return float(raw)
            except ValueError:
                continue
    return 1.0


def _scope(exc: discord.HTTPException) -> RateLimitScope | None:
    headers = getattr(exc.response, "headers", {}) or {}
    raw = headers.get("X-RateLimit-Scope")
    try:
        return None if raw is None else RateLimitScope(raw)
    except ValueError:
        return None


def translate_error(
    exc: BaseException,
    *,
    agent: str,
    action: str,
    permission: str | None = None,
    what: str = "resource",
    ids: Mapping[str, object] | None = None,
    missing_access: str = "view_channel",
) -> DiscordError | None:
    """The typed error for ``exc``, or None when it is not a Discord failure (a bug: re-raise).

    ``action`` completes "forbidden to ..."; ``permission`` is what the action needs (named on
    a 403 50013); ``missing_access`` is what a 403 50001 lacks (seeing the channel, usually);
    ``what`` and ``ids`` name the thing a 404 did not find.
    """
    ids = ids or {}
    if isinstance(exc, discord.RateLimited):
        return DiscordRateLimited(action, exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        code, text = exc.code or None, exc.text.split("\n", 1)[0]
        if isinstance(exc, discord.Forbidden):
            needed = missing_access if exc.code == MISSING_ACCESS else permission
            return DiscordForbidden(action, permission=needed, code=code, text=text)
        if isinstance(exc, discord.NotFound):
            kind = _UNKNOWN.get(exc.code)
            return DiscordNotFound(describe(kind, ids) if kind else what, code=code, text=text)
        if isinstance(exc, discord.DiscordServerError):
            return DiscordUnavailable(
                f"Discord failed with {exc.status} while trying to {action}; retry later",
                status=exc.status,
                code=code,
                text=text,
            )
        if exc.status == 429:
            return DiscordRateLimited(action, _retry_after(exc), scope=_scope(exc))
        if exc.status == 401:
            return AgentLoginFailed(agent, "Discord answered 401 Unauthorized to a request")
        return DiscordBadRequest(
            action,
            status=exc.status,
            code=code,
            text=text,
            field_errors=_flatten(getattr(exc, "_errors", None)),
        )
    if isinstance(exc, OSError | aiohttp.ClientError | asyncio.TimeoutError):
        return DiscordUnavailable(
            f"could not reach Discord while trying to {action} ({type(exc).__name__}: {exc}); "
            f"retry later"
        )
    return None
