"""The EventHub: every agent's gateway events into a durable log, out by long-poll and push.

Path of an event::

    discord.py dispatch -> DiscordIO translates -> EventHubSink.send_nowait ─┐
                                                                             ▼
    subscribers (push) ◀── notify ◀── EventHub ── append_events ──▶ Store (per-agent log)
    wait_for_events (long-poll) ◀── read_events ◀───────────────────────────┘

Intake. DiscordIO hands events to an :class:`EventHubSink` (the ``EventSink`` of
:mod:`actors.discord_port`): ``send_nowait`` into the hub's bounded mailbox, never a wait. A
full mailbox drops the event (``anyio.WouldBlock`` to the caller, which counts it too) -- but
not silently: the sink records a *gap* for the event's agent before it returns. A dropped
``MessageCreated`` remembers its channel and the id just before it; a dropped gateway event
marks the agent's whole set of channels. Once the hub has worked through the batch in hand it
turns each gap into a REST backfill (below), which fetches the dropped messages again, so a
full mailbox costs latency, never a message. Events that history cannot give back (edits,
deletions, reactions, members, channels) are counted as ``lost`` and the agent's log gets one
``events_lost`` record saying how many of which type: a visible hole, never a silent one.

The log. The hub takes what is queued (up to ``batch_limit``), turns each event into a
``NewEvent`` (type, channel, JSON payload: :mod:`actors._event_payload`) and appends the batch
with ONE ``append_events`` call; the Store's group commit does the rest. The hub is the log's
only writer and appends one batch at a time, so cursors follow the order the hub took events
in. Per agent it keeps the channels it watches (every channel its events named, plus those
given to :meth:`EventHub.watch`) with the newest message id logged in each, and a window of
recently logged message ids (``dedup_window``) that keeps a message from being logged twice
(live and backfilled, or backfilled twice).

Cursors. A cursor is an ``int`` -- the Store's global event id, strictly increasing within an
agent's log and never reused. ``wait_for_events(agent, cursor)`` returns events *after*
``cursor`` (exclusive) and ``next_cursor`` to pass next time; ``None`` or ``0`` start at the
oldest retained event. Events older than the Store's ``event_retention`` are pruned: a read
after a cursor that retention has passed reports ``missed=True`` (events in between may be
gone) and still returns what remains. A reader that only keeps passing ``next_cursor`` sees
every event exactly once, in log order.

Long-poll. :meth:`EventHub.wait_for_events` reads the log at once; if nothing after the cursor
matches its filters it parks on an ``anyio.Event`` of its own, which the hub sets when it has
appended a matching event for that agent, then reads again; at the deadline it returns an
empty page whose ``next_cursor`` is safe to pass next time. No polling loop: a waiter costs
one Event until something for it arrives.

Push. :meth:`EventHub.subscribe` returns a :class:`Subscription`: a bounded stream of
:class:`~actors.store.EventRecord` (with cursors) matching its filters, fed with
``send_nowait`` right after each append. A full subscription drops the record for that
subscriber only and counts it (its ``dropped``); the hub never waits for a subscriber. A
subscriber that dropped catches up from the log with ``wait_for_events`` from the last cursor
it saw: the log, not the stream, is the truth.

Backfill. A ``GatewayReady`` is a fresh session (IDENTIFY, not RESUME): Discord does not replay
what happened while the agent was away, so on every GatewayReady the hub backfills each channel
the agent watches, and on every gap it backfills the gap's channels. A backfill runs as its own
task (REST calls must not stall other agents' events): per channel it pages
``fetch_messages(channel_id, after=last_logged_id, limit=100)`` oldest-first (Discord answers
the 100 messages right after ``after``, newest first; the hub sorts them) until a page comes
back short, at most ``backfill_max_pages`` pages per channel. Each page goes back through the
hub's mailbox and is logged as ``message_created`` events (payload ``backfilled: true``),
skipping messages already logged. While an agent's backfill runs, its live events are held
(``hold_limit``; beyond it they count as gaps, fetched by the next backfill) and logged after
the backfill, so a channel's log reads in message order: what was missed, then what came next.
A channel whose backfill stops early (the page limit; lost access; Discord still failing after
``backfill_retries`` tries) gets a ``backfill_incomplete`` record saying after which message
its history is unrecovered. A channel the hub never saw, and that nobody asked it to
:meth:`~EventHub.watch`, cannot be backfilled: watch the channels an agent must not miss.

Restarts. On start, before taking events, the hub seeds each agent's (each key of ``ports``)
watched channels from the log: every channel with a logged ``message_created``, from its newest
logged message id on (``EventLog.latest_messages``). The first GatewayReady after a restart so
backfills what was posted while the process was down. The dedup window starts empty.

Store failures. A batch the Store refuses (``StoreWriteError``, a timeout) is not retried as
such: its messages become gaps (backfilled), its other events are counted as lost. A closed
Store (``StoreClosedError``) ends ``run`` with it: nothing can be logged any more.

Exceptions: :class:`~actors.ActorGoneError` from the sink when the hub is not running, and
whatever the Store raises from :meth:`EventHub.wait_for_events` (``StoreError``,
``AskTimeoutError``). ``ValueError`` for an unknown event type or a negative cursor.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from actors._event_payload import (
    BACKFILL_INCOMPLETE,
    EVENT_TYPES,
    EVENTS_LOST,
    event_channel,
    event_payload,
    event_type,
    message_payload,
)
from actors._mailbox import (
    ActorGoneError,
    AskTimeoutError,
    Handle,
    Mailbox,
    MailboxFullError,
    MailboxStatistics,
    open_mailbox,
)
from actors.discord_port import (
    ChannelCreated,
    ChannelDeleted,
    ChannelKind,
    DiscordError,
    DiscordEvent,
    DiscordRateLimited,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    MessageCreated,
    MessageInfo,
)
from actors.store import EventPage, EventRecord, NewEvent, StoreClosedError, StoreError

_log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
PAGE = 100
"""Discord's largest page of channel history."""

