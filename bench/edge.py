"""Tool-call latency over HTTP: one client, sequential calls, against ``mcp-discord serve``.

Starts ``mcp-discord serve --transport http`` (embedded sandbox Discord, its rate limits off so
the figures are the server's, not Discord's pacing) as a subprocess, connects the SDK's client
over streamable HTTP with a demo agent's API key, and times each tool call from the client's
side on loopback: ``send_message`` (``delivery: sync``: it returns once the sandbox Discord holds
the message), ``read_messages`` and ``list_channels``, in both protocol eras (2026-07-28, the
SDK's default; 2025-11-25, ``legacy``). Reports p50/p90/p99/max in ms.

Not a load test (the swarm scenarios are): this is what one agent sees when alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._report import machine, write_json
from bench._server_process import ServerProcess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=200, help="calls per tool and era")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(at(0.90), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _timed(samples: list[float], call: Callable[[], Awaitable[Any]]) -> Any:
    started = time.perf_counter()
    result = await call()
    samples.append(time.perf_counter() - started)
    if result.is_error:
        raise RuntimeError(f"tool call failed: {result.content}")
    return result


async def _measure(server: ServerProcess, mode: str, calls: int) -> dict[str, dict[str, float]]:
    key = server.keys["scribe"]
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        transport = streamable_http_client(server.url, http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            guilds = (await client.call_tool("list_guilds", {})).structured_content or {}
            guild = guilds["guilds"][0]["id"]
            listed = await client.call_tool("list_channels", {"guild_id": guild})
            text = [
                c["id"]
                for c in (listed.structured_content or {})["channels"]
                if c["type"] == "text" and c["name"] != "staff"
            ]
            samples: dict[str, list[float]] = {
                "send_message": [],
                "read_messages": [],
                "list_channels": [],
            }
            for i in range(calls):
                channel = text[i % len(text)]
                await _timed(
                    samples["send_message"],
                    lambda channel=channel, i=i: client.call_tool(
                        "send_message", {"channel_id": channel, "content": f"latency {mode} {i}"}
                    ),
                )
                await _timed(
                    samples["read_messages"],
                    lambda channel=channel: client.call_tool(
                        "read_messages", {"channel_id": channel, "limit": 10}
                    ),
                )
                await _timed(
                    samples["list_channels"],
                    lambda: client.call_tool("list_channels", {"guild_id": guild}),
                )
    return {tool: _percentiles(s) for tool, s in samples.items()}


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess.start(
            Path(data),
            env={"MCP_DISCORD_LOG_LEVEL": "warning", "MCP_DISCORD_SANDBOX_RATE_LIMITS": "false"},
        )
        try:
            results = {
                mode: anyio.run(_measure, server, mode, args.calls) for mode in ("auto", "legacy")
            }
        finally:
            server.stop()
    print("| era | tool | calls | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode, tools in results.items():
        era = "2026-07-28" if mode == "auto" else "2025-11-25"
        for tool, f in tools.items():
            print(
                f"| {era} | {tool} | {f['n']} | {f['p50_ms']} | {f['p90_ms']} | "
                f"{f['p99_ms']} | {f['max_ms']} |"
            )
    info = machine(["mcp", "discord.py", "uvicorn"])
    write_json(args.json, {"machine": info, "results": results})
    return 0
