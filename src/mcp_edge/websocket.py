"""MCP over WebSocket, server side: a Starlette route that serves the low-level MCP server.

mcp 2.x ships no WebSocket transport, so this module builds one on the same seam the SDK's own
stdio and SSE transports use: a pair of memory streams of ``SessionMessage`` handed to the
low-level ``Server.run`` (which serves both protocol eras: the client's first request decides,
the ``initialize`` handshake of 2025-11-25 or the per-request envelope of 2026-07-28).

Wire contract (what a client may rely on)
-----------------------------------------
- Path ``/ws`` by default. The client must offer the subprotocol ``mcp``; the server accepts
  echoing ``mcp`` (Node's ``WebSocket`` fails a handshake whose answer does not echo it). This
  is what the TypeScript SDK's ``WebSocketClientTransport`` does.
- One JSON-RPC message per **text** frame, UTF-8 JSON, in both directions. No batches.
- A text frame that is not JSON gets ``{"jsonrpc": "2.0", "id": null, "error": {"code": -32700,
  ...}}``; JSON that is not a JSON-RPC message gets -32600 (Invalid Request) carrying the
  frame's ``id`` when it has one. Either way the connection stays open.
- A binary frame closes the connection with 1003 (unsupported data); a frame larger than
  ``max_message_size`` bytes closes it with 1009 (message too big). The ASGI server has its own
  cap (uvicorn's ``ws_max_size``, 16 MiB by default): keep it at or above ``max_message_size``.
- Identity, in this order: the ASGI scope's authenticated user (Starlette's
  ``AuthenticationMiddleware`` with the SDK's ``BearerAuthBackend``, from an
  ``Authorization: Bearer`` header); else an ``Authorization: Bearer`` header checked with
  ``authenticate`` (when no middleware ran); else ``?access_token=<key>`` checked with
  ``authenticate`` — the only way for a browser or the TypeScript client, which cannot send
  headers. A key that is presented and not accepted refuses the upgrade even when
  authentication is optional: a client must never believe it is someone it is not.
- Refusals happen before the upgrade: with the ASGI "WebSocket Denial Response" extension
  (uvicorn, hypercorn) the client gets a real HTTP status and a text body saying what to do —
  400 for a missing subprotocol, 403 for a refused or missing identity, the SDK's 421/403 for a
  bad Host/Origin; without it, the server closes before accepting, which clients see as 403.
  The TypeScript client reports any of these only as "non-101 status code", so each refusal is
  also logged here (WARNING, on ``mcp_edge.websocket``) with its reason, never with the key.
- Host/Origin are checked with the SDK's ``TransportSecurityMiddleware`` rules. Browsers apply
  no CORS to WebSockets, so the Origin check is what stops a web page from driving a local
  server (cross-site WebSocket hijacking): ``security=None`` therefore means the loopback
  defaults the SDK's own apps use for a loopback host, not "off". Non-browser clients send no
  Origin and pass.

Identity reaches tools the way it does on the SDK's HTTP transports: the connection runs with
``mcp.server.auth.middleware.auth_context.auth_context_var`` set to the ``AuthenticatedUser``,
and every task the low-level server spawns copies that context, so ``get_access_token()`` in a
tool returns the caller's ``AccessToken``. ``ctx.request_context.request`` is the Starlette
``WebSocket`` of the connection.

Keys in the URL
---------------
A query-string key would otherwise be written by the ASGI server's own log lines: uvicorn logs
``"WebSocket /ws?access_token=..." [accepted]`` on its ``uvicorn.error`` logger at INFO, not in
the access log. Before accepting or refusing, this route rewrites the scope's ``query_string``
with the key replaced by ``REDACTED`` (uvicorn formats that line from the very scope dict the
app receives), so neither that line nor anything downstream sees it. A middleware that copies
the scope before the route runs defeats this; keep uvicorn's access log off as well.

Lifecycle
---------
One connection = one task group: a reader (frames → read stream), a writer (write stream →
frames) and the low-level server run. The client closing ends the reader, which closes the read
stream; the server run sees end-of-stream, cancels in-flight handlers, closes the write stream,
and the writer ends. The low-level ``Server.run`` enters the server's lifespan per connection,
exactly as the SDK's SSE transport does: keep process-wide state out of the ``MCPServer``
lifespan (this project builds its runtime before the server).

Exceptions: none of its own. ``websocket_route`` raises ``ValueError`` for a bad argument; a
connection's failures end that connection (logged) and never escape the route.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp.types import jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

__all__ = ["ACCESS_TOKEN_PARAM", "LOOPBACK_SECURITY", "SUBPROTOCOL", "websocket_route"]

logger = logging.getLogger(__name__)

SUBPROTOCOL: Final = "mcp"
"""The WebSocket subprotocol a client must offer (and that the server echoes)."""

ACCESS_TOKEN_PARAM: Final = "access_token"
"""The query parameter carrying an API key for clients that cannot send headers."""

_REDACTED: Final = "REDACTED"

# JSON-RPC 2.0 error codes for frames that never become messages.
_PARSE_ERROR: Final = -32700
_INVALID_REQUEST: Final = -32600

# WebSocket close codes (RFC 6455 §7.4.1).
_CLOSE_NORMAL: Final = 1000
_CLOSE_UNSUPPORTED_DATA: Final = 1003
_CLOSE_TOO_BIG: Final = 1009

LOOPBACK_SECURITY: Final = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)
"""What ``security=None`` means: the SDK's loopback defaults (plus port-less hosts)."""

