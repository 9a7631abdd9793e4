"""The sandbox's server-side rate limiter: Discord's REST limits, headers and 429s.

The sandbox must be indistinguishable from Discord to the real discord.py, so this module
enforces limits the way Discord does and answers with exactly Discord's headers and bodies.
It is pure (no I/O, no aiohttp): the app's middleware asks :meth:`RateLimiter.check` what to
do with a request, answers accordingly, and reports the final status with
:meth:`RateLimiter.record`.

How Discord rate limits REST requests
=====================================

Identity. Limits apply per *bot* (its token); a request without a token is limited per IP.

Per-route buckets. Each endpoint (HTTP method + route template) belongs to a *bucket*, and
several endpoints may share one (all the "react / unreact" routes do, for example). A bucket
is counted separately for each *major parameter*: the top-level resource in the path, which
is ``channel_id``, ``guild_id`` or ``webhook_id`` (+ ``webhook_token``). So five messages to
channel A leave channel B's message-create bucket untouched, while a route with no major
parameter (``GET /users/@me``) has a single bucket per bot. A bucket is a *fixed window*, not a
sliding log and not a token bucket: the first request after a reset opens a window of
``window`` seconds in which ``limit`` requests pass; further requests get 429 until the window
ends, and then everything is forgotten. Discord publishes no figures and asks clients never
to hard-code them, only to read the headers, which every response on a limited route carries
(2xx, 4xx and 429 alike):

===========================  ============================================================
``X-RateLimit-Limit``        requests the window allows
``X-RateLimit-Remaining``    requests left in the current window
``X-RateLimit-Reset``        epoch seconds (with decimals) at which the window ends
``X-RateLimit-Reset-After``  seconds (decimals, millisecond precision) until it ends
``X-RateLimit-Bucket``       an opaque hash naming the bucket, the same for every route that
                             shares it and *not* including the major parameter: clients
                             key their own buckets by hash + major parameter (discord.py)
===========================  ============================================================

429s. Over a limit Discord answers ``429`` with a JSON body ``{"message": "You are being rate
limited.", "retry_after": <float s>, "global": <bool>}`` and the headers ``Retry-After``
(whole seconds, rounded up), ``X-RateLimit-Scope`` and, for the global limit only,
``X-RateLimit-Global: true``. The scope says whose limit was hit: ``user`` (this bot's
per-route bucket), ``global`` (this bot's global limit) or ``shared`` (a per-resource limit
shared by everyone touching that resource; its body says "The resource is being rate
limited."). Route 429s also carry the bucket headers. Every real 429 comes through Google's
load balancer and carries ``Via: 1.1 google``; discord.py takes a 429 *without* ``Via`` (or
with a non-JSON body) for a Cloudflare ban and raises instead of retrying.

Global limit. Independently of routes, a bot may make 50 requests per second in total
(interaction endpoints are exempt; the sandbox has none). A global 429 has no bucket headers,
and discord.py reacts to it by pausing every request of that client for ``retry_after``.

Invalid requests and the Cloudflare ban. Every response with status 401, 403 or 429 counts as
*invalid* against the client's IP address, except 429s with scope ``shared``. More than 10,000
in 10 minutes and Cloudflare bans the IP, for every bot behind it, for about an hour: each
request then gets ``429`` with the plain-text body ``error code: 1015`` and no ``Via``, which
discord.py raises as :class:`discord.HTTPException`.

How this module maps it
=======================

- :class:`RateLimiter` holds all state. Clocks are injected: ``clock`` is monotonic and drives
  every window, ``wall_clock`` only turns "seconds from now" into the ``X-RateLimit-Reset``
  epoch. Tests pass fake clocks and never sleep.
- Global limit: one fixed window per bot (per IP without a token), ``global_limit`` requests
  per ``global_window`` (50 per 1 s). Every request that passes it counts, including those a
  route bucket then rejects (they did reach Discord). It is checked before the route, so a
  global 429 consumes nothing from the route's bucket.
- Route buckets: :class:`BucketSpec` groups routes under a name whose hash
  (:func:`bucket_hash`, 32 hex digits like Discord's) is the ``X-RateLimit-Bucket``. A route
  in no spec gets its own bucket of ``default_limit`` per ``default_window``. The state key is
  (bot, bucket hash, major parameter); a ``shared`` spec drops the bot from the key and
  answers scope ``shared``. Routes are matched by method and template *shape*: placeholder
  names are ignored and an ``/api`` or ``/api/v10`` prefix is stripped, so
  ``/api/v10/channels/{id}/messages`` matches ``/channels/{channel_id}/messages``.
- Headers are exact for a client that follows them: ``Reset-After``, ``Reset`` and
  ``retry_after`` are rounded *up* to the millisecond, so waiting exactly what they say always
  lands after the window's end, and a window counts as over from 1 µs before its end, which
  absorbs float error. A client that ignores them gets 429s.
- Faults: :meth:`RateLimiter.inject_429` and :meth:`RateLimiter.inject_status` queue answers
  for the next N matching requests, consumed first come first served; a request takes the
  oldest queued fault that matches its route. Injected faults touch no bucket.
- Invalid-request tally: :meth:`RateLimiter.record` counts 401/403/non-shared-429 per IP in a
  sliding window of ``invalid_window`` seconds; going over ``invalid_limit`` bans the IP for
  ``ban_duration`` seconds and clears its tally. While banned, :meth:`RateLimiter.check`
  answers the Cloudflare 1015 response and nothing is counted.
- Cost: ``check`` does a few dict look-ups and builds one header dict, O(1) per request.
  Expired buckets hold no information, so they are dropped lazily, oldest-used first, at most
  once per second of clock time (amortised O(1)).

The default figures (:data:`DEFAULT_BUCKETS`) are approximations of what bots observe, not
published values; all of them can be overridden through :class:`RateLimitConfig`.

=====================  =========================================================  =====  ======
bucket                 routes                                                     limit  window
=====================  =========================================================  =====  ======
message-create         POST /channels/{channel_id}/messages                       5      5 s
message-edit           PATCH /channels/{channel_id}/messages/{message_id}         5      5 s
message-delete         DELETE /channels/{channel_id}/messages/{message_id}        5      5 s
message-bulk-delete    POST /channels/{channel_id}/messages/bulk-delete           1      1 s
messages-read          GET /channels/{channel_id}/messages,                       50     1 s
                       GET /channels/{channel_id}/messages/{message_id}
reaction               PUT, DELETE .../reactions/{emoji}/@me,                     1      0.25 s
                       DELETE .../reactions/{emoji}/{user_id}
typing                 POST /channels/{channel_id}/typing                         5      5 s
pins                   PUT, DELETE /channels/{channel_id}/pins/{message_id}       5      5 s
channel-edit           PATCH /channels/{channel_id}                               5      5 s
thread-create          POST /channels/{channel_id}/threads,                       5      5 s
                       POST /channels/{channel_id}/messages/{message_id}/threads
webhook-execute        POST /webhooks/{webhook_id}/{webhook_token}                5      2 s
member-edit            PATCH /guilds/{guild_id}/members/{user_id}                 10     10 s
member-roles           PUT, DELETE /guilds/{guild_id}/members/{user_id}/roles/    10     10 s
                       {role_id}
(any other route)      its own bucket                                             50     1 s
(global, per bot)      every request                                              50     1 s
=====================  =========================================================  =====  ======
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, TypeAlias

import attrs

__all__ = [
    "DEFAULT_BUCKETS",
    "BucketSpec",
    "Decision",
    "DecisionKind",
    "RateLimitConfig",
    "RateLimiter",
    "RateLimiterStatistics",
    "Scope",
    "bucket_hash",
    "major_parameter",
]

Scope: TypeAlias = Literal["user", "global", "shared"]
DecisionKind: TypeAlias = Literal["ok", "rate_limited", "fault", "banned"]

VIA = "1.1 google"
RATE_LIMITED_MESSAGE = "You are being rate limited."
SHARED_RATE_LIMITED_MESSAGE = "The resource is being rate limited."
CLOUDFLARE_BAN_BODY = "error code: 1015"
FAULT_STATUSES = frozenset({500, 502, 503, 504})
_INVALID_STATUSES = frozenset({401, 403, 429})
_STATUS_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")

_EPSILON = 1e-6
"""A window counts as over this long before its end, absorbing float error in clients' sums."""
_SWEEP_INTERVAL = 1.0
"""Seconds of clock time between two lazy evictions of expired buckets."""

