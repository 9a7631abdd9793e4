"""The audit log: scrubbing, id collection, durable batched writes, and the audit CLI."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import BaseModel

from discord_io.sandbox import sandbox_server
from mcp_edge import _cli_audit
from mcp_edge.audit import (
    AUDIT_FILE,
    MAX_IDS,
    AuditLog,
    collect_ids,
    read_audit,
    record_for,
    scrub,
)
from mcp_edge.cli import main
from mcp_edge.config import config_from_data
from mcp_edge.policy import READER
from mcp_edge.serve import Edge, serve

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
API_KEY = "mcpd_abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def anyio_backend() -> str:
    """The audit writer uses worker threads; asyncio is enough."""
    return "asyncio"


def test_scrub_removes_secrets_and_blobs() -> None:
    """Secret-named fields, token- and key-looking values and large blobs never survive."""
    clean = scrub(
        {
            "content": f"my token is {TOKEN} and key {API_KEY}",
            "bot_token": "anything",
            "api_key": "anything",
            "password": "hunter2",
            "idempotency_key": "k-1",
            "avatar": "A" * 5000,
            "files": [{"filename": "a.png", "data_base64": "QUFB" * 100}],
            "items": [{"channel_id": "1", "secret": "s"}],
        }
    )
    text = json.dumps(clean)
    for secret in (TOKEN, API_KEY, "hunter2", "QUFBQUFB"):
        assert secret not in text
    assert clean["bot_token"] == clean["api_key"] == clean["password"] == "***"
    assert clean["idempotency_key"] == "k-1"
    assert clean["avatar"] == "<5000 characters omitted>"
    assert clean["files"][0]["data_base64"] == "<400 characters omitted>"
    assert clean["items"][0] == {"channel_id": "1", "secret": "***"}


_SECRET_VALUES = st.sampled_from([TOKEN, API_KEY, f"Bearer {API_KEY}", f"x {TOKEN} y"])
_KEYS = st.sampled_from(["content", "name", "items", "token", "webhook_token", "note", "url"])


@given(
    st.recursive(
        st.text(max_size=20) | st.integers() | st.none() | _SECRET_VALUES,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
        max_leaves=20,
    )
)
def test_no_secret_survives_scrub_at_any_depth(value: Any) -> None:
    """Tokens and API keys anywhere in nested arguments never reach the record."""
    text = json.dumps(scrub({"arguments": value}))
    assert TOKEN not in text
    assert API_KEY not in text


def test_collect_ids_from_arguments_and_result() -> None:
    """*_id and *_ids fields, and objects' ids named after their field."""
    ids = collect_ids(
        {"channel_id": "10", "user_ids": ["20", "21"], "limit": 5},
        {"message": {"id": "30", "author_id": "20"}, "channels": [{"id": "40"}, {"id": "41"}]},
    )
    assert ids == {
        "channel_id": ("10", "40", "41"),
        "user_id": ("20", "21"),
        "message_id": ("30",),
        "author_id": ("20",),
    }


def test_scrub_keeps_plain_values_and_names_every_key_as_text() -> None:
    """None (even under a secret's name), numbers and booleans pass as they are; keys become
    text; a model is scrubbed as its fields."""

    class Item(BaseModel):
        channel_id: str
        token: str | None = None
        webhook_token: str = "x"

    clean = scrub(
        {
            "bot_token": None,
            "limit": 5,
            "ratio": 0.5,
            "tts": True,
            7: "seven",
            "item": Item(channel_id="1"),
            "items": [Item(channel_id="2", token="t")],
            "content": f"a {TOKEN}",
        }
    )
    assert clean == {
        "bot_token": None,
        "limit": 5,
        "ratio": 0.5,
        "tts": True,
        "7": "seven",
        "item": {"channel_id": "1", "webhook_token": "***"},
        "items": [{"channel_id": "2", "token": "***", "webhook_token": "***"}],
        "content": "a ***",
    }


def test_collect_ids_skips_non_ids_and_stops_at_the_cap() -> None:
    """Booleans, None and non-digits are no ids; numbers are; at most MAX_IDS are kept."""

    class Sent(BaseModel):
        message_id: str | None = None
        channel_id: str
        outbox_id: int

    ids = collect_ids(
        {"channel_id": True, "guild_id": None, "user_id": "me", "role_id": 42},
        Sent(channel_id="10", outbox_id=3),
    )
    assert ids == {"role_id": ("42",), "channel_id": ("10",), "outbox_id": ("3",)}
    many = collect_ids({"user_ids": [str(i) for i in range(MAX_IDS + 50)], "channel_id": "1"})
    assert many == {"user_id": tuple(str(i) for i in range(MAX_IDS))}