Authenticate = Callable[[str], Awaitable[AccessToken | None]]

# What sending on a socket the client already left raises: Starlette's WebSocketDisconnect
# (it translates the server's OSError) or, once a close went out, WebSocketDisconnected
# (a RuntimeError); an OSError for servers Starlette does not translate.
_GONE: Final = (WebSocketDisconnect, RuntimeError, OSError)


class _Refused(Exception):
    """A handshake refusal: the HTTP status, the client-facing text, and the log line."""

    def __init__(self, status: int, client_text: str, log_reason: str) -> None:
        super().__init__(log_reason)
        self.status = status
        self.client_text = client_text
        self.log_reason = log_reason


def websocket_route(
    server: MCPServer[Any],
    path: str = "/ws",
    *,
    authenticate: Authenticate | None = None,
    require_auth: bool = False,
    security: TransportSecuritySettings | None = None,
    max_message_size: int = 4 * 1024 * 1024,
) -> WebSocketRoute:
    """A Starlette route serving ``server`` over WebSocket at ``path`` (see the module docs).

    ``authenticate(key)`` verifies an API key from ``?access_token=`` (or a bearer header no
    middleware verified) and returns the caller's ``AccessToken``, or None to refuse it.
    ``require_auth`` refuses connections with no identity. ``security`` holds the Host/Origin
    rules (None: loopback only). Frames above ``max_message_size`` bytes close with 1009.
    """
    if max_message_size <= 0:
        raise ValueError("max_message_size must be a positive number of bytes")
    if require_auth and authenticate is None:
        logger.info(
            "WebSocket route %s requires auth but has no key verifier: only callers that an "
            "authentication middleware identified (Authorization: Bearer) can connect",
            path,
        )
    endpoint = _Endpoint(
        server=server,
        authenticate=authenticate,
        require_auth=require_auth,
        security=TransportSecurityMiddleware(security or LOOPBACK_SECURITY),
        max_message_size=max_message_size,
    )
    return WebSocketRoute(path, endpoint=endpoint.serve, name="mcp_websocket")