_PREFIX = re.compile(r"^/api(?:/v\d+)?(?=/)")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def bucket_hash(name: str) -> str:
    """The stable, opaque ``X-RateLimit-Bucket`` value of a bucket name: 32 hex digits."""
    return hashlib.blake2b(name.encode(), digest_size=16).hexdigest()


def major_parameter(params: Mapping[str, str]) -> str | None:
    """The major parameter of a matched route, from its path parameters (aiohttp match_info).

    Joins channel_id, guild_id, webhook_id and webhook_token, those present, with ``+``, as
    discord.py does; None for a route without one.
    """
    found = [params[name] for name in _MAJOR_PARAMETERS if name in params]
    return "+".join(found) if found else None


def _split_route(route: str) -> tuple[str, str]:
    """``"POST /api/v10/channels/{id}/messages"`` → ``("POST", "/channels/{}/messages")``."""
    method, sep, template = route.strip().partition(" ")
    if not sep:
        raise ValueError(f"expected 'METHOD /template', got {route!r}")
    return method.upper(), _shape(template.strip())


def _strip_prefix(template: str) -> str:
    return _PREFIX.sub("", template, count=1)


def _shape(template: str) -> str:
    return _PLACEHOLDER.sub("{}", _strip_prefix(template))


def _ceil_ms(seconds: float) -> float:
    """Round up to the millisecond, ignoring float noise far below it."""
    return math.ceil(seconds * 1000.0 - 1e-6) / 1000.0


