"""The send path end to end: AgentActor + ChannelActors + real Store + AgentClient + sandbox.

Checks exactly-once and acceptance order against what the sandbox Discord actually holds
(``sandbox.delivered``), under 5xx, 429s, a dropped gateway and a full outage.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest
from tests.discord_io.agent_helpers import make_agent, running

from actors import StoreHandle, open_store
from actors.agent import AgentActor, AgentHandle, AgentOptions, ReceiptState
from actors.discord_port import ConnectionState, DiscordUnavailable
from actors.egress import EgressBudget
from discord_io.agent_client import AgentClient
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.sandbox.control_client import SandboxControl

pytestmark = [pytest.mark.anyio]

CREATE = "POST /channels/{channel_id}/messages"
FAST = RateLimitConfig(invalid_limit=200).override("message-create", limit=5, window=0.5)
"""Discord's shapes at test speed: 5 message creates per 0.5 s per channel."""
OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create limited to 5 per 0.5 s per channel."""
    return SandboxConfig(rate_limits=FAST)


@attrs.frozen
class Stack:
    client: AgentClient
    actor: AgentActor
    handle: AgentHandle
    store: StoreHandle
    control: SandboxControl


@asynccontextmanager
async def stack(sandbox: Sandbox, path: Path, bot: str = "scribe") -> AsyncIterator[Stack]:
    """A READY agent with its AgentActor on a real Store, and the sandbox's control API."""
    async with (
        SandboxControl(sandbox.http_url) as control,
        open_store(path, synchronous="NORMAL") as store,
        running(make_agent(sandbox, bot)) as client,
        anyio.create_task_group() as tg,
    ):
        actor = AgentActor(client, store, EgressBudget(), OPTIONS)
        await tg.start(actor.run)
        try:
            yield Stack(client, actor, actor.handle, store, control)
        finally:
            actor.stop()


def assert_once_in_order(sandbox: Sandbox, channel_id: int, nonces: list[str]) -> None:
    """The channel holds each acknowledged nonce exactly once, in acceptance order."""
    held = [str(m.nonce) for m in sandbox.delivered(channel_id)]
    assert len(held) == len(set(held)), "a message was posted twice"
    assert [n for n in held if n in set(nonces)] == nonces
    assert set(nonces) <= set(held), "an acknowledged message is missing"


async def test_concurrent_sends_under_faults_exactly_once_in_order(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Senders on two channels through 5xx, 429s and a gateway drop: once each, in order."""
    rng = random.Random(3)
    channels = [sandbox.channel_id("bot-lab"), sandbox.channel_id("general")]
    accepted: dict[int, list[tuple[int, str]]] = {c: [] for c in channels}
    with anyio.fail_after(60):
        async with stack(sandbox, tmp_path / "outbox.db") as s:

            async def sender(name: str) -> None:
                for i in range(8):
                    channel = rng.choice(channels)
                    receipt = await s.handle.send_message(
                        channel, f"{name}-{i}", delivery=rng.choice(["sync", "queued"])
                    )
                    accepted[channel].append((receipt.outbox_id, receipt.nonce))

            async def faults() -> None:
                await s.control.inject_status(3, 503, route=CREATE)
                await anyio.sleep(0.3)
                await s.control.inject_429(2, route=CREATE, retry_after=0.2)
                await anyio.sleep(0.3)
                await s.control.drop_gateway("scribe")
                await anyio.sleep(0.3)
                await s.control.inject_status(2, 502, route=CREATE)

            async with anyio.create_task_group() as tg:
                for name in "abcd":
                    tg.start_soon(sender, name)
                tg.start_soon(faults)
            while await s.store.pending("scribe"):  # noqa: ASYNC110 - polls the real Store
                await anyio.sleep(0.05)
            counters = await s.control.counters()
    for channel in channels:
        nonces = [nonce for _, nonce in sorted(accepted[channel])]
        assert_once_in_order(sandbox, channel, nonces)
    assert sum(len(v) for v in accepted.values()) == 32
    assert counters.with_status(503, CREATE) == 3
    assert counters.with_status(502, CREATE) == 2
    assert counters.with_status(429, CREATE) == 2
    assert counters.banned_ips == []


async def test_outage_reads_fail_fast_sends_queue_and_recover(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """During an outage reads fail at once and sends are queued; afterwards all go out in order."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with stack(sandbox, tmp_path / "outbox.db") as s:
            first = await s.handle.send_message(channel, "before")
            assert first.state is ReceiptState.DELIVERED
            await s.control.start_outage()
            while s.client.state is ConnectionState.READY:  # noqa: ASYNC110 - the client's state
                await anyio.sleep(0.01)
            started = anyio.current_time()
            with pytest.raises(DiscordUnavailable, match="not connected"):
                await s.handle.read_messages(channel)
            assert anyio.current_time() - started < 0.1
            queued = [
                await s.handle.send_message(channel, f"during {i}", timeout=0.2) for i in range(4)
            ]
            assert all(r.state is ReceiptState.QUEUED for r in queued)
            await s.control.end_outage()
            after = await s.handle.send_message(channel, "after", timeout=30)
            assert after.state is ReceiptState.DELIVERED
            history = await s.handle.read_messages(channel, limit=10)
    nonces = [first.nonce, *(r.nonce for r in queued), after.nonce]
    assert_once_in_order(sandbox, channel, nonces)
    assert [m.content for m in reversed(history)][-6:] == [
        "before",
        *(f"during {i}" for i in range(4)),
        "after",
    ]
