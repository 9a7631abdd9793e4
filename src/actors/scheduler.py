"""SchedulerActor: moves scheduled sends into the outbox when they fall due, and wakes delivery.

Scheduled sends live in the Store's ``scheduled`` table (:meth:`~actors.StoreHandle.schedule`).
One :class:`SchedulerActor` per process (the Store is shared) runs this loop::

    take_due        rows due by now move into the outbox in ONE transaction (TakeDue), in
                    (send_at, id) order, so sends due to one channel keep their order
    wake            for each (agent, channel) of the moved rows, the agent's channel actor is
                    woken (AgentActor.wake_channel): it loads the new pending rows and sends
    next_due        the earliest waiting send_at; sleep until then, at most ``max_sleep``,
                    or until :meth:`SchedulerActor.wake` says a sooner one was added

Time. ``send_at`` is wall-clock UTC epoch seconds from the Store's injected clock; the actor
takes the same ``clock`` to compute the delay, then sleeps that long on anyio's clock. Because
it re-checks at least every ``max_sleep`` seconds, a wall clock that jumps (NTP, a test's fake
clock) is followed within ``max_sleep``.

Restarts. Nothing lives in the actor: waiting rows are durable in ``scheduled``, moved rows are
durable pending outbox rows. At start it takes whatever is already due (due while the server
was down). A row moved but not yet woken when the process died is an ordinary pending outbox
row: the agent's replay at the next start delivers it. A row whose agent is not running here,
or whose channel could not be woken now, stays pending and is picked up by that agent's
replay or sweep.

Wake-early protocol: whoever schedules calls :meth:`SchedulerActor.wake` (non-blocking) after
the Store confirmed the row; a sooner ``send_at`` then takes effect at once instead of after
the current sleep.

Errors: the Store's errors (:class:`~actors.StoreError`, :class:`~actors.AskTimeoutError`)
propagate -- the supervisor restarts the actor, which loses nothing (see Restarts).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import anyio
import attrs
from anyio.abc import TaskStatus

from actors.store import OutboxRow

_log = logging.getLogger(__name__)


class DueStore(Protocol):
    """The part of :class:`~actors.StoreHandle` the scheduler uses."""

    async def take_due(
        self, *, limit: int | None = None, timeout: float | None = None
    ) -> tuple[OutboxRow, ...]: ...

    async def next_due(self, *, timeout: float | None = None) -> float | None: ...


class ChannelWaker(Protocol):
    """The part of :class:`~actors.AgentActor` the scheduler uses."""

    async def wake_channel(self, channel_id: int) -> bool: ...


def _check_positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, not {value!r}")


@attrs.frozen
class SchedulerStatistics:
    """What the scheduler has done since it was created."""

    moved: int
    """Scheduled rows moved into the outbox."""
    woken: int
    """Channel wake-ups handed to agents."""
    unrouted: int
    """Moved rows whose agent is not in this process (left pending for its replay)."""
    next_due: float | None
    """The earliest waiting send_at at the last check (wall clock), or None."""


@attrs.define(eq=False)
class SchedulerActor:
    """Delivers scheduled sends when due; see the module docstring."""

    store: DueStore = attrs.field(repr=False)
    agents: Mapping[str, ChannelWaker] = attrs.field(repr=False)
    """Agent name -> its AgentActor (the swarm's mapping: agents added later are seen)."""
    clock: Callable[[], float] = attrs.field(default=time.time, repr=False)
    """The Store's wall clock (UTC epoch seconds)."""
    max_sleep: float = attrs.field(default=60.0, validator=_check_positive)
    """Longest sleep between checks (bounds how late a wall-clock jump is noticed)."""
    batch_limit: int | None = 256
    """Rows taken per TakeDue; more due rows are taken in the next round at once."""
    store_timeout: float | None = None
    _wakeup: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _stopped: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    _moved: int = attrs.field(default=0, init=False, repr=False)
    _woken: int = attrs.field(default=0, init=False, repr=False)
    _unrouted: int = attrs.field(default=0, init=False, repr=False)
    _next_due: float | None = attrs.field(default=None, init=False, repr=False)

    def wake(self) -> None:
        """A send was scheduled (or the clock moved): check the Store again now. Never blocks."""
        self._wakeup.set()

    def stop(self) -> None:
        """End :meth:`run` after the round in progress; nothing waiting is lost."""
        self._stopped.set()
        self._wakeup.set()

    def statistics(self) -> SchedulerStatistics:
        return SchedulerStatistics(self._moved, self._woken, self._unrouted, self._next_due)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Take what is already due, report started, then loop until :meth:`stop`."""
        await self._take_all_due()
        task_status.started()
        while not self._stopped.is_set():
            self._wakeup = anyio.Event()  # a wake() or stop() from here on ends the sleep below
            await self._take_all_due()
            if self._stopped.is_set():
                break
            nxt = self._next_due = await self.store.next_due(timeout=self.store_timeout)
            delay = math.inf if nxt is None else nxt - self.clock()
            if delay > 0:
                with anyio.move_on_after(min(delay, self.max_sleep)):
                    await self._wakeup.wait()

    async def _take_all_due(self) -> None:
        while True:
            rows = await self.store.take_due(limit=self.batch_limit, timeout=self.store_timeout)
            if rows:
                self._moved += len(rows)
                await self._wake_channels(rows)
            if self.batch_limit is None or len(rows) < self.batch_limit:
                return

    async def _wake_channels(self, rows: tuple[OutboxRow, ...]) -> None:
        for agent, channel_id in dict.fromkeys((row.agent, row.channel_id) for row in rows):
            target = self.agents.get(agent)
            if target is None:
                unrouted = sum(1 for r in rows if r.agent == agent and r.channel_id == channel_id)
                self._unrouted += unrouted
                _log.warning(
                    "%d scheduled send(s) for agent %r moved to the outbox, but that agent does "
                    "not run here; they stay pending for its next start",
                    unrouted,
                    agent,
                )
                continue
            if await target.wake_channel(channel_id):
                self._woken += 1


__all__ = ["ChannelWaker", "DueStore", "SchedulerActor", "SchedulerStatistics"]
