"""The swarm load generator: K concurrent MCP client sessions on trio, open or closed loop.

Each session is the SDK's ``mcp.Client`` over one transport, authenticated with its own API key:

========== ===============================================================================
``http``        streamable HTTP, protocol 2026-07-28 (the SDK's default ``mode="auto"``)
``http-legacy`` streamable HTTP, protocol 2025-11-25 (``mode="legacy"``: initialize, session id)
``sse``         the legacy SSE transport (``GET /sse`` + ``POST /messages/``), 2025-11-25
``ws``          WebSocket (``/ws``) through :class:`mcp_edge.ws_client.WebSocketTransport`
``ws-raw``      WebSocket (``/ws``), 2025-11-25, without the SDK client: JSON-RPC frames
                written and matched by id here (:class:`RawWebSocketClient`, wsproto on a
                plain socket, no task per call), so the load generator's own CPU per call
                is a fraction of the SDK's
``http-raw``    streamable HTTP, 2026-07-28, without the SDK client: each call one POST of a
                JSON-RPC ``tools/call`` with the era's headers and ``_meta`` envelope, h11 on
                plain keep-alive sockets (:class:`RawHttpClient`); being stateless, a session
                opens no connection until its first call
========== ===============================================================================

What each session calls comes from a *plan*: ``plan(session, n) -> (tool, arguments)`` for the
session's n-th call, so a scenario can recompute what was sent (the lost/duplicated check).

**Open loop** (``rate`` given): the run offers ``rate`` calls per second in total, spread evenly
over the sessions: session ``s``'s call ``n`` is *scheduled* at ``start + (n*K + s) / rate`` on
``trio.current_time()``, and started then whether or not the earlier calls have returned (up to
``max_in_flight`` per session; beyond that a call waits). Latency is measured from the scheduled
instant, not from when the call could start, so a server that falls behind shows its queueing in
the latency instead of quietly lowering the offered rate (coordinated omission).

**Closed loop** (``rate`` None): each session calls back to back; latency from the call's start.

The first ``warmup`` seconds are driven the same way but not recorded. Every recorded call gives
a :class:`CallRecord`: its scheduled start (seconds into the timed window), latency, whether it
succeeded and, if not, why. While it runs, a progress line on stderr shows the elapsed time,
calls, the completion rate and the p99 so far.
"""

from __future__ import annotations

import itertools
import json
import math
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, Literal, TextIO, cast, get_args
from urllib.parse import urlsplit

import attrs
import h11
import httpx2
import trio
import wsproto
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    encode_header_value,
)
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
)
from wsproto import ConnectionType
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from mcp_edge.ws_client import WebSocketTransport

