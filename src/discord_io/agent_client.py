"""The DiscordIO actor of one agent: its bot's discord.py Client, supervised, behind the port.

:class:`AgentClient` runs in the ``discord_io`` task group (``await tg.start(agent.run)``, or
as a child of a :class:`~actors.Supervisor`). Its ``run`` reports started at once, then keeps
one discord.py Client connected for as long as it runs:

- it builds the Client with intents derived from the agent's :class:`AgentCapabilities` and
  trimmed caches (``_client``), logs in and connects;
- discord.py resumes dropped gateway sessions itself; the state machine follows it through
  ``connect`` / ``ready`` / ``resumed`` / ``disconnect`` dispatches (diagram in
  :mod:`actors.discord_port`);
- when the Client dies (``start`` raises: outage, 5xx at login, a close code discord.py gives
  up on) the actor waits with exponential backoff (capped) and starts a fresh one. While
  Discord is unreachable it retries without limit (an outage ends; the outbox waits for it);
  more than ``max_restarts`` other deaths in a row, without READY in between, end in FAILED;
- a refused token (``LoginFailure``, close 4004) or a privileged intent the application lacks
  (close 4014) is final: FAILED at once, with :class:`AgentLoginFailed` or
  :class:`AgentIntentsMissing` kept as ``error`` and raised by ``wait_ready``. ``run`` then
  returns (a TRANSIENT child of a supervisor stays down: restarting cannot fix a token);
- :meth:`stop` (or cancelling ``run``) closes the Client; nothing it started outlives ``run``.

Gateway dispatches are translated in-line (``_client.AgentDiscordClient.dispatch``) and handed
to the injected bounded ``sink`` with ``send_nowait``; a full or closed sink counts a drop.

The port's REST operations call ``client.http`` directly (no cache needed) and translate
discord.py's errors (``_errors``). discord.py keeps doing Discord's per-route bucket pacing;
``max_ratelimit_timeout`` (30 s, discord.py's minimum) makes it raise instead of sleeping
through longer 429s, which become :class:`DiscordRateLimited`.

Every REST response the Client's aiohttp session gets passes :meth:`AgentClient.observe_response`
as soon as its status line and headers are in (the session's connector makes each response
an observed one, ``_ObservedConnector``; cheaper than an ``aiohttp.TraceConfig``, which builds a
trace context and sends six signals per request). It sees what discord.py hides -- the 429s it
retries by itself included -- and:

- counts each 401, 403 and 429 (shared-scope 429s excepted, as Discord does) in the injected
  ``egress`` recorder (the process's :class:`~actors.EgressBudget`); errors the port raises
  then say ``egress_counted`` so that callers do not count them twice;
- counts every answer by route template and status (``POST /channels/{channel_id}/messages``:
  ids never become labels, see :func:`route_template`) and every 429 by scope with the wait it
  asked for, for metrics (:class:`AgentStatistics`);
- parses the ``X-RateLimit-*`` headers of every ``POST /channels/{id}/messages`` answer and
  hands the latest one back with the send (``SentMessage.rate_limit``), so the channel's
  :class:`~actors.ChannelActor` paces the next send *before* making it. The ChannelActor has
  one send in flight per channel, so the latest answer for a channel is its send's.

discord.py paces message creates too, but where it waits matters: its bucket sleeps at the
end of the request that used a window up, until the window resets, so that send's answer
(and a sync sender's receipt) would come back a whole window late. For the message-create
route the Client's buckets skip that sleep (``_defer_create_waits``); the wait moves to
before the next send, where the ChannelActor's own bucket makes it. discord.py still waits
before a create if Remaining is 0 and its window runs (a caller that bypassed the actors).

Pointing discord.py at the sandbox is ``_endpoint.point_discord_py_at``'s job, done once per
process before agents start: ``Route.BASE`` is process-global, so every agent talks to the same
Discord.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import aiohttp
import anyio
import attrs
import discord
import yarl
from aiohttp.connector import Connection
from anyio.abc import TaskStatus
from discord.http import MultipartParameters
from multidict import CIMultiDictProxy

from actors import ActorError, RateLimitHeaderError, RateLimitHeaders, RateLimitScope
from actors.discord_port import (
    AgentCapabilities,
    AgentIntentsMissing,
    AgentLoginFailed,
    AgentNotReady,
    AllowedMentions,
    ChannelCreated,
    ChannelDeleted,
    ChannelInfo,
    ChannelUpdated,
    ConnectionState,
    DiscordError,
    DiscordEvent,
    DiscordPort,
    DiscordUnavailable,
    EventSink,
    FileUpload,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    GuildInfo,
    JSONObject,
    MemberInfo,
    MemberJoined,
    MemberLeft,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessageInfo,
    ReactionAdded,
    ReactionRemoved,
    SentMessage,
)
from discord_io._client import AgentDiscordClient
from discord_io._errors import translate_error
from discord_io._intents import intents_for, missing_privileged
from discord_io._translate import (
    channel_from_discord,
    channel_from_payload,
    emoji_text,
    guild_from_discord,
    member_from_discord,
    member_from_payload,
    message_from_discord,
    message_from_payload,
    sent_from_payload,
)

_log = logging.getLogger(__name__)

T = TypeVar("T")

_AUTH_FAILED = 4004
_FATAL_INTENTS = (4013, 4014)  # invalid intents, disallowed (privileged) intents
_PAGE = 100
_NO_LIMITS = RateLimitHeaders()
"""What an answer whose rate-limit headers are not read (or unreadable) leaves to go by."""
_MESSAGE_CREATE = re.compile(r"(?:/api(?:/v[0-9]+)?)?/channels/([0-9]+)/messages/?")
"""The path of ``POST /channels/{channel_id}/messages`` (fullmatch): the one route whose
answers' rate-limit headers are kept, and the most frequent one by far."""


