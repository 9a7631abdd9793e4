"""The load generator's raw clients: ``ws-raw`` scripted, ``http-raw`` against real servers.

The WebSocket server here is wsproto over trio's TCP streams on loopback: it accepts the
handshake, answers ``initialize``, and answers each ``tools/call`` as the test's ``answer`` says
(or never), optionally after a ping or in two fragments, so the client's framing, ping handling,
timeouts, in-flight cap and closed-socket path are each seen to work. ``http-raw`` runs against
the floor (the SDK's own 2026-07-28 server, which checks its headers and envelope) and a real
``mcp-discord serve`` (its API keys). Real sockets, real clock, short runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
import trio
from bench._load import (
    LoadConfig,
    LoadResult,
    RawHttpClient,
    _sse_answer,
    connect,
    raw_websocket_client,
    run_load,
)
from bench._server_process import ServerProcess
from bench.floor import echo_plan, floor_process
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

Answer = Callable[[dict[str, Any]], dict[str, Any] | None]
"""A ``tools/call``'s ``arguments`` -> its ``result``, or None: never answered."""


def echo(arguments: dict[str, Any]) -> dict[str, Any]:
    """``echo``'s result, with a ``state`` in the structured content."""
    text = arguments["text"]
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": {"state": "delivered", "text": text},
        "isError": False,
    }


@attrs.define
class FakeServer:
    """A WebSocket JSON-RPC server scripted by the test; what it saw, per connection."""

    answer: Answer = echo
    ping_first: bool = False
    """Send a ping before each answer (the client must pong)."""
    fragment: bool = False
    """Send each answer as two frames of one message."""
    close_after: int | None = None
    """Close each connection after this many ``tools/call``s (unanswered)."""
    calls: list[dict[str, Any]] = attrs.field(factory=list)
    """Every ``tools/call``'s params, in arrival order."""
    pongs: int = 0
    subprotocols: list[list[str]] = attrs.field(factory=list)

    async def handle(self, stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        parts: list[str] = []
        seen = 0
        async with stream:
            while data := await stream.receive_some():
                ws.receive_data(data)
                out = b""
                for event in ws.events():
                    if isinstance(event, Request):
                        self.subprotocols.append(list(event.subprotocols))
                        out += ws.send(AcceptConnection(subprotocol="mcp"))
                    elif isinstance(event, Pong):
                        self.pongs += 1
                    elif isinstance(event, CloseConnection):
                        out += ws.send(event.response())
                    elif isinstance(event, TextMessage):
                        parts.append(event.data)
                        if not event.message_finished:
                            continue
                        message, parts = json.loads("".join(parts)), []
                        if message["method"] == "initialize":
                            out += self._reply(ws, message["id"], {"protocolVersion": "x"})
                        elif message["method"] == "tools/call":
                            self.calls.append(message["params"])
                            seen += 1
                            if self.close_after is not None and seen > self.close_after:
                                out += ws.send(CloseConnection(code=1011, reason="enough"))
                                await stream.send_all(out)
                                return
                            result = self.answer(message["params"]["arguments"])
                            if result is not None:
                                if self.ping_first:
                                    out += ws.send(Ping(b"are you there"))
                                out += self._reply(ws, message["id"], result)
                if out:
                    await stream.send_all(out)

    def _reply(self, ws: WSConnection, request_id: int, result: dict[str, Any]) -> bytes:
        text = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})
        if not self.fragment:
            return ws.send(TextMessage(text))
        half = len(text) // 2
        first = ws.send(TextMessage(text[:half], message_finished=False))
        return first + ws.send(TextMessage(text[half:]))


