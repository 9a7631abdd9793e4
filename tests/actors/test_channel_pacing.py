"""ChannelActor pacing by response headers: it waits for the window's reset before sending.

A :class:`HeaderPort` is the shared :class:`~tests.actors.test_channel.FakePort` with a
Discord-style fixed window per channel: every answer carries ``X-RateLimit-*`` headers (as
``SentMessage.rate_limit``) and a request over the limit gets a 429. On trio's autojump clock
the test checks the exact instants the actor sends at.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import attrs
import pytest
from tests.actors.test_channel import FakePort, Refuse, channel_actor, settle
from trio.testing import MockClock

from actors import RateLimitHeaders
from actors.discord_port import (
    AllowedMentions,
    DiscordForbidden,
    DiscordRateLimited,
    FileUpload,
    JSONObject,
    SentMessage,
)
from actors.egress import EgressBudget

trio_test = pytest.mark.trio

LIMIT = 5
WINDOW = 5.0


@attrs.define(eq=False)
class HeaderPort(FakePort):
    """FakePort with a fixed window of ``limit`` creates per ``window`` s per channel."""

    limit: int = LIMIT
    window: float = WINDOW
    headers: bool = True
    """False: answers carry no rate-limit headers (a port that cannot see them)."""
    refused: int = 0
    """429s answered."""
    _windows: dict[int, tuple[float, int]] = attrs.field(factory=dict, init=False)
    """Per channel: when its window ends, and how many requests it counted."""

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        nonce: str | None,
        enforce_nonce: bool = True,
        reply_to: int | None = None,
        embeds: Sequence[JSONObject] = (),
        allowed_mentions: AllowedMentions | None = None,
        files: Sequence[FileUpload] = (),
    ) -> SentMessage:
        now = anyio.current_time()
        ends, used = self._windows.get(channel_id, (now, 0))
        if now >= ends:  # the first request after a reset opens a window
            ends, used = now + self.window, 0
        if used >= self.limit:
            self.refused += 1
            raise DiscordRateLimited("send a message", ends - now)
        self._windows[channel_id] = (ends, used + 1)
        sent = await super().send_message(
            channel_id, content, nonce=nonce, enforce_nonce=enforce_nonce
        )
        if not self.headers:
            return sent
        answered = anyio.current_time()
        headers = RateLimitHeaders(
            limit=self.limit,
            remaining=self.limit - used - 1,
            reset_after=ends - answered,
            reset=1_800_000_000.0 + ends,
            bucket="create",
        )
        return attrs.evolve(sent, rate_limit=headers)


@trio_test
async def test_waits_for_the_predicted_reset_before_sending(autojump_clock: MockClock) -> None:
    """12 sends at 5 per 5 s: 5 at once, then each batch exactly at the window's reset."""
    port = HeaderPort(latency=0.0)
    async with channel_actor(port) as ch:
        replies = [(await ch.accept(f"m{i}"))[1] for i in range(12)]
        for reply in replies:
            await settle(reply)
    times = [t for t, _, _ in port.calls]
    assert times == [0.0] * 5 + [5.0] * 5 + [10.0] * 2
    assert port.refused == 0
    assert port.contents(10) == [f"m{i}" for i in range(12)]
    assert ch.actor.bucket is not None
    stats = ch.actor.bucket.statistics()
    assert (stats.limit, stats.rate_limited) == (LIMIT, 0)


@trio_test
async def test_answer_delay_shifts_no_send_early(autojump_clock: MockClock) -> None:
    """With 50 ms per answer, the 6th send goes exactly when the window ends: no 429."""
    port = HeaderPort(latency=0.05)
    async with channel_actor(port) as ch:
        replies = [(await ch.accept(f"m{i}"))[1] for i in range(7)]
        for reply in replies:
            await settle(reply)
    times = [t for t, _, _ in port.calls]
    assert times[:5] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2], abs=1e-9)
    assert times[5] == pytest.approx(WINDOW, abs=1e-9)  # the window opened at 0 ends at 5
    assert times[6] == pytest.approx(WINDOW + 0.05, abs=1e-9)
    assert port.refused == 0


@trio_test
async def test_without_headers_only_429s_teach(autojump_clock: MockClock) -> None:
    """A port without headers: sends go back to back until the window's 429 stops them."""
    port = HeaderPort(latency=0.0, headers=False)
    async with channel_actor(port) as ch:
        replies = [(await ch.accept(f"m{i}"))[1] for i in range(6)]
        for reply in replies:
            await settle(reply)
    assert port.refused == 1  # the reactive path: one 429, then its retry_after is obeyed
    assert port.calls[-1][0] == pytest.approx(WINDOW)
    assert port.contents(10) == [f"m{i}" for i in range(6)]


@trio_test
async def test_errors_the_port_counted_are_not_counted_again(autojump_clock: MockClock) -> None:
    """A 403 the port's trace already counted (egress_counted) is not counted by the actor."""
    egress = EgressBudget()
    counted = DiscordForbidden("send a message", permission="send_messages")
    counted.egress_counted = True
    port = HeaderPort(latency=0.0)
    port.script(10, Refuse(counted), Refuse(DiscordForbidden("send a message")))
    async with channel_actor(port, egress=egress) as ch:
        for i in range(2):
            _, reply = await ch.accept(f"m{i}")
            with pytest.raises(DiscordForbidden):
                await settle(reply)
    assert egress.used() == 1
