"""Gateway sessions and the fan-out that feeds them.

A session outlives its socket. It is born at IDENTIFY, numbers its dispatches (``s``), keeps
the last ``replay_limit`` of them, and stays resumable for ``resume_window`` seconds after its
socket goes away; a RESUME on a new socket replays what the client missed, then RESUMED. A
session ends when it is invalidated (INVALID_SESSION(false), a non-resumable close code, the
client closing with 1000/1001) or its resume window passes.

:class:`SessionHub` holds every live session and implements the fan-out: each published
:class:`~discord_io.sandbox._events.Dispatch` goes to every session whose intents, guilds,
shard and channel permissions cover it, with content blanked for sessions without the
message_content intent. It is also the fault surface (close, reconnect, invalidate, drop) that
the sandbox's Python API and, later, its HTTP control API wrap.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

import attrs

from ._config import GatewayConfig
from ._events import Dispatch
from ._intents import Intent
from ._model import Bot, JSONObject
from ._serialize import presence_json
from ._state import SandboxState

_log = logging.getLogger(__name__)

NON_RESUMABLE_CLOSE_CODES = frozenset({1000, 1001, 4004, 4007, 4009, 4010, 4011, 4012, 4013, 4014})
"""Closing with one of these ends the session (4007/4009: 'start a new session')."""


def encode(payload: object) -> str:
    """Compact JSON text, as the gateway sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Link(Protocol):
    """What a session needs from the socket it is attached to."""

    def send_text(self, text: str) -> None:
        """Queue one gateway payload (already JSON text)."""

    def close(self, code: int, reason: str = "") -> None:
        """Close the socket with a close code."""

    def drop(self) -> None:
        """Cut the socket without a close frame."""


