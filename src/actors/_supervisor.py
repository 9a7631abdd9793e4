"""Supervisors: restart crashed actors, give up when crashes come too fast, stop in order.

A :class:`Supervisor` runs a fixed list of children. Each :class:`ChildSpec` holds a name, a
factory that builds a fresh actor (anything with ``async def run(self, *, task_status)``), the
optional Handle/Mailbox pair the actor reads from, a restart type and a shutdown deadline.
Children start in order, each with ``await tg.start(...)``: an error before a child reports
itself started surfaces from the supervisor's ``run`` (with a note naming the child).

Restart types::

    PERMANENT   restarted whenever it ends
    TRANSIENT   restarted only when it raised
    TEMPORARY   never restarted

A child whose Handle has been closed and whose run returns has finished its work (closing
intake is how an actor is asked to stop), so it is not restarted, whatever its type.

Strategies::

    ONE_FOR_ONE   restart only the child that ended
    ONE_FOR_ALL   cancel the others (reverse start order), then restart them all in start
                  order; a TEMPORARY child cancelled this way stays down

Restart intensity, as in OTP: every restart is stamped with ``anyio.current_time()``; if more
than ``max_restarts`` fall within any ``period`` seconds, the supervisor gives up. It cancels
its children and its ``run`` raises :class:`RestartIntensityError`, naming the child and
chained from its last failure, so a parent supervisor sees one crashed child and applies its
own strategy. Restarts spaced wider than ``period`` never add up.

Mailboxes belong to the supervisor, not to the actor: a restarted actor reads on from the same
mailbox, so Handles held elsewhere stay valid and messages queued at a crash survive it (the
one being processed is lost). In a tree, the mailboxes of a nested supervisor belong to the
parent's slot for it: a nested supervisor that gives up or is cancelled leaves them open, so a
parent restarting it from the same specs keeps its Handles valid; the parent closes them when
that child is down for good (not restarted, or stopped), and the root closes every mailbox of
the tree when its own run ends, however it ends.

Ordered shutdown, on :meth:`Supervisor.stop`: children stop one at a time in reverse start
order, so a child draining its mailbox can still reach the siblings started before it. At its
turn a child's intake closes (its Handle: later tells raise ActorGoneError) and a child with a
``stop()`` method (a nested supervisor) is asked to stop; it then has its ``shutdown`` seconds
to drain its mailbox and return, after which it is cancelled. A child with neither is simply
cancelled at its turn. Last, the supervisor closes its mailboxes and ``run`` returns.
Cancelling ``run`` from outside cancels every child at once. Cancellation always propagates;
only ``Exception`` counts as a child's failure.

Exceptions::

    ActorError
    ├── ActorGoneError          the mailbox no longer takes messages
    ├── MailboxFullError        no room within the caller's deadline
    ├── AskTimeoutError         no reply within the ask's deadline
    ├── RestartIntensityError   a supervisor gave up; raised from its run, chained from the
    │                           last failure of the child named in it
    └── TooManyChildrenError    a keyed supervisor already runs max_children children
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from actors._mailbox import ActorError, Handle, Mailbox, MailboxStatistics

M = TypeVar("M")


class Actor(Protocol):
    """What a supervisor runs: an object with a ``run`` that reports when it has started."""

    async def run(self, *, task_status: TaskStatus[None] = ...) -> None: ...


@runtime_checkable
class _Stoppable(Protocol):
    def stop(self) -> None: ...


class Restart(enum.Enum):
    """When a child that ended is started again."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(enum.Enum):
    """Which children restart when one of them ends."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"


class SupervisorState(enum.Enum):
    """Where a supervisor is in its life, for statistics."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


_ACTIVE = frozenset({SupervisorState.STARTING, SupervisorState.RUNNING, SupervisorState.STOPPING})


