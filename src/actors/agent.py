"""AgentActor: one per agent; its channels' actors, outbox replay, and the API tools call.

An :class:`AgentActor` hosts the agent's :class:`~actors.channel.ChannelActor` children in a
:class:`~actors.KeyedSupervisor` keyed by channel id (spawned by their first message, stopped
when idle), owns the agent's shared budgets (Discord's global 50 requests/s per bot, as a
:class:`~actors.TokenBucket` of ``global_rate`` + ``global_burst`` <= 50, and an optional
per-agent budget) and replays the outbox at start. Everything else reaches it through its
:class:`AgentHandle`, the calls the MCP tools make.

A send, as :meth:`AgentHandle.send_message` runs it:

1. The egress IP's invalid-request budget is checked (:class:`EgressBudgetExceededError`,
   nothing accepted).
2. An :class:`~actors.channel.Accept` goes to the channel's actor, waiting for room in its
   bounded mailbox and for the actor to take it, up to the caller's deadline; if it was not
   taken by then, :class:`AgentBusyError` with ``retry_after``: nothing was accepted (a
   :class:`~actors.channel.Ticket` makes "taken" and "given up" exclusive).
3. The ChannelActor appends it to the outbox (durable, with its deterministic nonce) and
   answers. ``delivery="queued"`` returns here: a :class:`SendReceipt` in state ``queued``.
4. ``delivery="sync"`` waits, within the same deadline, for Discord to hold the message: a
   receipt in state ``delivered`` with the message id. If the deadline passes first the message
   stays queued and the receipt says ``queued`` -- not a failure, it will still go out. A
   permanent refusal (:class:`DiscordForbidden`, :class:`DiscordNotFound`,
   :class:`DiscordBadRequest`) is raised.

An idempotency key makes a send safe to repeat: the same key returns the first send's row
(``duplicate=True``), delivered state and message id included; a repeated key whose send failed
raises :class:`SendFailedError`.

While Discord is unreachable, sends are accepted and reported queued (sync callers after their
deadline) and go out in order on recovery; reads (:meth:`AgentHandle.read_messages`) fail at
once with :class:`DiscordUnavailable` instead of waiting.

Replay: at start, before ``run`` reports started, every channel with pending outbox rows gets
its ChannelActor, which loads those rows and delivers them before anything accepted later;
every ``sweep_interval`` seconds the same happens again for channels whose actor stopped with a
backlog (stopped while Discord was down, say).

Shutdown: :meth:`AgentActor.drain` stops intake (later sends raise
:class:`AgentStoppingError`, nothing accepted), lets the channels deliver what was accepted
until the agent's outbox is empty or its deadline passes, then stops them (:meth:`stop`): the
attempt in flight completes; rows still pending stay in the outbox for the next start.

Exceptions::

    ActorError
    ├── AgentStoppingError        the agent is shutting down: not accepted
    ├── AgentBusyError            a channel's queue stayed full for the deadline: not accepted
    ├── SendFailedError           the send under this idempotency key already failed
    ├── SendUnconfirmedError      the durable write was not confirmed in time (also a
    │                             TimeoutError): retry with the same idempotency key
    ├── RateLimitError
    │   └── EgressBudgetExceededError   sending paused to protect the egress IP
    └── DiscordError              the port's tree (permanent send failures; reads)
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import anyio
import attrs
from anyio.abc import TaskStatus

from actors._keyed import KeyedSupervisor, KeyedSupervisorStatistics
from actors._mailbox import ActorError, ActorGoneError, Mailbox, MailboxFullError, Reply
from actors._send_payload import send_payload
from actors._token_bucket import TokenBucket, TokenBucketStatistics
from actors.channel import (
    Accept,
    AgentBusyError,
    ChannelActor,
    ChannelMsg,
    ChannelStatistics,
    DeliveryReply,
    OutboxStore,
    Ticket,
    Wake,
)
from actors.discord_port import (
    AllowedMentions,
    ConnectionState,
    DiscordError,
    DiscordPort,
    DiscordUnavailable,
    FileUpload,
    JSONObject,
    MessageInfo,
)
from actors.egress import EgressBudget
from actors.store import Accepted, OutboxRow, SendState

Delivery = Literal["sync", "queued"]
T = TypeVar("T")


class SendFailedError(ActorError):
    """A send under this idempotency key was accepted earlier and has failed for good."""

    def __init__(self, row: OutboxRow) -> None:
        super().__init__(
            f"the send with idempotency key {row.idempotency_key!r} (outbox id {row.id}) "
            f"already {row.state.value}: {row.last_error or 'no error recorded'}; use a new "
            "key to send again"
        )
        self.row = row


class SendUnconfirmedError(ActorError, TimeoutError):
    """The send reached its channel but its durable write was not confirmed in time."""

    def __init__(self, agent: str, channel_id: int, waited: float) -> None:
        super().__init__(
            f"agent {agent!r}: the send to channel {channel_id} was handed over but its durable "
            f"write was not confirmed within {waited:g} s; it may or may not be queued. Retry "
            "with the same idempotency_key to find out without sending twice"
        )
        self.agent = agent
        self.channel_id = channel_id


class AgentStoppingError(ActorError):
    """The agent is shutting down and takes no more sends: nothing was accepted."""

    def __init__(self, agent: str) -> None:
        super().__init__(
            f"agent {agent!r} is shutting down and no longer accepts messages: this one was "
            "NOT accepted; send it again once the server is back"
        )
        self.agent = agent


@attrs.define(eq=False)
class _Intake:
    """Whether an agent takes sends, and how many sends are under way in ``send_message``.

    A send counts from before it is handed to its channel until its caller has the answer.
    """

    closed: bool = False
    handing_over: int = 0


class ReceiptState(enum.StrEnum):
    QUEUED = "queued"
    """Durably in the outbox; it goes out, in order, as soon as Discord takes it."""
    DELIVERED = "delivered"
    """Discord holds the message (``message_id``)."""


@attrs.frozen
class SendReceipt:
    """What a send returns: where the message is now."""

    agent: str
    channel_id: int
    outbox_id: int
    nonce: str
    state: ReceiptState
    message_id: int | None = None
    duplicate: bool = False
    """The idempotency key had been used: this is the first send's receipt."""


