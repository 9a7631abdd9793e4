"""Keyed children: one actor per key, spawned by its first message, stopped when idle.

A :class:`KeyedSupervisor` hosts actors that exist per key and are not known in advance: one
ChannelActor per (agent, channel). Nobody else holds their Handles (a Handle would go stale
when its child is reaped); messages go through the supervisor: ``tell(key, msg)``,
``tell_nowait(key, msg)`` or ``ask(key, make)``. Each looks the key up, spawns a child if there
is none (a fresh mailbox of ``capacity`` read by ``factory(key, mailbox)``) and puts the
message in its mailbox, all in one synchronous step: no await between lookup and enqueue.

Idle reaping: a child is idle when its mailbox is empty, nobody waits to send to it and no
message has arrived for it for ``idle_timeout`` seconds (``anyio.current_time()``). The reaper
closes an idle child's intake and takes it out of the table in one synchronous step, so a
message lands either in the old mailbox before that step (and is drained before the child
ends) or in a fresh child after it: none is lost at the edge. A fresh child for a key whose
previous child is still finishing waits for it before its actor starts, so there is never more
than one actor per key and each key's messages are handled in the order they were accepted.

Crashes: a child that raises is restarted on the same mailbox (queued messages survive; the one
being processed is lost), counted against one restart intensity shared by all keys, as OTP's
simple_one_for_one: more than ``max_restarts`` within ``period`` seconds and the supervisor
gives up, cancels every child and its ``run`` raises :class:`RestartIntensityError`, chained
from the last failure. A child that returns while its intake is open is done: it is removed,
anything still queued for it is dropped, and the key's next message spawns a fresh one.

Shutdown, on :meth:`KeyedSupervisor.stop`: intake closes for every child at once, right in
``stop()`` (keyed children are peers, with no order among them); they drain concurrently
within ``shutdown`` seconds, whatever still runs is then cancelled, and every mailbox is
closed. A keyed supervisor's mailboxes are its own and close whenever its ``run`` ends, however
it ends; while it is not running, sends raise ActorGoneError.

Exceptions (the package's whole tree is drawn in :mod:`actors._supervisor`)::

    ActorError
    ├── ActorGoneError          not running, or stopping: the message was not taken
    ├── MailboxFullError        the key's mailbox stayed full for the caller's deadline
    ├── AskTimeoutError         no reply within the ask's deadline
    ├── RestartIntensityError   children crashed too often; raised from run
    └── TooManyChildrenError    a new key while max_children children are taking messages
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from actors._mailbox import (
    ActorError,
    ActorGoneError,
    AskTimeoutError,
    Handle,
    Mailbox,
    MailboxFullError,
    MailboxStatistics,
    Reply,
    _wait_reply,
    open_mailbox,
)
from actors._supervisor import (
    _ACTIVE,
    Actor,
    RestartIntensityError,
    SupervisorState,
    _check_intensity,
    _Intensity,
    _Owner,
    _owner,
)

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")
R = TypeVar("R")


class TooManyChildrenError(ActorError):
    """A new key would take a keyed supervisor past its ``max_children``."""

    def __init__(self, name: str, max_children: int) -> None:
        super().__init__(
            f"{name!r} already runs its limit of {max_children} children; "
            "retry once idle ones have been stopped"
        )
        self.name = name
        self.max_children = max_children


@attrs.frozen
class KeyedChildStatistics(Generic[K]):
    key: K
    restarts: int
    mailbox: MailboxStatistics


@attrs.frozen
class KeyedSupervisorStatistics(Generic[K]):
    """A snapshot of one keyed supervisor, for metrics and tests."""

    name: str
    state: SupervisorState
    children: int
    """Children taking messages now (one per key)."""
    retiring: int
    """Children whose intake closed and that have not ended yet."""
    spawned: int
    reaped: int
    """Children stopped for being idle."""
    restarts: int
    per_child: tuple[KeyedChildStatistics[K], ...]
    """The children taking messages now."""


@attrs.define(eq=False)
class _Child(Generic[K, M]):
    key: K
    handle: Handle[M]
    mailbox: Mailbox[M]
    last_active: float
    previous: _Child[K, M] | None
    done: anyio.Event = attrs.field(factory=anyio.Event)
    owner: _Owner = attrs.field(factory=_Owner)
    """Mailboxes of supervisors the child runs, closed with the child."""
    restarts: int = 0


@attrs.define(eq=False)
class KeyedSupervisor(Generic[K, M]):
    """Runs ``factory(key, mailbox)`` once per key on demand; see the module docstring."""

    name: str
    factory: Callable[[K, Mailbox[M]], Actor] = attrs.field(repr=False)
    capacity: int = attrs.field(default=64, kw_only=True)
    idle_timeout: float = attrs.field(default=300.0, kw_only=True)
    max_children: int | None = attrs.field(default=None, kw_only=True)
    max_restarts: int = attrs.field(default=3, kw_only=True)
    period: float = attrs.field(default=5.0, kw_only=True)
    shutdown: float = attrs.field(default=5.0, kw_only=True)
    _children: dict[K, _Child[K, M]] = attrs.field(factory=dict, init=False, repr=False)
    _retiring: dict[K, _Child[K, M]] = attrs.field(factory=dict, init=False, repr=False)
    _alive: set[_Child[K, M]] = attrs.field(factory=set, init=False, repr=False)
    _state: SupervisorState = attrs.field(default=SupervisorState.IDLE, init=False, repr=False)
    _tg: TaskGroup | None = attrs.field(default=None, init=False, repr=False)
    _intensity: _Intensity = attrs.field(init=False, repr=False)
    _failure: RestartIntensityError | None = attrs.field(default=None, init=False, repr=False)
    _stop_requested: bool = attrs.field(default=False, init=False, repr=False)
    _wakeup: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _reaper_scope: anyio.CancelScope | None = attrs.field(default=None, init=False, repr=False)
    _reaper_wakeup: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _spawned: int = attrs.field(default=0, init=False, repr=False)
    _reaped: int = attrs.field(default=0, init=False, repr=False)
    _restarts: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_intensity(self.max_restarts, self.period)
        if self.idle_timeout <= 0 or self.shutdown < 0:
            raise ValueError(f"{self.name!r} needs idle_timeout > 0 and shutdown >= 0")
        if self.max_children is not None and self.max_children < 1:
            raise ValueError(f"{self.name!r} needs max_children >= 1 (or None for no limit)")
        self._intensity = _Intensity(self.max_restarts, self.period)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Take messages until :meth:`stop`, then drain and stop every child.

        Raises :class:`RestartIntensityError` when children crash too often.
        """
        if self._state in _ACTIVE:
            raise RuntimeError(f"keyed supervisor {self.name!r} is already running")
        self._intensity = _Intensity(self.max_restarts, self.period)
        self._failure = None
        self._wakeup = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._state = SupervisorState.RUNNING
                self._reaper_scope = anyio.CancelScope()
                tg.start_soon(self._reap_idle, self._reaper_scope, name=f"{self.name}/reaper")
                task_status.started()
                if not self._stop_requested:
                    await self._wakeup.wait()
                await self._shutdown()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._stop_requested = False
            self._reaper_wakeup = None
            for child in list(self._alive):
                self._discard(child)
            self._children.clear()
            self._retiring.clear()
            failed = self._failure is not None
            self._state = SupervisorState.FAILED if failed else SupervisorState.STOPPED
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        """Close intake now and ask for the shutdown; ``run`` returns once it is done.

        Never blocks. From here on, sends raise ActorGoneError.
        """
        self._stop_requested = True
        if self._state is SupervisorState.RUNNING:
            self._state = SupervisorState.STOPPING
            for child in list(self._children.values()):
                self._retire(child)
        if self._wakeup is not None:
            self._wakeup.set()

    def tell_nowait(self, key: K, msg: M) -> None:
        """Queue ``msg`` for ``key``'s child (spawning it) or raise MailboxFullError at once."""
        child = self._child_for(key)
        child.handle.tell_nowait(msg)
        child.last_active = anyio.current_time()

    async def tell(self, key: K, msg: M, *, timeout: float = math.inf) -> None:
        """Queue ``msg`` for ``key``'s child (spawning it), waiting up to ``timeout`` for room.

        Raises MailboxFullError, ActorGoneError, or TooManyChildrenError for a new key.
        """
        child = self._child_for(key)
        child.last_active = anyio.current_time()
        if child.handle._try_tell(msg):  # room: queued, and no time has passed
            return
        await child.handle.tell(msg, timeout=timeout)
        child.last_active = anyio.current_time()

    async def ask(self, key: K, make: Callable[[Reply[R]], M], *, timeout: float) -> R:
        """Send ``make(reply)`` to ``key``'s child and wait for the answer within ``timeout``."""
        reply: Reply[R] = Reply()
        deadline = anyio.current_time() + timeout
        try:
            await self.tell(key, make(reply), timeout=timeout)
        except MailboxFullError:
            raise AskTimeoutError(f"{self.name}[{key!r}]", timeout) from None
        return await _wait_reply(reply, deadline, f"{self.name}[{key!r}]", timeout)

    def statistics(self) -> KeyedSupervisorStatistics[K]:
        return KeyedSupervisorStatistics(
            name=self.name,
            state=self._state,
            children=len(self._children),
            retiring=len(self._alive) - len(self._children),
            spawned=self._spawned,
            reaped=self._reaped,
            restarts=self._restarts,
            per_child=tuple(
                KeyedChildStatistics(key=key, restarts=c.restarts, mailbox=c.handle.statistics())
                for key, c in self._children.items()
            ),
        )

    def _child_for(self, key: K) -> _Child[K, M]:
        """The key's child, spawned if there is none. Never awaits."""
        if self._state is not SupervisorState.RUNNING or self._tg is None:
            raise ActorGoneError(self.name)
        child = self._children.get(key)
        if child is not None:
            return child
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise TooManyChildrenError(self.name, self.max_children)
        handle, mailbox = open_mailbox[M](f"{self.name}[{key!r}]", self.capacity)
        child = _Child(key, handle, mailbox, anyio.current_time(), self._retiring.get(key))
        self._children[key] = child
        self._alive.add(child)
        self._spawned += 1
        self._tg.start_soon(self._run_child, child, name=f"{self.name}[{key!r}]")
        if self._reaper_wakeup is not None:
            self._reaper_wakeup.set()
        return child

    async def _run_child(self, child: _Child[K, M]) -> None:
        _owner.set(child.owner)  # in this task's own context: for a nested supervisor
        try:
            if child.previous is not None:
                await child.previous.done.wait()  # one actor per key, in order
                child.previous = None
            while True:
                try:
                    await self.factory(child.key, child.mailbox).run()
                except Exception as exc:
                    failure = exc
                else:
                    return
                if not self._intensity.allow(anyio.current_time()):
                    self._give_up(child, failure)
                    return
                child.restarts += 1
                self._restarts += 1
        finally:
            self._discard(child)

    def _give_up(self, child: _Child[K, M], failure: Exception) -> None:
        if self._failure is None:
            self._failure = RestartIntensityError(
                self.name,
                child.handle.name,
                failure,
                max_restarts=self.max_restarts,
                period=self.period,
            )
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _discard(self, child: _Child[K, M]) -> None:
        child.handle.close()
        child.mailbox.close()
        child.owner.close()
        if self._children.get(child.key) is child:
            del self._children[child.key]
        if self._retiring.get(child.key) is child:
            del self._retiring[child.key]
        self._alive.discard(child)
        child.done.set()

    def _retire(self, child: _Child[K, M]) -> None:
        """Close intake and forget the child, in one step: the next message spawns anew."""
        child.handle.close()
        del self._children[child.key]
        self._retiring[child.key] = child

    async def _reap_idle(self, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                now = anyio.current_time()
                wake_at = math.inf
                for child in list(self._children.values()):
                    stats = child.handle.statistics()
                    if stats.depth or stats.waiting_senders:
                        child.last_active = now  # a backlog is activity
                    idle_at = child.last_active + self.idle_timeout
                    if idle_at <= now:
                        self._retire(child)
                        self._reaped += 1
                    else:
                        wake_at = min(wake_at, idle_at)
                with anyio.CancelScope(deadline=wake_at):
                    if math.isinf(wake_at):  # a new child is never idle before the others
                        self._reaper_wakeup = anyio.Event()
                        await self._reaper_wakeup.wait()
                    else:
                        await anyio.sleep_forever()
                self._reaper_wakeup = None

    async def _shutdown(self) -> None:
        self.stop()  # no-op if stop() was what woke us
        if self._reaper_scope is not None:
            self._reaper_scope.cancel()
        with anyio.move_on_after(self.shutdown):
            for child in list(self._alive):
                await child.done.wait()