Transport = Literal["http", "http-legacy", "sse", "ws", "ws-raw", "http-raw"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
SDK_TRANSPORTS: tuple[Transport, ...] = ("http", "http-legacy", "sse", "ws")
"""The transports the SDK's own client drives (``--transport all``); the raw ones are opt-in."""
Plan = Callable[[int, int], tuple[str, dict[str, Any]]]
"""``plan(session, n)``: the tool and arguments of session ``session``'s ``n``-th call."""

_CONNECT_TIMEOUT = 60.0
_CONNECTING_AT_ONCE = 20


@asynccontextmanager
async def connect(transport: Transport, base_url: str, key: str | None) -> AsyncIterator[Client]:
    """An initialized ``mcp.Client`` to the server at ``base_url`` (no path) over ``transport``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if transport in ("http", "http-legacy"):
        # idle connections expire before uvicorn's 5 s keep-alive closes them under a request
        limits = httpx2.Limits(max_connections=None, keepalive_expiry=_KEEPALIVE)
        async with httpx2.AsyncClient(headers=headers, timeout=60, limits=limits) as http:
            stream = streamable_http_client(base_url + "/mcp", http_client=http)
            mode = "legacy" if transport == "http-legacy" else "auto"
            async with Client(stream, mode=mode) as client:  # type: ignore[arg-type]
                yield client
    elif transport == "sse":
        stream = sse_client(base_url + "/sse", headers=headers, timeout=60)
        async with Client(stream, mode="legacy") as client:  # type: ignore[arg-type]
            yield client
    elif transport == "ws-raw":
        ws_url = "ws" + base_url.removeprefix("http") + "/ws"
        async with raw_websocket_client(ws_url, headers) as raw:
            yield raw  # type: ignore[misc]
    elif transport == "http-raw":
        raw_http = RawHttpClient.to(base_url + "/mcp", headers)
        try:
            yield raw_http  # type: ignore[misc]
        finally:
            raw_http.close()
    elif transport == "ws":
        ws_url = "ws" + base_url.removeprefix("http") + "/ws"
        async with Client(WebSocketTransport(ws_url, headers=headers)) as client:
            yield client
    else:
        raise ValueError(f"unknown transport {transport!r}; choose from {', '.join(TRANSPORTS)}")


@attrs.frozen
class RawResult:
    """A ``tools/call`` answer as :class:`RawWebSocketClient` and :class:`RawHttpClient` give it."""

    is_error: bool
    content: list[Any]
    structured_content: dict[str, Any] | None = None

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> RawResult:
        """From a ``tools/call`` answer's ``result``."""
        return cls(
            bool(result.get("isError")),
            list(result.get("content", [])),
            result.get("structuredContent"),
        )


AnswerCallback = Callable[[int, "dict[str, Any] | BaseException"], None]
"""``on_answer(request_id, message)``: the JSON-RPC answer, or what closed the socket."""

_RECEIVE_SIZE = 65536


@attrs.define
class RawWebSocketClient:
    """Just enough of an MCP client over ``/ws`` to call tools: ``call_tool(name, arguments)``.

    WebSocket framing is wsproto's; the socket I/O is done here on a plain non-blocking socket
    rather than through trio-websocket, whose reader task, message channel and send lock cost
    more CPU per call than the rest of the load generator together. A write goes straight to
    the socket when it takes the whole frame (no checkpoint); otherwise it waits its turn.

    One reader task (:meth:`read`) matches answers to requests by id and hands each to the
    callback its request registered (:meth:`expect`), answers the server's pings, and on a
    closed socket fails every waiting call. The open loop drives the client through
    :meth:`expect` + :meth:`send`, without a task per call; :meth:`request` is the awaitable form.
    """

    _sock: socket.socket
    """Connected and non-blocking; owned by this client (:meth:`aclose`)."""
    _ws: wsproto.WSConnection
    """Past the handshake."""
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _waiting: dict[int, AnswerCallback] = attrs.field(factory=dict)
    _closed: BaseException | None = None
    _write_lock: trio.StrictFIFOLock = attrs.field(factory=trio.StrictFIFOLock)
    """Held by a write the socket could not take at once, until it is all written."""

    def expect(self, on_answer: AnswerCallback) -> int:
        """A new request id whose answer (or the socket's closing) goes to ``on_answer``.

        Call it before :meth:`send`: the answer can arrive before ``send`` returns.
        """
        if self._closed is not None:
            raise ConnectionError("the WebSocket is closed") from self._closed
        request_id = next(self._ids)
        self._waiting[request_id] = on_answer
        return request_id

    def forget(self, request_id: int) -> None:
        """Stop waiting for ``request_id`` (timed out, cancelled or never sent)."""
        self._waiting.pop(request_id, None)

    async def send(self, request_id: int, method: str, params: dict[str, Any]) -> None:
        """Send request ``request_id`` (from :meth:`expect`)."""
        frame = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        await self.notify(frame)

    async def notify(self, frame: dict[str, Any]) -> None:
        """Send one JSON-RPC message as a text frame."""
        if self._closed is not None:
            raise ConnectionError("the WebSocket is closed") from self._closed
        await self._write(self._ws.send(TextMessage(json.dumps(frame))))

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send one request, wait for its answer; its ``result`` (an ``error`` raises)."""
        done, answer = trio.Event(), []

        def on_answer(_request_id: int, message: dict[str, Any] | BaseException) -> None:
            answer.append(message)
            done.set()

        request_id = self.expect(on_answer)
        try:
            await self.send(request_id, method, params)
            await done.wait()
        finally:
            self.forget(request_id)
        return _result(answer[0])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        return RawResult.from_result(result)

    async def read(self) -> None:
        """Dispatch answers until the socket closes; then fail every waiting call."""
        waiting = self._waiting
        parts: list[str] = []
        try:
            while True:
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        if not event.message_finished:
                            parts.append(event.data)
                            continue
                        text = "".join([*parts, event.data]) if parts else event.data
                        parts.clear()
                        message = json.loads(text)
                        request_id = message.get("id")  # notifications have no id
                        on_answer = waiting.pop(request_id, None)
                        if on_answer is not None:
                            on_answer(request_id, message)
                    elif isinstance(event, Ping):
                        await self._write(self._ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        if self._ws.state is ConnectionState.REMOTE_CLOSING:
                            await self._write(self._ws.send(event.response()))
                        raise ConnectionError(f"closed by the server: {event.code} {event.reason}")
                self._ws.receive_data(await _receive(self._sock) or None)
        except (OSError, RemoteProtocolError) as exc:  # ConnectionError is an OSError
            self._closed = exc
            while waiting:
                request_id, on_answer = waiting.popitem()
                on_answer(request_id, exc)

    async def aclose(self) -> None:
        """Say goodbye (a close frame, best effort) and close the socket."""
        try:
            if self._closed is None and self._ws.state is ConnectionState.OPEN:
                with trio.move_on_after(1.0):
                    await self._write(self._ws.send(CloseConnection(code=1000)))
        except OSError:
            pass  # already gone: nothing to say goodbye to
        finally:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()

    async def _write(self, data: bytes) -> None:
        """Write ``data`` whole, after any earlier write still in progress."""
        sock = self._sock
        try:
            if self._write_lock.locked():
                await self._write_lock.acquire()
            else:
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return  # the common case: no lock, no checkpoint
                data = data[sent:]
                self._write_lock.acquire_nowait()  # not locked, and no checkpoint since
        except OSError as exc:
            raise ConnectionError("the WebSocket is closed") from exc
        try:
            await _send_all(sock, data)
        except BaseException as exc:
            # a frame cut short leaves the stream unusable: end it rather than corrupt it
            self._closed = exc
            with suppress(OSError):  # already shut by the peer
                sock.shutdown(socket.SHUT_RDWR)
            if isinstance(exc, OSError):
                raise ConnectionError("the WebSocket is closed") from exc
            raise
        finally:
            self._write_lock.release()


async def _send_all(sock: socket.socket, data: bytes) -> None:
    """Write ``data`` whole; no checkpoint when the socket takes it at once."""
    view = memoryview(data)
    while True:
        with suppress(BlockingIOError):
            view = view[sock.send(view) :]
        if not view:
            return
        await trio.lowlevel.wait_writable(sock)


async def _receive(sock: socket.socket) -> bytes:
    """The next bytes on ``sock`` (b"" at its end)."""
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            return sock.recv(_RECEIVE_SIZE)
        except BlockingIOError:
            continue


async def _open_socket(host: str, port: int) -> socket.socket:
    """A connected, non-blocking TCP socket to the first address of ``host`` that answers."""
    addresses = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = ConnectionError(f"no address for {host}")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await trio.socket.from_stdlib_socket(sock).connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error


_MODERN_VERSION = "2026-07-28"
_MODERN_META = {
    PROTOCOL_VERSION_META_KEY: _MODERN_VERSION,
    CLIENT_CAPABILITIES_META_KEY: {},
    CLIENT_INFO_META_KEY: {"name": "mcp-discord-bench", "version": "0"},
}
"""The per-request envelope the 2026-07-28 server requires in every request's ``params._meta``."""


class HttpStatusError(Exception):
    """An HTTP answer other than 200 to a call; recorded as its text (``HTTP 401``)."""


_KEEPALIVE = 2.0
"""Seconds a :class:`RawHttpClient` connection is reused after its last answer (uvicorn closes
idle connections after 5 s: one must not be reused as it closes)."""


@attrs.define
class RawHttpClient:
    """Just enough of a 2026-07-28 streamable HTTP client to call tools: ``call_tool(name,
    arguments)``, one POST each, with the headers the era requires (``MCP-Protocol-Version``,
    ``Mcp-Method``, ``Mcp-Name``; no ``Mcp-Param-*``, which only tools that declare
    ``x-mcp-header`` arguments need) and the ``_meta`` envelope in the params.

    HTTP/1.1 is h11's; the socket I/O is done here on plain non-blocking sockets, as
    :class:`RawWebSocketClient` does, rather than through httpx2, whose connection pool and
    models cost three times the CPU per call of ``ws-raw``. A call takes an idle keep-alive
    connection (idle for less than :data:`_KEEPALIVE`, not closed by the server) or opens one,
    so concurrent calls each have their own; a call that fails or is cancelled closes its own.

    The answer is JSON or an SSE stream whose ``data:`` lines carry it; a status other than 200
    raises :class:`HttpStatusError`, a JSON-RPC error ``RuntimeError`` (as ``ws-raw``'s).
    """

    _host: str
    _port: int
    _target: str
    _headers: list[tuple[str, str]]
    """Every call's headers but ``Mcp-Name`` and ``Content-Length``."""
    _idle: list[tuple[socket.socket, h11.Connection, float]] = attrs.field(factory=list)
    """Keep-alive connections between calls, with when each became idle (most recent last)."""
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    @classmethod
    def to(cls, url: str, headers: dict[str, str]) -> RawHttpClient:
        """A client of the MCP endpoint ``url`` (``<base>/mcp``), sending ``headers`` too."""
        parts = urlsplit(url)
        if parts.hostname is None:
            raise ValueError(f"no host in {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        fixed = [
            ("host", parts.netloc),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            (MCP_PROTOCOL_VERSION_HEADER, _MODERN_VERSION),
            (MCP_METHOD_HEADER, "tools/call"),
        ]
        return cls(parts.hostname, parts.port or 80, target, [*fixed, *headers.items()])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        request_id = next(self._ids)
        params = {"name": name, "arguments": arguments, "_meta": _MODERN_META}
        request = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
        body = json.dumps(request).encode()
        headers = [
            *self._headers,
            (MCP_NAME_HEADER, encode_header_value(name)),
            ("content-length", str(len(body))),
        ]
        sock, http = await self._connection()
        reusable = False
        try:
            data = http.send(h11.Request(method="POST", target=self._target, headers=headers))
            data += http.send(h11.Data(body)) + http.send(h11.EndOfMessage())
            await _send_all(sock, data)
            response, content = await _response(sock, http)
            reusable = http.our_state is http.their_state is h11.DONE
        finally:
            if reusable:
                http.start_next_cycle()
                self._idle.append((sock, http, trio.current_time()))
            else:
                _close(sock)
        if response.status_code != 200:
            raise HttpStatusError(f"HTTP {response.status_code}")
        if _header(response, b"content-type").startswith(b"text/event-stream"):
            message = _sse_answer(content.decode(), request_id)
        else:
            message = json.loads(content)
        return RawResult.from_result(_result(message))

    def close(self) -> None:
        """Close the idle connections (a call's own closes when it ends)."""
        while self._idle:
            _close(self._idle.pop()[0])

    async def _connection(self) -> tuple[socket.socket, h11.Connection]:
        """The most recently idle connection still usable, else a new one."""
        now = trio.current_time()
        while self._idle:
            sock, http, since = self._idle.pop()
            if now - since < _KEEPALIVE and _quiet(sock):
                return sock, http
            _close(sock)
        return await _open_socket(self._host, self._port), h11.Connection(h11.CLIENT)


def _quiet(sock: socket.socket) -> bool:
    """Nothing to read on an idle connection: not closed by the server."""
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        pass
    return False  # its end (b""), an error, or bytes no request asked for


def _close(sock: socket.socket) -> None:
    trio.lowlevel.notify_closing(sock)
    sock.close()


async def _response(sock: socket.socket, http: h11.Connection) -> tuple[h11.Response, bytes]:
    """The response to the request just sent on ``http``: its head and whole body."""
    response: h11.Response | None = None
    chunks: list[bytes] = []
    while True:
        event = http.next_event()
        if event is h11.NEED_DATA:
            http.receive_data(await _receive(sock))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            chunks.append(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None  # h11 gives the head first
            return response, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("the server closed the connection before answering")


def _header(response: h11.Response, name: bytes) -> bytes:
    """The first value of header ``name`` (lower case), or b""."""
    return next((value for key, value in response.headers if key == name), b"")


def _sse_answer(text: str, request_id: int) -> dict[str, Any]:
    """The JSON-RPC answer to ``request_id`` among an SSE stream's events (``data:`` lines)."""
    data: list[str] = []
    # SSE's line ends only: str.splitlines would also split JSON strings at U+2028 and the like
    for line in [*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""]:
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif not line and data:  # an event's end
            message = json.loads("\n".join(data))
            data.clear()
            if isinstance(message, dict) and message.get("id") == request_id:
                return cast("dict[str, Any]", message)
    raise ConnectionError("the SSE stream ended without the call's answer")


def _result(message: dict[str, Any] | BaseException) -> Any:
    """A JSON-RPC answer's ``result``; an ``error`` or a closed socket raises."""
    if isinstance(message, BaseException):
        raise ConnectionError("the WebSocket closed during a call") from message
    if "error" in message:
        raise RuntimeError(f"JSON-RPC error {message['error']}")
    return message.get("result")


@asynccontextmanager
async def raw_websocket_client(
    url: str, headers: dict[str, str]
) -> AsyncIterator[RawWebSocketClient]:
    """An initialized :class:`RawWebSocketClient` (protocol 2025-11-25) on ``url``."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"no host in {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock = await _open_socket(parts.hostname, parts.port or 80)
    client = None
    try:
        ws = wsproto.WSConnection(ConnectionType.CLIENT)
        handshake = Request(
            host=parts.netloc,
            target=target,
            subprotocols=["mcp"],
            extra_headers=[(k.encode(), v.encode()) for k, v in headers.items()],
        )
        client = RawWebSocketClient(sock, ws)
        await client._write(ws.send(handshake))
        event = await _handshake_answer(sock, ws)
        if not isinstance(event, AcceptConnection):
            raise ConnectionError(f"WebSocket handshake refused: HTTP {event.status_code}")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.read)
            await client.request(
                "initialize",
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "mcp-discord-bench", "version": "0"},
                },
            )
            await client.notify({"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield client
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if client is not None:
                await client.aclose()
            else:
                sock.close()


async def _handshake_answer(
    sock: socket.socket, ws: wsproto.WSConnection
) -> AcceptConnection | RejectConnection:
    """The server's answer to the opening handshake (later events stay queued in ``ws``)."""
    while True:
        for event in ws.events():
            if isinstance(event, AcceptConnection | RejectConnection):
                return event
        data = await _receive(sock)
        if not data:
            raise ConnectionError("the server closed the connection during the handshake")
        ws.receive_data(data)


@attrs.frozen
class CallRecord:
    """One recorded call."""

    session: int
    n: int
    """The session's call number (what ``plan(session, n)`` gave)."""
    start: float
    """Scheduled (open loop) or actual (closed loop) start, seconds into the timed window."""
    latency: float
    """Seconds from ``start`` to the answer."""
    error: str | None
    """None when the call succeeded; else the tool error's text or the exception's type."""
    state: str | None = None
    """The result's ``state`` when it has one (``send_message``: delivered or queued)."""

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen
class LoadConfig:
    """One run of the load generator."""

    transport: Transport
    base_url: str
    keys: Sequence[str | None]
    """One API key per session (None: no ``Authorization``); K = len(keys)."""
    seconds: float
    warmup: float = 1.0
    rate: float | None = None
    """Calls per second offered in total (open loop), or None (closed loop)."""
    max_in_flight: int = 32
    """Open loop: calls one session may have outstanding; a call beyond waits (and its wait
    counts in its latency)."""
    call_timeout: float = 30.0
    label: str = "load"
    """Shown in the progress line."""


@attrs.frozen
class LoadResult:
    """What a run recorded; ``window`` is the timed window in ``trio.current_time()``."""

    config: LoadConfig
    records: list[CallRecord]
    window: tuple[float, float]
    """Scheduled start and end of the timed window."""
    finished: float
    """When the last call of the window answered (``trio.current_time()``)."""
    session_failures: Counter[str] = attrs.field(factory=Counter)
    """Sessions whose connection broke during the run, by exception (their remaining calls
    were never made: compare ``offered``)."""

    @property
    def offered(self) -> int | None:
        """Calls scheduled in the timed window (open loop), made or not."""
        if self.config.rate is None:
            return None
        return math.ceil(self.config.rate * self.config.seconds)

    @property
    def ok(self) -> list[CallRecord]:
        return [r for r in self.records if r.ok]

    @property
    def errors(self) -> Counter[str]:
        return Counter(r.error for r in self.records if r.error is not None)


@attrs.define
class _Recorder:
    """Calls completed so far and the progress line."""

    records: list[CallRecord] = attrs.field(factory=list)
    session_failures: Counter[str] = attrs.field(factory=Counter)
    started: int = 0
    """Calls started so far (warm-up included)."""
    finished: int = 0
    """Calls answered so far (warm-up included); started - finished are in flight."""
    errors: int = 0
    """Recorded calls that failed."""

    def record(self, record: CallRecord) -> None:
        self.records.append(record)
        if record.error is not None:
            self.errors += 1

    def finish(
        self,
        s: int,
        n: int,
        started: float,
        error: str | None,
        state: str | None,
        timing: dict[str, float],
    ) -> None:
        """Session ``s``'s call ``n``, started at ``started``, answered now: recorded if it
        started in the timed window."""
        self.finished += 1
        if timing["start"] <= started < timing["end"]:
            latency = trio.current_time() - started
            self.record(CallRecord(s, n, started - timing["start"], latency, error, state))


async def run_load(
    config: LoadConfig, plan: Plan, *, progress: TextIO | None = sys.stderr
) -> LoadResult:
    """Connect every session, drive ``plan`` for warm-up + ``seconds``, return the records."""
    sessions = len(config.keys)
    if sessions < 1:
        raise ValueError("the load needs at least one session")
    recorder = _Recorder()
    connected = trio.Event()
    go = trio.Event()
    count = [0]
    timing: dict[str, float] = {}
    limiter = trio.Semaphore(_CONNECTING_AT_ONCE)

    async def session(s: int) -> None:
        await limiter.acquire()  # released once connected: a bounded burst of handshakes
        connecting = True
        try:
            async with connect(config.transport, config.base_url, config.keys[s]) as client:
                limiter.release()
                connecting = False
                count[0] += 1
                if count[0] == sessions:
                    connected.set()
                await go.wait()
                if config.rate is None:
                    await _closed_loop(client, s, config, plan, timing, recorder)
                elif isinstance(raw := cast(object, client), RawWebSocketClient):
                    await _open_loop_raw(raw, s, sessions, config, plan, timing, recorder)
                else:
                    await _open_loop(client, s, sessions, config, plan, timing, recorder)
        except Exception as exc:
            if not go.is_set():
                raise  # connecting failed: the run cannot be what was asked for
            recorder.session_failures[_leaf(exc)] += 1  # a session lost mid-run is a figure
        finally:
            if connecting:
                limiter.release()

    async with trio.open_nursery() as reporting:
        async with trio.open_nursery() as nursery:
            for s in range(sessions):
                nursery.start_soon(session, s)
            connect_timeout = _CONNECT_TIMEOUT * (1 + sessions / _CONNECTING_AT_ONCE)
            with trio.fail_after(connect_timeout):
                await connected.wait()
            now = trio.current_time()
            timing["warmup"] = now
            timing["start"] = now + config.warmup
            timing["end"] = timing["start"] + config.seconds
            go.set()
            if progress is not None:
                reporting.start_soon(_progress, config, timing, recorder, progress)
        reporting.cancel_scope.cancel()
    if progress is not None:
        _final_line(config, timing, recorder, progress)
    finished = max((timing["start"] + r.start + r.latency for r in recorder.records), default=0.0)
    window = (timing["start"], timing["end"])
    return LoadResult(config, recorder.records, window, finished, recorder.session_failures)


def _leaf(exc: BaseException) -> str:
    """The first non-group exception's type name."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


async def _call(
    client: Client,
    s: int,
    n: int,
    started: float,
    config: LoadConfig,
    plan: Plan,
    timing: dict[str, float],
    recorder: _Recorder,
) -> None:
    tool, arguments = plan(s, n)
    error: str | None = None
    state: str | None = None
    recorder.started += 1
    try:
        with trio.move_on_after(config.call_timeout) as scope:
            error, state = _outcome(await client.call_tool(tool, arguments))
        if scope.cancelled_caught:
            error = "timeout"
    except HttpStatusError as exc:
        error = str(exc)
    except Exception as exc:  # any failure of one call is a recorded error, not the run's
        error = type(exc).__name__
    recorder.finish(s, n, started, error, state, timing)


def _outcome(result: Any) -> tuple[str | None, str | None]:
    """A ``call_tool`` result's error (the tool error's text) and ``state`` (or None)."""
    if result.is_error:
        return _text(result.content), None
    if isinstance(result.structured_content, dict):
        return None, result.structured_content.get("state")
    return None, None


def _text(content: Sequence[Any]) -> str:
    texts = [
        block.get("text", "") if isinstance(block, dict) else getattr(block, "text", "")
        for block in content
    ]
    return (" ".join(t for t in texts if t) or "tool error")[:120]


async def _open_loop(
    client: Client,
    s: int,
    sessions: int,
    config: LoadConfig,
    plan: Plan,
    timing: dict[str, float],
    recorder: _Recorder,
) -> None:
    assert config.rate is not None
    in_flight = trio.Semaphore(config.max_in_flight)

    async def one(n: int, scheduled: float) -> None:
        try:
            await _call(client, s, n, scheduled, config, plan, timing, recorder)
        finally:
            in_flight.release()

    async with trio.open_nursery() as calls:
        for n in range(sys.maxsize):
            scheduled = timing["warmup"] + (n * sessions + s) / config.rate
            if scheduled >= timing["end"]:
                break
            await trio.sleep_until(scheduled)
            await in_flight.acquire()
            if trio.current_time() >= timing["end"]:  # the offer is over: no backlog drain
                in_flight.release()
                _not_started(s, n, sessions, scheduled, config, timing, recorder)
                break
            calls.start_soon(one, n, scheduled)


async def _open_loop_raw(
    client: RawWebSocketClient,
    s: int,
    sessions: int,
    config: LoadConfig,
    plan: Plan,
    timing: dict[str, float],
    recorder: _Recorder,
) -> None:
    """:func:`_open_loop` for ``ws-raw``, without a task, cancel scope or event per call.

    Each call is sent from this loop and finished by the client's reader (its answer) or by
    ``expire`` (its timeout): the same records, in-flight cap and timeout as the task per call
    of :func:`_open_loop`, for a fraction of the load generator's CPU.
    """
    assert config.rate is not None
    calls: dict[int, tuple[int, float, float]] = {}
    """Request id -> (n, scheduled, deadline) of the calls in flight, in deadline order (each
    call's deadline is its send's time + ``call_timeout``, and calls are sent in order)."""
    slot_freed: trio.Event | None = None

    def finish(request_id: int, error: str | None, state: str | None) -> None:
        nonlocal slot_freed
        call = calls.pop(request_id, None)
        if call is None:  # already finished (timed out, or failed by a closing socket)
            return
        recorder.finish(s, call[0], call[1], error, state, timing)
        if slot_freed is not None:
            slot_freed.set()
            slot_freed = None

    def answered(request_id: int, message: dict[str, Any] | BaseException) -> None:
        try:
            error, state = _outcome(RawResult.from_result(_result(message)))
        except Exception as exc:  # as _call records it: the failure's type
            error, state = type(exc).__name__, None
        finish(request_id, error, state)

    async def expire() -> None:
        while True:
            first = next(iter(calls.values()), None)
            # with no call in flight, any call sent from now on expires after this instant
            deadline = first[2] if first else trio.current_time() + config.call_timeout
            await trio.sleep_until(deadline)
            now = trio.current_time()
            while calls:
                request_id, (_n, _scheduled, deadline) = next(iter(calls.items()))
                if deadline > now:
                    break
                client.forget(request_id)
                finish(request_id, "timeout", None)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(expire)
        for n in range(sys.maxsize):
            scheduled = timing["warmup"] + (n * sessions + s) / config.rate
            if scheduled >= timing["end"]:
                break
            if scheduled > trio.current_time():
                await trio.sleep_until(scheduled)
            else:  # late already: a checkpoint is all the turn-taking this needs
                await trio.lowlevel.checkpoint()
            while len(calls) >= config.max_in_flight:
                slot_freed = trio.Event()
                await slot_freed.wait()
            now = trio.current_time()
            if now >= timing["end"]:  # the offer is over: no backlog drain
                _not_started(s, n, sessions, scheduled, config, timing, recorder)
                break
            tool, arguments = plan(s, n)
            recorder.started += 1
            try:
                request_id = client.expect(answered)
            except Exception as exc:  # the socket is closed: this call fails, the next may too
                recorder.finish(s, n, scheduled, type(exc).__name__, None, timing)
                continue
            calls[request_id] = (n, scheduled, now + config.call_timeout)
            try:
                await client.send(request_id, "tools/call", {"name": tool, "arguments": arguments})
            except Exception as exc:
                client.forget(request_id)
                finish(request_id, type(exc).__name__, None)
        while calls:  # the last answers (or timeouts)
            slot_freed = trio.Event()
            await slot_freed.wait()
        nursery.cancel_scope.cancel()


def _not_started(
    s: int,
    n: int,
    sessions: int,
    scheduled: float,
    config: LoadConfig,
    timing: dict[str, float],
    recorder: _Recorder,
) -> None:
    """Record the session's calls scheduled in the window that never got a slot, as errors."""
    assert config.rate is not None
    now = trio.current_time()
    while scheduled < timing["end"]:
        if scheduled >= timing["start"]:
            start = scheduled - timing["start"]
            recorder.record(CallRecord(s, n, start, now - scheduled, "not started"))
        n += 1
        scheduled = timing["warmup"] + (n * sessions + s) / config.rate


async def _closed_loop(
    client: Client,
    s: int,
    config: LoadConfig,
    plan: Plan,
    timing: dict[str, float],
    recorder: _Recorder,
) -> None:
    n = 0
    while (now := trio.current_time()) < timing["end"]:
        await _call(client, s, n, now, config, plan, timing, recorder)
        n += 1


async def _progress(
    config: LoadConfig, timing: dict[str, float], recorder: _Recorder, out: TextIO
) -> None:
    """A single updating line on a terminal (every 0.5 s); a line every 5 s otherwise.

    Runs until cancelled; :func:`run_load` then writes the final line (:func:`_final_line`).
    """
    tty = out.isatty()
    while True:
        await trio.sleep(0.5 if tty else 5.0)
        line = _line(config, timing, recorder)
        print("\r" + line if tty else line, end="" if tty else "\n", file=out, flush=True)


def _final_line(
    config: LoadConfig, timing: dict[str, float], recorder: _Recorder, out: TextIO
) -> None:
    line = _line(config, timing, recorder)
    print("\r" + line if out.isatty() else line, file=out, flush=True)


def _line(config: LoadConfig, timing: dict[str, float], recorder: _Recorder) -> str:
    """Elapsed, calls recorded, errors, in flight, completion rate and p99 (recent calls)."""
    now = trio.current_time()
    total = config.warmup + config.seconds
    elapsed = now - timing["warmup"]
    records = recorder.records
    timed = max(0.0, min(now, timing["end"]) - timing["start"])
    rate = len(records) / timed if timed > 0 else 0.0
    latencies = sorted(r.latency for r in records[-20_000:])
    p99 = (
        latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
        if latencies
        else math.nan
    )
    errors = recorder.errors
    phase = "warm-up" if now < timing["start"] else "timed"
    return (
        f"[{config.label}] {phase} {min(elapsed, total):5.1f}/{total:g} s  "
        f"calls {len(records)}  errors {errors}  in flight "
        f"{recorder.started - recorder.finished}  {rate:7.1f}/s  p99 {p99:7.1f} ms"
    )


__all__ = [
    "SDK_TRANSPORTS",
    "TRANSPORTS",
    "CallRecord",
    "HttpStatusError",
    "LoadConfig",
    "LoadResult",
    "Plan",
    "RawHttpClient",
    "RawResult",
    "RawWebSocketClient",
    "Transport",
    "connect",
    "raw_websocket_client",
    "run_load",
]