class EgressRecorder(Protocol):
    """Where an agent counts Discord's answers: :class:`~actors.EgressBudget` fits."""

    def record(self, status: int, *, scope: RateLimitScope | None = None) -> bool: ...


@attrs.frozen
class RestCount:
    """REST answers of one route template and status, counted since the agent was made."""

    route: str
    """``METHOD /template`` (:func:`route_template`): ``POST /channels/{channel_id}/messages``."""
    status: int
    count: int


@attrs.frozen
class RateLimitedCount:
    """429 answers of one ``X-RateLimit-Scope`` (``unknown`` when absent) and the wait they
    asked for (``Retry-After``, else ``X-RateLimit-Reset-After``), summed."""

    scope: str
    count: int
    retry_after: float


@attrs.frozen
class AgentStatistics:
    """A snapshot of one agent's connection, for metrics, ``/readyz`` and tests."""

    agent: str
    state: ConnectionState
    restarts: int
    """Clients started after the first (deaths the actor recovered from)."""
    readies: int
    resumes: int
    events: int
    """Events handed to the sink."""
    dropped: int
    """Events lost because the sink was full or closed."""
    error: str | None
    """The last failure, as the agent would read it."""
    rest: tuple[RestCount, ...] = ()
    """Every REST answer the agent's client got, by route template and status."""
    rate_limited: tuple[RateLimitedCount, ...] = ()
    """The 429s among them, by scope (discord.py's own retries included)."""


@attrs.frozen
class _Ended:
    """Why a Client ended; an ``outage`` (Discord unreachable or failing) is retried without
    limit, anything else counts toward ``max_restarts``."""

    error: DiscordError
    outage: bool = False


