"""Our per-call overhead over the SDK's, in one process, without HTTP.

``python -m bench.profiles.inprocess [--calls N] [--tool NAME] [--cprofile FILE]`` runs
``mcp_edge.serve.serve`` in-process on an in-process sandbox (rate limits off), exactly as
``mcp-discord serve`` wires it (audit log, metrics, policy, one admin agent ``scribe``), builds
the same server again with :func:`~mcp_edge.server.build_server` over that runtime, and calls it
through the SDK's in-memory ``Client(server)``; alongside, a bare ``MCPServer`` with an ``echo``
tool. Reports CPU (``time.process_time``, the whole process) and wall time per call for each.

``list_guilds`` is the default tool: it never reaches the sandbox (discord.py's cache answers),
so its CPU over the echo's is the kit, the policy, the audit, metrics, logs, the actor hop and a
larger result. ``--cprofile`` profiles only the calls of ``--tool`` (not the set-up, not echo).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.server import MCPServer

from discord_io.sandbox import SandboxConfig, sandbox_server
from mcp_edge.config import load_config
from mcp_edge.logs import configure_logging
from mcp_edge.serve import Edge, serve
from mcp_edge.server import build_server


class _GcPauses:
    """Times every garbage collection (``gc.callbacks``) by generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def report(self) -> str:
        parts = []
        for generation, pauses in self.pauses.items():
            if pauses:
                parts.append(
                    f"gen{generation}: {len(pauses)} collections, max {max(pauses) * 1000:.1f} ms,"
                    f" total {sum(pauses) * 1000:.1f} ms"
                )
        return "; ".join(parts) or "no collections"


def _bare() -> MCPServer:
    server = MCPServer(name="floor", log_level="WARNING")

    @server.tool()
    async def echo(text: str) -> str:
        """Return ``text``."""
        return text

    return server


async def _block(
    client: Client,
    tool: str,
    arguments: dict[str, Any],
    calls: int,
    profile: cProfile.Profile | None,
) -> dict[str, float]:
    for _ in range(20):
        await client.call_tool(tool, arguments)
    walls: list[float] = []
    cpu0 = time.process_time()
    if profile is not None:
        profile.enable()
    for _ in range(calls):
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        walls.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"{tool}: {result.content}")
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - cpu0
    return {
        "cpu_ms": cpu / calls * 1000,
        "p50_ms": statistics.median(walls) * 1000,
        "p99_ms": sorted(walls)[int(0.99 * (calls - 1))] * 1000,
    }


async def _run(calls: int, tool: str, rounds: int, cprofile: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config_file = Path(tmp) / "mcp-discord.yaml"
        config_file.write_text(
            f"transport: http\nport: 0\nauth: none\ndata_dir: {Path(tmp) / 'data'}\n"
            "log_level: warning\n"
            "agents:\n  - {name: scribe, default: true, profile: admin}\n"
        )
        config = load_config(config_file, environ={})
        async with sandbox_server(config=SandboxConfig(rate_limits=None)) as sandbox:
            async with anyio.create_task_group() as tg:
                edge: Edge = await tg.start(
                    lambda task_status: serve(
                        config, sandbox=sandbox, signals=False, task_status=task_status
                    )
                )
                await edge.swarm.ready(10)
                ours = build_server(edge.runtime)
                profile = cProfile.Profile() if cprofile is not None else None
                arguments: dict[str, Any] = {}
                if tool == "list_channels":
                    arguments = {"guild_id": str(next(iter(sandbox.state.guilds)))}
                elif tool in ("read_messages", "send_message"):
                    arguments = {"channel_id": str(sandbox.channel_id("bot-lab"))}
                    if tool == "send_message":
                        arguments["content"] = "overhead"
                pauses = _GcPauses()
                store0 = await edge.swarm.store.statistics()
                async with Client(_bare()) as floor, Client(ours) as client:
                    for r in range(rounds):
                        echo = await _block(floor, "echo", {"text": "hi"}, calls, None)
                        mine = await _block(client, tool, arguments, calls, profile)
                        print(
                            f"round {r}: echo cpu {echo['cpu_ms']:.3f} ms/call "
                            f"(p50 {echo['p50_ms']:.3f} ms); {tool} cpu {mine['cpu_ms']:.3f} "
                            f"ms/call (p50 {mine['p50_ms']:.3f} ms, p99 {mine['p99_ms']:.3f}); "
                            f"x {mine['cpu_ms'] / echo['cpu_ms']:.2f}; "
                            f"ours - SDK = {mine['cpu_ms'] - echo['cpu_ms']:.3f} ms"
                        )
                print(f"garbage collections during the rounds: {pauses.report()}")
                store1 = await edge.swarm.store.statistics()
                made = rounds * (calls + 20)
                print(
                    f"store: {(store1.batches - store0.batches) / made:.2f} transactions and "
                    f"{(store1.messages - store0.messages) / made:.2f} messages per {tool} call "
                    f"(synchronous={store1.synchronous})"
                )
                if profile is not None and cprofile is not None:
                    profile.dump_stats(cprofile)
                edge.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tool", default="list_guilds")
    parser.add_argument("--cprofile", type=Path, default=None)
    args = parser.parse_args(argv)
    configure_logging("warning")
    anyio.run(_run, args.calls, args.tool, args.rounds, args.cprofile, backend="asyncio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