@attrs.frozen
class AgentOptions:
    """An agent's send path settings (config: rate budgets, queue sizes, timeouts)."""

    channel_capacity: int = 64
    """Sends waiting for a channel's intake; full: callers wait, then get AgentBusyError."""
    max_backlog: int = 1000
    """Accepted sends per channel waiting for delivery before intake stops taking more."""
    idle_timeout: float = 300.0
    max_channels: int | None = None
    global_rate: float = 45.0
    global_burst: float = 5.0
    """Discord's 50/s per bot: any one second admits at most rate + burst requests."""
    budget_rate: float | None = None
    """The agent's own messages per second across its channels; None: no budget."""
    budget_burst: float = 10.0
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    ready_wait: float = 30.0
    send_interval: float = 1.0
    """Expected seconds per paced send in one channel (Discord: ~5 per 5 s)."""
    sweep_interval: float = 60.0
    default_timeout: float = 10.0
    store_grace: float = 30.0
    """How long past its deadline a caller waits for a durable write already under way."""
    store_timeout: float | None = None


@attrs.frozen
class AgentHandle:
    """The calls tools make for one agent. Holds no state of its own."""

    agent: str
    _port: DiscordPort = attrs.field(repr=False, alias="port")
    _channels: KeyedSupervisor[int, ChannelMsg] = attrs.field(repr=False, alias="channels")
    _egress: EgressBudget | None = attrs.field(repr=False, alias="egress")
    _options: AgentOptions = attrs.field(repr=False, alias="options")
    _intake: _Intake | None = attrs.field(default=None, repr=False, alias="intake")

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        delivery: Delivery = "sync",
        idempotency_key: str | None = None,
        reply_to: int | None = None,
        embeds: Sequence[JSONObject] = (),
        allowed_mentions: AllowedMentions | None = None,
        files: Sequence[FileUpload] = (),
        timeout: float | None = None,
    ) -> SendReceipt:
        """Accept a message for ``channel_id`` and, for ``sync``, wait until Discord has it.

        See the module docstring for the states and errors.
        """
        if delivery not in ("sync", "queued"):
            raise ValueError(f"delivery must be 'sync' or 'queued', not {delivery!r}")
        if self._intake is not None and self._intake.closed:
            raise AgentStoppingError(self.agent)
        timeout = self._options.default_timeout if timeout is None else timeout
        deadline = anyio.current_time() + timeout
        if self._egress is not None:
            self._egress.check()
        payload = send_payload(
            content,
            reply_to=reply_to,
            embeds=embeds,
            allowed_mentions=allowed_mentions,
            files=files,
        )
        accepted_reply: Reply[Accepted] = Reply()
        delivered: DeliveryReply | None = Reply() if delivery == "sync" else None
        ticket = Ticket()
        msg = Accept(payload, idempotency_key, ticket, accepted_reply, delivered)
        # A sync send waits on ``delivered`` alone: the channel answers it whenever it answers
        # ``accepted`` (the same error if that failed, None if the row is not its to deliver).
        answer: Reply[Any] = accepted_reply if delivered is None else delivered
        intake = self._intake
        if intake is not None:
            intake.handing_over += 1  # until the send's fate is known (a drain waits for it)
        try:
            try:
                await self._channels.tell(channel_id, msg, timeout=max(0.0, timeout))
            except MailboxFullError:
                raise self._busy(channel_id) from None
            with anyio.CancelScope(deadline=deadline):
                try:
                    await answer.wait()
                except Exception:  # the Reply keeps it: raised below, where it belongs
                    pass
                except BaseException:  # the deadline, or the caller is gone (cancelled)
                    ticket.abandon()  # accept nothing the caller cannot see
                    raise
            if not accepted_reply.answered:
                if ticket.abandon():
                    raise self._busy(channel_id)  # still queued for the intake: it will skip it
                with anyio.move_on_after(self._options.store_grace):  # the write is under way
                    await accepted_reply.wait()
                if not accepted_reply.answered:
                    raise SendUnconfirmedError(
                        self.agent, channel_id, timeout + self._options.store_grace
                    )
        finally:
            if intake is not None:
                intake.handing_over -= 1
        accepted = await accepted_reply.wait()  # answered: returns, or raises the store's error
        row = accepted.row
        if row.state is SendState.DELIVERED:
            return self._receipt(row, accepted.duplicate, row.message_id)
        if row.state is not SendState.PENDING:
            raise SendFailedError(row)
        if delivered is None or not delivered.answered:  # the deadline passed: still queued
            return self._receipt(row, accepted.duplicate, None)
        sent = await delivered.wait()  # answered: raises the permanent DiscordError
        return self._receipt(row, accepted.duplicate, None if sent is None else sent.id)

    def _busy(self, channel_id: int) -> AgentBusyError:
        opts = self._options
        return AgentBusyError(
            self.agent, channel_id, max(1.0, opts.channel_capacity * opts.send_interval)
        )

    async def read_messages(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]:
        """Up to ``limit`` (1-100) messages, newest first; fails at once if Discord is down."""
        return await self.call(
            lambda port: port.fetch_messages(
                channel_id, limit=limit, before=before, after=after, around=around
            )
        )

    @property
    def state(self) -> ConnectionState:
        """Where the agent's gateway connection is."""
        return self._port.state

    @property
    def user_id(self) -> int | None:
        """The agent's bot user id, once logged in."""
        return self._port.user_id

    async def call(self, operation: Callable[[DiscordPort], Awaitable[T]]) -> T:
        """Run one Discord request (a read, an edit, a reaction...) for this agent, now.

        Unlike sends, these are not queued: they fail at once with
        :class:`DiscordUnavailable` while the agent is not connected, and with
        :class:`EgressBudgetExceededError` while the egress IP's invalid-request budget is
        spent. A Discord error is counted against that budget and raised.
        """
        self._require_ready()
        if self._egress is not None:
            self._egress.check()
        try:
            return await operation(self._port)
        except DiscordError as exc:
            if self._egress is not None:
                self._egress.record_error(exc)
            raise

    def _require_ready(self) -> None:
        state = self._port.state
        if state is not ConnectionState.READY:
            raise DiscordUnavailable(
                f"agent {self.agent!r} is not connected to Discord (state {state.value}): "
                "reads fail until it reconnects, while sends are still accepted and queued; "
                "retry the read later"
            )

    def _receipt(self, row: OutboxRow, duplicate: bool, message_id: int | None) -> SendReceipt:
        return SendReceipt(
            agent=self.agent,
            channel_id=row.channel_id,
            outbox_id=row.id,
            nonce=row.nonce,
            state=ReceiptState.QUEUED if message_id is None else ReceiptState.DELIVERED,
            message_id=message_id,
            duplicate=duplicate,
        )


