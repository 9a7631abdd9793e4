"""The sandbox's REST endpoints, one module per resource family.

To add a family: write a module with ``router = Router()`` and handlers decorated with
``@router.get("/path/{param}")`` etc. (see ``messages.py``), then list its router in
:data:`ROUTERS`. Handlers raise :class:`~discord_io.sandbox._errors.DiscordError` for failures
and return a :class:`~discord_io.sandbox._app.Reply`.
"""

from __future__ import annotations

from .._app import Router
from . import (
    audit_logs,
    cdn,
    channel_admin,
    channels,
    guild_channels,
    guild_threads,
    guild_voice,
    guild_webhooks,
    guilds,
    login,
    members,
    messages,
    moderation,
    pins,
    reactions,
    roles,
    threads,
    users,
    webhooks,
)

ROUTERS: tuple[Router, ...] = (
    login.router,
    users.router,
    guilds.router,
    guild_channels.router,
    members.router,  # ``members/@me`` and ``members/search`` before ``members/{user_id}``
    moderation.router,
    roles.router,  # ``roles/member-counts`` before ``roles/{role_id}``
    audit_logs.router,
    guild_voice.router,
    guild_threads.router,
    guild_webhooks.router,
    channels.router,
    pins.router,  # before messages: ``messages/pins`` is not a ``messages/{message_id}``
    channel_admin.router,
    reactions.router,
    threads.router,
    webhooks.router,
    messages.router,
    cdn.router,
)
