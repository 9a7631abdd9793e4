"""The floor: the MCP SDK's own cost per tool call, a bare MCPServer's echo under the same load.

Every other swarm figure is worth reading as a ratio to this one, measured in the same run on
the same machine: ``server CPU ms per call`` of ``mcp-discord serve`` over the floor's is what
our code (auth, policy, actors, Discord) adds to the SDK.

The scenario starts ``python -m bench._floor_server`` (a bare ``MCPServer`` with one ``echo``
tool, uvicorn, uvloop, no auth; /mcp, /sse and /ws) as its own process and drives it with the
swarm load generator (:mod:`bench._load`): ``--sessions`` clients calling ``echo``, closed loop
(back to back) by default or open loop at ``--rate`` calls/s. One run per transport. Reports
calls/s, latency p50/p90/p99/max, the floor server's CPU ms per call and its peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs
import trio

from bench import _results
from bench._load import LoadConfig, LoadResult, Plan, Transport, run_load
from bench._scenario import add_common_arguments, first_errors, load_figures, transports
from bench._serve import Sampler

_STARTUP_TIMEOUT = 30.0


@attrs.frozen
class FloorProcess:
    process: anyio.abc.Process
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def floor_process(log_file: Path) -> AsyncIterator[FloorProcess]:
    """``python -m bench._floor_server`` until the block ends (SIGTERM, then SIGKILL)."""
    command = [sys.executable, "-m", "bench._floor_server"]
    with log_file.open("wb") as log:
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        buffer = b""
        with anyio.fail_after(_STARTUP_TIMEOUT):
            while b"Serving until" not in buffer:
                buffer += await process.stdout.receive()
        url = next(
            line.split(":", 1)[1].strip()
            for line in buffer.decode().splitlines()
            if line.startswith("MCP endpoint:")
        )
        yield FloorProcess(process, url.removesuffix("/mcp"))
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


def echo_plan(session: int, n: int) -> tuple[str, dict[str, Any]]:
    """``echo`` with a message-sized text."""
    return "echo", {"text": f"floor message {n} from session {session}"}


async def measure(
    floor: FloorProcess,
    transport: Transport,
    *,
    seconds: float,
    warmup: float,
    sessions: int = 1,
    rate: float | None = None,
    plan: Plan = echo_plan,
) -> tuple[LoadResult, dict[str, Any]]:
    """One run of ``echo`` load against a running floor: the records and the figures."""
    sampler = Sampler({"server": floor.pid, "loadgen": os.getpid()})
    config = LoadConfig(
        transport=transport,
        base_url=floor.base_url,
        keys=[None] * sessions,
        seconds=seconds,
        warmup=warmup,
        rate=rate,
        label=f"floor {transport}",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        result = await run_load(config, plan)
        await trio.sleep(sampler.interval)
        nursery.cancel_scope.cancel()
    return result, load_figures(result, sampler, server="server")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seconds=10.0)
    parser.add_argument(
        "--sessions", type=int, default=1, metavar="K", help="concurrent clients (default 1)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="N",
        help="open loop: calls/s offered in total (default: closed loop, back to back)",
    )


def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 1.0), min(args.warmup, 0.3)
    out = args.out or _results.default_out("floor")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs: dict[str, dict[str, Any]] = {}
    records = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        async with floor_process(Path(tmp) / "floor.log") as floor:
            for transport in transports(args.transport):
                result, figures = await measure(
                    floor,
                    transport,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    sessions=args.sessions,
                    rate=args.rate,
                )
                runs[transport] = figures
                records[transport] = result.records
                notes += [f"{transport}: {e}" for e in first_errors(result)]
    config = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "sessions": args.sessions,
        "rate": args.rate or "closed loop",
    }
    return _results.write(
        out, "floor", runs, records, seconds=args.seconds, config=config, notes=notes
    )