class _Endpoint:
    """The per-route settings and the per-connection handler."""

    def __init__(
        self,
        *,
        server: MCPServer[Any],
        authenticate: Authenticate | None,
        require_auth: bool,
        security: TransportSecurityMiddleware,
        max_message_size: int,
    ) -> None:
        self._server = server
        self._authenticate = authenticate
        self._require_auth = require_auth
        self._security = security
        self._max_message_size = max_message_size

    async def serve(self, websocket: WebSocket) -> None:
        """Check the handshake, accept, and serve MCP until either side closes."""
        key = _take_query_key(websocket)
        try:
            await self._check_request(websocket)
            user = await self._identify(websocket, key)
        except _Refused as refused:
            await _refuse(websocket, refused)
            return
        await websocket.accept(subprotocol=SUBPROTOCOL)
        who = user.username if user is not None else "anonymous"
        logger.debug("WebSocket MCP connection from %s opened", who)
        reset = auth_context_var.set(user) if user is not None else None
        try:
            await self._run_connection(websocket)
        finally:
            if reset is not None:
                auth_context_var.reset(reset)
            logger.debug("WebSocket MCP connection from %s ended", who)

    async def _check_request(self, websocket: WebSocket) -> None:
        """Host/Origin per the security settings, then the ``mcp`` subprotocol."""
        # The SDK's checks read only the headers; a Request over an "http" copy of the
        # scope reuses them unchanged.
        denial = await self._security.validate_request(Request({**websocket.scope, "type": "http"}))
        if denial is not None:
            text = bytes(denial.body).decode(errors="replace")
            raise _Refused(
                denial.status_code,
                f"{text}: add this host/origin to the server's allowed hosts/origins",
                f"{text} (Host {websocket.headers.get('host')!r}, "
                f"Origin {websocket.headers.get('origin')!r})",
            )
        offered = websocket.scope.get("subprotocols") or []
        if SUBPROTOCOL not in offered:
            raise _Refused(
                400,
                f"offer the WebSocket subprotocol {SUBPROTOCOL!r} "
                f"(Sec-WebSocket-Protocol: {SUBPROTOCOL}) to speak MCP here",
                f"the client offered subprotocols {list(offered)!r}, not {SUBPROTOCOL!r}",
            )

    async def _identify(self, websocket: WebSocket, key: str | None) -> AuthenticatedUser | None:
        """The caller's identity: middleware's user, else a bearer header, else the query key."""
        user = websocket.scope.get("user")
        if isinstance(user, AuthenticatedUser):
            return user
        authorization = websocket.headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        for credential, source in ((bearer, "Authorization header"), (key or "", "access_token")):
            if not credential:
                continue
            verified = await self._verify(credential)
            if verified is None:
                unverifiable = " (this route has no key verifier)" if not self._authenticate else ""
                raise _Refused(
                    403,
                    f"the key in the {source} was not accepted: check it, or ask the server's "
                    "operator for a valid API key",
                    f"the key in the {source} was not accepted{unverifiable}",
                )
            return AuthenticatedUser(verified)
        if self._require_auth:
            raise _Refused(
                403,
                "authentication required: send Authorization: Bearer <api key>, or add "
                f"?{ACCESS_TOKEN_PARAM}=<api key> to the URL if your client cannot send headers",
                "no credential was presented and this endpoint requires one",
            )
        return None

    async def _verify(self, credential: str) -> AccessToken | None:
        if self._authenticate is None:
            return None
        token = await self._authenticate(credential)
        if token is None or (token.expires_at is not None and token.expires_at < time.time()):
            return None
        return token

    async def _run_connection(self, websocket: WebSocket) -> None:
        """Reader, writer and the low-level server run, in one task group."""
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
        send_lock = anyio.Lock()
        # The SDK exposes no public handle on the low-level server; its own Client and
        # sse_app reach it the same way.
        lowlevel = self._server._lowlevel_server

        async def send_text(text: str) -> bool:
            """Send one frame; False once the client is gone (the reader sees it too)."""
            async with send_lock:
                try:
                    await websocket.send_text(text)
                except _GONE:
                    logger.debug("WebSocket closed while sending; dropping the frame")
                    return False
            return True

        async def run_server() -> None:
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
            # The server only returns once its read side ended; make sure the reader has too.
            tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(self._read_frames, websocket, read_writer, send_text)
            tg.start_soon(_write_frames, write_reader, send_text)
            tg.start_soon(run_server)
        if (
            websocket.application_state == WebSocketState.CONNECTED
            and websocket.client_state == WebSocketState.CONNECTED
        ):
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await _close_quietly(websocket, _CLOSE_NORMAL, "server ended the MCP session")

    async def _read_frames(
        self,
        websocket: WebSocket,
        sink: MemoryObjectSendStream[SessionMessage | Exception],
        send_text: Callable[[str], Awaitable[bool]],
    ) -> None:
        """Frames → messages until the client closes, or sends a frame we must close on."""
        metadata = ServerMessageMetadata(request_context=websocket)
        async with sink:
            while True:
                try:
                    frame = await websocket.receive()
                except WebSocketDisconnect:
                    return
                if frame["type"] == "websocket.disconnect":
                    return
                text = frame.get("text")
                if text is None:
                    logger.info(
                        "closing a WebSocket MCP connection: the client sent a binary frame"
                    )
                    await _close_quietly(
                        websocket,
                        _CLOSE_UNSUPPORTED_DATA,
                        "MCP over WebSocket takes text frames of JSON-RPC only",
                    )
                    return
                if _too_big(text, self._max_message_size):
                    logger.info(
                        "closing a WebSocket MCP connection: a frame exceeded %d bytes",
                        self._max_message_size,
                    )
                    await _close_quietly(
                        websocket,
                        _CLOSE_TOO_BIG,
                        f"frames are limited to {self._max_message_size} bytes",
                    )
                    return
                try:
                    message = jsonrpc_message_adapter.validate_json(text, by_name=False)
                except ValidationError as exc:
                    if not await send_text(_error_frame(text, exc)):
                        return
                    continue
                await sink.send(SessionMessage(message, metadata=metadata))


