"""Prometheus metrics of one server process: tool calls, and the swarm read at scrape time.

:class:`EdgeMetrics` owns a :class:`prometheus_client.CollectorRegistry` of its own (never the
process-global one, so two servers in one test process do not collide) and fills it two ways:

pushed
    :meth:`EdgeMetrics.record_tool_call`, once per MCP tool call: the counter
    ``mcp_discord_tool_calls_total`` and the histogram ``mcp_discord_tool_call_seconds``
    (buckets from 1 ms to 10 s), both labelled ``tool``, ``agent`` and ``outcome``. The outcome
    is one of :data:`OUTCOMES`:

    ==================  ============================================================
    ``ok``              the tool returned a result
    ``tool_error``      a ToolError the model reads (Discord refused, agent busy...)
    ``bad_arguments``   the arguments failed validation before the tool ran
    ``denied``          the caller may not use this tool or agent (auth, capability)
    ``internal_error``  any other exception: a bug or an unexpected failure
    ==================  ============================================================

pulled
    After :meth:`EdgeMetrics.bind`, a custom collector reads ``Swarm.statistics()`` at each
    scrape and exports what the actors already count: the swarm's state, per agent its gateway
    state (one 1/0 series per state), READYs, resumes, reconnects and client restarts, events
    handed to the hub and dropped, its channel mailboxes (depth, senders waiting, actors
    running, backlog), sends delivered/failed/attempted/retried, rate-limit waits by limiter
    (``channel`` buckets, Discord's ``global`` 50/s, the agent's own ``budget``), REST answers
    by route template and status, 429s by scope with the seconds they asked to wait; the
    EventHub's intake, drops and losses; the Store's and the hub's mailbox depth; and the
    egress IP's invalid-request budget (used, threshold, Discord's limit).

    Counters read from snapshots are monotonic as Prometheus expects. A channel's actor is
    replaced when it is reaped for idleness and the channel is written to again; the new one
    counts from zero, so per channel the collector detects the drop and keeps the old actor's
    last figures as a base (a reset between two scrapes loses at most that interval's counts).

cached
    The outbox figures (pending rows and the oldest one's age, per agent) live in the Store,
    and Store queries are async: they must not run inside the synchronous scrape. The server
    runs :meth:`EdgeMetrics.run` (``await tg.start(metrics.run)``), a loop that calls
    :meth:`refresh` every ``interval`` seconds; the collector exports the cached figures, the
    oldest pending age advanced by the time since the refresh, and
    ``mcp_discord_outbox_refresh_age_seconds`` says how old they are. A failed refresh (the
    Store busy or closed) is logged and counted (``mcp_discord_outbox_refresh_errors_total``)
    and keeps the previous figures.

Label values are bounded: tools and outcomes are the server's own, REST routes are templates
(``POST /channels/{channel_id}/messages``, never an id or a webhook token), agents are the
swarm's (a tool call naming an unknown agent counts as ``(other)`` once :meth:`bind` named
the agents). Nothing here sees a token.

:meth:`render` returns the body and content type of a scrape (Prometheus text, or OpenMetrics
when the ``Accept`` header asks for it); :mod:`mcp_edge.ops` serves it on ``GET /metrics``.
A scrape runs on the event loop (the snapshots read anyio's clock): call :meth:`render` from an
async handler, as ``ops`` does. A scrape that cannot read the swarm (off the loop, a bug) still
serves the tool-call figures and counts itself in ``mcp_discord_scrape_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from typing import Final, Literal, get_args

import anyio
import attrs
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from actors.discord_port import ConnectionState
from actors.store import OutboxCounts
from discord_io.swarm import SwarmState, SwarmStatistics

_log = logging.getLogger(__name__)

Outcome = Literal["ok", "tool_error", "bad_arguments", "denied", "internal_error"]
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
"""How a tool call ended; see the module docstring."""

TOOL_CALL_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: from a cached read (~1 ms) to a sync send that waited out a rate limit (10 s)."""

OTHER_AGENT: Final = "(other)"
"""The ``agent`` label of a tool call naming an agent the swarm does not have."""
NO_AGENT: Final = ""
"""The ``agent`` label of a tool call that names no agent."""

