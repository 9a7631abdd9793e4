"""Resilience: RECONNECT, INVALID_SESSION both kinds, silent drops, resume with replay."""

from __future__ import annotations

import anyio
import discord
import pytest

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

CONTENT = discord.Intents.default() | discord.Intents(message_content=True)


def _post_as_alice(sandbox: Sandbox, text: str) -> int:
    alice = next(u.id for u in sandbox.state.users.values() if u.username == "alice")
    message, _ = sandbox.state.create_message(alice, sandbox.channel_id("general"), content=text)
    return message.id


async def test_reconnect_resumes_and_replays(sandbox: Sandbox, connect, eventually_fn) -> None:
    """After op 7 the client resumes; a message posted meanwhile arrives exactly once."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert sandbox.send_reconnect("herald") == 1
            missed = _post_as_alice(sandbox, "while you were away")
            await eventually_fn(lambda: client.resumes == 1)
            await eventually_fn(lambda: any(m.id == missed for m in client.messages))
            after = _post_as_alice(sandbox, "welcome back")
            await eventually_fn(lambda: any(m.id == after for m in client.messages))
            assert [m.id for m in client.messages].count(missed) == 1
            assert client.connects == 1


async def test_silent_drop_resumes_with_replay(sandbox: Sandbox, connect, eventually_fn) -> None:
    """A socket cut without a close frame is resumed, and missed dispatches are replayed."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert sandbox.drop_gateway("herald") == 1
            missed = [_post_as_alice(sandbox, f"gap {i}") for i in range(3)]
            await eventually_fn(lambda: client.resumes == 1)
            await eventually_fn(lambda: {m.id for m in client.messages} >= set(missed))
            got = [m.id for m in client.messages if m.id in missed]
            assert got == missed
            assert client.connects == 1


async def test_invalid_session_resumable_resumes(sandbox: Sandbox, connect, eventually_fn) -> None:
    """INVALID_SESSION(true) makes the client resume the same session."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert sandbox.invalidate_session("herald", resumable=True) == 1
            missed = _post_as_alice(sandbox, "still here")
            await eventually_fn(lambda: client.resumes == 1)
            await eventually_fn(lambda: any(m.id == missed for m in client.messages))
            assert client.connects == 1


async def test_invalid_session_not_resumable_identifies_again(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """INVALID_SESSION(false) ends the session; the client identifies afresh and works on."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            old = {s.id for s in sandbox.hub.of_bot(sandbox.bot("herald").id)}
            assert sandbox.invalidate_session("herald", resumable=False) == 1
            await eventually_fn(lambda: client.connects == 2)
            await eventually_fn(lambda: sandbox.session_count("herald") == 1)
            new = {s.id for s in sandbox.hub.of_bot(sandbox.bot("herald").id)}
            assert new.isdisjoint(old)
            assert client.resumes == 0
            later = _post_as_alice(sandbox, "fresh session")
            await eventually_fn(lambda: any(m.id == later for m in client.messages))


async def test_close_with_resumable_code_resumes(sandbox: Sandbox, connect, eventually_fn) -> None:
    """A server close with 4000 leaves the session resumable; the client resumes it."""
    with anyio.fail_after(20):
        async with connect("herald", intents=CONTENT) as client:
            assert sandbox.close_gateway("herald", 4000) == 1
            await eventually_fn(lambda: client.resumes == 1)
            assert client.connects == 1


async def test_close_with_fatal_code_stops_the_client(sandbox: Sandbox, connect) -> None:
    """A close with 4004 ends the client's run with ConnectionClosed, as Discord's would."""
    client = discord.Client(intents=CONTENT, guild_ready_timeout=0.1)
    try:
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:

                async def closer() -> None:
                    while sandbox.session_count("herald") == 0:  # noqa: ASYNC110 - no event
                        await anyio.sleep(0.01)
                    sandbox.close_gateway("herald", 4004)

                tg.start_soon(closer)
                with pytest.raises(discord.ConnectionClosed) as caught:
                    await client.start(sandbox.bot("herald").token)
                assert caught.value.code == 4004
    finally:
        await client.close()
