"""The REST side of the sandbox: an aiohttp application speaking Discord's API v10.

Routes live in ``_routes/``, one module per resource family, each with its own :class:`Router`;
:func:`create_app` mounts them under ``/api/v10``. A handler takes a :class:`Call` (the request,
the world, the authenticated bot, typed accessors that raise Discord's errors) and returns a
:class:`Reply`; it never builds responses by hand, so every JSON body goes through one encoder
with the exact ``Content-Type: application/json`` discord.py insists on.

The request pipeline is one middleware, in this order:

1. resolve the route template and the bot from ``Authorization: Bot <token>``;
2. **rate limits**: ``rate_limits.admit`` may answer instead (a 429) — the one place the
   ``_ratelimits`` module plugs in; ``rate_limits.complete`` then adds headers to every answer;
3. the handler; :class:`~discord_io.sandbox._errors.DiscordError` and aiohttp's own errors
   (unknown route, wrong method, body too large) become Discord's error bodies;
4. ``on_response(method, route_template, path, status, body)`` sees every JSON answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
from aiohttp import web

from . import _errors as errors
from ._errors import DiscordError
from ._model import Bot, JSONObject
from ._snowflake import parse_snowflake
from ._state import SandboxState

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
JSON_TYPE = "application/json"

ResponseHook = Callable[[str, str, str, int, object], None]
"""``(method, route_template, path, status, body)``, called for every JSON response."""

STATE_KEY: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)
_BODY: web.ResponseKey[object] = web.ResponseKey("discord_body", object)
_BOT: web.RequestKey[Bot | None] = web.RequestKey("discord_bot", object)  # type: ignore[arg-type]


class RateLimitHook(Protocol):
    """Where ``_ratelimits`` decides on each request; the sandbox ships without one."""

    def admit(self, request: web.Request, route: str, bot: Bot | None) -> web.StreamResponse | None:
        """None lets the request through; a response (a 429) is sent instead of handling it."""

    def complete(
        self, request: web.Request, route: str, bot: Bot | None, response: web.StreamResponse
    ) -> None:
        """Called with every answer: add ``X-RateLimit-*`` headers, tally invalid requests."""


def encode(body: object) -> bytes:
    """Compact JSON, as Discord sends it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response with ``Content-Type: application/json`` exactly (no charset)."""
    response = web.Response(
        status=status, body=encode(body), headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )
    response[_BODY] = body
    return response


def error_response(error: DiscordError) -> web.Response:
    """Discord's error body for ``error``."""
    return json_response(error.status, error.body())


@attrs.frozen
class Reply:
    """A handler's answer: a status and a JSON body (None for 204)."""

    status: int
    body: object = None


def ok(body: object) -> Reply:
    """200 with a JSON body."""
    return Reply(200, body)


NO_CONTENT = Reply(204)


