"""One agent, sequential ``send_message`` through the real server and sandbox processes.

The smallest swarm: a sandbox process (``mcp-discord sandbox``, rate limits off unless
``--rate-limits``: the figure is our cost, not Discord's pacing) seeded with one bot and
``--channels`` text channels; ``mcp-discord serve`` with that bot as its one agent (profile
admin, API key, ``discord_api_url`` pointing at the sandbox); one MCP client calling
``send_message`` (``delivery: sync``: it returns once the sandbox holds the message) back to
back, rotating over the channels. One run per transport, and in the same run the floor (a bare
MCPServer's ``echo``, :mod:`bench.floor`) over the same transport, so the table gives our
latency and server CPU per call as ratios to the SDK's own.

Reports, per transport: calls/s, latency p50/p90/p99/max, server and sandbox CPU ms per call,
the server's peak RSS, and the ratios ``x floor``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

from bench import _results, floor
from bench._load import LoadConfig, Plan, run_load
from bench._scenario import add_common_arguments, first_errors, load_figures, transports
from bench._serve import swarm


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seconds=10.0)
    parser.add_argument(
        "--channels",
        type=int,
        default=10,
        metavar="N",
        help="channels the agent rotates over (default 10)",
    )
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="keep Discord's rate limits on in the sandbox (default off)",
    )
    parser.add_argument(
        "--no-floor", dest="floor", action="store_false", help="skip the floor runs"
    )


def send_plan(channels: tuple[int, ...], tag: str) -> Plan:
    """``send_message`` rotating over ``channels``; content ``<tag> <session> <n>``."""

    def plan(session: int, n: int) -> tuple[str, dict[str, Any]]:
        channel = channels[n % len(channels)]
        return "send_message", {"channel_id": str(channel), "content": f"{tag} {session} {n}"}

    return plan


def ratios(ours: dict[str, Any], base: dict[str, Any], *, per: str = "call") -> dict[str, float]:
    """Our p50 and server CPU per call as multiples of the floor's."""

    def ratio(a: float, b: float) -> float:
        return a / b if b and math.isfinite(a) and math.isfinite(b) else math.nan

    return {
        "p50_x_floor": ratio(ours["p50_ms"], base["p50_ms"]),
        "cpu_x_floor": ratio(ours[f"server_cpu_ms_per_{per}"], base["server_cpu_ms_per_call"]),
    }


def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 1.0), min(args.warmup, 0.3)
        args.channels = min(args.channels, 3)
    out = args.out or _results.default_out("latency")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs: dict[str, dict[str, Any]] = {}
    records = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        async with swarm(
            Path(tmp), bots=1, guilds=1, channels=args.channels, rate_limits=args.rate_limits
        ) as world:
            bot = world.bots[0]
            for transport in transports(args.transport):
                sampler = world.sampler()
                config = LoadConfig(
                    transport=transport,
                    base_url=world.server.base,
                    keys=[world.keys[bot.name]],
                    seconds=args.seconds,
                    warmup=args.warmup,
                    label=f"latency {transport}",
                )
                async with trio.open_nursery() as nursery:
                    await nursery.start(sampler.run)
                    result = await run_load(config, send_plan(bot.channel_ids, transport))
                    await trio.sleep(sampler.interval)
                    nursery.cancel_scope.cancel()
                figures = load_figures(result, sampler, server="server")
                ok = figures["ok"]
                sandbox_cpu = sampler.cpu_between("sandbox", *result.window)
                figures["sandbox_cpu_ms_per_call"] = 1000 * sandbox_cpu / ok if ok else math.nan
                runs[transport] = figures
                records[transport] = result.records
                notes += [f"{transport}: {e}" for e in first_errors(result)]
        if args.floor:
            async with floor.floor_process(Path(tmp) / "floor.log") as bare:
                for transport in transports(args.transport):
                    result, figures = await floor.measure(
                        bare, transport, seconds=args.seconds, warmup=args.warmup
                    )
                    runs[transport].update(ratios(runs[transport], figures))
                    runs[f"floor {transport}"] = figures
                    records[f"floor {transport}"] = result.records
    config = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "channels": args.channels,
        "sandbox_rate_limits": args.rate_limits,
        "tool": "send_message (delivery sync), closed loop, 1 agent",
    }
    return _results.write(
        out, "latency", runs, records, seconds=args.seconds, config=config, notes=notes
    )
