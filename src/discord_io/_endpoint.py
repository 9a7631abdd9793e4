"""The one place that points discord.py at a Discord other than discord.com (the sandbox).

discord.py has no public setting for its API base or gateway: both are class attributes. Only
sandbox mode and tests call :func:`point_discord_py_at`; production code paths never do.
Don't call discord.py's private ``_set_api_version`` afterwards: it rewrites ``Route.BASE``.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

DISCORD_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = yarl.URL("wss://gateway.discord.gg/")


def point_discord_py_at(base_url: str, gateway_url: str | None = None) -> None:
    """Send discord.py's REST calls to ``base_url`` (``http://host:port/api/v10``) and its
    gateway connections to ``gateway_url`` (default: ``ws://`` on the same host and port).

    Both must be set: a plain ``Client`` never asks ``GET /gateway/bot``, and after
    INVALID_SESSION(false) every client reconnects to ``DEFAULT_GATEWAY``.
    """
    base = yarl.URL(base_url)
    if gateway_url is None:
        scheme = "wss" if base.scheme == "https" else "ws"
        gateway = base.with_scheme(scheme).with_path("/")
    else:
        gateway = yarl.URL(gateway_url)
        if not gateway.path:
            gateway = gateway.with_path("/")
    discord.http.Route.BASE = str(base).rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


def point_discord_py_at_discord() -> None:
    """Undo :func:`point_discord_py_at`: back to discord.com."""
    discord.http.Route.BASE = DISCORD_BASE
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = DISCORD_GATEWAY
