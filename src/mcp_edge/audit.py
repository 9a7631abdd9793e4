"""The audit log: one record per tool call, durable in SQLite and logged as a JSON line.

Every ``tools/call`` the server answers -- granted or denied, well-formed or refused by the
schema -- becomes one :class:`AuditRecord`::

    ts           UTC epoch seconds when the call began
    agent        the caller ("-" when the call named none)
    tool         the tool's name
    arguments    the arguments with secrets removed (:func:`scrub`)
    outcome      ok | tool_error | denied | bad_arguments | internal_error | cancelled
    error        the error text the caller read (None when ok)
    ids          Discord ids the call touched: every ``*_id``/``*_ids`` in the arguments and in
                 the result (a result object's ``id`` is named after the field holding it)
    duration_ms  time in the server
    request_id   the JSON-RPC request id

Secrets never reach a record: values of fields whose name contains token, key (not
``idempotency_key``), secret, password or authorization become ``"***"``; any string that looks
like a Discord token, an ``mcpd_`` API key or a Bearer credential is redacted where it
appears (:func:`mcp_edge.logs.redact`); and large blobs (``data_base64``, ``avatar``, any
string over 2,000 characters) are replaced by a size note.

Where it goes. :meth:`AuditLog.append` never waits: it logs the record as one JSON line on the
``mcp_edge.audit`` logger and puts it on a bounded queue. The log's own task
(:meth:`AuditLog.run`) drains the queue in batches and writes each batch in one transaction in
a worker thread (group commit, ``synchronous=FULL``: a written batch survives a power cut;
the writer lingers :attr:`AuditLog.linger` seconds after a batch's first record so that calls
in a row share a transaction), so auditing adds a fraction of a millisecond to a call
(building the record, and logging it when ``mcp_edge.audit`` logs at INFO), never an fsync.
If the queue is full or the write fails, the call still succeeds: the loss is logged and
counted (:attr:`AuditStatistics.dropped`, ``failed``) -- an audit outage must not take Discord
access down with it, and the JSON lines still carry every record to the log pipeline.

The database is its own file, ``DATA_DIR/audit.sqlite3`` (WAL), not the Store's: the Store
holds its file with ``locking_mode=EXCLUSIVE`` (so two servers never deliver one outbox), which
would keep ``mcp-discord audit tail`` from reading while the server runs. The audit file is
opened shared, so the CLI reads it read-only at any time (:func:`read_audit`). Nothing prunes
it: export and archive it with ``mcp-discord audit export`` as the operator's retention
requires.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import BaseModel

from mcp_edge.logs import json_text, redact, utc_iso

AUDIT_FILE = "audit.sqlite3"
"""The audit database inside the data directory."""

_log = logging.getLogger("mcp_edge.audit")
_status = logging.getLogger("mcp_edge.audit.status")

_SECRET_NAME = re.compile(r"token|secret|password|passwd|authorization|api_?key|^key$|_key$", re.I)
_NOT_SECRET = frozenset({"idempotency_key", "key_id", "sort_key"})
_BLOB_NAMES = frozenset({"data_base64", "avatar", "image", "file", "data"})
MAX_TEXT = 2000
"""Longer strings are stored as a size note."""
MAX_IDS = 200
"""At most this many ids per record."""

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS audit (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        ts          REAL    NOT NULL,
        agent       TEXT    NOT NULL,
        tool        TEXT    NOT NULL,
        arguments   TEXT    NOT NULL,
        outcome     TEXT    NOT NULL,
        error       TEXT,
        ids         TEXT    NOT NULL,
        duration_ms REAL    NOT NULL,
        request_id  TEXT    NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts)",
    "CREATE INDEX IF NOT EXISTS audit_agent ON audit (agent, id)",
)


@attrs.frozen
class AuditRecord:
    """One tool call, as the audit keeps it (already scrubbed)."""

    ts: float
    agent: str
    tool: str
    arguments: Mapping[str, Any]
    outcome: str
    error: str | None
    ids: Mapping[str, tuple[str, ...]]
    duration_ms: float
    request_id: str = ""
    id: int | None = None
    """The row id once stored (None before)."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able data (the JSON line and ``audit export`` use it)."""
        out: dict[str, Any] = {
            "ts": iso(self.ts),
            "agent": self.agent,
            "tool": self.tool,
            "arguments": dict(self.arguments),
            "outcome": self.outcome,
            "error": self.error,
            "ids": {k: list(v) for k, v in self.ids.items()},
            "duration_ms": self.duration_ms,
            "request_id": self.request_id,
        }
        if self.id is not None:
            out = {"id": self.id, **out}
        return out


