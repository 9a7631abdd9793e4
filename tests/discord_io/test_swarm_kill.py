"""kill -9 mid-stream, restart on the same data dir: every acknowledged message is on Discord
exactly once, in acknowledgement order (checked against the sandbox's delivered log)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig

pytestmark = [pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ("scribe", "herald")
CHANNELS = ("general", "bot-lab", "announcements")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create at 2 per 0.25 s per channel and bot: faster than Discord's 5 per 5 s, so
    the test takes seconds, yet slower than the acks, so the kill strands acked rows."""
    return SandboxConfig(
        rate_limits=RateLimitConfig().override("message-create", limit=2, window=0.25)
    )


@attrs.frozen
class Ack:
    agent: str
    channel_id: int
    outbox_id: int
    nonce: str


@attrs.define
class Driver:
    """The swarm driver subprocess: write commands, read its lines."""

    process: Process
    lines: BufferedByteReceiveStream

    async def readline(self) -> str:
        return (await self.lines.receive_until(b"\n", 65536)).decode()

    async def expect(self, prefix: str) -> str:
        while not (line := await self.readline()).startswith(prefix):
            assert not line.startswith("error"), line
        return line

    async def send(self, agent: str, channel_id: int, text: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(f"send {agent} {channel_id} {text}\n".encode())


@asynccontextmanager
async def driver(sandbox: Sandbox, data: Path) -> AsyncIterator[Driver]:
    """Start the driver on ``data``, READY; kill it at the end if it still runs."""
    command = [
        sys.executable,
        "-m",
        "tests.discord_io.swarm_driver",
        "--sandbox",
        sandbox.base_url,
        "--data",
        str(data),
        *(arg for name in AGENTS for arg in ("--agent", f"{name}={sandbox.bot(name).token}")),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    async with await anyio.open_process(command, cwd=ROOT, env=env, stderr=None) as process:
        assert process.stdout is not None
        proc = Driver(process, BufferedByteReceiveStream(process.stdout))
        try:
            with anyio.fail_after(30, reason="the driver never became ready"):
                await proc.expect("ready")
            yield proc
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.CancelScope(shield=True):
                    await process.wait()


def delivered_nonces(sandbox: Sandbox, channels: list[int]) -> set[str]:
    return {str(m.nonce) for c in channels for m in sandbox.delivered(c)}


def parse_ack(line: str) -> Ack:
    _, agent, channel, outbox_id, nonce = line.split()
    return Ack(agent, int(channel), int(outbox_id), nonce)


async def test_kill_9_mid_stream_then_restart_delivers_every_ack_once_in_order(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """60 queued sends over 3 channels, SIGKILL after 20 acks, restart, 30 more, SIGTERM:
    every acknowledged message is delivered exactly once and in ack order per channel."""
    channels = [sandbox.channel_id(name) for name in CHANNELS]
    acks: list[Ack] = []
    written: set[str] = set()
    with anyio.fail_after(90):
        async with driver(sandbox, tmp_path) as first:
            for i in range(60):
                text = f"first-{i}"
                written.add(text)
                await first.send(AGENTS[i % 2], channels[i % 3], text)
            while len(acks) < 20:
                acks.append(parse_ack(await first.expect("ack")))
            first.process.send_signal(signal.SIGKILL)
            await first.process.wait()
            held_at_kill = delivered_nonces(sandbox, channels)
        async with driver(sandbox, tmp_path) as second:
            for i in range(30):
                text = f"second-{i}"
                written.add(text)
                await second.send(AGENTS[i % 2], channels[i % 3], text)
            while len(acks) < 50:
                acks.append(parse_ack(await second.expect("ack")))
            acked = {a.nonce for a in acks}
            with anyio.fail_after(30, reason="acknowledged messages never arrived"):
                while not acked <= delivered_nonces(sandbox, channels):  # noqa: ASYNC110 - polls the sandbox
                    await anyio.sleep(0.05)
            second.process.send_signal(signal.SIGTERM)
            stopped = await second.expect("stopped")
            assert await second.process.wait() == 0
    assert stopped.split()[1] == "0"
    stranded = {a.nonce for a in acks[:20]} - held_at_kill
    assert stranded, "every ack was delivered before the kill: nothing was replayed"
    for channel in channels:
        held = sandbox.delivered(channel)
        nonces = [str(m.nonce) for m in held]
        assert len(nonces) == len(set(nonces)), "a nonce was posted twice"
        contents = [m.content for m in held if m.content in written]
        assert len(contents) == len(set(contents)), "a message was posted twice"
        for agent in AGENTS:
            expected = [a.nonce for a in acks if a.channel_id == channel and a.agent == agent]
            assert [n for n in nonces if n in set(expected)] == expected
