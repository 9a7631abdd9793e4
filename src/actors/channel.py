"""ChannelActor: one per (agent, channel); accepts sends into the outbox and delivers them in order.

An agent's :class:`~actors.agent.AgentActor` runs one ChannelActor per channel it writes to,
spawned by the first message for that channel and stopped when idle (a
:class:`~actors.KeyedSupervisor`). Each has two stages, two tasks over one private queue:

intake
    Takes :class:`Accept` messages from the bounded mailbox, appends them to the outbox in one
    durable write per batch (group commit), answers each sender's ``accepted`` Reply with its
    row (id, deterministic nonce) and queues the row for delivery. Each Accept carries a
    :class:`Ticket`: the intake takes it or its sender, at its deadline, abandons it -- whoever
    comes first wins, in one synchronous step -- so a sender told "busy" (nothing was taken by
    its deadline) is never accepted later, and one whose Accept was taken always hears the
    outcome of the write. Acceptance order *is* the mailbox order, because the one intake task
    appends batch after batch. While ``max_backlog`` rows wait for delivery the intake stops
    taking messages: the mailbox fills and senders get the busy answer.

delivery
    Sends one row at a time, lowest outbox id first, so the order on Discord is the order of
    acceptance. Every attempt carries the row's nonce with ``enforce_nonce``: when an attempt
    ends without a usable answer (a timeout, a 5xx after Discord had already posted it, a lost
    connection), the retry returns the message Discord already holds instead of a second one.
    Failures are head-of-line:

    * retryable (:class:`DiscordUnavailable`, :class:`DiscordRateLimited`,
      :class:`AgentNotReady`): the *same* row is retried, after ``retry_after`` for a 429 (the
      per-channel :class:`~actors.DiscordBucket` is blocked that long; a global 429 also
      blocks the agent's global :class:`~actors.TokenBucket`) or an exponential backoff
      (``base_backoff`` doubling up to ``max_backoff``) otherwise; no later row overtakes it.
    * permanent (:class:`DiscordForbidden`, :class:`DiscordNotFound`,
      :class:`DiscordBadRequest`): the row is marked failed with the error's text, a waiting
      sync sender gets that error, and delivery moves on to the next row.
    * an agent-level failure (the token refused, a privileged intent missing): the row stays
      pending and is retried every ``max_backoff`` seconds; it goes out once the agent is fixed
      and restarted (the outbox is replayed at start).

    While the agent's gateway is not READY no request is made: the delivery waits for READY
    (``port.wait_ready``), so an outage costs no failed requests and the backlog goes out in
    order as soon as the agent is back.

Pacing, before every attempt: the per-channel :class:`~actors.DiscordBucket`, then the agent's
global TokenBucket (Discord's 50 requests/s per bot, shared by all of the agent's channels),
then the agent's own budget, then the shared :class:`~actors.egress.EgressBudget` (no request
while the egress IP's invalid-request budget is spent). The DiscordBucket predicts the channel's
message-create bucket from the ``X-RateLimit-*`` headers of each answer (``SentMessage.rate_limit``,
filled in by a port that sees them, as :class:`~discord_io.agent_client.AgentClient` does): when
the window is used up the actor waits for its reset *before* sending, so the steady state never
meets a 429 (and discord.py's own reactive wait finds nothing left to wait for). An answer
without headers teaches nothing (once the limit is known, its slot stays taken for a window);
a 429 blocks the bucket for its ``retry_after``.

Replay and dedup. At start, before it takes its first message, the actor loads its channel's
pending rows from the outbox (a previous process's, or a previous actor's for this key that was
stopped with a backlog) and delivers them first; :class:`Wake` loads any it does not know yet
(the AgentActor wakes every channel with pending rows at start and periodically). A row is
queued once however often it is loaded or accepted again under its idempotency key: the actor
knows the ids it holds and remembers the outcome of the last ones it settled.

Stopping: when intake closes (idle reaping, shutdown) the actor appends what is still in its
mailbox, finishes the attempt in flight and ends; rows not yet delivered stay pending in the
outbox for the next actor of this key (spawned by a later message or a Wake) or the next start.
Their sync senders are answered ``None``: still queued. An intake that is holding back because
the backlog is full notices the close only once delivery makes room (the new actor for the key
waits for this one, and its senders are told "busy" meanwhile, as they would be anyway).

Errors while writing the outbox (:class:`~actors.StoreError`) fail the senders of that batch;
an error marking a delivered or failed row propagates (the actor crashes, its supervisor
restarts it, and the restarted actor reloads the pending rows: a row whose mark was lost is
sent again with the same nonce, which Discord deduplicates).

Exceptions::

    ActorError
    └── AgentBusyError     the channel's queue stayed full for the sender's deadline: nothing
                           was accepted; retry after ``retry_after`` s
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, assert_never, final

import anyio
import attrs
from anyio.abc import TaskStatus

from actors._bucket import BucketStatistics, DiscordBucket, Permit
from actors._mailbox import ActorError, AskTimeoutError, Mailbox, Reply
from actors._ratelimit import RateLimitHeaders, RateLimitScope
from actors._send_payload import send_arguments
from actors._token_bucket import TokenBucket
from actors.discord_port import (
    AgentNotReady,
    ConnectionState,
    DiscordBadRequest,
    DiscordError,
    DiscordForbidden,
    DiscordNotFound,
    DiscordPort,
    DiscordRateLimited,
    SentMessage,
)
from actors.egress import EgressBudget
from actors.store import Accepted, NewSend, OutboxRow, SendState, StoreError

PERMANENT_ERRORS: tuple[type[DiscordError], ...] = (
    DiscordForbidden,
    DiscordNotFound,
    DiscordBadRequest,
)
"""Failures that retrying the same request cannot fix: the row is marked failed."""

_SETTLED_MEMORY = 1024
_BATCH_LIMIT = 256


class AgentBusyError(ActorError):
    """Nothing took the send off a channel's queue by the sender's deadline: not accepted."""

    def __init__(self, agent: str, channel_id: int, retry_after: float) -> None:
        super().__init__(
            f"agent {agent!r} is busy sending to channel {channel_id}: its queue stayed full "
            f"for the whole deadline and the message was NOT accepted; retry after "
            f"{math.ceil(retry_after)} s"
        )
        self.agent = agent
        self.channel_id = channel_id
        self.retry_after = retry_after


class OutboxStore(Protocol):
    """The part of :class:`~actors.StoreHandle` a ChannelActor uses."""

    async def append_many(
        self, sends: Iterable[NewSend], *, timeout: float | None = None
    ) -> tuple[Accepted, ...]: ...

    async def pending(
        self,
        agent: str | None = None,
        channel_id: int | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> tuple[OutboxRow, ...]: ...

    async def mark_delivered(
        self, outbox_id: int, message_id: int, *, timeout: float | None = None
    ) -> OutboxRow: ...

    async def mark_failed(
        self, outbox_id: int, error: str, *, timeout: float | None = None
    ) -> OutboxRow: ...

    async def record_attempt(
        self, outbox_id: int, error: str | None = None, *, timeout: float | None = None
    ) -> OutboxRow: ...


# --------------------------------------------------------------------------------- protocol


@attrs.frozen
class Delivered:
    """What a sync sender learns once Discord holds its message: which message it is.

    Not its content: the actor remembers the outcomes of the last sends it settled (to answer a
    repeated send at once) as bare message ids, so that a thousand channels' memory of them
    holds no object the garbage collector has to walk.
    """

    id: int
    channel_id: int
    nonce: str


DeliveryReply = Reply[Delivered | None]
"""Answered once the send is settled: with the :class:`Delivered` message once Discord holds it,
``None`` if it is not this actor's to deliver now (the actor stopped first and the row stays
queued, the idempotency key names a send already finished or one for another channel), or
failed with the permanent :class:`DiscordError`. Failed too, with the same error, when the
``accepted`` Reply next to it fails: it is always answered once ``accepted`` is."""


@final
class Ticket:
    """Decides, once, between the intake taking an Accept and its sender abandoning it."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state: Literal["waiting", "taken", "abandoned"] = "waiting"

    def take(self) -> bool:
        """The intake's claim: True unless the sender abandoned it first."""
        if self._state == "waiting":
            self._state = "taken"
        return self._state == "taken"

    def abandon(self) -> bool:
        """The sender's claim at its deadline: True unless the intake took it first."""
        if self._state == "waiting":
            self._state = "abandoned"
        return self._state == "abandoned"


