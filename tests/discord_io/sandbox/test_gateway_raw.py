"""The gateway wire, byte for byte, with a raw aiohttp WebSocket client: close codes and limits."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest

from discord_io.sandbox import GatewayConfig, Sandbox, SandboxConfig

pytestmark = [pytest.mark.anyio]

GUILDS_AND_MESSAGES = (1 << 0) | (1 << 9)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Small limits so the timeouts and the send limit are quick to reach."""
    return SandboxConfig(
        gateway=GatewayConfig(heartbeat_interval=0.4, send_limit=20, send_window=60.0)
    )


@asynccontextmanager
async def gateway(sandbox: Sandbox, query: str = "?v=10&encoding=json") -> AsyncIterator[Any]:
    """A raw socket to the gateway, HELLO already read."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{sandbox.gateway_url}/{query}") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == 10
            yield ws


def identify(sandbox: Sandbox, bot: str = "herald", intents: int = GUILDS_AND_MESSAGES) -> str:
    """An IDENTIFY payload for a seeded bot."""
    return json.dumps(
        {
            "op": 2,
            "d": {
                "token": sandbox.bot(bot).token,
                "intents": intents,
                "properties": {"os": "linux", "browser": "raw", "device": "raw"},
            },
        }
    )


async def close_code(ws: Any) -> int | None:
    """Read until the server closes; the close code it sent."""
    while True:
        msg = await ws.receive()
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            return ws.close_code


async def dispatches(ws: Any, until: str) -> list[dict[str, Any]]:
    """Read payloads up to and including the first dispatch named ``until``."""
    seen = []
    while True:
        payload = await ws.receive_json()
        seen.append(payload)
        if payload.get("t") == until:
            return seen


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param("{not json", 4002, id="invalid-json"),
        pytest.param('["op", 1]', 4002, id="not-an-object"),
        pytest.param('{"op": 99, "d": null}', 4001, id="unknown-opcode"),
        pytest.param('{"op": 11, "d": null}', 4001, id="server-only-opcode"),
        pytest.param('{"op": 3, "d": {"status": "online"}}', 4003, id="before-identify"),
        pytest.param(json.dumps({"op": 1, "d": "x" * 5000}), 4002, id="payload-too-large"),
    ],
)
async def test_bad_frames_get_discords_close_codes(sandbox: Sandbox, frame: str, code: int) -> None:
    """Malformed, unknown, premature and oversized payloads close with Discord's codes."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(frame)
            assert await close_code(ws) == code


async def test_heartbeat_is_acknowledged_before_identify(sandbox: Sandbox) -> None:
    """op 1 is allowed before IDENTIFY and answered with op 11."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str('{"op": 1, "d": null}')
            assert (await ws.receive_json()) == {"op": 11, "d": None}


async def test_identify_twice_is_4005(sandbox: Sandbox) -> None:
    """A second IDENTIFY on an authenticated socket closes with 4005."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            await dispatches(ws, "GUILD_CREATE")
            await ws.send_str(identify(sandbox))
            assert await close_code(ws) == 4005


@pytest.mark.parametrize(
    ("token", "intents", "code"),
    [
        pytest.param("bad-token", GUILDS_AND_MESSAGES, 4004, id="bad-token"),
        pytest.param(None, 1 << 30, 4013, id="undefined-intent"),
        pytest.param(None, "all", 4013, id="intents-not-a-number"),
        pytest.param(None, (1 << 0) | (1 << 8), 4014, id="presences-not-granted"),
    ],
)
async def test_identify_is_checked(
    sandbox: Sandbox, token: str | None, intents: Any, code: int
) -> None:
    """IDENTIFY with a bad token, undefined or ungranted intents closes with 4004/4013/4014."""
    payload = json.loads(identify(sandbox))
    payload["d"]["intents"] = intents
    if token is not None:
        payload["d"]["token"] = token
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(json.dumps(payload))
            assert await close_code(ws) == code


async def test_send_limit_closes_with_4008(sandbox: Sandbox) -> None:
    """More payloads than the send limit within the window closes with 4008."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            for _ in range(21):
                await ws.send_str('{"op": 1, "d": null}')
            assert await close_code(ws) == 4008


async def test_missed_heartbeats_close_with_4009(sandbox: Sandbox) -> None:
    """A client that stops heartbeating is closed with 4009 after the grace period."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            assert await close_code(ws) == 4009


