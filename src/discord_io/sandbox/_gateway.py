"""Gateway v10 over aiohttp WebSockets: one :class:`Connection` per socket.

The protocol, as the server plays it::

    server: op 10 HELLO {heartbeat_interval}
    client: op 1 HEARTBEAT (any time)       -> op 11 HEARTBEAT_ACK
    client: op 2 IDENTIFY {token, intents}  -> READY, then one GUILD_CREATE per guild
         or op 6 RESUME {token, session_id, seq} -> the missed dispatches, then RESUMED
    client: op 3 PRESENCE_UPDATE, op 4 VOICE_STATE_UPDATE, op 8 REQUEST_GUILD_MEMBERS
    server: op 0 DISPATCH (numbered), op 7 RECONNECT, op 9 INVALID_SESSION(d: resumable)

Close codes: 4001 unknown opcode, 4002 undecodable or oversized payload (> 4096 bytes), 4003
payload before IDENTIFY, 4004 bad token, 4005 second IDENTIFY, 4007 RESUME with a future
``seq``, 4008 more than 120 payloads in 60 s, 4009 heartbeats stopped, 4010 bad shard, 4012 bad
API version, 4013 undefined intent bits, 4014 privileged intents not granted.

Transport compression: ``compress=zlib-stream`` gives the connection one zlib stream; every
payload is compressed into it and ends with a Z_SYNC_FLUSH (the frame ends in ``00 00 ff ff``).
``zstd-stream`` is not available here, so such clients get plain text frames, which discord.py
reads as well.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from typing import Any

import anyio
from aiohttp import WSMsgType, web

from . import _errors as errors
from ._gateway_payloads import guild_create_json, member_chunks, ready_json
from ._intents import ALL_INTENTS, PRIVILEGED, Intent
from ._model import JSONObject
from ._sessions import Session, SessionHub, encode
from ._snowflake import parse_snowflake

_log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

CLOSE_REASONS = {
    4000: "Unknown error.",
    4001: "Unknown opcode.",
    4002: "Decode error.",
    4003: "Not authenticated.",
    4004: "Authentication failed.",
    4005: "Already authenticated.",
    4007: "Invalid seq.",
    4008: "Rate limited.",
    4009: "Session timed out.",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4012: "Invalid API version.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s).",
}
STATUSES = frozenset({"online", "idle", "dnd", "invisible", "offline"})


class _Closed(Exception):
    """Raised inside the reader to close the socket with a code."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason if reason is not None else CLOSE_REASONS.get(code, "")


