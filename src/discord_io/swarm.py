"""The composition root: one process's agents, their actors, the EventHub and the Store.

A :class:`Swarm` is built from a list of :class:`AgentConfig` (name, token, capabilities,
send options), a data directory (the Store's SQLite file) and, in sandbox mode, the sandbox's
REST base URL -- the one place a server points discord.py at it
(:func:`~discord_io._endpoint.point_discord_py_at`). Its :meth:`Swarm.run` lays out the
structure of the design, all inside one task group::

    swarm task group
    ├─ store        StoreActor (SQLite writer, group commit)
    ├─ event_hub    EventHub: every agent's events into the durable log
    ├─ discord_io   Supervisor: per agent, a Supervisor of its AgentClient (TRANSIENT)
    └─ actors       Supervisor: per agent, a Supervisor of its AgentActor (TRANSIENT); they
                    share one EgressBudget; last, the SchedulerActor (scheduled sends into
                    the outbox when due, then the owning agent's channel is woken)

An agent whose client or actor crashes is restarted alone; one that crashes more often than
the restart intensity allows stays down alone (its per-agent supervisor is TEMPORARY).

Start it with ``await tg.start(swarm.run)`` or ``async with open_swarm(...) as swarm``; it
reports started once every layer runs (not once Discord answers: :meth:`Swarm.ready` waits
for READY). Tools reach an agent through :meth:`Swarm.agent` (its
:class:`~actors.agent.AgentHandle`) and events through :attr:`Swarm.hub`.

Ordered shutdown, :meth:`Swarm.stop` (SIGTERM in a server), within one deadline:

1. intake stops for every agent at once: later sends raise
   :class:`~actors.agent.AgentStoppingError` (nothing accepted);
2. each agent's channels deliver what was accepted until its outbox is empty or the drain
   time (the deadline less ``stop_grace``) is up; then they stop: a send in flight completes
   (or is cancelled at the deadline -- its row stays pending and Discord's nonce dedup makes
   the retry at the next start harmless). Rows still pending stay in the outbox for the next
   start, which replays them first, in order;
3. the discord.py clients close; 4. the hub logs what is queued and ends; 5. the Store
   commits what is queued, checkpoints and closes.

Steps 3-5 take milliseconds; each is bounded by ``close_timeout`` and then cancelled. When
``stop`` returns, every task the swarm started has ended. Cancelling ``run`` instead cancels
everything at once (the outbox is durable, so nothing accepted is lost either way).

Exceptions: :class:`~actors.StoreOpenError` from ``run`` before it reports started (the data
directory is unusable or another server holds it); :class:`SwarmNotReadyError` from
:meth:`Swarm.ready`; ``KeyError`` for an unknown agent name.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.abc import TaskStatus

from actors import (
    Actor,
    ChildSpec,
    Restart,
    StoreActor,
    StoreHandle,
    StoreMsg,
    Supervisor,
    open_mailbox,
)
from actors._mailbox import MailboxStatistics
from actors.agent import AgentActor, AgentActorStatistics, AgentHandle, AgentOptions
from actors.discord_port import AgentCapabilities, ConnectionState, DiscordError
from actors.egress import EgressBudget, EgressStatistics
from actors.event_hub import EventHub, EventHubStatistics, HubMsg, MessageHistory
from actors.scheduler import SchedulerActor
from discord_io._endpoint import point_discord_py_at
from discord_io.agent_client import AgentClient, AgentStatistics

_log = logging.getLogger(__name__)

STORE_FILE = "mcp-discord.sqlite3"
"""The Store's file inside the data directory."""

SCHEDULER = "(scheduler)"
"""The scheduler's child name in the actors layer (not a valid-looking agent name)."""


class SwarmNotReadyError(TimeoutError):
    """Some agents did not reach READY in time (or failed for good)."""

    def __init__(self, waited: float, states: Mapping[str, str]) -> None:
        listed = ", ".join(f"{name} ({state})" for name, state in states.items())
        super().__init__(f"agents not ready after {waited:g} s: {listed}")
        self.states = dict(states)


@attrs.frozen
class ClientOptions:
    """Timings of an agent's discord.py client (see :class:`AgentClient`)."""

    identify_delay: float = 5.0
    guild_ready_timeout: float = 2.0
    max_ratelimit_timeout: float = 30.0
    max_restarts: int = 8
    backoff: float = 1.0
    max_backoff: float = 60.0

    @classmethod
    def for_sandbox(cls) -> ClientOptions:
        """The sandbox's timings: no identify wait, short READY wait, quick restarts."""
        return cls(identify_delay=0.0, guild_ready_timeout=0.1, backoff=0.05, max_backoff=1.0)


