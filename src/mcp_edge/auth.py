"""API keys as bearer tokens: the SDK's ``TokenVerifier`` over our :class:`~mcp_edge.keys.KeyRing`.

An HTTP request (streamable HTTP, SSE, WebSocket) carries ``Authorization: Bearer <api key>``;
Starlette's ``AuthenticationMiddleware`` with the SDK's ``BearerAuthBackend`` asks
:class:`ApiKeyVerifier` who it is. A live key maps to its agent: the ``AccessToken``'s
``client_id`` is the agent's name, which is all the tools ever look at (see
:mod:`mcp_edge.tools._kit`). An unknown, expired or revoked key is no identity at all; the
MCP endpoints then answer 401 with ``WWW-Authenticate`` (the SDK's ``RequireAuthMiddleware``).

The keys file is re-read when it changes (``mcp-discord keys rotate`` takes effect without a
restart), checked at most once a second. The raw key is compared only as its SHA-256 digest.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
from mcp.server.auth.provider import AccessToken

from mcp_edge.keys import KeyFileWatcher

SCOPE = "agent"
"""The one scope every key carries: act as its agent."""


@attrs.define(eq=False)
class ApiKeyVerifier:
    """``TokenVerifier``: an API key to an ``AccessToken`` naming its agent, or None."""

    keys: KeyFileWatcher
    wall_clock: Callable[[], float] = time.time

    async def verify_token(self, token: str) -> AccessToken | None:
        agent = self.keys.agent_for(token, self.wall_clock())
        if agent is None:
            return None
        return AccessToken(token=token, client_id=agent, scopes=[SCOPE])

    async def authenticate(self, token: str) -> AccessToken | None:
        """The same, under the name the WebSocket route asks for."""
        return await self.verify_token(token)


__all__ = ["SCOPE", "ApiKeyVerifier"]
