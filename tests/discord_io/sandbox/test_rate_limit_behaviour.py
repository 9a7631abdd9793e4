"""Rate limits on the wire: the real discord.py meets the sandbox's limits, 429s and tally."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import anyio
import discord
import pytest

from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.sandbox.control_client import SandboxControl

pytestmark = [pytest.mark.anyio]

CREATE = "POST /channels/{channel_id}/messages"
GET_CHANNEL = "GET /channels/{channel_id}"
FAST = RateLimitConfig(invalid_limit=40).override("message-create", limit=5, window=0.5)
"""Discord's shapes at test speed: 5 message creates per 0.5 s per channel."""


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create limited to 5 per 0.5 s; a low invalid-request limit to see bans."""
    return SandboxConfig(rate_limits=FAST)


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[SandboxControl]:
    """The sandbox's control API client."""
    async with SandboxControl(sandbox.http_url) as client:
        yield client


async def _raw(
    sandbox: Sandbox, method: str, path: str, token: str | None
) -> tuple[int, dict[str, str], object]:
    headers = {"Authorization": f"Bot {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sandbox.base_url + path, headers=headers) as response,
    ):
        body = await response.json(content_type=None) if response.content_length else None
        return response.status, dict(response.headers), body


async def test_twelve_messages_to_one_channel_no_429(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """12 quick sends into one channel: discord.py waits on the headers, gets no 429."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            channel_id = sandbox.channel_id("bot-lab")
            channel = client.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            started = anyio.current_time()
            sent = [await channel.send(f"seq {i}") for i in range(6)]
            sent += await asyncio.gather(*(channel.send(f"par {i}") for i in range(6)))
            elapsed = anyio.current_time() - started
            counters = await control.counters()
    assert counters.total_429s == 0
    assert counters.with_status(200, CREATE) == 12
    assert counters.with_status(429) == 0
    delivered = [m.id for m in sandbox.delivered(channel_id)]
    assert sorted(delivered) == sorted(m.id for m in sent)
    assert len(set(delivered)) == 12
    assert elapsed >= 0.9  # 12 creates at 5 per 0.5 s need at least two waits


async def test_injected_route_429_is_retried(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """Two injected user-scope 429s on message create: discord.py waits and succeeds once."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            channel_id = sandbox.channel_id("bot-lab")
            channel = client.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            await control.inject_429(2, route=CREATE, retry_after=0.2)
            started = anyio.current_time()
            message = await channel.send("after two 429s")
            assert anyio.current_time() - started >= 0.4
            counters = await control.counters()
    assert counters.rate_limited["user"] == 2
    assert counters.with_status(429, CREATE) == 2
    assert counters.with_status(200, CREATE) == 1
    assert [m.id for m in sandbox.delivered(channel_id)] == [message.id]
    assert counters.banned_ips == []


async def test_injected_global_429_pauses_and_retries(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """A global 429 (X-RateLimit-Global) pauses the client, which then succeeds."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            channel = client.get_channel(sandbox.channel_id("general"))
            assert isinstance(channel, discord.TextChannel)
            await control.inject_429(1, scope="global", retry_after=0.3)
            message = await channel.send("after a global 429")
            counters = await control.counters()
    assert counters.rate_limited["global"] == 1
    assert message.content == "after a global 429"
    assert counters.banned_ips == []


@pytest.mark.parametrize(
    "sandbox_config",
    [
        SandboxConfig(
            rate_limits=RateLimitConfig(global_limit=5, global_window=0.3, invalid_limit=40)
        )
    ],
)
async def test_real_global_limit_is_honoured(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """Over the global limit discord.py gets global 429s, pauses, and every call succeeds."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            await control.reset_counters()
            ids = [sandbox.channel_id(n) for n in ("general", "bot-lab", "staff")] * 6
            fetched = await asyncio.gather(*(client.fetch_channel(i) for i in ids))
            counters = await control.counters()
    assert [c.id for c in fetched] == ids
    assert counters.rate_limited["global"] > 0
    assert counters.with_status(200, GET_CHANNEL) == len(ids)
    assert counters.banned_ips == []


async def test_route_headers_on_every_answer(sandbox: Sandbox) -> None:
    """Limited routes carry the bucket headers on 2xx and 4xx; a 429 has Discord's shape."""
    with anyio.fail_after(10):
        token = sandbox.bot("scribe").token
        channel = sandbox.channel_id("bot-lab")
        status, headers, _ = await _raw(sandbox, "GET", f"/channels/{channel}", token)
        assert status == 200
        for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
            assert f"X-RateLimit-{name}" in headers
        status, headers, _ = await _raw(sandbox, "GET", "/channels/1/messages", token)
        assert status == 404
        assert headers["X-RateLimit-Remaining"].isdigit()
        limiter = sandbox.limits
        assert limiter is not None
        limiter.limiter.inject_429(1, route="GET /channels/{channel_id}", retry_after=2.5)
        status, headers, body = await _raw(sandbox, "GET", f"/channels/{channel}", token)
    assert status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 2.5, "global": False}
    assert headers["Via"] == "1.1 google"
    assert headers["Retry-After"] == "3"
    assert headers["X-RateLimit-Scope"] == "user"
    assert headers["Content-Type"] == "application/json"


async def test_invalid_requests_are_tallied(sandbox: Sandbox, control: SandboxControl) -> None:
    """401s and 403s count against the caller's IP, and the tally is on the counters."""
    with anyio.fail_after(10):
        status, _, _ = await _raw(sandbox, "GET", "/users/@me", "not-a-token")
        assert status == 401
        status, _, _ = await _raw(sandbox, "GET", "/users/@me", None)
        assert status == 401
        staff = sandbox.channel_id("staff")
        status, _, _ = await _raw(
            sandbox, "GET", f"/channels/{staff}", sandbox.bot("sentinel").token
        )
        assert status == 403
        status, _, _ = await _raw(sandbox, "GET", "/users/@me", sandbox.bot("scribe").token)
        assert status == 200
        counters = await control.counters()
        assert counters.invalid_requests == {"127.0.0.1": 3}
        assert counters.with_status(401) == 2
        assert counters.with_status(403) == 1
        await control.inject_429(1, scope="shared")
        await control.inject_429(1, scope="user")
        for scope in ("shared", "user"):
            status, headers, _ = await _raw(sandbox, "GET", "/users/@me", "any")
            assert (status, headers["X-RateLimit-Scope"]) == (429, scope)
        counters = await control.counters()
    assert counters.invalid_requests == {"127.0.0.1": 4}  # shared-scope 429s don't count
    assert counters.rate_limited == {"user": 1, "global": 0, "shared": 1}


async def test_over_the_invalid_limit_is_banned(sandbox: Sandbox, control: SandboxControl) -> None:
    """Past invalid_limit the IP is banned: 429 'error code: 1015', no Via, as Cloudflare does."""
    with anyio.fail_after(10):
        for _ in range(FAST.invalid_limit + 1):
            await _raw(sandbox, "GET", "/users/@me", "bad")
        counters = await control.counters()
        assert counters.banned_ips == ["127.0.0.1"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                sandbox.base_url + "/users/@me",
                headers={"Authorization": f"Bot {sandbox.bot('scribe').token}"},
            ) as response,
        ):
            assert response.status == 429
            assert await response.text() == "error code: 1015"
            assert "Via" not in response.headers


