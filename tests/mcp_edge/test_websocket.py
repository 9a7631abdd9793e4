"""MCP over WebSocket end to end: the package's trio-websocket client against the /ws route.

The server (``ws_server.py`` beside this file) runs under uvicorn in a subprocess, so the client
side runs on trio, as its users' code does; everything crosses a real loopback socket. The
TypeScript SDK's ``WebSocketClientTransport`` is the independent second client (skipped only
when ``node``/``npm`` are missing).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import attrs
import pytest
import trio
from mcp import Client
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
)

from mcp_edge.ws_client import (
    WebSocketConnectError,
    WebSocketRefusedError,
    WebSocketTransport,
    _rejected_connection,
    release_socket,
    websocket_client,
)

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
TS_CLIENT = HERE / "ts_client"


@pytest.fixture
def anyio_backend() -> str:
    """Real sockets on trio: no virtual clock (it would jump past every network wait)."""
    return "trio"


@attrs.frozen
class WsServer:
    port: int
    log: Path

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log_text(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WsServer]:
    """The test server in a subprocess; its stderr (the logs) goes to a file."""
    log = tmp_path_factory.mktemp("ws") / "server.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "ws_server.py")],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"server did not start: {log.read_text()}"
        yield WsServer(port=int(line), log=log)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def active_connections(server: WsServer) -> int:
    """The server's count of connections whose handler has not returned (GET /stats)."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(
            b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
    count: int = json.loads(data.split(b"\r\n\r\n", 1)[1])["active"]
    return count


async def wait_idle(server: WsServer) -> None:
    """Wait until the server serves no WebSocket connection."""
    while await active_connections(server):  # noqa: ASYNC110 - the state is in another process
        await anyio.sleep(0.02)


@contextmanager
def unused_port() -> Iterator[int]:
    """A loopback port with nothing listening on it (bound, not listening, while in use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@asynccontextmanager
async def raw_socket(url: str) -> AsyncIterator[WebSocketConnection]:
    """A bare trio-websocket connection offering 'mcp', its socket released at the end."""
    async with open_websocket_url(url, subprotocols=["mcp"]) as ws:
        try:
            yield ws
        finally:
            await release_socket(ws)


def text_of(result: CallToolResult) -> str:
    """The text of a tool result's first content block."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


async def test_legacy_handshake_lists_and_calls_tools(ws_server: WsServer) -> None:
    """initialize, tools/list and tools/call over one socket in the handshake era."""
    with anyio.fail_after(20):
        async with Client(WebSocketTransport(ws_server.url()), mode="legacy") as client:
            assert client.session.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} == {"echo", "slow_echo", "whoami"}
            assert text_of(await client.call_tool("echo", {"text": "héllo"})) == "héllo"
            assert text_of(await client.call_tool("whoami", {})) == "anonymous"


async def test_modern_era_over_the_same_route(ws_server: WsServer) -> None:
    """The default Client negotiates 2026-07-28 on a WebSocket too."""
    with anyio.fail_after(20):
        async with Client(WebSocketTransport(ws_server.url())) as client:
            assert client.session.protocol_version == "2026-07-28"
            assert text_of(await client.call_tool("echo", {"text": "modern"})) == "modern"


async def test_raw_streams_drive_a_client_session(ws_server: WsServer) -> None:
    """websocket_client's stream pair is what ClientSession takes."""
    with anyio.fail_after(20):
        async with websocket_client(ws_server.url()) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "ws-test"
                result = await session.call_tool("echo", {"text": "raw"})
                assert text_of(result) == "raw"


async def test_bearer_header_identifies_the_caller(ws_server: WsServer) -> None:
    """An Authorization header (verified by the SDK's middleware) reaches get_access_token()."""
    with anyio.fail_after(20):
        transport = WebSocketTransport(ws_server.url(), headers={"Authorization": "Bearer key-bob"})
        async with Client(transport) as client:
            assert text_of(await client.call_tool("whoami", {})) == "bob"


async def test_query_key_identifies_the_caller(ws_server: WsServer) -> None:
    """?access_token= (for clients that cannot send headers) reaches get_access_token()."""
    with anyio.fail_after(20):
        transport = WebSocketTransport(ws_server.url("/ws-private"), access_token="key-alice")
        async with Client(transport, mode="legacy") as client:
            assert text_of(await client.call_tool("whoami", {})) == "alice"


async def test_identity_is_per_connection(ws_server: WsServer) -> None:
    """Two sockets open at once each see their own caller."""
    with anyio.fail_after(20):
        async with (
            Client(WebSocketTransport(ws_server.url(), access_token="key-alice")) as alice,
            Client(WebSocketTransport(ws_server.url(), access_token="key-bob")) as bob,
        ):
            assert text_of(await bob.call_tool("whoami", {})) == "bob"
            assert text_of(await alice.call_tool("whoami", {})) == "alice"


