"""``server_status``: what the server is and how each agent is doing, in one snapshot.

It reads :meth:`~discord_io.swarm.Swarm.statistics` (gateway states, restarts, resumes, the
last error, REST 429s, each agent's send path, the egress budget, the EventHub) and asks the
Store for each agent's outbox counts. It makes no Discord request, so it answers while Discord
(or the caller's own agent) is down: that is when it is most useful. An agent's outbox figures
are null when the Store does not answer within :data:`STORE_WAIT` seconds; the rest of the
snapshot is still returned.

Secrets: agent errors are the port's own messages, which never hold a token; as a second
guard, anything shaped like a Discord bot token is replaced before it leaves (:func:`redact`).
"""

from __future__ import annotations

import datetime as dt
import re

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors import ActorError
from actors.agent import AgentActorStatistics
from actors.store import OutboxCounts
from discord_io.agent_client import AgentStatistics
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import iso

STORE_WAIT = 2.0
"""Seconds to wait for the Store's outbox counts of one agent."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")


def redact(text: str | None) -> str | None:
    """``text`` with anything shaped like a Discord bot token replaced."""
    return None if text is None else _TOKEN.sub("[redacted]", text)


class RateLimited(BaseModel):
    scope: str = Field(description="Discord's X-RateLimit-Scope: user, global, shared, unknown.")
    count: int = Field(description="429 answers received.")
    retry_after_seconds: float = Field(description="The waits they asked for, summed.")


class AgentStatus(BaseModel):
    name: str
    state: str = Field(description="connecting, ready, resuming, disconnected or failed.")
    restarts: int = Field(description="Gateway clients restarted after a failure.")
    readies: int = Field(description="Fresh sessions (READY).")
    resumes: int = Field(description="Sessions resumed without loss.")
    events: int = Field(description="Gateway events received.")
    dropped_events: int
    last_error: str | None = Field(
        default=None, description="Why it failed, or its last recovered one."
    )
    accepting_sends: bool
    outbox_pending: int | None = Field(
        default=None, description="Accepted sends not yet delivered."
    )
    oldest_pending_seconds: float | None = None
    outbox_failed: int | None = None
    send_channels: int = Field(description="Channels with a send path running now.")
    send_backlog: int = Field(description="Sends queued in those channels, in flight included.")
    send_rate_limited: int = Field(description="429 answers to this agent's message sends.")
    rate_limited: list[RateLimited] = Field(
        default_factory=list, description="Discord's 429 answers to this agent, by scope."
    )


class EgressStatus(BaseModel):
    invalid_requests_used: int = Field(
        description="Invalid answers (401/403/429) counted in the current window."
    )
    invalid_requests_threshold: int = Field(description="Requests are refused from here on.")
    invalid_requests_limit: int = Field(description="Discord's ban threshold for the window.")
    window_seconds: float
    refused: int = Field(description="Requests this server refused to protect the budget.")


class EventHubStatus(BaseModel):
    logged: int
    waiters: int = Field(description="wait_for_events calls parked now.")
    subscribers: int
    dropped_at_intake: int = Field(description="Recovered by backfill when they are messages.")
    lost: int = Field(description="Events no backfill could recover.")
    backfills: int
    backfill_incomplete: int
    held: int


class ServerStatus(BaseModel):
    """The server, its agents and their Discord connections."""

    version: str
    sandbox: bool = Field(description="True: connected to the embedded sandbox, not Discord.")
    started_at: str
    uptime_seconds: float
    agent: str = Field(description="The agent your calls act as.")
    swarm_state: str
    agents: list[AgentStatus]
    egress: EgressStatus
    events: EventHubStatus | None = None


def _agent_status(
    stats: AgentStatistics,
    accepting: bool,
    counts: OutboxCounts | None,
    actor: AgentActorStatistics | None,
) -> AgentStatus:
    per_channel = () if actor is None else actor.per_channel
    return AgentStatus(
        name=stats.agent,
        state=stats.state.value,
        restarts=stats.restarts,
        readies=stats.readies,
        resumes=stats.resumes,
        events=stats.events,
        dropped_events=stats.dropped,
        last_error=redact(stats.error),
        accepting_sends=accepting,
        outbox_pending=None if counts is None else counts.pending,
        oldest_pending_seconds=None if counts is None else counts.oldest_pending_age,
        outbox_failed=None if counts is None else counts.failed,
        send_channels=0 if actor is None else actor.channels.children,
        send_backlog=sum(c.backlog for c in per_channel),
        send_rate_limited=sum(c.bucket.rate_limited for c in per_channel if c.bucket is not None),
        rate_limited=[
            RateLimited(scope=r.scope, count=r.count, retry_after_seconds=round(r.retry_after, 3))
            for r in stats.rate_limited
        ],
    )


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    @kit.tool(title="Server status", read_only=True, open_world=False)
    async def server_status(ctx: Context) -> ServerStatus:
        """Report the server's health: each agent's Discord connection, queued sends, limits.

        Use it when calls fail or sends stay "queued": state "ready" means connected;
        outbox_pending counts sends that will still be delivered; rate_limited and egress show
        whether Discord is pushing back. Makes no Discord request, so it works during outages.
        """
        caller = kit.caller()
        swarm = runtime.swarm
        stats = swarm.statistics()
        actors = {a.agent: a for a in stats.actors}
        agents: list[AgentStatus] = []
        for agent in stats.agents:
            counts: OutboxCounts | None
            try:
                counts = await swarm.store.outbox_counts(agent.agent, timeout=STORE_WAIT)
            except (ActorError, TimeoutError):
                counts = None
            accepting = agent.agent in stats.accepting
            agents.append(_agent_status(agent, accepting, counts, actors.get(agent.agent)))
        egress = stats.egress
        hub = stats.hub
        now = runtime.clock()
        return ServerStatus(
            version=runtime.version,
            sandbox=runtime.sandbox,
            started_at=iso(dt.datetime.fromtimestamp(runtime.started_at, dt.UTC)) or "",
            uptime_seconds=round(max(0.0, now - runtime.started_at), 3),
            agent=caller.agent,
            swarm_state=stats.state.value,
            agents=agents,
            egress=EgressStatus(
                invalid_requests_used=egress.used,
                invalid_requests_threshold=egress.threshold,
                invalid_requests_limit=egress.limit,
                window_seconds=egress.window,
                refused=egress.refused,
            ),
            events=None
            if hub is None
            else EventHubStatus(
                logged=hub.logged,
                waiters=hub.waiters,
                subscribers=len(hub.subscribers),
                dropped_at_intake=hub.dropped_at_intake,
                lost=hub.lost,
                backfills=hub.backfills,
                backfill_incomplete=hub.backfill_incomplete,
                held=hub.held,
            ),
        )


__all__ = ["ServerStatus", "redact", "register"]