async def test_limits_off_for_benchmarks() -> None:
    """With rate_limits=None, 20 quick creates into one channel get no 429 and no waits."""
    from discord_io._endpoint import point_discord_py_at, point_discord_py_at_discord
    from discord_io.sandbox import sandbox_server

    with anyio.fail_after(20):
        async with sandbox_server(config=SandboxConfig(rate_limits=None)) as sb:
            point_discord_py_at(sb.base_url)
            try:
                async with SandboxControl(sb.http_url) as control:
                    token = sb.bot("scribe").token
                    channel = sb.channel_id("bot-lab")
                    async with aiohttp.ClientSession() as session:
                        for i in range(20):
                            async with session.post(
                                f"{sb.base_url}/channels/{channel}/messages",
                                json={"content": f"n{i}"},
                                headers={"Authorization": f"Bot {token}"},
                            ) as response:
                                assert response.status == 200
                    counters = await control.counters()
            finally:
                point_discord_py_at_discord()
    assert counters.total_429s == 0
    assert counters.with_status(200, CREATE) == 20


async def test_upload_retried_after_a_429(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """A multipart create with a file answered 429 is re-sent whole, and delivered once."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            channel_id = sandbox.channel_id("bot-lab")
            channel = client.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            await control.inject_429(1, route=CREATE, retry_after=0.1)
            sent = await channel.send(
                "report", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "r.csv")
            )
            data = await sent.attachments[0].read()
    assert data == b"a,b\n1,2\n"
    assert [m.id for m in sandbox.delivered(channel_id)] == [sent.id]