async def test_required_auth_refuses_without_a_key(ws_server: WsServer) -> None:
    """A route that requires identity refuses the upgrade with 403 and says what to send."""
    with anyio.fail_after(20), pytest.raises(WebSocketRefusedError) as caught:
        async with websocket_client(ws_server.url("/ws-private")):
            pytest.fail("the upgrade should have been refused")
    assert caught.value.status == 403
    assert "access_token" in caught.value.reason
    assert "no credential" in ws_server.log_text()


@pytest.mark.parametrize(
    ("headers", "key"),
    [({"Authorization": "Bearer wrong-key"}, None), (None, "wrong-key")],
    ids=["bearer", "query"],
)
async def test_a_wrong_key_is_refused_even_where_auth_is_optional(
    ws_server: WsServer, headers: dict[str, str] | None, key: str | None
) -> None:
    """A presented key that fails is a 403, never a silent downgrade to anonymous."""
    with anyio.fail_after(20), pytest.raises(WebSocketRefusedError) as caught:
        async with websocket_client(ws_server.url(), headers=headers, access_token=key):
            pytest.fail("the upgrade should have been refused")
    assert caught.value.status == 403
    assert "wrong-key" not in str(caught.value)


async def test_missing_subprotocol_is_refused(ws_server: WsServer) -> None:
    """A client that does not offer 'mcp' gets a 400 naming the subprotocol."""
    with anyio.fail_after(20), pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(ws_server.url()):
            pytest.fail("the upgrade should have been refused")
    refused = _rejected_connection(caught.value)  # trio-websocket leaves its socket open
    assert refused is not None
    await release_socket(refused)
    assert caught.value.status_code == 400
    assert b"'mcp'" in (caught.value.body or b"")


async def test_foreign_origin_is_refused(ws_server: WsServer) -> None:
    """A browser page from another origin cannot drive the local server (403)."""
    with anyio.fail_after(20), pytest.raises(WebSocketRefusedError) as caught:
        async with websocket_client(ws_server.url(), headers={"Origin": "http://evil.example"}):
            pytest.fail("the upgrade should have been refused")
    assert caught.value.status == 403
    assert "Origin" in caught.value.reason


async def test_an_unreachable_server_says_so() -> None:
    """No listener: a WebSocketConnectError that names the URL without its query string."""
    with unused_port() as port, anyio.fail_after(20):
        with pytest.raises(WebSocketConnectError) as caught:
            async with websocket_client(f"ws://127.0.0.1:{port}/ws", access_token="secret-key"):
                pytest.fail("there is no server")
    assert f"127.0.0.1:{port}/ws" in str(caught.value)
    assert "secret-key" not in str(caught.value)


async def test_bad_frames_get_json_rpc_errors_and_the_socket_stays(ws_server: WsServer) -> None:
    """Not JSON → -32700, JSON but not JSON-RPC → -32600 with its id; then MCP still works."""
    with anyio.fail_after(20):
        async with raw_socket(ws_server.url()) as ws:
            await ws.send_message("{not json")
            reply = json.loads(await ws.get_message())
            assert reply["id"] is None
            assert reply["error"]["code"] == -32700
            await ws.send_message(json.dumps({"id": 7, "hello": "world"}))
            reply = json.loads(await ws.get_message())
            assert (reply["id"], reply["error"]["code"]) == (7, -32600)
            await ws.send_message(json.dumps([{"jsonrpc": "2.0", "method": "ping", "id": 8}]))
            reply = json.loads(await ws.get_message())
            assert reply["error"]["code"] == -32600
            initialize = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": HANDSHAKE_PROTOCOL_VERSIONS[-1],
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            }
            await ws.send_message(json.dumps(initialize))
            reply = json.loads(await ws.get_message())
            assert reply["id"] == 1
            assert reply["result"]["serverInfo"]["name"] == "ws-test"


async def test_a_binary_frame_closes_with_1003(ws_server: WsServer) -> None:
    """Binary frames are not MCP: the server closes politely with 1003."""
    with anyio.fail_after(20):
        async with raw_socket(ws_server.url()) as ws:
            await ws.send_message(b"\x00\x01")
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
            assert caught.value.reason is not None
            assert caught.value.reason.code == 1003


async def test_an_oversized_frame_closes_with_1009(ws_server: WsServer) -> None:
    """A frame above max_message_size (64 bytes on /ws-small) closes with 1009."""
    with anyio.fail_after(20):
        async with raw_socket(ws_server.url("/ws-small")) as ws:
            await ws.send_message("é" * 40)  # 40 characters, 80 bytes
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
            assert caught.value.reason is not None
            assert caught.value.reason.code == 1009