@asynccontextmanager
async def serving(server: FakeServer) -> AsyncIterator[str]:
    """``server`` on a free loopback port, until the block ends; its base URL."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, server.handle, 0)
        port = listeners[0].socket.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


def plan(session: int, n: int) -> tuple[str, dict[str, Any]]:
    return "echo", {"text": f"{session}:{n}"}


async def drive(server: FakeServer, **config: Any) -> LoadResult:
    """``run_load`` over ws-raw against ``server`` (3 sessions unless told)."""
    async with serving(server) as url:
        # no call is scheduled on the window's edges (a float tie at the boundary)
        settings: dict[str, Any] = {"keys": [None] * 3, "warmup": 0.105, "rate": 100.0}
        settings |= config
        return await run_load(
            LoadConfig(transport="ws-raw", base_url=url, **settings), plan, progress=None
        )


@pytest.mark.trio
async def test_open_loop_records_every_scheduled_call_once_at_its_schedule() -> None:
    """Each (session, n) of the window is recorded once, at its scheduled start, with state."""
    server = FakeServer()
    with trio.fail_after(20):
        result = await drive(server, seconds=0.5)
    sessions, rate = 3, 100.0
    expected = {
        (s, n)
        for s in range(sessions)
        for n in range(100)
        if 0.105 <= (n * sessions + s) / rate < 0.605
    }
    assert Counter((r.session, r.n) for r in result.records) == Counter(expected)
    for r in result.records:
        assert r.start == pytest.approx((r.n * sessions + r.session) / rate - 0.105)
        assert 0 <= r.latency < 5
        if r.error == "not started":  # its timer fired after the window's end (a busy host)
            assert r.start > 0.4
        else:
            assert (r.error, r.state) == (None, "delivered")
    # the warm-up's calls were made too, and every call was sent as its plan said
    assert sorted(c["arguments"]["text"] for c in server.calls) == sorted(
        f"{s}:{n}" for s in range(sessions) for n in range(100) if (n * sessions + s) / rate < 0.605
    )
    assert server.subprotocols == [["mcp"]] * sessions


@pytest.mark.trio
async def test_client_answers_pings_and_joins_fragmented_answers() -> None:
    """A ping before each answer is ponged; an answer in two frames is one message."""
    server = FakeServer(ping_first=True, fragment=True)
    with trio.fail_after(20):
        result = await drive(server, seconds=0.3, keys=[None])
    answered = [r for r in result.records if r.error != "not started"]
    assert answered
    assert {(r.error, r.state) for r in answered} == {(None, "delivered")}
    assert server.pongs >= len(server.calls)


@pytest.mark.trio
async def test_tool_errors_and_unanswered_calls_are_recorded_as_such() -> None:
    """isError records the tool's text; a call never answered records "timeout" after it."""

    def answer(arguments: dict[str, Any]) -> dict[str, Any] | None:
        n = int(arguments["text"].split(":")[1])
        if n % 3 == 0:
            return None
        if n % 3 == 1:
            return {"content": [{"type": "text", "text": "no such channel"}], "isError": True}
        return echo(arguments)

    with trio.fail_after(20):
        result = await drive(FakeServer(answer), seconds=0.4, keys=[None], call_timeout=0.25)
    made = [r for r in result.records if r.error != "not started"]  # (see the first test)
    by_kind = {kind: {r.error for r in made if r.n % 3 == kind} for kind in range(3)}
    assert by_kind == {0: {"timeout"}, 1: {"no such channel"}, 2: {None}}
    for r in result.records:
        if r.error == "timeout":
            assert 0.25 <= r.latency < 2


@pytest.mark.trio
async def test_in_flight_cap_holds_calls_back_and_counts_the_unstarted() -> None:
    """With answers never coming, a session sends max_in_flight calls; the rest wait, and
    those still waiting when the offer ends are recorded as "not started"."""
    server = FakeServer(lambda _arguments: None)
    with trio.fail_after(20):
        result = await drive(
            server, seconds=0.25, keys=[None], rate=200.0, max_in_flight=2, call_timeout=1.0
        )
    assert len(server.calls) == 2  # the first two timed out only after the offer was over
    errors = result.errors
    assert set(errors) <= {"timeout", "not started"}
    assert errors["not started"] == len(result.records) - errors["timeout"] > 0
    assert result.offered == len(result.records) == 50


@pytest.mark.trio
async def test_a_closed_socket_fails_the_calls_and_ends_the_run() -> None:
    """The server closing mid-run: the waiting call and every later one are errors, no hang."""
    with trio.fail_after(20):
        result = await drive(FakeServer(close_after=5), seconds=0.255, keys=[None], warmup=0.0)
    assert [r.error for r in result.records[:5]] == [None] * 5
    assert result.records[5:]
    assert {r.error for r in result.records[5:]} - {"not started"} == {"ConnectionError"}
    assert result.offered == len(result.records)