def _collect_ids_plainly(*sources: Any) -> dict[str, tuple[str, ...]]:
    """collect_ids as first written (no caches, no fast paths): the reference."""
    found: dict[str, list[str]] = {}

    def add(label: str, raw: Any) -> None:
        text = str(raw)
        full = sum(map(len, found.values())) >= MAX_IDS
        if full or isinstance(raw, bool) or not text.isdigit():
            return
        bucket = found.setdefault(label, [])
        if text not in bucket:
            bucket.append(text)

    def walk(value: Any, owner: str) -> None:
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", exclude_none=True)
        if isinstance(value, dict):
            for key, item in value.items():
                key = str(key)
                if key == "id":
                    add(f"{owner}_id" if owner else "id", item)
                elif key.endswith("_id"):
                    add(key, item)
                elif key.endswith("_ids") and isinstance(item, list | tuple):
                    for one in item:
                        add(key[:-1], one)
                else:
                    singular = key
                    if key.endswith("ies"):
                        singular = key[:-3] + "y"
                    elif key.endswith("s") and not key.endswith("ss"):
                        singular = key[:-1]
                    walk(item, singular)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, owner)

    for source in sources:
        walk(source, "")
    return {k: tuple(v) for k, v in found.items()}


_ID_KEYS = st.sampled_from(
    ["id", "channel_id", "user_ids", "_id", "messages", "entries", "class", "name", "x_ids", 7]
)
_ID_VALUES = st.sampled_from(["1", "22", "1", "x", "", True, False, None, 5, 0, -3, 2.5])


@given(
    st.lists(
        st.recursive(
            _ID_VALUES,
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(_ID_KEYS, inner, max_size=5)
            ),
            max_leaves=30,
        ),
        max_size=3,
    )
)
def test_collect_ids_finds_what_the_plain_reading_finds(sources: list[Any]) -> None:
    """The fast collect_ids agrees with a plain reading of the rules, at any depth."""
    assert collect_ids(*sources) == _collect_ids_plainly(*sources)


def _record(agent: str, tool: str, ts: float, **arguments: Any) -> Any:
    return record_for(
        started=ts,
        agent=agent,
        tool=tool,
        arguments=arguments,
        outcome="ok",
        error=None,
        result={"message_id": "99"},
        seconds=0.0123,
        request_id="7",
    )


async def _write(path: Path, records: list[Any]) -> AuditLog:
    audit = AuditLog(path)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(audit.run)
            for record in records:
                audit.append(record)
            await audit.flush()
            await audit.aclose()
    return audit