def _routes_tuple(routes: Iterable[str]) -> tuple[str, ...]:
    return tuple(routes)


def _buckets_tuple(buckets: Iterable[BucketSpec]) -> tuple[BucketSpec, ...]:
    return tuple(buckets)


def _positive_float(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _positive_int(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


@attrs.frozen
class BucketSpec:
    """A named route bucket: the routes that share it and its fixed-window limit."""

    name: str
    """Hashed into the ``X-RateLimit-Bucket`` header (see :func:`bucket_hash`)."""
    limit: int = attrs.field(validator=_positive_int)
    window: float = attrs.field(validator=_positive_float)
    """Seconds from a window's first request to its reset."""
    routes: tuple[str, ...] = attrs.field(converter=_routes_tuple)
    """``"METHOD /template"`` strings; placeholder names and an ``/api/v10`` prefix are free."""
    shared: bool = False
    """Counted for all bots together (per major parameter); its 429s have scope ``shared``."""


_MSG = "/channels/{channel_id}/messages/{message_id}"
_REACTION = _MSG + "/reactions/{emoji}"

DEFAULT_BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec("message-create", 5, 5.0, ["POST /channels/{channel_id}/messages"]),
    BucketSpec("message-edit", 5, 5.0, [f"PATCH {_MSG}"]),
    BucketSpec("message-delete", 5, 5.0, [f"DELETE {_MSG}"]),
    BucketSpec("message-bulk-delete", 1, 1.0, ["POST /channels/{channel_id}/messages/bulk-delete"]),
    BucketSpec("messages-read", 50, 1.0, ["GET /channels/{channel_id}/messages", f"GET {_MSG}"]),
    BucketSpec(
        "reaction",
        1,
        0.25,
        [f"PUT {_REACTION}/@me", f"DELETE {_REACTION}/@me", f"DELETE {_REACTION}/{{user_id}}"],
    ),
    BucketSpec("typing", 5, 5.0, ["POST /channels/{channel_id}/typing"]),
    BucketSpec(
        "pins",
        5,
        5.0,
        [
            "PUT /channels/{channel_id}/pins/{message_id}",
            "DELETE /channels/{channel_id}/pins/{message_id}",
        ],
    ),
    BucketSpec("channel-edit", 5, 5.0, ["PATCH /channels/{channel_id}"]),
    BucketSpec(
        "thread-create",
        5,
        5.0,
        ["POST /channels/{channel_id}/threads", f"POST {_MSG}/threads"],
    ),
    BucketSpec("webhook-execute", 5, 2.0, ["POST /webhooks/{webhook_id}/{webhook_token}"]),
    BucketSpec("member-edit", 10, 10.0, ["PATCH /guilds/{guild_id}/members/{user_id}"]),
    BucketSpec(
        "member-roles",
        10,
        10.0,
        [
            "PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            "DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        ],
    ),
)
"""Approximations of Discord's unpublished per-route limits; see the module docstring."""


def _check_buckets(
    _: object, attribute: attrs.Attribute[tuple[BucketSpec, ...]], value: tuple[BucketSpec, ...]
) -> None:
    names: set[str] = set()
    routes: set[tuple[str, str]] = set()
    for spec in value:
        if spec.name in names:
            raise ValueError(f"two buckets are named {spec.name!r}")
        names.add(spec.name)
        for route in spec.routes:
            key = _split_route(route)
            if key in routes:
                raise ValueError(f"route {route!r} is in more than one bucket")
            routes.add(key)


@attrs.frozen
class RateLimitConfig:
    """Every figure the limiter enforces. Defaults approximate Discord's."""

    global_limit: int = attrs.field(default=50, validator=_positive_int)
    """Requests per ``global_window`` per bot, across all routes."""
    global_window: float = attrs.field(default=1.0, validator=_positive_float)
    buckets: tuple[BucketSpec, ...] = attrs.field(
        default=DEFAULT_BUCKETS, converter=_buckets_tuple, validator=_check_buckets
    )
    default_limit: int = attrs.field(default=50, validator=_positive_int)
    """Limit of the bucket a route in no :class:`BucketSpec` gets to itself."""
    default_window: float = attrs.field(default=1.0, validator=_positive_float)
    invalid_limit: int = attrs.field(default=10_000, validator=_positive_int)
    """Invalid responses (401, 403, non-shared 429) an IP may get per ``invalid_window``."""
    invalid_window: float = attrs.field(default=600.0, validator=_positive_float)
    ban_duration: float = attrs.field(default=3600.0, validator=_positive_float)
    """How long an IP stays banned once over ``invalid_limit`` (Discord: about an hour)."""

    def override(
        self, name: str, *, limit: int | None = None, window: float | None = None
    ) -> RateLimitConfig:
        """A copy with the named bucket's limit and/or window replaced."""
        if name not in {spec.name for spec in self.buckets}:
            raise ValueError(f"no bucket named {name!r}")
        buckets = [
            attrs.evolve(
                spec,
                limit=spec.limit if limit is None else limit,
                window=spec.window if window is None else window,
            )
            if spec.name == name
            else spec
            for spec in self.buckets
        ]
        return attrs.evolve(self, buckets=buckets)


@attrs.frozen
class Decision:
    """What to answer to one request.

    ``ok``: run the handler and add ``headers`` to its response, whatever its status.
    Otherwise answer ``status`` with ``headers`` and ``body`` without running the handler: a
    dict body is JSON (send it with ``Content-Type: application/json`` exactly); a str body
    is plain text and ``headers`` already name its Content-Type. Either way, report the final
    status afterwards with ``record(ip, status, decision.scope, route=decision.route)``.
    """

    kind: DecisionKind
    status: int
    """The status to answer; 200 for ``ok``, where the handler decides."""
    headers: dict[str, str]
    body: dict[str, object] | str | None
    route: str
    """``"METHOD /template"`` without the ``/api/v10`` prefix, the key of the statistics."""
    scope: Scope | None = None
    """For 429s from Discord's rate limits: whose limit it was."""


@attrs.frozen
class RateLimiterStatistics:
    """A snapshot of the limiter's counters, for the control API, metrics and tests."""

    checked: int
    """Requests seen by ``check``."""
    requests: Mapping[str, Mapping[int, int]]
    """Responses reported to ``record``, by route and status."""
    rate_limited: Mapping[Scope, int]
    """429s answered by scope, injected ones included."""
    faults_consumed: int
    faults_pending: int
    """Requests the queued faults will still answer."""
    buckets: int
    """Route-bucket windows held in memory (expired ones are evicted lazily)."""
    banned_ips: int


@attrs.define(slots=True)
class _Window:
    """A fixed window: ``count`` requests admitted since it opened; it ends at ``reset_at``."""

    reset_at: float
    count: int
    reset_wall: float | None = None
    """``reset_at`` on the wall clock (epoch seconds), fixed when the window opens: every
    answer of one window carries the same ``X-RateLimit-Reset``, as Discord's do."""


@attrs.frozen
class _Route:
    key: str
    method: str
    shape: str
    bucket: str
    limit: int
    limit_header: str
    window: float
    shared: bool


@attrs.define
class _Fault:
    remaining: int
    method: str | None
    shape: str | None
    status: int
    scope: Scope | None
    retry_after: float

    def matches(self, route: _Route) -> bool:
        return (self.method is None or self.method == route.method) and (
            self.shape is None or self.shape == route.shape
        )


_BucketKey: TypeAlias = tuple[int | str | None, str, str | None]


@attrs.define
class _Counters:
    checked: int = 0
    faults_consumed: int = 0
    rate_limited: dict[Scope, int] = attrs.field(
        factory=lambda: {"user": 0, "global": 0, "shared": 0}
    )
    requests: dict[str, dict[int, int]] = attrs.field(factory=dict)


class RateLimiter:
    """Enforces Discord's REST rate limits for the sandbox; see the module docstring.

    Not thread-safe: call it from the event loop that serves the requests.
    """

    def __init__(
        self,
        config: RateLimitConfig | None = None,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._config = config if config is not None else RateLimitConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self._specs: dict[tuple[str, str], BucketSpec] = {
            _split_route(route): spec for spec in self._config.buckets for route in spec.routes
        }
        self._hashes = {spec.name: bucket_hash(spec.name) for spec in self._config.buckets}
        self._routes: dict[str, dict[str, _Route]] = {}
        self._global: dict[int | str, _Window] = {}
        self._buckets: OrderedDict[_BucketKey, _Window] = OrderedDict()
        self._next_sweep = -math.inf
        self._faults: list[_Fault] = []
        self._invalid: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}
        self._counters = _Counters()

    @property
    def config(self) -> RateLimitConfig:
        return self._config

    # -- the per-request path ---------------------------------------------------------------

    def check(
        self, bot_id: int | None, method: str, route_template: str, major: str | None, ip: str
    ) -> Decision:
        """Decide what to answer to one request, and count it against its limits.

        ``bot_id`` is None for a request without a valid token (then the IP is limited);
        ``route_template`` is the matched template, e.g. ``/api/v10/channels/{channel_id}``;
        ``major`` comes from :func:`major_parameter`.
        """
        now = self._clock()
        self._counters.checked += 1
        if now >= self._next_sweep:
            self._sweep(now)
        route = self._resolve(method, route_template)
        if self._banned_until and self._is_banned(ip, now):
            return Decision(
                "banned",
                429,
                {"Content-Type": "text/plain; charset=UTF-8"},
                CLOUDFLARE_BAN_BODY,
                route.key,
            )
        who: int | str = bot_id if bot_id is not None else ip
        if self._faults:
            fault = self._take_fault(route)
            if fault is not None:
                return self._fault_decision(fault, route, who, major, now)

        config = self._config
        window = self._global.get(who)
        if window is None:
            window = self._global[who] = _Window(now + config.global_window, 0)
        elif now + _EPSILON >= window.reset_at:
            window.reset_at = now + config.global_window
            window.count = 0
        if window.count >= config.global_limit:
            return self._global_429(route, window.reset_at - now)
        window.count += 1

        key: _BucketKey = (None if route.shared else who, route.bucket, major)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Window(now + route.window, 0)
        else:
            self._buckets.move_to_end(key)
            if now + _EPSILON >= bucket.reset_at:
                bucket.reset_at = now + route.window
                bucket.count = 0
                bucket.reset_wall = None
        if bucket.reset_wall is None:
            bucket.reset_wall = self._wall_clock() + (bucket.reset_at - now)
        if bucket.count >= route.limit:
            scope: Scope = "shared" if route.shared else "user"
            retry_after = bucket.reset_at - now
            headers = self._bucket_headers(route, 0, retry_after, bucket.reset_wall)
            return self._route_429(route, headers, scope, retry_after)
        bucket.count += 1
        return Decision(
            "ok",
            200,
            self._bucket_headers(
                route, route.limit - bucket.count, bucket.reset_at - now, bucket.reset_wall
            ),
            None,
            route.key,
        )

    def record(
        self, ip: str, status: int, scope: Scope | None = None, *, route: str | None = None
    ) -> None:
        """Report the status a request was answered with (and the route, for statistics).

        401, 403 and 429 count against the IP's invalid-request tally, except 429s of scope
        ``shared``; going over the limit bans the IP. Nothing counts while it is banned.
        """
        if route is not None:
            by_status = self._counters.requests.get(route)
            if by_status is None:
                by_status = self._counters.requests[route] = {}
            by_status[status] = by_status.get(status, 0) + 1
        if status not in _INVALID_STATUSES or (status == 429 and scope == "shared"):
            return
        now = self._clock()
        if self._banned_until and self._is_banned(ip, now):
            return
        tally = self._tally(ip, now)
        tally.append(now)
        if len(tally) > self._config.invalid_limit:
            self._banned_until[ip] = now + self._config.ban_duration
            del self._invalid[ip]

    # -- invalid requests -------------------------------------------------------------------

    def invalid_count(self, ip: str) -> int:
        """Invalid responses the IP got in the last ``invalid_window`` seconds."""
        return len(self._tally(ip, self._clock())) if ip in self._invalid else 0

    def is_banned(self, ip: str) -> bool:
        """Whether the IP is serving a Cloudflare ban (``check`` then answers 1015)."""
        return self._is_banned(ip, self._clock())

    # -- fault injection --------------------------------------------------------------------

    def inject_429(
        self,
        count: int,
        *,
        route: str | None = None,
        scope: Scope = "user",
        retry_after: float = 1.0,
    ) -> None:
        """Answer the next ``count`` requests matching ``route`` with a 429 of this scope.

        ``route`` is ``"METHOD /template"`` or just ``"/template"`` (any method); None
        matches every request. Faults queue: each request takes the oldest one it matches.
        """
        if retry_after <= 0:
            raise ValueError(f"retry_after must be > 0, got {retry_after!r}")
        if scope not in ("user", "global", "shared"):
            raise ValueError(f"scope must be user, global or shared, got {scope!r}")
        self._inject(count, route, 429, scope, retry_after)

    def inject_status(self, count: int, status: int, *, route: str | None = None) -> None:
        """Answer the next ``count`` requests matching ``route`` with a 5xx status.

        ``status`` is one of 500, 502, 503, 504; ``route`` is as for :meth:`inject_429`.
        """
        if status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {sorted(FAULT_STATUSES)}, got {status!r}")
        self._inject(count, route, status, None, 0.0)

    def clear_faults(self) -> int:
        """Drop every queued fault; returns how many requests they would still have answered."""
        pending = sum(fault.remaining for fault in self._faults)
        self._faults.clear()
        return pending

    # -- observation ------------------------------------------------------------------------

    def statistics(self) -> RateLimiterStatistics:
        """A snapshot of the counters."""
        now = self._clock()
        counters = self._counters
        return RateLimiterStatistics(
            checked=counters.checked,
            requests={route: dict(by) for route, by in counters.requests.items()},
            rate_limited=dict(counters.rate_limited),
            faults_consumed=counters.faults_consumed,
            faults_pending=sum(fault.remaining for fault in self._faults),
            buckets=len(self._buckets),
            banned_ips=sum(1 for until in self._banned_until.values() if until > now),
        )

    def reset(self) -> None:
        """Forget every window, tally, ban, queued fault and counter (between tests)."""
        self._global.clear()
        self._buckets.clear()
        self._faults.clear()
        self._invalid.clear()
        self._banned_until.clear()
        self._counters = _Counters()

    # -- internals --------------------------------------------------------------------------

    def _resolve(self, method: str, template: str) -> _Route:
        by_template = self._routes.get(method)
        if by_template is None:
            by_template = self._routes[method] = {}
        route = by_template.get(template)
        if route is None:
            route = by_template[template] = self._new_route(method, template)
        return route

    def _new_route(self, method: str, template: str) -> _Route:
        method = method.upper()
        shape = _shape(template)
        key = f"{method} {_strip_prefix(template)}"
        spec = self._specs.get((method, shape))
        if spec is None:
            limit, window = self._config.default_limit, self._config.default_window
            return _Route(
                key, method, shape, bucket_hash(key), limit, str(limit), window, shared=False
            )
        return _Route(
            key,
            method,
            shape,
            self._hashes[spec.name],
            spec.limit,
            str(spec.limit),
            spec.window,
            shared=spec.shared,
        )

    def _bucket_headers(
        self, route: _Route, remaining: int, reset_after: float, reset_wall: float | None = None
    ) -> dict[str, str]:
        if reset_wall is None:
            reset_wall = self._wall_clock() + reset_after
        return {
            "X-RateLimit-Limit": route.limit_header,
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{_ceil_ms(reset_wall):.3f}",
            "X-RateLimit-Reset-After": f"{_ceil_ms(reset_after):.3f}",
            "X-RateLimit-Bucket": route.bucket,
            "Via": VIA,
        }

    def _route_429(
        self, route: _Route, headers: dict[str, str], scope: Scope, retry_after: float
    ) -> Decision:
        retry_after = _ceil_ms(retry_after)
        headers["Retry-After"] = str(math.ceil(retry_after))
        headers["X-RateLimit-Scope"] = scope
        message = SHARED_RATE_LIMITED_MESSAGE if scope == "shared" else RATE_LIMITED_MESSAGE
        body: dict[str, object] = {"message": message, "retry_after": retry_after, "global": False}
        self._counters.rate_limited[scope] += 1
        return Decision("rate_limited", 429, headers, body, route.key, scope)

    def _global_429(self, route: _Route, retry_after: float) -> Decision:
        retry_after = _ceil_ms(retry_after)
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Via": VIA,
        }
        body: dict[str, object] = {
            "message": RATE_LIMITED_MESSAGE,
            "retry_after": retry_after,
            "global": True,
        }
        self._counters.rate_limited["global"] += 1
        return Decision("rate_limited", 429, headers, body, route.key, "global")

    def _inject(
        self, count: int, route: str | None, status: int, scope: Scope | None, retry_after: float
    ) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        method: str | None = None
        shape: str | None = None
        if route is not None:
            if route.lstrip().startswith("/"):
                shape = _shape(route.strip())
            else:
                method, shape = _split_route(route)
        self._faults.append(_Fault(count, method, shape, status, scope, retry_after))

    def _take_fault(self, route: _Route) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.matches(route):
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[index]
                self._counters.faults_consumed += 1
                return fault
        return None

    def _fault_decision(
        self, fault: _Fault, route: _Route, who: int | str, major: str | None, now: float
    ) -> Decision:
        if fault.status != 429:
            body: dict[str, object] = {
                "message": f"{fault.status}: {_STATUS_TEXT[fault.status]}",
                "code": 0,
            }
            return Decision("fault", fault.status, {"Via": VIA}, body, route.key)
        if fault.scope == "global":
            decision = self._global_429(route, fault.retry_after)
            return attrs.evolve(decision, kind="fault")
        # A route-scoped 429 carries the bucket's current state, untouched: with Remaining > 0
        # it is what discord.py calls a sub-ratelimit, as Discord sends them.
        bucket = self._buckets.get((None if route.shared else who, route.bucket, major))
        if bucket is None or now + _EPSILON >= bucket.reset_at:
            remaining, reset_after = route.limit, route.window
        else:
            remaining, reset_after = route.limit - bucket.count, bucket.reset_at - now
        reset_wall = None if bucket is None or remaining == route.limit else bucket.reset_wall
        headers = self._bucket_headers(route, remaining, reset_after, reset_wall)
        scope: Scope = "shared" if fault.scope == "shared" else "user"
        decision = self._route_429(route, headers, scope, fault.retry_after)
        return attrs.evolve(decision, kind="fault")

    def _tally(self, ip: str, now: float) -> deque[float]:
        tally = self._invalid.get(ip)
        if tally is None:
            tally = self._invalid[ip] = deque()
        horizon = now - self._config.invalid_window
        while tally and tally[0] <= horizon:
            tally.popleft()
        return tally

    def _is_banned(self, ip: str, now: float) -> bool:
        until = self._banned_until.get(ip)
        if until is None:
            return False
        if now < until:
            return True
        del self._banned_until[ip]
        return False

    def _sweep(self, now: float) -> None:
        """Drop expired windows: they hold nothing a fresh window wouldn't."""
        self._next_sweep = now + _SWEEP_INTERVAL
        buckets = self._buckets
        while buckets:
            key = next(iter(buckets))
            if buckets[key].reset_at > now:
                break
            del buckets[key]
        if len(self._global) > 64:
            for who in [w for w, window in self._global.items() if window.reset_at <= now]:
                del self._global[who]
        for ip in [ip for ip, tally in self._invalid.items() if not self._tally(ip, now)]:
            del self._invalid[ip]
