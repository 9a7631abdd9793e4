"""Network faults the sandbox can play: added latency and outage windows.

Gateway faults (close codes, INVALID_SESSION, silent drops) live in ``_sessions``; REST 429s
and 5xx in ``_ratelimits``. This module adds what sits in front of both:

- **latency**: REST answers wait ``rest`` seconds before the request is handled; gateway frames
  to a bot leave ``gateway`` seconds after they were queued (a delay, not a throttle: frames
  still flow at full rate). Either can be set for every bot (``bot_id=None``) or for one bot,
  whose setting then replaces the global one.
- **outage**: for ``seconds`` (or until ended) every new REST request and gateway upgrade is
  refused, either with ``503 Service Unavailable`` (``mode="503"``) or by cutting the TCP
  connection without an answer (``mode="close"``). The sandbox also drops the live gateway
  sockets when an outage starts, so clients must reconnect once it is over.

:class:`Faults` holds the settings; :meth:`Faults.middleware` is the outermost middleware of
the sandbox's app. The control API (``/_sandbox``) is never delayed nor refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeAlias

import anyio
import attrs
from aiohttp import web

from ._app import API_PREFIX
from ._state import SandboxState

OutageMode: TypeAlias = Literal["503", "close"]
OUTAGE_MODES: tuple[OutageMode, ...] = ("503", "close")
CONTROL_PREFIX = "/_sandbox"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Faults:
    """Latency and outage settings, and the middleware that applies them."""

    state: SandboxState
    clock: Callable[[], float] = time.monotonic
    rest_latency: dict[int | None, float] = attrs.field(factory=dict)
    """Seconds added to REST answers, by bot id (None: every bot and tokenless requests)."""
    gateway_latency: dict[int | None, float] = attrs.field(factory=dict)
    """Seconds added to gateway frames sent to a bot, by bot id (None: every bot)."""
    outage_mode: OutageMode = "503"
    refused: int = 0
    """Requests and gateway upgrades refused by outages so far."""
    _outage_until: float | None = None

    # -- settings ---------------------------------------------------------------------------

    def set_latency(
        self, *, rest: float | None = None, gateway: float | None = None, bot_id: int | None = None
    ) -> None:
        """Set the added latency for one bot or all (``bot_id=None``); 0 removes it."""
        for value, table in ((rest, self.rest_latency), (gateway, self.gateway_latency)):
            if value is None:
                continue
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"latency must be a finite number of seconds >= 0, got {value!r}")
            if value == 0:
                table.pop(bot_id, None)
            else:
                table[bot_id] = value

    def rest_delay(self, bot_id: int | None) -> float:
        """Seconds to hold a REST request of this bot."""
        table = self.rest_latency
        return table.get(bot_id, table.get(None, 0.0)) if table else 0.0

    def gateway_delay(self, bot_id: int | None) -> float:
        """Seconds to hold a gateway frame to this bot."""
        table = self.gateway_latency
        return table.get(bot_id, table.get(None, 0.0)) if table else 0.0

    def start_outage(self, seconds: float | None = None, mode: OutageMode = "503") -> None:
        """Refuse REST and gateway connections for ``seconds`` (None: until ended)."""
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}")
        if mode not in OUTAGE_MODES:
            raise ValueError(f"mode must be one of {', '.join(OUTAGE_MODES)}, got {mode!r}")
        self.outage_mode = mode
        self._outage_until = math.inf if seconds is None else self.clock() + seconds

    def end_outage(self) -> bool:
        """End the outage now; returns whether one was on."""
        active = self.outage_active
        self._outage_until = None
        return active

    @property
    def outage_active(self) -> bool:
        """Whether connections are being refused right now."""
        until = self._outage_until
        if until is None:
            return False
        if self.clock() < until:
            return True
        self._outage_until = None
        return False

    @property
    def outage_remaining(self) -> float | None:
        """Seconds the outage still lasts (inf until ended; None when there is none)."""
        if not self.outage_active or self._outage_until is None:
            return None
        return self._outage_until - self.clock()

    def clear(self) -> None:
        """Remove every latency and end the outage."""
        self.rest_latency.clear()
        self.gateway_latency.clear()
        self._outage_until = None

    # -- the middleware ---------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Refuse during an outage, then hold REST requests for their latency."""
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return await handler(request)
        if self.outage_active:
            self.refused += 1
            if self.outage_mode == "close":
                transport = request.transport
                if transport is not None:
                    transport.abort()
                raise web.HTTPServiceUnavailable()  # never sent: the connection is gone
            return web.Response(
                status=503,
                text="upstream connect error or disconnect/reset before headers",
                headers={"Via": "1.1 google", "Connection": "close"},
            )
        if (self.rest_latency or self.gateway_latency) and path.startswith(API_PREFIX):
            delay = self.rest_delay(self._bot_id(request))
            if delay > 0:
                await anyio.sleep(delay)
        return await handler(request)

    def _bot_id(self, request: web.Request) -> int | None:
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bot "):
            return None
        bot = self.state.bot_for_token(authorization[4:])
        return None if bot is None else bot.id
