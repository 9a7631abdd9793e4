"""Bounded mailboxes, the Handles that write to them and one-shot replies.

An actor reads its messages from a :class:`Mailbox`; everyone else holds a :class:`Handle`
to the same mailbox and never touches the actor itself. Both sides sit on one bounded anyio
memory object stream, so a full mailbox is backpressure: ``tell`` waits, ``tell_nowait``
raises :class:`MailboxFullError`, and the depth shows up in :meth:`Handle.statistics`.

Request/reply is a message that carries a :class:`Reply`: ``ask`` builds the message around a
fresh Reply, sends it and waits for the actor to ``send`` (or ``fail``) it, all within one
deadline. A Reply is a one-shot slot (with an :class:`anyio.Event` only if its asker has to
wait), not a stream, so an actor that dies holding one leaves nothing unclosed behind; the
asker's deadline still ends its wait.

Closing the Handle (``close``) stops intake: senders get :class:`ActorGoneError`, and the
actor's ``async for msg in mailbox`` drains what was already queued and then ends. Closing
the Mailbox (the reading side, done by whoever owns the actor's lifetime) makes every pending
and later send fail with :class:`ActorGoneError` at once.

Exceptions::

    ActorError
    ├── ActorGoneError        the mailbox no longer takes messages
    ├── MailboxFullError      no room within the caller's deadline (carries retry_after)
    └── AskTimeoutError       no reply within the ask's deadline (also a TimeoutError)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar, final

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

M = TypeVar("M")
R = TypeVar("R")


class ActorError(Exception):
    """Base of every error the actor runtime raises."""


class ActorGoneError(ActorError):
    """The actor stopped or its intake was closed: the message was not delivered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"actor {name!r} is not running; the message was not delivered")
        self.name = name


class MailboxFullError(ActorError):
    """The mailbox stayed full for the caller's whole deadline."""

    def __init__(self, name: str, *, capacity: int, retry_after: float) -> None:
        super().__init__(
            f"actor {name!r} is busy: its mailbox holds {capacity} messages; "
            f"retry after {retry_after:.2f} s"
        )
        self.name = name
        self.capacity = capacity
        self.retry_after = retry_after


class AskTimeoutError(ActorError, TimeoutError):
    """No reply came within the ask's deadline."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"actor {name!r} did not reply within {timeout:g} s")
        self.name = name
        self.timeout = timeout


@attrs.frozen
class MailboxStatistics:
    """A snapshot of one mailbox, for metrics and tests."""

    name: str
    capacity: int
    depth: int
    """Messages queued and not yet taken by the actor."""
    waiting_senders: int
    """Callers blocked in ``tell`` because the mailbox is full."""
    accepted: int
    """Messages put into the mailbox since it opened."""
    processed: int
    """Messages the actor has taken out of the mailbox."""
    rejected: int
    """Messages refused because the mailbox was full (``tell_nowait`` or a deadline)."""
    closed: bool


@attrs.define(eq=False)
class _Counters:
    accepted: int = 0
    processed: int = 0
    rejected: int = 0


@final
class Reply(Generic[R]):
    """A one-shot answer slot that travels inside a request message.

    The actor calls :meth:`send` with the answer or :meth:`fail` with an exception that the
    asker should see raised; whichever comes first wins and later calls are ignored.

    The :class:`anyio.Event` behind :meth:`wait` is made only when a wait has to block: a
    Reply answered before anyone waits costs no event at all.
    """

    __slots__ = ("_answered", "_error", "_event", "_value")

    def __init__(self) -> None:
        self._answered = False
        self._event: anyio.Event | None = None
        self._value: R | None = None
        self._error: BaseException | None = None

    def send(self, value: R) -> None:
        """Deliver the answer. Never blocks."""
        if not self._answered:
            self._value = value
            self._answered = True
            if self._event is not None:
                self._event.set()

    def fail(self, error: BaseException) -> None:
        """Make the asker's ``ask`` raise ``error``. Never blocks."""
        if not self._answered:
            self._error = error
            self._answered = True
            if self._event is not None:
                self._event.set()

    @property
    def answered(self) -> bool:
        return self._answered

    async def wait(self) -> R:
        """Wait for the answer (no deadline of its own: the caller sets one).

        Once answered, returns (or raises) at once, without yielding to other tasks.
        """
        if not self._answered:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set before _answered