@attrs.frozen
class Call:
    """One REST call as a handler sees it."""

    request: web.Request
    state: SandboxState
    bot: Bot | None
    """The caller; None only on routes registered with ``auth=False``."""

    @property
    def me(self) -> Bot:
        """The authenticated bot (routes with ``auth=True`` always have one)."""
        if self.bot is None:
            raise errors.http_error(*errors.UNAUTHORIZED)
        return self.bot

    def snowflake(self, name: str) -> int:
        """A path parameter that must be a snowflake (50035 NUMBER_TYPE_COERCE otherwise)."""
        raw = self.request.match_info[name]
        value = parse_snowflake(raw)
        if value is None:
            raise errors.not_snowflake(name, raw)
        return value

    def query_snowflake(self, name: str) -> int | None:
        """An optional snowflake query parameter."""
        raw = self.request.query.get(name)
        if raw is None:
            return None
        value = parse_snowflake(raw)
        if value is None:
            raise errors.not_snowflake(name, raw)
        return value

    def query_int(self, name: str, *, default: int, low: int, high: int) -> int:
        """An integer query parameter within ``[low, high]``."""
        raw = self.request.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.form_error(
                {name: [("NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')]}
            ) from None
        if value < low:
            raise errors.form_error(
                {
                    name: [
                        ("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
                    ]
                }
            )
        if value > high:
            raise errors.form_error(
                {name: [("NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")]}
            )
        return value

    async def json(self, *, empty: JSONObject | None = None) -> JSONObject:
        """The body as a JSON object (50109 if not JSON; 50035 if not an object)."""
        raw = await self.request.read()
        if not raw.strip() and empty is not None:
            return empty
        return parse_json_object(raw)


def parse_json_object(raw: bytes | bytearray | str) -> JSONObject:
    """``raw`` as a JSON object, or Discord's error for it."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_json() from None
    if not isinstance(body, dict):
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {
                "_errors": [
                    {
                        "code": "DICT_TYPE_CONVERT",
                        "message": "Only dictionaries may be used in a DictType",
                    }
                ]
            },
        )
    return body


Handler = Callable[[Call], Awaitable[Reply | web.StreamResponse]]


@attrs.frozen
class RouteSpec:
    """One endpoint: method, path below ``/api/v10``, handler, whether it needs a bot token."""

    method: str
    path: str
    handler: Handler
    auth: bool = True
    api: bool = True
    """False for paths outside ``/api/v10`` (the attachment CDN)."""


@attrs.define
class Router:
    """A resource family's endpoints, collected by decorators and mounted by :func:`create_app`."""

    specs: list[RouteSpec] = attrs.field(factory=list)

    def route(
        self, method: str, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method path`` (relative to ``/api/v10`` unless not api)."""

        def register(handler: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, handler, auth, api))
            return handler

        return register

    def get(
        self, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a GET handler."""
        return self.route("GET", path, auth=auth, api=api)

    def post(
        self, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a POST handler."""
        return self.route("POST", path, auth=auth, api=api)

    def patch(
        self, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a PATCH handler."""
        return self.route("PATCH", path, auth=auth, api=api)

    def put(
        self, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a PUT handler."""
        return self.route("PUT", path, auth=auth, api=api)

    def delete(
        self, path: str, *, auth: bool = True, api: bool = True
    ) -> Callable[[Handler], Handler]:
        """Register a DELETE handler."""
        return self.route("DELETE", path, auth=auth, api=api)


def _mount(spec: RouteSpec, state: SandboxState) -> Callable[[web.Request], Awaitable[Any]]:
    handler, auth = spec.handler, spec.auth

    async def endpoint(request: web.Request) -> web.StreamResponse:
        bot = request.get(_BOT)
        if bot is None and auth:
            raise errors.http_error(*errors.UNAUTHORIZED)
        reply = await handler(Call(request, state, bot))
        if isinstance(reply, Reply):
            if reply.status == 204:
                return web.Response(status=204)
            return json_response(reply.status, reply.body)
        return reply

    return endpoint


def _from_http_exception(exc: web.HTTPException) -> DiscordError:
    if exc.status == 413:
        return errors.entity_too_large()
    return errors.http_error(exc.status, exc.reason)


def _pipeline(
    state: SandboxState,
    rate_limits: RateLimitHook | None,
    on_response: ResponseHook | None,
    max_body: int,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    bot_for_token = state.bot_for_token

    @web.middleware
    async def pipeline(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else ""
        authorization = request.headers.get("Authorization")
        bot = None
        if authorization is not None and authorization.startswith("Bot "):
            bot = bot_for_token(authorization[4:])
            request[_BOT] = bot
        response: web.StreamResponse | None = None
        if rate_limits is not None:
            response = rate_limits.admit(request, template, bot)
        if response is None:
            try:
                length = request.content_length
                if length is not None and length > max_body:
                    raise errors.entity_too_large()
                response = await handler(request)
            except DiscordError as exc:
                response = error_response(exc)
            except web.HTTPException as exc:
                response = error_response(_from_http_exception(exc))
            except Exception:
                _log.exception("sandbox handler failed: %s %s", request.method, request.path)
                response = error_response(errors.http_error(500, "Internal Server Error"))
        if rate_limits is not None:
            rate_limits.complete(request, template, bot, response)
        if on_response is not None and _BODY in response:
            on_response(request.method, template, request.path, response.status, response[_BODY])
        return response

    return pipeline


def create_app(
    state: SandboxState,
    routers: tuple[Router, ...],
    *,
    on_response: ResponseHook | None = None,
    rate_limits: RateLimitHook | None = None,
    max_body: int = 25 * 1024 * 1024,
) -> web.Application:
    """The aiohttp application serving ``routers`` under ``/api/v10`` over ``state``."""
    app = web.Application(
        middlewares=[_pipeline(state, rate_limits, on_response, max_body)],
        client_max_size=max_body,
        handler_args={"max_field_size": 16384},
    )
    app[STATE_KEY] = state
    mounted = [
        (API_PREFIX + spec.path if spec.api else spec.path, spec)
        for router in routers
        for spec in router.specs
    ]
    mounted.sort(key=lambda item: _precedence(item[0]))  # stable: ties keep router order
    resources: dict[str, web.Resource] = {}
    for path, spec in mounted:
        resource = resources.get(path)
        if resource is None:
            resource = resources[path] = app.router.add_resource(path)
        resource.add_route(spec.method, _mount(spec, state))
    return app


def _precedence(path: str) -> tuple[int, ...]:
    """Sort key putting, of two templates that can match one path, the more literal first.

    aiohttp tries the resources sharing a static prefix (every ``/channels/{channel_id}/...``
    route) one by one, in registration order, and the first match wins. Ordered by this key,
    ``/channels/{channel_id}/messages/pins`` comes before ``.../messages/{message_id}`` as on
    Discord (a literal segment beats a parameter), and the short, hot templates
    (``/channels/{channel_id}``, ``.../messages``) come early instead of after every other
    channel route. One resource per template (all its methods) keeps the list short.
    """
    return tuple(1 if "{" in segment else 0 for segment in path.split("/"))
