"""A swarm of agents sending: 100 agents x 10 channels each, 1000 messages/s offered for 60 s.

The issue's main target. A sandbox process with Discord's rate limits ON, seeded with
``--agents`` bots of ``--channels`` text channels each (the agent's own, spread over
``--guilds`` guilds); ``mcp-discord serve`` with every bot as an agent (profile admin, its own
API key); ``--agents`` MCP client sessions, one per agent, over ``--transport``. The load is
open loop: ``--rate`` ``send_message`` calls per second in total (``delivery: sync``), each
session at rate/agents, rotating over its channels, every content unique (``swarm <s> <n>``).
At the defaults every channel gets 1 message/s: exactly Discord's message bucket (5 per 5 s),
so the server's pacing must keep every channel at its limit without a single 429.

After the run the sandbox's delivered log of every channel is read (control API), once the
server's outbox has drained (every acknowledged send delivered, or the log quiet for 5 s), and
checked against the sends the server acknowledged (``delivered`` or ``queued``, a promise):
*lost* = acknowledged but not delivered,
*duplicated* = delivered more than once. In the same run the floor (bare MCPServer ``echo``,
:mod:`bench.floor`) takes the same offered load for ``--floor-seconds``, for the ratio.

Reports: delivered messages/s, latency p50/p90/p99/max (from each call's scheduled start),
server CPU s per 1000 messages and its ratio to the floor's per call, peak RSS, 429s the
sandbox answered, lost and duplicated, pacing utilization (delivered/s over what the sandbox
allows the channels used: ``min(channels x 5/5 s, agents x 50/s)``). Targets: >= 1000
delivered/s with p99 < 100 ms, 0 lost, 0 duplicated, 0 429s, CPU <= 1.5x the floor, >= 95 %
pacing utilization.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench import _results, floor
from bench._load import LoadConfig, LoadResult, Transport, run_load
from bench._scenario import add_common_arguments, first_errors, load_figures, transports
from bench._serve import Sampler, Swarm, swarm
from bench._world import control, delivered_contents
from bench.latency import ratios, send_plan

MESSAGE_BUCKET = 5 / 5.0
"""The sandbox's message-create bucket per channel: 5 per 5 s."""
GLOBAL_PER_BOT = 50.0
"""The sandbox's global limit per bot: 50 requests/s."""
_DRAIN_QUIET = 5.0
_DRAIN_MAX = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_world_arguments(
        parser,
        rate_help="send_message calls/s offered in total (default 1000)",
        floor_help="timed seconds of the floor run at the same load (0: skip; default 20)",
    )


def add_world_arguments(
    parser: argparse.ArgumentParser, *, rate_help: str, floor_help: str
) -> None:
    """The options of a swarm world under load (swarm-send, bulk): the common ones,
    ``--agents --channels --guilds --rate --no-rate-limits --floor-seconds``."""
    add_common_arguments(parser, seconds=60.0, transports="http")
    parser.add_argument("--agents", type=int, default=100, metavar="N", help="default 100")
    parser.add_argument(
        "--channels", type=int, default=10, metavar="N", help="channels per agent (default 10)"
    )
    parser.add_argument(
        "--guilds", type=int, default=10, metavar="N", help="guilds the agents share (default 10)"
    )
    parser.add_argument("--rate", type=float, default=1000.0, metavar="N", help=rate_help)
    parser.add_argument(
        "--no-rate-limits",
        dest="rate_limits",
        action="store_false",
        help="start the sandbox without Discord's rate limits (default: on)",
    )
    parser.add_argument("--floor-seconds", type=float, default=20.0, metavar="S", help=floor_help)


def fit_world(args: argparse.Namespace) -> None:
    """``--quick`` shrinks the world and the run; guilds never outnumber agents."""
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 2.0), min(args.warmup, 0.5)
        args.agents, args.channels, args.guilds = min(args.agents, 3), min(args.channels, 2), 1
        args.rate = min(args.rate, 6.0)
        args.floor_seconds = min(args.floor_seconds, 1.0)
    args.guilds = max(1, min(args.guilds, args.agents))


