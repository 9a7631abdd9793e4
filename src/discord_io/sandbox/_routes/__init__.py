"""The sandbox's REST endpoints, one module per resource family.

To add a family: write a module with ``router = Router()`` and handlers decorated with
``@router.get("/path/{param}")`` etc. (see ``messages.py``), then list its router in
:data:`ROUTERS`. Handlers raise :class:`~discord_io.sandbox._errors.DiscordError` for failures
and return a :class:`~discord_io.sandbox._app.Reply`.
"""

from __future__ import annotations

from .._app import Router
from . import cdn, channels, guilds, login, messages, users

ROUTERS: tuple[Router, ...] = (
    login.router,
    users.router,
    guilds.router,
    channels.router,
    messages.router,
    cdn.router,
)
