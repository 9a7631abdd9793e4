"""A hundred agents in one Swarm: all READY fast, one message each, delivered once, clean stop."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from actors.agent import AgentOptions, ReceiptState, SendReceipt
from actors.discord_port import AgentCapabilities
from bench import agents as agents_bench
from discord_io._endpoint import point_discord_py_at, point_discord_py_at_discord
from discord_io.sandbox import SandboxConfig, Seed, sandbox_server
from discord_io.swarm import AgentConfig, SwarmState, open_swarm

pytestmark = [pytest.mark.anyio]

BOTS = 100
OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}


async def test_hundred_agents_connect(tmp_path: Path) -> None:
    """100 agents in one Swarm reach READY within a few seconds, each sends one message that
    the sandbox holds exactly once, and the swarm stops cleanly with nothing pending."""
    seed = Seed.from_mapping(agents_bench.swarm_seed(BOTS, guilds=1, channels=2))
    with anyio.fail_after(60):
        async with sandbox_server(seed, config=SandboxConfig(rate_limits=None)) as sandbox:
            point_discord_py_at(sandbox.base_url)
            try:
                assert len(sandbox.bots) == BOTS
                channels = [sandbox.channel_id("work-0"), sandbox.channel_id("work-1")]
                configs = [
                    AgentConfig(
                        bot.name,
                        bot.token,
                        capabilities=AgentCapabilities(message_content=True),
                        options=OPTIONS,
                    )
                    for bot in sandbox.bots
                ]
                receipts: list[SendReceipt] = []
                started = anyio.current_time()
                async with open_swarm(
                    configs, tmp_path, sandbox_url=sandbox.base_url, store_options=STORE
                ) as swarm:
                    await swarm.ready(15)
                    ready_after = anyio.current_time() - started
                    assert len(swarm.statistics().ready) == BOTS
                    assert sandbox.counters()["gateway"]["connected_sessions"] == BOTS

                    async def send(i: int, name: str) -> None:
                        receipts.append(
                            await swarm.agent(name).send_message(
                                channels[i % 2], f"hello from {name}", delivery="sync"
                            )
                        )

                    async with anyio.create_task_group() as tg:
                        for i, config in enumerate(configs):
                            tg.start_soon(send, i, config.name)
                    report = await swarm.stop(10)
                assert swarm.state is SwarmState.STOPPED
                assert report.drained, report.pending
                assert report.forced == ()
            finally:
                point_discord_py_at_discord()
    assert ready_after < 5, f"100 agents took {ready_after:.2f} s to reach READY"
    assert len(receipts) == BOTS
    assert all(r.state is ReceiptState.DELIVERED for r in receipts)
    held = [m for channel in channels for m in sandbox.delivered(channel)]
    nonces = [str(m.nonce) for m in held]
    contents = [m.content for m in held]
    assert len(nonces) == len(set(nonces)) == BOTS, "a message was lost or posted twice"
    assert sorted(contents) == sorted(f"hello from {c.name}" for c in configs)
    assert set(nonces) == {r.nonce for r in receipts}