async def test_a_server_close_fails_the_session_promptly(ws_server: WsServer) -> None:
    """When the server closes (1009: initialize is above /ws-small's limit), calls fail fast."""
    with anyio.fail_after(20), pytest.raises(Exception) as caught:  # noqa: PT011 - checked below
        async with Client(WebSocketTransport(ws_server.url("/ws-small")), mode="legacy"):
            pytest.fail("the session should not have opened")
    group = caught.value
    errors = group.exceptions if isinstance(group, BaseExceptionGroup) else (group,)
    assert any(isinstance(e, MCPError) and "Connection closed" in str(e) for e in errors), errors


async def test_fifty_concurrent_calls_on_one_socket(ws_server: WsServer) -> None:
    """50 calls in flight at once on one connection all complete, concurrently, in order-free."""
    results: dict[int, str] = {}
    with anyio.fail_after(30):
        async with Client(WebSocketTransport(ws_server.url())) as client:

            async def call(i: int) -> None:
                result = await client.call_tool("slow_echo", {"text": f"n{i}", "delay": 0.2})
                results[i] = text_of(result)

            started = anyio.current_time()
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(call, i)
            elapsed = anyio.current_time() - started
    assert results == {i: f"n{i}" for i in range(50)}
    assert elapsed < 5.0, f"the calls ran one after another ({elapsed:.2f}s)"


async def test_close_ends_the_server_side_cleanly(ws_server: WsServer) -> None:
    """After the client leaves, the server's handler returns and logs no error."""
    with anyio.fail_after(20):
        await wait_idle(ws_server)
        async with Client(WebSocketTransport(ws_server.url())) as client:
            await client.call_tool("echo", {"text": "bye"})
            assert await active_connections(ws_server) == 1
        await wait_idle(ws_server)
        # A client leaving in the middle of a slow call is a normal close too.
        async with Client(WebSocketTransport(ws_server.url())) as client:
            with anyio.move_on_after(0.2):
                await client.call_tool("slow_echo", {"text": "never", "delay": 30})
        await wait_idle(ws_server)
    log = ws_server.log_text()
    assert "ERROR" not in log
    assert "Traceback" not in log


async def test_keys_never_reach_the_logs(ws_server: WsServer) -> None:
    """The ASGI server's own handshake line shows access_token=REDACTED, and no key appears."""
    with anyio.fail_after(20):
        transport = WebSocketTransport(ws_server.url(), access_token="key-alice")
        async with Client(transport) as client:
            await client.call_tool("whoami", {})
    log = ws_server.log_text()
    assert "access_token=REDACTED" in log
    for key in ("key-alice", "key-bob", "wrong-key"):
        assert key not in log


# --- the TypeScript SDK's WebSocketClientTransport -------------------------------------------


@pytest.fixture(scope="session")
def ts_client() -> list[str]:
    """The node command line for ts_client/client.mjs, after `npm ci` when not yet installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the TypeScript SDK client test")
    if not (TS_CLIENT / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(TS_CLIENT)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    version = subprocess.run([node, "--version"], check=True, capture_output=True, text=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    flags = ["--experimental-websocket"] if major < 22 else []
    return [node, *flags, str(TS_CLIENT / "client.mjs")]


async def run_ts_client(ts_client: list[str], url: str) -> tuple[int, dict[str, object]]:
    result = await trio.run_process(
        [*ts_client, url], capture_stdout=True, capture_stderr=True, check=False
    )
    lines = result.stdout.decode().strip().splitlines()
    assert lines, f"no output from the TypeScript client: {result.stderr.decode()}"
    return result.returncode, json.loads(lines[-1])


async def test_typescript_sdk_client(ws_server: WsServer, ts_client: list[str]) -> None:
    """The TS SDK's WebSocketClientTransport connects (key in the URL), lists and calls tools."""
    with anyio.fail_after(60):
        code, out = await run_ts_client(ts_client, ws_server.url() + "?access_token=key-alice")
    assert code == 0, out
    assert out["tools"] == ["echo", "slow_echo", "whoami"]
    assert out["echo"] == "from typescript"
    assert out["whoami"] == "alice"
    assert out["concurrent"] == [f"n{i}" for i in range(20)]


async def test_typescript_sdk_client_refused(ws_server: WsServer, ts_client: list[str]) -> None:
    """Refused without a key, the TS client sees only 'non-101'; the reason is in our log."""
    with anyio.fail_after(60):
        code, out = await run_ts_client(ts_client, ws_server.url("/ws-private"))
    assert code == 1
    assert "non-101" in str(out["error"])
    assert "requires one" in ws_server.log_text()
