"""What the MCP edge's tools reach: the running swarm and the edge's own settings.

A :class:`EdgeRuntime` is built once per process by ``serve`` (or a test) after the
:class:`~discord_io.swarm.Swarm` has started, and handed to :func:`mcp_edge.server.build_server`.
Tools hold nothing else: they ask it for the calling agent's :class:`~actors.AgentHandle`, the
EventHub and the Store; the tool kit asks it for the policy that bounds each agent and the audit
log. It imports no ``mcp``: the tool layer (``mcp_edge.tools``) adds that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Protocol

import attrs

from discord_io.swarm import Swarm

if TYPE_CHECKING:
    from mcp_edge.audit import AuditLog
    from mcp_edge.policy import Policy


class ToolCallRecorder(Protocol):
    """Where finished tool calls are counted (``EdgeMetrics`` in a server)."""

    def record_tool_call(self, tool: str, agent: str, outcome: str, seconds: float) -> None: ...


def _version() -> str:
    return version("mcp-discord")


@attrs.define(eq=False)
class EdgeRuntime:
    """The swarm and the edge settings every tool call uses."""

    swarm: Swarm
    default_agent: str | None = None
    """Who an unauthenticated call acts as: stdio's agent, or HTTP with ``auth: none`` on
    loopback. None: every call must carry an API key."""
    recorder: ToolCallRecorder | None = None
    tool_timeout: float = 30.0
    """Longest a tool call may take; long-polls are capped below it."""
    send_timeout: float = 10.0
    """Default deadline of a ``delivery: sync`` send."""
    allow_private_urls: bool = False
    """Whether attachment URLs may point at loopback/private addresses (sandbox and tests)."""
    max_attachment_bytes: int = 10 * 1024 * 1024
    sandbox: bool = False
    """Running against the embedded sandbox Discord (reported by ``server_status``)."""
    version: str = attrs.field(factory=_version)
    started_at: float = attrs.field(factory=time.time)
    clock: Callable[[], float] = time.time
    """Wall clock for reports (``since``/``until`` filters, ages)."""
    policy: Policy | None = None
    """Per-agent tools, channel rules and quotas (:mod:`mcp_edge.policy`); None allows every
    tool in every channel (tests, and servers built without a config)."""
    audit: AuditLog | None = None
    """Where every tool call is recorded (:mod:`mcp_edge.audit`); None: no audit records."""

    @property
    def agents(self) -> tuple[str, ...]:
        return self.swarm.names


__all__ = ["EdgeRuntime", "ToolCallRecorder"]