@pytest.mark.trio
async def test_a_frame_bigger_than_the_socket_buffer_is_not_interleaved() -> None:
    """A write the socket cannot take at once finishes before the next one starts."""
    server = FakeServer()
    big = "x" * 8_000_000
    with trio.fail_after(30):
        async with serving(server) as url:
            async with raw_websocket_client("ws" + url.removeprefix("http") + "/ws", {}) as raw:
                results: list[Any] = []

                async def call(text: str) -> None:
                    results.append(await raw.call_tool("echo", {"text": text}))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(call, big)
                    for n in range(5):
                        nursery.start_soon(call, f"small {n}")
    texts = sorted(r.content[0]["text"] for r in results)
    assert texts == [*(f"small {n}" for n in range(5)), big]
    assert len(server.calls) == 6


@pytest.mark.trio
async def test_http_raw_calls_the_floor_and_every_call_succeeds(tmp_path: Path) -> None:
    """Over ``http-raw`` the SDK's own server accepts each call (headers, ``_meta`` envelope):
    an open-loop run records every scheduled call once, answered; the answer is the tool's."""
    with trio.fail_after(60):
        async with floor_process(tmp_path / "floor.log") as floor:
            async with connect("http-raw", floor.base_url, None) as client:
                raw = cast(RawHttpClient, client)
                echoed = await raw.call_tool("echo", {"text": "héllo\nwörld"})
                missing = await raw.call_tool("echo", {})
                kept = len(raw._idle)  # one connection, reused
            config = LoadConfig(
                transport="http-raw",
                base_url=floor.base_url,
                keys=[None] * 3,
                seconds=0.5,
                warmup=0.105,
                rate=100.0,
            )
            result = await run_load(config, echo_plan, progress=None)
    assert (echoed.is_error, echoed.content[0]["text"]) == (False, "héllo\nwörld")
    assert missing.is_error
    assert kept == 1
    assert "validation error" in missing.content[0]["text"]
    assert result.offered == len(result.records) == 50
    assert len({(r.session, r.n) for r in result.records}) == 50
    made = [r for r in result.records if r.error != "not started"]  # (see the first test)
    assert len(made) > 40
    assert {r.error for r in made} == {None}


def test_http_raw_against_the_real_server_records_a_wrong_key_as_401(tmp_path: Path) -> None:
    """``mcp-discord serve``: the agent's key gets answers; a wrong key, "HTTP 401" per call."""
    server = ServerProcess.start(tmp_path, env={"MCP_DISCORD_LOG_LEVEL": "warning"}, timeout=60)
    try:
        config = LoadConfig(
            transport="http-raw",
            base_url=server.base,
            keys=[server.keys["scribe"], "mcpd_not-a-key"],
            seconds=0.5,
            warmup=0.105,
            rate=20.0,
        )

        def plan(_session: int, _n: int) -> tuple[str, dict[str, Any]]:
            return "list_guilds", {}

        result = trio.run(lambda: run_load(config, plan, progress=None))
    finally:
        server.stop()
    made = [r for r in result.records if r.error != "not started"]
    assert {r.error for r in made if r.session == 0} == {None}
    assert {r.error for r in made if r.session == 1} == {"HTTP 401"}
    assert len(made) >= 6


def test_sse_answers_are_found_among_the_stream_s_events() -> None:
    """The answer to the call is the event with its id, after others, over several data lines;
    only CR and LF end lines (a JSON string may hold U+2028 raw)."""
    answer = {"jsonrpc": "2.0", "id": 7, "result": {"content": ["\u2028\x85"]}}
    stream = (
        ": a comment\r\n\r\n"
        'event: message\r\ndata: {"jsonrpc": "2.0", "method": "notifications/progress"}\r\n\r\n'
        'data: {"jsonrpc": "2.0", "id": 6, "result": {}}\n\n'
        'data:{"jsonrpc": "2.0", "id": 7,\ndata: "result": {"content": ["\u2028\x85"]}}\n'
    )
    assert _sse_answer(stream, 7) == answer
    with pytest.raises(ConnectionError):
        _sse_answer(stream, 8)