OutboxProbe = Callable[[str], Awaitable[OutboxCounts]]
"""One agent's outbox figures, e.g. ``lambda agent: swarm.store.outbox_counts(agent)``."""

_PREFIX = "mcp_discord_"


@attrs.define(eq=False)
class EdgeMetrics:
    """The process's metrics registry; see the module docstring."""

    interval: float = 5.0
    """Seconds between two outbox refreshes in :meth:`run`."""
    probe_timeout: float = 5.0
    """Longest wait for one agent's outbox figures in :meth:`refresh`."""
    registry: CollectorRegistry = attrs.field(factory=CollectorRegistry, init=False)
    _tool_calls: Counter = attrs.field(init=False, repr=False)
    _tool_seconds: Histogram = attrs.field(init=False, repr=False)
    _children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = attrs.field(
        factory=dict, init=False, repr=False
    )
    _statistics: Callable[[], SwarmStatistics] | None = attrs.field(
        default=None, init=False, repr=False
    )
    _probe: OutboxProbe | None = attrs.field(default=None, init=False, repr=False)
    _agents: frozenset[str] | None = attrs.field(default=None, init=False, repr=False)
    _outbox: dict[str, OutboxCounts] = attrs.field(factory=dict, init=False, repr=False)
    _refreshed_at: float | None = attrs.field(default=None, init=False, repr=False)
    _refresh_errors: int = attrs.field(default=0, init=False, repr=False)
    _scrape_errors: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.interval > 0 or not self.probe_timeout > 0:
            raise ValueError("interval and probe_timeout must be seconds > 0")
        labels = ("tool", "agent", "outcome")
        self._tool_calls = Counter(
            f"{_PREFIX}tool_calls",
            "MCP tool calls, by tool, agent and outcome.",
            labels,
            registry=self.registry,
        )
        self._tool_seconds = Histogram(
            f"{_PREFIX}tool_call_seconds",
            "MCP tool call duration in seconds, by tool, agent and outcome.",
            labels,
            buckets=TOOL_CALL_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_SwarmCollector(self))

    # ------------------------------------------------------------------ pushed

    def record_tool_call(self, tool: str, agent: str, outcome: str, seconds: float) -> None:
        """Count one tool call that took ``seconds`` and ended with ``outcome``.

        ``agent`` is the agent the call named (:data:`NO_AGENT` for none); ``outcome`` must be
        one of :data:`OUTCOMES` (``ValueError`` otherwise: a typo must not become a label).
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if self._agents is not None and agent != NO_AGENT and agent not in self._agents:
            agent = OTHER_AGENT
        key = (tool, agent, outcome)
        children = self._children.get(key)
        if children is None:  # labels() validates and locks: once per label set, not per call
            children = (self._tool_calls.labels(*key), self._tool_seconds.labels(*key))
            self._children[key] = children
        children[0].inc()
        children[1].observe(max(0.0, seconds))

    # ------------------------------------------------------------------ pulled and cached

    def bind(
        self,
        swarm_statistics: Callable[[], SwarmStatistics],
        store_probe: OutboxProbe | None = None,
        *,
        agents: Iterable[str] | None = None,
    ) -> None:
        """Export the swarm's figures from now on.

        ``swarm_statistics`` is read at every scrape (``swarm.statistics``); ``store_probe``
        gives one agent's outbox figures to :meth:`refresh` (None: no outbox metrics);
        ``agents`` (``swarm.names``), when given, bounds the ``agent`` label of tool calls.
        """
        self._statistics = swarm_statistics
        self._probe = store_probe
        self._agents = None if agents is None else frozenset(agents)

    async def refresh(self) -> None:
        """Read every agent's outbox figures from the Store into the cache the scrape reads."""
        if self._statistics is None or self._probe is None:
            return
        agents = [a.agent for a in self._statistics().agents]
        for agent in agents:
            try:
                with anyio.fail_after(self.probe_timeout):
                    self._outbox[agent] = await self._probe(agent)
            except Exception as exc:  # the edge of a scrape: record, keep the old figures
                self._refresh_errors += 1
                _log.warning("metrics: reading agent %s's outbox failed: %s", agent, exc)
        self._refreshed_at = anyio.current_time()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Refresh the outbox figures every ``interval`` seconds until cancelled."""
        task_status.started()
        while True:
            await self.refresh()
            await anyio.sleep(self.interval)

    # ------------------------------------------------------------------ a scrape

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """A scrape: the body and its content type (OpenMetrics if ``accept`` asks for it)."""
        if not accept:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


# ---------------------------------------------------------------------------------------------
# The collector


@attrs.define
class _Monotonic:
    """Sums counters of objects that may be replaced by a fresh one counting from zero."""

    _last: dict[Hashable, float] = attrs.field(factory=dict)
    _base: dict[Hashable, float] = attrs.field(factory=dict)

    def total(self, key: Hashable, value: float) -> float:
        last = self._last.get(key, 0.0)
        if value < last:  # a new object took over the key: keep what the old one counted
            self._base[key] = self._base.get(key, 0.0) + last
        self._last[key] = value
        return self._base.get(key, 0.0) + value


def _counter(name: str, doc: str, labels: Iterable[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"{_PREFIX}{name}", doc, labels=list(labels))


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{_PREFIX}{name}", doc, labels=list(labels))


_CHANNEL_COUNTERS: Final = ("delivered", "failed", "attempts", "retries")


@attrs.define(eq=False)
class _SwarmCollector:
    """Reads the bound swarm's statistics at each scrape (prometheus_client's Collector)."""

    metrics: EdgeMetrics
    _monotonic: _Monotonic = attrs.field(factory=_Monotonic)

    def describe(self) -> list[Metric]:
        return []  # names vary with the swarm; nothing to check for clashes at register time

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        errors = _counter(
            "scrape_errors", "Scrapes that could not read the swarm's statistics.", ()
        )
        if metrics._statistics is not None:
            try:
                stats = metrics._statistics()
                families = [*self._swarm(stats), *self._outbox(stats)]
            except Exception:  # the edge of a scrape: record and serve the rest
                metrics._scrape_errors += 1
                _log.exception("metrics: reading the swarm's statistics failed")
            else:
                yield from families
        errors.add_metric([], metrics._scrape_errors)
        yield errors

    def _swarm(self, stats: SwarmStatistics) -> Iterator[Metric]:
        swarm_state = _gauge(
            "swarm_state", "1 for the swarm's current state, 0 for the others.", ["state"]
        )
        for state in SwarmState:
            swarm_state.add_metric([state.value], float(stats.state is state))
        yield swarm_state
        yield from self._gateway(stats)
        yield from self._sends(stats)
        yield from self._rest(stats)
        yield from self._hub(stats)
        yield from self._egress(stats)

    def _gateway(self, stats: SwarmStatistics) -> Iterator[Metric]:
        state = _gauge(
            "gateway_state",
            "1 for the agent's current gateway state, 0 for the others.",
            ["agent", "state"],
        )
        readies = _counter("gateway_readies", "Gateway sessions that reached READY.", ["agent"])
        resumes = _counter("gateway_resumes", "Gateway sessions resumed.", ["agent"])
        reconnects = _counter(
            "gateway_reconnects",
            "Gateway sessions re-established after the first READY (READYs after the first, "
            "plus resumes).",
            ["agent"],
        )
        restarts = _counter(
            "gateway_client_restarts",
            "discord.py clients started again after one died (outages included).",
            ["agent"],
        )
        events = _counter("events", "Gateway events handed to the EventHub.", ["agent"])
        dropped = _counter(
            "events_dropped",
            "Gateway events the EventHub's full or closed intake refused.",
            ["agent"],
        )
        for agent in stats.agents:
            for value in ConnectionState:
                state.add_metric([agent.agent, value.value], float(agent.state is value))
            readies.add_metric([agent.agent], agent.readies)
            resumes.add_metric([agent.agent], agent.resumes)
            reconnects.add_metric([agent.agent], max(0, agent.readies - 1) + agent.resumes)
            restarts.add_metric([agent.agent], agent.restarts)
            events.add_metric([agent.agent], agent.events)
            dropped.add_metric([agent.agent], agent.dropped)
        yield from (state, readies, resumes, reconnects, restarts, events, dropped)

    def _sends(self, stats: SwarmStatistics) -> Iterator[Metric]:
        accepting = _gauge("agent_accepting", "1 while the agent takes sends.", ["agent"])
        active = _gauge("channel_actors", "Channel actors running.", ["agent"])
        depth = _gauge(
            "channel_mailbox_depth",
            "Sends queued in the agent's channel mailboxes, not yet taken.",
            ["agent"],
        )
        waiting = _gauge(
            "channel_mailbox_waiting_senders",
            "Callers waiting for room in a full channel mailbox (backpressure).",
            ["agent"],
        )
        backlog = _gauge(
            "channel_backlog", "Sends accepted and not yet settled, in flight included.", ["agent"]
        )
        counted = {
            name: _counter(f"messages_{name}", doc, ["agent"])
            for name, doc in (
                ("delivered", "Outbox sends Discord holds."),
                ("failed", "Outbox sends refused for good."),
                ("attempts", "Send attempts made."),
                ("retries", "Send attempts that failed and were retried."),
            )
        }
        waits = _counter(
            "ratelimit_waits",
            "Sends that queued for a rate limiter: the channel's Discord bucket, the bot's "
            "global 50/s, or the agent's own budget.",
            ["agent", "limiter"],
        )
        wait_seconds = _counter(
            "ratelimit_wait_seconds",
            "Seconds sends spent queued for a rate limiter.",
            ["agent", "limiter"],
        )
        for actor in stats.actors:
            agent = actor.agent
            accepting.add_metric([agent], float(actor.accepting))
            active.add_metric([agent], actor.channels.children)
            depth.add_metric([agent], sum(c.mailbox.depth for c in actor.channels.per_child))
            waiting.add_metric(
                [agent], sum(c.mailbox.waiting_senders for c in actor.channels.per_child)
            )
            backlog.add_metric([agent], sum(c.backlog for c in actor.per_channel))
            totals = dict.fromkeys((*_CHANNEL_COUNTERS, "waited", "wait_seconds"), 0.0)
            for channel in actor.per_channel:
                figures: dict[str, float] = {
                    "delivered": channel.delivered,
                    "failed": channel.failed,
                    "attempts": channel.attempts,
                    "retries": channel.retries,
                }
                if channel.bucket is not None:
                    figures["waited"] = channel.bucket.waited
                    figures["wait_seconds"] = channel.bucket.wait_seconds
                for name, value in figures.items():
                    key = (agent, channel.channel_id, name)
                    totals[name] += self._monotonic.total(key, value)
            for name in _CHANNEL_COUNTERS:
                counted[name].add_metric([agent], totals[name])
            waits.add_metric([agent, "channel"], totals["waited"])
            wait_seconds.add_metric([agent, "channel"], totals["wait_seconds"])
            for limiter, bucket in (("global", actor.global_bucket), ("budget", actor.budget)):
                if bucket is not None:
                    waits.add_metric([agent, limiter], bucket.waited)
                    wait_seconds.add_metric([agent, limiter], bucket.wait_seconds)
        yield from (accepting, active, depth, waiting, backlog, *counted.values())
        yield from (waits, wait_seconds)

    def _rest(self, stats: SwarmStatistics) -> Iterator[Metric]:
        requests = _counter(
            "rest_requests",
            "Discord REST answers, by agent, route template and HTTP status.",
            ["agent", "route", "status"],
        )
        limited = _counter(
            "rest_rate_limited",
            "Discord 429 answers, by agent and X-RateLimit-Scope (user, global, shared, "
            "unknown); discord.py's own retries included.",
            ["agent", "scope"],
        )
        asked = _counter(
            "rest_retry_after_seconds",
            "Seconds Discord's 429 answers asked to wait, by agent and scope.",
            ["agent", "scope"],
        )
        for agent in stats.agents:
            for rest in agent.rest:
                requests.add_metric([agent.agent, rest.route, str(rest.status)], rest.count)
            for scope in agent.rate_limited:
                limited.add_metric([agent.agent, scope.scope], scope.count)
                asked.add_metric([agent.agent, scope.scope], scope.retry_after)
        yield from (requests, limited, asked)

    def _hub(self, stats: SwarmStatistics) -> Iterator[Metric]:
        depth = _gauge("mailbox_depth", "Messages queued in an actor's mailbox.", ["mailbox"])
        capacity = _gauge("mailbox_capacity", "An actor mailbox's capacity.", ["mailbox"])
        for name, mailbox in (
            ("event_hub", None if stats.hub is None else stats.hub.mailbox),
            ("store", stats.store_mailbox),
        ):
            if mailbox is not None:
                depth.add_metric([name], mailbox.depth)
                capacity.add_metric([name], mailbox.capacity)
        yield from (depth, capacity)
        hub = stats.hub
        if hub is None:
            return
        for name, doc, value in (
            ("hub_events", "Live events the EventHub took in.", hub.events_in),
            (
                "hub_dropped",
                "Events refused at the EventHub's full intake (messages among them are "
                "backfilled).",
                hub.dropped_at_intake,
            ),
            ("hub_events_lost", "Dropped events no backfill can recover.", hub.lost),
            ("hub_logged", "Records appended to the event log.", hub.logged),
            ("hub_backfills", "Backfill runs started.", hub.backfills),
            ("hub_backfilled", "Messages recovered by backfill.", hub.backfilled),
            (
                "hub_subscriber_drops",
                "Records dropped for full push subscribers.",
                hub.subscriber_drops,
            ),
            ("hub_store_failures", "Event batches the Store failed to append.", hub.store_failures),
        ):
            family = _counter(name, doc, ())
            family.add_metric([], value)
            yield family
        for name, doc, value in (
            ("hub_held", "Live events waiting for their agent's backfill.", hub.held),
            ("hub_waiters", "wait_for_events calls parked now.", hub.waiters),
            ("hub_subscribers", "Push subscriptions open now.", len(hub.subscribers)),
        ):
            gauge = _gauge(name, doc)
            gauge.add_metric([], value)
            yield gauge

    def _egress(self, stats: SwarmStatistics) -> Iterator[Metric]:
        egress = stats.egress
        for name, doc, value in (
            (
                "egress_invalid_requests_used",
                "401/403/429 answers (shared 429s excepted) on this IP in Discord's window.",
                egress.used,
            ),
            (
                "egress_invalid_requests_threshold",
                "Used invalid requests at which sending stops to protect the IP.",
                egress.threshold,
            ),
            (
                "egress_invalid_requests_limit",
                "Discord's ban ceiling of invalid requests per window.",
                egress.limit,
            ),
            ("egress_window_seconds", "Discord's invalid-request window.", egress.window),
        ):
            gauge = _gauge(name, doc)
            gauge.add_metric([], value)
            yield gauge
        for name, doc, value in (
            ("egress_invalid_requests", "Invalid answers recorded since start.", egress.recorded),
            ("egress_refused", "Requests refused to protect the IP.", egress.refused),
        ):
            family = _counter(name, doc, ())
            family.add_metric([], value)
            yield family

    def _outbox(self, stats: SwarmStatistics) -> Iterator[Metric]:
        metrics = self.metrics
        errors = _counter(
            "outbox_refresh_errors",
            "Outbox figure refreshes that failed (Store busy or closed).",
            (),
        )
        errors.add_metric([], metrics._refresh_errors)
        yield errors
        if metrics._probe is None:
            return
        age = _gauge(
            "outbox_refresh_age_seconds",
            "Seconds since the outbox figures were read from the Store (-1: never).",
        )
        since = -1.0
        if metrics._refreshed_at is not None:
            since = max(0.0, anyio.current_time() - metrics._refreshed_at)
        age.add_metric([], since)
        yield age
        pending = _gauge("outbox_pending", "Sends accepted and not yet delivered.", ["agent"])
        oldest = _gauge(
            "outbox_oldest_pending_age_seconds",
            "Age of the agent's oldest pending send (0 when none is pending).",
            ["agent"],
        )
        for agent in stats.agents:
            counts = metrics._outbox.get(agent.agent)
            if counts is None:
                continue
            pending.add_metric([agent.agent], counts.pending)
            waited = counts.oldest_pending_age
            oldest.add_metric([agent.agent], 0.0 if waited is None else waited + max(0.0, since))
        yield from (pending, oldest)


__all__ = [
    "NO_AGENT",
    "OTHER_AGENT",
    "OUTCOMES",
    "TOOL_CALL_BUCKETS",
    "EdgeMetrics",
    "OutboxProbe",
    "Outcome",
]
