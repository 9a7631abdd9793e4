"""Supervisor: restart strategies and types, restart intensity, ordered shutdown, statistics."""

from __future__ import annotations

from typing import Any

import anyio
import attrs
import pytest
import trio
from anyio.abc import TaskStatus

from actors import (
    ActorGoneError,
    ChildSpec,
    Handle,
    Mailbox,
    Reply,
    Restart,
    RestartIntensityError,
    Strategy,
    Supervisor,
    SupervisorState,
    open_mailbox,
)

anyio_test = pytest.mark.anyio


@attrs.frozen
class Do:
    value: int


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Block:
    until: anyio.Event = attrs.field(repr=False)


@attrs.frozen
class Seen:
    reply: Reply[list[int]] = attrs.field(repr=False)


WorkerMsg = Do | Crash | Block | Seen


@attrs.define(eq=False)
class Worker:
    """Records what it does in ``log``; ``done`` outlives its restarts, like its mailbox."""

    name: str
    mailbox: Mailbox[WorkerMsg]
    log: list[str]
    done: list[int]
    delay: float = 0.0
    forward_to: Handle[WorkerMsg] | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.log.append(f"start {self.name}")
        try:
            task_status.started()
            async for msg in self.mailbox:
                match msg:
                    case Do(value=value):
                        if self.delay:
                            await anyio.sleep(self.delay)
                        self.done.append(value)
                        if self.forward_to is not None:
                            await self.forward_to.tell(msg)
                    case Crash():
                        self.log.append(f"crash {self.name}")
                        raise ValueError(f"{self.name} was told to crash")
                    case Block(until=until):
                        await until.wait()
                    case Seen(reply=reply):
                        reply.send(list(self.done))
        except anyio.get_cancelled_exc_class():
            self.log.append(f"cancel {self.name}")
            raise
        self.log.append(f"end {self.name}")


@attrs.define(eq=False)
class Team:
    """Workers with mailboxes, and the specs to supervise them."""

    log: list[str] = attrs.field(factory=list)
    specs: list[ChildSpec[WorkerMsg]] = attrs.field(factory=list)
    done: dict[str, list[int]] = attrs.field(factory=dict)
    built: dict[str, int] = attrs.field(factory=dict)

    def add(self, name: str, *, delay: float = 0.0, **spec: Any) -> Handle[WorkerMsg]:
        handle, mailbox = open_mailbox[WorkerMsg](name, 16)
        forward_to = spec.pop("forward_to", None)
        self.done[name] = []
        self.built[name] = 0

        def factory() -> Worker:
            self.built[name] += 1
            return Worker(name, mailbox, self.log, self.done[name], delay, forward_to)

        self.specs.append(ChildSpec(name, factory, handle=handle, mailbox=mailbox, **spec))
        return handle


@attrs.define(eq=False)
class Scripted:
    """Each incarnation takes the next step of a shared script: crash, return or wait."""

    name: str
    script: list[str]
    log: list[str]

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        step = self.script.pop(0) if self.script else "wait"
        self.log.append(f"{self.name}:{step}")
        try:
            task_status.started()
            if step == "crash":
                raise ValueError(f"{self.name} crashed")
            if step == "return":
                return
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.log.append(f"cancel {self.name}")
            raise


def scripted(name: str, script: list[str], log: list[str], **spec: Any) -> ChildSpec[Any]:
    return ChildSpec(name, lambda: Scripted(name, script, log), **spec)


@anyio_test
async def test_one_for_one_restarts_only_the_crashed_child() -> None:
    """A crash restarts that child alone; its sibling keeps running the same instance."""
    team = Team()
    a, b = team.add("a"), team.add("b")
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            b.tell_nowait(Do(10))
            a.tell_nowait(Do(1))
            a.tell_nowait(Crash())
            a.tell_nowait(Do(2))
            assert await a.ask(Seen, timeout=5) == [1, 2]
            assert await b.ask(Seen, timeout=5) == [10]
            assert team.built == {"a": 2, "b": 1}
            sup.stop()
    assert team.log == ["start a", "start b", "crash a", "start a", "end b", "end a"]
    stats = sup.statistics()
    assert stats.restarts == 1
    assert [(c.name, c.restarts) for c in stats.per_child] == [("a", 1), ("b", 0)]


