"""The composition root against the sandbox: agents, ordered shutdown, outages, no leaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from tests.discord_io.agent_helpers import GRANTED

from actors.agent import AgentOptions, AgentStoppingError, ReceiptState, SendReceipt
from actors.discord_port import ConnectionState, DiscordUnavailable
from actors.store import open_store
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.swarm import AgentConfig, Swarm, SwarmNotReadyError, SwarmState, open_swarm

pytestmark = [pytest.mark.anyio]

AGENTS = ("scribe", "herald", "courier")
OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create limited to 5 per 0.5 s per channel: Discord's shape at test speed."""
    return SandboxConfig(
        rate_limits=RateLimitConfig(invalid_limit=200).override(
            "message-create", limit=5, window=0.5
        )
    )


def configs(sandbox: Sandbox, names: Sequence[str] = AGENTS) -> list[AgentConfig]:
    return [
        AgentConfig(name, sandbox.bot(name).token, capabilities=GRANTED[name], options=OPTIONS)
        for name in names
    ]


@asynccontextmanager
async def swarm_on(
    sandbox: Sandbox, data: Path, names: Sequence[str] = AGENTS
) -> AsyncIterator[Swarm]:
    """A running swarm of ``names`` on the sandbox, every agent READY."""
    async with open_swarm(
        configs(sandbox, names), data, sandbox_url=sandbox.base_url, store_options=STORE
    ) as swarm:
        await swarm.ready(10)
        yield swarm


def held_nonces(sandbox: Sandbox, channel_id: int) -> list[str]:
    return [str(m.nonce) for m in sandbox.delivered(channel_id)]


def assert_once_in_order(sandbox: Sandbox, channel_id: int, receipts: list[SendReceipt]) -> None:
    """The channel holds each receipt's message exactly once, in acceptance order."""
    nonces = [r.nonce for r in sorted(receipts, key=lambda r: r.outbox_id)]
    held = held_nonces(sandbox, channel_id)
    assert len(held) == len(set(held)), "a message was posted twice"
    assert [n for n in held if n in set(nonces)] == nonces


async def wait_outbox_empty(swarm: Swarm, timeout: float = 20) -> None:
    with anyio.fail_after(timeout, reason="the outbox never emptied"):
        while await swarm.store.pending():  # noqa: ASYNC110 - polls the real Store
            await anyio.sleep(0.05)


async def wait_disconnected(swarm: Swarm, name: str) -> None:
    with anyio.fail_after(5, reason=f"{name} stayed READY during the outage"):
        while swarm.client(name).state is ConnectionState.READY:  # noqa: ASYNC110 - client state
            await anyio.sleep(0.01)