class Connection:
    """One gateway socket: reads and checks client payloads, writes queued frames."""

    def __init__(
        self, gateway: Gateway, request: web.Request, ws: web.WebSocketResponse, zlib_stream: bool
    ) -> None:
        self.gateway = gateway
        self.hub = gateway.hub
        self.config = gateway.hub.config
        self.request = request
        self.ws = ws
        self.session: Session | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.dropped = False
        self._compressor = zlib.compressobj() if zlib_stream else None
        self._sent_at: collections.deque[float] = collections.deque()
        self._last_beat = anyio.current_time()
        self._scope = anyio.CancelScope()
        self._outbox: collections.deque[tuple[str, float]] = collections.deque()
        """Frames for the writer, each with when it was queued (the control API's latency)."""
        self._outbox_open = True
        self._wakeup: anyio.Event | None = None
        """Set when a frame is queued while the writer waits for one."""
        self._loop_time = asyncio.get_running_loop().time
        """``anyio.current_time`` on asyncio (aiohttp's loop), without its per-call lookups."""

    @property
    def compression(self) -> str | None:
        """``"zlib-stream"`` when the socket's payloads are compressed, else None."""
        return None if self._compressor is None else "zlib-stream"

    # ----------------------------------------------------------------- Link

    def send_text(self, text: str) -> None:
        """Queue a payload; a socket that cannot keep up is closed (its session resumes)."""
        if self.close_code is not None or self.dropped or not self._outbox_open:
            return
        if len(self._outbox) >= self.config.outbox_limit:
            _log.warning("gateway socket not keeping up; closing it with 4000")
            self.close(4000, "Outbox full.")
            return
        self._outbox.append((text, self._loop_time()))
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def send_op(self, op: int, data: object = None) -> None:
        """Queue a non-dispatch payload."""
        self.send_text(encode({"op": op, "d": data}))

    def close(self, code: int, reason: str = "") -> None:
        """Close the socket with ``code`` as soon as possible."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason or CLOSE_REASONS.get(code, "")
        self._scope.cancel()

    def drop(self) -> None:
        """Cut the TCP connection without a close frame."""
        self.dropped = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self._scope.cancel()

    # ----------------------------------------------------------------- running

    async def run(self) -> None:
        """Serve the socket until either side closes it."""
        try:
            with self._scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._write)
                    tg.start_soon(self._watch_heartbeats)
                    self.send_op(HELLO, {"heartbeat_interval": self._interval_ms()})
                    try:
                        await self._read()
                    except _Closed as closed:
                        self.close(closed.code, closed.reason)
                    except Exception:
                        _log.exception("gateway connection failed; closing it with 4000")
                        self.close(4000)
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()

    async def _finish(self) -> None:
        if not self.dropped and not self.ws.closed:
            code = self.close_code if self.close_code is not None else 1000
            try:
                with anyio.fail_after(self.config.close_timeout + 1, shield=True):
                    await self.ws.close(code=code, message=self.close_reason.encode())
            except (TimeoutError, ConnectionError, RuntimeError):
                pass
        self._outbox_open = False
        self._outbox.clear()
        session = self.session
        if session is not None:
            ended_with = self.close_code if self.close_code is not None else self.ws.close_code
            self.hub.detach(session, self, None if self.dropped else ended_with)

    def _interval_ms(self) -> int:
        return round(self.config.heartbeat_interval * 1000)

    async def _write(self) -> None:
        # A deque and an Event rather than a memory object stream: one wake-up per frame and
        # no checkpoint before each receive (fan-out sends a frame per recipient socket).
        ws = self.ws
        compressor = self._compressor
        outbox = self._outbox
        try:
            while True:
                if not outbox:
                    self._wakeup = wakeup = anyio.Event()
                    await wakeup.wait()
                    continue
                text, queued_at = outbox.popleft()
                if self.gateway.latency is not None:
                    session = self.session
                    delay = self.gateway.latency(None if session is None else session.bot.id)
                    if delay > 0:
                        await anyio.sleep_until(queued_at + delay)
                try:
                    if compressor is None:
                        await ws.send_str(text)
                    else:
                        data = compressor.compress(text.encode()) + compressor.flush(
                            zlib.Z_SYNC_FLUSH
                        )
                        await ws.send_bytes(data)
                except (ConnectionError, RuntimeError):
                    self._scope.cancel()
                    return
        finally:
            self._outbox_open = False
            self._wakeup = None

    async def _watch_heartbeats(self) -> None:
        timeout = self.config.heartbeat_interval * self.config.heartbeat_grace
        while True:
            remaining = self._last_beat + timeout - anyio.current_time()
            if remaining <= 0:
                self.close(4009)
                return
            await anyio.sleep(remaining)

    async def _read(self) -> None:
        limit = self.config.max_payload
        async for message in self.ws:
            if message.type is WSMsgType.TEXT:
                text: str = message.data
                if len(text) > limit or len(text.encode()) > limit:
                    raise _Closed(4002, "Payload too large.")
            elif message.type is WSMsgType.BINARY:
                raw: bytes = message.data
                if len(raw) > limit:
                    raise _Closed(4002, "Payload too large.")
                try:
                    text = raw.decode()
                except UnicodeDecodeError:
                    raise _Closed(4002) from None
            else:
                return
            self._count_send()
            try:
                payload = json.loads(text)
            except ValueError:
                raise _Closed(4002) from None
            if not isinstance(payload, dict) or "op" not in payload:
                raise _Closed(4002)
            self._handle(payload.get("op"), payload.get("d"))

    def _count_send(self) -> None:
        now = anyio.current_time()
        sent = self._sent_at
        window = self.config.send_window
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) >= self.config.send_limit:
            raise _Closed(4008)
        sent.append(now)

    # ----------------------------------------------------------------- opcodes

    def _handle(self, op: object, data: Any) -> None:
        if op == HEARTBEAT:
            if data is not None and (isinstance(data, bool) or not isinstance(data, int)):
                raise _Closed(4002)
            self._last_beat = anyio.current_time()
            self.send_op(HEARTBEAT_ACK, None)
            return
        if op == IDENTIFY:
            if self.session is not None and not self.session.ended:
                raise _Closed(4005)
            self._identify(data)
            return
        if op == RESUME:
            if self.session is not None and not self.session.ended:
                raise _Closed(4005)
            self._resume(data)
            return
        if op not in (PRESENCE_UPDATE, VOICE_STATE_UPDATE, REQUEST_GUILD_MEMBERS):
            raise _Closed(4001)
        session = self.session
        if session is None or session.ended:
            raise _Closed(4003)
        if op == PRESENCE_UPDATE:
            self._presence(session, data)
        elif op == REQUEST_GUILD_MEMBERS:
            self._request_members(session, data)
        elif not isinstance(data, dict):
            raise _Closed(4002)

    def _identify(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise _Closed(4002)
        if not isinstance(data.get("properties"), dict):
            raise _Closed(4002)
        token = data["token"]
        if token.startswith("Bot "):
            token = token[4:]
        bot = self.hub.state.bot_for_token(token)
        if bot is None:
            raise _Closed(4004)
        intents = data.get("intents")
        if isinstance(intents, bool) or not isinstance(intents, int):
            raise _Closed(4013)
        if intents < 0 or intents & ~ALL_INTENTS:
            raise _Closed(4013)
        if intents & PRIVILEGED & ~bot.granted_intents:
            raise _Closed(4014)
        shard = self._shard(data.get("shard"))
        threshold = data.get("large_threshold", 50)
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise _Closed(4002)
        state = self.hub.state
        session = Session(
            id=secrets.token_hex(16),
            bot=bot,
            intents=intents,
            shard=shard,
            large_threshold=min(250, max(50, threshold)),
            resume_url=f"ws://{self.request.host}",
            replay=collections.deque(maxlen=self.config.replay_limit),
            link=self,
        )
        self.hub.open(session)
        self.session = session
        self.hub.counters.count(self.hub.counters.identifies, bot.id)
        guild_ids = [gid for gid in sorted(state.guild_ids_of(bot.id)) if session.covers_guild(gid)]
        session.dispatch(
            "READY",
            encode(ready_json(bot, session.id, session.resume_url, guild_ids, shard)),
        )
        if intents & Intent.GUILDS:
            for gid in guild_ids:
                guild = state.guilds[gid]
                payload = guild_create_json(state, guild, bot, intents, session.large_threshold)
                session.dispatch("GUILD_CREATE", encode(payload))
        status, activities = "online", list[JSONObject]()
        presence = data.get("presence")
        if isinstance(presence, dict):
            status, activities = self._parse_presence(presence)
        self.hub.set_presence(bot, status, activities)
        _log.info("gateway: %s identified (session %s)", bot.name, session.id)

    def _shard(self, value: object) -> tuple[int, int] | None:
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise _Closed(4010)
        shard_id, count = value
        if count < 1 or not 0 <= shard_id < count:
            raise _Closed(4010)
        return shard_id, count

    def _resume(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise _Closed(4002)
        token, session_id = data.get("token"), data.get("session_id")
        seq: object = data.get("seq")
        if not isinstance(token, str) or not isinstance(session_id, str):
            raise _Closed(4002)
        if seq is None:
            seq = 0
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise _Closed(4002)
        if token.startswith("Bot "):
            token = token[4:]
        bot = self.hub.state.bot_for_token(token)
        if bot is None:
            raise _Closed(4004)
        self.hub.expire()
        session = self.hub.sessions.get(session_id)
        if session is None or session.ended or session.bot is not bot:
            self.hub.counters.failed_resumes += 1
            self.send_op(INVALID_SESSION, data=False)
            return
        if seq > session.seq:
            self.hub.counters.failed_resumes += 1
            self.hub.end(session)
            raise _Closed(4007)
        missed = session.missed_since(seq)
        if missed is None:
            self.hub.counters.failed_resumes += 1
            self.hub.end(session)
            self.send_op(INVALID_SESSION, data=False)
            return
        previous = session.link
        if previous is not None:
            session.link = None
            previous.close(4000, "Session resumed elsewhere.")
        session.link = self
        session.detached_at = None
        self.session = session
        for frame in missed:
            self.send_text(frame)
        session.dispatch("RESUMED", "{}")
        self.hub.counters.count(self.hub.counters.resumes, bot.id)
        _log.info("gateway: %s resumed session %s (%d replayed)", bot.name, session.id, len(missed))

    def _parse_presence(self, data: JSONObject) -> tuple[str, list[JSONObject]]:
        status = data.get("status") or "online"
        if status not in STATUSES:
            raise _Closed(4002)
        activities = data.get("activities")
        if activities is None:
            game = data.get("game")
            activities = [game] if isinstance(game, dict) else []
        if not isinstance(activities, list) or not all(isinstance(a, dict) for a in activities):
            raise _Closed(4002)
        return status, [dict(a) for a in activities]

    def _presence(self, session: Session, data: Any) -> None:
        if not isinstance(data, dict):
            raise _Closed(4002)
        status, activities = self._parse_presence(data)
        self.hub.set_presence(session.bot, status, activities)

    def _request_members(self, session: Session, data: Any) -> None:
        if not isinstance(data, dict):
            raise _Closed(4002)
        guild_id = parse_snowflake(data.get("guild_id"))
        if guild_id is None:
            raise _Closed(4002)
        query = data.get("query")
        limit = data.get("limit", 0)
        raw_ids = data.get("user_ids")
        user_ids: list[int] | None = None
        if raw_ids is not None:
            values = raw_ids if isinstance(raw_ids, list) else [raw_ids]
            parsed = [parse_snowflake(v) for v in values]
            if any(p is None for p in parsed):
                raise _Closed(4002)
            user_ids = [p for p in parsed if p is not None]
        elif not isinstance(query, str) or isinstance(limit, bool) or not isinstance(limit, int):
            raise _Closed(4002)
        if user_ids is None and query == "" and not session.intents & Intent.GUILD_MEMBERS:
            raise _Closed(4013, "Requesting the whole member list needs the GUILD_MEMBERS intent.")
        state = self.hub.state
        if guild_id not in state.guild_ids_of(session.bot.id):
            return
        nonce = data.get("nonce")
        for chunk in member_chunks(
            state,
            state.guilds[guild_id],
            query=query if isinstance(query, str) else "",
            limit=limit if isinstance(limit, int) else 0,
            user_ids=user_ids,
            presences=bool(data.get("presences"))
            and bool(session.intents & Intent.GUILD_PRESENCES),
            nonce=nonce if isinstance(nonce, str) else None,
            chunk_size=self.config.chunk_size,
        ):
            session.dispatch("GUILD_MEMBERS_CHUNK", encode(chunk))


class Gateway:
    """The WebSocket endpoint: checks the query string and runs a :class:`Connection`."""

    def __init__(self, hub: SessionHub) -> None:
        self.hub = hub
        self.connections: set[Connection] = set()
        self.latency: Callable[[int | None], float] | None = None
        """Seconds to hold each frame to a bot (by bot id; None before IDENTIFY), or None."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /?v=10&encoding=json[&compress=zlib-stream]`` upgraded to a WebSocket."""
        ws = web.WebSocketResponse(
            autoping=True,
            compress=False,
            max_msg_size=1 << 20,
            timeout=self.hub.config.close_timeout,
        )
        if not ws.can_prepare(request).ok:
            raise errors.http_error(400, "Bad Request")
        await ws.prepare(request)
        query = request.query
        connection = Connection(self, request, ws, query.get("compress") == "zlib-stream")
        version = query.get("v", "10")
        if version != "10":
            connection.close(4012)
        elif query.get("encoding", "json") != "json":
            connection.close(4002, "Only encoding=json is supported.")
        self.connections.add(connection)
        self.hub.counters.connections += 1
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
        return ws

    def close_all(self, code: int = 1001) -> None:
        """Close every socket (the sandbox is stopping)."""
        for connection in list(self.connections):
            connection.close(code, "Going away.")
