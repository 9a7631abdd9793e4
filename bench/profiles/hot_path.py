"""CPU microseconds of each piece of our per-call work, alone (``timeit``, best of 5).

``python -m bench.profiles.hot_path`` times what every tool call pays in our code, outside any
server, so the figures hold still on a busy machine: the log line and the audit line (formatted
at ``info``; skipped at ``warning``), :func:`~mcp_edge.logs.redact`, building the audit record
(of a small flat call, and of a ``send_message`` as the kit sees it: its eight arguments, the
unset ones None, and its pydantic ``SendResult``), :meth:`~mcp_edge.audit.AuditLog.append`, the
metrics, the whole :class:`~mcp_edge.tools._kit.ToolKit` around a tool that does nothing (its
wrapper under an ``admin`` policy, the metrics and the audit; and its ``tools/call`` middleware)
at ``warning`` and ``info``, and the SDK's ``Mcp-Param-*`` header check of a 2026-07-28
``tools/call`` as ``build_server`` leaves it (the lookup, then the validation).
Run it with ``PYTHONPATH`` pointing at another ``src`` to compare two versions.
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from unittest.mock import MagicMock

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.inbound import validate_mcp_param_headers

from mcp_edge.audit import AuditLog, record_for
from mcp_edge.logs import configure_logging, redact
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.policy import AgentPolicy, Policy
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.server import build_server
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools.messages import SendResult

if TYPE_CHECKING:
    from discord_io.swarm import Swarm

ARGUMENTS = {"channel_id": "123456789012345678", "content": "hello there, a message " * 4}
RESULT = {
    "message_id": "123456789012345679",
    "channel_id": "123456789012345678",
    "status": "delivered",
}
SEND_ARGUMENTS: dict[str, Any] = {  # what the kit's wrapper passes record_for for a send
    "channel_id": "123456789012345678",
    "content": "hello there, a message " * 4,
    "reply_to": None,
    "embeds": None,
    "attachments": None,
    "allowed_mentions": None,
    "idempotency_key": "scribe-000017",
    "delivery": "sync",
}
SEND_RESULT = SendResult(
    state="delivered",
    message_id="123456789012345679",
    channel_id="123456789012345678",
    outbox_id=17,
)
HEADERS = {"host": "127.0.0.1", "accept": "application/json", "authorization": "Bearer x"}


def _best(fn: Callable[[], Any], number: int = 2000) -> float:
    """CPU microseconds per call, the best of 5 runs (CPU time: other processes on the
    machine slow the wall clock, not this)."""
    runs = timeit.repeat(fn, number=number, repeat=5, timer=time.process_time)
    return min(runs) / number * 1e6


def _record(arguments: Any = ARGUMENTS, result: Any = RESULT) -> Any:
    return record_for(
        started=time.time(),
        agent="scribe",
        tool="send_message",
        arguments=arguments,
        outcome="ok",
        error=None,
        result=result,
        seconds=0.0123,
        request_id="17",
    )


def _send_record() -> Any:
    return _record(SEND_ARGUMENTS, SEND_RESULT)


def _kit_figures(audit: AuditLog, level: str) -> dict[str, float]:
    """Microseconds of the ToolKit's wrapper and middleware around calls that do nothing."""
    handle = object()
    swarm = SimpleNamespace(agent=lambda name: handle)  # a MagicMock call costs ~10 µs
    runtime = EdgeRuntime(
        swarm=cast("Swarm", swarm),
        default_agent="scribe",
        recorder=EdgeMetrics(),
        version="bench",
        policy=Policy.of([AgentPolicy(agent="scribe", profile="admin")]),
        audit=audit,
    )
    kit = ToolKit(MCPServer(name="bench"), runtime)

    @kit.tool(title="Send message", read_only=False)
    async def send_message(
        channel_id: str,
        ctx: Context,
        content: str = "",
        reply_to: str | None = None,
        embeds: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        allowed_mentions: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        delivery: str = "sync",
    ) -> SendResult:
        """Do nothing, as a send would be shaped."""
        return SEND_RESULT

    ctx = Context(request_context=cast("Any", SimpleNamespace(request_id=17)))
    call_ctx: Any = SimpleNamespace(
        method="tools/call",
        params={"name": "send_message", "arguments": {"channel_id": "1", "content": "hi"}},
        request_id=17,
    )

    async def call_next(_: Any) -> Any:
        await send_message(ctx=ctx, **SEND_ARGUMENTS)  # as the SDK calls it
        return {"content": [], "isError": False}

    async def refuse(_: Any) -> Any:  # as the SDK answers arguments its schema refuses
        return {"content": [{"type": "text", "text": "invalid"}], "isError": True}

    async def timed(fn: Callable[[], Any], number: int = 2000) -> float:
        best = math.inf
        for _ in range(5):
            start = time.process_time()
            for _ in range(number):
                await fn()
            best = min(best, time.process_time() - start)
        return best / number * 1e6

    async def measure() -> dict[str, float]:
        return {
            f"ToolKit wrapper, no-op send_message ({level})": await timed(
                lambda: send_message(ctx=ctx, **SEND_ARGUMENTS)
            ),
            f"ToolKit.middleware + wrapper, no-op send_message ({level})": await timed(
                lambda: kit.middleware(call_ctx, call_next)
            ),
            f"ToolKit.middleware, a refused call (bad_arguments, {level})": await timed(
                lambda: kit.middleware(call_ctx, refuse)
            ),
        }

    return anyio.run(measure)


