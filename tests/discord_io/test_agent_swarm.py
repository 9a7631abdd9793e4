"""Many agents in one process: 24 bots connect at once, talk, and stop cleanly; the bench runs."""

from __future__ import annotations

import functools

import anyio
import pytest
from tests.discord_io.agent_helpers import event_stream, next_event

from actors.discord_port import AgentCapabilities, ConnectionState, MessageCreated
from bench import agents as agents_bench
from discord_io._endpoint import point_discord_py_at, point_discord_py_at_discord
from discord_io.agent_client import AgentClient
from discord_io.sandbox import SandboxConfig, Seed, sandbox_server

BOTS = 24


@pytest.mark.anyio
async def test_two_dozen_agents_connect_concurrently_in_one_process() -> None:
    """24 agents start together, all reach READY, each can send, one sees the others' messages,
    and all stop with the task group."""
    seed = Seed.from_mapping(agents_bench.swarm_seed(BOTS, guilds=1, channels=2))
    send, events = event_stream(capacity=10 * BOTS)
    with anyio.fail_after(30), send, events:
        async with sandbox_server(seed, config=SandboxConfig(rate_limits=None)) as sandbox:
            point_discord_py_at(sandbox.base_url)
            try:
                agents = [
                    AgentClient(
                        agent=bot.name,
                        token=bot.token,
                        capabilities=AgentCapabilities(message_content=True),
                        sink=send if i == 0 else None,
                        identify_delay=0.0,
                        guild_ready_timeout=0.1,
                    )
                    for i, bot in enumerate(sandbox.bots)
                ]
                channel_id = sandbox.channel_id("work-0")
                async with anyio.create_task_group() as tg:
                    for agent in agents:
                        await tg.start(agent.run)
                    async with anyio.create_task_group() as ready:
                        for agent in agents:
                            ready.start_soon(agent.wait_ready, 20)
                    assert all(a.state is ConnectionState.READY for a in agents)
                    assert sandbox.counters()["gateway"]["connected_sessions"] == BOTS
                    async with anyio.create_task_group() as senders:
                        for agent in agents[1:]:
                            senders.start_soon(
                                functools.partial(
                                    agent.send_message,
                                    channel_id,
                                    f"hi from {agent.agent}",
                                    nonce=None,
                                )
                            )
                    seen = set()
                    while len(seen) < BOTS - 1:
                        event = await next_event(events, MessageCreated)
                        seen.add(event.message.author_name)
                    assert seen == {a.agent for a in agents[1:]}
                    for agent in agents:
                        agent.stop()
                assert all(a.state is ConnectionState.DISCONNECTED for a in agents)
            finally:
                point_discord_py_at_discord()


def test_the_agents_bench_runs_tiny() -> None:
    """``python -m bench agents`` at a tiny size: a sandbox process, every agent READY, a sane
    per-agent figure."""
    config = agents_bench.AgentsBenchConfig(agents=3, guilds=2, channels=1, warmup=1, idle=0.2)
    report = agents_bench.run(config)
    assert report.ready == 3
    assert report.rss_empty_kib <= report.rss_baseline_kib + 1024
    assert report.per_agent_kib < 10 * agents_bench.TARGET_KIB
    text = agents_bench.render_markdown(report)
    assert "**RSS per agent**" in text
    assert "3 / 3" in text
