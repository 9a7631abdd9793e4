"""MCP over WebSocket, client side, on trio-websocket (so: trio only).

The counterpart of :mod:`mcp_edge.websocket` (whose docstring is the wire contract): subprotocol
``mcp``, one JSON-RPC message per text frame. :func:`websocket_client` yields the same
``(read_stream, write_stream)`` pair of ``SessionMessage`` streams the SDK's own client
transports yield, so ``mcp.client.session.ClientSession(read, write)`` runs on it;
:class:`WebSocketTransport` is the same thing as an object for the high-level client::

    async with Client(WebSocketTransport("ws://127.0.0.1:8000/ws", access_token=key)) as c:
        await c.call_tool("send_message", {...})

Credentials: ``headers={"Authorization": "Bearer <key>"}`` (any extra headers go with the
upgrade request) or ``access_token=<key>``, added to the URL as ``?access_token=`` for servers
behind proxies that strip headers. Neither ever appears in an error message raised here.

Inside, a reader task turns frames into messages (a frame that is not a JSON-RPC message becomes
an ``Exception`` item on the read stream, as the SDK's transports do) and a writer task turns
messages into frames. When the server closes, the read stream ends (after a
:class:`WebSocketClosedError` item if the close was not normal), so the session's pending
requests fail instead of hanging. Leaving the context closes the socket with 1000.

Exceptions::

    ConnectionError
    └─ WebSocketTransportError         this module's root
       ├─ WebSocketRefusedError        the server answered the upgrade with an HTTP status
       ├─ WebSocketConnectError        no connection (refused port, DNS, TLS, timeout)
       └─ WebSocketClosedError         the server closed with a code other than 1000/1001
                                       (delivered on the read stream, not raised)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    suppress,
)
from types import TracebackType
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import attrs
import trio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter
from pydantic import ValidationError
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

__all__ = [
    "WebSocketClosedError",
    "WebSocketConnectError",
    "WebSocketRefusedError",
    "WebSocketTransport",
    "WebSocketTransportError",
    "release_socket",
    "websocket_client",
]

SUBPROTOCOL: Final = "mcp"
ACCESS_TOKEN_PARAM: Final = "access_token"

ReadStream = MemoryObjectReceiveStream[SessionMessage | Exception]
WriteStream = MemoryObjectSendStream[SessionMessage]


class WebSocketTransportError(ConnectionError):
    """Root of this module's errors."""


