"""The adapter that plugs :mod:`._ratelimits` into the REST pipeline (a ``RateLimitHook``).

:class:`RateLimiter` is pure; this module speaks aiohttp for it. For every request under
``/api/v10`` the pipeline calls :meth:`LimiterHook.admit` before the handler and
:meth:`LimiterHook.complete` with the answer:

- ``admit`` asks :meth:`RateLimiter.check` (bot, method, route template, major parameter,
  client IP). ``ok`` lets the request through and remembers the decision's headers on the
  request; anything else (a real or injected 429, an injected 5xx, the Cloudflare ban) is
  answered at once, with Discord's exact body and headers, and the handler never runs.
  Injected 5xx are deliberate, so they bypass the pipeline's ``on_response`` hook (a test's
  "no 5xx" check and the OpenAPI check see only what handlers and limits answer).
- ``complete`` adds the remembered ``X-RateLimit-*`` headers to the handler's answer, whatever
  its status, and reports the final status to :meth:`RateLimiter.record`, which keeps the
  per-route counters and the per-IP invalid-request tally (401, 403, 429).

Paths outside ``/api/v10`` (the gateway's ``/``, the attachment CDN, the control API) are
neither limited nor counted, as on Discord. A request that matched no route (404) is not
limited, but its status still counts toward the tally (it is a 401 without a token).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from ._app import API_PREFIX, JSON_TYPE, encode, json_response
from ._model import Bot
from ._ratelimits import Decision, RateLimitConfig, RateLimiter, major_parameter

UNLIMITED = RateLimitConfig(
    global_limit=1_000_000_000,
    buckets=(),
    default_limit=1_000_000_000,
    invalid_limit=1_000_000_000,
)
"""A configuration under which nothing is ever limited (benchmarks): faults still work."""

_DECISION: web.RequestKey[Decision] = web.RequestKey("sandbox_rate_limit", Decision)


class LimiterHook:
    """A ``RateLimitHook`` backed by a :class:`RateLimiter` (see the module docstring)."""

    def __init__(
        self,
        limiter: RateLimiter | None = None,
        *,
        config: RateLimitConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if limiter is None:
            limiter = RateLimiter(config, clock=clock, wall_clock=wall_clock)
        self.limiter = limiter
        self._ips: set[str] = set()

    def admit(self, request: web.Request, route: str, bot: Bot | None) -> web.StreamResponse | None:
        """None lets the request through; otherwise the 429 / 5xx / ban answer to send."""
        if not route.startswith(API_PREFIX):
            return None
        decision = self.limiter.check(
            None if bot is None else bot.id,
            request.method,
            route,
            major_parameter(request.match_info),
            _ip(request),
        )
        request[_DECISION] = decision
        if decision.kind == "ok":
            return None
        body = decision.body
        if isinstance(body, dict):
            if decision.kind == "fault" and decision.status >= 500:
                # A deliberate 5xx: sent as JSON but kept from ``on_response`` (not a bug to
                # report; the spec has no shape for it).
                raw = encode(body)
                return web.Response(
                    status=decision.status,
                    body=raw,
                    headers={"Content-Type": JSON_TYPE, **decision.headers},
                )
            return json_response(decision.status, body, decision.headers)
        raw = b"" if body is None else body.encode()
        return web.Response(status=decision.status, body=raw, headers=decision.headers)

    def complete(
        self, request: web.Request, route: str, bot: Bot | None, response: web.StreamResponse
    ) -> None:
        """Add the bucket headers to the answer and record its status."""
        if not request.path.startswith(API_PREFIX):
            return
        ip = _ip(request)
        self._ips.add(ip)
        decision = request.get(_DECISION)
        if decision is None:  # no route matched: nothing was limited, but the status counts
            self.limiter.record(ip, response.status)
            return
        if decision.kind == "ok" and not response.prepared:
            response.headers.update(decision.headers)
        self.limiter.record(ip, response.status, decision.scope, route=decision.route)

    # -- observation ------------------------------------------------------------------------

    def invalid_requests(self) -> dict[str, int]:
        """The invalid-request tally (401/403/429 in the last window) of every IP seen."""
        return {ip: self.limiter.invalid_count(ip) for ip in sorted(self._ips)}

    def banned_ips(self) -> list[str]:
        """The IPs serving a Cloudflare ban right now."""
        return [ip for ip in sorted(self._ips) if self.limiter.is_banned(ip)]


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


__all__ = ["UNLIMITED", "LimiterHook"]
