"""The control API: drive and observe a running sandbox over HTTP, under ``/_sandbox``.

A thin JSON layer over :class:`~discord_io.sandbox.Sandbox` methods, for tests and benchmarks
in other processes (:mod:`discord_io.sandbox.control_client` wraps it for Python). No bot
token is needed, but only loopback callers are answered (403 otherwise) unless the sandbox runs
with ``SandboxConfig(control_remote=True)``. Bodies are JSON objects; an empty body means
``{}``. Mistakes get ``400 {"error": "..."}`` naming the field and what it should be; unknown
bots, channels and users get 404. Bots are named by name or id in paths, channels by id or
name.

=======  ==============================================  =======================================
method   path                                            what
=======  ==============================================  =======================================
GET      /_sandbox                                       urls, bots (with tokens), users,
                                                         guilds, channels, the endpoint list
POST     /_sandbox/channels/{channel}/messages           post as a user ``{author | author_id,
                                                         content, nonce?, embeds?}``
GET      /_sandbox/channels/{channel}/messages           every message created in the channel,
                                                         in order (loss/duplicate checks)
POST     /_sandbox/events                                dispatch a raw event ``{event, data,
                                                         intents?, guild_id?, channel_id?, bot?}``
POST     /_sandbox/bots/{bot}/gateway/close              close its sockets ``{code?, reason?}``
POST     /_sandbox/bots/{bot}/gateway/reconnect          send op 7 RECONNECT
POST     /_sandbox/bots/{bot}/gateway/invalidate         op 9 ``{resumable: bool}``
POST     /_sandbox/bots/{bot}/gateway/drop               cut its sockets without a close frame
POST     /_sandbox/faults/rate-limit                     next N requests 429 ``{count?, route?,
                                                         scope?, retry_after?}``
POST     /_sandbox/faults/status                         next N requests 5xx ``{count?, status,
                                                         route?}``
POST     /_sandbox/faults/latency                        ``{rest?, gateway?, bot?}`` seconds
POST     /_sandbox/faults/outage                         ``{seconds?, mode?, disconnect?}``
DELETE   /_sandbox/faults/outage                         end the outage
GET      /_sandbox/faults                                what is pending
DELETE   /_sandbox/faults                                clear every fault
GET      /_sandbox/counters                              requests, 429s, invalid tally, gateway
DELETE   /_sandbox/counters                              zero the counters
=======  ==============================================  =======================================
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, get_args

from aiohttp import web

from ._errors import DiscordError
from ._faults import CONTROL_PREFIX, OUTAGE_MODES, OutageMode
from ._model import JSONObject, Message
from ._ratelimits import FAULT_STATUSES, Scope
from ._snowflake import iso_timestamp, parse_snowflake

if TYPE_CHECKING:
    from ._server import Sandbox

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SCOPES: tuple[Scope, ...] = get_args(Scope)


class BadInput(Exception):
    """A control call's input is wrong: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(body: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        content_type="application/json",
    )


def _error(status: int, message: str, **extra: object) -> web.Response:
    return _answer({"error": message, **extra}, status)


# -- reading input ------------------------------------------------------------------------------