# Channel kinds that hold no messages of their own (forum and media posts are threads).
_NO_HISTORY = frozenset(
    {ChannelKind.CATEGORY, ChannelKind.DIRECTORY, ChannelKind.FORUM, ChannelKind.MEDIA}
)


def snowflake_at(epoch_seconds: float) -> int:
    """The smallest snowflake Discord could mint at ``epoch_seconds`` (for ``after=``)."""
    return max(0, int(epoch_seconds * 1000) - DISCORD_EPOCH_MS) << 22


# ---------------------------------------------------------------------------------------------
# What the hub needs from its neighbours


class EventLog(Protocol):
    """The part of :class:`~actors.StoreHandle` the hub uses (tests pass a memory double)."""

    async def append_events(
        self, events: Iterable[NewEvent], *, timeout: float | None = None
    ) -> tuple[int, ...]: ...

    async def read_events(
        self,
        agent: str,
        after: int = 0,
        *,
        limit: int = 100,
        types: Iterable[str] | None = None,
        channel_ids: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> EventPage: ...

    async def latest_messages(
        self, agent: str, *, timeout: float | None = None
    ) -> dict[int, int]: ...


class MessageHistory(Protocol):
    """The part of :class:`~actors.discord_port.DiscordPort` a backfill uses."""

    async def fetch_messages(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]: ...


# ---------------------------------------------------------------------------------------------
# Messages: the hub's whole protocol


@attrs.frozen
class Watch:
    """Backfill ``channel_id`` for ``agent`` after gaps, from message ``after`` on (None: now).

    A channel already watched keeps its place (the newest message logged there).
    """

    agent: str
    channel_id: int
    after: int | None = None


@attrs.frozen
class BackfillFetched:
    """A backfill's page of one channel's history, oldest first."""

    agent: str
    channel_id: int
    messages: tuple[MessageInfo, ...]


@attrs.frozen
class BackfillFinished:
    """A backfill is over; ``incomplete`` lists (channel, after-id, why) it could not finish."""

    agent: str
    pages: int
    incomplete: tuple[tuple[int, int, str], ...] = ()


HubMsg = DiscordEvent | Watch | BackfillFetched | BackfillFinished
"""The hub's whole protocol: events from DiscordIO, watch requests, its backfills' results."""


# ---------------------------------------------------------------------------------------------
# Statistics


@attrs.frozen
class SubscriberStatistics:
    id: int
    agent: str
    buffer: int
    queued: int
    delivered: int
    dropped: int
    """Records this subscriber missed because its buffer was full."""


@attrs.frozen
class EventHubStatistics:
    """A snapshot of the hub, for metrics and tests."""

    events_in: int
    """Events taken from the mailbox (live ones)."""
    dropped_at_intake: int
    """Events the sink refused because the mailbox was full (covered by backfill if messages)."""
    lost: int
    """Dropped events that no backfill can recover (not message creations)."""
    logged: int
    """Records appended to the log (live, backfilled and the hub's own)."""
    duplicates: int
    """Messages not logged because they already were (live vs backfill)."""
    held: int
    """Live events waiting for their agent's backfill to finish."""
    backfills: int
    """Backfill runs started."""
    backfill_pages: int
    backfilled: int
    """Messages recovered by backfill (not already logged)."""
    backfill_incomplete: int
    """Channels whose backfill stopped before catching up."""
    store_failures: int
    """Batches the Store failed to append (their messages are backfilled)."""
    waiters: int
    """``wait_for_events`` calls parked now."""
    subscribers: tuple[SubscriberStatistics, ...]
    subscriber_drops: int
    """Records dropped for full subscribers, over every subscription ever opened."""
    watched_channels: int
    mailbox: MailboxStatistics


# ---------------------------------------------------------------------------------------------
# Subscriptions


@attrs.define(eq=False)
class Subscription:
    """A bounded stream of one agent's new log records; ``async for record in sub``.

    Close it (``with hub.subscribe(...) as sub``) to stop deliveries. ``dropped`` counts
    records that did not fit; read them from the log (:meth:`EventHub.wait_for_events`).
    """

    id: int
    agent: str
    types: frozenset[str] | None
    channel_ids: frozenset[int] | None
    buffer: int
    _send: MemoryObjectSendStream[EventRecord] = attrs.field(repr=False)
    _receive: MemoryObjectReceiveStream[EventRecord] = attrs.field(repr=False)
    _on_close: Callable[[Subscription], None] = attrs.field(repr=False)
    delivered: int = 0
    dropped: int = 0

    def matches(self, record: EventRecord) -> bool:
        return _matches(self.types, self.channel_ids, record.type, record.channel_id)

    def offer(self, record: EventRecord) -> bool:
        """Deliver without waiting; False once the subscriber has gone away."""
        try:
            self._send.send_nowait(record)
        except anyio.WouldBlock:
            self.dropped += 1
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        else:
            self.delivered += 1
        return True

    async def receive(self) -> EventRecord:
        """The next record; ``anyio.EndOfStream`` once the hub stopped and it is drained."""
        return await self._receive.receive()

    def receive_nowait(self) -> EventRecord:
        return self._receive.receive_nowait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EventRecord:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.close()  # the hub stopped: nothing more will come
            raise StopAsyncIteration from None

    def end(self) -> None:
        """The hub's side: no more records (the reader drains what is queued)."""
        self._send.close()

    def close(self) -> None:
        self._receive.close()
        self._send.close()
        self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def statistics(self) -> SubscriberStatistics:
        return SubscriberStatistics(
            id=self.id,
            agent=self.agent,
            buffer=self.buffer,
            queued=self._send.statistics().current_buffer_used,
            delivered=self.delivered,
            dropped=self.dropped,
        )


def _matches(
    types: frozenset[str] | None,
    channel_ids: frozenset[int] | None,
    type_: str,
    channel_id: int | None,
) -> bool:
    return (types is None or type_ in types) and (
        channel_ids is None or (channel_id is not None and channel_id in channel_ids)
    )


# ---------------------------------------------------------------------------------------------
# Intake


@attrs.define(eq=False)
class _Gap:
    """What one agent lost at intake since the hub last looked."""

    channels: dict[int, int] = attrs.field(factory=dict)
    """Channel -> backfill after this message id (one before the first dropped message)."""
    everything: bool = False
    """Backfill every watched channel (a gateway event was dropped)."""
    lost: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def message(self, channel_id: int, message_id: int) -> None:
        after = message_id - 1
        self.channels[channel_id] = min(self.channels.get(channel_id, after), after)


@attrs.define(eq=False)
class _Gaps:
    """Gaps recorded by the sink (and by failed appends), per agent; shared with the hub."""

    by_agent: dict[str, _Gap] = attrs.field(factory=dict)
    dropped: int = 0

    def record(self, event: DiscordEvent) -> None:
        gap = self.by_agent.setdefault(event.agent, _Gap())
        match event:
            case MessageCreated(message=message):
                gap.message(message.channel_id, message.id)
            case GatewayReady() | GatewayResumed() | GatewayDisconnected():
                gap.everything = True
            case _:
                gap.lost[event_type(event)] += 1


@attrs.define(eq=False)
class EventHubSink:
    """DiscordIO's ``EventSink``: ``send_nowait`` into the hub's mailbox, gaps on drops.

    Never blocks. When the mailbox is full the event is dropped, its gap recorded (the hub
    backfills it) and ``anyio.WouldBlock`` raised so DiscordIO counts the drop too; when the
    hub has stopped, :class:`~actors.ActorGoneError`.
    """

    _handle: Handle[HubMsg]
    _gaps: _Gaps

    def send_nowait(self, item: DiscordEvent, /) -> None:
        try:
            self._handle.tell_nowait(item)
        except MailboxFullError:
            self._gaps.dropped += 1
            self._gaps.record(item)
            raise anyio.WouldBlock from None


# ---------------------------------------------------------------------------------------------
# The actor


@attrs.define(eq=False)
class _Waiter:
    types: frozenset[str] | None
    channel_ids: frozenset[int] | None
    woken: anyio.Event = attrs.field(factory=anyio.Event)


@attrs.define(eq=False)
class _AgentState:
    channels: dict[int, int] = attrs.field(factory=dict)
    """Watched channel -> newest message id logged there (or the point to backfill from)."""
    guilds: dict[int, int] = attrs.field(factory=dict)
    """Channel -> guild, to fill in REST messages (Discord leaves guild_id out there)."""
    recent: collections.deque[int] = attrs.field(factory=collections.deque)
    recent_ids: set[int] = attrs.field(factory=set)
    backfilling: bool = False
    held: collections.deque[DiscordEvent] = attrs.field(factory=collections.deque)
    waiters: set[_Waiter] = attrs.field(factory=set)
    subscriptions: dict[int, Subscription] = attrs.field(factory=dict)


@attrs.define(eq=False)
class _Staged:
    """One record on its way into the log, and what to update once it is in."""

    agent: str
    new: NewEvent
    message: MessageInfo | None = None
    backfilled: bool = False


@attrs.define(eq=False)
class _Counters:
    events_in: int = 0
    lost: int = 0
    logged: int = 0
    duplicates: int = 0
    backfills: int = 0
    backfill_pages: int = 0
    backfilled: int = 0
    backfill_incomplete: int = 0
    store_failures: int = 0
    subscriber_drops_closed: int = 0


def _check_positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value}")