@pytest.mark.anyio
async def test_records_are_stored_logged_and_read_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Appended records land in the database in order, each also logged as a JSON line."""
    path = tmp_path / AUDIT_FILE
    now = time.time()
    records = [_record("scribe", "send_message", now + i, channel_id=str(i)) for i in range(50)]
    with caplog.at_level(logging.INFO, logger="mcp_edge.audit"):
        audit = await _write(path, records)
    stats = audit.statistics()
    assert (stats.appended, stats.written, stats.dropped, stats.failed) == (50, 50, 0, 0)
    lines = [r.getMessage() for r in caplog.records if r.name == "mcp_edge.audit"]
    assert len(lines) == 50
    assert json.loads(lines[0])["arguments"] == {"channel_id": "0"}
    stored = read_audit(path)
    assert [r.arguments["channel_id"] for r in stored] == [str(i) for i in range(50)]
    assert stored[0].ids == {"channel_id": ("0",), "message_id": ("99",)}
    assert stored[0].duration_ms == 12.3
    assert [r.id for r in read_audit(path, limit=3, newest=True)] == [48, 49, 50]
    assert len(read_audit(path, since=now + 10, until=now + 20)) == 10


@pytest.mark.anyio
async def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    """append never blocks: past capacity, records are dropped and counted."""
    audit = AuditLog(tmp_path / AUDIT_FILE, capacity=2)
    for i in range(5):
        audit.append(_record("scribe", "list_guilds", float(i)))
    assert audit.statistics().dropped == 3
    audit.close()
    audit.append(_record("scribe", "list_guilds", 9.0))
    assert audit.statistics().dropped == 4


@pytest.mark.anyio
async def test_readable_while_the_writer_runs(tmp_path: Path) -> None:
    """The CLI's read-only connection reads while the server's writer holds the file."""
    path = tmp_path / AUDIT_FILE
    audit = AuditLog(path)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(audit.run)
            audit.append(_record("scribe", "list_guilds", time.time()))
            await audit.flush()
            assert len(read_audit(path)) == 1
            audit.append(_record("scribe", "list_guilds", time.time()))
            await audit.flush()
            assert len(read_audit(path)) == 2
            await audit.aclose()


@pytest.mark.anyio
async def test_cli_tail_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """audit tail and audit export (jsonl, csv, --agent, --since/--until) on a real data dir."""
    data = tmp_path / "data"
    now = time.time()
    records = [
        _record(
            "scribe" if i % 2 else "herald", "send_message", now - 3600 * (9 - i), content=TOKEN
        )
        for i in range(10)
    ]
    await _write(data / AUDIT_FILE, records)
    capsys.readouterr()
    base = ["--data-dir", str(data)]

    assert main(["audit", "tail", "-n", "3", *base]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "send_message" in lines[0]
    assert "message_id=99" in lines[0]

    assert main(["audit", "tail", "-n", "2", "--agent", "herald", "--json", *base]) == 0
    tail = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["agent"] for r in tail] == ["herald", "herald"]
    assert tail[-1]["id"] == 9

    assert main(["audit", "export", "--since", "5h", "--format", "jsonl", *base]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(exported) == 5
    assert all(r["arguments"]["content"] == "***" for r in exported)

    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600 * 9 - 1))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600 * 7 + 1))
    args = ["audit", "export", "--since", since, "--until", until, "--format", "csv", *base]
    assert main([*args, "--agent", "herald"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["agent"] for r in rows] == ["herald", "herald"]
    assert json.loads(rows[0]["ids"]) == {"message_id": ["99"]}

    out = tmp_path / "out.jsonl"
    assert main(["audit", "export", "--since", "1d", "-o", str(out), *base]) == 0
    assert len(out.read_text().splitlines()) == 10
    assert TOKEN not in out.read_text()


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No audit log yet: exit 1 saying where it looked; a bad --since: exit 2 with the forms."""
    assert main(["audit", "tail", "--data-dir", str(tmp_path)]) == 1
    assert "no audit log at" in capsys.readouterr().err
    (tmp_path / AUDIT_FILE).write_bytes(b"")
    assert main(["audit", "export", "--since", "yesterday", "--data-dir", str(tmp_path)]) == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_parse_time_forms() -> None:
    """Durations ago, ISO times with and without a zone, dates."""
    assert _cli_audit.parse_time("90m", 10_000.0) == 10_000.0 - 5400
    assert _cli_audit.parse_time("1970-01-01T01:00:00Z", 0) == 3600
    assert _cli_audit.parse_time("1970-01-01T01:00:00+01:00", 0) == 0
    assert _cli_audit.parse_time("1970-01-02", 0) == 86400


@pytest.mark.anyio
async def test_serve_applies_the_config_policy_and_audits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real ``serve`` (HTTP, sandbox): a reader agent sees and calls only reader tools, and
    ``audit tail`` reads the records while the server runs."""
    config = config_from_data(
        {
            "transport": "http",
            "port": 0,
            "sandbox": "on",
            "data_dir": str(tmp_path),
            "agents": [{"name": "scribe", "profile": "reader"}, {"name": "herald"}],
        },
        environ={},
    )
    with anyio.fail_after(60):
        async with sandbox_server() as sandbox, anyio.create_task_group() as tg:
            edge: Edge = await tg.start(
                lambda task_status: serve(
                    config, sandbox=sandbox, signals=False, task_status=task_status
                )
            )
            headers = {"Authorization": f"Bearer {edge.demo_keys['scribe']}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                Client(streamable_http_client(edge.url, http_client=http)) as client,  # type: ignore[arg-type]
            ):
                tools = {t.name for t in (await client.list_tools()).tools}
                assert tools
                assert tools <= READER
                assert not (await client.call_tool("list_guilds", {})).is_error
                denied = await client.call_tool(
                    "send_message", {"channel_id": "1", "content": "hi"}
                )
                assert denied.is_error
                assert "not granted to agent scribe (profile reader)" in str(denied.content)
            assert edge.runtime.audit is not None
            await edge.runtime.audit.flush()
            capsys.readouterr()
            assert main(["audit", "tail", "--json", "--data-dir", str(tmp_path)]) == 0
            tail = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            assert [(r["tool"], r["outcome"]) for r in tail] == [
                ("list_guilds", "ok"),
                ("send_message", "denied"),
            ]
            edge.stop()
