"""Mailboxes and Handles: backpressure, typed errors, ask with a deadline, statistics."""

from __future__ import annotations

import math

import anyio
import attrs
import pytest

from actors import (
    ActorGoneError,
    AskTimeoutError,
    Handle,
    Mailbox,
    MailboxFullError,
    Reply,
    open_mailbox,
)

pytestmark = pytest.mark.anyio


@attrs.frozen
class Add:
    n: int


@attrs.frozen
class Total:
    reply: Reply[int] = attrs.field(repr=False)


@attrs.frozen
class Explode:
    reply: Reply[int] = attrs.field(repr=False)


CounterMsg = Add | Total | Explode


async def counter(mailbox: Mailbox[CounterMsg], *, task_status: anyio.abc.TaskStatus[None]) -> None:
    total = 0
    task_status.started()
    async for msg in mailbox:
        match msg:
            case Add(n=n):
                total += n
            case Total(reply=reply):
                reply.send(total)
            case Explode(reply=reply):
                reply.fail(ValueError("no such thing"))


async def test_tell_then_ask_sees_every_message_in_order() -> None:
    """Messages told before an ask are all processed before the ask is answered."""
    handle, mailbox = open_mailbox[CounterMsg]("counter", 8)
    with mailbox:
        async with anyio.create_task_group() as tg:
            await tg.start(counter, mailbox)
            for i in range(100):
                await handle.tell(Add(i))
            assert await handle.ask(Total, timeout=5) == sum(range(100))
            handle.close()
    stats = handle.statistics()
    assert stats.accepted == 101
    assert stats.processed == 101
    assert stats.depth == 0


async def test_tell_nowait_raises_typed_error_when_full() -> None:
    """A full mailbox refuses tell_nowait with MailboxFullError and counts the refusal."""
    handle, mailbox = open_mailbox[CounterMsg]("full", 2)
    handle.tell_nowait(Add(1))
    handle.tell_nowait(Add(2))
    with pytest.raises(MailboxFullError) as info:
        handle.tell_nowait(Add(3))
    assert info.value.capacity == 2
    assert "busy" in str(info.value)
    stats = handle.statistics()
    assert (stats.depth, stats.accepted, stats.rejected) == (2, 2, 1)
    handle.close()
    mailbox.close()


async def test_tell_waits_for_room_then_succeeds() -> None:
    """tell blocks while the mailbox is full and goes through once the actor takes one."""
    handle, mailbox = open_mailbox[CounterMsg]("slow", 1)
    handle.tell_nowait(Add(1))
    done = anyio.Event()

    async def sender() -> None:
        await handle.tell(Add(2))
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        assert handle.statistics().waiting_senders == 1
        assert mailbox.receive_nowait() == Add(1)
        await done.wait()
    assert mailbox.receive_nowait() == Add(2)
    handle.close()
    mailbox.close()


async def test_tell_gives_up_after_its_deadline() -> None:
    """A full mailbox that stays full makes tell raise MailboxFullError at the deadline."""
    handle, mailbox = open_mailbox[CounterMsg]("stuck", 1)
    handle.tell_nowait(Add(1))
    start = anyio.current_time()
    with pytest.raises(MailboxFullError) as info:
        await handle.tell(Add(2), timeout=0.2)
    assert anyio.current_time() - start == pytest.approx(0.2, abs=0.15)
    assert info.value.retry_after > 0
    assert handle.statistics().rejected == 1
    handle.close()
    mailbox.close()


async def test_ask_times_out_when_nobody_answers() -> None:
    """ask raises AskTimeoutError (a TimeoutError) when the actor never replies."""
    handle, mailbox = open_mailbox[CounterMsg]("mute", 4)
    with pytest.raises(AskTimeoutError) as info:
        await handle.ask(Total, timeout=0.1)
    assert isinstance(info.value, TimeoutError)
    handle.close()
    mailbox.close()


async def test_ask_reraises_the_actors_failure() -> None:
    """An actor that fails a Reply makes the asker's ask raise that exception."""
    handle, mailbox = open_mailbox[CounterMsg]("failing", 4)
    with mailbox:
        async with anyio.create_task_group() as tg:
            await tg.start(counter, mailbox)
            with pytest.raises(ValueError, match="no such thing"):
                await handle.ask(Explode, timeout=5)
            handle.close()


