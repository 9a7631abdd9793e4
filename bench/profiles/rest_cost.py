"""CPU of one ``send_message`` through :class:`~discord_io.agent_client.AgentClient`, alone.

``python -m bench.profiles.rest_cost [--calls N] [--rounds R] [--headers] [--top K]
[--cprofile FILE]`` starts the sandbox in-process but on its own thread (its own event loop,
through an anyio blocking portal), connects one agent (``scribe``, with an
:class:`~actors.EgressBudget` as the server wires it) on the main thread, and times ``--calls``
sequential ``AgentClient.send_message`` calls: message params, discord.py's
``HTTPClient.request``, aiohttp, our response observer (route counts, egress, rate-limit
headers) and the translation to :class:`~actors.discord_port.SentMessage`.

Per round it prints the main thread's CPU per call (``time.thread_time``: our side only, the
sandbox's thread excluded), the whole process's (``time.process_time``, sandbox included) and
the wall time per call. A last round runs under cProfile (the main thread only) and prints the
top ``--top`` entries by internal time and by cumulative time.

The sandbox runs without rate limits (as ``mcp-discord sandbox --no-rate-limits``), so no
answer carries ``X-RateLimit-*`` headers and pacing never waits. ``--headers`` instead gives it
limits too generous to reach, so every answer carries them as Discord's do, and the header
parsing is part of the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

import anyio
import anyio.from_thread

from actors.discord_port import AgentCapabilities
from actors.egress import EgressBudget
from discord_io._endpoint import point_discord_py_at
from discord_io.agent_client import AgentClient
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig, sandbox_server
from discord_io.sandbox._ratelimits import DEFAULT_BUCKETS


def _config(headers: bool) -> SandboxConfig:
    if not headers:
        return SandboxConfig(rate_limits=None)
    many = 10_000_000
    limits = RateLimitConfig(global_limit=many, default_limit=many)
    for spec in DEFAULT_BUCKETS:
        limits = limits.override(spec.name, limit=many)
    return SandboxConfig(rate_limits=limits)


async def _sends(agent: AgentClient, channel: int, calls: int) -> None:
    for i in range(calls):
        await agent.send_message(channel, f"rest cost {i}", nonce=None)


async def _bench(sandbox: Sandbox, args: argparse.Namespace) -> None:
    point_discord_py_at(sandbox.base_url)
    channel = sandbox.channel_id("bot-lab")
    agent = AgentClient(
        agent="scribe",
        token=sandbox.bot("scribe").token,
        capabilities=AgentCapabilities(message_content=True, members=True),
        identify_delay=0.0,
        guild_ready_timeout=0.1,
        egress=EgressBudget(),
    )
    async with anyio.create_task_group() as tg:
        await tg.start(agent.run)
        try:
            await agent.wait_ready(10)
            await _sends(agent, channel, 100)  # warm up: connections, buckets, caches
            thread_ms: list[float] = []
            for r in range(args.rounds):
                wall0, cpu0, proc0 = time.perf_counter(), time.thread_time(), time.process_time()
                await _sends(agent, channel, args.calls)
                cpu = (time.thread_time() - cpu0) / args.calls * 1000
                proc = (time.process_time() - proc0) / args.calls * 1000
                wall = (time.perf_counter() - wall0) / args.calls * 1000
                thread_ms.append(cpu)
                print(
                    f"round {r}: ours (main thread) {cpu:.3f} ms CPU/call; "
                    f"process {proc:.3f} ms; wall {wall:.3f} ms"
                )
            print(
                f"over {args.rounds} rounds of {args.calls}: median "
                f"{statistics.median(thread_ms):.3f}, best {min(thread_ms):.3f} ms CPU/call "
                "(main thread)"
            )
            profile = cProfile.Profile(time.thread_time)  # CPU: not the GIL waits
            profile.enable()
            await _sends(agent, channel, args.calls)
            profile.disable()
        finally:
            agent.stop()
    rest = agent.statistics().rest
    print("REST answers:", ", ".join(f"{c.route} {c.status}: {c.count}" for c in rest))
    if args.cprofile is not None:
        profile.dump_stats(args.cprofile)
    stats = pstats.Stats(profile)
    for order in ("tottime", "cumulative"):
        print(f"--- cProfile, {args.calls} calls, by {order}")
        stats.sort_stats(order).print_stats(args.top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--headers", action="store_true", help="answers carry X-RateLimit-*")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--cprofile", type=Path, default=None, help="also write the profile")
    args = parser.parse_args()
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(sandbox_server(config=_config(args.headers))) as sandbox,
    ):
        anyio.run(_bench, sandbox, args, backend="asyncio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