class RestartIntensityError(ActorError):
    """A supervisor saw more than ``max_restarts`` restarts within ``period`` seconds."""

    def __init__(
        self,
        supervisor: str,
        child: str,
        failure: BaseException | None,
        *,
        max_restarts: int,
        period: float,
    ) -> None:
        last = repr(failure) if failure is not None else "it returned, and it is permanent"
        super().__init__(
            f"supervisor {supervisor!r} gave up: child {child!r} needed more than "
            f"{max_restarts} restarts within {period:g} s; last failure: {last}"
        )
        self.supervisor = supervisor
        self.child = child
        self.failure = failure
        self.__cause__ = failure


@attrs.define
class _Intensity:
    """The sliding restart window."""

    max_restarts: int
    period: float
    _stamps: deque[float] = attrs.field(factory=deque, init=False, repr=False)

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``; False if that makes too many within the period."""
        self._stamps.append(now)
        while now - self._stamps[0] > self.period:
            self._stamps.popleft()
        return len(self._stamps) <= self.max_restarts


def _check_intensity(max_restarts: int, period: float) -> None:
    if max_restarts < 0 or period <= 0:
        raise ValueError(
            f"restart intensity needs max_restarts >= 0 and period > 0, "
            f"not {max_restarts} and {period}"
        )


@attrs.frozen
class ChildSpec(Generic[M]):
    """How to run one child: ``factory`` builds a fresh actor for every (re)start."""

    name: str
    factory: Callable[[], Actor] = attrs.field(repr=False)
    handle: Handle[M] | None = attrs.field(default=None, kw_only=True, repr=False)
    """The intake that others hold; closed at the child's turn in shutdown."""
    mailbox: Mailbox[M] | None = attrs.field(default=None, kw_only=True, repr=False)
    """What the actor reads; outlives restarts; closed by the supervisor at the end."""
    restart: Restart = attrs.field(default=Restart.PERMANENT, kw_only=True)
    shutdown: float = attrs.field(default=5.0, kw_only=True)
    """Seconds the child gets to drain and return at its turn in shutdown."""

    def __attrs_post_init__(self) -> None:
        if (self.handle is None) != (self.mailbox is None):
            raise ValueError(f"child {self.name!r} needs its Handle and Mailbox both, or neither")
        if self.shutdown < 0:
            raise ValueError(f"child {self.name!r} needs a shutdown deadline >= 0")


@attrs.frozen
class ChildStatistics:
    name: str
    running: bool
    restarts: int
    mailbox: MailboxStatistics | None


@attrs.frozen
class SupervisorStatistics:
    """A snapshot of one supervisor, for metrics and tests."""

    name: str
    state: SupervisorState
    children: int
    """Children running now."""
    restarts: int
    """Child starts after the first, since the supervisor was made (sum of ``per_child``)."""
    per_child: tuple[ChildStatistics, ...]


@attrs.define(eq=False)
class _Owner:
    """The mailboxes under one child slot (or a root), closed when that slot ends for good."""

    closables: set[Handle[Any] | Mailbox[Any]] = attrs.field(factory=set)
    children: dict[str, _Owner] = attrs.field(factory=dict)

    def child(self, name: str) -> _Owner:
        """The owner for the slot ``name``: the same one across restarts."""
        if name not in self.children:
            self.children[name] = _Owner()
        return self.children[name]

    def adopt(self, closables: set[Handle[Any] | Mailbox[Any]]) -> None:
        """Own ``closables`` from now on; close those of an earlier run that it no longer has.

        A parent restarting a nested supervisor from the same specs keeps its mailboxes; from
        fresh specs, the old mailboxes are closed (their Handles now raise ActorGoneError).
        """
        for closable in self.closables - closables:
            closable.close()
        self.closables = closables

    def close(self) -> None:
        for closable in self.closables:
            closable.close()
        for child in self.children.values():
            child.close()


# Set by a supervisor in each child's task: who owns the mailboxes of a supervisor run there.
_owner: ContextVar[_Owner | None] = ContextVar("actors_mailbox_owner", default=None)