def main(args: argparse.Namespace) -> int:
    fit_world(args)
    out = args.out or _results.default_out("swarm-send")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


def allowed_rate(agents: int, channels: int, rate_limits: bool) -> float:
    """Messages/s the sandbox lets these channels take: per-channel bucket, per-bot global."""
    if not rate_limits:
        return math.inf
    return min(agents * channels * MESSAGE_BUCKET, agents * GLOBAL_PER_BOT)


async def _run(args: argparse.Namespace, world: Swarm, transport: str) -> tuple[LoadResult, dict]:
    channels = {s: bot.channel_ids for s, bot in enumerate(world.bots)}
    plans = {s: send_plan(ids, "swarm") for s, ids in channels.items()}
    sampler = world.sampler()
    config = LoadConfig(
        transport=transport,  # type: ignore[arg-type]
        base_url=world.server.base,
        keys=[world.keys[bot.name] for bot in world.bots],
        seconds=args.seconds,
        warmup=args.warmup,
        rate=args.rate,
        label=f"swarm-send {transport}",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        result = await run_load(config, lambda s, n: plans[s](s, n))
        await trio.sleep(sampler.interval)
        nursery.cancel_scope.cancel()
    figures = load_figures(result, sampler, server="server", per="message")
    all_channels = [c for ids in channels.values() for c in ids]
    acked = {f"swarm {r.session} {r.n}" for r in result.records if r.ok}
    delivered, drain = await _drained(world, all_channels, acked)
    counters = await trio.to_thread.run_sync(control, world.sandbox.http_url, _counters)
    sent = {f"swarm {r.session} {r.n}" for r in result.records}
    figures["offered_per_s"] = args.rate
    figures.update(
        delivery_figures(world, sampler, result, figures, sent, acked, delivered, "swarm ", args)
    )
    figures.update(
        {
            "http_429s": counters,
            "acked_queued": sum(1 for r in result.records if r.ok and r.state == "queued"),
            "drain_s": drain,
        }
    )
    return result, figures


def delivery_figures(
    world: Swarm,
    sampler: Sampler,
    result: LoadResult,
    figures: dict[str, Any],
    sent: set[str],
    acked: set[str],
    delivered: Counter[str],
    prefix: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """What the sandbox's delivered log says of a run: delivered/s (of the messages sent in
    the timed window), server and sandbox CPU per 1000 of them, lost (acknowledged, never
    delivered), duplicated (delivered more than once; tags start with ``prefix``) and the
    pacing utilization (delivered/s over :func:`allowed_rate`)."""
    in_window = sum(1 for tag in sent if tag in delivered)
    start, end = result.window
    per_s = in_window / (end - start)
    allowed = allowed_rate(len(world.bots), args.channels, args.rate_limits)
    sandbox_cpu = sampler.cpu_between("sandbox", start, max(end, result.finished))

    def per_1000(cpu: float) -> float:
        return cpu / in_window * 1000 if in_window else math.nan

    return {
        "delivered_per_s": per_s,
        "server_cpu_s_per_1000_msgs": per_1000(figures["server_cpu_s"]),
        "sandbox_cpu_s_per_1000_msgs": per_1000(sandbox_cpu),
        "lost": len(acked - delivered.keys()),
        "duplicated": sum(n - 1 for tag, n in delivered.items() if tag.startswith(prefix)),
        "pacing_utilization": per_s / allowed if math.isfinite(allowed) else math.nan,
    }


async def _drained(
    world: Swarm, channels: list[int], acked: set[str]
) -> tuple[Counter[str], float]:
    """The delivered log once every acknowledged send is in it, or it stopped growing.

    A ``queued`` answer is a promise to deliver later: the server's outbox may still be
    draining when the load ends. Polls the sandbox until the log holds every acknowledged send
    or has not grown for ``_DRAIN_QUIET`` s (at most ``_DRAIN_MAX`` s); returns it and the wait.
    """
    began = trio.current_time()
    quiet_since, size = began, -1
    while True:
        contents = await trio.to_thread.run_sync(
            control, world.sandbox.http_url, partial(delivered_contents, channels=channels)
        )
        delivered = Counter(contents)
        now = trio.current_time()
        if len(contents) != size:
            quiet_since, size = now, len(contents)
        if (
            acked <= delivered.keys()
            or now - quiet_since >= _DRAIN_QUIET
            or now - began > _DRAIN_MAX
        ):
            return delivered, now - began
        await trio.sleep(0.5)


async def _counters(client: Any) -> int:
    return int((await client.counters()).total_429s)


async def swarm_runs(
    args: argparse.Namespace,
    prefix: str,
    run: Callable[
        [argparse.Namespace, Swarm, Transport], Awaitable[tuple[LoadResult, dict[str, Any]]]
    ],
    *,
    floor_rate: float,
    per: str = "call",
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[str]]:
    """``run`` once per chosen transport, each in a fresh sandbox + server world, then the floor
    at ``floor_rate`` over the same transports; our figures get their ratios to the floor's.
    Returns the runs' figures, their call records and notes (first errors)."""
    runs: dict[str, dict[str, Any]] = {}
    records: dict[str, Any] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for transport in transports(args.transport):
            async with swarm(
                Path(tmp) / transport,
                bots=args.agents,
                guilds=args.guilds,
                channels=args.channels,
                rate_limits=args.rate_limits,
            ) as world:
                result, figures = await run(args, world, transport)
            runs[transport] = figures
            records[transport] = result.records
            notes += [f"{transport}: {e}" for e in first_errors(result)]
        if args.floor_seconds > 0:
            async with floor.floor_process(Path(tmp) / "floor.log") as bare:
                for transport in transports(args.transport):
                    result, figures = await floor.measure(
                        bare,
                        transport,
                        seconds=args.floor_seconds,
                        warmup=args.warmup,
                        sessions=args.agents,
                        # --quick: closed loop, so the floor's CPU in a 1 s run is above the
                        # clock-tick resolution (a handful of calls can measure as 0 s)
                        rate=None if args.quick else floor_rate,
                    )
                    runs[transport].update(ratios(runs[transport], figures, per=per))
                    runs[f"floor {transport}"] = figures
                    records[f"floor {transport}"] = result.records
    return runs, records, notes


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs, records, notes = await swarm_runs(
        args, "bench-swarm-send-", _run, floor_rate=args.rate, per="message"
    )
    config = {
        "agents": args.agents,
        "channels_per_agent": args.channels,
        "guilds": args.guilds,
        "offered_per_s": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "sandbox_rate_limits": args.rate_limits,
    }
    verdicts = [
        line
        for name, figures in runs.items()
        if "floor" not in name
        for line in targets(name, figures)
    ]
    return _results.write(
        out,
        "swarm-send",
        runs,
        records,
        seconds=args.seconds,
        config=config,
        notes=[*verdicts, *notes],
    )


TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("delivered_per_s", ">=", "messages/s delivered", 1000.0),
    ("p99_ms", "<", "p99 ms", 100.0),
    ("lost", "==", "lost", 0),
    ("duplicated", "==", "duplicated", 0),
    ("http_429s", "==", "429s", 0),
    ("cpu_x_floor", "<=", "server CPU per message / floor's per call", 1.5),
    ("pacing_utilization", ">=", "pacing utilization", 0.95),
)
"""The issue's targets for swarm-send: (figure, comparison, label, bound)."""


def targets(run: str, figures: dict[str, Any]) -> list[str]:
    """One ``PASS``/``FAIL`` line per target for a run's figures (``n/a`` when not measured)."""
    lines = []
    for key, op, label, bound in TARGETS:
        value = figures.get(key)
        if not isinstance(value, int | float) or math.isnan(value):
            lines.append(f"- {run}: {label} {op} {bound:g}: n/a")
            continue
        ok = {
            ">=": value >= bound,
            "<": value < bound,
            "<=": value <= bound,
            "==": value == bound,
        }[op]
        lines.append(f"- {run}: {label} {op} {bound:g}: {'PASS' if ok else 'FAIL'} ({value:.3g})")
    return lines
