"""The ToolKit's own work around a tool, without a server: the audit record, the time limit,
and the tools/call middleware's refusals."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from mcp_edge.audit import AuditRecord
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.policy import AgentPolicy, Policy
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.tools._kit import ToolKit

API_KEY = "mcpd_abcdefghijklmnopqrstuvwxyz012345"


class Sent(BaseModel):
    message_id: str
    channel_id: str


class _Audit:
    """Keeps what the kit appends (the AuditLog's one method the kit calls)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, record: AuditRecord) -> None:
        self.records.append(record)


def _kit(profile: str = "admin", tool_timeout: float = 30.0) -> tuple[ToolKit, _Audit]:
    audit = _Audit()
    handle = object()
    runtime = EdgeRuntime(
        swarm=cast("Any", SimpleNamespace(agent=lambda name: handle)),
        default_agent="scribe",
        recorder=EdgeMetrics(),
        tool_timeout=tool_timeout,
        version="test",
        policy=Policy.of([AgentPolicy(agent="scribe", profile=profile)]),
        audit=cast("Any", audit),
    )
    return ToolKit(MCPServer(name="test"), runtime), audit


def _context(request_id: object = 17) -> Context:
    return Context(request_context=cast("Any", SimpleNamespace(request_id=request_id)))


@pytest.mark.anyio
async def test_a_call_is_audited_with_scrubbed_arguments_ids_and_request_id() -> None:
    """The record holds the arguments without the Context, scrubbed; the ids of arguments and
    result; the outcome, duration and request id; the tool saw its caller."""
    kit, audit = _kit()

    @kit.tool(title="Send", read_only=False)
    async def send_message(
        channel_id: str, ctx: Context, content: str = "", reply_to: str | None = None
    ) -> Sent:
        """Send."""
        assert kit.caller().agent == "scribe"
        assert kit.caller().request_id == "17"
        return Sent(message_id="99", channel_id=channel_id)

    with anyio.fail_after(5):
        result = await send_message(
            channel_id="10", ctx=_context(), content=f"key {API_KEY}", reply_to=None
        )
    assert result == Sent(message_id="99", channel_id="10")
    [record] = audit.records
    assert record.arguments == {"channel_id": "10", "content": "key ***", "reply_to": None}
    assert record.ids == {"channel_id": ("10",), "message_id": ("99",)}
    assert (record.agent, record.tool, record.outcome, record.error, record.request_id) == (
        "scribe",
        "send_message",
        "ok",
        None,
        "17",
    )
    assert record.duration_ms >= 0


@pytest.mark.anyio
async def test_a_tool_past_its_time_limit_is_a_tool_error() -> None:
    """The tool's own ``timeout`` (else the runtime's) ends it: a ToolError saying what to
    do, audited as tool_error, at the limit and not later."""
    kit, audit = _kit(tool_timeout=30.0)

    @kit.tool(title="Slow", read_only=True, timeout=2.0)
    async def read_messages(ctx: Context) -> Sent:
        """Wait."""
        await anyio.sleep(100)
        raise AssertionError("not reached")

    with anyio.fail_after(60):
        start = anyio.current_time()
        with pytest.raises(ToolError, match="did not finish within the server's time limit"):
            await read_messages(ctx=_context())
        assert 2.0 <= anyio.current_time() - start < 3.0
    [record] = audit.records
    assert record.outcome == "tool_error"
    assert record.error is not None
    assert "time limit" in record.error


@pytest.mark.anyio
async def test_a_call_cancelled_from_outside_is_no_timeout() -> None:
    """A cancellation that is not the time limit's propagates, audited as cancelled."""
    kit, audit = _kit(tool_timeout=30.0)

    @kit.tool(title="Slow", read_only=True)
    async def read_messages(ctx: Context) -> Sent:
        """Wait."""
        await anyio.sleep(100)
        raise AssertionError("not reached")

    with anyio.fail_after(60):
        with anyio.move_on_after(1) as scope:
            await read_messages(ctx=_context())
    assert scope.cancelled_caught
    [record] = audit.records
    assert (record.outcome, record.error) == ("cancelled", "cancelled before it finished")


@pytest.mark.anyio
@pytest.mark.parametrize(("profile", "outcome"), [("admin", "bad_arguments"), ("reader", "denied")])
async def test_the_middleware_audits_refused_arguments_and_ungranted_tools(
    profile: str, outcome: str
) -> None:
    """Arguments the SDK refused are audited as bad_arguments with the raw arguments
    (scrubbed); a tool not granted is refused before the SDK sees it, audited as denied."""
    kit, audit = _kit(profile=profile)

    @kit.tool(title="Send", read_only=False)
    async def send_message(channel_id: str, ctx: Context) -> Sent:
        """Send."""
        raise AssertionError("not reached")

    seen: list[object] = []

    async def refuse(ctx: Any) -> Any:
        seen.append(ctx)
        return {"content": [{"type": "text", "text": "channel_id: required"}], "isError": True}

    request = SimpleNamespace(
        method="tools/call",
        params={"name": "send_message", "arguments": {"token": "t", "content": "hi"}},
        request_id=5,
    )
    with anyio.fail_after(5):
        result: Any = await kit.middleware(cast("Any", request), refuse)
    assert len(seen) == (outcome == "bad_arguments")
    [record] = audit.records
    assert (record.tool, record.outcome, record.request_id) == ("send_message", outcome, "5")
    assert record.arguments == {"token": "***", "content": "hi"}
    if outcome == "denied":
        assert result.is_error
        assert record.error is not None
        assert "not granted to agent scribe" in record.error
    else:
        assert record.error == "channel_id: required"


@pytest.mark.anyio
async def test_a_call_through_the_middleware_is_audited_once_with_its_request_id() -> None:
    """When the tool runs, the middleware audits nothing itself; the wrapper's record carries
    the request id of the tools/call."""
    kit, audit = _kit()

    @kit.tool(title="Send", read_only=False)
    async def send_message(channel_id: str, ctx: Context) -> Sent:
        """Send."""
        assert kit.caller().request_id == "abc"
        return Sent(message_id="99", channel_id=channel_id)

    async def run_tool(_: Any) -> Any:
        await send_message(channel_id="10", ctx=_context(request_id="not this one"))
        return {"content": [], "isError": False}

    request = SimpleNamespace(
        method="tools/call",
        params={"name": "send_message", "arguments": {"channel_id": "10"}},
        request_id="abc",
    )
    with anyio.fail_after(5):
        await kit.middleware(cast("Any", request), run_tool)
    [record] = audit.records
    assert (record.outcome, record.request_id, record.arguments) == (
        "ok",
        "abc",
        {"channel_id": "10"},
    )
