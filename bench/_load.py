"""The swarm load generator: K concurrent MCP client sessions on trio, open or closed loop.

Each session is the SDK's ``mcp.Client`` over one transport, authenticated with its own API key:

========== ===============================================================================
``http``        streamable HTTP, protocol 2026-07-28 (the SDK's default ``mode="auto"``)
``http-legacy`` streamable HTTP, protocol 2025-11-25 (``mode="legacy"``: initialize, session id)
``sse``         the legacy SSE transport (``GET /sse`` + ``POST /messages/``), 2025-11-25
``ws``          WebSocket (``/ws``) through :class:`mcp_edge.ws_client.WebSocketTransport`
``ws-raw``      WebSocket (``/ws``), 2025-11-25, without the SDK client: JSON-RPC frames
                written and matched by id here (:class:`RawWebSocketClient`), so the load
                generator's own CPU per call is a fraction of the SDK's
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
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TextIO, get_args

import attrs
import httpx2
import trio
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from mcp_edge.ws_client import WebSocketTransport

Transport = Literal["http", "http-legacy", "sse", "ws", "ws-raw"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
SDK_TRANSPORTS: tuple[Transport, ...] = ("http", "http-legacy", "sse", "ws")
"""The transports the SDK's own client drives (``--transport all``); ``ws-raw`` is opt-in."""
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
        limits = httpx2.Limits(max_connections=None, keepalive_expiry=2.0)
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
    elif transport == "ws":
        ws_url = "ws" + base_url.removeprefix("http") + "/ws"
        async with Client(WebSocketTransport(ws_url, headers=headers)) as client:
            yield client
    else:
        raise ValueError(f"unknown transport {transport!r}; choose from {', '.join(TRANSPORTS)}")


@attrs.frozen
class RawResult:
    """A ``tools/call`` answer as :class:`RawWebSocketClient` gives it."""

    is_error: bool
    content: list[Any]
    structured_content: dict[str, Any] | None = None


@attrs.define
class RawWebSocketClient:
    """Just enough of an MCP client over ``/ws`` to call tools: ``call_tool(name, arguments)``.

    One reader task matches answers to requests by id; a closed socket fails every waiting call.
    """

    ws: WebSocketConnection
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _waiting: dict[int, tuple[trio.Event, list[Any]]] = attrs.field(factory=dict)
    _closed: BaseException | None = None

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send one request, wait for its answer; its ``result`` (an ``error`` raises)."""
        if self._closed is not None:
            raise ConnectionError("the WebSocket is closed") from self._closed
        request_id = next(self._ids)
        done, answer = trio.Event(), []
        self._waiting[request_id] = (done, answer)
        frame = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            await self.ws.send_message(json.dumps(frame))
            await done.wait()
        finally:
            self._waiting.pop(request_id, None)
        message = answer[0]
        if isinstance(message, BaseException):
            raise ConnectionError("the WebSocket closed during a call") from message
        if "error" in message:
            raise RuntimeError(f"JSON-RPC error {message['error']}")
        return message.get("result")

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        return RawResult(
            bool(result.get("isError")),
            list(result.get("content", [])),
            result.get("structuredContent"),
        )

    async def read(self) -> None:
        """Dispatch answers until the socket closes; then fail every waiting call."""
        try:
            while True:
                message = json.loads(await self.ws.get_message())
                waiter = self._waiting.get(message.get("id"))  # notifications have no id
                if waiter is not None:
                    waiter[1].append(message)
                    waiter[0].set()
        except ConnectionClosed as exc:
            self._closed = exc
            for done, answer in self._waiting.values():
                answer.append(exc)
                done.set()


@asynccontextmanager
async def raw_websocket_client(
    url: str, headers: dict[str, str]
) -> AsyncIterator[RawWebSocketClient]:
    """An initialized :class:`RawWebSocketClient` (protocol 2025-11-25) on ``url``."""
    async with open_websocket_url(
        url,
        subprotocols=["mcp"],
        extra_headers=[(k.encode(), v.encode()) for k, v in headers.items()],
    ) as ws:
        client = RawWebSocketClient(ws)
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
            await ws.send_message(
                json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
            )
            yield client
            nursery.cancel_scope.cancel()


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

    def record(self, record: CallRecord) -> None:
        self.records.append(record)


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
            result = await client.call_tool(tool, arguments)
            if result.is_error:
                error = _text(result.content)
            elif isinstance(result.structured_content, dict):
                state = result.structured_content.get("state")
        if scope.cancelled_caught:
            error = "timeout"
    except Exception as exc:  # any failure of one call is a recorded error, not the run's
        error = type(exc).__name__
    ended = trio.current_time()
    recorder.finished += 1
    if started >= timing["start"] and started < timing["end"]:
        record = CallRecord(s, n, started - timing["start"], ended - started, error, state)
        recorder.record(record)


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
    errors = sum(1 for r in records if r.error is not None)
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
    "LoadConfig",
    "LoadResult",
    "Plan",
    "RawResult",
    "RawWebSocketClient",
    "Transport",
    "connect",
    "raw_websocket_client",
    "run_load",
]