@attrs.define(eq=False)
class EventHub:
    """The EventHub actor: run it with ``await tg.start(hub.run)`` (or :func:`open_event_hub`).

    ``mailbox`` is its intake; ``handle`` the matching Handle, which its backfills write to and
    :attr:`sink` wraps. ``ports`` gives each agent's Discord port (for backfill); it is read
    when a backfill starts, so agents may be added to a dict later.
    """

    mailbox: Mailbox[HubMsg]
    handle: Handle[HubMsg]
    store: EventLog
    ports: Mapping[str, MessageHistory] = attrs.field(factory=dict)
    clock: Callable[[], float] = time.time
    """Wall clock (epoch seconds): received_at, and where a newly seen channel starts."""
    batch_limit: int = attrs.field(default=256, validator=_check_positive)
    dedup_window: int = attrs.field(default=10_000, validator=_check_positive)
    """Message ids per agent remembered as logged."""
    hold_limit: int = attrs.field(default=10_000, validator=_check_positive)
    """Live events per agent held while its backfill runs."""
    backfill_max_pages: int = attrs.field(default=50, validator=_check_positive)
    """Pages of 100 messages per channel per backfill."""
    backfill_retries: int = 3
    """Tries after a retryable Discord failure (5xx, outage, 429) before giving a channel up."""
    backfill_retry_delay: float = 1.0
    """First wait between tries; doubles per try (a 429 waits its own retry_after)."""
    subscriber_buffer: int = attrs.field(default=1000, validator=_check_positive)

    _gaps: _Gaps = attrs.field(factory=_Gaps, init=False, repr=False)
    _agents: dict[str, _AgentState] = attrs.field(factory=dict, init=False, repr=False)
    _counters: _Counters = attrs.field(factory=_Counters, init=False, repr=False)
    _ids: itertools.count[int] = attrs.field(
        factory=lambda: itertools.count(1), init=False, repr=False
    )
    _tasks: TaskGroup | None = attrs.field(default=None, init=False, repr=False)
    _sink: EventHubSink | None = attrs.field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ public API

    @property
    def sink(self) -> EventHubSink:
        """The ``EventSink`` to give every agent's DiscordIO."""
        if self._sink is None:
            self._sink = EventHubSink(self.handle, self._gaps)
        return self._sink

    async def watch(self, agent: str, channel_id: int, *, after: int | None = None) -> None:
        """Have ``channel_id`` backfilled for ``agent`` after gaps (see :class:`Watch`)."""
        await self.handle.tell(Watch(agent, channel_id, after))

    async def wait_for_events(
        self,
        agent: str,
        cursor: int | None = None,
        *,
        timeout: float,
        types: Iterable[str] | None = None,
        channel_ids: Iterable[int] | None = None,
        limit: int = 100,
    ) -> EventPage:
        """The agent's events after ``cursor``, waiting up to ``timeout`` s for the first one.

        Returns at once when matching events are logged after ``cursor``; otherwise when one
        is appended, or at the deadline with no events. Pass ``next_cursor`` next time.
        """
        if cursor is not None and cursor < 0:
            raise ValueError(f"a cursor is 0 or more, not {cursor}")
        type_set = _type_filter(types)
        channel_set = None if channel_ids is None else frozenset(channel_ids)
        after = cursor or 0
        deadline = anyio.current_time() + max(timeout, 0.0)
        state = self._agent(agent)
        waiter = _Waiter(type_set, channel_set)
        state.waiters.add(waiter)
        try:
            while True:
                waiter.woken = anyio.Event()  # before the read: no wake-up falls in between
                page = await self.store.read_events(
                    agent, after, limit=limit, types=type_set, channel_ids=channel_set
                )
                if page.events:
                    break
                with anyio.move_on_after(deadline - anyio.current_time()):
                    await waiter.woken.wait()
                if not waiter.woken.is_set():
                    break
        finally:
            state.waiters.discard(waiter)
        if page.missed and after == 0:
            page = attrs.evolve(page, missed=False)  # "from the oldest retained" misses nothing
        return page

    def subscribe(
        self,
        agent: str,
        *,
        types: Iterable[str] | None = None,
        channel_ids: Iterable[int] | None = None,
        buffer: int | None = None,
    ) -> Subscription:
        """A bounded stream of the agent's records appended from now on (:class:`Subscription`)."""
        size = self.subscriber_buffer if buffer is None else buffer
        if size < 1:
            raise ValueError(f"a subscription needs a buffer of at least 1, not {size}")
        send, receive = anyio.create_memory_object_stream[EventRecord](size)
        state = self._agent(agent)
        sub = Subscription(
            id=next(self._ids),
            agent=agent,
            types=_type_filter(types),
            channel_ids=None if channel_ids is None else frozenset(channel_ids),
            buffer=size,
            send=send,
            receive=receive,
            on_close=self._unsubscribe,
        )
        state.subscriptions[sub.id] = sub
        return sub

    def statistics(self) -> EventHubStatistics:
        c = self._counters
        subs = tuple(
            sub.statistics()
            for state in self._agents.values()
            for sub in state.subscriptions.values()
        )
        return EventHubStatistics(
            events_in=c.events_in,
            dropped_at_intake=self._gaps.dropped,
            lost=c.lost,
            logged=c.logged,
            duplicates=c.duplicates,
            held=sum(len(state.held) for state in self._agents.values()),
            backfills=c.backfills,
            backfill_pages=c.backfill_pages,
            backfilled=c.backfilled,
            backfill_incomplete=c.backfill_incomplete,
            store_failures=c.store_failures,
            waiters=sum(len(state.waiters) for state in self._agents.values()),
            subscribers=subs,
            subscriber_drops=c.subscriber_drops_closed + sum(s.dropped for s in subs),
            watched_channels=sum(len(state.channels) for state in self._agents.values()),
            mailbox=self.handle.statistics(),
        )

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Log events until intake closes (and is drained); then end every subscription."""
        try:
            await self._resume_from_log()
            async with anyio.create_task_group() as tg:
                self._tasks = tg
                task_status.started()
                async for first in self.mailbox:
                    batch: list[HubMsg] = [first]
                    while len(batch) < self.batch_limit:
                        try:
                            batch.append(self.mailbox.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                            break
                    await self._handle_batch(batch)
                tg.cancel_scope.cancel()  # backfills in flight have nowhere to report
        finally:
            self._tasks = None
            for state in self._agents.values():
                for sub in state.subscriptions.values():
                    sub.end()

    async def _resume_from_log(self) -> None:
        """Watch, from the newest logged message on, every channel the log has for each agent.

        After a restart the first ``GatewayReady`` then backfills what was posted meanwhile.
        """
        for agent in list(self.ports):
            try:
                latest = await self.store.latest_messages(agent)
            except StoreClosedError:
                raise
            except (StoreError, AskTimeoutError):
                _log.exception("could not read %s's watched channels from the log", agent)
                continue
            state = self._agent(agent)
            for channel_id, message_id in latest.items():
                state.channels[channel_id] = max(state.channels.get(channel_id, 0), message_id)

    async def _handle_batch(self, batch: list[HubMsg]) -> None:
        staged: list[_Staged] = []
        for msg in batch:
            match msg:
                case Watch(agent=agent, channel_id=channel_id, after=after):
                    state = self._agent(agent)
                    if channel_id not in state.channels:
                        start = snowflake_at(self.clock()) if after is None else after
                        state.channels[channel_id] = start
                case BackfillFetched(agent=agent, messages=messages):
                    self._counters.backfill_pages += 1
                    state = self._agent(agent)
                    for message in messages:
                        self._stage_message(state, agent, message, staged, backfilled=True)
                case BackfillFinished(agent=agent, incomplete=incomplete):
                    state = self._agent(agent)
                    for channel_id, after, why in incomplete:
                        self._counters.backfill_incomplete += 1
                        payload = {"channel_id": str(channel_id), "after_id": str(after)}
                        payload["reason"] = why
                        staged.append(self._own(agent, BACKFILL_INCOMPLETE, payload, channel_id))
                    state.backfilling = False
                    held, state.held = state.held, collections.deque()
                    for event in held:
                        self._take(event, staged)
                case _:
                    self._counters.events_in += 1
                    self._take(msg, staged)
        await self._append(staged)
        await self._close_gaps()

    def _take(self, event: DiscordEvent, staged: list[_Staged]) -> None:
        """Stage one live event, or hold it while its agent's backfill runs."""
        state = self._agent(event.agent)
        if state.backfilling:
            if len(state.held) < self.hold_limit:
                state.held.append(event)
            else:
                self._gaps.record(event)
            return
        match event:
            case MessageCreated(agent=agent, message=message):
                if message.guild_id is not None:
                    state.guilds[message.channel_id] = message.guild_id
                self._stage_message(state, agent, message, staged, backfilled=False)
                return
            case GatewayReady(agent=agent):
                staged.append(self._stage_event(event))
                if state.channels:
                    self._start_backfill(agent, dict(state.channels))
                return
            case ChannelCreated(channel=channel):
                if channel.type not in _NO_HISTORY:
                    state.channels.setdefault(channel.id, channel.id)
                    if channel.guild_id is not None:
                        state.guilds[channel.id] = channel.guild_id
            case ChannelDeleted(channel=channel):
                state.channels.pop(channel.id, None)
            case _:
                channel_id = event_channel(event)
                if channel_id is not None and channel_id not in state.channels:
                    state.channels[channel_id] = snowflake_at(self.clock())
        staged.append(self._stage_event(event))

    def _stage_event(self, event: DiscordEvent) -> _Staged:
        new = NewEvent(
            event.agent,
            event_type(event),
            event_payload(event),
            event_channel(event),
            received_at=self.clock(),
        )
        return _Staged(event.agent, new)

    def _own(
        self, agent: str, type_: str, payload: dict[str, Any], channel_id: int | None = None
    ) -> _Staged:
        return _Staged(agent, NewEvent(agent, type_, payload, channel_id, self.clock()))

    def _stage_message(
        self,
        state: _AgentState,
        agent: str,
        message: MessageInfo,
        staged: list[_Staged],
        *,
        backfilled: bool,
    ) -> None:
        message_id = message.id
        if message_id in state.recent_ids:
            self._counters.duplicates += 1
            return
        self._remember(state, message_id)
        channel_id = message.channel_id
        if message.guild_id is None and channel_id in state.guilds:
            message = attrs.evolve(message, guild_id=state.guilds[channel_id])
        if state.channels.get(channel_id, 0) < message_id:
            state.channels[channel_id] = message_id
        payload = message_payload(message)  # = event_payload(MessageCreated(agent, message))
        if backfilled:
            payload["backfilled"] = True
        new = NewEvent(agent, "message_created", payload, channel_id, received_at=self.clock())
        staged.append(_Staged(agent, new, message, backfilled))

    def _remember(self, state: _AgentState, message_id: int) -> None:
        state.recent.append(message_id)
        state.recent_ids.add(message_id)
        while len(state.recent) > self.dedup_window:
            state.recent_ids.discard(state.recent.popleft())

    async def _append(self, staged: list[_Staged]) -> None:
        if not staged:
            return
        try:
            cursors = await self.store.append_events([s.new for s in staged])
        except StoreClosedError:
            raise  # nothing can be logged any more: end the hub (its supervisor decides)
        except (StoreError, AskTimeoutError):
            self._counters.store_failures += 1
            self._forget(staged)
            return
        self._counters.logged += len(staged)
        for item, cursor in zip(staged, cursors, strict=True):
            if item.backfilled:
                self._counters.backfilled += 1
            state = self._agent(item.agent)
            if not (state.waiters or state.subscriptions):
                continue  # nobody to tell: the record is in the log for later reads
            new = item.new
            assert new.received_at is not None
            record = EventRecord(
                cursor, new.agent, new.type, new.channel_id, new.payload, new.received_at
            )
            self._publish(state, record)

    def _forget(self, staged: list[_Staged]) -> None:
        """A batch the Store refused: its messages become gaps (fetched again by backfill)."""
        for item in staged:
            gap = self._gaps.by_agent.setdefault(item.agent, _Gap())
            if item.message is not None:
                self._agent(item.agent).recent_ids.discard(item.message.id)
                gap.message(item.message.channel_id, item.message.id)
            elif item.new.type.startswith("gateway_"):
                gap.everything = True
            elif item.new.type not in (EVENTS_LOST, BACKFILL_INCOMPLETE):
                gap.lost[item.new.type] += 1

    def _publish(self, state: _AgentState, record: EventRecord) -> None:
        for waiter in state.waiters:
            if not waiter.woken.is_set() and _matches(
                waiter.types, waiter.channel_ids, record.type, record.channel_id
            ):
                waiter.woken.set()
        gone = [
            sub.id
            for sub in state.subscriptions.values()
            if sub.matches(record) and not sub.offer(record)
        ]
        for sub_id in gone:
            self._counters.subscriber_drops_closed += state.subscriptions.pop(sub_id).dropped

    def _unsubscribe(self, sub: Subscription) -> None:
        state = self._agents.get(sub.agent)
        if state is not None and state.subscriptions.pop(sub.id, None) is not None:
            self._counters.subscriber_drops_closed += sub.dropped

    async def _close_gaps(self) -> None:
        """Turn the gaps recorded so far into backfills (and ``events_lost`` records)."""
        lost_records: list[_Staged] = []
        for agent in list(self._gaps.by_agent):
            state = self._agent(agent)
            if state.backfilling:
                continue  # its backfill reports first; the gap is taken after that
            gap = self._gaps.by_agent.pop(agent)
            if gap.lost:
                total = sum(gap.lost.values())
                self._counters.lost += total
                payload = {"count": total, "types": dict(sorted(gap.lost.items()))}
                lost_records.append(self._own(agent, EVENTS_LOST, payload))
            targets = dict(state.channels) if gap.everything else {}
            for channel_id, after in gap.channels.items():
                targets[channel_id] = min(after, state.channels.get(channel_id, after))
            if targets:
                self._start_backfill(agent, targets)
        await self._append(lost_records)

    def _start_backfill(self, agent: str, targets: dict[int, int]) -> None:
        state = self._agent(agent)
        state.backfilling = True
        self._counters.backfills += 1
        port = self.ports.get(agent)
        assert self._tasks is not None
        self._tasks.start_soon(self._backfill, agent, port, sorted(targets.items()))

    async def _backfill(
        self, agent: str, port: MessageHistory | None, targets: list[tuple[int, int]]
    ) -> None:
        """Fetch each channel's history after its mark; report pages, then the end."""
        pages = 0
        incomplete: list[tuple[int, int, str]] = []
        try:
            for channel_id, start in targets:
                after = start
                if port is None:
                    incomplete.append((channel_id, after, "the agent has no Discord port"))
                    continue
                for _ in range(self.backfill_max_pages):
                    try:
                        answer = await self._fetch(port, channel_id, after)
                    except DiscordError as exc:
                        incomplete.append((channel_id, after, str(exc)))
                        break
                    except Exception as exc:  # the port is an edge: record, never crash the hub
                        _log.exception("backfill of %s in channel %s failed", agent, channel_id)
                        incomplete.append((channel_id, after, f"{type(exc).__name__}: {exc}"))
                        break
                    pages += 1
                    fresh = sorted((m for m in answer if m.id > after), key=lambda m: m.id)
                    if fresh:
                        await self.handle.tell(BackfillFetched(agent, channel_id, tuple(fresh)))
                        after = fresh[-1].id
                    if len(answer) < PAGE or not fresh:
                        break
                else:
                    incomplete.append(
                        (channel_id, after, f"more than {self.backfill_max_pages} pages behind")
                    )
            await self.handle.tell(BackfillFinished(agent, pages, tuple(incomplete)))
        except ActorGoneError:
            return  # the hub is stopping

    async def _fetch(self, port: MessageHistory, channel_id: int, after: int) -> list[MessageInfo]:
        delay = self.backfill_retry_delay
        for attempt in itertools.count():
            try:
                return await port.fetch_messages(channel_id, limit=PAGE, after=after)
            except DiscordError as exc:
                if not exc.retryable or attempt >= self.backfill_retries:
                    raise
                wait = exc.retry_after if isinstance(exc, DiscordRateLimited) else delay
                delay *= 2
                await anyio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _agent(self, agent: str) -> _AgentState:
        state = self._agents.get(agent)
        if state is None:
            state = self._agents[agent] = _AgentState()
        return state