@attrs.frozen
class AgentConfig:
    """One agent: its bot's token, what it may do, its send path settings."""

    name: str
    token: str = attrs.field(repr=False)
    capabilities: AgentCapabilities = attrs.field(factory=AgentCapabilities)
    options: AgentOptions = attrs.field(factory=AgentOptions)
    client: ClientOptions | None = None
    """None: Discord's timings, or the sandbox's in sandbox mode."""


class SwarmState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@attrs.frozen
class ShutdownReport:
    """How an ordered shutdown went."""

    pending: Mapping[str, int]
    """Per agent, outbox rows left pending for the next start (0: drained; -1: unknown, the
    drain failed)."""
    elapsed: float
    forced: tuple[str, ...] = ()
    """Layers that missed their deadline and were cancelled (``("all",)``: the swarm was
    cancelled before it could report)."""

    @property
    def drained(self) -> bool:
        return not any(self.pending.values())


@attrs.frozen
class SwarmStatistics:
    """A snapshot of the whole process, for ``/readyz``, metrics and tests."""

    state: SwarmState
    agents: tuple[AgentStatistics, ...]
    accepting: tuple[str, ...]
    """Agents that take sends (none once a shutdown began)."""
    hub: EventHubStatistics | None
    egress: EgressStatistics
    actors: tuple[AgentActorStatistics, ...] = ()
    """Per agent, its send path: channel actors, their mailboxes, backlogs and pacing."""
    store_mailbox: MailboxStatistics | None = None
    """The Store's mailbox (None before the swarm runs)."""

    @property
    def ready(self) -> tuple[str, ...]:
        return tuple(a.agent for a in self.agents if a.state is ConnectionState.READY)


@attrs.define(eq=False)
class _Layer:
    """One part of the swarm run as a task that can be stopped, waited for, and cancelled."""

    name: str
    run: Callable[..., Awaitable[None]]
    stop: Callable[[], None]
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    done: anyio.Event = attrs.field(factory=anyio.Event)

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.scope:
                await self.run(task_status=task_status)
        finally:
            self.done.set()

    async def close(self, timeout: float) -> bool:
        """Ask it to stop; cancel it after ``timeout`` s. True if it ended by itself."""
        self.stop()
        with anyio.move_on_after(max(0.0, timeout)):
            await self.done.wait()
        if self.done.is_set():
            return True
        self.scope.cancel()
        await self.done.wait()
        return False


def _configs(configs: Iterable[AgentConfig]) -> tuple[AgentConfig, ...]:
    return tuple(configs)


def _store_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / STORE_FILE