@attrs.define(eq=False)
class AgentClient:
    """One agent's DiscordIO actor; also its :class:`~actors.discord_port.DiscordPort`."""

    agent: str
    token: str = attrs.field(repr=False)
    capabilities: AgentCapabilities = attrs.field(factory=AgentCapabilities)
    sink: EventSink | None = attrs.field(default=None, repr=False)
    identify_delay: float = 5.0
    """Seconds before a re-IDENTIFY (Discord's limit; 0 in the sandbox and tests)."""
    guild_ready_timeout: float = 2.0
    """discord.py's wait for more GUILD_CREATEs before READY (0.1 in the sandbox)."""
    max_ratelimit_timeout: float = 30.0
    """Longest 429 wait discord.py sleeps through; longer ones raise DiscordRateLimited."""
    max_restarts: int = 8
    """Client deaths in a row (outages aside), without READY in between, before FAILED."""
    backoff: float = 1.0
    """First wait before a restart; doubles per death in a row, up to ``max_backoff``."""
    max_backoff: float = 60.0
    egress: EgressRecorder | None = attrs.field(default=None, kw_only=True, repr=False)
    """Counts every REST answer's status (the egress IP's invalid-request budget, shared by
    every agent of the process); None: nothing is counted here."""

    _state: ConnectionState = attrs.field(default=ConnectionState.DISCONNECTED, init=False)
    _error: DiscordError | None = attrs.field(default=None, init=False)
    _changed: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _client: AgentDiscordClient | None = attrs.field(default=None, init=False, repr=False)
    _scope: anyio.CancelScope | None = attrs.field(default=None, init=False, repr=False)
    _running: bool = attrs.field(default=False, init=False, repr=False)
    _stopping: bool = attrs.field(default=False, init=False, repr=False)
    _reached_ready: bool = attrs.field(default=False, init=False, repr=False)
    _restarts: int = attrs.field(default=0, init=False, repr=False)
    _readies: int = attrs.field(default=0, init=False, repr=False)
    _resumes: int = attrs.field(default=0, init=False, repr=False)
    _events: int = attrs.field(default=0, init=False, repr=False)
    _dropped: int = attrs.field(default=0, init=False, repr=False)
    _user_id: int | None = attrs.field(default=None, init=False, repr=False)
    _create_limits: dict[int, RateLimitHeaders] = attrs.field(factory=dict, init=False, repr=False)
    """Per channel, the headers of the latest message-create answer not yet handed back."""
    _rest_counts: collections.Counter[tuple[str, int]] = attrs.field(
        factory=collections.Counter, init=False, repr=False
    )
    _limited: dict[str, tuple[int, float]] = attrs.field(factory=dict, init=False, repr=False)
    """Per 429 scope: how many, and the seconds they asked to wait."""

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def error(self) -> DiscordError | None:
        """Why the agent is FAILED (or the last death it recovered from)."""
        return self._error

    @property
    def user_id(self) -> int | None:
        """The bot's user id, known from the first login on (kept after stop)."""
        client = self._client
        if client is not None and client.user is not None:
            self._user_id = client.user.id
        return self._user_id

    def statistics(self) -> AgentStatistics:
        return AgentStatistics(
            agent=self.agent,
            state=self._state,
            restarts=self._restarts,
            readies=self._readies,
            resumes=self._resumes,
            events=self._events,
            dropped=self._dropped,
            error=None if self._error is None else str(self._error),
            rest=tuple(
                RestCount(route, status, n)
                for (route, status), n in sorted(self._rest_counts.items())
            ),
            rate_limited=tuple(
                RateLimitedCount(scope, n, waited)
                for scope, (n, waited) in sorted(self._limited.items())
            ),
        )

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        _log.info("agent %s: %s -> %s", self.agent, self._state.value, state.value)
        self._state = state
        if self._changed is not None:
            self._changed.set()
        self._changed = anyio.Event()

    async def wait_ready(self, timeout: float) -> None:
        """Return once READY; raise the final error if FAILED, :class:`AgentNotReady` after
        ``timeout`` seconds otherwise."""
        with anyio.move_on_after(timeout):
            while True:
                if self._state is ConnectionState.READY:
                    return
                if self._state is ConnectionState.FAILED:
                    assert self._error is not None
                    raise self._error
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()
        raise AgentNotReady(self.agent, timeout, self._state)

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Keep the agent's bot connected until :meth:`stop`, cancellation, or a final failure."""
        if self._running:
            raise RuntimeError(f"agent {self.agent!r} is already running")
        self._running, self._stopping = True, False
        self._error = None
        failures = crashes = 0  # in a row, without READY in between
        task_status.started()
        try:
            while not self._stopping:
                self._set_state(ConnectionState.CONNECTING)
                ended = await self._session()
                if ended is None or self._stopping:
                    break
                failure = ended.error
                if isinstance(failure, AgentLoginFailed | AgentIntentsMissing):
                    self._fail(failure)
                    return
                if self._reached_ready:
                    failures = crashes = 0
                failures += 1
                crashes += not ended.outage
                self._error = failure
                if crashes > self.max_restarts:
                    self._fail(
                        DiscordUnavailable(
                            f"agent {self.agent!r} gave up: its Discord client died {crashes} "
                            f"times in a row; last: {failure}"
                        )
                    )
                    return
                self._set_state(ConnectionState.DISCONNECTED)
                delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
                _log.warning(
                    "agent %s: client died (%s); restarting in %.1f s", self.agent, failure, delay
                )
                with anyio.CancelScope() as self._scope:
                    if not self._stopping:
                        await anyio.sleep(delay)
                self._scope = None
                self._restarts += 1
        finally:
            self._running = False
            self._scope = None
            if self._state is not ConnectionState.FAILED:
                self._set_state(ConnectionState.DISCONNECTED)

    def stop(self) -> None:
        """Close the Client and end ``run``. Never blocks."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    def _fail(self, error: DiscordError) -> None:
        _log.error("agent %s failed: %s", self.agent, error)
        self._error = error
        self._set_state(ConnectionState.FAILED)

    async def _session(self) -> _Ended | None:
        """Run one Client until it ends; why it ended (None: stopped)."""
        intents = intents_for(self.capabilities)
        connector = _ObservedConnector(self.observe_response)
        client = AgentDiscordClient(
            intents=intents,
            on_dispatch=self._on_dispatch,
            identify_delay=self.identify_delay,
            guild_ready_timeout=self.guild_ready_timeout,
            max_ratelimit_timeout=self.max_ratelimit_timeout,
            connector=connector,
        )
        _defer_create_waits(client.http)
        self._client = client
        self._reached_ready = False
        try:
            with anyio.CancelScope() as self._scope:
                if self._stopping:
                    return None
                await client.start(self.token)
            if self._stopping:
                return None
            return _Ended(DiscordUnavailable("the Discord client stopped by itself"))
        except discord.LoginFailure as exc:
            refused = AgentLoginFailed(self.agent, str(exc) or "the token was refused")
            refused.egress_counted = self.egress is not None  # observe_response counted the 401
            return _Ended(refused)
        except discord.PrivilegedIntentsRequired:
            return _Ended(self._intents_missing(client, intents))
        except discord.ConnectionClosed as exc:
            if exc.code == _AUTH_FAILED:
                return _Ended(AgentLoginFailed(self.agent, "the gateway closed with 4004"))
            if exc.code in _FATAL_INTENTS:
                return _Ended(self._intents_missing(client, intents))
            return _Ended(DiscordUnavailable(f"the gateway closed with {exc.code}"))
        except (
            discord.HTTPException,
            discord.GatewayNotFound,
            OSError,
            aiohttp.ClientError,
            TimeoutError,
        ) as exc:
            error = translate_error(exc, agent=self.agent, action="log in and connect")
            assert error is not None
            return _Ended(error, outage=isinstance(error, DiscordUnavailable))
        finally:
            self._scope = None
            with anyio.CancelScope(shield=True):
                await client.close()
                await connector.close()  # closed with the session; not if none was opened
            self._client = None

    def _intents_missing(
        self, client: discord.Client, intents: discord.Intents
    ) -> AgentIntentsMissing:
        flags = client.application_flags.value if client.user is not None else None
        return AgentIntentsMissing(self.agent, missing_privileged(intents, flags))

    # ------------------------------------------------------------------ events

    def _emit(self, event: DiscordEvent) -> None:
        if self.sink is None:
            return
        try:
            self.sink.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._dropped += 1
        except ActorError:
            self._dropped += 1
        else:
            self._events += 1

    def _on_dispatch(self, event: str, args: tuple[Any, ...]) -> None:
        """Translate one discord.py dispatch; called in-line by its gateway parser."""
        agent = self.agent
        match event:
            case "message":
                self._emit(MessageCreated(agent, message_from_discord(args[0])))
            case "raw_message_edit":
                self._emit(MessageEdited(agent, message_from_discord(args[0].message)))
            case "raw_message_delete":
                raw: Any = args[0]
                self._emit(MessageDeleted(agent, raw.channel_id, raw.message_id, raw.guild_id))
            case "raw_reaction_add" | "raw_reaction_remove":
                raw = args[0]
                kind = ReactionAdded if event == "raw_reaction_add" else ReactionRemoved
                self._emit(
                    kind(
                        agent,
                        raw.channel_id,
                        raw.message_id,
                        raw.guild_id,
                        raw.user_id,
                        emoji_text(raw.emoji),
                    )
                )
            case "member_join":
                self._emit(MemberJoined(agent, member_from_discord(args[0])))
            case "raw_member_remove":
                raw = args[0]
                self._emit(MemberLeft(agent, raw.guild_id, raw.user.id, raw.user.name))
            case "guild_channel_create":
                self._emit(ChannelCreated(agent, channel_from_discord(args[0])))
            case "guild_channel_update":
                self._emit(ChannelUpdated(agent, channel_from_discord(args[1])))
            case "guild_channel_delete":
                self._emit(ChannelDeleted(agent, channel_from_discord(args[0])))
            case "ready":
                self._reached_ready = True
                self._readies += 1
                self._set_state(ConnectionState.READY)
                client = self._client
                session = None if client is None or client.ws is None else client.ws.session_id
                guilds = () if client is None else tuple(g.id for g in client.guilds)
                self._emit(GatewayReady(agent, session, guilds))
            case "resumed":
                self._resumes += 1
                self._set_state(ConnectionState.READY)
                self._emit(GatewayResumed(agent))
            case "disconnect":
                if self._state is ConnectionState.READY and not self._stopping:
                    self._set_state(ConnectionState.RESUMING)
                self._emit(GatewayDisconnected(agent))
            case _:
                pass

    # ------------------------------------------------------------------ the REST answers

    def observe_response(
        self, method: str, url: yarl.URL, status: int, headers: Mapping[str, str]
    ) -> None:
        """Count one REST answer (by route, in the egress budget) and keep its message-create
        headers.

        Called inside discord.py's request, for every answer: it never raises. Rate-limit
        headers are parsed only where they are used: message-create answers (handed back with
        the send) and 429s (their scope and wait are counted).
        """
        try:
            path = url.raw_path
            create = _MESSAGE_CREATE.fullmatch(path) if method == "POST" else None
            route = _CREATE_ROUTE if create is not None else route_template(method, path)
            self._rest_counts[(route, status)] += 1
            limits = _NO_LIMITS
            if create is not None or status == 429:
                try:
                    limits = RateLimitHeaders.from_headers(
                        headers, case_insensitive=isinstance(headers, CIMultiDictProxy)
                    )
                except RateLimitHeaderError:
                    _log.warning("agent %s: unreadable rate-limit headers from %s", self.agent, url)
            if status == 429:
                scope = "unknown" if limits.scope is None else limits.scope.value
                wait = limits.retry_after if limits.retry_after is not None else limits.reset_after
                n, waited = self._limited.get(scope, (0, 0.0))
                self._limited[scope] = (n + 1, waited + (wait or 0.0))
            if self.egress is not None:
                self.egress.record(status, scope=limits.scope)
            if create is not None:
                self._create_limits[int(create[1])] = limits
        except Exception:  # never into discord.py's request: record and go on
            _log.exception("agent %s: observing a response failed", self.agent)

    # ------------------------------------------------------------------ the port (REST)

    def _http(self) -> discord.http.HTTPClient:
        client = self._client
        if client is None or client.user is None or client.is_closed():
            raise DiscordUnavailable(
                f"agent {self.agent!r} is not connected to Discord (state {self._state.value}); "
                "retry later"
            )
        return client.http

    async def _rest(
        self,
        call: Callable[[discord.http.HTTPClient], Awaitable[T]],
        *,
        action: str,
        permission: str | None = None,
        what: str = "resource",
        ids: Mapping[str, object] | None = None,
        missing_access: str = "view_channel",
    ) -> T:
        http = self._http()
        try:
            return await call(http)
        except Exception as exc:
            error = translate_error(
                exc,
                agent=self.agent,
                action=action,
                permission=permission,
                what=what,
                ids=ids,
                missing_access=missing_access,
            )
            if error is None:
                raise
            error.egress_counted = self.egress is not None  # observe_response saw every answer
            raise error from exc

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        nonce: str | None,
        enforce_nonce: bool = True,
        reply_to: int | None = None,
        embeds: Sequence[JSONObject] = (),
        allowed_mentions: AllowedMentions | None = None,
        files: Sequence[FileUpload] = (),
    ) -> SentMessage:
        """Post a message; with ``nonce`` + ``enforce_nonce`` a repeat returns the first one."""
        params = message_params(
            channel_id,
            content,
            nonce=nonce,
            enforce_nonce=enforce_nonce,
            reply_to=reply_to,
            embeds=embeds,
            allowed_mentions=allowed_mentions,
            files=files,
        )
        self._create_limits.pop(channel_id, None)  # an answer to an earlier call: stale
        with params:
            data = await self._rest(
                lambda http: http.send_message(channel_id, params=params),
                action=f"send a message to channel {channel_id}",
                permission="attach_files" if files else "send_messages",
                what=f"channel {channel_id}",
                ids={"channel": channel_id}
                if reply_to is None
                else {
                    "channel": channel_id,
                    "message": reply_to,
                },
            )
        return sent_from_payload(data, rate_limit=self._create_limits.pop(channel_id, None))

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[JSONObject] | None = None,
    ) -> MessageInfo:
        payload: dict[str, Any] = {}
        if content is not None:
            payload["content"] = content
        if embeds is not None:
            payload["embeds"] = [dict(e) for e in embeds]
        params = MultipartParameters(payload=payload, multipart=None, files=None)
        ids = {"channel": channel_id, "message": message_id}
        data = await self._rest(
            lambda http: http.edit_message(channel_id, message_id, params=params),
            action=f"edit message {message_id} in channel {channel_id}",
            what=f"message {message_id} in channel {channel_id}",
            ids=ids,
        )
        return message_from_payload(data)

    async def delete_message(
        self, channel_id: int, message_id: int, *, reason: str | None = None
    ) -> None:
        ids = {"channel": channel_id, "message": message_id}
        await self._rest(
            lambda http: http.delete_message(channel_id, message_id, reason=reason),
            action=f"delete message {message_id} in channel {channel_id}",
            permission="manage_messages",
            what=f"message {message_id} in channel {channel_id}",
            ids=ids,
        )

    async def fetch_messages(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]:
        if not 1 <= limit <= _PAGE:
            raise ValueError(f"fetch_messages takes a limit of 1 to {_PAGE}, not {limit}")
        data = await self._rest(
            lambda http: http.logs_from(channel_id, limit, before, after, around),
            action=f"read the history of channel {channel_id}",
            permission="read_message_history",
            what=f"channel {channel_id}",
            ids={"channel": channel_id},
        )
        return [message_from_payload(m) for m in data]

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        ids = {"channel": channel_id, "message": message_id, "emoji": emoji}
        await self._rest(
            lambda http: http.add_reaction(channel_id, message_id, emoji),
            action=f"react to message {message_id} in channel {channel_id}",
            permission="add_reactions",
            what=f"message {message_id} in channel {channel_id}",
            ids=ids,
        )

    async def remove_reaction(
        self, channel_id: int, message_id: int, emoji: str, *, user_id: int | None = None
    ) -> None:
        ids = {"channel": channel_id, "message": message_id, "emoji": emoji}
        if user_id is None:
            await self._rest(
                lambda http: http.remove_own_reaction(channel_id, message_id, emoji),
                action=f"remove a reaction from message {message_id}",
                what=f"message {message_id} in channel {channel_id}",
                ids=ids,
            )
            return
        await self._rest(
            lambda http: http.remove_reaction(channel_id, message_id, emoji, user_id),
            action=f"remove user {user_id}'s reaction from message {message_id}",
            permission="manage_messages",
            what=f"message {message_id} in channel {channel_id}",
            ids=ids,
        )

    async def get_channel(self, channel_id: int) -> ChannelInfo:
        data = await self._rest(
            lambda http: http.get_channel(channel_id),
            action=f"see channel {channel_id}",
            permission="view_channel",
            what=f"channel {channel_id}",
            ids={"channel": channel_id},
        )
        return channel_from_payload(data)

    async def list_guilds(self) -> list[GuildInfo]:
        """The bot's guilds, as the gateway keeps them (the guilds intent is always on)."""
        client = self._client
        if client is None or client.user is None or self._state is not ConnectionState.READY:
            raise DiscordUnavailable(
                f"agent {self.agent!r} is not connected to Discord (state {self._state.value}); "
                "retry later"
            )
        return [guild_from_discord(g, client.user.id) for g in client.guilds]

    async def list_channels(self, guild_id: int) -> list[ChannelInfo]:
        data = await self._rest(
            lambda http: http.get_all_guild_channels(guild_id),
            action=f"list the channels of guild {guild_id}",
            what=f"guild {guild_id}",
            ids={"guild": guild_id},
        )
        channels = [channel_from_payload(c) for c in data]
        return [c if c.guild_id else attrs.evolve(c, guild_id=guild_id) for c in channels]

    async def get_member(self, guild_id: int, user_id: int) -> MemberInfo:
        data = await self._rest(
            lambda http: http.get_member(guild_id, user_id),
            action=f"see member {user_id} of guild {guild_id}",
            what=f"member {user_id} of guild {guild_id}",
            ids={"guild": guild_id, "user": user_id},
        )
        return member_from_payload(data, guild_id)

    async def list_members(
        self, guild_id: int, *, limit: int = 100, after: int | None = None
    ) -> list[MemberInfo]:
        if not 1 <= limit <= 1000:
            raise ValueError(f"list_members takes a limit of 1 to 1000, not {limit}")
        data = await self._rest(
            lambda http: http.get_members(guild_id, limit, after),
            action=f"list the members of guild {guild_id}",
            missing_access="guild_members intent (AgentCapabilities.members)",
            what=f"guild {guild_id}",
            ids={"guild": guild_id},
        )
        return [member_from_payload(m, guild_id) for m in data]

    async def rest(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        query: Mapping[str, str | int] | None = None,
        reason: str | None = None,
        permission: str | None = None,
        what: str = "resource",
        ids: Mapping[str, object] | None = None,
    ) -> Any:
        parameters: dict[str, Any] = {k: v for k, v in (ids or {}).items() if "{" + k + "}" in path}
        route = discord.http.Route(method, path, **parameters)
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = json
        if query:
            kwargs["params"] = dict(query)
        if reason is not None:
            kwargs["reason"] = reason
        names = {k.removesuffix("_id"): v for k, v in (ids or {}).items()}
        return await self._rest(
            lambda http: http.request(route, **kwargs),
            action=action,
            permission=permission,
            what=what,
            ids=names,
        )

    async def set_presence(self, status: str, activity: str | None = None) -> None:
        client = self._client
        if client is None or client.user is None or self._state is not ConnectionState.READY:
            raise DiscordUnavailable(
                f"agent {self.agent!r} is not connected to Discord (state {self._state.value}); "
                "retry later"
            )
        try:
            discord_status = discord.Status(status)
        except ValueError:
            raise ValueError(
                f"status must be online, idle, dnd or invisible, not {status!r}"
            ) from None
        game = None if activity is None else discord.CustomActivity(name=activity)
        await client.change_presence(status=discord_status, activity=game)

    async def voice_states(self, guild_id: int) -> list[JSONObject]:
        """Who is in the guild's voice channels, from the gateway's cache (GUILD_CREATE's
        ``voice_states``, kept current by VOICE_STATE_UPDATE when the voice-states intent is
        on), as Discord's voice state objects; empty for a guild the bot is not in."""
        client = self._client
        if client is None or client.user is None or self._state is not ConnectionState.READY:
            raise DiscordUnavailable(
                f"agent {self.agent!r} is not connected to Discord (state {self._state.value}); "
                "retry later"
            )
        guild = client.get_guild(guild_id)
        if guild is None:
            return []
        out: list[JSONObject] = []
        for channel in guild.channels:
            if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
                continue
            for user_id, voice in channel.voice_states.items():
                entry: dict[str, Any] = {
                    "guild_id": str(guild_id),
                    "channel_id": str(channel.id),
                    "user_id": str(user_id),
                    "session_id": voice.session_id,
                    "deaf": voice.deaf,
                    "mute": voice.mute,
                    "self_deaf": voice.self_deaf,
                    "self_mute": voice.self_mute,
                    "self_stream": bool(voice.self_stream),
                    "self_video": voice.self_video,
                    "suppress": voice.suppress,
                }
                member = guild.get_member(user_id)
                if member is not None:
                    entry["member"] = {
                        "user": {
                            "id": str(user_id),
                            "username": member.name,
                            "global_name": member.global_name,
                            "bot": member.bot,
                        },
                        "nick": member.nick,
                    }
                out.append(entry)
        return out


