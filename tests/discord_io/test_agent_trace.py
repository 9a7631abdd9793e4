"""AgentClient's response observer: every REST answer feeds the egress budget and the send's bucket.

Real discord.py against the sandbox over real sockets: the 403 and the 429s are the sandbox's
own answers, seen by observe_response (the 429 that discord.py retries itself included).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import yarl
from multidict import CIMultiDict, CIMultiDictProxy
from tests.discord_io.agent_helpers import make_agent, running

from actors import RateLimitHeaders, RateLimitScope, open_store
from actors.agent import AgentActor, AgentOptions
from actors.discord_port import AgentLoginFailed, DiscordForbidden
from actors.egress import EgressBudget
from discord_io.agent_client import AgentClient, RestCount
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.sandbox.control_client import SandboxControl

pytestmark = [pytest.mark.anyio]

CREATE = "POST /channels/{channel_id}/messages"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Discord's message-create shape, 5 per 2 s per channel."""
    return SandboxConfig(
        rate_limits=RateLimitConfig().override("message-create", limit=5, window=2.0)
    )


async def test_a_real_403_is_counted_once(sandbox: Sandbox) -> None:
    """The sandbox's 403 lands in the egress budget, and the raised error says so."""
    egress = EgressBudget()
    staff = sandbox.channel_id("staff")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "sentinel", egress=egress)) as agent:
            with pytest.raises(DiscordForbidden) as refused:
                await agent.send_message(staff, "let me in", nonce=None)
    assert egress.used() == 1
    assert refused.value.egress_counted
    assert not egress.record_error(refused.value)  # a caller's count is skipped
    assert egress.used() == 1
    assert sandbox.counters()["rest"]["requests"][CREATE] == {"403": 1}


async def test_sends_carry_the_bucket_headers(sandbox: Sandbox) -> None:
    """Each SentMessage has its answer's X-RateLimit-* headers: limit, remaining, reset."""
    channel = sandbox.channel_id("bot-lab")
    egress = EgressBudget()
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe", egress=egress)) as agent:
            first = await agent.send_message(channel, "one", nonce=None)
            second = await agent.send_message(channel, "two", nonce=None)
    assert first.rate_limit is not None
    assert second.rate_limit is not None
    assert (first.rate_limit.limit, first.rate_limit.remaining) == (5, 4)
    assert (second.rate_limit.limit, second.rate_limit.remaining) == (5, 3)
    assert first.rate_limit.describes_bucket
    assert first.rate_limit.reset_after is not None
    assert 0 < first.rate_limit.reset_after <= 2.0
    assert first.rate_limit.reset == second.rate_limit.reset  # one window
    assert egress.used() == 0


async def test_retried_429s_count_and_shared_ones_do_not(sandbox: Sandbox) -> None:
    """A 429 discord.py retries itself is counted; a shared-scope 429 is not (as Discord)."""
    channel = sandbox.channel_id("bot-lab")
    egress = EgressBudget()
    with anyio.fail_after(20):
        async with (
            SandboxControl(sandbox.http_url) as control,
            running(make_agent(sandbox, "scribe", egress=egress)) as agent,
        ):
            await control.inject_429(2, route=CREATE, retry_after=0.05)
            sent = await agent.send_message(channel, "after two 429s", nonce="n-1")
            assert egress.used() == 2
            await control.inject_429(1, route=CREATE, scope="shared", retry_after=0.05)
            await agent.send_message(channel, "after a shared 429", nonce="n-2")
            counters = await control.counters()
    assert counters.with_status(429, CREATE) == 3
    assert egress.used() == 2
    assert sent.rate_limit is not None
    assert sent.rate_limit.limit == 5