async def test_three_agents_send_in_order_on_several_channels(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Three agents, two channels each, concurrent senders: every message once, in order."""
    channels = [sandbox.channel_id("bot-lab"), sandbox.channel_id("general")]
    receipts: dict[tuple[str, int], list[SendReceipt]] = {}
    with anyio.fail_after(60):
        async with swarm_on(sandbox, tmp_path) as swarm:
            stats = swarm.statistics()
            assert stats.state is SwarmState.RUNNING
            assert set(stats.ready) == set(AGENTS)

            async def sender(name: str, channel: int) -> None:
                got = receipts.setdefault((name, channel), [])
                for i in range(4):
                    delivery = "sync" if i % 2 else "queued"
                    got.append(
                        await swarm.agent(name).send_message(
                            channel, f"{name} {i}", delivery=delivery
                        )
                    )

            async with anyio.create_task_group() as tg:
                for name in AGENTS:
                    for channel in channels:
                        tg.start_soon(sender, name, channel)
            await wait_outbox_empty(swarm)
            with pytest.raises(KeyError, match="agents: scribe, herald, courier"):
                swarm.agent("nobody")
        assert swarm.state is SwarmState.STOPPED
    for (_, channel), got in receipts.items():
        assert len(got) == 4
        assert_once_in_order(sandbox, channel, got)


async def test_stop_drains_accepted_sends_then_refuses_new_ones(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Queued sends accepted before stop are on Discord when stop returns; later ones are
    refused with AgentStoppingError."""
    channels = [sandbox.channel_id("bot-lab"), sandbox.channel_id("general")]
    with anyio.fail_after(60):
        async with swarm_on(sandbox, tmp_path, ("scribe",)) as swarm:
            handle = swarm.agent("scribe")
            receipts = [
                await handle.send_message(channels[i % 2], f"queued {i}", delivery="queued")
                for i in range(16)  # 8 per channel: past the 5 per 0.5 s limit
            ]
            assert any(r.state is ReceiptState.QUEUED for r in receipts)
            async with anyio.create_task_group() as tg:
                tg.start_soon(swarm.stop, 10)
                await anyio.sleep(0.01)
                with pytest.raises(AgentStoppingError, match="NOT accepted"):
                    await handle.send_message(channels[0], "too late", delivery="queued")
            report = await swarm.stop()
            assert report.drained
            assert report.forced == ()
            assert report.elapsed < 10
            for channel in channels:
                mine = [r for r in receipts if r.channel_id == channel]
                assert_once_in_order(sandbox, channel, mine)
                assert set(held_nonces(sandbox, channel)) >= {r.nonce for r in mine}
            with pytest.raises(AgentStoppingError):
                await handle.send_message(channels[0], "after stop")
    assert "too late" not in [m.content for m in sandbox.delivered(channels[0])]


async def test_stop_during_outage_keeps_rows_for_the_next_start(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Discord down: stop returns by its deadline, the rows stay pending, and the next swarm
    on the same data dir delivers them once each, in order, after recovery."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with swarm_on(sandbox, tmp_path, ("scribe",)) as swarm:
            first = await swarm.agent("scribe").send_message(channel, "before")
            assert first.state is ReceiptState.DELIVERED
            sandbox.start_outage()
            await wait_disconnected(swarm, "scribe")
            queued = [
                await swarm.agent("scribe").send_message(channel, f"during {i}", timeout=0.2)
                for i in range(5)
            ]
            assert all(r.state is ReceiptState.QUEUED for r in queued)
            started = anyio.current_time()
            report = await swarm.stop(1.5)
            assert anyio.current_time() - started < 1.5 + 1.0
            assert report.pending == {"scribe": 5}
        async with open_store(swarm.store_path) as store:
            assert [r.id for r in await store.pending("scribe")] == [r.outbox_id for r in queued]
        sandbox.end_outage()
        async with swarm_on(sandbox, tmp_path, ("scribe",)) as again:
            await wait_outbox_empty(again)
            after = await again.agent("scribe").send_message(channel, "after")
            assert after.state is ReceiptState.DELIVERED
    assert_once_in_order(sandbox, channel, [first, *queued, after])
    assert [m.content for m in sandbox.delivered(channel)][-7:] == [
        "before",
        *(f"during {i}" for i in range(5)),
        "after",
    ]


async def test_outage_reads_fail_fast_and_sends_queue(sandbox: Sandbox, tmp_path: Path) -> None:
    """While Discord is unreachable reads fail at once and sync sends come back queued; on
    recovery everything goes out in order."""
    channel = sandbox.channel_id("general")
    with anyio.fail_after(60):
        async with swarm_on(sandbox, tmp_path, ("scribe", "herald")) as swarm:
            sandbox.start_outage()
            await wait_disconnected(swarm, "scribe")
            started = anyio.current_time()
            with pytest.raises(DiscordUnavailable, match="not connected"):
                await swarm.agent("scribe").read_messages(channel)
            assert anyio.current_time() - started < 0.1
            queued = [
                await swarm.agent("scribe").send_message(channel, f"down {i}", timeout=0.2)
                for i in range(4)
            ]
            assert [r.state for r in queued] == [ReceiptState.QUEUED] * 4
            sandbox.end_outage()
            await swarm.ready(20)
            await wait_outbox_empty(swarm)
            history = await swarm.agent("scribe").read_messages(channel, limit=10)
    assert_once_in_order(sandbox, channel, queued)
    assert [m.content for m in reversed(history)][-4:] == [f"down {i}" for i in range(4)]


async def test_no_task_outlives_the_swarm(sandbox: Sandbox, tmp_path: Path) -> None:
    """After stop every task the swarm started has ended, and a second stop is a no-op."""
    before = asyncio.all_tasks()
    with anyio.fail_after(30):
        async with swarm_on(sandbox, tmp_path) as swarm:
            await swarm.agent("herald").send_message(sandbox.channel_id("bot-lab"), "hi")
            assert len(asyncio.all_tasks() - before) > len(AGENTS)
            await swarm.stop(5)
            assert swarm.state is SwarmState.STOPPED
        await swarm.stop()
        await anyio.sleep(0.05)  # let aiohttp's close callbacks run
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert leftover == [], [t.get_name() for t in leftover]


async def test_an_agent_that_cannot_log_in_stays_down_alone(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A refused token fails that agent only: the others send, its sends wait in the outbox."""
    channel = sandbox.channel_id("bot-lab")
    good = configs(sandbox, ("scribe",))
    bad = AgentConfig("herald", "not-a-token", capabilities=GRANTED["herald"], options=OPTIONS)
    with anyio.fail_after(30):
        async with open_swarm(
            [*good, bad], tmp_path, sandbox_url=sandbox.base_url, store_options=STORE
        ) as swarm:
            with pytest.raises(SwarmNotReadyError, match=r"herald \(failed\)"):
                await swarm.ready(5)
            sent = await swarm.agent("scribe").send_message(channel, "still here")
            assert sent.state is ReceiptState.DELIVERED
            held = await swarm.agent("herald").send_message(channel, "later", timeout=0.2)
            assert held.state is ReceiptState.QUEUED
            states = {a.agent: a.state for a in swarm.statistics().agents}
            assert states == {"scribe": ConnectionState.READY, "herald": ConnectionState.FAILED}
            report = await swarm.stop(1)
    assert report.pending == {"scribe": 0, "herald": 1}
    assert "later" not in [m.content for m in sandbox.delivered(channel)]