async def test_ready_then_guild_create_with_sequence_numbers(sandbox: Sandbox) -> None:
    """READY is s=1 with session_id and resume_gateway_url; GUILD_CREATE follows as s=2."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            ready, guild = await dispatches(ws, "GUILD_CREATE")
            assert (ready["t"], ready["s"], guild["s"]) == ("READY", 1, 2)
            assert ready["d"]["resume_gateway_url"] == sandbox.gateway_url
            assert ready["d"]["user"]["username"] == "herald"
            seeded = sandbox.state.guilds[int(guild["d"]["id"])]
            assert guild["d"]["member_count"] == len(seeded.members)
            assert {c["name"] for c in guild["d"]["channels"]} >= {"general", "ideas", "Lounge"}


async def test_zlib_stream_uses_one_stream_with_sync_flush(sandbox: Sandbox) -> None:
    """compress=zlib-stream sends binary frames from one zlib stream, each ending 00 00 ff ff."""
    inflater = zlib.decompressobj()
    with anyio.fail_after(10):
        async with aiohttp.ClientSession() as http:
            url = f"{sandbox.gateway_url}/?v=10&encoding=json&compress=zlib-stream"
            async with http.ws_connect(url) as ws:
                frames = []
                for _ in range(3):
                    if len(frames) == 1:
                        await ws.send_str(identify(sandbox))
                    msg = await ws.receive()
                    assert msg.type is aiohttp.WSMsgType.BINARY
                    assert msg.data.endswith(b"\x00\x00\xff\xff")
                    frames.append(json.loads(inflater.decompress(msg.data)))
                assert [f["op"] for f in frames] == [10, 0, 0]
                assert [f["t"] for f in frames[1:]] == ["READY", "GUILD_CREATE"]


async def test_resume_with_future_seq_is_4007(sandbox: Sandbox) -> None:
    """RESUME claiming a sequence the session never reached closes with 4007."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            ready, _ = await dispatches(ws, "GUILD_CREATE")
            await ws.close(code=4000)  # 1000 would end the session
        async with gateway(sandbox) as ws:
            resume = {
                "op": 6,
                "d": {
                    "token": sandbox.bot("herald").token,
                    "session_id": ready["d"]["session_id"],
                    "seq": 99,
                },
            }
            await ws.send_str(json.dumps(resume))
            assert await close_code(ws) == 4007


async def test_client_close_1000_ends_the_session(sandbox: Sandbox) -> None:
    """A client closing with 1000 cannot resume: RESUME then gets INVALID_SESSION(false)."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            ready, guild = await dispatches(ws, "GUILD_CREATE")
            await ws.close(code=1000)
        async with gateway(sandbox) as ws:
            resume = {
                "op": 6,
                "d": {
                    "token": sandbox.bot("herald").token,
                    "session_id": ready["d"]["session_id"],
                    "seq": guild["s"],
                },
            }
            await ws.send_str(json.dumps(resume))
            assert (await ws.receive_json()) == {"op": 9, "d": False}


async def test_resume_unknown_session_is_invalid_session(sandbox: Sandbox) -> None:
    """RESUME of a session that does not exist gets INVALID_SESSION(false)."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            resume = {
                "op": 6,
                "d": {"token": sandbox.bot("herald").token, "session_id": "nope", "seq": 1},
            }
            await ws.send_str(json.dumps(resume))
            assert (await ws.receive_json()) == {"op": 9, "d": False}


async def test_resume_replays_missed_dispatches_in_order(sandbox: Sandbox) -> None:
    """Dispatches made while a session had no socket are replayed on RESUME, then RESUMED."""
    alice = next(u.id for u in sandbox.state.users.values() if u.username == "alice")
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            ready, guild = await dispatches(ws, "GUILD_CREATE")
            await ws.close(code=4000)
        general = sandbox.channel_id("general")
        ids = [
            sandbox.state.create_message(alice, general, content=f"n{i}")[0].id for i in range(3)
        ]
        async with gateway(sandbox) as ws:
            resume = {
                "op": 6,
                "d": {
                    "token": sandbox.bot("herald").token,
                    "session_id": ready["d"]["session_id"],
                    "seq": guild["s"],
                },
            }
            await ws.send_str(json.dumps(resume))
            frames = await dispatches(ws, "RESUMED")
            creates = [f for f in frames if f.get("t") == "MESSAGE_CREATE"]
            assert [int(f["d"]["id"]) for f in creates] == ids
            assert [f["s"] for f in frames] == [3, 4, 5, 6]
            assert creates[0]["d"]["content"] == ""  # herald asked without message_content


async def test_request_guild_members_answers_with_chunks(sandbox: Sandbox) -> None:
    """op 8 with the members intent returns GUILD_MEMBERS_CHUNK with the matching members."""
    intents = GUILDS_AND_MESSAGES | (1 << 1)
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox, "courier", intents))
            _, guild = await dispatches(ws, "GUILD_CREATE")
            request = {
                "op": 8,
                "d": {"guild_id": guild["d"]["id"], "query": "", "limit": 0, "nonce": "n1"},
            }
            await ws.send_str(json.dumps(request))
            chunk = (await dispatches(ws, "GUILD_MEMBERS_CHUNK"))[-1]["d"]
            assert chunk["nonce"] == "n1"
            assert (chunk["chunk_index"], chunk["chunk_count"]) == (0, 1)
            assert len(chunk["members"]) == guild["d"]["member_count"]
            await ws.send_str(
                json.dumps(
                    {"op": 8, "d": {"guild_id": guild["d"]["id"], "query": "ca", "limit": 5}}
                )
            )
            chunk = (await dispatches(ws, "GUILD_MEMBERS_CHUNK"))[-1]["d"]
            assert [m["user"]["username"] for m in chunk["members"]] == ["carol"]


async def test_whole_member_list_needs_members_intent(sandbox: Sandbox) -> None:
    """Requesting every member without GUILD_MEMBERS closes with 4013."""
    with anyio.fail_after(10):
        async with gateway(sandbox) as ws:
            await ws.send_str(identify(sandbox))
            _, guild = await dispatches(ws, "GUILD_CREATE")
            await ws.send_str(
                json.dumps({"op": 8, "d": {"guild_id": guild["d"]["id"], "query": "", "limit": 0}})
            )
            assert await close_code(ws) == 4013


async def test_bad_api_version_is_4012(sandbox: Sandbox) -> None:
    """A gateway URL asking for an unsupported API version closes with 4012."""
    with anyio.fail_after(10):
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{sandbox.gateway_url}/?v=6&encoding=json") as ws:
                assert await close_code(ws) == 4012