_API_PREFIX = re.compile(r"^/api(?:/v[0-9]+)?(?=/|$)")
_PARAMETERS: Mapping[str, str] = {
    "applications": "application_id",
    "answers": "answer_id",
    "bans": "user_id",
    "channels": "channel_id",
    "commands": "command_id",
    "emojis": "emoji_id",
    "entitlements": "entitlement_id",
    "guilds": "guild_id",
    "integrations": "integration_id",
    "interactions": "interaction_id",
    "invites": "invite_code",
    "members": "user_id",
    "messages": "message_id",
    "permissions": "overwrite_id",
    "pins": "message_id",
    "polls": "message_id",
    "reactions": "emoji",
    "recipients": "user_id",
    "roles": "role_id",
    "rules": "rule_id",
    "scheduled-events": "event_id",
    "skus": "sku_id",
    "soundboard-sounds": "sound_id",
    "stage-instances": "channel_id",
    "sticker-packs": "pack_id",
    "stickers": "sticker_id",
    "templates": "template_code",
    "thread-members": "user_id",
    "threads": "thread_id",
    "users": "user_id",
    "voice-states": "user_id",
    "webhooks": "webhook_id",
}
"""The literal segment before a parameter, and the parameter's name in a route template."""
_SECOND_PARAMETERS: Mapping[str, str] = {
    "reactions": "user_id",
    "webhooks": "webhook_token",
    "interactions": "interaction_token",
}
"""Literals followed by two parameters (``/webhooks/{webhook_id}/{webhook_token}``)."""
_LITERALS = frozenset(_PARAMETERS) | {
    "@me",
    "@original",
    "active",
    "archived",
    "attachments",
    "audit-logs",
    "auth",
    "auto-moderation",
    "bot",
    "bulk-ban",
    "bulk-delete",
    "callback",
    "connections",
    "crosspost",
    "expire",
    "followers",
    "gateway",
    "github",
    "guild",
    "login",
    "logout",
    "member-verification",
    "mfa",
    "nick",
    "oauth2",
    "onboarding",
    "original",
    "preview",
    "private",
    "prune",
    "public",
    "regions",
    "role-connections",
    "search",
    "send-soundboard-sound",
    "slack",
    "sync",
    "typing",
    "vanity-url",
    "voice",
    "welcome-screen",
    "widget",
    "widget.json",
    "widget.png",
}
"""Path segments kept as they are; any other segment becomes a ``{parameter}``."""