@anyio_test
async def test_one_for_all_restarts_every_child_in_start_order() -> None:
    """A crash cancels the others in reverse order, then all start again in start order."""
    team = Team()
    a, b, c = team.add("a"), team.add("b"), team.add("c")
    sup = Supervisor("root", team.specs, strategy=Strategy.ONE_FOR_ALL)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            a.tell_nowait(Do(1))
            b.tell_nowait(Crash())
            c.tell_nowait(Do(3))
            assert await b.ask(Seen, timeout=5) == []
            assert await a.ask(Seen, timeout=5) == [1]
            assert await c.ask(Seen, timeout=5) == [3]
            sup.stop()
    started = ["start a", "start b", "start c"]
    restart = ["crash b", "cancel c", "cancel a", *started]
    assert team.log == [*started, *restart, "end c", "end b", "end a"]
    assert team.built == {"a": 2, "b": 2, "c": 2}
    assert [c.restarts for c in sup.statistics().per_child] == [1, 1, 1]


@anyio_test
async def test_one_for_all_leaves_a_cancelled_temporary_child_down() -> None:
    """Under one_for_all, a temporary sibling cancelled for the restart is not started again."""
    log: list[str] = []
    sup = Supervisor(
        "root",
        [
            scripted("temp", [], log, restart=Restart.TEMPORARY),
            scripted("perm", ["crash"], log),
        ],
        strategy=Strategy.ONE_FOR_ALL,
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await anyio.wait_all_tasks_blocked()
            running = {c.name: c.running for c in sup.statistics().per_child}
            sup.stop()
    assert log == ["temp:wait", "perm:crash", "cancel temp", "perm:wait", "cancel perm"]
    assert running == {"temp": False, "perm": True}


@anyio_test
async def test_restart_types_permanent_transient_temporary() -> None:
    """Permanent restarts after any end, transient only after a crash, temporary never."""
    log: list[str] = []
    sup = Supervisor(
        "root",
        [
            scripted("perm", ["return", "crash"], log),
            scripted("trans", ["crash", "return"], log, restart=Restart.TRANSIENT),
            scripted("temp", ["crash"], log, restart=Restart.TEMPORARY),
        ],
        max_restarts=10,
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await anyio.wait_all_tasks_blocked()
            stats = sup.statistics()
            sup.stop()
    assert log[:3] == ["perm:return", "trans:crash", "temp:crash"]  # started in order
    assert log.count("perm:crash") == 1
    assert log.count("perm:wait") == 1
    assert log.count("trans:return") == 1
    assert log.count("temp:crash") == 1
    assert len(log) == 7  # six steps, then "cancel perm" at shutdown
    assert log[-1] == "cancel perm"
    by_name = {c.name: c for c in stats.per_child}
    assert (by_name["perm"].restarts, by_name["perm"].running) == (2, True)
    assert (by_name["trans"].restarts, by_name["trans"].running) == (1, False)
    assert (by_name["temp"].restarts, by_name["temp"].running) == (0, False)
    assert stats.children == 1


@anyio_test
async def test_restarted_actor_keeps_its_mailbox_and_queued_messages() -> None:
    """Messages queued behind the crashing one reach the next incarnation via the same Handle."""
    team = Team()
    w = team.add("w")
    for msg in (Do(1), Crash(), Do(2), Do(3)):
        w.tell_nowait(msg)
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            assert await w.ask(Seen, timeout=5) == [1, 2, 3]
            assert sup.children[0].handle is w
            assert team.built["w"] == 2
            mailbox = w.statistics()
            sup.stop()
    assert (mailbox.accepted, mailbox.processed, mailbox.closed) == (5, 5, False)
    assert w.statistics().closed


@anyio_test
async def test_intensity_exceeded_escalates_with_a_typed_chained_error() -> None:
    """More than max_restarts crashes within the period make run raise RestartIntensityError."""
    team = Team()
    w = team.add("w")
    for _ in range(4):
        w.tell_nowait(Crash())
    sup = Supervisor("root", team.specs, max_restarts=3, period=60)
    with anyio.fail_after(10), pytest.raises(RestartIntensityError) as info:
        await sup.run()
    error = info.value
    assert (error.supervisor, error.child) == ("root", "w")
    assert isinstance(error.__cause__, ValueError)
    assert error.failure is error.__cause__
    assert "more than 3 restarts within 60 s" in str(error)
    assert team.built["w"] == 4
    assert sup.statistics().state is SupervisorState.FAILED
    with pytest.raises(ActorGoneError):  # the root closed its mailboxes on the way out
        w.tell_nowait(Do(1))


@anyio_test
async def test_a_failing_restart_counts_as_another_crash() -> None:
    """A factory that keeps failing on restart exhausts the intensity and escalates."""
    built = 0

    def factory() -> Scripted:
        nonlocal built
        built += 1
        if built > 1:
            raise OSError("no resources")
        return Scripted("w", ["crash"], [])

    sup = Supervisor("root", [ChildSpec("w", factory)], max_restarts=2)
    with anyio.fail_after(10), pytest.raises(RestartIntensityError) as info:
        await sup.run()
    assert isinstance(info.value.__cause__, OSError)
    assert built == 3


@anyio_test
async def test_nested_supervisor_escalates_to_a_parent_that_restarts_it() -> None:
    """An inner supervisor that gives up is restarted by its parent; its Handles stay valid."""
    team = Team()
    w = team.add("w")
    for msg in (Crash(), Crash(), Do(7)):
        w.tell_nowait(msg)
    inners: list[Supervisor] = []

    def inner() -> Supervisor:
        inners.append(Supervisor("inner", team.specs, max_restarts=1))
        return inners[-1]

    outer = Supervisor("outer", [ChildSpec("inner", inner)])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(outer.run)
            assert await w.ask(Seen, timeout=5) == [7]
            assert [c.restarts for c in outer.statistics().per_child] == [1]
            assert [s.statistics().state for s in inners] == [
                SupervisorState.FAILED,
                SupervisorState.RUNNING,
            ]
            outer.stop()
    assert team.log[-1] == "end w"  # stopped in order through inner.stop(), not cancelled
    assert inners[-1].statistics().state is SupervisorState.STOPPED
    with pytest.raises(ActorGoneError):
        await w.tell(Do(8))


@anyio_test
async def test_one_for_all_restarts_a_nested_supervisor_keeping_its_handles() -> None:
    """A nested supervisor cancelled for a one_for_all restart keeps its mailboxes open."""
    team = Team()
    w = team.add("w")
    c = team.add("c")
    w_spec, c_spec = team.specs
    outer = Supervisor(
        "outer",
        [ChildSpec("inner", lambda: Supervisor("inner", [w_spec])), c_spec],
        strategy=Strategy.ONE_FOR_ALL,
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(outer.run)
            for msg in (Do(1), Block(anyio.Event()), Do(2)):
                w.tell_nowait(msg)
            await anyio.wait_all_tasks_blocked()  # w is busy with Block; Do(2) waits
            c.tell_nowait(Crash())
            assert await w.ask(Seen, timeout=5) == [1, 2]
            assert await c.ask(Seen, timeout=5) == []
            outer.stop()
    assert team.log[:6] == ["start w", "start c", "crash c", "cancel w", "start w", "start c"]
    assert team.built == {"w": 2, "c": 2}
    assert w.closed


@anyio_test
async def test_a_nested_supervisor_left_down_has_its_mailboxes_closed() -> None:
    """When the parent will not restart a failed child supervisor, it closes its mailboxes."""
    team = Team()
    w = team.add("w")
    w.tell_nowait(Crash())
    log: list[str] = []
    inner = ChildSpec(
        "inner",
        lambda: Supervisor("inner", team.specs, max_restarts=0),
        restart=Restart.TEMPORARY,
    )
    outer = Supervisor("outer", [inner, scripted("other", [], log)])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(outer.run)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(ActorGoneError):
                w.tell_nowait(Do(1))
            stats = outer.statistics()
            outer.stop()
    assert stats.state is SupervisorState.RUNNING
    assert [c.running for c in stats.per_child] == [False, True]


@anyio_test
async def test_a_nested_supervisor_rebuilt_from_fresh_specs_retires_old_mailboxes() -> None:
    """A child supervisor restarted with new mailboxes has its old ones closed."""
    handles: list[Handle[WorkerMsg]] = []

    def inner() -> Supervisor:
        team = Team()
        handles.append(team.add("w"))
        if len(handles) == 1:
            handles[0].tell_nowait(Crash())
        return Supervisor("inner", team.specs, max_restarts=0)

    outer = Supervisor("outer", [ChildSpec("inner", inner)])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(outer.run)
            await anyio.wait_all_tasks_blocked()
            assert len(handles) == 2
            with pytest.raises(ActorGoneError):
                handles[0].tell_nowait(Do(1))
            assert await handles[1].ask(Seen, timeout=5) == []
            outer.stop()
    assert handles[1].closed


@anyio_test
async def test_escalation_climbs_the_tree_chained_at_every_level() -> None:
    """When the parent gives up too, its error is chained from the child supervisor's."""
    log: list[str] = []
    script = ["crash"] * 10
    outer = Supervisor(
        "outer",
        [ChildSpec("inner", lambda: Supervisor("inner", [scripted("w", script, log)]))],
        max_restarts=1,
    )
    with anyio.fail_after(10), pytest.raises(RestartIntensityError) as info:
        await outer.run()
    assert info.value.child == "inner"
    inner_error = info.value.__cause__
    assert isinstance(inner_error, RestartIntensityError)
    assert inner_error.child == "w"
    assert isinstance(inner_error.__cause__, ValueError)
    assert log == ["w:crash"] * 8  # 4 per inner run (3 restarts allowed), the inner ran twice


@pytest.mark.trio
async def test_restart_window_slides_so_spaced_crashes_never_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Crashes spaced wider than the period never add up, however many there are."""
    crashes: list[float] = []

    @attrs.define(eq=False)
    class Flaky:
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await anyio.sleep(61)
            crashes.append(anyio.current_time())
            raise ValueError("flaky")

    sup = Supervisor("root", [ChildSpec("flaky", Flaky)], max_restarts=1, period=60)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await anyio.sleep(61 * 50 + 30)
        assert sup.statistics().state is SupervisorState.RUNNING
        sup.stop()
    assert len(crashes) == 50
    assert sup.statistics().restarts == 50
    assert anyio.current_time() == pytest.approx(61 * 50 + 30)


@pytest.mark.trio
async def test_restart_window_counts_restarts_within_the_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Crashes 20 s apart with 2 restarts per 60 s escalate at the third, 60 s in."""

    @attrs.define(eq=False)
    class Flaky:
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await anyio.sleep(20)
            raise ValueError("flaky")

    sup = Supervisor("root", [ChildSpec("flaky", Flaky)], max_restarts=2, period=60)
    start = anyio.current_time()
    with pytest.raises(RestartIntensityError):
        await sup.run()
    assert anyio.current_time() - start == pytest.approx(60)
    assert sup.statistics().restarts == 2


@anyio_test
async def test_shutdown_stops_children_in_reverse_start_order() -> None:
    """stop() ends children last-started first; a child without a mailbox is cancelled."""
    team = Team()
    team.add("a")
    team.add("b")
    log = team.log
    specs = [*team.specs, scripted("plain", [], log)]
    team.add("c")
    specs.append(team.specs[-1])
    sup = Supervisor("root", specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            assert sup.statistics().state is SupervisorState.RUNNING
            sup.stop()
    assert log == [
        "start a",
        "start b",
        "plain:wait",
        "start c",
        "end c",
        "cancel plain",
        "end b",
        "end a",
    ]
    assert sup.statistics().state is SupervisorState.STOPPED
    assert sup.statistics().children == 0


@anyio_test
async def test_shutdown_drains_queued_messages_and_dependents_reach_earlier_siblings() -> None:
    """Queued messages are handled before a child ends; a later child still reaches an earlier."""
    team = Team()
    store = team.add("store")
    channel = team.add("channel", delay=0.01, forward_to=store)
    for i in range(10):
        channel.tell_nowait(Do(i))
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            sup.stop()
    assert team.done["channel"] == list(range(10))
    assert team.done["store"] == list(range(10))
    assert team.log[-2:] == ["end channel", "end store"]


@anyio_test
async def test_shutdown_cancels_a_child_stuck_past_its_deadline() -> None:
    """A child that does not finish draining within its deadline is cancelled."""
    team = Team()
    w = team.add("w", shutdown=0.25)
    w.tell_nowait(Block(anyio.Event()))
    w.tell_nowait(Do(1))
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await anyio.wait_all_tasks_blocked()
            began = anyio.current_time()
            sup.stop()
        took = anyio.current_time() - began
    assert took == pytest.approx(0.25, abs=0.2)
    assert took >= 0.25
    assert team.log == ["start w", "cancel w"]
    assert team.done["w"] == []


@anyio_test
async def test_tells_after_stop_raise_actor_gone() -> None:
    """Once a child's turn in shutdown has come, its Handle refuses messages."""
    team = Team()
    w = team.add("w")
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await w.tell(Do(1))
            sup.stop()
        with pytest.raises(ActorGoneError):
            w.tell_nowait(Do(2))
        with pytest.raises(ActorGoneError):
            await w.tell(Do(2))
        with pytest.raises(ActorGoneError):
            await w.ask(Seen, timeout=1)
    assert team.done["w"] == [1]


@anyio_test
async def test_a_child_whose_intake_closed_is_finished_not_restarted() -> None:
    """Closing a permanent child's Handle lets it drain and end for good."""
    team = Team()
    w = team.add("w")
    team.add("other")
    sup = Supervisor("root", team.specs)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            w.tell_nowait(Do(1))
            w.close()
            await anyio.wait_all_tasks_blocked()
            stats = sup.statistics()
            sup.stop()
    assert team.done["w"] == [1]
    assert (stats.per_child[0].running, stats.per_child[0].restarts) == (False, 0)
    assert stats.state is SupervisorState.RUNNING
    assert team.built["w"] == 1


@anyio_test
async def test_start_up_error_surfaces_from_run() -> None:
    """A child failing before it reports started makes run raise that error, named."""

    @attrs.define(eq=False)
    class Broken:
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            raise KeyError("missing config")

    team = Team()
    team.add("first")
    sup = Supervisor("root", [*team.specs, ChildSpec("broken", Broken)])
    with anyio.fail_after(10), pytest.raises(KeyError) as info:
        await sup.run()
    assert any("'broken'" in note for note in info.value.__notes__)
    assert team.log == ["start first", "cancel first"]
    assert team.specs[0].handle is not None
    assert team.specs[0].handle.closed


@anyio_test
async def test_cancelling_the_root_cancels_children_and_closes_mailboxes() -> None:
    """Cancellation from outside propagates through the children and closes every mailbox."""
    team = Team()
    w = team.add("w")
    sup = Supervisor("root", team.specs)
    with anyio.move_on_after(0.1) as scope:
        await sup.run()
    assert scope.cancelled_caught
    assert team.log == ["start w", "cancel w"]
    assert w.closed


@anyio_test
async def test_statistics_are_frozen_snapshots() -> None:
    """statistics() reports state, running children and restarts, and cannot be changed."""
    team = Team()
    w = team.add("w")
    sup = Supervisor("root", team.specs)
    before = sup.statistics()
    assert (before.state, before.children, before.restarts) == (SupervisorState.IDLE, 0, 0)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            w.tell_nowait(Crash())
            w.tell_nowait(Do(1))
            await w.ask(Seen, timeout=5)
            during = sup.statistics()
            sup.stop()
    assert (during.state, during.children, during.restarts) == (SupervisorState.RUNNING, 1, 1)
    child = during.per_child[0]
    assert (child.name, child.running, child.restarts) == ("w", True, 1)
    assert child.mailbox is not None
    assert child.mailbox.processed == 3
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        during.restarts = 0  # type: ignore[misc]


@anyio_test
async def test_run_refuses_to_run_twice_at_once_but_can_run_again() -> None:
    """A running supervisor refuses a second run; after it stopped it can run again."""
    log: list[str] = []
    sup = Supervisor("root", [scripted("w", [], log)])
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            with pytest.raises(RuntimeError, match="already running"):
                await sup.run()
            sup.stop()
        sup.stop()  # requested before the run: it starts and stops at once
        await sup.run()
    assert log == ["w:wait", "cancel w", "w:wait", "cancel w"]


def test_specs_are_checked() -> None:
    """A Handle without its Mailbox, duplicate names and a bad intensity are refused."""
    handle, mailbox = open_mailbox[int]("x", 1)
    with pytest.raises(ValueError, match="both"):
        ChildSpec("x", lambda: Scripted("x", [], []), handle=handle)
    spec = ChildSpec("x", lambda: Scripted("x", [], []))
    with pytest.raises(ValueError, match="same name"):
        Supervisor("root", [spec, spec])
    with pytest.raises(ValueError, match="period > 0"):
        Supervisor("root", [spec], period=0)
    with pytest.raises(ValueError, match="shutdown deadline"):
        ChildSpec("y", spec.factory, shutdown=-1)
    handle.close()
    mailbox.close()
