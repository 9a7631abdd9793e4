"""The sandbox as a running server: REST and gateway on one port, started in a task group.

::

    async with sandbox_server() as sb:               # default seed, a free port
        point_discord_py_at(sb.base_url)              # discord_io._endpoint
        client = discord.Client(intents=...)
        await client.start(sb.bot("scribe").token)

or ``sb = await tg.start(Sandbox(seed).run)``. The fault methods (``close_gateway``,
``send_reconnect``, ``invalidate_session``, ``drop_gateway``), the injections
(``inject_message``, ``inject_event``, ``inject_429``, ``inject_status``), network faults
(``set_latency``, ``start_outage``, ``end_outage``, ``clear_faults``), ``delivered`` and
``counters`` are plain methods; the HTTP control API under ``/_sandbox`` (``_control``) wraps
them one-to-one. Rate limits (``_limits_hook``) are on by default: ``SandboxConfig.rate_limits``.
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
from ._control import add_control_routes
from ._events import Dispatch
from ._faults import Faults, OutageMode
from ._gateway import Gateway
from ._limits_hook import UNLIMITED, LimiterHook
from ._model import Bot, JSONObject, Message
from ._ratelimits import RateLimiter, Scope
from ._routes import ROUTERS
from ._seed import Seed, default_seed
from ._sessions import GatewayCounters, SessionHub
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
        self.faults = Faults(self.state)
        """Added latency and outage windows (``_faults``)."""
        self.gateway.latency = self.faults.gateway_delay
        self.limits: LimiterHook | None = None
        """The built-in rate limiter, unless a ``rate_limits`` hook was passed in."""
        if rate_limits is None:
            rate_limits = self.limits = LimiterHook(config=self.config.rate_limits or UNLIMITED)
        self.app = create_app(
            self.state,
            ROUTERS,
            on_response=on_response,
            rate_limits=rate_limits,
            max_body=self.config.max_body,
        )
        self.app.router.add_get("/", self.gateway.handle)
        self.app.middlewares.insert(0, self.faults.middleware)  # outermost: outages, latency
        if self.config.control_api:
            add_control_routes(self)
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

    # ----------------------------------------------------------------- control (``_control``)

    def inject_message(
        self,
        channel_id: int,
        content: str,
        *,
        author_id: int,
        nonce: str | int | None = None,
        embeds: Sequence[JSONObject] = (),
    ) -> Message:
        """Post a message as any user (a human, usually), with Discord's checks and dispatches."""
        message, _ = self.state.create_message(
            author_id, channel_id, content=content, nonce=nonce, embeds=embeds
        )
        return message

    def inject_event(
        self,
        event: str,
        data: JSONObject,
        *,
        intents: int = 0,
        guild_id: int | None = None,
        channel_id: int | None = None,
        bot: BotRef | None = None,
    ) -> int:
        """Dispatch a raw gateway event through the fan-out; returns how many sessions got it.

        ``intents`` (one of the bits), ``guild_id`` and ``channel_id`` filter as for the
        sandbox's own events; ``bot`` sends it to that bot's sessions only.
        """
        user_ids = None if bot is None else frozenset({self.bot(bot).id})
        before = {s.id: s.seq for s in self.hub.sessions.values()}
        self.hub.publish(
            Dispatch(
                event, data, intents, guild_id=guild_id, channel_id=channel_id, user_ids=user_ids
            )
        )
        return sum(1 for s in self.hub.sessions.values() if s.seq != before.get(s.id, 0))

    def inject_429(
        self,
        count: int = 1,
        *,
        route: str | None = None,
        scope: Scope = "user",
        retry_after: float = 1.0,
    ) -> None:
        """Answer the next ``count`` REST requests (matching ``route``) with a 429."""
        self._limiter().inject_429(count, route=route, scope=scope, retry_after=retry_after)

    def inject_status(self, count: int, status: int, *, route: str | None = None) -> None:
        """Answer the next ``count`` REST requests (matching ``route``) with a 5xx."""
        self._limiter().inject_status(count, status, route=route)

    def set_latency(
        self, *, rest: float | None = None, gateway: float | None = None, bot: BotRef | None = None
    ) -> None:
        """Add latency to REST answers and/or gateway frames, for one bot or all (0 removes)."""
        bot_id = None if bot is None else self.bot(bot).id
        self.faults.set_latency(rest=rest, gateway=gateway, bot_id=bot_id)

    def start_outage(
        self, seconds: float | None = None, *, mode: OutageMode = "503", disconnect: bool = True
    ) -> int:
        """Refuse REST and gateway connections for ``seconds`` (None: until ended).

        With ``disconnect`` the live gateway sockets are cut too; returns how many.
        """
        self.faults.start_outage(seconds, mode)
        if not disconnect:
            return 0
        connections = list(self.gateway.connections)
        for connection in connections:
            connection.drop()
        return len(connections)

    def end_outage(self) -> bool:
        """End the outage now; returns whether one was on."""
        return self.faults.end_outage()

    def clear_faults(self) -> int:
        """Drop queued 429/5xx faults, latency and any outage; returns the requests the
        queued faults would still have answered."""
        self.faults.clear()
        return self.limits.limiter.clear_faults() if self.limits is not None else 0

    def reset_counters(self) -> None:
        """Zero the counters (and forget rate-limit windows, tallies and queued faults)."""
        if self.limits is not None:
            self.limits.limiter.reset()
        self.hub.counters = GatewayCounters()
        self.faults.refused = 0

    def counters(self) -> JSONObject:
        """Requests by route and status, 429s by scope, invalid requests per IP, gateway
        identifies/resumes/sessions, as the control API's ``GET /_sandbox/counters`` shows."""
        rest: JSONObject = {"refused_by_outage": self.faults.refused}
        if self.limits is not None:
            stats = self.limits.limiter.statistics()
            rest.update(
                requests={
                    route: {str(status): n for status, n in sorted(by.items())}
                    for route, by in sorted(stats.requests.items())
                },
                rate_limited=dict(stats.rate_limited),
                checked=stats.checked,
                faults_consumed=stats.faults_consumed,
                faults_pending=stats.faults_pending,
                invalid_requests=self.limits.invalid_requests(),
                banned_ips=self.limits.banned_ips(),
            )
        hub = self.hub
        counters = hub.counters
        bots: JSONObject = {}
        for bot in self.bots:
            sessions = hub.of_bot(bot.id)
            bots[bot.name] = {
                "id": str(bot.id),
                "identifies": counters.identifies.get(bot.id, 0),
                "resumes": counters.resumes.get(bot.id, 0),
                "sessions": len(sessions),
                "connected_sessions": sum(1 for s in sessions if s.link is not None),
            }
        gateway: JSONObject = {
            "connections": counters.connections,
            "open_sockets": len(self.gateway.connections),
            "identifies": sum(counters.identifies.values()),
            "resumes": sum(counters.resumes.values()),
            "failed_resumes": counters.failed_resumes,
            "sessions": len(hub.sessions),
            "connected_sessions": sum(1 for s in hub.sessions.values() if s.link is not None),
            "bots": bots,
        }
        return {"rest": rest, "gateway": gateway}

    def _limiter(self) -> RateLimiter:
        if self.limits is None:
            raise RuntimeError("this sandbox runs a custom rate_limits hook: no faults to inject")
        return self.limits.limiter


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