def route_template(method: str, path: str) -> str:
    """``METHOD /template`` for a REST path, as Discord's docs name routes.

    ``route_template("POST", "/api/v10/channels/42/messages")`` is
    ``"POST /channels/{channel_id}/messages"``. Only known literal segments are kept; every
    other segment (ids, emoji, invite codes, webhook tokens) becomes a parameter named after the
    literal before it, so a label built from it has a bounded set of values and never carries
    an id or a secret.
    """
    owner: str | None = None
    taken = 0
    out: list[str] = []
    for segment in _API_PREFIX.sub("", path).split("/"):
        if not segment:
            continue
        if segment in _LITERALS:
            out.append(segment)
            owner, taken = segment, 0
            continue
        names = _PARAMETERS if taken == 0 else _SECOND_PARAMETERS
        name = names.get(owner, "param") if owner is not None and taken < 2 else "param"
        out.append(f"{{{name}}}")
        taken += 1
    return f"{method.upper()} /{'/'.join(out)}"


_CREATE_ROUTE = "POST /channels/{channel_id}/messages"


class _CreateRatelimit(discord.http.Ratelimit):
    """discord.py's per-route bucket, minus its sleep after the request that used it up.

    discord.py's ``__aexit__`` sleeps until the window resets when no token is left; here it
    returns at once and the next ``acquire`` finds Remaining 0 and waits instead (or, when the
    ChannelActor already waited for the reset, finds the window expired and goes).
    """

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        window_runs = self.expires is not None and self.expires > self._loop.time()
        if window_runs and self.remaining - (self.outgoing - 1) <= 0:
            self.outgoing -= 1  # the next acquire (or the ChannelActor) waits for the reset
            return
        await super().__aexit__(exc_type, exc, tb)

    async def _refresh(self) -> None:
        # discord.py sleeps a whole reset_after here (right for its own call at the end of the
        # exhausting request); called from acquire, only what is left of the window remains.
        if self.expires is not None:
            self.reset_after = max(0.0, self.expires - self._loop.time())
        await super()._refresh()