async def test_closed_intake_drains_then_ends_the_actor() -> None:
    """Closing the Handle lets queued messages through, then ends the actor's loop."""
    handle, mailbox = open_mailbox[CounterMsg]("drain", 8)
    seen: list[int] = []

    async def consumer() -> None:
        async for msg in mailbox:
            assert isinstance(msg, Add)
            seen.append(msg.n)

    for i in range(5):
        handle.tell_nowait(Add(i))
    handle.close()
    with pytest.raises(ActorGoneError):
        handle.tell_nowait(Add(99))
    with pytest.raises(ActorGoneError):
        await handle.tell(Add(99))
    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
    assert seen == [0, 1, 2, 3, 4]
    assert handle.statistics().closed
    mailbox.close()


async def test_closed_mailbox_fails_waiting_senders() -> None:
    """When the actor side closes, a sender blocked on a full mailbox gets ActorGoneError."""
    handle, mailbox = open_mailbox[CounterMsg]("gone", 1)
    handle.tell_nowait(Add(1))
    errors: list[BaseException] = []

    async def sender() -> None:
        try:
            await handle.tell(Add(2))
        except ActorGoneError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        mailbox.close()
    assert len(errors) == 1
    with pytest.raises(ActorGoneError):
        await handle.ask(Total, timeout=1)
    handle.close()


async def test_reply_answers_once() -> None:
    """The first send or fail on a Reply wins; later ones are ignored."""
    reply: Reply[int] = Reply()
    assert not reply.answered
    reply.send(1)
    reply.send(2)
    reply.fail(RuntimeError("late"))
    assert reply.answered
    assert await reply.wait() == 1


def test_capacity_must_be_positive() -> None:
    """A mailbox of capacity 0 is refused with a message that says why."""
    with pytest.raises(ValueError, match="at least 1"):
        open_mailbox[int]("zero", 0)


def test_handle_names_itself() -> None:
    """Statistics and errors carry the actor's name."""
    handle: Handle[int]
    handle, mailbox = open_mailbox[int]("named", 1)
    assert handle.name == "named" == mailbox.name
    assert handle.statistics().name == "named"
    assert handle.statistics().capacity == 1
    assert not math.isinf(handle.statistics().capacity)
    handle.close()
    mailbox.close()


async def test_cancelled_reader_leaves_the_message_queued() -> None:
    """A reader cancelled as it asks for the next message takes nothing: no message is lost."""
    handle, mailbox = open_mailbox[CounterMsg]("resilient", 4)
    with mailbox:
        handle.tell_nowait(Add(7))
        with anyio.CancelScope() as scope:
            scope.cancel()
            await mailbox.__anext__()
        assert scope.cancelled_caught
        assert mailbox.depth == 1
        assert mailbox.receive_nowait() == Add(7)
        handle.close()


async def test_tell_with_room_queues_before_any_await() -> None:
    """tell into a mailbox with room queues the message even under a cancelled scope."""
    handle, mailbox = open_mailbox[CounterMsg]("eager", 4)
    with mailbox:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await handle.tell(Add(1))
        assert not scope.cancelled_caught
        assert mailbox.receive_nowait() == Add(1)
        handle.close()


async def test_answered_reply_returns_without_yielding() -> None:
    """wait() on an answered Reply returns (or raises) at once, even under a cancelled scope."""
    reply: Reply[int] = Reply()
    failed: Reply[int] = Reply()
    reply.send(3)
    failed.fail(ValueError("refused"))
    with anyio.CancelScope() as scope:
        scope.cancel()
        assert await reply.wait() == 3
        with pytest.raises(ValueError, match="refused"):
            await failed.wait()
    assert not scope.cancelled_caught


async def test_reply_answered_while_waiting_wakes_the_waiter() -> None:
    """A Reply answered after its asker began waiting wakes it with the answer."""
    reply: Reply[int] = Reply()
    got: list[int] = []

    async def waiter() -> None:
        got.append(await reply.wait())

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert got == []
        reply.send(5)
    assert got == [5]


async def test_reader_of_an_empty_mailbox_cancelled_takes_nothing() -> None:
    """A reader cancelled while waiting on an empty mailbox leaves later messages queued."""
    handle, mailbox = open_mailbox[CounterMsg]("patient", 4)
    with mailbox:
        with anyio.move_on_after(0.01):
            await mailbox.__anext__()
        handle.tell_nowait(Add(2))
        assert mailbox.depth == 1
        assert await mailbox.__anext__() == Add(2)
        handle.close()
        with pytest.raises(StopAsyncIteration):
            await mailbox.__anext__()
