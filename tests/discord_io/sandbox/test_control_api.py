"""The control API (``/_sandbox``) over HTTP, each fault seen by a real discord.py client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import anyio
import discord
import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.sandbox._control import ENDPOINTS, _is_loopback
from discord_io.sandbox.control_client import ControlError, SandboxControl

pytestmark = [pytest.mark.anyio]

CONTENT = discord.Intents.default() | discord.Intents(message_content=True)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Fast message-create windows: some tests post several messages to one channel."""
    return SandboxConfig(rate_limits=RateLimitConfig().override("message-create", window=0.2))


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[SandboxControl]:
    """The sandbox's control API client."""
    async with SandboxControl(sandbox.http_url) as client:
        yield client


async def _call(
    sandbox: Sandbox, method: str, path: str, body: object = None, *, raw: bytes | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            sandbox.http_url + "/_sandbox" + path,
            json=body if raw is None else None,
            data=raw,
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


# -- the world -------------------------------------------------------------------------------


async def test_info_lists_the_world(sandbox: Sandbox, control: SandboxControl) -> None:
    """GET /_sandbox names the URLs, bots with tokens, users, channels and endpoints."""
    with anyio.fail_after(10):
        info = await control.info()
    assert info["base_url"] == sandbox.base_url
    assert info["gateway_url"] == sandbox.gateway_url
    assert {b["name"]: b["token"] for b in info["bots"]}["scribe"] == sandbox.bot("scribe").token
    assert str(sandbox.channel_id("general")) in {c["id"] for c in info["channels"]}
    assert info["endpoints"] == ENDPOINTS
    assert info["rate_limits"] is True


async def test_inject_message_as_a_human_reaches_bots(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """A message posted as alice arrives as on_message and is listed as delivered."""
    with anyio.fail_after(15):
        async with connect("herald", intents=CONTENT) as client:
            posted = await control.inject_message("general", "hello bots", author="alice")
            await eventually_fn(lambda: any(m.id == posted.id for m in client.messages))
            by_id = await control.inject_message(
                sandbox.channel_id("general"),
                "again",
                author=posted.author_id,
                nonce="n-1",
            )
            delivered = await control.delivered("general")
    received = next(m for m in client.messages if m.id == posted.id)
    assert received.author.name == "alice"
    assert received.content == "hello bots"
    assert posted.author == "alice"
    assert [m.id for m in delivered][-2:] == [posted.id, by_id.id]
    assert delivered[-1].nonce == "n-1"
    assert delivered[-1].timestamp >= delivered[-2].timestamp
    assert not delivered[-1].deleted


async def test_delivered_lists_bot_sends_once(
    sandbox: Sandbox, connect, control: SandboxControl
) -> None:
    """Messages a bot sends with discord.py show up once each, with their nonce, in order."""
    with anyio.fail_after(15):
        async with connect("scribe") as client:
            channel = client.get_channel(sandbox.channel_id("bot-lab"))
            assert isinstance(channel, discord.TextChannel)
            sent = [await channel.send(f"n{i}", nonce=f"k{i}") for i in range(3)]
            delivered = await control.delivered("bot-lab")
    assert [m.id for m in delivered] == [m.id for m in sent]
    assert [m.nonce for m in delivered] == ["k0", "k1", "k2"]
    assert {m.author for m in delivered} == {"scribe"}


async def test_inject_raw_event(sandbox: Sandbox, connect, control: SandboxControl) -> None:
    """A raw TYPING_START dispatched through the control API reaches the client's handler."""
    with anyio.fail_after(15):
        async with connect("scribe") as client:
            channel_id = sandbox.channel_id("general")
            alice = next(u.id for u in sandbox.state.users.values() if u.username == "alice")
            guild_id = sandbox.state.channels[channel_id].guild_id
            assert guild_id is not None
            got = await control.inject_event(
                "TYPING_START",
                {"channel_id": str(channel_id), "user_id": str(alice), "timestamp": 1700000000},
                intents=int(discord.Intents(guild_typing=True).value),
                bot="scribe",
            )
            assert got == 1
            with anyio.fail_after(5):
                while not client.typing:  # noqa: ASYNC110 - client state has no event to await
                    await anyio.sleep(0.01)
    assert client.typing[0].user_id == alice
    assert client.typing[0].channel_id == channel_id


# -- gateway faults --------------------------------------------------------------------------


async def test_close_with_a_code_then_resume(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """Closing with 4000 over HTTP: the client resumes; the counters show it."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.close_gateway("herald", 4000) == 1
            await eventually_fn(lambda: client.resumes == 1)
            counters = await control.counters()
    assert counters.bots["herald"].resumes == 1
    assert counters.bots["herald"].identifies == 1
    assert counters.resumes >= 1


async def test_close_with_non_resumable_code_identifies_again(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """Closing with 4009 (session timed out) ends the session: the client identifies anew."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.close_gateway("herald", 4009, "timed out") == 1
            await eventually_fn(lambda: client.connects == 2)
            counters = await control.counters()
    assert counters.bots["herald"].identifies == 2


async def test_invalidate_makes_the_client_identify_again(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """INVALID_SESSION(false) over HTTP: a fresh IDENTIFY, one connected session after."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.invalidate_session("herald", resumable=False) == 1
            await eventually_fn(lambda: client.connects == 2)
            await eventually_fn(lambda: sandbox.session_count("herald") == 1)
            counters = await control.counters()
            assert counters.bots["herald"].identifies == 2
            assert counters.bots["herald"].connected_sessions == 1
            later = await control.inject_message("general", "fresh", author="bob")
            await eventually_fn(lambda: any(m.id == later.id for m in client.messages))


async def test_invalidate_resumable_and_reconnect_resume(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """INVALID_SESSION(true) and op 7 over HTTP both end in a RESUME of the same session."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.invalidate_session("herald", resumable=True) == 1
            await eventually_fn(lambda: client.resumes == 1)
            assert await control.send_reconnect("herald") == 1
            await eventually_fn(lambda: client.resumes == 2)
            counters = await control.counters()
    assert counters.bots["herald"].identifies == 1
    assert counters.bots["herald"].resumes == 2


async def test_drop_resumes_with_replay(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """A silent drop over HTTP: messages posted meanwhile are replayed exactly once."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.drop_gateway("herald") == 1
            missed = [
                (await control.inject_message("general", f"gap {i}", author="alice")).id
                for i in range(3)
            ]
            await eventually_fn(lambda: client.resumes == 1)
            await eventually_fn(lambda: {m.id for m in client.messages} >= set(missed))
            counters = await control.counters()
    assert [m.id for m in client.messages if m.id in missed] == missed
    assert client.connects == 1
    assert counters.bots["herald"].resumes == 1
    assert counters.failed_resumes == 0


# -- REST and network faults -----------------------------------------------------------------


async def test_injected_5xx_is_retried(sandbox: Sandbox, connect, control: SandboxControl) -> None:
    """A 502 on GET /channels/{id}: discord.py retries it and gets the channel."""
    with anyio.fail_after(20):
        async with connect("scribe") as client:
            faults = await control.inject_status(1, 502, route="GET /channels/{channel_id}")
            assert faults["pending_requests"] == 1
            channel = await client.fetch_channel(sandbox.channel_id("general"))
            counters = await control.counters()
    assert channel.id == sandbox.channel_id("general")
    assert counters.with_status(502, "GET /channels/{channel_id}") == 1
    assert counters.with_status(200, "GET /channels/{channel_id}") == 1
    assert counters.faults_pending == 0


async def test_rest_and_gateway_latency(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """Added latency delays REST answers and gateway frames for that bot; 0 removes it."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            await control.set_latency(rest=0.3, gateway=0.3, bot="herald")
            started = anyio.current_time()
            await client.fetch_channel(sandbox.channel_id("general"))
            assert anyio.current_time() - started >= 0.3
            started = anyio.current_time()
            posted = await control.inject_message("general", "slow", author="alice")
            await eventually_fn(lambda: any(m.id == posted.id for m in client.messages))
            assert anyio.current_time() - started >= 0.3
            faults = await control.faults()
            assert faults["latency"] == {"rest": {"herald": 0.3}, "gateway": {"herald": 0.3}}
            await control.set_latency(rest=0, gateway=0, bot="herald")
            started = anyio.current_time()
            await client.fetch_channel(sandbox.channel_id("general"))
            assert anyio.current_time() - started < 0.3


async def test_outage_then_recovery(
    sandbox: Sandbox, connect, control: SandboxControl, eventually_fn
) -> None:
    """An outage cuts the gateway and answers REST 503; after it the client resumes."""
    with anyio.fail_after(30):
        async with connect("herald", intents=CONTENT) as client:
            assert await control.start_outage(0.5) == 1
            async with (
                aiohttp.ClientSession() as session,
                session.get(sandbox.base_url + "/gateway") as response,
            ):
                assert response.status == 503
            missed = await control.inject_message("general", "during the outage", author="bob")
            await eventually_fn(lambda: client.resumes == 1, timeout=20)
            await eventually_fn(lambda: any(m.id == missed.id for m in client.messages))
            counters = await control.counters()
    assert counters.refused_by_outage >= 1
    assert (await control.faults())["outage"] is None


async def test_outage_until_cleared_closing_connections(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    """mode=close cuts REST connections without an answer until the outage is ended."""
    with anyio.fail_after(15):
        await control.start_outage(mode="close")
        assert (await control.faults())["outage"] == {"mode": "close", "remaining": None}
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(sandbox.base_url + "/gateway") as response:
                    await response.read()
        assert await control.end_outage() is True
        assert await control.end_outage() is False
        async with (
            aiohttp.ClientSession() as session,
            session.get(sandbox.base_url + "/gateway") as response,
        ):
            assert response.status == 200


async def test_clear_faults(sandbox: Sandbox, control: SandboxControl) -> None:
    """DELETE /_sandbox/faults drops queued 429/5xx, latency and the outage."""
    with anyio.fail_after(10):
        await control.inject_429(3)
        await control.inject_status(2, 500, route="/channels/{channel_id}")
        await control.set_latency(rest=1.0)
        await control.start_outage(30)
        assert await control.clear_faults() == 5
        faults = await control.faults()
    assert faults == {
        "pending_requests": 0,
        "latency": {"rest": {}, "gateway": {}},
        "outage": None,
    }


async def test_counters_and_reset(sandbox: Sandbox, connect, control: SandboxControl) -> None:
    """Counters show requests by route and status, identifies and sessions; DELETE zeroes."""
    with anyio.fail_after(15):
        async with connect("scribe"):
            counters = await control.counters()
            assert counters.with_status(200, "GET /users/@me") >= 1
            assert counters.identifies == 1
            assert counters.connected_sessions == 1
            assert counters.bots["scribe"].sessions == 1
            assert counters.rate_limited == {"user": 0, "global": 0, "shared": 0}
            reset = await control.reset_counters()
    assert reset.requests == {}
    assert reset.identifies == 0
    assert reset.connected_sessions == 1  # live state, not a counter


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/channels/general/messages", {"content": "x"}, 400, "author"),
        ("POST", "/channels/general/messages", {"author": "zed", "content": "x"}, 404, "zed"),
        ("POST", "/channels/nowhere/messages", {"author": "alice"}, 404, "nowhere"),
        ("POST", "/channels/general/messages", {"author": "alice", "content": 5}, 400, "content"),
        ("POST", "/channels/general/messages", {"author": "alice", "colour": 1}, 400, "colour"),
        ("POST", "/channels/general/messages", {"author": "alice"}, 400, "Cannot send an empty"),
        ("POST", "/channels/general/messages", [1, 2], 400, "JSON object"),
        ("POST", "/events", {"event": "typing start", "data": {}}, 400, "event"),
        ("POST", "/events", {"event": "TYPING_START", "data": []}, 400, "data"),
        ("POST", "/bots/nobody/gateway/drop", None, 404, "nobody"),
        ("POST", "/bots/scribe/gateway/explode", None, 404, "explode"),
        ("POST", "/bots/scribe/gateway/close", {"code": 2000}, 400, "code"),
        ("POST", "/bots/scribe/gateway/close", {"code": "4000"}, 400, "code"),
        ("POST", "/bots/scribe/gateway/invalidate", {"resumable": "yes"}, 400, "resumable"),
        ("POST", "/faults/rate-limit", {"count": 0}, 400, "count"),
        ("POST", "/faults/rate-limit", {"scope": "planet"}, 400, "scope"),
        ("POST", "/faults/rate-limit", {"retry_after": -1}, 400, "retry_after"),
        ("POST", "/faults/rate-limit", {"route": "channels"}, 400, "route"),
        ("POST", "/faults/status", {"status": 418}, 400, "status"),
        ("POST", "/faults/status", {"count": 2}, 400, "status"),
        ("POST", "/faults/latency", {}, 400, "rest and/or gateway"),
        ("POST", "/faults/latency", {"rest": "slow"}, 400, "rest"),
        ("POST", "/faults/outage", {"seconds": 0}, 400, "seconds"),
        ("POST", "/faults/outage", {"mode": "fire"}, 400, "mode"),
        ("GET", "/nothing-here", None, 404, "no control endpoint"),
        ("PUT", "/counters", None, 404, "no control endpoint"),
    ],
)
async def test_bad_input_gets_a_clear_error(
    sandbox: Sandbox, method: str, path: str, body: object, status: int, says: str
) -> None:
    """Each mistake is answered with its status and an error naming what is wrong."""
    with anyio.fail_after(10):
        got, answer = await _call(sandbox, method, path, body)
    assert got == status, answer
    assert says in answer["error"]


async def test_body_that_is_not_json(sandbox: Sandbox) -> None:
    """A body that is not JSON is a 400 saying so."""
    with anyio.fail_after(10):
        status, answer = await _call(sandbox, "POST", "/faults/rate-limit", raw=b"{nope")
    assert status == 400
    assert "not valid JSON" in answer["error"]


async def test_client_raises_control_error(control: SandboxControl) -> None:
    """The Python client turns a refusal into ControlError with the server's message."""
    with anyio.fail_after(10), pytest.raises(ControlError) as caught:
        await control.drop_gateway("nobody")
    assert caught.value.status == 404
    assert "scribe" in caught.value.message


async def test_non_loopback_callers_are_refused(sandbox: Sandbox) -> None:
    """A caller from another host gets 403 unless control_remote is set."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("203.0.113.9", 40000) if name == "peername" else default
    )
    request = make_mocked_request("GET", "/_sandbox/counters", app=sandbox.app, transport=transport)
    assert request.remote == "203.0.113.9"
    match = await sandbox.app.router.resolve(request)
    with anyio.fail_after(5):
        response = await match.handler(request)
    assert response.status == 403
    assert _is_loopback("127.0.0.1")
    assert _is_loopback("::1")
    assert _is_loopback("::ffff:127.0.0.1")
    assert not _is_loopback("10.0.0.1")
    assert not _is_loopback(None)


async def test_control_api_can_be_turned_off() -> None:
    """SandboxConfig(control_api=False) serves no /_sandbox routes."""
    from discord_io.sandbox import sandbox_server

    with anyio.fail_after(10):
        async with (
            sandbox_server(config=SandboxConfig(control_api=False)) as sb,
            aiohttp.ClientSession() as session,
            session.get(sb.http_url + "/_sandbox/counters") as response,
        ):
            assert response.status == 404


async def test_concurrent_control_calls(sandbox: Sandbox, control: SandboxControl) -> None:
    """Many control calls at once all answer (the bench drives it concurrently)."""
    with anyio.fail_after(15):
        posted = await asyncio.gather(
            *(control.inject_message("bot-lab", f"c{i}", author="carol") for i in range(10))
        )
        delivered = await control.delivered("bot-lab")
    assert {m.id for m in posted} <= {m.id for m in delivered}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = [
    *("author", "author_id", "content", "nonce", "embeds", "event", "data", "intents"),
    *("guild_id", "channel_id", "bot", "code", "reason", "resumable", "count", "route"),
    *("scope", "retry_after", "status", "rest", "gateway", "seconds", "mode", "disconnect"),
]
_POSTS = [e.split(" ", 1)[1].removeprefix("/_sandbox") for e in ENDPOINTS if e.startswith("POST")]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(_POSTS),
    body=_JSON | st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=4),
)
async def test_any_body_gets_a_json_answer_never_a_5xx(
    sandbox: Sandbox, path: str, body: object
) -> None:
    """Whatever JSON a control endpoint is sent, it answers 2xx or a 4xx with an error."""
    path = path.replace("{channel}", "general").replace("{bot}", "sentinel")
    with anyio.fail_after(10):
        status, answer = await _call(sandbox, "POST", path, raw=json.dumps(body).encode())
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer["error"], str)
    sandbox.clear_faults()
