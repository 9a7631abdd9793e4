"""The MCP tools, one module per area; each has ``register(kit)``.

Every tool is registered through :class:`~mcp_edge.tools._kit.ToolKit`, which gives it its
caller's identity, its time limit, its errors and its log line and metrics.
"""

from __future__ import annotations

from mcp_edge.tools import (
    bulk,
    channel_admin,
    channels,
    dms,
    events,
    guilds,
    identity,
    members,
    messages,
    moderation,
    pins,
    reactions,
    roles,
    scheduling,
    status,
    threads,
    voice,
    webhooks,
)
from mcp_edge.tools._kit import ToolKit

AREAS = (
    guilds,
    channels,
    channel_admin,
    members,
    roles,
    messages,
    bulk,
    scheduling,
    reactions,
    pins,
    threads,
    moderation,
    webhooks,
    voice,
    dms,
    identity,
    events,
    status,
)


def register_all(kit: ToolKit) -> None:
    for area in AREAS:
        area.register(kit)


__all__ = ["AREAS", "ToolKit", "register_all"]