@attrs.frozen
class Accept:
    """Accept one send into the outbox, then deliver it.

    ``payload`` is made by :func:`actors._send_payload.send_payload`. ``accepted`` is
    answered after the durable write (or failed with a store error) unless the sender
    abandoned ``ticket`` first; ``delivered``, if given, once the send is settled (see
    :data:`DeliveryReply`), so a sync sender may wait on ``delivered`` alone.
    """

    payload: Mapping[str, Any]
    idempotency_key: str | None
    ticket: Ticket = attrs.field(repr=False)
    accepted: Reply[Accepted] = attrs.field(repr=False)
    delivered: DeliveryReply | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Wake:
    """Load the channel's pending outbox rows this actor does not hold yet."""


ChannelMsg = Accept | Wake
"""The ChannelActor's whole protocol."""


@attrs.frozen
class ChannelStatistics:
    """A snapshot of one ChannelActor, for metrics and tests."""

    agent: str
    channel_id: int
    backlog: int
    """Rows accepted (or loaded) and not settled, the one in flight included."""
    accepted: int
    delivered: int
    failed: int
    attempts: int
    retries: int
    """Attempts that failed and were retried."""
    last_error: str | None
    bucket: BucketStatistics | None = None
    """The channel's message-create bucket: its pacing waits and 429s."""