@attrs.define(eq=False)
class Session:
    """One IDENTIFY's session: its sequence, replay buffer and current socket."""

    id: str
    bot: Bot
    intents: int
    shard: tuple[int, int] | None
    large_threshold: int
    resume_url: str
    replay: collections.deque[tuple[int, str]]
    seq: int = 0
    link: Link | None = None
    detached_at: float | None = None
    ended: bool = False

    def covers_guild(self, guild_id: int) -> bool:
        """Whether this session's shard carries the guild (``(guild_id >> 22) % count``)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id

    def dispatch(self, event: str, data_json: str) -> None:
        """Number, remember and send a dispatch (``data_json`` is the ``d`` as JSON text)."""
        self.seq += 1
        frame = f'{{"op":0,"s":{self.seq},"t":"{event}","d":{data_json}}}'
        self.replay.append((self.seq, frame))
        if self.link is not None:
            self.link.send_text(frame)

    def missed_since(self, seq: int) -> list[str] | None:
        """Frames after ``seq`` for a RESUME, or None if some were already forgotten."""
        if seq >= self.seq:
            return []
        if not self.replay or self.replay[0][0] > seq + 1:
            return None
        return [frame for s, frame in self.replay if s > seq]


@attrs.define
class GatewayCounters:
    """What the gateway has seen since the start (or the last reset), for the control API."""

    connections: int = 0
    """Sockets opened."""
    identifies: dict[int, int] = attrs.field(factory=dict)
    """Successful IDENTIFYs, by bot id."""
    resumes: dict[int, int] = attrs.field(factory=dict)
    """Successful RESUMEs, by bot id."""
    failed_resumes: int = 0
    """RESUMEs answered with INVALID_SESSION(false) or closed with 4007."""

    def count(self, table: dict[int, int], bot_id: int) -> None:
        """Add one to ``table[bot_id]``."""
        table[bot_id] = table.get(bot_id, 0) + 1


@attrs.define
class SessionHub:
    """Every live session, the fan-out over them, and the fault surface."""

    state: SandboxState
    config: GatewayConfig
    clock: Callable[[], float] = time.monotonic
    sessions: dict[str, Session] = attrs.field(factory=dict)
    _by_bot: dict[int, list[Session]] = attrs.field(factory=dict)
    counters: GatewayCounters = attrs.field(factory=GatewayCounters)

    # ------------------------------------------------------------------ lifecycle

    def open(self, session: Session) -> None:
        """Register a new session."""
        self.expire()
        self.sessions[session.id] = session
        self._by_bot.setdefault(session.bot.id, []).append(session)

    def end(self, session: Session) -> None:
        """Forget a session: it can no longer be resumed."""
        if session.ended:
            return
        session.ended = True
        self.sessions.pop(session.id, None)
        peers = self._by_bot.get(session.bot.id, [])
        if session in peers:
            peers.remove(session)
        if not peers:
            self._set_status(session.bot, "offline", [])

    def detach(self, session: Session, link: Link, close_code: int | None) -> None:
        """The socket ``link`` went away; keep the session for a resume unless the code ends it."""
        if session.link is not link:
            return
        session.link = None
        session.detached_at = self.clock()
        if close_code in NON_RESUMABLE_CLOSE_CODES:
            self.end(session)

    def expire(self) -> None:
        """End sessions whose resume window has passed."""
        deadline = self.clock() - self.config.resume_window
        for session in [s for s in self.sessions.values() if s.link is None]:
            if session.detached_at is not None and session.detached_at < deadline:
                self.end(session)

    def of_bot(self, bot_id: int) -> list[Session]:
        """A bot's live sessions (attached or waiting for a resume)."""
        return list(self._by_bot.get(bot_id, ()))

    # ------------------------------------------------------------------ fan-out

    def publish(self, dispatch: Dispatch) -> None:
        """Send a dispatch to every session allowed to receive it."""
        full: str | None = None
        redacted: str | None = None
        state = self.state
        channel = state.channels.get(dispatch.channel_id) if dispatch.channel_id else None
        guild_id = dispatch.guild_id
        can_view: Callable[[int], bool] | None = None
        by_bot = self._by_bot
        if guild_id is not None:  # only the guild's members can hear it: skip the other bots
            members = state.guilds[guild_id].members if guild_id in state.guilds else {}
            groups = [by_bot[bot_id] for bot_id in by_bot if bot_id in members]
            if channel is not None and groups:
                can_view = state.viewer_test(channel)
        else:
            groups = list(by_bot.values())
        wanted, content = dispatch.intents, int(Intent.MESSAGE_CONTENT)
        for sessions in groups:
            for session in sessions:
                if wanted and not session.intents & wanted:
                    continue
                bot_id = session.bot.id
                if dispatch.user_ids is not None and bot_id not in dispatch.user_ids:
                    continue
                if guild_id is not None:
                    if not session.covers_guild(guild_id):
                        continue
                    if can_view is not None and not can_view(bot_id):
                        continue
                if (
                    dispatch.redacted is not None
                    and not session.intents & content
                    and bot_id not in dispatch.sees_content
                ):
                    if redacted is None:
                        redacted = encode(dispatch.redacted())
                    session.dispatch(dispatch.event, redacted)
                else:
                    if full is None:
                        full = encode(dispatch.data)
                    session.dispatch(dispatch.event, full)

    def set_presence(self, bot: Bot, status: str, activities: list[JSONObject]) -> None:
        """A bot's presence changed (IDENTIFY or op 3): tell guild peers with presences."""
        self._set_status(bot, status, activities)

    def _set_status(self, bot: Bot, status: str, activities: list[JSONObject]) -> None:
        shown = "offline" if status == "invisible" else status
        user = bot.user
        if user.status == shown and user.activities == activities:
            return
        user.status, user.activities = shown, activities
        for guild_id in self.state.guild_ids_of(bot.id):
            self.publish(
                Dispatch(
                    "PRESENCE_UPDATE",
                    presence_json(user, guild_id),
                    int(Intent.GUILD_PRESENCES),
                    guild_id=guild_id,
                )
            )

    # ------------------------------------------------------------------ faults

    def _links(self, bot_id: int) -> list[Link]:
        return [s.link for s in self.of_bot(bot_id) if s.link is not None]

    def close(self, bot_id: int, code: int, reason: str = "") -> int:
        """Close a bot's gateway sockets with ``code``; returns how many were closed."""
        links = self._links(bot_id)
        for link in links:
            link.close(code, reason)
        return len(links)

    def reconnect(self, bot_id: int) -> int:
        """Send op 7 RECONNECT to a bot's sockets (the client resumes elsewhere)."""
        links = self._links(bot_id)
        for link in links:
            link.send_text('{"op":7,"d":null}')
        return len(links)

    def invalidate(self, bot_id: int, *, resumable: bool) -> int:
        """Send op 9 INVALID_SESSION; with ``resumable=False`` the sessions end too."""
        count = 0
        for session in self.of_bot(bot_id):
            if session.link is not None:
                session.link.send_text(f'{{"op":9,"d":{"true" if resumable else "false"}}}')
                count += 1
            if not resumable:
                self.end(session)
        return count

    def drop(self, bot_id: int) -> int:
        """Cut a bot's sockets without a close frame (the sessions stay resumable)."""
        links = self._links(bot_id)
        for link in links:
            link.drop()
        return len(links)