def _defer_create_waits(http: discord.http.HTTPClient) -> None:
    """Make ``http`` use :class:`_CreateRatelimit` for message-create buckets."""
    buckets = http._buckets
    make_default = http.get_ratelimit

    def get_ratelimit(key: str) -> discord.http.Ratelimit:
        if key in buckets:
            return buckets[key]
        route = key.partition(":")[0]  # the route key, or the bucket hash Discord named
        if route in (_CREATE_ROUTE, http._bucket_hashes.get(_CREATE_ROUTE)):
            buckets[key] = value = _CreateRatelimit(http.max_ratelimit_timeout)
            return value
        return make_default(key)

    http.get_ratelimit = get_ratelimit  # type: ignore[method-assign]


_ResponseObserver = Callable[[str, yarl.URL, int, "CIMultiDictProxy[str]"], None]
"""``(method, url, status, headers)`` of each answer: :meth:`AgentClient.observe_response`."""


class _ObservedConnector(aiohttp.TCPConnector):
    """discord.py's own connector (``TCPConnector(limit=0)``) whose requests get an observed
    response class: each answer goes to ``observe`` once its status line and headers are in.

    discord.py makes its aiohttp session itself and has no setting for the response class;
    its ``connector`` is the one piece of the session it takes from us, and aiohttp's
    connector sees each request (``ClientRequest.response_class``) before the response is
    built.
    """

    def __init__(self, observe: _ResponseObserver) -> None:
        super().__init__(limit=0)
        self._response_class = _observed_response(observe)

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        req.response_class = self._response_class
        return await super().connect(req, traces, timeout)