def iso(ts: float) -> str:
    """UTC ISO 8601 with milliseconds and a Z."""
    return utc_iso(ts)


# --- scrubbing ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return value


_secret_names: dict[str, bool] = {}
""":func:`_is_secret_name`'s verdicts: a call's argument names are its tool's, so a few dozen
in all (arguments the schema refused may name anything: the cache stops growing at
:data:`_SECRET_NAMES_KEPT`)."""
_SECRET_NAMES_KEPT = 4096


def _is_secret_name(name: str) -> bool:
    secret = _secret_names.get(name)
    if secret is None:
        secret = name not in _NOT_SECRET and _SECRET_NAME.search(name) is not None
        if len(_secret_names) < _SECRET_NAMES_KEPT:
            _secret_names[name] = secret
    return secret


def _scrub_text(value: str, name: str) -> str:
    size = len(value)
    if size > MAX_TEXT or (size > 64 and name in _BLOB_NAMES):
        return f"<{size} characters omitted>"
    return redact(value)


def _scrub_fields(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping scrubbed: :func:`scrub` of each value under its key, the common values
    (None, str, int, float, bool) handled here without a call each."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            key = str(key)
        kind = type(item)
        if item is None:
            out[key] = None
        elif _is_secret_name(key):
            out[key] = "***"
        elif kind is str:
            out[key] = _scrub_text(item, key)
        elif kind is int or kind is float or kind is bool:
            out[key] = item
        else:
            out[key] = scrub(item, key)
    return out


def scrub(value: Any, name: str = "") -> Any:
    """``value`` with secrets and blobs removed (see the module docstring); JSON-able."""
    value = _plain(value)
    if name and value is not None and _is_secret_name(name):
        return "***"
    match value:
        case None | bool() | int() | float():
            return value
        case str():
            return _scrub_text(value, name)
        case bytes() | bytearray():
            return f"<{len(value)} bytes omitted>"
        case Mapping():
            return _scrub_fields(value)
        case list() | tuple() | set() | frozenset():
            return [scrub(v, name) for v in value]
    return redact(str(value))[:MAX_TEXT]


def collect_ids(*sources: Any) -> dict[str, tuple[str, ...]]:
    """Every Discord id in ``sources`` by field: ``*_id``, ``*_ids``, and ``id`` fields named
    after the field that holds their object (``message.id`` -> ``message_id``)."""
    found: dict[str, dict[str, None]] = {}  # label -> ids in order (a dict: O(1) "seen?")
    room = MAX_IDS
    for source in sources:
        room = _walk(source, "", found, room)
    return {k: tuple(v) for k, v in found.items()}


def _walk(value: Any, owner: str, found: dict[str, dict[str, None]], room: int) -> int:
    """Add the ids in ``value`` (held by field ``owner``) to ``found``; the room left."""
    value = _plain(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str:
                key = str(key)
            label = _id_labels.get(key)
            if label is None:
                label = _id_label(key)
            if label is _NO_ID:
                if type(item) not in _SCALARS:  # a scalar holds no ids: no call for it
                    room = _walk(item, _singular(key), found, room)
            elif label is _OWNED_ID:
                room = _add(found, f"{owner}_id" if owner else "id", item, room)
            elif label[-1] == "s":  # a "*_ids" list
                if isinstance(item, list | tuple):
                    for one in item:
                        room = _add(found, label[:-1], one, room)
                elif type(item) not in _SCALARS:
                    room = _walk(item, _singular(key), found, room)
            else:
                room = _add(found, label, item, room)
    elif isinstance(value, list | tuple):
        for item in value:
            if type(item) not in _SCALARS:
                room = _walk(item, owner, found, room)
    return room


_NO_ID = ""
_OWNED_ID = "id"
_id_labels: dict[str, str] = {}
"""Field name -> what it holds (:func:`_id_label`), for :func:`collect_ids`; bounded like
:data:`_secret_names`."""


def _id_label(key: str) -> str:
    """``key`` itself for ``*_id`` and ``*_ids`` fields, :data:`_OWNED_ID` for ``id`` (named
    after its owner), :data:`_NO_ID` for any other field; remembered."""
    label = _OWNED_ID if key == "id" else key if key.endswith(("_id", "_ids")) else _NO_ID
    if len(_id_labels) < _SECRET_NAMES_KEPT:
        _id_labels[key] = label
    return label


def _add(found: dict[str, dict[str, None]], label: str, raw: Any, room: int) -> int:
    """Add ``raw`` under ``label`` if it is an id (digits) and there is room; the room left."""
    if room <= 0 or raw is None or isinstance(raw, bool):
        return room
    text = raw if type(raw) is str else str(raw)
    if not text.isdigit():
        return room
    bucket = found.get(label)
    if bucket is None:
        bucket = found[label] = {}
    if text in bucket:
        return room
    bucket[text] = None
    return room - 1


_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Values :func:`collect_ids` need not look inside."""


def _singular(key: str) -> str:
    if key.endswith("ies"):
        return key[:-3] + "y"
    if key.endswith("s") and not key.endswith("ss"):
        return key[:-1]
    return key


# --- the writer ---------------------------------------------------------------------------------


@attrs.frozen
class AuditStatistics:
    """How the audit log is doing."""

    appended: int
    written: int
    dropped: int
    """Records lost because the queue was full or the log was closed."""
    failed: int
    """Records lost because the database refused the write."""
    queued: int


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=5
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # batched, off the call path: affordable
        for statement in _SCHEMA:
            conn.execute(statement)
    conn.row_factory = sqlite3.Row
    return conn


def _write(conn: sqlite3.Connection, batch: Sequence[AuditRecord]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT INTO audit (ts, agent, tool, arguments, outcome, error, ids, duration_ms, "
            "request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.ts,
                    r.agent,
                    r.tool,
                    json_text(r.arguments),
                    r.outcome,
                    r.error,
                    json.dumps({k: list(v) for k, v in r.ids.items()}),
                    r.duration_ms,
                    r.request_id,
                )
                for r in batch
            ],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@attrs.define(eq=False)
class AuditLog:
    """Appends :class:`AuditRecord` s to ``path`` in batches, from its own task (``run``)."""

    path: Path
    capacity: int = 10_000
    """Records queued at most; more are dropped (and counted) rather than slowing calls."""
    batch_limit: int = 500
    linger: float = 0.05
    """Seconds the writer waits after a batch's first record for more to join it: calls one
    after another then share one transaction (one worker-thread hop, one fsync) instead of
    paying one each (~0.3 ms of CPU per call, measured). A call never waits for it."""
    clock: Any = time.time
    _send: MemoryObjectSendStream[AuditRecord] = attrs.field(init=False, repr=False)
    _receive: MemoryObjectReceiveStream[AuditRecord] = attrs.field(init=False, repr=False)
    _appended: int = attrs.field(default=0, init=False)
    _written: int = attrs.field(default=0, init=False)
    _dropped: int = attrs.field(default=0, init=False)
    _failed: int = attrs.field(default=0, init=False)
    _done: anyio.Event | None = attrs.field(default=None, init=False, repr=False)
    _progress: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[AuditRecord](self.capacity)

    def append(self, record: AuditRecord) -> None:
        """Log ``record`` as a JSON line and queue it for the database; never waits."""
        self._appended += 1
        if _log.isEnabledFor(logging.INFO):  # the line is built only when it will be written
            _log.info(
                "%s",
                json_text(record.to_json()),
                extra={"agent": record.agent, "tool": record.tool, "outcome": record.outcome},
            )
        try:
            self._send.send_nowait(record)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._dropped += 1
            _status.warning(
                "audit record of %s by %s not stored (queue full or log closed); "
                "its JSON line above is the only copy",
                record.tool,
                record.agent,
            )

    def statistics(self) -> AuditStatistics:
        return AuditStatistics(
            appended=self._appended,
            written=self._written,
            dropped=self._dropped,
            failed=self._failed,
            queued=self._receive.statistics().current_buffer_used,
        )

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every record appended so far is written (or counted as lost)."""
        with anyio.fail_after(timeout, reason="the audit log did not catch up"):
            while self._written + self._dropped + self._failed < self._appended:
                await self._progress.wait()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the database, report started, write batches until :meth:`close`, then end."""
        self._done = anyio.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await anyio.to_thread.run_sync(lambda: _connect(self.path, readonly=False))
        try:
            task_status.started()
            async with self._receive:
                async for first in self._receive:
                    batch = [first]
                    with anyio.CancelScope(shield=True):  # never drop a batch in hand
                        if self.linger > 0:
                            await anyio.sleep(self.linger)
                        while len(batch) < self.batch_limit:
                            try:
                                batch.append(self._receive.receive_nowait())
                            except (anyio.WouldBlock, anyio.EndOfStream):
                                break
                        try:
                            await anyio.to_thread.run_sync(_write, conn, batch)
                        except sqlite3.Error as exc:
                            self._failed += len(batch)
                            _status.error(
                                "the audit log could not store %d records: %s "
                                "(their JSON lines are in the log)",
                                len(batch),
                                exc,
                            )
                        else:
                            self._written += len(batch)
                    self._progress.set()
                    self._progress = anyio.Event()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(conn.close)
            self._done.set()

    def close(self) -> None:
        """Stop taking records; ``run`` writes what is queued and ends."""
        self._send.close()
        if self._done is None:  # never ran: nobody will drain the queue
            self._receive.close()

    async def aclose(self, timeout: float = 5.0) -> None:
        """Close and wait (at most ``timeout`` s) for the queued records to be written."""
        self.close()
        if self._done is not None:
            with anyio.move_on_after(timeout):
                await self._done.wait()


# --- reading ------------------------------------------------------------------------------------


def _record(row: sqlite3.Row) -> AuditRecord:
    ids = json.loads(row["ids"])
    return AuditRecord(
        id=int(row["id"]),
        ts=float(row["ts"]),
        agent=row["agent"],
        tool=row["tool"],
        arguments=json.loads(row["arguments"]),
        outcome=row["outcome"],
        error=row["error"],
        ids={str(k): tuple(v) for k, v in ids.items()},
        duration_ms=float(row["duration_ms"]),
        request_id=row["request_id"],
    )


def read_audit(
    path: Path,
    *,
    since: float | None = None,
    until: float | None = None,
    agent: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
    newest: bool = False,
) -> list[AuditRecord]:
    """Records from the audit database at ``path``, opened read-only, oldest first.

    ``newest=True`` with a ``limit`` gives the last ``limit`` records (``audit tail``).
    Raises FileNotFoundError if there is no audit database yet.
    """
    if not path.is_file():
        raise FileNotFoundError(path)
    where = ["id > ?"]
    params: list[Any] = [after_id]
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts < ?")
        params.append(until)
    if agent is not None:
        where.append("agent = ?")
        params.append(agent)
    order = "DESC" if newest else "ASC"
    sql = f"SELECT * FROM audit WHERE {' AND '.join(where)} ORDER BY id {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    conn = _connect(path, readonly=True)
    try:
        try:
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
    finally:
        conn.close()
    records = [_record(r) for r in rows]
    return records[::-1] if newest else records


def record_for(
    *,
    started: float,
    agent: str,
    tool: str,
    arguments: Mapping[str, Any],
    outcome: str,
    error: str | None,
    result: Any,
    seconds: float,
    request_id: str,
) -> AuditRecord:
    """Build the (scrubbed) record of one call."""
    clean = _scrub_fields(arguments)
    ids = collect_ids(clean, result) if result is not None else collect_ids(clean)
    return AuditRecord(
        ts=started,
        agent=agent,
        tool=tool,
        arguments=clean,
        outcome=outcome,
        error=None if error is None else redact(error),
        ids=ids,
        duration_ms=round(seconds * 1000, 3) if math.isfinite(seconds) else -1.0,
        request_id=request_id,
    )


def records_jsonl(records: Iterable[AuditRecord]) -> Iterable[str]:
    for record in records:
        yield json_text(record.to_json())


__all__ = [
    "AUDIT_FILE",
    "AuditLog",
    "AuditRecord",
    "AuditStatistics",
    "collect_ids",
    "iso",
    "read_audit",
    "record_for",
    "records_jsonl",
    "scrub",
]
