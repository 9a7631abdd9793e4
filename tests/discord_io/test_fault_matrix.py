"""The fault matrix: every fault kind against a running Swarm, one invariant.

Every acknowledged message (each receipt ``send_message`` returned, queued or sync) is on
Discord exactly once and in acceptance order, checked against the sandbox's delivered log,
per (agent, channel): by content and by nonce, no duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import attrs
import pytest
from tests.discord_io.agent_helpers import GRANTED

from actors.agent import AgentOptions, SendReceipt
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.swarm import AgentConfig, open_swarm

pytestmark = [pytest.mark.anyio]

AGENTS = ("scribe", "herald")
CHANNELS = ("bot-lab", "general")
PER_SENDER = 6
CREATE = "POST /channels/{channel_id}/messages"
OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}
TEST_DEADLINE = 20.0
"""Absolute per test; each runs in a few seconds (discord.py waits 1 s before a 5xx retry)."""


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create limited to 5 per 0.5 s per channel: Discord's shape at test speed."""
    return SandboxConfig(
        rate_limits=RateLimitConfig(invalid_limit=200).override(
            "message-create", limit=5, window=0.5
        )
    )


Counters = dict[str, Any]


@attrs.frozen
class Fault:
    """A fault to inject mid-stream, and how the sandbox's counters show it took effect."""

    inject: Callable[[Sandbox], object]
    took_effect: Callable[[Counters], bool]


def _bots(counters: Counters) -> list[Counters]:
    return [counters["gateway"]["bots"][name] for name in AGENTS]


def _status(status: int) -> Fault:
    return Fault(
        lambda sb: sb.inject_status(2, status, route=CREATE),
        lambda c: c["rest"]["requests"][CREATE].get(str(status)) == 2,
    )


def _each_bot(act: Callable[[Sandbox, str], int]) -> Callable[[Sandbox], None]:
    def inject(sandbox: Sandbox) -> None:
        for name in AGENTS:
            assert act(sandbox, name) >= 1, f"{name} had no gateway socket to act on"

    return inject


FAULTS: dict[str, Fault] = {
    "500": _status(500),
    "502": _status(502),
    "503": _status(503),
    "504": _status(504),
    "429-route-storm": Fault(
        lambda sb: sb.inject_429(4, route=CREATE, scope="user", retry_after=0.2),
        lambda c: (
            c["rest"]["requests"][CREATE].get("429") == 4 and c["rest"]["rate_limited"]["user"] == 4
        ),
    ),
    "429-global": Fault(
        lambda sb: sb.inject_429(1, scope="global", retry_after=0.5),
        lambda c: c["rest"]["rate_limited"]["global"] == 1,
    ),
    "gateway-drop": Fault(
        _each_bot(lambda sb, name: sb.drop_gateway(name)),
        lambda c: all(bot["resumes"] >= 1 for bot in _bots(c)),
    ),
    "invalid-session": Fault(
        _each_bot(lambda sb, name: sb.invalidate_session(name, resumable=False)),
        lambda c: all(bot["identifies"] >= 2 for bot in _bots(c)),
    ),
    "outage": Fault(
        lambda sb: sb.start_outage(1.0),
        lambda c: (
            c["rest"]["refused_by_outage"] >= 1
            and all(bot["identifies"] + bot["resumes"] >= 2 for bot in _bots(c))
        ),
    ),
}


def _new_count(sandbox: Sandbox, baseline: dict[int, int]) -> int:
    """Messages created since ``baseline`` (per channel id: the log's length then)."""
    return sum(len(sandbox.delivered(c)) - n for c, n in baseline.items())


def _delivered_count(sandbox: Sandbox, channel_ids: list[int], nonces: set[str]) -> int:
    return sum(1 for c in channel_ids for m in sandbox.delivered(c) if str(m.nonce) in nonces)


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_keeps_acknowledged_sends_once_in_order(
    fault: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Two agents send (queued and sync, concurrently) to two channels while ``fault`` hits;
    each acknowledged message is delivered exactly once, in acceptance order."""
    channel_ids = [sandbox.channel_id(name) for name in CHANNELS]
    bot_ids = {name: sandbox.bot(name).id for name in AGENTS}
    configs = [
        AgentConfig(name, sandbox.bot(name).token, capabilities=GRANTED[name], options=OPTIONS)
        for name in AGENTS
    ]
    acked: dict[tuple[str, int], list[SendReceipt]] = {
        (name, c): [] for name in AGENTS for c in channel_ids
    }
    with anyio.fail_after(TEST_DEADLINE):
        async with open_swarm(
            configs, tmp_path, sandbox_url=sandbox.base_url, store_options=STORE
        ) as swarm:
            await swarm.ready(5)
            baseline = {c: len(sandbox.delivered(c)) for c in channel_ids}
            first_out = anyio.Event()

            async def sender(name: str, channel: int) -> None:
                for i in range(PER_SENDER):
                    delivery: Literal["sync", "queued"] = "sync" if i % 2 else "queued"
                    receipt = await swarm.agent(name).send_message(
                        channel, f"{name}/{channel}/{i}", delivery=delivery
                    )
                    acked[(name, channel)].append(receipt)
                    await anyio.sleep(0.02)

            async def injector() -> None:
                while _new_count(sandbox, baseline) < 2:  # noqa: ASYNC110 - polls the log
                    await anyio.sleep(0.005)
                FAULTS[fault].inject(sandbox)
                first_out.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(injector)
                for name in AGENTS:
                    for channel in channel_ids:
                        tg.start_soon(sender, name, channel)
            assert first_out.is_set()
            nonces = {r.nonce for got in acked.values() for r in got}
            assert len(nonces) == len(AGENTS) * len(channel_ids) * PER_SENDER
            while _delivered_count(sandbox, channel_ids, nonces) < len(nonces):  # noqa: ASYNC110
                await anyio.sleep(0.05)
            report = await swarm.stop(5)
    counters = sandbox.counters()
    assert FAULTS[fault].took_effect(counters), f"{fault} did not take effect: {counters}"
    assert counters["rest"]["faults_pending"] == 0
    assert counters["rest"]["banned_ips"] == []
    assert report.drained, report.pending
    for (name, channel), got in acked.items():
        new = sandbox.delivered(channel)[baseline[channel] :]
        mine = [m for m in new if m.author_id == bot_ids[name]]
        expected = sorted(got, key=lambda r: r.outbox_id)
        held_nonces = [str(m.nonce) for m in mine]
        held_contents = [m.content for m in mine]
        assert len(held_nonces) == len(set(held_nonces)), f"{name}: a nonce posted twice"
        assert len(held_contents) == len(set(held_contents)), f"{name}: a content posted twice"
        assert held_nonces == [r.nonce for r in expected], f"{name} on {channel}: order/loss"
        assert held_contents == [f"{name}/{channel}/{i}" for i in range(PER_SENDER)]