def _observed_response(observe: _ResponseObserver) -> type[aiohttp.ClientResponse]:
    """A response class that shows each response to ``observe`` when its headers are in."""

    class _ObservedResponse(aiohttp.ClientResponse):
        async def start(self, connection: Connection) -> aiohttp.ClientResponse:
            await super().start(connection)
            observe(self.method, self.url, self.status, self.headers)
            return self

    return _ObservedResponse


_NO_MENTIONS = AllowedMentions()
"""The default: ping nobody (frozen, so one serves every send)."""


def _mentions_payload(mentions: AllowedMentions) -> dict[str, Any]:
    parse: list[str] = []
    out: dict[str, Any] = {"parse": parse, "replied_user": mentions.replied_user}
    if mentions.everyone:
        parse.append("everyone")
    if mentions.users is True:
        parse.append("users")
    elif mentions.users:
        out["users"] = [str(u) for u in mentions.users]
    if mentions.roles is True:
        parse.append("roles")
    elif mentions.roles:
        out["roles"] = [str(r) for r in mentions.roles]
    return out


def message_params(
    channel_id: int,
    content: str,
    *,
    nonce: str | None,
    enforce_nonce: bool,
    reply_to: int | None,
    embeds: Sequence[JSONObject],
    allowed_mentions: AllowedMentions | None,
    files: Sequence[FileUpload],
) -> MultipartParameters:
    """The body of ``POST /channels/{id}/messages``, JSON or multipart with files.

    Built here rather than with discord.py's ``handle_message_parameters``, which always sends
    ``enforce_nonce: true`` with a nonce and wants its own Embed/File/AllowedMentions objects.
    """
    payload: dict[str, Any] = {
        "content": content,
        "tts": False,
        "allowed_mentions": _mentions_payload(allowed_mentions or _NO_MENTIONS),
    }
    if nonce is not None:
        payload["nonce"] = nonce
        payload["enforce_nonce"] = enforce_nonce
    if reply_to is not None:
        payload["message_reference"] = {
            "message_id": str(reply_to),
            "channel_id": str(channel_id),
            "fail_if_not_exists": True,
        }
    if embeds:
        payload["embeds"] = [dict(e) for e in embeds]
    if not files:
        return MultipartParameters(payload=payload, multipart=None, files=None)
    uploads = [
        discord.File(io.BytesIO(f.data), filename=f.filename, description=f.description)
        for f in files
    ]
    payload["attachments"] = [upload.to_dict(index) for index, upload in enumerate(uploads)]
    multipart: list[dict[str, Any]] = [{"name": "payload_json", "value": json.dumps(payload)}]
    multipart.extend(
        {
            "name": f"files[{index}]",
            "value": upload.fp,
            "filename": upload.filename,
            "content_type": "application/octet-stream",
        }
        for index, upload in enumerate(uploads)
    )
    return MultipartParameters(payload=None, multipart=multipart, files=uploads)


def _implements_the_port(agent: AgentClient) -> DiscordPort:
    return agent  # mypy checks here that AgentClient satisfies DiscordPort