async def _body(request: web.Request) -> JSONObject:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("the body must be a JSON object (it is not valid JSON)") from None
    if not isinstance(body, dict):
        raise BadInput(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def _unknown_keys(body: JSONObject, *allowed: str) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise BadInput(f"unknown field(s) {', '.join(extra)}; allowed: {', '.join(allowed)}")


def _int(body: JSONObject, key: str, default: int | None, low: int, high: int) -> int:
    value = body.get(key, default)
    if value is None:
        raise BadInput(f"{key} is required: an integer from {low} to {high}")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(f"{key} must be an integer from {low} to {high}, got {value!r}")
    return value


def _number(body: JSONObject, key: str, *, positive: bool = False) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(f"{key} must be a number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise BadInput(f"{key} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _bool(body: JSONObject, key: str, default: bool | None) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BadInput(f"{key} must be true or false, got {value!r}")
    return value


def _str(body: JSONObject, key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"{key} must be a string, got {value!r}")
    return value


def _snowflake(body: JSONObject, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    parsed = parse_snowflake(value)
    if parsed is None:
        raise BadInput(f"{key} must be a snowflake (an id as a string or integer), got {value!r}")
    return parsed


def _route(body: JSONObject) -> str | None:
    route = _str(body, "route")
    if route is None:
        return None
    method, _, path = route.strip().rpartition(" ")
    if not path.startswith("/") or (method and not method.isalpha()):
        raise BadInput(
            'route must be "METHOD /template" or "/template", e.g. '
            f'"POST /channels/{{channel_id}}/messages", got {route!r}'
        )
    return route


class _Control:
    """The handlers, bound to one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    # -- naming things ------------------------------------------------------------------------

    def _bot_id(self, ref: object) -> int:
        sb = self.sb
        parsed = parse_snowflake(ref) if not isinstance(ref, bool) else None
        try:
            return sb.bot(parsed if parsed is not None else str(ref)).id
        except KeyError:
            known = ", ".join(b.name for b in sb.bots)
            raise BadInput(f"no bot {ref!r}; bots: {known}", 404) from None

    def _channel_id(self, ref: str) -> int:
        sb = self.sb
        parsed = parse_snowflake(ref)
        if parsed is not None and parsed in sb.state.channels:
            return parsed
        try:
            return sb.channel_id(ref)
        except KeyError:
            raise BadInput(f"no channel {ref!r} (give its id or name)", 404) from None

    def _user_id(self, ref: object) -> int:
        users = self.sb.state.users
        parsed = parse_snowflake(ref) if not isinstance(ref, bool) else None
        if parsed is not None and parsed in users:
            return parsed
        for user in users.values():
            if user.username == ref:
                return user.id
        humans = ", ".join(u.username for u in users.values() if not u.bot)
        raise BadInput(f"no user {ref!r} (give an id or username); humans: {humans}", 404)

    def _delivered(self, message: Message) -> JSONObject:
        author = self.sb.state.users.get(message.author_id)
        return {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author_id": str(message.author_id),
            "author": author.username if author is not None else None,
            "content": message.content,
            "nonce": message.nonce,
            "timestamp": iso_timestamp(message.timestamp),
            "edited_timestamp": (
                iso_timestamp(message.edited_timestamp) if message.edited_timestamp else None
            ),
            "deleted": message.deleted,
        }

    # -- info -----------------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sandbox``."""
        sb = self.sb
        state = sb.state
        return _answer(
            {
                "base_url": sb.base_url,
                "gateway_url": sb.gateway_url,
                "control_url": sb.http_url + CONTROL_PREFIX,
                "rate_limits": sb.limits is not None and sb.config.rate_limits is not None,
                "bots": [{"name": b.name, "id": str(b.id), "token": b.token} for b in sb.bots],
                "users": [
                    {"id": str(u.id), "username": u.username, "bot": u.bot}
                    for u in state.users.values()
                ],
                "guilds": [{"id": str(g.id), "name": g.name} for g in state.guilds.values()],
                "channels": [
                    {
                        "id": str(c.id),
                        "name": c.name,
                        "type": int(c.type),
                        "guild_id": None if c.guild_id is None else str(c.guild_id),
                    }
                    for c in state.channels.values()
                ],
                "endpoints": ENDPOINTS,
            }
        )

    # -- messages and events ---------------------------------------------------------------------

    async def post_message(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/channels/{channel}/messages``."""
        body = await _body(request)
        _unknown_keys(body, "author", "author_id", "content", "nonce", "embeds")
        channel_id = self._channel_id(request.match_info["channel"])
        author = body.get("author_id", body.get("author"))
        if author is None:
            raise BadInput("author (a username or id) or author_id is required")
        author_id = self._user_id(author)
        content = _str(body, "content", "") or ""
        nonce = body.get("nonce")
        if nonce is not None and (isinstance(nonce, bool) or not isinstance(nonce, str | int)):
            raise BadInput(f"nonce must be a string or an integer, got {nonce!r}")
        embeds = body.get("embeds", [])
        if not isinstance(embeds, list) or not all(isinstance(e, dict) for e in embeds):
            raise BadInput("embeds must be a list of objects")
        message = self.sb.inject_message(
            channel_id, content, author_id=author_id, nonce=nonce, embeds=embeds
        )
        return _answer(self._delivered(message))

    async def delivered(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sandbox/channels/{channel}/messages``."""
        channel_id = self._channel_id(request.match_info["channel"])
        return _answer([self._delivered(m) for m in self.sb.delivered(channel_id)])

    async def post_event(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/events``."""
        body = await _body(request)
        _unknown_keys(body, "event", "data", "intents", "guild_id", "channel_id", "bot")
        event = _str(body, "event")
        if not event or not event.replace("_", "").isalnum() or not event.isupper():
            raise BadInput(f"event must be an event name like MESSAGE_CREATE, got {event!r}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise BadInput("data must be a JSON object (the dispatch's d)")
        intents = _int(body, "intents", 0, 0, (1 << 53) - 1)
        bot = body.get("bot")
        sessions = self.sb.inject_event(
            event,
            data,
            intents=intents,
            guild_id=_snowflake(body, "guild_id"),
            channel_id=_snowflake(body, "channel_id"),
            bot=None if bot is None else self._bot_id(bot),
        )
        return _answer({"sessions": sessions})

    # -- gateway faults --------------------------------------------------------------------------

    async def gateway_fault(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/bots/{bot}/gateway/{close,reconnect,invalidate,drop}``."""
        body = await _body(request)
        bot_id = self._bot_id(request.match_info["bot"])
        action = request.match_info["action"]
        sb = self.sb
        if action == "close":
            _unknown_keys(body, "code", "reason")
            code = _int(body, "code", 4000, 1000, 4999)
            if 1000 < code < 3000:
                raise BadInput(f"code must be 1000 or 3000-4999, got {code}")
            reason = _str(body, "reason", "") or ""
            return _answer({"sockets": sb.close_gateway(bot_id, code, reason)})
        if action == "reconnect":
            _unknown_keys(body)
            return _answer({"sockets": sb.send_reconnect(bot_id)})
        if action == "invalidate":
            _unknown_keys(body, "resumable")
            resumable = _bool(body, "resumable", default=False)
            return _answer({"sockets": sb.invalidate_session(bot_id, resumable=resumable)})
        if action == "drop":
            _unknown_keys(body)
            return _answer({"sockets": sb.drop_gateway(bot_id)})
        raise BadInput(
            f"no gateway fault {action!r}; use close, reconnect, invalidate or drop", 404
        )

    # -- REST faults -----------------------------------------------------------------------------

    async def rate_limit(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/faults/rate-limit``."""
        body = await _body(request)
        _unknown_keys(body, "count", "route", "scope", "retry_after")
        count = _int(body, "count", 1, 1, 1_000_000)
        raw_scope = body.get("scope", "user")
        scope = next((s for s in SCOPES if s == raw_scope), None)
        if scope is None:
            raise BadInput(f"scope must be one of {', '.join(SCOPES)}, got {raw_scope!r}")
        retry_after = _number(body, "retry_after", positive=True) or 1.0
        self._rest_faults()
        self.sb.inject_429(count, route=_route(body), scope=scope, retry_after=retry_after)
        return _answer(self._faults())

    async def status(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/faults/status``."""
        body = await _body(request)
        _unknown_keys(body, "count", "status", "route")
        count = _int(body, "count", 1, 1, 1_000_000)
        status = body.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or status not in FAULT_STATUSES:
            raise BadInput(f"status must be one of {sorted(FAULT_STATUSES)}, got {status!r}")
        self._rest_faults()
        self.sb.inject_status(count, status, route=_route(body))
        return _answer(self._faults())

    def _rest_faults(self) -> None:
        if self.sb.limits is None:
            raise BadInput("this sandbox runs a custom rate_limits hook: no REST faults", 409)

    async def latency(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/faults/latency``."""
        body = await _body(request)
        _unknown_keys(body, "rest", "gateway", "bot")
        rest, gateway = _number(body, "rest"), _number(body, "gateway")
        if rest is None and gateway is None:
            raise BadInput("give rest and/or gateway: seconds of added latency (0 removes it)")
        bot = body.get("bot")
        self.sb.set_latency(
            rest=rest, gateway=gateway, bot=None if bot is None else self._bot_id(bot)
        )
        return _answer(self._faults())

    async def outage(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sandbox/faults/outage``."""
        body = await _body(request)
        _unknown_keys(body, "seconds", "mode", "disconnect")
        seconds = _number(body, "seconds", positive=True)
        mode = _str(body, "mode", "503")
        if mode not in OUTAGE_MODES:
            raise BadInput(f"mode must be one of {', '.join(OUTAGE_MODES)}, got {mode!r}")
        outage_mode: OutageMode = "close" if mode == "close" else "503"
        disconnect = _bool(body, "disconnect", default=True)
        dropped = self.sb.start_outage(seconds, mode=outage_mode, disconnect=disconnect)
        return _answer({**self._faults(), "dropped_sockets": dropped})

    async def end_outage(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /_sandbox/faults/outage``."""
        was = self.sb.end_outage()
        return _answer({**self._faults(), "ended": was})

    def _faults(self) -> JSONObject:
        sb = self.sb
        faults = sb.faults
        names = {b.id: b.name for b in sb.bots}

        def table(latency: dict[int | None, float]) -> JSONObject:
            return {("*" if k is None else names.get(k, str(k))): v for k, v in latency.items()}

        remaining = faults.outage_remaining
        pending = 0
        if sb.limits is not None:
            pending = sb.limits.limiter.statistics().faults_pending
        return {
            "pending_requests": pending,
            "latency": {
                "rest": table(faults.rest_latency),
                "gateway": table(faults.gateway_latency),
            },
            "outage": None
            if remaining is None
            else {
                "mode": faults.outage_mode,
                "remaining": None if math.isinf(remaining) else round(remaining, 3),
            },
        }

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sandbox/faults``."""
        return _answer(self._faults())

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /_sandbox/faults``."""
        cleared = self.sb.clear_faults()
        return _answer({**self._faults(), "cleared_requests": cleared})

    # -- counters --------------------------------------------------------------------------------

    async def counters(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sandbox/counters``."""
        return _answer(self.sb.counters())

    async def reset_counters(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /_sandbox/counters``."""
        self.sb.reset_counters()
        return _answer(self.sb.counters())

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other path under ``/_sandbox``."""
        return _error(
            404,
            f"no control endpoint {request.method} {request.path}",
            endpoints=ENDPOINTS,
        )


ENDPOINTS = [
    "GET /_sandbox",
    "POST /_sandbox/channels/{channel}/messages",
    "GET /_sandbox/channels/{channel}/messages",
    "POST /_sandbox/events",
    "POST /_sandbox/bots/{bot}/gateway/close",
    "POST /_sandbox/bots/{bot}/gateway/reconnect",
    "POST /_sandbox/bots/{bot}/gateway/invalidate",
    "POST /_sandbox/bots/{bot}/gateway/drop",
    "GET /_sandbox/faults",
    "DELETE /_sandbox/faults",
    "POST /_sandbox/faults/rate-limit",
    "POST /_sandbox/faults/status",
    "POST /_sandbox/faults/latency",
    "POST /_sandbox/faults/outage",
    "DELETE /_sandbox/faults/outage",
    "GET /_sandbox/counters",
    "DELETE /_sandbox/counters",
]


def _guarded(handler: _Handler, allow_remote: bool) -> _Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not allow_remote and not _is_loopback(request.remote):
            return _error(
                403,
                "the control API answers loopback callers only; "
                "run the sandbox with SandboxConfig(control_remote=True) to allow others",
            )
        try:
            return await handler(request)
        except BadInput as exc:
            return _error(exc.status, exc.message)
        except DiscordError as exc:
            # The world refused (the author can't see or post in the channel, ...).
            return _error(exc.status, exc.message, discord=exc.body())
        except (KeyError, ValueError) as exc:
            return _error(400, str(exc.args[0]) if exc.args else repr(exc))

    return guarded


def _is_loopback(remote: str | None) -> bool:
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def add_control_routes(sandbox: Sandbox) -> None:
    """Mount the control API on the sandbox's app."""
    control = _Control(sandbox)
    allow_remote = sandbox.config.control_remote
    routes: list[tuple[str, str, _Handler]] = [
        ("GET", "", control.info),
        ("POST", "/channels/{channel}/messages", control.post_message),
        ("GET", "/channels/{channel}/messages", control.delivered),
        ("POST", "/events", control.post_event),
        ("POST", "/bots/{bot}/gateway/{action}", control.gateway_fault),
        ("GET", "/faults", control.get_faults),
        ("DELETE", "/faults", control.clear_faults),
        ("POST", "/faults/rate-limit", control.rate_limit),
        ("POST", "/faults/status", control.status),
        ("POST", "/faults/latency", control.latency),
        ("POST", "/faults/outage", control.outage),
        ("DELETE", "/faults/outage", control.end_outage),
        ("GET", "/counters", control.counters),
        ("DELETE", "/counters", control.reset_counters),
        ("*", "/{tail:.*}", control.not_found),
    ]
    router = sandbox.app.router
    for method, path, handler in routes:
        router.add_route(method, CONTROL_PREFIX + path, _guarded(handler, allow_remote))


__all__ = ["ENDPOINTS", "BadInput", "add_control_routes"]