@attrs.define(eq=False)
class AgentActor:
    """Runs one agent's ChannelActors and replays its outbox; see the module docstring."""

    port: DiscordPort = attrs.field(repr=False)
    store: OutboxStore = attrs.field(repr=False)
    egress: EgressBudget | None = attrs.field(default=None, repr=False)
    """The egress IP's budget, shared by every agent of the process."""
    options: AgentOptions = attrs.field(factory=AgentOptions)
    _channels: KeyedSupervisor[int, ChannelMsg] = attrs.field(init=False, repr=False)
    _global: TokenBucket = attrs.field(init=False, repr=False)
    _budget: TokenBucket | None = attrs.field(init=False, repr=False)
    _actors: dict[int, ChannelActor] = attrs.field(factory=dict, init=False, repr=False)
    _stop: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _stop_requested: bool = attrs.field(default=False, init=False, repr=False)
    _intake: _Intake = attrs.field(factory=_Intake, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        opts = self.options
        agent = self.port.agent
        self._global = TokenBucket(opts.global_rate, opts.global_burst, name=f"{agent}/global")
        self._budget = (
            None
            if opts.budget_rate is None
            else TokenBucket(opts.budget_rate, opts.budget_burst, name=f"{agent}/budget")
        )
        self._channels = KeyedSupervisor(
            f"{agent}/channels",
            self._channel_actor,
            capacity=opts.channel_capacity,
            idle_timeout=opts.idle_timeout,
            max_children=opts.max_channels,
        )

    @property
    def agent(self) -> str:
        return self.port.agent

    @property
    def handle(self) -> AgentHandle:
        return AgentHandle(
            self.agent,
            port=self.port,
            channels=self._channels,
            egress=self.egress,
            options=self.options,
            intake=self._intake,
        )

    def channel_actor(self, channel_id: int) -> ChannelActor | None:
        """The channel's running actor, if any (statistics, tests)."""
        return self._actors.get(channel_id)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start the channels, replay the outbox, report started; run until :meth:`stop`."""
        async with anyio.create_task_group() as tg:
            await tg.start(self._channels.run)
            await self.replay()
            sweep = anyio.CancelScope()
            tg.start_soon(self._sweep, sweep, name=f"{self.agent}/sweep")
            task_status.started()
            self._stop = anyio.Event()
            if not self._stop_requested:
                await self._stop.wait()
            sweep.cancel()
            self._channels.stop()

    @property
    def accepting(self) -> bool:
        """Whether sends are taken (False once :meth:`close_intake` or :meth:`stop` ran)."""
        return not self._intake.closed

    def close_intake(self) -> None:
        """Refuse new sends (:class:`AgentStoppingError`); what was accepted still goes out."""
        self._intake.closed = True

    async def drain(self, timeout: float, *, poll: float = 0.05) -> int:
        """Stop intake, deliver what was accepted for up to ``timeout`` s, then :meth:`stop`.

        Returns how many of the agent's outbox rows are still pending (0: fully drained);
        they stay in the outbox for the next start. Sends being handed to a channel when
        intake closed are accepted (or refused) first and count as accepted.
        """
        self.close_intake()
        left = -1
        with anyio.move_on_after(max(0.0, timeout)):
            left = await self._wait_drained(poll)
        self.stop()
        if left < 0:
            with anyio.move_on_after(max(poll, 1.0)):  # only to report the number
                left = len(await self.store.pending(self.agent, timeout=self.options.store_timeout))
        return max(left, 0)

    async def _wait_drained(self, poll: float) -> int:
        """Wait until nothing is being accepted and the agent's outbox has no pending row."""
        while True:
            stats = self._channels.statistics()
            busy = self._intake.handing_over or any(
                c.mailbox.depth or c.mailbox.waiting_senders for c in stats.per_child
            )
            if not busy:
                rows = await self.store.pending(self.agent, timeout=self.options.store_timeout)
                if not rows:
                    return 0
                live = {c.key for c in stats.per_child}
                for channel_id in dict.fromkeys(row.channel_id for row in rows):
                    if channel_id not in live:  # its actor was reaped with a backlog
                        with contextlib.suppress(ActorError):  # full, or channels stopped
                            self._channels.tell_nowait(channel_id, Wake())
            await anyio.sleep(poll)  # a shutdown-only wait; delivery has no event to await

    def stop(self) -> None:
        """Stop intake; channels finish their attempt in flight; the outbox keeps the rest."""
        self._intake.closed = True
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()
        self._channels.stop()

    async def replay(self) -> tuple[int, ...]:
        """Wake every channel with pending outbox rows; return those channel ids."""
        rows = await self.store.pending(self.agent, timeout=self.options.store_timeout)
        channels = tuple(dict.fromkeys(row.channel_id for row in rows))
        for channel_id in channels:
            await self._channels.tell(channel_id, Wake())
        return channels

    async def wake_channel(self, channel_id: int, *, timeout: float = 1.0) -> bool:
        """Have the channel's actor load its new pending outbox rows (spawning it) and send them.

        For rows written to the outbox by someone else (the scheduler). Waits up to ``timeout``
        for room in the channel's mailbox; False if there was none or the agent is stopping:
        the rows stay pending for the sweep or the next start's replay.
        """
        try:
            await self._channels.tell(channel_id, Wake(), timeout=timeout)
        except (MailboxFullError, ActorGoneError):
            return False
        return True

    async def _sweep(self, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                await anyio.sleep(self.options.sweep_interval)
                rows = await self.store.pending(self.agent, timeout=self.options.store_timeout)
                for channel_id in dict.fromkeys(row.channel_id for row in rows):
                    with contextlib.suppress(MailboxFullError):  # busy: its actor holds them
                        self._channels.tell_nowait(channel_id, Wake())

    def _channel_actor(self, channel_id: int, mailbox: Mailbox[ChannelMsg]) -> ChannelActor:
        opts = self.options
        actor = ChannelActor(
            self.agent,
            channel_id,
            mailbox,
            self.port,
            self.store,
            global_bucket=self._global,
            agent_budget=self._budget,
            egress=self.egress,
            base_backoff=opts.base_backoff,
            max_backoff=opts.max_backoff,
            ready_wait=opts.ready_wait,
            max_backlog=opts.max_backlog,
            send_interval=opts.send_interval,
            store_timeout=opts.store_timeout,
        )
        self._actors[channel_id] = actor
        return actor

    def statistics(self) -> AgentActorStatistics:
        """A snapshot of the agent's send path: its channels, their queues and pacing."""
        return AgentActorStatistics(
            agent=self.agent,
            accepting=self.accepting,
            channels=self._channels.statistics(),
            per_channel=tuple(actor.statistics() for actor in self._actors.values()),
            global_bucket=self._global.statistics(),
            budget=None if self._budget is None else self._budget.statistics(),
        )


@attrs.frozen
class AgentActorStatistics:
    """A snapshot of one agent's send path, for metrics and tests."""

    agent: str
    accepting: bool
    channels: KeyedSupervisorStatistics[int]
    """The channel actors running now, with their mailboxes."""
    per_channel: tuple[ChannelStatistics, ...]
    """Per channel written to since start, its latest actor (a reaped one's last figures;
    a channel's counters restart from zero when a new actor takes it over)."""
    global_bucket: TokenBucketStatistics
    """Discord's 50 requests/s per bot, shared by the agent's channels."""
    budget: TokenBucketStatistics | None


__all__ = [
    "AgentActor",
    "AgentActorStatistics",
    "AgentBusyError",
    "AgentHandle",
    "AgentOptions",
    "AgentStoppingError",
    "Delivery",
    "ReceiptState",
    "SendFailedError",
    "SendReceipt",
    "SendUnconfirmedError",
]