class WebSocketRefusedError(WebSocketTransportError):
    """The server refused the upgrade; ``status`` and the server's ``reason`` say why."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url} refused the WebSocket upgrade with HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class WebSocketConnectError(WebSocketTransportError):
    """No WebSocket connection could be opened."""


class WebSocketClosedError(WebSocketTransportError):
    """The server closed the connection abnormally (``code``, ``reason``)."""

    def __init__(self, code: int, reason: str | None) -> None:
        super().__init__(
            f"the server closed the MCP WebSocket with {code}: {reason or 'no reason'}"
        )
        self.code = code
        self.reason = reason


@asynccontextmanager
async def websocket_client(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    access_token: str | None = None,
    max_message_size: int = 4 * 1024 * 1024,
    connect_timeout: float = 10.0,
) -> AsyncIterator[tuple[ReadStream, WriteStream]]:
    """Connect to an MCP WebSocket server at ``url`` (``ws://`` or ``wss://``) on trio.

    Yields ``(read_stream, write_stream)`` for ``ClientSession``. Raises
    :class:`WebSocketRefusedError` when the server refuses the upgrade and
    :class:`WebSocketConnectError` when it cannot be reached.
    """
    target = _with_access_token(url, access_token) if access_token else url
    shown = _redacted(url)
    extra_headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    opened: WebSocketConnection | None = None
    try:
        async with open_websocket_url(
            target,
            subprotocols=[SUBPROTOCOL],
            extra_headers=extra_headers,
            max_message_size=max_message_size,
            connect_timeout=connect_timeout,
        ) as ws:
            opened = ws
            if ws.subprotocol != SUBPROTOCOL:
                raise WebSocketRefusedError(
                    shown, 101, f"the server did not agree to the {SUBPROTOCOL!r} subprotocol"
                )
            async with _pump(ws) as streams:
                yield streams
    except ConnectionRejected as exc:
        opened = _rejected_connection(exc)
        reason = (exc.body or b"").decode(errors="replace").strip() or "no reason given"
        raise WebSocketRefusedError(shown, exc.status_code, reason) from None
    except HandshakeError as exc:
        raise WebSocketConnectError(
            f"the WebSocket to {shown} failed ({type(exc).__name__}): check the URL and that "
            "the server is running"
        ) from None
    finally:
        if opened is not None:
            await release_socket(opened)


@asynccontextmanager
async def _pump(ws: WebSocketConnection) -> AsyncIterator[tuple[ReadStream, WriteStream]]:
    """Reader and writer tasks between ``ws`` and a pair of memory streams."""
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_frames() -> None:
        # A closed read stream means the session stopped reading: it is leaving.
        async with read_writer:
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                try:
                    while True:
                        await read_writer.send(await _next_item(ws))
                except _Closed as closed:
                    if closed.error is not None:
                        await read_writer.send(closed.error)

    async def write_frames() -> None:
        async with write_reader:
            async for session_message in write_reader:
                text = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
                try:
                    await ws.send_message(text)
                except ConnectionClosed:
                    return  # the reader reports the close

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_frames)
            nursery.start_soon(write_frames)
            try:
                yield read_stream, write_stream
            finally:
                nursery.cancel_scope.cancel()
                read_stream.close()
                write_stream.close()
    except BaseExceptionGroup as group:
        # The tasks above never raise, so a group holds the caller's own exception: hand it
        # back unwrapped, as any context manager would.
        if len(group.exceptions) == 1:
            _reraise(group.exceptions[0])
        raise


async def release_socket(connection: WebSocketConnection) -> None:
    """Close ``connection``'s TCP socket, which trio-websocket (0.12) can leave open.

    It waits for the server to drop TCP after a close the server started, and when that
    comes, its reader ends without closing the socket; ``aclose()`` then returns early, as the
    WebSocket is already closed. The same happens to a refused handshake. The socket would
    linger until garbage collection (a ResourceWarning). Closing it again is harmless.
    """
    stream = getattr(connection, "_stream", None)
    if stream is not None:
        with trio.CancelScope(shield=True):
            await stream.aclose()


def _rejected_connection(exc: ConnectionRejected) -> WebSocketConnection | None:
    """The connection whose handshake was refused: the raising handler's ``self``."""
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, WebSocketConnection):
            return candidate
        tb = tb.tb_next
    return None


class _Closed(Exception):
    """The socket closed; ``error`` is what the session should see first, if anything."""

    def __init__(self, error: WebSocketClosedError | None) -> None:
        self.error = error


async def _next_item(ws: WebSocketConnection) -> SessionMessage | Exception:
    """The next frame as a message (or as the exception saying why it is not one)."""
    try:
        frame = await ws.get_message()
    except ConnectionClosed as closed:
        reason = closed.reason
        if reason is None or reason.code in (1000, 1001):
            raise _Closed(None) from None
        raise _Closed(WebSocketClosedError(reason.code, reason.reason)) from None
    if isinstance(frame, bytes):
        return ValueError("the server sent a binary frame, which MCP over WebSocket does not use")
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_json(frame, by_name=False))
    except ValidationError as exc:
        return exc


def _reraise(exc: BaseException) -> None:
    """Raise ``exc`` keeping its own context (not the group it was caught in)."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


def _with_access_token(url: str, access_token: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k != ACCESS_TOKEN_PARAM]
    query.append((ACCESS_TOKEN_PARAM, access_token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redacted(url: str) -> str:
    """``url`` without its query string and credentials, for error messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


TransportStreams = tuple[ReadStream, WriteStream]


@attrs.define
class WebSocketTransport(AbstractAsyncContextManager[TransportStreams]):
    """:func:`websocket_client` as a transport object for ``mcp.client.Client``."""

    url: str
    headers: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    access_token: str | None = attrs.field(default=None, repr=False)
    max_message_size: int = 4 * 1024 * 1024
    connect_timeout: float = 10.0
    _stack: AsyncExitStack | None = attrs.field(default=None, init=False, repr=False)

    async def __aenter__(self) -> TransportStreams:
        if self._stack is not None:
            raise RuntimeError("this WebSocketTransport is already open; make one per connection")
        stack = AsyncExitStack()
        streams = await stack.enter_async_context(
            websocket_client(
                self.url,
                headers=self.headers,
                access_token=self.access_token,
                max_message_size=self.max_message_size,
                connect_timeout=self.connect_timeout,
            )
        )
        self._stack = stack
        return streams

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is None:
            return None
        return await stack.__aexit__(exc_type, exc, tb)
