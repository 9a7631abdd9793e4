"""The benchmarks' Discord: a generated seed of bots, guilds and channels; a sandbox process.

:func:`build_seed` writes the seed of N bots spread over G guilds (every bot a member of its
guild; the seed's default ``@everyone`` permissions let them read and send). Channels are either
shared by a guild's bots (``per_bot=False``: C text channels per guild, the sandbox scenario) or
owned (``per_bot=True``: C text channels per bot, named ``<bot>-<n>``, hidden from ``@everyone``
and shown to their bot alone, so each agent's channels are its own: Discord's per-channel
message bucket is the agent's alone and a message is dispatched to its sender's gateway only,
not to every bot of the guild).

:func:`sandbox_process` starts ``python -m mcp_edge sandbox --port 0 --seed FILE``
(``mcp-discord sandbox``) as a subprocess, optionally ``--no-rate-limits``, under cProfile or
uvloop, reads the base and gateway URLs from its banner and stops it on exit (SIGTERM, then
SIGKILL after 10 s). It runs on asyncio and trio alike (anyio).

:func:`control` runs a :class:`~discord_io.sandbox.control_client.SandboxControl` coroutine
(the control API's client is aiohttp, so asyncio) to completion on a fresh event loop: from a
worker thread when the caller is on trio (``await trio.to_thread.run_sync(control, ...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.abc
import attrs

from discord_io.sandbox import make_token
from discord_io.sandbox.control_client import SandboxControl

_DISCORD_EPOCH_MS = 1_420_070_400_000
_ID_BASE = (1_704_067_200_000 - _DISCORD_EPOCH_MS) << 22  # ids minted at 2024-01-01
_STARTUP_TIMEOUT = 60.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

T = TypeVar("T")


# -- the seed ----------------------------------------------------------------------------------


@attrs.frozen
class BotRef:
    """One seeded bot: its name, id, token and the text channels it uses."""

    name: str
    id: int
    token: str
    channel_ids: tuple[int, ...]
    """Its guild's text channels (shared), or its own ones (``per_bot``)."""


PRIVILEGED = ("message_content", "guild_members", "guild_presences")
"""Every privileged intent: what an ``mcp-discord serve`` agent may ask for."""


def build_seed(
    bots: int,
    guilds: int,
    channels: int,
    *,
    per_bot: bool = False,
    privileged: Sequence[str] = (),
    prefix: str = "bench",
) -> tuple[dict[str, Any], list[BotRef]]:
    """The seed file's content and, for each bot (by id), its token and channels.

    ``channels`` is per guild, or per bot with ``per_bot``. Bots are dealt round robin over
    the guilds; ``guilds`` may not exceed ``bots``. ``privileged``: the privileged intents
    every bot's application has enabled (:data:`PRIVILEGED` for the server's agents).
    """
    if not 1 <= guilds <= bots:
        raise ValueError(f"need 1 <= guilds <= bots, got {guilds} guilds for {bots} bots")
    ids = itertools.count(_ID_BASE + 1)
    owner = {"name": "owner", "id": str(next(ids)), "status": "online"}
    seeded = []
    for i in range(bots):
        bot_id = next(ids)
        name = f"{prefix}-{i:03d}"
        bot: dict[str, Any] = {"name": name, "id": str(bot_id), "token": make_token(bot_id, name)}
        if privileged:
            bot["privileged_intents"] = list(privileged)
        seeded.append(bot)
    seed_guilds = []
    refs: list[BotRef] = []
    for g in range(guilds):
        members = seeded[g::guilds]
        entries: list[dict[str, Any]] = []
        if per_bot:
            for bot in members:
                own = tuple(next(ids) for _ in range(channels))
                private = [
                    {"role": "@everyone", "deny": ["view_channel"]},
                    {"member": bot["name"], "allow": ["view_channel"]},
                ]
                entries += [
                    {
                        "name": f"{bot['name']}-{c}",
                        "id": str(cid),
                        "type": "text",
                        "overwrites": private,
                    }
                    for c, cid in enumerate(own)
                ]
                refs.append(BotRef(bot["name"], int(bot["id"]), bot["token"], own))
        else:
            shared = tuple(next(ids) for _ in range(channels))
            entries = [
                {"name": f"load-{c}", "id": str(cid), "type": "text"}
                for c, cid in enumerate(shared)
            ]
            refs += [BotRef(b["name"], int(b["id"]), b["token"], shared) for b in members]
        seed_guilds.append(
            {
                "name": f"{prefix} guild {g}",
                "id": str(next(ids)),
                "owner": "owner",
                "members": [{"user": "owner"}] + [{"user": bot["name"]} for bot in members],
                "channels": entries,
            }
        )
    refs.sort(key=lambda ref: ref.id)
    return {"users": [owner], "bots": seeded, "guilds": seed_guilds}, refs


