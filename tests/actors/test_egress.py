"""EgressBudget: the shared 401/403/429 count in a sliding 10-minute window."""

from __future__ import annotations

import anyio
import pytest
from trio.testing import MockClock

from actors import RateLimitScope
from actors.discord_port import (
    AgentLoginFailed,
    DiscordBadRequest,
    DiscordForbidden,
    DiscordNotFound,
    DiscordRateLimited,
    DiscordUnavailable,
)
from actors.egress import EgressBudget, EgressBudgetExceededError

anyio_test = pytest.mark.anyio
trio_test = pytest.mark.trio  # long virtual waits: trio's autojump clock only


@anyio_test
async def test_defaults_stop_at_half_of_discords_ten_thousand() -> None:
    """By default sending stops at 5,000 invalid requests in the window."""
    egress = EgressBudget()
    assert egress.threshold == 5000
    egress.record(403, n=4999)
    egress.check()
    egress.record(429)
    with pytest.raises(EgressBudgetExceededError) as info:
        egress.check()
    message = str(info.value)
    assert "5000 of the 10,000 invalid requests (401/403/429)" in message
    assert "per 10 minutes" in message
    assert "stops at 5,000" in message
    assert "retry after" in message
    assert info.value.used == 5000
    assert egress.statistics().refused == 1


@anyio_test
async def test_only_invalid_statuses_count() -> None:
    """401, 403 and non-shared 429 count; 404, 400, 5xx and shared-scope 429 do not."""
    egress = EgressBudget()
    assert egress.record(401)
    assert egress.record(403)
    assert egress.record(429, scope=RateLimitScope.USER)
    assert egress.record(429, scope=RateLimitScope.GLOBAL)
    assert not egress.record(429, scope=RateLimitScope.SHARED)
    assert not egress.record(404)
    assert not egress.record(400)
    assert not egress.record(503)
    assert egress.used() == 4


@anyio_test
async def test_record_error_classifies_the_port_errors() -> None:
    """The port's typed errors are counted by the status Discord answered."""
    egress = EgressBudget()
    assert egress.record_error(DiscordForbidden("send a message"))
    assert egress.record_error(DiscordRateLimited("send a message", 1.0))
    assert egress.record_error(AgentLoginFailed("alpha"))
    assert not egress.record_error(
        DiscordRateLimited("send a message", 1.0, scope=RateLimitScope.SHARED)
    )
    assert not egress.record_error(DiscordNotFound("channel 1"))
    assert not egress.record_error(DiscordBadRequest("send a message"))
    assert not egress.record_error(DiscordUnavailable("503", status=503))
    assert not egress.record_error(RuntimeError("not Discord"))
    assert egress.used() == 3


@trio_test
async def test_failures_leave_the_window_after_ten_minutes(autojump_clock: MockClock) -> None:
    """A failure counts for 600 s (rounded up to whole seconds), then ages out."""
    egress = EgressBudget(limit=4, fraction=0.5)
    egress.record(403)
    await anyio.sleep(100)
    egress.record(403)
    assert egress.wait_time() == pytest.approx(501, abs=1)
    await anyio.sleep(499)
    assert egress.used() == 2
    await anyio.sleep(2)
    assert egress.used() == 1
    egress.check()
    await anyio.sleep(100)
    assert egress.used() == 0


@trio_test
async def test_wait_time_is_when_enough_failures_age_out(autojump_clock: MockClock) -> None:
    """wait_time names the moment the count falls below the threshold, never earlier."""
    egress = EgressBudget(limit=10, fraction=0.3)
    for _ in range(5):
        egress.record(429)
        await anyio.sleep(10)
    wait = egress.wait_time()
    await anyio.sleep(wait - 0.01)
    with pytest.raises(EgressBudgetExceededError):
        egress.check()
    await anyio.sleep(0.02)
    egress.check()


@anyio_test
async def test_bad_settings_are_refused() -> None:
    """Fractions outside (0, 1], limits below 1 and non-finite windows are errors."""
    for kwargs in ({"fraction": 0.0}, {"fraction": 1.5}, {"limit": 0}, {"window": float("inf")}):
        with pytest.raises(ValueError, match="must be"):
            EgressBudget(**kwargs)