@attrs.define(eq=False)
class _Entry:
    row: OutboxRow
    waiters: list[DeliveryReply] = attrs.field(factory=list)


# --------------------------------------------------------------------------------- the actor


@attrs.define(eq=False)
class ChannelActor:
    """Accepts and delivers one agent's sends to one channel; see the module docstring."""

    agent: str
    channel_id: int
    inbox: Mailbox[ChannelMsg]
    port: DiscordPort = attrs.field(repr=False)
    store: OutboxStore = attrs.field(repr=False)
    global_bucket: TokenBucket | None = attrs.field(default=None, kw_only=True, repr=False)
    """The bot's global limit (50 requests/s), shared by all of the agent's channels."""
    agent_budget: TokenBucket | None = attrs.field(default=None, kw_only=True, repr=False)
    """The agent's own send budget, shared by all of its channels."""
    egress: EgressBudget | None = attrs.field(default=None, kw_only=True, repr=False)
    bucket: DiscordBucket | None = attrs.field(default=None, kw_only=True, repr=False)
    """The channel's message-create bucket; a fresh one if not given."""
    base_backoff: float = attrs.field(default=0.5, kw_only=True)
    max_backoff: float = attrs.field(default=30.0, kw_only=True)
    ready_wait: float = attrs.field(default=30.0, kw_only=True)
    """How long one wait for the gateway's READY lasts before the actor looks again."""
    max_backlog: int = attrs.field(default=1000, kw_only=True)
    send_interval: float = attrs.field(default=1.0, kw_only=True)
    """Seconds one send is expected to take, paced (for ``retry_after`` estimates)."""
    store_timeout: float | None = attrs.field(default=None, kw_only=True)
    """Per store call; None: the StoreHandle's own default."""

    _queue: list[int] = attrs.field(factory=list, init=False, repr=False)
    _entries: dict[int, _Entry] = attrs.field(factory=dict, init=False, repr=False)
    _settled: OrderedDict[int, int | DiscordError] = attrs.field(
        factory=OrderedDict, init=False, repr=False
    )
    _more: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _room: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _closing: bool = attrs.field(default=False, init=False, repr=False)
    _wait_scope: anyio.CancelScope | None = attrs.field(default=None, init=False, repr=False)
    _accepted: int = attrs.field(default=0, init=False, repr=False)
    _delivered: int = attrs.field(default=0, init=False, repr=False)
    _failed: int = attrs.field(default=0, init=False, repr=False)
    _attempts: int = attrs.field(default=0, init=False, repr=False)
    _retries: int = attrs.field(default=0, init=False, repr=False)
    _last_error: str | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.bucket is None:
            self.bucket = DiscordBucket(f"{self.agent}/channel {self.channel_id}/messages")
        if not 0 < self.base_backoff <= self.max_backoff or math.isinf(self.max_backoff):
            raise ValueError("needs 0 < base_backoff <= max_backoff < inf")
        if self.max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1, not {self.max_backlog}")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load the pending rows, then accept and deliver until intake closes."""
        try:
            await self._load()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._deliver_all, name=f"{self.agent}/{self.channel_id}/delivery")
                task_status.started()
                await self._intake()
                self._close()
        finally:
            for entry in self._entries.values():
                for waiter in entry.waiters:
                    waiter.send(None)  # still queued in the outbox
            self._entries.clear()
            self._queue.clear()

    def statistics(self) -> ChannelStatistics:
        return ChannelStatistics(
            agent=self.agent,
            channel_id=self.channel_id,
            backlog=len(self._entries),
            accepted=self._accepted,
            delivered=self._delivered,
            failed=self._failed,
            attempts=self._attempts,
            retries=self._retries,
            last_error=self._last_error,
            bucket=None if self.bucket is None else self.bucket.statistics(),
        )

    # ------------------------------------------------------------------------- intake

    async def _intake(self) -> None:
        async for first in self.inbox:
            batch: list[ChannelMsg] = [first]
            while len(batch) < _BATCH_LIMIT:
                try:
                    batch.append(self.inbox.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
            await self._take(batch)
            while len(self._entries) >= self.max_backlog:
                self._room = anyio.Event()
                await self._room.wait()

    async def _take(self, batch: list[ChannelMsg]) -> None:
        accepts: list[tuple[Accept, NewSend]] = []
        wake = False
        for msg in batch:
            match msg:
                case Accept():
                    if not msg.ticket.take():
                        continue  # its sender gave up and was told "busy": not accepted
                    try:
                        send = NewSend(
                            self.agent, self.channel_id, msg.payload, msg.idempotency_key
                        )
                    except (TypeError, ValueError) as exc:
                        _refuse(msg, exc)
                        continue
                    accepts.append((msg, send))
                case Wake():
                    wake = True
                case _:
                    assert_never(msg)
        if accepts:
            await self._append(accepts)
        if wake:
            await self._load()

    async def _append(self, accepts: Sequence[tuple[Accept, NewSend]]) -> None:
        try:
            results = await self.store.append_many(
                [send for _, send in accepts], timeout=self.store_timeout
            )
        except StoreError as exc:
            if len(accepts) == 1:
                _refuse(accepts[0][0], exc)
                return
            for one in accepts:  # all or none failed: find the one that spoiled the batch
                await self._append([one])
            return
        except AskTimeoutError as exc:  # the write may still land: a Wake will find it
            for msg, _ in accepts:
                _refuse(msg, exc)
            return
        for (msg, _), accepted in zip(accepts, results, strict=True):
            if not accepted.duplicate:
                self._accepted += 1
            self._track(accepted.row, msg.delivered)
            msg.accepted.send(accepted)

    async def _load(self) -> None:
        rows = await self.store.pending(self.agent, self.channel_id, timeout=self.store_timeout)
        for row in rows:
            self._track(row, None)

    def _track(self, row: OutboxRow, waiter: DeliveryReply | None) -> None:
        """Queue ``row`` for delivery unless it is queued or settled already."""
        if row.channel_id != self.channel_id:  # a reused idempotency key names another channel
            if waiter is not None:
                waiter.send(None)  # that channel's actor delivers it; report it queued
            return
        settled = self._settled.get(row.id)
        if settled is not None:
            if waiter is not None:
                self._answer(waiter, row, settled)
            return
        entry = self._entries.get(row.id)
        if entry is None:
            if row.state is not SendState.PENDING:
                if waiter is not None:
                    waiter.send(None)  # a duplicate of a finished send: its sender reads the row
                return
            entry = self._entries[row.id] = _Entry(row)
            heapq.heappush(self._queue, row.id)
            self._more.set()
        if waiter is not None:
            entry.waiters.append(waiter)

    def _answer(self, waiter: DeliveryReply, row: OutboxRow, outcome: int | DiscordError) -> None:
        """Answer with the settled ``outcome``: the message id, or the permanent error."""
        if isinstance(outcome, DiscordError):
            waiter.fail(outcome)
        else:
            waiter.send(Delivered(outcome, self.channel_id, row.nonce))

    def _close(self) -> None:
        self._closing = True
        if self._wait_scope is not None:
            self._wait_scope.cancel()
        self._more.set()

    # ------------------------------------------------------------------------- delivery

    async def _deliver_all(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._more = anyio.Event()
                await self._more.wait()
            if self._closing:
                return
            oid = heapq.heappop(self._queue)
            entry = self._entries[oid]
            sent = await self._deliver(entry.row)
            if sent is None:
                return  # stopping: the row stays pending in the outbox
            # only what a waiter needs is kept, not the message with its content
            outcome = sent.id if isinstance(sent, SentMessage) else sent
            del self._entries[oid]
            self._settled[oid] = outcome
            if len(self._settled) > _SETTLED_MEMORY:
                self._settled.popitem(last=False)
            for waiter in entry.waiters:
                self._answer(waiter, entry.row, outcome)
            self._room.set()

    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[anyio.CancelScope]:
        """A wait that stopping cuts short (``scope.cancelled_caught`` tells)."""
        with anyio.CancelScope() as scope:
            if self._closing:
                scope.cancel()
            self._wait_scope = scope
            try:
                yield scope
            finally:
                self._wait_scope = None

    async def _deliver(self, row: OutboxRow) -> SentMessage | DiscordError | None:
        """Send ``row`` until Discord holds it or refuses it for good; None if stopped first."""
        failures = 0
        delay = 0.0
        while True:
            if delay > 0:
                with self._interruptible() as scope:
                    await anyio.sleep(delay)
                if scope.cancelled_caught:
                    return None
                delay = 0.0
            if self._closing:
                return None
            if self.egress is not None and (wait := self.egress.wait_time()) > 0:
                self._last_error = f"egress invalid-request budget spent; waiting {wait:.0f} s"
                delay = wait
                continue
            if self.port.state is not ConnectionState.READY:
                try:
                    with self._interruptible() as scope:
                        await self.port.wait_ready(self.ready_wait)
                except AgentNotReady as exc:
                    self._last_error = str(exc)
                    continue  # it waited ready_wait already
                except DiscordError as exc:  # final: token refused, intents missing
                    self._last_error = str(exc)
                    delay = self.max_backoff
                    continue
                if scope.cancelled_caught:
                    return None
            permit = await self._pace()
            if permit is None:
                return None
            self._attempts += 1
            try:
                args = send_arguments(row.payload)
                sent = await self.port.send_message(
                    self.channel_id,
                    args.content,
                    nonce=row.nonce,
                    enforce_nonce=True,
                    reply_to=args.reply_to,
                    embeds=args.embeds,
                    allowed_mentions=args.allowed_mentions,
                    files=args.files,
                )
            except DiscordError as exc:
                if self.egress is not None:
                    self.egress.record_error(exc)
                self._last_error = str(exc)
                if isinstance(exc, PERMANENT_ERRORS):
                    permit.update(RateLimitHeaders())
                    await self.store.mark_failed(row.id, str(exc), timeout=self.store_timeout)
                    self._failed += 1
                    return exc
                failures += 1
                self._retries += 1
                if isinstance(exc, DiscordRateLimited):
                    wait = exc.retry_after
                    if not (math.isfinite(wait) and wait >= 0):
                        wait = self.max_backoff
                    permit.rate_limited(wait)  # the bucket waits it out
                    if exc.scope is RateLimitScope.GLOBAL and self.global_bucket is not None:
                        self.global_bucket.block_for(wait)
                else:
                    permit.release()  # no usable answer: it may have been counted
                    delay = (
                        min(self.max_backoff, self.base_backoff * 2 ** (failures - 1))
                        if exc.retryable
                        else self.max_backoff
                    )
                await self.store.record_attempt(row.id, str(exc), timeout=self.store_timeout)
                continue
            except BaseException:
                permit.release()
                raise
            permit.update(sent.rate_limit or RateLimitHeaders())
            await self.store.mark_delivered(row.id, sent.id, timeout=self.store_timeout)
            self._delivered += 1
            return sent

    async def _pace(self) -> Permit | None:
        """Wait for the channel's bucket and the agent's budgets; None if stopped meanwhile.

        What is free now is taken at once, without waiting (nor a cancel scope).
        """
        assert self.bucket is not None
        permit = self.bucket.try_acquire()
        pending: list[TokenBucket] = []
        for budget in (self.global_bucket, self.agent_budget):
            if budget is not None and (permit is None or pending or not budget.try_acquire()):
                pending.append(budget)  # in order: none is taken before those ahead of it
        if permit is not None and not pending:
            return permit
        with self._interruptible() as scope:
            try:
                if permit is None:
                    permit = await self.bucket.acquire()
                for budget in pending:
                    await budget.acquire()
            except BaseException:
                if permit is not None:
                    permit.discard()
                raise
        if scope.cancelled_caught:
            if permit is not None:
                permit.discard()
            return None
        return permit


def _refuse(msg: Accept, error: BaseException) -> None:
    """The send was not accepted: both its Replies raise ``error``."""
    msg.accepted.fail(error)
    if msg.delivered is not None:
        msg.delivered.fail(error)