@attrs.define(eq=False)
class Swarm:
    """One process's agents and everything under them; see the module docstring."""

    configs: tuple[AgentConfig, ...] = attrs.field(converter=_configs)
    data_dir: Path = attrs.field(converter=Path)
    sandbox_url: str | None = None
    """The sandbox's REST base (``http://host:port/api/v10``); None: Discord itself."""
    egress: EgressBudget = attrs.field(factory=EgressBudget)
    store_options: Mapping[str, Any] = attrs.field(factory=dict)
    """For :class:`~actors.StoreActor` (``synchronous``, retention, ...)."""
    hub_options: Mapping[str, Any] = attrs.field(factory=dict)
    """For :class:`~actors.EventHub` (``batch_limit``, backfill settings, ...)."""
    store_timeout: float = 30.0
    stop_timeout: float = 10.0
    """The deadline of a shutdown that does not name one (``open_swarm``'s exit)."""
    stop_grace: float = 1.0
    """Of a shutdown's deadline, the part kept for sends in flight after the drain."""
    close_timeout: float = 5.0
    """Longest wait for the clients, the hub and the Store to close, each."""

    _state: SwarmState = attrs.field(default=SwarmState.IDLE, init=False)
    _clients: dict[str, AgentClient] = attrs.field(factory=dict, init=False, repr=False)
    _actors: dict[str, AgentActor] = attrs.field(factory=dict, init=False, repr=False)
    _hub: EventHub | None = attrs.field(default=None, init=False, repr=False)
    _store: StoreHandle | None = attrs.field(default=None, init=False, repr=False)
    _scheduler: SchedulerActor | None = attrs.field(default=None, init=False, repr=False)
    _stop_asked: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _stopped: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _deadline: float | None = attrs.field(default=None, init=False, repr=False)
    _report: ShutdownReport | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        names = [c.name for c in self.configs]
        if not names:
            raise ValueError("a swarm needs at least one agent")
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, not {names}")
        if self.stop_timeout < 0 or self.stop_grace < 0 or self.close_timeout < 0:
            raise ValueError("stop_timeout, stop_grace and close_timeout must be >= 0")

    # ------------------------------------------------------------------ what tools use

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.configs)

    @property
    def state(self) -> SwarmState:
        return self._state

    @property
    def store_path(self) -> Path:
        return _store_path(self.data_dir)

    def agent(self, name: str) -> AgentHandle:
        """The calls tools make for agent ``name`` (send, read)."""
        return self._actor(name).handle

    def client(self, name: str) -> AgentClient:
        """Agent ``name``'s DiscordIO actor (its port and connection state)."""
        self._actor(name)
        return self._clients[name]

    @property
    def hub(self) -> EventHub:
        if self._hub is None:
            raise RuntimeError("the swarm is not running")
        return self._hub

    @property
    def store(self) -> StoreHandle:
        if self._store is None:
            raise RuntimeError("the swarm is not running")
        return self._store

    @property
    def scheduler(self) -> SchedulerActor:
        """The scheduler: call its ``wake()`` after scheduling a send so a sooner one counts."""
        if self._scheduler is None:
            raise RuntimeError("the swarm is not running")
        return self._scheduler

    async def ready(self, timeout: float) -> None:
        """Return once every agent is READY; :class:`SwarmNotReadyError` after ``timeout``."""
        deadline = anyio.current_time() + timeout
        for name in self.names:
            client = self.client(name)
            try:
                await client.wait_ready(max(0.0, deadline - anyio.current_time()))
            except DiscordError as exc:
                states = {
                    n: self._clients[n].state.value
                    for n in self.names
                    if self._clients[n].state is not ConnectionState.READY
                }
                raise SwarmNotReadyError(timeout, states) from exc

    def statistics(self) -> SwarmStatistics:
        return SwarmStatistics(
            state=self._state,
            agents=tuple(self._clients[n].statistics() for n in self.names if n in self._clients),
            accepting=tuple(n for n, a in self._actors.items() if a.accepting),
            hub=None if self._hub is None else self._hub.statistics(),
            egress=self.egress.statistics(),
            actors=tuple(self._actors[n].statistics() for n in self.names if n in self._actors),
            store_mailbox=None if self._store is None else self._store.handle.statistics(),
        )

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run every layer until :meth:`stop` has shut them down in order."""
        if self._state is not SwarmState.IDLE:
            raise RuntimeError(f"a swarm runs once; this one is {self._state.value}")
        self._state = SwarmState.STARTING
        if self.sandbox_url is not None:
            point_discord_py_at(self.sandbox_url)
        store_handle, store_mailbox = open_mailbox[StoreMsg]("store", 1024)
        hub_handle, hub_mailbox = open_mailbox[HubMsg]("event_hub", 4096)
        store_actor = StoreActor(store_mailbox, self.store_path, **self.store_options)
        try:
            with store_mailbox, store_handle, hub_mailbox, hub_handle:
                await store_actor.open()  # StoreOpenError here, not in an exception group
                store = self._store = StoreHandle(store_handle, self.store_timeout)
                ports: dict[str, MessageHistory] = {}
                hub = self._hub = EventHub(
                    hub_mailbox, hub_handle, store, ports, **self.hub_options
                )
                for config in self.configs:
                    client = self._make_client(config, hub)
                    self._clients[config.name] = ports[config.name] = client
                    self._actors[config.name] = AgentActor(
                        client, store, self.egress, config.options
                    )
                scheduler = self._scheduler = SchedulerActor(
                    store, self._actors, self.store_options.get("clock", time.time)
                )
                io = _supervisor("discord_io", _specs("discord_io", self._clients.items()))
                actors = _supervisor(
                    "actors", _specs("actors", [*self._actors.items(), (SCHEDULER, scheduler)])
                )
                layers = [
                    _Layer("store", store_actor.run, store_handle.close),
                    _Layer("event_hub", hub.run, hub_handle.close),
                    _Layer("discord_io", io.run, io.stop),
                    _Layer("actors", actors.run, actors.stop),
                ]
                async with anyio.create_task_group() as tg:
                    for layer in layers:
                        await tg.start(layer.serve, name=f"swarm/{layer.name}")
                    self._state = SwarmState.RUNNING
                    task_status.started()
                    await self._stop_asked.wait()
                    self._report = await self._shutdown(layers)
        finally:
            self._state = SwarmState.STOPPED
            self._stop_asked.set()
            self._stopped.set()

    async def stop(self, timeout: float | None = None) -> ShutdownReport:
        """Shut down in order within ``timeout`` s (default ``stop_timeout``); see the module
        docstring. Returns once every task of the swarm has ended."""
        if self._deadline is None:
            wait = self.stop_timeout if timeout is None else max(0.0, timeout)
            self._deadline = anyio.current_time() + wait
        for actor in self._actors.values():  # intake stops now, not when run gets to it
            actor.close_intake()
        self._stop_asked.set()
        if self._state is SwarmState.IDLE:
            self._state = SwarmState.STOPPED
            return ShutdownReport(pending={}, elapsed=0.0)
        await self._stopped.wait()
        return self._report or ShutdownReport(pending={}, elapsed=0.0, forced=("all",))

    async def _shutdown(self, layers: list[_Layer]) -> ShutdownReport:
        self._state = SwarmState.STOPPING
        started = anyio.current_time()
        deadline = started + self.stop_timeout if self._deadline is None else self._deadline
        store_layer, hub_layer, io_layer, actor_layer = layers
        for actor in self._actors.values():  # 1. no agent takes a send from here on
            actor.close_intake()
        grace = min(self.stop_grace, (deadline - started) / 2)
        drain_time = max(0.0, deadline - grace - anyio.current_time())
        pending: dict[str, int] = {}

        async def drain(name: str, actor: AgentActor) -> None:
            try:
                pending[name] = await actor.drain(drain_time)
            except Exception:  # the Store failed under it: stop anyway, the outbox is durable
                _log.exception("agent %s: draining its outbox failed", name)
                actor.stop()
                pending[name] = -1

        async with anyio.create_task_group() as tg:  # 2. deliver what was accepted
            for name, actor in self._actors.items():
                tg.start_soon(drain, name, actor, name=f"swarm/drain/{name}")
        forced: list[str] = []
        remaining = max(0.0, deadline - anyio.current_time())
        closing = [(actor_layer, remaining)]
        closing += [(layer, self.close_timeout) for layer in (io_layer, hub_layer, store_layer)]
        for layer, timeout in closing:  # then 3-5: the clients, the hub, the Store
            if not await layer.close(timeout):
                forced.append(layer.name)
        return ShutdownReport(
            pending=pending, elapsed=anyio.current_time() - started, forced=tuple(forced)
        )

    # ------------------------------------------------------------------ helpers

    def _actor(self, name: str) -> AgentActor:
        try:
            return self._actors[name]
        except KeyError:
            if name in self.names:
                raise RuntimeError("the swarm is not running") from None
            raise KeyError(
                f"no agent {name!r} in this swarm; agents: {', '.join(self.names)}"
            ) from None

    def _make_client(self, config: AgentConfig, hub: EventHub) -> AgentClient:
        timing = config.client
        if timing is None:
            timing = ClientOptions() if self.sandbox_url is None else ClientOptions.for_sandbox()
        return AgentClient(
            agent=config.name,
            token=config.token,
            capabilities=config.capabilities,
            sink=hub.sink,
            egress=self.egress,
            identify_delay=timing.identify_delay,
            guild_ready_timeout=timing.guild_ready_timeout,
            max_ratelimit_timeout=timing.max_ratelimit_timeout,
            max_restarts=timing.max_restarts,
            backoff=timing.backoff,
            max_backoff=timing.max_backoff,
        )


def _specs(
    layer: str, children: Iterable[tuple[str, AgentClient | AgentActor | SchedulerActor]]
) -> tuple[ChildSpec[Any], ...]:
    """Per agent, a supervisor of its one TRANSIENT child; it is TEMPORARY in the layer, so an
    agent that crashes too often stays down alone, not the whole layer. A restart runs the
    same object again, so the Handles and ports others hold stay valid."""
    return tuple(
        ChildSpec(
            name,
            _same(
                _supervisor(
                    f"{layer}/{name}", (ChildSpec(name, _same(child), restart=Restart.TRANSIENT),)
                )
            ),
            restart=Restart.TEMPORARY,
        )
        for name, child in children
    )


def _supervisor(name: str, children: tuple[ChildSpec[Any], ...]) -> Supervisor:
    # mypy's attrs plugin loses the type variable of Supervisor's ``converter=tuple``
    return Supervisor(name, children)  # type: ignore[arg-type]


def _same(child: Actor) -> Callable[[], Actor]:
    return lambda: child


@asynccontextmanager
async def open_swarm(
    agents: Sequence[AgentConfig],
    data_dir: str | os.PathLike[str],
    *,
    sandbox_url: str | None = None,
    **options: Any,
) -> AsyncIterator[Swarm]:
    """Run a :class:`Swarm` for the block; on exit, its ordered shutdown (``stop_timeout``)."""
    swarm = Swarm(agents, Path(data_dir), sandbox_url, **options)
    async with anyio.create_task_group() as tg:
        await tg.start(swarm.run, name="swarm")
        try:
            yield swarm
        finally:
            await swarm.stop()


__all__ = [
    "STORE_FILE",
    "AgentConfig",
    "ClientOptions",
    "ShutdownReport",
    "Swarm",
    "SwarmNotReadyError",
    "SwarmState",
    "SwarmStatistics",
    "open_swarm",
]
