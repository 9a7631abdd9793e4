"""``mcp-discord audit``: read the audit log (``DATA_DIR/audit.sqlite3``) from the shell.

::

    mcp-discord audit tail [-n 20] [--follow] [--agent NAME] [--json]
    mcp-discord audit export --since 24h|2026-11-24T00:00:00Z [--until ...]
                             [--format jsonl|csv] [--agent NAME] [--output FILE]

Both open the database read-only (SQLite WAL: a running server keeps writing meanwhile), find
it through the same configuration ``serve`` uses (``--config``, ``MCP_DISCORD_*``) or
``--data-dir``, and never need a token. Records hold no secrets (:mod:`mcp_edge.audit`).
Exit codes: 0 done, 2 a bad option or configuration, 1 no audit log at that path.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from mcp_edge.audit import AUDIT_FILE, AuditRecord, iso, read_audit, records_jsonl

PROG = "mcp-discord audit"
FOLLOW_INTERVAL = 1.0
"""Seconds between looks for new records with ``tail --follow``."""
CSV_COLUMNS = (
    "id",
    "ts",
    "agent",
    "tool",
    "outcome",
    "duration_ms",
    "request_id",
    "error",
    "ids",
    "arguments",
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def add_parser(commands: Any) -> None:
    """Add ``audit tail`` and ``audit export`` to the CLI's subcommands."""
    audit = commands.add_parser(
        "audit",
        help="read the audit log of tool calls",
        description=(
            "Read the audit log: one record per tool call (agent, tool, arguments without "
            "secrets, outcome, Discord ids, duration). Works while the server runs."
        ),
    )
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    tail = actions.add_parser(
        "tail",
        help="print the newest records (and, with --follow, new ones as they come)",
        description="Print the newest records, oldest first; --follow keeps printing new ones.",
    )
    tail.add_argument("-n", "--lines", type=int, default=20, help="how many (default 20)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new records")
    tail.add_argument("--agent", help="only this agent's calls")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    _common(tail)
    export = actions.add_parser(
        "export",
        help="write the records of a period as JSON lines or CSV",
        description="Write every record from --since (until --until) as JSON lines or CSV.",
    )
    export.add_argument(
        "--since", required=True, help="start: an ISO 8601 time (UTC unless it says) or 24h, 7d"
    )
    export.add_argument("--until", help="end (exclusive), same forms; default now")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--agent", help="only this agent's calls")
    export.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    _common(export)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="TOML, YAML or JSON config file (default: $MCP_DISCORD_CONFIG, else none)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", type=Path, help="the server's data directory (overrides)"
    )


def parse_time(text: str, now: float) -> float:
    """UTC epoch seconds of ``text``: an ISO 8601 time/date, or a duration ago (``24h``)."""
    value = text.strip()
    match = _DURATION.fullmatch(value.lower())
    if match is not None:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: write an ISO 8601 time such as 2026-11-24T08:00:00Z, "
            "a date such as 2026-11-24, or a duration ago such as 90m, 24h, 7d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _audit_path(args: argparse.Namespace) -> Path:
    from mcp_edge.config import load_config

    overrides = {"data_dir": args.data_dir} if args.data_dir is not None else None
    config = load_config(args.config, overrides=overrides, check_secrets=False)
    return config.data_dir / AUDIT_FILE


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``audit tail`` or ``audit export``; the exit code."""
    from mcp_edge.config import ConfigError

    stream = sys.stdout if out is None else out
    command = f"{PROG} {args.audit_command}"
    try:
        path = _audit_path(args)
    except ConfigError as exc:
        _err(f"{command}: {exc}")
        return 2
    if not path.is_file():
        _err(
            f"{command}: no audit log at {path}: has a server run with this data directory? "
            "(pass --data-dir or --config)"
        )
        return 1
    try:
        if args.audit_command == "tail":
            return _tail(path, args, stream)
        return _export(path, args, stream)
    except ValueError as exc:
        _err(f"{command}: {exc}")
        return 2


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _line(record: AuditRecord) -> str:
    ids = " ".join(f"{k}={','.join(v)}" for k, v in record.ids.items())
    parts = [
        iso(record.ts),
        f"{record.agent:<10}",
        f"{record.tool:<22}",
        f"{record.outcome:<14}",
        f"{record.duration_ms:9.1f}ms",
    ]
    if ids:
        parts.append(ids)
    if record.error:
        parts.append(f"error: {record.error}")
    return "  ".join(parts)


def _tail(path: Path, args: argparse.Namespace, out: TextIO) -> int:
    if args.lines < 0:
        raise ValueError("-n must be 0 or more")
    records = read_audit(path, agent=args.agent, limit=args.lines, newest=True)
    last = records[-1].id if records else _latest_id(path)
    _print(records, args.json, out)
    while args.follow:
        time.sleep(FOLLOW_INTERVAL)
        records = read_audit(path, agent=args.agent, after_id=last or 0)
        if records:
            last = records[-1].id
            _print(records, args.json, out)
    return 0


def _latest_id(path: Path) -> int:
    newest = read_audit(path, limit=1, newest=True)
    return newest[0].id or 0 if newest else 0


def _print(records: list[AuditRecord], as_json: bool, out: TextIO) -> None:
    lines = records_jsonl(records) if as_json else (_line(r) for r in records)
    for line in lines:
        out.write(line + "\n")
    out.flush()


def _export(path: Path, args: argparse.Namespace, out: TextIO) -> int:
    now = time.time()
    since = parse_time(args.since, now)
    until = parse_time(args.until, now) if args.until else None
    if until is not None and until <= since:
        raise ValueError("--until must be later than --since")
    records = read_audit(path, since=since, until=until, agent=args.agent)
    if args.output is not None:
        with args.output.open("w", encoding="utf-8", newline="") as file:
            _write(records, args.format, file)
        _err(f"{len(records)} records written to {args.output}")
    else:
        _write(records, args.format, out)
    return 0


def _write(records: list[AuditRecord], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for line in records_jsonl(records):
            out.write(line + "\n")
        return
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for record in records:
        data = record.to_json()
        writer.writerow(
            [
                data["id"],
                data["ts"],
                data["agent"],
                data["tool"],
                data["outcome"],
                data["duration_ms"],
                data["request_id"],
                data["error"] or "",
                json.dumps(data["ids"], ensure_ascii=False),
                json.dumps(data["arguments"], ensure_ascii=False),
            ]
        )


__all__ = ["add_parser", "parse_time", "run"]