# -- the sandbox process -----------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


WRAPPED_CLI = """
import asyncio, cProfile, sys, time
out, loop, sys.argv = sys.argv[1], sys.argv[2], ["mcp-discord", *sys.argv[3:]]
if loop == "uvloop":  # anyio.run on asyncio makes its loop through the policy
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
from mcp_edge.cli import main
if not out:
    main()
    sys.exit(0)
profiler = cProfile.Profile(time.thread_time)  # CPU time: waiting for the load costs nothing
profiler.enable()
try:
    main()
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""
"""``mcp-discord`` as ``python -c`` with argv ``PROFILE LOOP ARGS...``: under cProfile when
PROFILE is a path, on uvloop when LOOP is ``uvloop``; otherwise exactly the command."""


@attrs.define
class SandboxProcess:
    """A running ``mcp-discord sandbox``: the process and the URLs its banner gave."""

    process: anyio.abc.Process
    http_url: str
    """Without ``/api/v10``: the control API is under ``http_url + "/_sandbox"``."""
    gateway_url: str

    @property
    def api_url(self) -> str:
        """The REST base a client (``discord_api_url``) talks to."""
        return self.http_url + "/api/v10"

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def sandbox_process(
    seed_file: Path,
    log_file: Path,
    *,
    rate_limits: bool = True,
    uvloop: bool = False,
    profile: Path | None = None,
) -> AsyncIterator[SandboxProcess]:
    """Start the sandbox with ``seed_file`` (its stderr into ``log_file``); stop it on exit."""
    command = [sys.executable, "-m", "mcp_edge", "sandbox", "--port", "0", "--seed", str(seed_file)]
    if not rate_limits:
        command.append("--no-rate-limits")
    if profile is not None or uvloop:  # profile stats are written when it exits on SIGTERM
        loop = "uvloop" if uvloop else "asyncio"
        command[1:3] = ["-c", WRAPPED_CLI, str(profile or ""), loop]
    with log_file.open("wb") as log:
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=log)
    try:
        banner = await _read_banner(process, log_file)
        base = banner["base URL"]
        yield SandboxProcess(process, base.removesuffix("/api/v10"), banner["gateway URL"])
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


async def _read_banner(process: anyio.abc.Process, log_file: Path) -> dict[str, str]:
    assert process.stdout is not None
    found: dict[str, str] = {}
    buffer = b""
    with anyio.move_on_after(_STARTUP_TIMEOUT):
        async for chunk in process.stdout:
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("base URL", "gateway URL") and value.strip():
                    found[key.strip()] = value.strip()
            if len(found) == 2:
                return found
    log = anyio.Path(log_file)
    tail = (await log.read_text(errors="replace"))[-2000:] if await log.exists() else ""
    raise RuntimeError(f"the sandbox did not start (no base URL on stdout); its log:\n{tail}")


# -- the control API ---------------------------------------------------------------------------


def control(http_url: str, call: Callable[[SandboxControl], Awaitable[T]]) -> T:
    """``call(control)`` against the sandbox at ``http_url``, on a fresh asyncio loop."""

    async def run() -> T:
        async with SandboxControl(http_url) as client:
            return await call(client)

    return asyncio.run(run())


async def delivered_contents(client: SandboxControl, channels: list[int]) -> list[str]:
    """The content of every message the sandbox created in ``channels`` (deleted included)."""
    contents: list[str] = []
    for channel in channels:
        contents += [m.content for m in await client.delivered(channel)]
    return contents


__all__ = [
    "PRIVILEGED",
    "WRAPPED_CLI",
    "BotRef",
    "SandboxProcess",
    "build_seed",
    "control",
    "delivered_contents",
    "process_cpu_seconds",
    "sandbox_process",
]
