"""Microseconds of each piece of our per-call work, alone (``timeit``, best of 5).

``python -m bench.profiles.hot_path`` times what every tool call pays in our code, outside any
server, so the figures hold still on a busy machine: the log line and the audit line (formatted
at ``info``; skipped at ``warning``), :func:`~mcp_edge.logs.redact`, building the audit record,
:meth:`~mcp_edge.audit.AuditLog.append`, the metrics, and the SDK's ``Mcp-Param-*`` header check
of a 2026-07-28 ``tools/call`` as ``build_server`` leaves it (the lookup, then the validation).
Run it with ``PYTHONPATH`` pointing at another ``src`` to compare two versions.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

from mcp.shared.inbound import validate_mcp_param_headers

from mcp_edge.audit import AuditLog, record_for
from mcp_edge.logs import configure_logging, redact
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.server import build_server

ARGUMENTS = {"channel_id": "123456789012345678", "content": "hello there, a message " * 4}
RESULT = {
    "message_id": "123456789012345679",
    "channel_id": "123456789012345678",
    "status": "delivered",
}
HEADERS = {"host": "127.0.0.1", "accept": "application/json", "authorization": "Bearer x"}


def _best(fn: Callable[[], Any], number: int = 2000) -> float:
    """Microseconds per call, the best of 5 runs."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _record() -> Any:
    return record_for(
        started=time.time(),
        agent="scribe",
        tool="send_message",
        arguments=ARGUMENTS,
        outcome="ok",
        error=None,
        result=RESULT,
        seconds=0.0123,
        request_id="17",
    )


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
    figures["record_for (send_message)"] = _best(_record)
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
