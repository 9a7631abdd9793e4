"""The sandbox Discord: a Discord API v10 server the real discord.py cannot tell from Discord.

REST and Gateway v10 over real sockets on one port, state in memory, seeded from a YAML/JSON
file or the built-in default seed. Public API:

- :class:`Sandbox` / :func:`sandbox_server` — run one (``port=0`` picks a free port);
- :class:`Seed`, :func:`default_seed`, :class:`SeedError` — what it starts with;
- :class:`SandboxConfig`, :class:`GatewayConfig`, :class:`RateLimitConfig` — timings and limits;
- :class:`Router`, :class:`Call`, :class:`Reply` — for adding endpoint families (``_routes/``);
- ``ResponseHook`` and ``RateLimitHook`` — where OpenAPI checks and rate limits plug in;
- the control API under ``/_sandbox`` (``_control``), and its client,
  :mod:`discord_io.sandbox.control_client`.

Modules: ``_model`` objects, ``_state`` the world and its rules, ``_serialize`` Discord's JSON
shapes, ``_seed`` seed files, ``_app`` the REST pipeline, ``_routes`` the endpoints,
``_gateway`` sockets, ``_sessions`` sessions and fan-out, ``_server`` the running server;
``_channel_ops``, ``_reaction_ops``, ``_thread_ops`` and ``_webhook_ops`` the rules of the channel
endpoint families (modify/delete/overwrites/pins/bulk delete, reactions, threads, webhooks).
"""

from __future__ import annotations

from ._app import Call, RateLimitHook, Reply, ResponseHook, Router
from ._config import GatewayConfig, SandboxConfig
from ._errors import DiscordError
from ._events import Dispatch
from ._intents import Intent
from ._model import Bot, Channel, ChannelType, Guild, Member, Message, Role, User
from ._ratelimits import BucketSpec, RateLimitConfig
from ._seed import Seed, SeedError, default_seed, make_token
from ._server import Sandbox, sandbox_server
from ._state import SandboxState

__all__ = [
    "Bot",
    "BucketSpec",
    "Call",
    "Channel",
    "ChannelType",
    "DiscordError",
    "Dispatch",
    "GatewayConfig",
    "Guild",
    "Intent",
    "Member",
    "Message",
    "RateLimitConfig",
    "RateLimitHook",
    "Reply",
    "ResponseHook",
    "Role",
    "Router",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "Seed",
    "SeedError",
    "User",
    "default_seed",
    "make_token",
    "sandbox_server",
]
