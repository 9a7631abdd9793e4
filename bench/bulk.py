"""Bulk sends: ``send_messages`` at swarm-send's delivered rate, items spread over channels.

The same world as :mod:`bench.swarm_send` (a sandbox process with Discord's rate limits on,
``--agents`` bots of ``--channels`` text channels each, ``mcp-discord serve`` with every bot
as an agent), but each agent's session calls the bulk tool ``send_messages``
(:mod:`mcp_edge.tools.bulk`, ``delivery: sync``) with ``--batch`` items, one per channel of
the agent in turn (so at the defaults each call posts once in each of the agent's 10
channels). The load is open loop: ``--rate`` *items* per second in total, so
``rate / batch`` calls per second; at the defaults 1000 items/s, every channel at Discord's
1 message/s -- the same delivered rate as swarm-send, in a tenth of the calls.

After the run the sandbox's delivered log is checked against the items of the calls the
server answered without error: *lost* = an item of such a call not delivered (an item the
call reported ``failed`` counts here too: the load generator keeps only whether a call
failed), *duplicated* = delivered more than once. In the same run the floor (bare MCPServer
``echo``, :mod:`bench.floor`) takes the same call rate for ``--floor-seconds``.

Reports: delivered items/s, per-call latency p50/p90/p99/max, server CPU s per 1000 items and
ms per call (with its ratio to the floor's per call), peak RSS, 429s, lost, duplicated and
pacing utilization (as swarm-send).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bench import _results
from bench._load import LoadConfig, LoadResult, Plan, Transport, run_load
from bench._scenario import load_figures
from bench._serve import Swarm
from bench._world import control, delivered_contents
from bench.swarm_chat import total_429s
from bench.swarm_send import add_world_arguments, delivery_figures, fit_world, swarm_runs

TAG = "bulk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_world_arguments(
        parser,
        rate_help="items (messages) per second offered in total (default 1000)",
        floor_help="timed seconds of the floor run at the same call rate (0: skip; default 20)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        metavar="N",
        help="items per send_messages call, 1 to 50 (default: --channels, one per channel)",
    )


def main(args: argparse.Namespace) -> int:
    fit_world(args)
    args.batch = args.batch or args.channels
    if not 1 <= args.batch <= 50:
        raise SystemExit(
            f"--batch must be 1 to 50 (send_messages takes 50 items), not {args.batch}"
        )
    out = args.out or _results.default_out("bulk")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


def item_tags(session: int, n: int, batch: int) -> list[str]:
    """The contents of session ``session``'s call ``n``: one unique tag per item."""
    return [f"{TAG} {session} {n} {i}" for i in range(batch)]


def bulk_plan(channels: tuple[int, ...], batch: int) -> Plan:
    """``send_messages`` of ``batch`` items, item i of call n in channel ``(n*batch + i)``."""

    def plan(session: int, n: int) -> tuple[str, dict[str, Any]]:
        messages = [
            {"channel_id": str(channels[(n * batch + i) % len(channels)]), "content": tag}
            for i, tag in enumerate(item_tags(session, n, batch))
        ]
        return "send_messages", {"messages": messages, "delivery": "sync"}

    return plan


async def _run(
    args: argparse.Namespace, world: Swarm, transport: Transport
) -> tuple[LoadResult, dict[str, Any]]:
    plans = {s: bulk_plan(bot.channel_ids, args.batch) for s, bot in enumerate(world.bots)}
    sampler = world.sampler()
    config = LoadConfig(
        transport=transport,
        base_url=world.server.base,
        keys=[world.keys[bot.name] for bot in world.bots],
        seconds=args.seconds,
        warmup=args.warmup,
        rate=args.rate / args.batch,
        label=f"bulk {transport}",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        result = await run_load(config, lambda s, n: plans[s](s, n))
        await trio.sleep(sampler.interval)
        nursery.cancel_scope.cancel()
    figures = load_figures(result, sampler, server="server", per="call")
    all_channels = [c for bot in world.bots for c in bot.channel_ids]
    contents = await trio.to_thread.run_sync(
        control, world.sandbox.http_url, partial(delivered_contents, channels=all_channels)
    )
    counters = await trio.to_thread.run_sync(control, world.sandbox.http_url, total_429s)
    delivered = Counter(contents)
    sent = {tag for r in result.records for tag in item_tags(r.session, r.n, args.batch)}
    acked = {tag for r in result.records if r.ok for tag in item_tags(r.session, r.n, args.batch)}
    figures.update({"offered_items_per_s": args.rate, "items_per_call": args.batch})
    figures.update(
        delivery_figures(world, sampler, result, figures, sent, acked, delivered, TAG + " ", args)
    )
    figures["http_429s"] = counters
    return result, figures


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs, records, notes = await swarm_runs(
        args, "bench-bulk-", _run, floor_rate=args.rate / args.batch
    )
    config = {
        "agents": args.agents,
        "channels_per_agent": args.channels,
        "guilds": args.guilds,
        "offered_items_per_s": args.rate,
        "items_per_call": args.batch,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "sandbox_rate_limits": args.rate_limits,
    }
    notes.append(
        "Latency and CPU per call are per send_messages call (items_per_call items each); "
        "cpu_x_floor compares our CPU per bulk call with the floor's per echo call."
    )
    return _results.write(
        out, "bulk", runs, records, seconds=args.seconds, config=config, notes=notes
    )