async def test_the_channel_actor_waits_before_sending(sandbox: Sandbox, tmp_path: Path) -> None:
    """12 sends through AgentActor at 5 per 2 s: our bucket waits twice, the sandbox sees 0 429s."""
    channel = sandbox.channel_id("bot-lab")
    egress = EgressBudget()
    options = AgentOptions(default_timeout=20, base_backoff=0.05, max_backoff=0.5)
    with anyio.fail_after(30):
        async with (
            open_store(tmp_path / "outbox.db", synchronous="NORMAL") as store,
            running(make_agent(sandbox, "scribe", egress=egress)) as agent,
            anyio.create_task_group() as tg,
        ):
            actor = AgentActor(agent, store, egress, options)
            await tg.start(actor.run)
            try:
                for i in range(11):
                    await actor.handle.send_message(channel, f"m{i}", delivery="queued")
                last = await actor.handle.send_message(channel, "m11")
                assert last.message_id is not None
                channel_actor = actor.channel_actor(channel)
                assert channel_actor is not None
                assert channel_actor.bucket is not None
                stats = channel_actor.bucket.statistics()
            finally:
                actor.stop()
    assert (stats.limit, stats.rate_limited) == (5, 0)
    assert stats.waited >= 2  # before the 6th and the 11th send: proactive, not after a 429
    assert sandbox.counters()["rest"]["rate_limited"] == {"user": 0, "global": 0, "shared": 0}
    assert egress.used() == 0


async def test_direct_sends_past_the_limit_still_get_no_429(sandbox: Sandbox) -> None:
    """Sends that bypass the actors: discord.py waits before the 6th, no 429, no double wait."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe")) as agent:
            fifth = None
            for i in range(7):
                sent = await agent.send_message(channel, f"direct {i}", nonce=None)
                fifth = sent if i == 4 else fifth
    assert fifth is not None
    assert fifth.rate_limit is not None
    assert fifth.rate_limit.remaining == 0
    assert sandbox.counters()["rest"]["rate_limited"] == {"user": 0, "global": 0, "shared": 0}


async def test_observe_response_reads_headers_and_never_raises() -> None:
    """Unreadable headers count the status and keep no bucket; other routes keep none."""
    egress = EgressBudget()
    agent = AgentClient("offline", "no-token", egress=egress)
    url = yarl.URL("http://127.0.0.1/api/v10/channels/42/messages")
    agent.observe_response("POST", url, 429, {"X-RateLimit-Limit": "five"})
    agent.observe_response(
        "GET", url, 200, {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49"}
    )
    assert egress.used() == 1
    assert agent._create_limits == {42: RateLimitHeaders()}
    agent.observe_response("POST", url, 429, {"X-RateLimit-Scope": "shared", "Retry-After": "1"})
    assert egress.used() == 1
    assert agent._create_limits[42].scope is RateLimitScope.SHARED


async def test_every_answer_is_counted_by_route_from_the_login_on(sandbox: Sandbox) -> None:
    """The login's 401 is seen (counted once, said so); a session's answers count by template."""
    egress = EgressBudget()
    refused = make_agent(sandbox, "scribe", token="not.a-real.token", egress=egress)
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            await tg.start(refused.run)
            with pytest.raises(AgentLoginFailed) as caught:
                await refused.wait_ready(10)
    assert caught.value.egress_counted
    assert egress.used() == 1
    assert RestCount("GET /users/@me", 401, 1) in refused.statistics().rest
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe")) as agent:
            sent = await agent.send_message(channel, "counted", nonce=None)
            await agent.add_reaction(channel, sent.id, "\N{THUMBS UP SIGN}")
            await agent.send_message(channel, "counted again", nonce=None)
    counts = {(c.route, c.status): c.count for c in agent.statistics().rest}
    assert counts[("GET /users/@me", 200)] == 1
    assert counts[(CREATE, 200)] == 2
    reaction = "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
    assert counts[(reaction, 204)] == 1


async def test_observe_response_reads_aiohttp_headers_as_they_come() -> None:
    """aiohttp's case-insensitive headers are read in place: any case, same result."""
    agent = AgentClient("offline", "no-token")
    url = yarl.URL("http://127.0.0.1/api/v10/channels/42/messages")
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "x-ratelimit-limit": "5",
                "X-RATELIMIT-REMAINING": "4",
                "X-RateLimit-Reset-After": "1.5",
                "Content-Type": "application/json",
            }
        )
    )
    agent.observe_response("POST", url, 200, headers)
    assert agent._create_limits[42] == RateLimitHeaders(limit=5, remaining=4, reset_after=1.5)
    assert agent.statistics().rest == (RestCount(CREATE, 200, 1),)
