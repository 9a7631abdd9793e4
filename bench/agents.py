"""Memory of many agents in one process: RSS per idle connected DiscordIO agent.

The target from the DiscordIO issue: 100 agents connected at once in one process, each at most
1 MB of resident memory while idle. The scenario measures exactly that, over real sockets:

1. It writes a seed (``--agents`` bots spread over ``--guilds`` guilds of ``--channels`` text
   channels each, every bot granted message_content) and starts a sandbox Discord in a separate
   process, so the sandbox's own memory is not counted.
2. In this process it imports everything, points discord.py at the sandbox, and connects
   ``--warmup`` agents first (one-time costs: aiohttp, discord.py's lazy imports, the
   allocator's first arenas). After ``gc.collect()`` it reads ``VmRSS`` from
   ``/proc/self/status``: the baseline.
3. It starts ``--agents`` :class:`~discord_io.agent_client.AgentClient` actors in one task
   group (capabilities: read messages with content, reactions, DMs; no members, no
   presences), waits until every one is READY, stays idle ``--idle`` seconds (heartbeats
   keep going), collects garbage and reads ``VmRSS`` again.
4. RSS per agent = (RSS after - baseline) / agents. It also reports the RSS with no agent at
   all, so the one-time cost of the first agents is visible, and with ``--tracemalloc`` the
   Python allocations per agent by file, to show what dominates.

PASS needs every agent READY and at most 1 MB (1024 KiB) of RSS per agent.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs

TARGET_KIB = 1024.0
"""Resident memory per idle connected agent the issue asks for."""

_STARTUP_TIMEOUT = 60.0
_READY_TIMEOUT = 120.0

_SANDBOX_SCRIPT = """
import json, sys, anyio
from discord_io.sandbox import Seed, SandboxConfig, sandbox_server

async def main():
    seed = Seed.load(sys.argv[1])
    async with sandbox_server(seed, config=SandboxConfig(rate_limits=None)) as sb:
        print(json.dumps({"base_url": sb.base_url}), flush=True)
        await anyio.sleep_forever()

anyio.run(main)
"""


@attrs.frozen
class AgentsBenchConfig:
    """Sizes of one run. The defaults are the issue's: 100 agents."""

    agents: int = 100
    guilds: int = 10
    """Bots are spread evenly over the guilds."""
    channels: int = 5
    """Text channels per guild."""
    warmup: int = 2
    """Agents connected before the baseline, so one-time costs are not counted per agent."""
    idle: float = 5.0
    """Seconds all agents sit connected and idle before the measurement."""
    tracemalloc: bool = False
    """Also trace Python allocations (slower; shows what dominates)."""


@attrs.frozen
class AgentsBenchReport:
    config: AgentsBenchConfig
    machine: dict[str, str]
    rss_empty_kib: int
    """RSS with everything imported and discord.py pointed at the sandbox, no agent yet."""
    rss_baseline_kib: int
    """RSS with the warm-up agents connected."""
    rss_after_kib: int
    """RSS with the warm-up agents and ``agents`` more connected and idle."""
    ready: int
    connect_seconds: float
    """Wall time from starting the agents to all of them READY."""
    threads: int
    """Threads in the process at the measurement (discord.py runs a heartbeat thread each)."""
    top_allocations: list[tuple[str, float]]
    """With tracemalloc: (file, KiB per agent) of the biggest Python allocators."""

    @property
    def per_agent_kib(self) -> float:
        return (self.rss_after_kib - self.rss_baseline_kib) / self.config.agents

    @property
    def per_agent_with_one_time_kib(self) -> float:
        total = self.config.agents + self.config.warmup
        return (self.rss_after_kib - self.rss_empty_kib) / total

    @property
    def passed(self) -> bool:
        return self.ready == self.config.agents and self.per_agent_kib <= TARGET_KIB


def swarm_seed(bots: int, *, guilds: int = 10, channels: int = 5) -> dict[str, Any]:
    """A seed with ``bots`` bots (``agent-000``...) spread over ``guilds`` guilds."""
    names = [f"agent-{i:03d}" for i in range(bots)]
    guild_list = []
    for g in range(guilds):
        members = names[g::guilds]
        guild_list.append(
            {
                "name": f"swarm guild {g}",
                "owner": "owner",
                "members": [{"user": "owner"}] + [{"user": name} for name in members],
                "channels": [{"name": f"work-{c}", "type": "text"} for c in range(channels)],
            }
        )
    return {
        "users": [{"name": "owner", "status": "online"}],
        "bots": [{"name": name, "privileged_intents": ["message_content"]} for name in names],
        "guilds": guild_list,
    }


