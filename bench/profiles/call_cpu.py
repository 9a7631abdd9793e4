"""Server CPU per tool call: ``mcp-discord serve`` against the bare SDK, each in its own process.

``python -m bench.profiles.call_cpu [--calls N] [--cprofile FILE]`` starts three processes:

- the sandbox Discord (``mcp-discord sandbox --no-rate-limits``), so its CPU is not ours;
- ``mcp-discord serve --transport http`` against it (``discord_api_url``), one admin agent with
  an API key (optionally under ``python -m cProfile -o FILE``: the profile is written when the
  server stops);
- the floor: a bare MCPServer with an ``echo`` tool (:mod:`bench.profiles.floor_server`);

then, from this process, one SDK client per era calls each tool ``--calls`` times in sequence
and reads each process's CPU seconds (psutil, all threads) before and after. Prints, per era and
tool: client-side p50/p99 latency, server CPU ms per call, sandbox CPU ms per call, and the
server's CPU as a multiple of the floor's echo in the same era.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_edge.keys import generate_key, hash_key


class _Child:
    """A subprocess whose stdout lines are read by a thread into a queue."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MCP_DISCORD_")}
        environ.update(env or {})
        self.process = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(target=self._pump, args=(self.process.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, False), daemon=True).start()

    def _pump(self, stream: Any, out: bool) -> None:
        for line in stream:
            if out:
                self.lines.put(line)
            else:
                self.errors.append(line)

    def read_until(self, prefix: str, timeout: float = 30.0) -> list[str]:
        """Stdout lines up to and including the first that starts with ``prefix``."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"no {prefix!r} line from {self.process.args}:\n{''.join(self.errors[-20:])}"
                ) from None
            got.append(line)
            if line.strip().startswith(prefix):
                return got

    def cpu(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def worker_cpu(self) -> float:
        """CPU seconds of every thread but the main one (SQLite writes, fsyncs, to_thread)."""
        pid = self.process.pid
        threads = psutil.Process(pid).threads()
        return float(sum(t.user_time + t.system_time for t in threads if t.id != pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start_sandbox() -> tuple[_Child, str, dict[str, str]]:
    child = _Child([sys.executable, "-m", "mcp_edge", "sandbox", "--no-rate-limits"])
    lines = child.read_until("base URL:")
    lines += child.read_until("bots:")
    tokens: dict[str, str] = {}
    while True:
        try:
            line = child.lines.get(timeout=1.0)
        except queue.Empty:
            break
        parts = line.split()
        if not line.startswith("  ") or len(parts) != 2:
            break
        tokens[parts[0]] = parts[1]
    base = next(line.split()[-1] for line in lines if line.startswith("base URL:"))
    return child, base, tokens


def _start_server(
    data: Path, base: str, token: str, key: str, cprofile: Path | None, auth: str = "api_key"
) -> tuple[_Child, str]:
    (data / "scribe.token").write_text(token)
    (data / "scribe.token").chmod(0o600)
    config = data / "mcp-discord.yaml"
    config.write_text(
        f"transport: http\nport: 0\nauth: {auth}\ndata_dir: {data / 'data'}\n"
        f"discord_api_url: {base}\nlog_level: warning\n"
        "agents:\n"
        f"  - {{name: scribe, token_file: scribe.token, api_keys: ['{hash_key(key)}'],\n"
        "     profile: admin, budget: {rate: 1000}, default: true}\n"
    )
    prefix = [sys.executable]
    if cprofile is not None:
        prefix += ["-m", "cProfile", "-o", str(cprofile)]
    child = _Child([*prefix, "-m", "mcp_edge", "serve", "--config", str(config)])
    lines = child.read_until("Serving until", timeout=60)
    url = next(line.split()[2] for line in lines if "MCP endpoint:" in line)
    return child, url


def _start_floor(json_response: bool) -> tuple[_Child, str]:
    argv = [sys.executable, "-m", "bench.profiles.floor_server"]
    child = _Child(argv + (["--json-response"] if json_response else []))
    lines = child.read_until("Serving until")
    url = next(line.split()[2] for line in lines if "MCP endpoint:" in line)
    return child, url


async def _series(
    client: Client,
    calls: int,
    server: _Child,
    sandbox: _Child | None,
    tool: str,
    arguments: Any,
) -> dict[str, float]:
    """``calls`` sequential calls of ``tool``; ``arguments(i)`` gives the i-th arguments."""
    for i in range(min(20, calls)):  # warm-up: caches, lazy imports
        await client.call_tool(tool, arguments(-1 - i))
    samples: list[float] = []
    cpu0 = server.cpu()
    workers0 = server.worker_cpu()
    sb0 = sandbox.cpu() if sandbox else 0.0
    for i in range(calls):
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments(i))
        samples.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
    cpu = server.cpu() - cpu0
    workers = server.worker_cpu() - workers0
    sb = (sandbox.cpu() - sb0) if sandbox else 0.0
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "server_cpu_ms": cpu / calls * 1000,
        "worker_cpu_ms": workers / calls * 1000,
        "sandbox_cpu_ms": sb / calls * 1000,
    }


async def _ours(
    url: str, key: str, mode: str, calls: int, server: _Child, sandbox: _Child, only: str | None
) -> dict[str, dict[str, float]]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            guilds = (await client.call_tool("list_guilds", {})).structured_content or {}
            guild = guilds["guilds"][0]["id"]
            listed = await client.call_tool("list_channels", {"guild_id": guild})
            text = [
                c["id"]
                for c in (listed.structured_content or {})["channels"]
                if c["type"] == "text" and c["name"] != "staff"
            ]
            tools: dict[str, Callable[[int], dict[str, Any]]] = {
                "list_guilds": lambda i: {},
                "list_channels": lambda i: {"guild_id": guild},
                "read_messages": lambda i: {"channel_id": text[i % len(text)], "limit": 10},
                "send_message": lambda i: {
                    "channel_id": text[i % len(text)],
                    "content": f"cpu {mode} {i}",
                },
            }
            return {
                tool: await _series(client, calls, server, sandbox, tool, arguments)
                for tool, arguments in tools.items()
                if only is None or tool == only
            }


async def _floor(url: str, mode: str, calls: int, server: _Child) -> dict[str, float]:
    async with httpx2.AsyncClient(timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            return await _series(client, calls, server, None, "echo", lambda i: {"text": "hi"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cprofile", type=Path, default=None, help="profile the server here")
    parser.add_argument("--json-response", action="store_true", help="the floor with json")
    parser.add_argument("--auth", choices=("api_key", "none"), default="api_key")
    parser.add_argument("--only", default=None, help="call only this tool of ours")
    parser.add_argument("--eras", default="auto,legacy", help="modes: auto, legacy or both")
    args = parser.parse_args(argv)
    key = generate_key()
    rows: list[tuple[str, str, str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sandbox, base, tokens = _start_sandbox()
        children = [sandbox]
        try:
            server, url = _start_server(
                Path(tmp), base, tokens["scribe"], key, args.cprofile, args.auth
            )
            children.append(server)
            floor, floor_url = _start_floor(args.json_response)
            children.append(floor)
            for mode in args.eras.split(","):
                era = "2026-07-28" if mode == "auto" else "2025-11-25"
                echo = anyio.run(_floor, floor_url, mode, args.calls, floor)
                rows.append((era, "floor", "echo", echo))
                ours = anyio.run(_ours, url, key, mode, args.calls, server, sandbox, args.only)
                rows += [(era, "ours", tool, f) for tool, f in ours.items()]
        finally:
            for child in reversed(children):
                child.stop()
    floors = {era: f["server_cpu_ms"] for era, who, _t, f in rows if who == "floor"}
    print(f"calls per row: {args.calls}")
    print(
        "| era | server | tool | p50 ms | p99 ms | server CPU ms/call | x floor "
        "| workers ms/call | sandbox CPU ms/call |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for era, who, tool, f in rows:
        ratio = f["server_cpu_ms"] / floors[era] if floors[era] else float("nan")
        print(
            f"| {era} | {who} | {tool} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | "
            f"{f['server_cpu_ms']:.2f} | {ratio:.2f} | {f['worker_cpu_ms']:.2f} | "
            f"{f['sandbox_cpu_ms']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
