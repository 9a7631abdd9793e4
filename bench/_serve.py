"""The real ``mcp-discord serve`` for the swarm scenarios; the processes' CPU and RSS in a run.

:func:`write_config` writes a server config for a list of seeded bots: one agent per bot (its
token in a ``chmod 600`` token file, a fresh API key whose hash goes in ``api_keys``, profile
``admin``, no quotas), ``sandbox: off`` and ``discord_api_url`` pointing at an external sandbox
process (:mod:`bench._world`). It returns the file and each agent's key.

:func:`start_server` starts the server on that config (:class:`bench._server_process
.ServerProcess`) and waits until ``GET /readyz`` answers 200 (every agent READY on the gateway).

:class:`Sampler` polls processes with psutil every ``interval`` seconds while a run lasts: CPU
seconds (user + system) and RSS, kept as a series so the report can give CPU seconds over the
timed window and the peak RSS.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx2
import psutil
import trio

from bench._server_process import ServerProcess
from bench._world import PRIVILEGED, BotRef, SandboxProcess, build_seed, sandbox_process
from mcp_edge.keys import generate_key, hash_key

_READY_TIMEOUT = 120.0


def write_config(
    folder: Path,
    bots: list[BotRef],
    api_url: str,
    *,
    log_level: str = "warning",
    extra: Mapping[str, object] | None = None,
) -> tuple[Path, dict[str, str]]:
    """Write ``folder/config.json`` (and the token files) for ``bots``; return it and the keys."""
    folder.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    agents = []
    for bot in bots:
        token_file = folder / f"{bot.name}.token"
        token_file.write_text(bot.token)
        token_file.chmod(0o600)
        key = generate_key()
        keys[bot.name] = key
        agents.append(
            {
                "name": bot.name,
                "token_file": str(token_file),
                "api_keys": [hash_key(key)],
                "profile": "admin",
            }
        )
    config = {
        "transport": "http",
        "sandbox": "off",
        "discord_api_url": api_url,
        "auth": "api_key",
        "log_level": log_level,
        "agents": agents,
        **(extra or {}),
    }
    path = folder / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path, keys


async def start_server(
    data_dir: Path, config: Path, *, env: Mapping[str, str] | None = None
) -> ServerProcess:
    """Start ``mcp-discord serve --config config``; return once every agent is READY."""
    server = await trio.to_thread.run_sync(
        lambda: ServerProcess.start(data_dir, "--config", str(config), env=env, timeout=60.0)
    )
    try:
        await wait_ready(server.base)
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)
        raise
    return server


async def wait_ready(base: str, timeout: float = _READY_TIMEOUT) -> None:
    """Poll ``base/readyz`` until it answers 200."""
    last = ""
    async with httpx2.AsyncClient(timeout=10) as http:
        with trio.move_on_after(timeout) as scope:
            while True:
                response = await http.get(base + "/readyz")
                if response.status_code == 200:
                    return
                last = response.text[:500]
                if '"state":"failed"' in response.text:
                    raise RuntimeError(f"an agent failed to start: {last}")
                await trio.sleep(0.2)
        if scope.cancelled_caught:
            raise TimeoutError(f"the server was not ready after {timeout:g} s: {last}")


@attrs.frozen
class Sample:
    """One poll of one process."""

    t: float
    """``trio.current_time()`` of the poll."""
    cpu: float
    """User + system CPU seconds so far."""
    rss: int
    """Resident set size in bytes."""


@attrs.define
class Sampler:
    """CPU seconds and RSS of named processes, polled every ``interval`` seconds."""

    pids: Mapping[str, int]
    interval: float = 0.25
    series: dict[str, list[Sample]] = attrs.field(init=False)
    _processes: dict[str, psutil.Process] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.series = {name: [] for name in self.pids}
        self._processes = {name: psutil.Process(pid) for name, pid in self.pids.items()}

    def poll(self) -> dict[str, Sample]:
        """Sample every process now (a process that has exited keeps its last sample)."""
        now = trio.current_time()
        taken = {}
        for name, process in self._processes.items():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss = process.memory_info().rss
            except psutil.Error:
                continue
            sample = Sample(now, times.user + times.system, rss)
            self.series[name].append(sample)
            taken[name] = sample
        return taken

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled."""
        self.poll()
        task_status.started()
        while True:
            await trio.sleep(self.interval)
            self.poll()

    def cpu_between(self, name: str, start: float, end: float) -> float:
        """CPU seconds ``name`` spent between two ``trio.current_time()`` instants."""
        samples = self.series[name]
        if not samples:
            return float("nan")
        before = max((s for s in samples if s.t <= start), key=lambda s: s.t, default=samples[0])
        after = min((s for s in samples if s.t >= end), key=lambda s: s.t, default=samples[-1])
        return after.cpu - before.cpu

    def peak_rss(self, name: str) -> int:
        return max((s.rss for s in self.series[name]), default=0)

    def last_rss(self, name: str) -> int:
        samples = self.series[name]
        return samples[-1].rss if samples else 0


@attrs.frozen
class Swarm:
    """A sandbox process and a server process whose agents are the sandbox's bots."""

    sandbox: SandboxProcess
    server: ServerProcess
    bots: list[BotRef]
    """One per agent (agent name = bot name), each with its own channels."""
    keys: dict[str, str]
    """API key by agent name."""

    def sampler(self, *, loadgen: bool = True) -> Sampler:
        """A sampler of the server, the sandbox and (``loadgen``) this process."""
        pids = {"server": self.server.process.pid, "sandbox": self.sandbox.pid}
        if loadgen:
            pids["loadgen"] = os.getpid()
        return Sampler(pids)


def write_seed(folder: Path, bots: int, guilds: int, channels: int) -> tuple[Path, list[BotRef]]:
    """``folder/seed.json``: ``bots`` bots over ``guilds`` guilds, ``channels`` channels each."""
    folder.mkdir(parents=True, exist_ok=True)
    seed, refs = build_seed(bots, guilds, channels, per_bot=True, privileged=PRIVILEGED)
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed))
    return seed_file, refs


@asynccontextmanager
async def swarm(
    folder: Path,
    *,
    bots: int,
    guilds: int,
    channels: int,
    rate_limits: bool,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[Swarm]:
    """Seed ``bots`` bots with ``channels`` channels each, run the sandbox and the server."""
    seed_file, refs = write_seed(folder, bots, guilds, channels)
    async with sandbox_process(seed_file, folder / "sandbox.log", rate_limits=rate_limits) as sb:
        config, keys = write_config(folder / "server", refs, sb.api_url)
        server = await start_server(folder / "data", config, env=env)
        try:
            yield Swarm(sb, server, refs, keys)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(server.stop)


__all__ = [
    "Sample",
    "Sampler",
    "Swarm",
    "start_server",
    "swarm",
    "wait_ready",
    "write_config",
    "write_seed",
]