def rss_kib() -> int:
    """This process's resident set size in KiB (``VmRSS``), after a full garbage collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


@contextlib.asynccontextmanager
async def _sandbox_process(seed_file: Path, log_file: Path) -> AsyncIterator[str]:
    command = [sys.executable, "-c", _SANDBOX_SCRIPT, str(seed_file)]
    with log_file.open("wb") as log:
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        buffer = b""
        with anyio.move_on_after(_STARTUP_TIMEOUT):
            async for chunk in process.stdout:
                buffer += chunk
                if b"\n" in buffer:
                    break
        if b"\n" not in buffer:
            tail = (await anyio.Path(log_file).read_text(errors="replace"))[-2000:]
            raise RuntimeError(f"the sandbox did not start; its log:\n{tail}")
        yield str(json.loads(buffer.split(b"\n", 1)[0])["base_url"])
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()


async def _measure(config: AgentsBenchConfig, base_url: str, tokens: list[tuple[str, str]]) -> Any:
    from actors.discord_port import AgentCapabilities, ConnectionState
    from discord_io._endpoint import point_discord_py_at
    from discord_io.agent_client import AgentClient

    point_discord_py_at(base_url)
    capabilities = AgentCapabilities(message_content=True)

    def agent(name: str, token: str) -> AgentClient:
        return AgentClient(
            agent=name,
            token=token,
            capabilities=capabilities,
            identify_delay=0.0,
            guild_ready_timeout=0.1,
        )

    async def all_ready(agents: list[AgentClient]) -> None:
        with anyio.fail_after(_READY_TIMEOUT, reason="not every agent reached READY"):
            async with anyio.create_task_group() as tg:
                for a in agents:
                    tg.start_soon(a.wait_ready, _READY_TIMEOUT)

    warm = [agent(n, t) for n, t in tokens[: config.warmup]]
    rest = [agent(n, t) for n, t in tokens[config.warmup :]]
    rss_empty = rss_kib()
    async with anyio.create_task_group() as tg:
        for a in warm:
            await tg.start(a.run)
        await all_ready(warm)
        await anyio.sleep(0.5)
        baseline = rss_kib()
        if config.tracemalloc:
            tracemalloc.start(1)
            before = tracemalloc.take_snapshot()
        started = time.perf_counter()
        for a in rest:
            await tg.start(a.run)
        await all_ready(rest)
        connect_seconds = time.perf_counter() - started
        await anyio.sleep(config.idle)
        after = rss_kib()
        top: list[tuple[str, float]] = []
        if config.tracemalloc:
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            stats = snapshot.compare_to(before, "filename")
            top = [
                (str(s.traceback[0].filename), s.size_diff / 1024 / len(rest)) for s in stats[:12]
            ]
        ready = sum(a.state is ConnectionState.READY for a in rest)
        import threading

        threads = threading.active_count()
        for a in warm + rest:
            a.stop()
    return baseline, after, rss_empty, ready, connect_seconds, threads, top


def run(config: AgentsBenchConfig) -> AgentsBenchReport:
    """Start the sandbox process, connect the agents in this process, measure."""
    total = config.warmup + config.agents
    seed = swarm_seed(total, guilds=config.guilds, channels=config.channels)
    from discord_io.sandbox import Seed

    state = Seed.from_mapping(seed).build()
    tokens = [(bot.name, bot.token) for bot in state.bots.values()]

    async def main() -> AgentsBenchReport:
        with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
            seed_file = Path(tmp) / "seed.json"
            seed_file.write_text(json.dumps(seed))
            async with _sandbox_process(seed_file, Path(tmp) / "sandbox.log") as base_url:
                baseline, after, empty, ready, seconds, threads, top = await _measure(
                    config, base_url, tokens
                )
        return AgentsBenchReport(
            config=config,
            machine={
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": str(os.cpu_count()),
            },
            rss_empty_kib=empty,
            rss_baseline_kib=baseline,
            rss_after_kib=after,
            ready=ready,
            connect_seconds=seconds,
            threads=threads,
            top_allocations=top,
        )

    return anyio.run(main)


def render_markdown(report: AgentsBenchReport) -> str:
    c = report.config
    lines = [
        f"## Agents: RSS per idle connected agent ({c.agents} agents, one process)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| agents READY | {report.ready} / {c.agents} (+{c.warmup} warm-up) |",
        f"| time to all READY | {report.connect_seconds:.2f} s |",
        f"| RSS, no agent | {report.rss_empty_kib / 1024:.1f} MiB |",
        f"| RSS, {c.warmup} warm-up agents (baseline) | {report.rss_baseline_kib / 1024:.1f} MiB |",
        f"| RSS, all agents idle {c.idle:g} s | {report.rss_after_kib / 1024:.1f} MiB |",
        f"| **RSS per agent** | **{report.per_agent_kib:.0f} KiB** "
        f"(target ≤ {TARGET_KIB:.0f} KiB) |",
        f"| RSS per agent incl. one-time costs | {report.per_agent_with_one_time_kib:.0f} KiB |",
        f"| threads | {report.threads} |",
        f"| result | {'PASS' if report.passed else 'FAIL'} |",
    ]
    if report.top_allocations:
        lines += ["", "Python allocations per agent (tracemalloc, by file):", ""]
        lines += [f"- {kib:7.1f} KiB  {name}" for name, kib in report.top_allocations]
    lines += ["", f"Machine: {report.machine}"]
    return "\n".join(lines)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = AgentsBenchConfig()
    parser.add_argument("--agents", type=_positive, default=defaults.agents, metavar="N")
    parser.add_argument("--guilds", type=_positive, default=defaults.guilds, metavar="N")
    parser.add_argument("--channels", type=_positive, default=defaults.channels, metavar="N")
    parser.add_argument("--warmup", type=int, default=defaults.warmup, metavar="N")
    parser.add_argument("--idle", type=float, default=defaults.idle, metavar="S")
    parser.add_argument("--tracemalloc", action="store_true", help="show Python allocators")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def main(args: argparse.Namespace) -> int:
    config = AgentsBenchConfig(
        agents=args.agents,
        guilds=min(args.guilds, args.agents + args.warmup),
        channels=args.channels,
        warmup=args.warmup,
        idle=args.idle,
        tracemalloc=args.tracemalloc,
    )
    report = run(config)
    if args.json:
        data = attrs.asdict(report)
        data["per_agent_kib"] = report.per_agent_kib
        data["passed"] = report.passed
        print(json.dumps(data, indent=2))
    else:
        print(render_markdown(report))
    return 0 if report.passed else 1