def _type_filter(types: Iterable[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    chosen = frozenset(types)
    unknown = chosen - EVENT_TYPES
    if unknown:
        raise ValueError(
            f"unknown event type(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return chosen


@asynccontextmanager
async def open_event_hub(
    store: EventLog,
    ports: Mapping[str, MessageHistory] | None = None,
    *,
    name: str = "event_hub",
    capacity: int = 4096,
    **options: Any,
) -> AsyncIterator[EventHub]:
    """Run an :class:`EventHub` for the block; on exit close intake and log what is queued."""
    handle, mailbox = open_mailbox[HubMsg](name, capacity)
    hub = EventHub(mailbox, handle, store, {} if ports is None else ports, **options)
    with mailbox, handle:
        async with anyio.create_task_group() as tg:
            await tg.start(hub.run)
            try:
                yield hub
            finally:
                handle.close()


__all__ = [
    "BACKFILL_INCOMPLETE",
    "EVENTS_LOST",
    "EVENT_TYPES",
    "BackfillFetched",
    "BackfillFinished",
    "EventHub",
    "EventHubSink",
    "EventHubStatistics",
    "EventLog",
    "HubMsg",
    "MessageHistory",
    "SubscriberStatistics",
    "Subscription",
    "Watch",
    "open_event_hub",
    "snowflake_at",
]