@final
class Handle(Generic[M]):
    """The only way other code reaches an actor: put messages into its mailbox."""

    __slots__ = ("_capacity", "_counters", "_name", "_send")

    def __init__(
        self, name: str, send: MemoryObjectSendStream[M], capacity: int, counters: _Counters
    ) -> None:
        self._name = name
        self._send = send
        self._capacity = capacity
        self._counters = counters

    @property
    def name(self) -> str:
        return self._name

    def tell_nowait(self, msg: M) -> None:
        """Queue ``msg`` now or raise :class:`MailboxFullError` (retry_after 0) at once."""
        try:
            self._send.send_nowait(msg)
        except anyio.WouldBlock:
            self._counters.rejected += 1
            raise MailboxFullError(self._name, capacity=self._capacity, retry_after=0.0) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ActorGoneError(self._name) from None
        self._counters.accepted += 1

    async def tell(self, msg: M, *, timeout: float = math.inf) -> None:
        """Queue ``msg``, waiting while the mailbox is full (backpressure).

        Raises :class:`MailboxFullError` if there is still no room after ``timeout`` seconds,
        and :class:`ActorGoneError` if the actor stops taking messages.

        The message is queued before the first await: when there is room, ``tell`` returns
        without yielding, so a caller cancelled around it never leaves the outcome in doubt
        (and a producer runs at most ``capacity`` messages ahead of its actor before waiting).
        """
        if self._try_tell(msg):
            return
        if timeout == math.inf:  # no deadline: skip the cost of a cancel scope
            await self._send_waiting(msg)
            return
        with anyio.move_on_after(timeout):
            await self._send_waiting(msg)
            return
        self._counters.rejected += 1  # only reached when the deadline passed
        raise MailboxFullError(self._name, capacity=self._capacity, retry_after=max(timeout, 0.05))

    def _try_tell(self, msg: M) -> bool:
        """Queue ``msg`` if there is room (True); False if the mailbox is full. Never waits."""
        try:
            self._send.send_nowait(msg)
        except anyio.WouldBlock:
            return False
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ActorGoneError(self._name) from None
        self._counters.accepted += 1
        return True

    async def _send_waiting(self, msg: M) -> None:
        try:
            await self._send.send(msg)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ActorGoneError(self._name) from None
        self._counters.accepted += 1

    async def ask(self, make: Callable[[Reply[R]], M], *, timeout: float) -> R:
        """Send ``make(reply)`` and wait for the actor's answer, all within ``timeout`` seconds.

        Raises whatever the actor passed to ``Reply.fail``, :class:`AskTimeoutError` when the
        deadline passes, :class:`ActorGoneError` if the actor is not running.
        """
        reply: Reply[R] = Reply()
        deadline = anyio.current_time() + timeout
        try:
            await self.tell(make(reply), timeout=timeout)
        except MailboxFullError:
            raise AskTimeoutError(self._name, timeout) from None
        return await _wait_reply(reply, deadline, self._name, timeout)

    def close(self) -> None:
        """Stop intake: later sends fail; the actor drains what is queued, then its loop ends."""
        self._send.close()

    def __enter__(self) -> Handle[M]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._send._closed  # anyio exposes no public flag

    def statistics(self) -> MailboxStatistics:
        stats = self._send.statistics()
        return MailboxStatistics(
            name=self._name,
            capacity=self._capacity,
            depth=stats.current_buffer_used,
            waiting_senders=stats.tasks_waiting_send,
            accepted=self._counters.accepted,
            processed=self._counters.processed,
            rejected=self._counters.rejected,
            closed=self.closed or stats.open_receive_streams == 0,
        )


@final
class Mailbox(Generic[M]):
    """The actor's reading side: ``async for msg in mailbox`` until intake closes."""

    __slots__ = ("_counters", "_name", "_receive")

    def __init__(
        self, name: str, receive: MemoryObjectReceiveStream[M], counters: _Counters
    ) -> None:
        self._name = name
        self._receive = receive
        self._counters = counters

    @property
    def name(self) -> str:
        return self._name

    def __aiter__(self) -> Mailbox[M]:
        return self

    async def __anext__(self) -> M:
        # Checkpoint before taking a message, never after: a cancellation then leaves the
        # message queued for the next reader (a restarted actor) instead of losing it. An
        # empty mailbox goes straight to the stream's receive, which checkpoints first itself.
        try:
            stats = self._receive.statistics()
            if stats.current_buffer_used or stats.tasks_waiting_send:
                await anyio.lowlevel.checkpoint()
                try:
                    msg = self._receive.receive_nowait()
                except anyio.WouldBlock:
                    msg = await self._receive.receive()
            else:
                msg = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        self._counters.processed += 1
        return msg

    async def receive(self) -> M:
        """Take one message; raises :class:`anyio.EndOfStream` once intake closed and drained."""
        msg = await self._receive.receive()
        self._counters.processed += 1
        return msg

    def receive_nowait(self) -> M:
        """Take one message now; raises :class:`anyio.WouldBlock` if there is none."""
        msg = self._receive.receive_nowait()
        self._counters.processed += 1
        return msg

    def close(self) -> None:
        """Refuse everything: queued messages are dropped and senders get ActorGoneError.

        The mailbox belongs to whoever opened it (a supervisor, usually), not to the actor
        reading it, so that a restarted actor keeps reading the same mailbox.
        """
        self._receive.close()

    def __enter__(self) -> Mailbox[M]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def depth(self) -> int:
        return self._receive.statistics().current_buffer_used


async def _wait_reply(reply: Reply[R], deadline: float, name: str, timeout: float) -> R:
    """``reply``'s answer, or :class:`AskTimeoutError` once ``deadline`` has passed."""
    if reply.answered or deadline == math.inf:  # no timer needed: skip the cancel scope
        return await reply.wait()
    with anyio.CancelScope(deadline=deadline):
        return await reply.wait()
    raise AskTimeoutError(name, timeout)


class open_mailbox(tuple[Handle[M], Mailbox[M]]):  # a verb, like anyio's factories
    """Create a bounded mailbox holding at most ``capacity`` queued messages.

    Use as ``handle, mailbox = open_mailbox[Msg]("name", capacity)``: subscripting names the
    message type, as with :func:`anyio.create_memory_object_stream`.
    """

    def __new__(cls, name: str, capacity: int) -> tuple[Handle[M], Mailbox[M]]:  # type: ignore[misc]
        if capacity < 1:
            raise ValueError(f"a mailbox needs a capacity of at least 1, not {capacity}")
        send, receive = anyio.create_memory_object_stream[M](capacity)
        counters = _Counters()
        return Handle(name, send, capacity, counters), Mailbox(name, receive, counters)