class _StartedFlag(TaskStatus[None]):
    """Forwards ``started()`` and remembers that it was called."""

    __slots__ = ("_status", "called")

    def __init__(self, status: TaskStatus[None]) -> None:
        self._status = status
        self.called = False

    def started(self, value: None = None) -> None:
        self._status.started()
        self.called = True


@attrs.frozen(eq=False)
class _Incarnation:
    """One start of a child: its actor, the scope to cancel it, set when it has ended."""

    actor: Actor
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    done: anyio.Event = attrs.field(factory=anyio.Event)


@attrs.define(eq=False)
class _Slot:
    spec: ChildSpec[Any]
    owner: _Owner = attrs.field(factory=_Owner)
    current: _Incarnation | None = None
    running: bool = False
    finished: bool = False
    restarts: int = 0


@attrs.frozen
class _Ended:
    slot: _Slot
    incarnation: _Incarnation
    failure: Exception | None


@attrs.define(eq=False)
class Supervisor:
    """Runs ``children`` under ``strategy`` and restart intensity; see the module docstring."""

    name: str
    children: tuple[ChildSpec[Any], ...] = attrs.field(converter=tuple)
    strategy: Strategy = attrs.field(default=Strategy.ONE_FOR_ONE, kw_only=True)
    max_restarts: int = attrs.field(default=3, kw_only=True)
    period: float = attrs.field(default=5.0, kw_only=True)
    _state: SupervisorState = attrs.field(default=SupervisorState.IDLE, init=False, repr=False)
    _slots: list[_Slot] = attrs.field(factory=list, init=False, repr=False)
    _ended: deque[_Ended] = attrs.field(factory=deque, init=False, repr=False)
    _wakeup: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _stop_requested: bool = attrs.field(default=False, init=False, repr=False)
    _intensity: _Intensity = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        names = [spec.name for spec in self.children]
        if len(set(names)) != len(names):
            raise ValueError(f"supervisor {self.name!r} has children with the same name: {names}")
        _check_intensity(self.max_restarts, self.period)
        self._slots = [_Slot(spec) for spec in self.children]
        self._intensity = _Intensity(self.max_restarts, self.period)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start the children in order, supervise them until :meth:`stop`, then stop them.

        Raises :class:`RestartIntensityError` when it gives up, or a child's start-up error.
        """
        if self._state in _ACTIVE:
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._state = SupervisorState.STARTING
        self._ended.clear()
        self._wakeup = anyio.Event()
        self._intensity = _Intensity(self.max_restarts, self.period)
        parent = _owner.get()  # None: this is the root, which owns every mailbox below it
        owner = _Owner() if parent is None else parent.child(self.name)
        owner.adopt(set(self._closables()))
        for slot in self._slots:
            slot.finished = False
            slot.owner = owner.child(slot.spec.name)
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                failure = await self._start_all(tg)
                if failure is None:
                    self._state = SupervisorState.RUNNING
                    task_status.started()
                    failure = await self._supervise(tg)
                tg.cancel_scope.cancel()
        finally:
            self._state = SupervisorState.STOPPED if failure is None else SupervisorState.FAILED
            self._stop_requested = False
            if parent is None:
                owner.close()
        if failure is not None:
            raise failure

    def stop(self) -> None:
        """Ask for the ordered shutdown; ``run`` returns once it is done. Never blocks."""
        self._stop_requested = True
        if self._wakeup is not None:
            self._wakeup.set()

    def statistics(self) -> SupervisorStatistics:
        per_child = tuple(
            ChildStatistics(
                name=slot.spec.name,
                running=slot.running,
                restarts=slot.restarts,
                mailbox=None if slot.spec.handle is None else slot.spec.handle.statistics(),
            )
            for slot in self._slots
        )
        return SupervisorStatistics(
            name=self.name,
            state=self._state,
            children=sum(child.running for child in per_child),
            restarts=sum(child.restarts for child in per_child),
            per_child=per_child,
        )

    def _closables(self) -> Iterable[Handle[Any] | Mailbox[Any]]:
        for spec in self.children:
            if spec.handle is not None and spec.mailbox is not None:
                yield spec.handle
                yield spec.mailbox

    async def _start_all(self, tg: TaskGroup) -> Exception | None:
        for slot in self._slots:
            try:
                await self._start(tg, slot)
            except Exception as exc:
                exc.add_note(f"while supervisor {self.name!r} started child {slot.spec.name!r}")
                return exc
        return None

    async def _start(self, tg: TaskGroup, slot: _Slot) -> None:
        slot.current = _Incarnation(slot.spec.factory())
        await tg.start(self._run_child, slot, slot.current, name=f"{self.name}/{slot.spec.name}")

    async def _run_child(
        self, slot: _Slot, this: _Incarnation, *, task_status: TaskStatus[None]
    ) -> None:
        started = _StartedFlag(task_status)
        failure: Exception | None = None
        slot.running = True
        _owner.set(slot.owner)  # in this task's own context: for a nested supervisor
        try:
            with this.scope:
                await this.actor.run(task_status=started)
        except Exception as exc:
            if not started.called:
                raise  # a start-up error: the starter's tg.start raises it
            failure = exc
        finally:
            slot.running = False
            this.done.set()
        if started.called and not this.scope.cancel_called and self._wakeup is not None:
            self._ended.append(_Ended(slot, this, failure))
            self._wakeup.set()

    async def _supervise(self, tg: TaskGroup) -> RestartIntensityError | None:
        while True:
            while not self._ended and not self._stop_requested:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
            if self._stop_requested:
                await self._shutdown()
                return None
            ended = self._ended.popleft()
            if ended.incarnation is ended.slot.current:  # not restarted since
                error = await self._restart(tg, ended.slot, ended.failure)
                if error is not None:
                    return error

    def _wants_restart(self, spec: ChildSpec[Any], failure: Exception | None) -> bool:
        if spec.restart is Restart.TEMPORARY:
            return False
        if failure is not None:
            return True
        intake_closed = spec.handle is not None and spec.handle.closed
        return spec.restart is Restart.PERMANENT and not intake_closed

    async def _restart(
        self, tg: TaskGroup, slot: _Slot, failure: Exception | None
    ) -> RestartIntensityError | None:
        if not self._wants_restart(slot.spec, failure):
            slot.finished = True
            slot.owner.close()
            return None
        while True:
            if not self._intensity.allow(anyio.current_time()):
                return RestartIntensityError(
                    self.name,
                    slot.spec.name,
                    failure,
                    max_restarts=self.max_restarts,
                    period=self.period,
                )
            targets = [slot]
            if self.strategy is Strategy.ONE_FOR_ALL:
                for other in reversed(self._slots):
                    if other.running:
                        await self._cancel(other)
                        if other.spec.restart is Restart.TEMPORARY:
                            other.finished = True
                            other.owner.close()
                targets = [other for other in self._slots if not other.finished]
            try:
                for target in targets:
                    slot = target
                    target.restarts += 1
                    await self._start(tg, target)
            except Exception as exc:
                failure = exc  # a failed restart is one more crash of that child
            else:
                return None

    async def _cancel(self, slot: _Slot) -> None:
        if slot.current is not None:
            slot.current.scope.cancel()
            await slot.current.done.wait()

    async def _shutdown(self) -> None:
        self._state = SupervisorState.STOPPING
        for slot in reversed(self._slots):
            await self._stop_child(slot)
        for closable in self._closables():
            closable.close()

    async def _stop_child(self, slot: _Slot) -> None:
        if slot.spec.handle is not None:
            slot.spec.handle.close()
        if slot.running and slot.current is not None:
            actor: object = slot.current.actor  # mypy cannot intersect two protocols
            if isinstance(actor, _Stoppable):
                actor.stop()
            if slot.spec.handle is not None or isinstance(actor, _Stoppable):
                with anyio.move_on_after(slot.spec.shutdown):
                    await slot.current.done.wait()
            await self._cancel(slot)
        slot.owner.close()
