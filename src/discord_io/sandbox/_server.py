"""The sandbox as a running server: REST and gateway on one port, started in a task group.

::

    async with sandbox_server() as sb:               # default seed, a free port
        point_discord_py_at(sb.base_url)              # discord_io._endpoint
        client = discord.Client(intents=...)
        await client.start(sb.bot("scribe").token)

or ``sb = await tg.start(Sandbox(seed).run)``. The fault methods (``close_gateway``,
``send_reconnect``, ``invalidate_session``, ``drop_gateway``) and ``delivered`` are plain
methods so an HTTP control API can wrap them one-to-one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from aiohttp import web
from anyio.abc import TaskStatus

from ._app import API_PREFIX, RateLimitHook, ResponseHook, create_app
from ._config import SandboxConfig
from ._gateway import Gateway
from ._model import Bot, Message
from ._routes import ROUTERS
from ._seed import Seed, default_seed
from ._sessions import SessionHub
from ._state import SandboxState

_log = logging.getLogger(__name__)

BotRef = Bot | int | str
"""A bot named by object, user id, or name."""


class Sandbox:
    """A Discord API v10 server over real sockets, with a Python fault surface."""

    def __init__(
        self,
        seed: Seed | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SandboxConfig | None = None,
        on_response: ResponseHook | None = None,
        rate_limits: RateLimitHook | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.seed = seed or default_seed()
        self.state: SandboxState = self.seed.build(
            SandboxState(nonce_window=self.config.nonce_window)
        )
        self.hub = SessionHub(self.state, self.config.gateway)
        self.state.publish = self.hub.publish
        self.gateway = Gateway(self.hub)
        self.app = create_app(
            self.state,
            ROUTERS,
            on_response=on_response,
            rate_limits=rate_limits,
            max_body=self.config.max_body,
        )
        self.app.router.add_get("/", self.gateway.handle)
        self.host = host
        self._port = port
        self._started = False

    # ----------------------------------------------------------------- running

    async def run(self, *, task_status: TaskStatus[Sandbox] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; ``task_status.started(self)`` once the port is bound."""
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
            addresses = runner.addresses
            if addresses:
                self._port = int(addresses[0][1])
            self._started = True
            self.state.cdn_base = self.http_url
            _log.info("sandbox Discord listening on %s", self.base_url)
            task_status.started(self)
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                self.gateway.close_all(1001)
                await runner.cleanup()
                self._started = False

    @property
    def port(self) -> int:
        """The bound port (the real one once started, even if 0 was asked for)."""
        return self._port

    @property
    def _public_host(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "", "::"):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def http_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self._public_host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The REST base, ``http://host:port/api/v10``."""
        return self.http_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway, ``ws://host:port``."""
        return f"ws://{self._public_host}:{self._port}"

    # ----------------------------------------------------------------- lookups

    @property
    def bots(self) -> Sequence[Bot]:
        """Every bot, in seed order."""
        return list(self.state.bots.values())

    def bot(self, ref: BotRef) -> Bot:
        """A bot by object, id or name (KeyError naming the known bots otherwise)."""
        if isinstance(ref, Bot):
            return ref
        for bot in self.state.bots.values():
            if ref in (bot.id, bot.name):
                return bot
        known = ", ".join(b.name for b in self.state.bots.values())
        raise KeyError(f"no bot {ref!r} in this sandbox; bots: {known}")

    def channel_id(self, name: str, guild_id: int | None = None) -> int:
        """A guild channel's id by name (first match; narrow with ``guild_id``)."""
        for channel in self.state.channels.values():
            if channel.name == name and (guild_id is None or channel.guild_id == guild_id):
                return channel.id
        raise KeyError(f"no channel named {name!r}")

    def delivered(self, channel_id: int) -> list[Message]:
        """Every message created in the channel, in order (for loss and duplicate checks)."""
        return self.state.delivered(channel_id)

    # ----------------------------------------------------------------- faults

    def close_gateway(self, bot: BotRef, code: int = 4000, reason: str = "") -> int:
        """Close the bot's gateway sockets with a close code; returns how many."""
        return self.hub.close(self.bot(bot).id, code, reason)

    def send_reconnect(self, bot: BotRef) -> int:
        """Send op 7 RECONNECT: the client should resume on ``resume_gateway_url``."""
        return self.hub.reconnect(self.bot(bot).id)

    def invalidate_session(self, bot: BotRef, *, resumable: bool) -> int:
        """Send op 9 INVALID_SESSION(resumable); not resumable also ends the sessions."""
        return self.hub.invalidate(self.bot(bot).id, resumable=resumable)

    def drop_gateway(self, bot: BotRef) -> int:
        """Cut the bot's gateway TCP connections without a close frame."""
        return self.hub.drop(self.bot(bot).id)

    def session_count(self, bot: BotRef, *, connected: bool = True) -> int:
        """The bot's sessions (only those with a socket when ``connected``)."""
        sessions = self.hub.of_bot(self.bot(bot).id)
        return sum(1 for s in sessions if s.link is not None or not connected)


@asynccontextmanager
async def sandbox_server(
    seed: Seed | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    config: SandboxConfig | None = None,
    on_response: ResponseHook | None = None,
    rate_limits: RateLimitHook | None = None,
) -> AsyncIterator[Sandbox]:
    """Run a sandbox for the duration of the block (in its own task group)."""
    sandbox = Sandbox(
        seed,
        host=host,
        port=port,
        config=config,
        on_response=on_response,
        rate_limits=rate_limits,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(sandbox.run)
        try:
            yield sandbox
        finally:
            tg.cancel_scope.cancel()
