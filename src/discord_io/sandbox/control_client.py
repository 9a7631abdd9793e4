"""A Python client for the sandbox's control API (``/_sandbox``), for tests and benchmarks.

::

    async with SandboxControl("http://127.0.0.1:8123") as control:   # or sandbox.http_url
        await control.inject_message("general", "hi bots", author="alice")
        await control.inject_429(3, route="POST /channels/{channel_id}/messages")
        await control.drop_gateway("scribe")
        counters = await control.counters()
        assert counters.rate_limited["user"] == 3
        assert counters.bots["scribe"].resumes == 1
        seen = await control.delivered("general")      # every message, in order

Each method mirrors a :class:`~discord_io.sandbox.Sandbox` method of the same name and one
endpoint (listed in ``docs/sandbox.md``). Bots are named by name or id, channels by id or
name, users by username or id. A refused call raises :class:`ControlError` with the server's
message. The client runs on asyncio (it uses aiohttp, as discord.py does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import aiohttp
import attrs

__all__ = [
    "BotCounters",
    "ControlError",
    "Counters",
    "DeliveredMessage",
    "SandboxControl",
]

PREFIX = "/_sandbox"
Ref = int | str
"""A bot, channel or user by id or by name."""


class ControlError(Exception):
    """The control API refused a call: ``status`` and the server's ``error`` message."""

    def __init__(self, status: int, message: str, body: object = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.body = body


def _time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


@attrs.frozen
class DeliveredMessage:
    """One message the sandbox created in a channel, as ``GET .../messages`` lists it."""

    id: int
    channel_id: int
    author_id: int
    author: str | None
    """The author's username."""
    content: str
    nonce: str | int | None
    timestamp: dt.datetime
    edited_timestamp: dt.datetime | None
    deleted: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeliveredMessage:
        """From the control API's JSON."""
        created = _time(data["timestamp"])
        assert created is not None
        return cls(
            id=int(data["id"]),
            channel_id=int(data["channel_id"]),
            author_id=int(data["author_id"]),
            author=data.get("author"),
            content=data.get("content", ""),
            nonce=data.get("nonce"),
            timestamp=created,
            edited_timestamp=_time(data.get("edited_timestamp")),
            deleted=bool(data.get("deleted")),
        )


@attrs.frozen
class BotCounters:
    """One bot's gateway counters."""

    id: int
    identifies: int
    resumes: int
    sessions: int
    """Live sessions, attached or waiting for a resume."""
    connected_sessions: int


@attrs.frozen
class Counters:
    """A snapshot of ``GET /_sandbox/counters``; ``raw`` is the JSON as sent."""

    requests: Mapping[str, Mapping[int, int]]
    """REST answers by route (``"POST /channels/{channel_id}/messages"``) and status."""
    rate_limited: Mapping[str, int]
    """429s answered, by scope (user, global, shared), injected ones included."""
    invalid_requests: Mapping[str, int]
    """The invalid-request tally (401/403/429 in the last 10 min) per client IP."""
    banned_ips: Sequence[str]
    refused_by_outage: int
    faults_pending: int
    faults_consumed: int
    connections: int
    """Gateway sockets opened."""
    identifies: int
    resumes: int
    failed_resumes: int
    sessions: int
    connected_sessions: int
    bots: Mapping[str, BotCounters]
    """By bot name."""
    raw: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def total_429s(self) -> int:
        """Every 429 answered, all scopes."""
        return sum(self.rate_limited.values())

    def with_status(self, status: int, route: str | None = None) -> int:
        """REST answers with ``status`` (on one route, or all)."""
        routes = [self.requests.get(route, {})] if route is not None else self.requests.values()
        return sum(by.get(status, 0) for by in routes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counters:
        """From the control API's JSON."""
        rest, gateway = data["rest"], data["gateway"]
        return cls(
            requests={
                route: {int(status): n for status, n in by.items()}
                for route, by in rest.get("requests", {}).items()
            },
            rate_limited=dict(rest.get("rate_limited", {})),
            invalid_requests=dict(rest.get("invalid_requests", {})),
            banned_ips=list(rest.get("banned_ips", [])),
            refused_by_outage=rest.get("refused_by_outage", 0),
            faults_pending=rest.get("faults_pending", 0),
            faults_consumed=rest.get("faults_consumed", 0),
            connections=gateway["connections"],
            identifies=gateway["identifies"],
            resumes=gateway["resumes"],
            failed_resumes=gateway["failed_resumes"],
            sessions=gateway["sessions"],
            connected_sessions=gateway["connected_sessions"],
            bots={
                name: BotCounters(
                    id=int(bot["id"]),
                    identifies=bot["identifies"],
                    resumes=bot["resumes"],
                    sessions=bot["sessions"],
                    connected_sessions=bot["connected_sessions"],
                )
                for name, bot in gateway["bots"].items()
            },
            raw=data,
        )


class SandboxControl:
    """The control API of the sandbox at ``url`` (``http://host:port``; a ``/api/v10`` or
    ``/_sandbox`` suffix is accepted). Use as an async context manager, or call
    :meth:`aclose`; pass ``session`` to share an aiohttp session (it is then not closed)."""

    def __init__(
        self, url: str, *, session: aiohttp.ClientSession | None = None, timeout: float = 30.0
    ) -> None:
        url = url.rstrip("/")
        for suffix in ("/api/v10", PREFIX):
            url = url.removesuffix(suffix)
        self.url = url + PREFIX
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def __aenter__(self) -> SandboxControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if this client made it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """One raw call: ``path`` below ``/_sandbox``; returns the decoded JSON answer."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.request(
            method, self.url + path, json=None if body is None else dict(body)
        ) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = await response.text()
            if response.status >= 400:
                message = data.get("error", str(data)) if isinstance(data, dict) else str(data)
                raise ControlError(response.status, message, data)
            return data

    # -- the world ----------------------------------------------------------------------------

    async def info(self) -> dict[str, Any]:
        """URLs, bots (with tokens), users, guilds and channels."""
        result: dict[str, Any] = await self.request("GET", "")
        return result

    async def inject_message(
        self,
        channel: Ref,
        content: str,
        *,
        author: Ref,
        nonce: str | int | None = None,
        embeds: Sequence[Mapping[str, Any]] = (),
    ) -> DeliveredMessage:
        """Post a message as ``author`` (a human, usually); bots get MESSAGE_CREATE."""
        body: dict[str, Any] = {"author": str(author), "content": content}
        if nonce is not None:
            body["nonce"] = nonce
        if embeds:
            body["embeds"] = [dict(e) for e in embeds]
        data = await self.request("POST", f"/channels/{channel}/messages", body)
        return DeliveredMessage.from_json(data)

    async def delivered(self, channel: Ref) -> list[DeliveredMessage]:
        """Every message created in the channel, in order, deleted ones included."""
        data = await self.request("GET", f"/channels/{channel}/messages")
        return [DeliveredMessage.from_json(m) for m in data]

    async def inject_event(
        self,
        event: str,
        data: Mapping[str, Any],
        *,
        intents: int = 0,
        guild_id: int | None = None,
        channel_id: int | None = None,
        bot: Ref | None = None,
    ) -> int:
        """Dispatch a raw gateway event; returns how many sessions received it."""
        body: dict[str, Any] = {"event": event, "data": dict(data), "intents": intents}
        if guild_id is not None:
            body["guild_id"] = str(guild_id)
        if channel_id is not None:
            body["channel_id"] = str(channel_id)
        if bot is not None:
            body["bot"] = str(bot)
        answer = await self.request("POST", "/events", body)
        return int(answer["sessions"])

    # -- gateway faults -----------------------------------------------------------------------

    async def close_gateway(self, bot: Ref, code: int = 4000, reason: str = "") -> int:
        """Close the bot's gateway sockets with ``code``; returns how many."""
        answer = await self.request(
            "POST", f"/bots/{bot}/gateway/close", {"code": code, "reason": reason}
        )
        return int(answer["sockets"])

    async def send_reconnect(self, bot: Ref) -> int:
        """Send op 7 RECONNECT to the bot's sockets."""
        answer = await self.request("POST", f"/bots/{bot}/gateway/reconnect")
        return int(answer["sockets"])

    async def invalidate_session(self, bot: Ref, *, resumable: bool = False) -> int:
        """Send op 9 INVALID_SESSION; not resumable also ends the sessions."""
        answer = await self.request(
            "POST", f"/bots/{bot}/gateway/invalidate", {"resumable": resumable}
        )
        return int(answer["sockets"])

    async def drop_gateway(self, bot: Ref) -> int:
        """Cut the bot's gateway sockets without a close frame (sessions stay resumable)."""
        answer = await self.request("POST", f"/bots/{bot}/gateway/drop")
        return int(answer["sockets"])

    # -- REST and network faults --------------------------------------------------------------

    async def inject_429(
        self,
        count: int = 1,
        *,
        route: str | None = None,
        scope: Literal["user", "global", "shared"] = "user",
        retry_after: float = 1.0,
    ) -> dict[str, Any]:
        """The next ``count`` REST requests (matching ``route``: ``"METHOD /template"`` or
        ``"/template"``; None: any) answer 429 with this scope."""
        body: dict[str, Any] = {"count": count, "scope": scope, "retry_after": retry_after}
        if route is not None:
            body["route"] = route
        result: dict[str, Any] = await self.request("POST", "/faults/rate-limit", body)
        return result

    async def inject_status(
        self, count: int, status: int, *, route: str | None = None
    ) -> dict[str, Any]:
        """The next ``count`` REST requests (matching ``route``) answer ``status`` (500, 502,
        503 or 504)."""
        body: dict[str, Any] = {"count": count, "status": status}
        if route is not None:
            body["route"] = route
        result: dict[str, Any] = await self.request("POST", "/faults/status", body)
        return result

    async def set_latency(
        self, *, rest: float | None = None, gateway: float | None = None, bot: Ref | None = None
    ) -> dict[str, Any]:
        """Add seconds of latency to REST answers and/or gateway frames (0 removes it)."""
        body: dict[str, Any] = {}
        if rest is not None:
            body["rest"] = rest
        if gateway is not None:
            body["gateway"] = gateway
        if bot is not None:
            body["bot"] = str(bot)
        result: dict[str, Any] = await self.request("POST", "/faults/latency", body)
        return result

    async def start_outage(
        self,
        seconds: float | None = None,
        *,
        mode: Literal["503", "close"] = "503",
        disconnect: bool = True,
    ) -> int:
        """Refuse REST and gateway connections for ``seconds`` (None: until ended); with
        ``disconnect`` the live gateway sockets are cut. Returns how many were cut."""
        body: dict[str, Any] = {"mode": mode, "disconnect": disconnect}
        if seconds is not None:
            body["seconds"] = seconds
        answer = await self.request("POST", "/faults/outage", body)
        return int(answer["dropped_sockets"])

    async def end_outage(self) -> bool:
        """End the outage; returns whether one was on."""
        answer = await self.request("DELETE", "/faults/outage")
        return bool(answer["ended"])

    async def faults(self) -> dict[str, Any]:
        """Pending faults: queued requests, latency tables, the outage."""
        result: dict[str, Any] = await self.request("GET", "/faults")
        return result

    async def clear_faults(self) -> int:
        """Clear every fault; returns the requests queued faults would still have answered."""
        answer = await self.request("DELETE", "/faults")
        return int(answer["cleared_requests"])

    # -- counters -----------------------------------------------------------------------------

    async def counters(self) -> Counters:
        """Requests by route and status, 429s by scope, invalid tally, gateway counters."""
        return Counters.from_json(await self.request("GET", "/counters"))

    async def reset_counters(self) -> Counters:
        """Zero the counters (rate-limit windows and queued faults are forgotten too)."""
        return Counters.from_json(await self.request("DELETE", "/counters"))
