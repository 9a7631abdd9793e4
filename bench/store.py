"""Store appends per second, with group commit and without, at both durability levels.

Each run opens a fresh SQLite file in a temporary directory and starts ``--writers``
concurrent tasks; each writer asks the Store to append one outbox row at a time and waits
for the durable reply (the queued-send path of a ChannelActor), until ``--appends`` rows
are written. The same load runs four ways:

================  ===========================================================================
batched           ``batch_limit=256``: the actor drains the mailbox into one transaction
unbatched         ``batch_limit=1``: one transaction (and, with FULL, one fsync) per append
FULL / NORMAL     ``synchronous``: fsync the WAL at every commit, or leave it to the OS
================  ===========================================================================

The report gives appends/s, transactions, the mean batch size and the p50/p99 latency of one
append as its writer saw it; ``--repeats`` runs per row, the median run (by appends/s) is
the one reported.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import attrs

from actors.store import StoreStatistics, open_store
from bench import _report
from bench.runtime import machine

BACKENDS = ("asyncio", "trio")
SYNCS = ("FULL", "NORMAL")
BATCHED_LIMIT = 256
_PAYLOAD = {"content": "hello from the store benchmark", "embeds": [], "allowed_mentions": {}}


@attrs.frozen
class StoreBenchConfig:
    """Sizes of one run. The defaults keep a full run to about half a minute."""

    appends: int = 4_000
    writers: int = 64
    repeats: int = 3
    syncs: tuple[str, ...] = SYNCS
    backend: str = "asyncio"


@attrs.frozen
class StoreRun:
    """One configuration's median run."""

    synchronous: str
    batched: bool
    appends: int
    seconds: float
    batches: int
    average_batch_size: float
    p50_ms: float
    p99_ms: float

    @property
    def appends_per_second(self) -> float:
        return self.appends / self.seconds


async def _one_run(
    config: StoreBenchConfig, synchronous: str, batch_limit: int
) -> tuple[float, StoreStatistics, list[float]]:
    latencies: list[float] = []
    remaining = config.appends
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        options: dict[str, Any] = {
            "synchronous": synchronous,
            "batch_limit": batch_limit,
            "prune_interval": None,
        }
        async with open_store(Path(tmp) / "store.db", timeout=600, **options) as store:

            async def writer(w: int) -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    started = time.perf_counter()
                    await store.append(f"agent{w % 8}", w, _PAYLOAD)
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for w in range(config.writers):
                    tg.start_soon(writer, w)
            elapsed = time.perf_counter() - started
            stats = await store.statistics()
    if stats.pending_outbox != config.appends:
        raise RuntimeError(f"wrote {stats.pending_outbox} of {config.appends} rows: broken")
    return elapsed, stats, latencies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(config: StoreBenchConfig, progress: Callable[[str], None]) -> list[StoreRun]:
    runs = []
    for synchronous in config.syncs:
        for batched in (True, False):
            label = f"{synchronous} {'batched' if batched else 'unbatched'}"
            progress(f"store: {label} ...")
            limit = BATCHED_LIMIT if batched else 1
            samples = [await _one_run(config, synchronous, limit) for _ in range(config.repeats)]
            samples.sort(key=lambda sample: sample[0])
            elapsed, stats, latencies = samples[len(samples) // 2]
            runs.append(
                StoreRun(
                    synchronous=synchronous,
                    batched=batched,
                    appends=config.appends,
                    seconds=elapsed,
                    batches=stats.batches - 1,  # the closing statistics query is its own batch
                    average_batch_size=config.appends / max(1, stats.batches - 1),
                    p50_ms=_quantile(latencies, 0.50) * 1e3,
                    p99_ms=_quantile(latencies, 0.99) * 1e3,
                )
            )
    return runs


def run(
    config: StoreBenchConfig, *, progress: Callable[[str], None] | None = None
) -> list[StoreRun]:
    """Measure every configuration (blocking; not from async code)."""
    report = progress if progress is not None else (lambda _: None)
    runs: list[StoreRun] = anyio.run(_measure, config, report, backend=config.backend)
    return runs


def render_markdown(config: StoreBenchConfig, runs: list[StoreRun]) -> str:
    info = machine()
    lines = [
        "## store: outbox appends/s, group commit vs one transaction per append",
        "",
        f"- machine: {info['cpus']} CPUs ({info['usable_cpus']} usable), {info['platform']}",
        f"- sizes: {config.appends:,} appends by {config.writers} concurrent writers (ask and "
        f"wait for the durable reply), {config.backend}, median of {config.repeats} runs",
        "",
        "| synchronous | mode | appends/s | transactions | mean batch | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {r.synchronous} | {'batched' if r.batched else 'unbatched'} "
        f"| {r.appends_per_second:,.0f} | {r.batches:,} | {r.average_batch_size:.1f} "
        f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} |"
        for r in runs
    )
    lines.append("")
    for synchronous in config.syncs:
        pair = {r.batched: r for r in runs if r.synchronous == synchronous}
        if True in pair and False in pair:
            speedup = pair[True].appends_per_second / pair[False].appends_per_second
            lines.append(f"- {synchronous}: group commit is {speedup:.1f}x one-per-transaction")
    return "\n".join(lines) + "\n"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _syncs(text: str) -> tuple[str, ...]:
    names = tuple(name.strip().upper() for name in text.split(",") if name.strip())
    if not names or any(name not in SYNCS for name in names):
        raise argparse.ArgumentTypeError(f"choose from {','.join(SYNCS)}, not {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = StoreBenchConfig()
    parser.add_argument("--appends", type=_positive, default=defaults.appends, metavar="N")
    parser.add_argument("--writers", type=_positive, default=defaults.writers, metavar="N")
    parser.add_argument("--repeats", type=_positive, default=defaults.repeats, metavar="N")
    parser.add_argument(
        "--syncs", type=_syncs, default=defaults.syncs, metavar="LIST", help="FULL,NORMAL"
    )
    parser.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH"
    )


def main(args: argparse.Namespace) -> int:
    """Run the scenario and print the Markdown report."""
    config = StoreBenchConfig(
        appends=args.appends,
        writers=args.writers,
        repeats=args.repeats,
        syncs=args.syncs,
        backend=args.backend,
    )
    runs = run(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(render_markdown(config, runs), end="")
    if args.json is not None:
        data = {
            "scenario": "store",
            "config": attrs.asdict(config),
            "machine": machine(),
            "runs": [{**attrs.asdict(r), "appends_per_second": r.appends_per_second} for r in runs],
        }
        _report.write_json(args.json, data)
    return 0


__all__ = [
    "StoreBenchConfig",
    "StoreRun",
    "add_arguments",
    "main",
    "render_markdown",
    "run",
]
