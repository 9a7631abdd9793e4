"""Idle agents: resident memory of ``mcp-discord serve`` per connected, idle agent.

The issue's memory target: at most 1 MB of RSS per idle agent, measured on the real server
process. A sandbox process is seeded with ``--baseline`` + ``--agents`` bots (one text channel
each, every privileged intent granted), then two servers run one after the other against it:

1. the *baseline*: ``mcp-discord serve`` with ``--baseline`` agents (default 1: the server
   needs an agent to start, and the first one pays the one-time costs -- discord.py's lazy
   imports, the allocator's first arenas); once ``/readyz`` answers 200 and ``--seconds``
   seconds have passed, its RSS is the server *at rest*;
2. the *swarm*: a fresh server with ``--agents`` other agents, no load; once ``/readyz``
   answers 200 (every agent READY on the gateway) and ``--seconds`` seconds have passed, its RSS
   again. RSS per agent = (swarm RSS - baseline RSS) / (agents - baseline agents).

Then (unless ``--sessions 0``) one idle MCP client session per agent is opened over
``--transport`` (each with its agent's key; it only initializes, then stays idle) and the
server's RSS is read again after ``--seconds`` seconds: RSS per idle session. The sandbox
process's RSS is reported beside (not ours, but it shares the machine). RSS readings are the
median of the samples over the last second of each settle (psutil, every 0.25 s).
``--seconds`` is the settle time here; ``--warmup`` is unused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

from bench import _results
from bench._load import Transport, connect
from bench._scenario import MB, add_common_arguments, transports
from bench._serve import Sampler, start_server, write_config, write_seed
from bench._world import BotRef, sandbox_process

KB = 1024
TARGET_KB_PER_AGENT = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seconds=5.0, transports="http")
    parser.add_argument(
        "--agents", type=int, default=100, metavar="N", help="idle agents (default 100)"
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=1,
        metavar="N",
        help="agents of the baseline server (default 1; the server needs one to start)",
    )
    parser.add_argument(
        "--guilds", type=int, default=10, metavar="N", help="guilds the agents share (default 10)"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=None,
        metavar="K",
        help="idle MCP sessions opened after the agents are READY (default: one per agent; 0: "
        "none)",
    )


def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.agents, args.guilds = min(args.agents, 4), 1
        args.seconds = min(args.seconds, 1.0)
    if args.baseline < 1 or args.agents <= args.baseline:
        raise SystemExit("need 1 <= --baseline < --agents")
    args.guilds = max(1, min(args.guilds, args.agents))
    args.sessions = args.agents if args.sessions is None else args.sessions
    out = args.out or _results.default_out("idle")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


async def settled_rss(sampler: Sampler, seconds: float) -> dict[str, int]:
    """Poll ``seconds`` (at least 1 s); per process the median RSS of the last second."""
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        await trio.sleep(max(seconds, 1.0))
        nursery.cancel_scope.cancel()
    end = trio.current_time()
    rss = {}
    for name, samples in sampler.series.items():
        last = [s.rss for s in samples if s.t >= end - 1.0] or [s.rss for s in samples[-1:]]
        rss[name] = int(statistics.median(last)) if last else 0
    return rss


async def _server_rss(
    folder: Path,
    bots: list[BotRef],
    api_url: str,
    sandbox_pid: int,
    args: argparse.Namespace,
    transport: Transport,
) -> dict[str, Any]:
    """Run a server with ``bots`` as agents: its settled RSS, then with idle sessions."""
    config, keys = write_config(folder / "server", bots, api_url)
    started = trio.current_time()
    server = await start_server(folder / "data", config)
    figures: dict[str, Any] = {"ready_s": trio.current_time() - started}
    try:
        pids = {"server": server.process.pid, "sandbox": sandbox_pid}
        rss = await settled_rss(Sampler(pids), args.seconds)
        figures["server_rss"], figures["sandbox_rss"] = rss["server"], rss["sandbox"]
        sessions = min(args.sessions, len(bots))
        if sessions:
            async with AsyncExitStack() as stack:
                for bot in bots[:sessions]:
                    await stack.enter_async_context(connect(transport, server.base, keys[bot.name]))
                rss = await settled_rss(Sampler(pids), args.seconds)
                figures["server_rss_sessions"] = rss["server"]
                figures["sessions"] = sessions
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)
    return figures


async def _measure(args: argparse.Namespace, folder: Path, transport: Transport) -> dict[str, Any]:
    seed_file, bots = write_seed(folder, args.baseline + args.agents, args.guilds, 1)
    async with sandbox_process(seed_file, folder / "sandbox.log") as sb:
        with trio.fail_after(60):
            idle = await settled_rss(Sampler({"sandbox": sb.pid}), 1.0)
        base_args = argparse.Namespace(**{**vars(args), "sessions": 0})
        base = await _server_rss(
            folder / "baseline", bots[: args.baseline], sb.api_url, sb.pid, base_args, transport
        )
        full = await _server_rss(
            folder / "swarm", bots[args.baseline :], sb.api_url, sb.pid, args, transport
        )
    added = args.agents - args.baseline
    per_agent_kb = (full["server_rss"] - base["server_rss"]) / added / KB
    figures: dict[str, Any] = {
        "agents": args.agents,
        "baseline_agents": args.baseline,
        "ready_s": full["ready_s"],
        "server_rss_baseline_mb": base["server_rss"] / MB,
        "server_rss_agents_mb": full["server_rss"] / MB,
        "rss_kb_per_agent": per_agent_kb,
        "target_kb_per_agent": TARGET_KB_PER_AGENT,
        "meets_target": per_agent_kb <= TARGET_KB_PER_AGENT,
    }
    if "server_rss_sessions" in full:
        sessions = full["sessions"]
        figures["sessions"] = sessions
        figures["server_rss_sessions_mb"] = full["server_rss_sessions"] / MB
        figures["rss_kb_per_session"] = (
            (full["server_rss_sessions"] - full["server_rss"]) / sessions / KB
        )
    figures["sandbox_rss_idle_mb"] = idle["sandbox"] / MB
    figures["sandbox_rss_agents_mb"] = full["sandbox_rss"] / MB
    return figures


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        for transport in transports(args.transport):
            runs[transport] = await _measure(args, Path(tmp) / transport, transport)
    config = {
        "agents": args.agents,
        "baseline_agents": args.baseline,
        "guilds": args.guilds,
        "sessions": args.sessions,
        "settle_s": args.seconds,
    }
    notes = [
        "rss_kb_per_agent = (server RSS with the agents READY - baseline server RSS) / "
        "(agents - baseline agents); rss_kb_per_session: RSS added per idle MCP session on top. "
        "Target: <= 1024 KiB per idle agent. No calls are made, so the plots are empty.",
    ]
    records: dict[str, list[Any]] = {name: [] for name in runs}
    return _results.write(
        out, "idle", runs, records, seconds=args.seconds, config=config, notes=notes
    )
