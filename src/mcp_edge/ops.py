"""The operator's endpoints beside the MCP one: ``/healthz``, ``/readyz`` and ``/metrics``.

:func:`ops_routes` returns three Starlette routes for the server's HTTP app:

``GET /healthz``
    Liveness: ``200 {"status": "ok"}`` whenever the process answers HTTP at all. It reads
    nothing, so a stuck swarm does not make an orchestrator kill a process that is draining.

``GET /readyz``
    Readiness: ``200`` when the swarm runs and every agent is READY on Discord; ``503``
    otherwise (starting, stopping, an agent reconnecting or failed for good). Both carry the
    same JSON body, so a human or a probe sees why::

        {"status": "not_ready", "reason": "agents not READY: herald (resuming)",
         "swarm": "running",
         "agents": [{"agent": "scribe", "state": "ready", "accepting": true, "error": null},
                    {"agent": "herald", "state": "resuming", "accepting": true,
                     "error": "the gateway closed with 1006"}]}

    The body is built from :class:`Health`, a value the server makes from
    ``Swarm.statistics()`` (:meth:`Health.from_statistics`). Errors are the agents' own texts,
    which never hold a token; anything shaped like a Discord token is still masked here, as a
    second line of defence.

``GET /metrics``
    :meth:`~mcp_edge.metrics.EdgeMetrics.render`: Prometheus text (OpenMetrics when the
    scraper's ``Accept`` asks for it), ``Cache-Control: no-store``.

Every handler is ``async`` and synchronous inside: none awaits the swarm or the Store, so
the endpoints answer in microseconds even while Discord or the Store is slow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.discord_port import ConnectionState
from discord_io.swarm import SwarmState, SwarmStatistics
from mcp_edge.metrics import EdgeMetrics

_TOKENISH = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
"""The shape of a Discord bot token (base64 id . timestamp . HMAC)."""
_MASK = "[redacted]"


def _scrub(text: str | None) -> str | None:
    return None if text is None else _TOKENISH.sub(_MASK, text)


@attrs.frozen
class AgentHealth:
    """One agent as ``/readyz`` shows it."""

    agent: str
    state: ConnectionState
    accepting: bool
    error: str | None = attrs.field(default=None, converter=_scrub)
    """The agent's last failure, as it reads it (token-shaped text masked)."""

    @property
    def ready(self) -> bool:
        return self.state is ConnectionState.READY

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "state": self.state.value,
            "accepting": self.accepting,
            "error": self.error,
        }


@attrs.frozen
class Health:
    """Whether the process is ready to serve tools, and why not; see the module docstring."""

    swarm: SwarmState
    agents: tuple[AgentHealth, ...] = ()

    @classmethod
    def from_statistics(cls, stats: SwarmStatistics) -> Health:
        """From a ``Swarm.statistics()`` snapshot."""
        accepting = set(stats.accepting)
        return cls(
            swarm=stats.state,
            agents=tuple(
                AgentHealth(a.agent, a.state, a.agent in accepting, a.error) for a in stats.agents
            ),
        )

    @property
    def ready(self) -> bool:
        """The swarm runs and every agent is READY."""
        return (
            self.swarm is SwarmState.RUNNING
            and bool(self.agents)
            and all(a.ready for a in self.agents)
        )

    @property
    def reason(self) -> str | None:
        """Why the process is not ready (None when it is)."""
        if self.swarm is not SwarmState.RUNNING:
            return f"the swarm is {self.swarm.value}"
        if not self.agents:
            return "the swarm has no agents running"
        waiting = [a for a in self.agents if not a.ready]
        if not waiting:
            return None
        listed = ", ".join(f"{a.agent} ({a.state.value})" for a in waiting)
        return f"agents not READY: {listed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "reason": self.reason,
            "swarm": self.swarm.value,
            "agents": [a.to_json() for a in self.agents],
        }


_NO_STORE = {"Cache-Control": "no-store"}


def ops_routes(metrics: EdgeMetrics, health: Callable[[], Health]) -> list[Route]:
    """``GET /healthz``, ``/readyz`` and ``/metrics`` for the server's Starlette app.

    ``health`` is called per ``/readyz`` request, e.g.
    ``lambda: Health.from_statistics(swarm.statistics())``.
    """

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    async def readyz(_request: Request) -> Response:
        now = health()
        return JSONResponse(now.to_json(), status_code=200 if now.ready else 503, headers=_NO_STORE)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, headers={**_NO_STORE, "Content-Type": content_type})

    return [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
        Route("/metrics", metrics_endpoint, methods=["GET"], name="metrics"),
    ]


__all__ = ["AgentHealth", "Health", "ops_routes"]