async def _write_frames(
    source: MemoryObjectReceiveStream[SessionMessage],
    send_text: Callable[[str], Awaitable[bool]],
) -> None:
    """Messages → text frames until the server closes its write stream or the client goes.

    Once the client is gone, closing ``source`` makes the server's further writes fail fast
    (the dispatcher drops them), instead of blocking on a reader that will never come.
    """
    async with source:
        async for session_message in source:
            text = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
            if not await send_text(text):
                return


def _too_big(text: str, limit: int) -> bool:
    """Whether ``text`` is above ``limit`` UTF-8 bytes (encoding only when it could be)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode()) > limit


def _error_frame(text: str, exc: ValidationError) -> str:
    """The JSON-RPC error answering a frame that did not parse as a message."""
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        code, message, request_id = (
            _PARSE_ERROR,
            "Parse error: the frame is not valid JSON; send one JSON-RPC message per text frame",
            None,
        )
    else:
        payload = json.loads(text)
        request_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            request_id = None
        code, message = (
            _INVALID_REQUEST,
            "Invalid Request: the frame is JSON but not a JSON-RPC 2.0 message "
            '(needs "jsonrpc": "2.0" and a method, or a result/error with an id); '
            "batches are not supported",
        )
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    )


def _take_query_key(websocket: WebSocket) -> str | None:
    """Read ``access_token`` from the query string, then blank it in the scope (see docs)."""
    raw: bytes = websocket.scope.get("query_string", b"")
    if not raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    key = next((value for name, value in pairs if name == ACCESS_TOKEN_PARAM), None)
    if key is None:
        return None
    redacted = [(name, _REDACTED if name == ACCESS_TOKEN_PARAM else v) for name, v in pairs]
    # Mutate the dict the ASGI server holds (it formats its log lines from it).
    websocket.scope["query_string"] = urlencode(redacted).encode("latin-1")
    return key or None


async def _refuse(websocket: WebSocket, refused: _Refused) -> None:
    """Refuse the upgrade with a status and text if the server can, else close (→ 403)."""
    client = websocket.client
    logger.warning(
        "refused a WebSocket MCP connection from %s to %s: %s",
        f"{client.host}:{client.port}" if client else "an unknown peer",
        websocket.url.path,
        refused.log_reason,
    )
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response: Response = PlainTextResponse(refused.client_text, status_code=refused.status)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008, reason=refused.client_text[:120])


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close with ``code``; a client that already left is not an error."""
    try:
        await websocket.close(code=code, reason=reason)
    except _GONE:
        logger.debug("WebSocket already closed when closing with %d", code)
