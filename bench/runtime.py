"""What the actor runtime costs on top of bare anyio memory object streams.

Four probes run on each event-loop backend (asyncio, uvloop when it is installed, trio), each
backend in a fresh event loop, all four interleaved in the same loop so that the ratios
compare like with like:

==================  ===========================================================================
stream-send         bare stream one way: ``await send.send(i)`` in a loop, a consumer task
                    doing ``async for`` on the receiving end (same capacity as the mailbox)
tell                the same through the runtime: ``await handle.tell(i)`` into an actor doing
                    ``async for msg in mailbox``
stream-ping-pong    bare request/response: two streams, ``await send`` then ``await receive``
                    on one task, an echo task doing ``async for`` + ``await send`` on the other
ask                 ``await handle.ask(Ping, timeout=...)`` against an actor that answers with
                    ``Reply.send``
==================  ===========================================================================

Each probe gets an untimed warm-up, then ``--repeats`` timed runs; the report gives the median
per operation (µs and operations/s) and the min-max spread. The target from the foundation
issue: an ask round trip costs at most twice the bare ping-pong on every backend.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs

from actors import Mailbox, Reply, open_mailbox
from bench import _report

BACKENDS = ("asyncio", "uvloop", "trio")
ASK_TARGET = 2.0
"""An ask round trip may cost at most this many bare ping-pong round trips."""

_ASK_TIMEOUT = 60.0  # finite, as every real ask is: the deadline's timer is part of the cost
_PACKAGES = ("anyio", "trio", "uvloop", "attrs")


@attrs.frozen
class RuntimeConfig:
    """Sizes of one run. The defaults keep a full run under 30 s on a 2-core machine."""

    messages: int = 20_000
    """Messages per timed run of the one-way probes (stream-send, tell)."""
    round_trips: int = 5_000
    """Round trips per timed run of the request/reply probes (stream-ping-pong, ask)."""
    capacity: int = 64
    """Buffer of the mailbox and of the bare request stream."""
    repeats: int = 5
    """Timed runs per probe; the report gives their median."""
    backends: tuple[str, ...] = BACKENDS


@attrs.frozen
class Measurement:
    """One probe on one backend: the time per operation of every timed run."""

    probe: str
    operations: int
    """Operations (messages or round trips) per timed run."""
    seconds_per_op: tuple[float, ...]

    @property
    def median_us(self) -> float:
        return statistics.median(self.seconds_per_op) * 1e6

    @property
    def min_us(self) -> float:
        return min(self.seconds_per_op) * 1e6

    @property
    def max_us(self) -> float:
        return max(self.seconds_per_op) * 1e6

    @property
    def ops_per_second(self) -> float:
        return 1e6 / self.median_us


@attrs.frozen
class BackendResult:
    """The four probes on one backend, and how the runtime compares with bare streams."""

    backend: str
    measurements: tuple[Measurement, ...]

    def __getitem__(self, probe: str) -> Measurement:
        for measurement in self.measurements:
            if measurement.probe == probe:
                return measurement
        raise KeyError(probe)

    @property
    def ask_ratio(self) -> float:
        """Median ask round trip over median bare ping-pong round trip."""
        return self["ask"].median_us / self["stream-ping-pong"].median_us

    @property
    def tell_ratio(self) -> float:
        """Median tell over median bare send (no target; for reading the figures)."""
        return self["tell"].median_us / self["stream-send"].median_us

    @property
    def passed(self) -> bool:
        return self.ask_ratio <= ASK_TARGET


@attrs.frozen
class RuntimeReport:
    """A whole run: sizes, machine, one result per backend, and the backends left out."""

    config: RuntimeConfig
    machine: dict[str, str]
    results: tuple[BackendResult, ...]
    skipped: dict[str, str]
    """Backend → why it did not run (uvloop not installed)."""

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)


# The probes. Each takes (operations, capacity), runs inside an event loop and returns the wall
# time in seconds; each checks that every message arrived, so a broken probe cannot look fast.


async def _stream_send(n: int, capacity: int) -> float:
    send, receive = anyio.create_memory_object_stream[int](capacity)
    received = 0

    async def consume() -> None:
        nonlocal received
        with receive:
            async for _ in receive:
                received += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        started = time.perf_counter()
        with send:
            for i in range(n):
                await send.send(i)
    elapsed = time.perf_counter() - started
    _check("stream-send", received, n)
    return elapsed


async def _tell(n: int, capacity: int) -> float:
    handle, mailbox = open_mailbox[int]("bench-sink", capacity)
    received = 0

    async def sink() -> None:
        nonlocal received
        async for _ in mailbox:
            received += 1

    with mailbox:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sink)
            started = time.perf_counter()
            with handle:
                for i in range(n):
                    await handle.tell(i)
        elapsed = time.perf_counter() - started
    _check("tell", received, n)
    return elapsed


async def _stream_ping_pong(n: int, capacity: int) -> float:
    request_send, request_receive = anyio.create_memory_object_stream[int](capacity)
    response_send, response_receive = anyio.create_memory_object_stream[int](1)
    answered = 0

    async def echo() -> None:
        with request_receive, response_send:
            async for request in request_receive:
                await response_send.send(request)

    async with anyio.create_task_group() as tg:
        tg.start_soon(echo)
        started = time.perf_counter()
        with request_send, response_receive:
            for i in range(n):
                await request_send.send(i)
                answered += await response_receive.receive() == i
    elapsed = time.perf_counter() - started
    _check("stream-ping-pong", answered, n)
    return elapsed


@attrs.frozen
class _Ping:
    reply: Reply[int] = attrs.field(repr=False)


async def _pong(mailbox: Mailbox[_Ping], *, task_status: anyio.abc.TaskStatus[None]) -> None:
    pings = 0
    task_status.started()
    async for msg in mailbox:
        pings += 1
        msg.reply.send(pings)


async def _ask(n: int, capacity: int) -> float:
    handle, mailbox = open_mailbox[_Ping]("bench-pong", capacity)
    answered = 0
    with mailbox:
        async with anyio.create_task_group() as tg:
            await tg.start(_pong, mailbox)
            started = time.perf_counter()
            with handle:
                for i in range(n):
                    answered += await handle.ask(_Ping, timeout=_ASK_TIMEOUT) == i + 1
        elapsed = time.perf_counter() - started
    _check("ask", answered, n)
    return elapsed


def _check(probe: str, seen: int, expected: int) -> None:
    if seen != expected:
        raise RuntimeError(f"probe {probe!r} saw {seen} of {expected} messages: it is broken")


_Probe = Callable[[int, int], Awaitable[float]]
_PROBES: tuple[tuple[str, _Probe, bool], ...] = (  # name, probe, sized by round trips?
    ("stream-send", _stream_send, False),
    ("tell", _tell, False),
    ("stream-ping-pong", _stream_ping_pong, True),
    ("ask", _ask, True),
)


async def _run_probes(config: RuntimeConfig) -> tuple[Measurement, ...]:
    sizes = {
        name: config.round_trips if by_round_trips else config.messages
        for name, _, by_round_trips in _PROBES
    }
    for name, probe, _ in _PROBES:  # warm-up: allocator, code paths, the loop's own caches
        await probe(max(1, sizes[name] // 10), config.capacity)
    samples: dict[str, list[float]] = {name: [] for name, _, _ in _PROBES}
    for _ in range(config.repeats):  # interleaved, so drift in the machine hits every probe
        for name, probe, _ in _PROBES:
            gc.collect()
            samples[name].append(await probe(sizes[name], config.capacity) / sizes[name])
    return tuple(
        Measurement(probe=name, operations=sizes[name], seconds_per_op=tuple(samples[name]))
        for name, _, _ in _PROBES
    )


def measure_backend(backend: str, config: RuntimeConfig) -> BackendResult:
    """Run every probe on ``backend`` in a fresh event loop (blocking; not from async code)."""
    if backend == "uvloop":
        options: dict[str, Any] = {"use_uvloop": True}
        measurements = anyio.run(_run_probes, config, backend="asyncio", backend_options=options)
    else:
        measurements = anyio.run(_run_probes, config, backend=backend)
    return BackendResult(backend=backend, measurements=measurements)


def machine() -> dict[str, str]:
    """Where the figures came from: CPUs, OS, Python and the versions that matter here."""
    return _report.machine(_PACKAGES)


def run(config: RuntimeConfig, *, progress: Callable[[str], None] | None = None) -> RuntimeReport:
    """Measure every requested backend; uvloop is skipped (and said so) when not importable."""
    results = []
    skipped = {}
    for backend in config.backends:
        if backend == "uvloop" and importlib.util.find_spec("uvloop") is None:
            skipped[backend] = "uvloop is not installed"
            continue
        if progress is not None:
            progress(f"runtime: measuring {backend} ...")
        results.append(measure_backend(backend, config))
    return RuntimeReport(config=config, machine=machine(), results=tuple(results), skipped=skipped)


def render_markdown(report: RuntimeReport) -> str:
    """The report as Markdown: machine, sizes, every probe, then ask vs ping-pong per backend."""
    config, info = report.config, report.machine
    versions = ", ".join(f"{package} {info[package]}" for package in _PACKAGES)
    lines = [
        "## runtime: actor runtime vs bare anyio memory object streams",
        "",
        f"- machine: {info['cpus']} CPUs ({info['usable_cpus']} usable), {info['machine']}, "
        f"{info['platform']}",
        f"- software: {info['python']}; {versions}",
        f"- sizes: {config.messages:,} messages and {config.round_trips:,} round trips per run, "
        f"capacity {config.capacity}, median of {config.repeats} runs after a warm-up",
        "",
        "| backend | probe | ops per run | median µs/op | ops/s | spread µs (min-max) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {result.backend} | {m.probe} | {m.operations:,} | {m.median_us:.2f} "
        f"| {m.ops_per_second:,.0f} | {m.min_us:.2f}-{m.max_us:.2f} |"
        for result in report.results
        for m in result.measurements
    )
    lines += [
        "",
        f"### ask round trip vs bare ping-pong (target ≤ {ASK_TARGET:g}x)",
        "",
        "| backend | ask µs | ping-pong µs | ask / ping-pong | result | tell / send |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for result in report.results:
        lines.append(
            f"| {result.backend} | {result['ask'].median_us:.2f} "
            f"| {result['stream-ping-pong'].median_us:.2f} | {result.ask_ratio:.2f}x "
            f"| {'PASS' if result.passed else 'FAIL'} | {result.tell_ratio:.2f}x |"
        )
    for backend, reason in report.skipped.items():
        lines.append(f"| {backend} | - | - | - | skipped: {reason} | - |")
    return "\n".join(lines) + "\n"


def report_json(report: RuntimeReport) -> dict[str, Any]:
    """The report as plain data: the raw per-run samples plus the derived figures."""
    return {
        "scenario": "runtime",
        "config": attrs.asdict(report.config),
        "machine": report.machine,
        "target": {"ask_over_ping_pong_at_most": ASK_TARGET},
        "passed": report.passed,
        "skipped": report.skipped,
        "backends": {
            result.backend: {
                "ask_over_ping_pong": result.ask_ratio,
                "tell_over_send": result.tell_ratio,
                "passed": result.passed,
                "probes": {
                    m.probe: {
                        "operations": m.operations,
                        "median_us": m.median_us,
                        "min_us": m.min_us,
                        "max_us": m.max_us,
                        "ops_per_second": m.ops_per_second,
                        "seconds_per_op": list(m.seconds_per_op),
                    }
                    for m in result.measurements
                },
            }
            for result in report.results
        },
    }


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _backends(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown backend(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(BACKENDS)}"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = RuntimeConfig()
    parser.add_argument(
        "--messages",
        type=_positive,
        default=defaults.messages,
        metavar="N",
        help=f"messages per timed run of stream-send and tell (default {defaults.messages})",
    )
    parser.add_argument(
        "--round-trips",
        type=_positive,
        default=defaults.round_trips,
        metavar="N",
        help=f"round trips per timed run of ping-pong and ask (default {defaults.round_trips})",
    )
    parser.add_argument(
        "--capacity",
        type=_positive,
        default=defaults.capacity,
        metavar="N",
        help=f"mailbox and bare stream buffer size (default {defaults.capacity})",
    )
    parser.add_argument(
        "--repeats",
        type=_positive,
        default=defaults.repeats,
        metavar="N",
        help=f"timed runs per probe; the median is reported (default {defaults.repeats})",
    )
    parser.add_argument(
        "--backends",
        type=_backends,
        default=defaults.backends,
        metavar="LIST",
        help="comma-separated; uvloop is skipped if not installed (default "
        f"{','.join(defaults.backends)})",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH"
    )


def main(args: argparse.Namespace) -> int:
    """Run the scenario, print the Markdown report; 0 even when a target is missed."""
    config = RuntimeConfig(
        messages=args.messages,
        round_trips=args.round_trips,
        capacity=args.capacity,
        repeats=args.repeats,
        backends=args.backends,
    )
    report = run(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(render_markdown(report), end="")
    _report.write_json(args.json, report_json(report))
    return 0


__all__ = [
    "ASK_TARGET",
    "BACKENDS",
    "BackendResult",
    "Measurement",
    "RuntimeConfig",
    "RuntimeReport",
    "add_arguments",
    "machine",
    "main",
    "measure_backend",
    "render_markdown",
    "report_json",
    "run",
]