def main() -> int:
    sink = io.StringIO()
    tool_log = logging.getLogger("mcp_edge.tools")
    extra = {
        "tool": "send_message",
        "agent": "scribe",
        "outcome": "ok",
        "duration_ms": 12.3,
        "request_id": "17",
    }
    record = _record()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditLog(Path(tmp) / "audit.sqlite3", capacity=10**7)
        for level in ("info", "warning"):
            configure_logging(level, stream=sink)
            figures[f"tool log line ({level})"] = _best(
                lambda: tool_log.info("tool %s %s", "send_message", "ok", extra=extra)
            )
            figures[f"AuditLog.append ({level})"] = _best(lambda: audit.append(record))
            figures.update(_kit_figures(audit, level))
            sink.seek(0)
            sink.truncate()
        audit.close()
    line = sink.getvalue() or str(record.to_json())
    figures[f"redact: an audit JSON line ({len(str(record.to_json()))} chars)"] = _best(
        lambda: redact(str(record.to_json()))
    )
    blob = "A" * 2000
    figures["redact: a 2,000-character run of letters"] = _best(lambda: redact(blob), number=5)
    del line
    figures["record_for (small flat call)"] = _best(_record)
    figures["record_for (send_message: 8 arguments, SendResult)"] = _best(_send_record)
    metrics = EdgeMetrics()
    figures["EdgeMetrics.record_tool_call"] = _best(
        lambda: metrics.record_tool_call("send_message", "scribe", "ok", 0.01)
    )
    runtime = MagicMock()
    runtime.policy = None
    server = build_server(runtime)
    lowlevel = server._lowlevel_server  # what the SDK's HTTP handler calls
    for tool in ("send_message", "read_messages", "list_channels"):

        def header_check(tool: str = tool) -> Any:
            schema = lowlevel.get_tool_input_schema(tool)
            if schema is None:
                return None
            return validate_mcp_param_headers(schema, ARGUMENTS, HEADERS)

        figures[f"Mcp-Param header check, {tool} (2026-07-28)"] = _best(header_check)
    width = max(len(k) for k in figures)
    print(f"| {'per-call piece':{width}} | µs |")
    print(f"|{'-' * (width + 2)}|---:|")
    for name, value in figures.items():
        print(f"| {name:{width}} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
