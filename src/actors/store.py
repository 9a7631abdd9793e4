"""The Store: the durable layer (SQLite) behind the outbox, scheduled sends and the event log.

One :class:`StoreActor` owns one SQLite database (stdlib :mod:`sqlite3`, WAL mode). Everyone
else reaches it through a :class:`StoreHandle` (typed helpers over ``Handle[StoreMsg]``) or by
telling/asking the messages of :data:`StoreMsg` directly. What lives here::

    outbox      accepted sends, in acceptance order: payload (JSON), deterministic nonce,
                state pending -> delivered | failed | cancelled, Discord message id, attempts,
                last error. Replayed at start with ListPending; dedup by nonce + enforce_nonce.
    scheduled   sends that wait for a wall-clock time; TakeDue moves the due ones into the
                outbox in the same transaction that marks them queued.
    events      a per-agent event log: AppendEvents -> cursors; ReadEvents after a cursor with
                type / channel filters; pruned after a retention period.

Durability. Every write is committed before its Reply is answered: a reply means "on disk".
The connection runs ``journal_mode=WAL`` with ``synchronous=FULL`` by default: each commit
fsyncs the WAL, so an acknowledged write survives a kill -9 *and* an OS crash or power loss.
``synchronous=NORMAL`` (an option) skips that fsync -- a commit is then a ``write()`` into the
OS page cache, which survives a kill -9 of the process (the kernel still holds the pages) but
not a power cut. FULL is the default because the product's promise is "an accepted message is
delivered"; group commit shares the one fsync among every write of a batch, which is what
keeps FULL affordable (``python -m bench store`` measures both). With ``exclusive=True`` (the
default) the database is opened in ``locking_mode=EXCLUSIVE``: a second server pointed at the
same data path fails to open it (:class:`StoreOpenError`) instead of delivering the same outbox
twice.

Group commit. The actor takes one message, then drains whatever else is already queued
(``receive_nowait``) up to ``batch_limit`` messages and runs the whole batch as ONE
transaction in its worker thread. A message that fails (unknown row, bad payload) must not
take the others down: the transaction is rolled back and the batch runs again with a SAVEPOINT
around each message, so the failing one rolls back alone and its asker gets the error while
the others commit (failures are rare, so the common path pays no savepoints). Only after
COMMIT returns does the actor answer the batch's Replies, in order. While a transaction runs,
new messages pile up in the mailbox and become the next batch, so the number of fsyncs follows
the load, not the number of messages. Reads go through the same queue, so a read sees every
write queued before it.

Threads. sqlite3 blocks, so every call on the connection runs in a worker thread through
``anyio.to_thread.run_sync`` with a ``CapacityLimiter(1)``: one statement stream at a time,
never on the event loop. A running transaction is never abandoned: the actor shields its
thread calls, finishes the batch and answers its Replies, then honours the cancellation.

Time. Wall-clock times (created_at, send_at, received_at, retention) are UTC epoch seconds from
the injected ``clock`` (default :func:`time.time`), so tests control them. The periodic prune
is a sleep loop (``anyio.sleep(prune_interval)``) in the actor's own task group.

Nonces. ``nonce_for(salt, agent, outbox_id)`` = a 10-character per-agent tag (base32 of
``blake2b(salt + agent)``) followed by the outbox id in base 36: at most 23 characters (Discord
allows 25), stable across restarts (salt and id are stored), unique per agent (a committed id
is never reused: each new id is one past the highest ever committed, which ``sqlite_sequence``
remembers even after pruning), and distinct from a previous database's nonces (the salt is
random per database). It is computed once, at acceptance, and stored in the row.

Cursors. An event's cursor is a global AUTOINCREMENT id: strictly increasing within every
agent's log (with gaps where other agents' events sit), never reused after pruning. A page
read after cursor ``c`` returns ``next_cursor`` to read after next: the last event's cursor
when the page is full, else the log's high-water mark (filtered-out events are not rescanned).
``missed`` says events after ``c`` may already have been pruned by retention.

Idempotency. A send or a scheduled send may carry a client key, unique per (agent, key) within
its table: appending again with a used key returns the existing row (``duplicate=True``)
instead of a new one. Keys are remembered as long as their row is (finished rows are pruned
after ``outbox_retention``). A scheduled send's key does not follow it into the outbox.

Shutdown. Closing the Handle stops intake; the actor drains and commits what is queued, stops
its prune loop, checkpoints the WAL and closes the connection, then ``run`` returns.

Schema. ``schema_version`` (one row per applied migration) and forward-only migrations, each
in its own transaction, run at open; a database from a newer release is refused. Version 1::

    store_meta (key, value)                      nonce salt, events_pruned_through
    outbox     (id AUTOINCREMENT, agent, channel_id, payload JSON, nonce, idempotency_key,
                state, message_id, attempts, last_error, created_at, updated_at, scheduled_id)
               unique (agent, idempotency_key); partial index of pending rows by
               (agent, channel_id, id)
    scheduled  (id AUTOINCREMENT, agent, channel_id, payload JSON, send_at, idempotency_key,
                state, outbox_id, created_at, updated_at); unique (agent, idempotency_key)
    events     (cursor AUTOINCREMENT, agent, type, channel_id, payload JSON, received_at)

The statements and the migration runner are in :mod:`actors._store_schema`.

Exceptions::

    ActorError
    └── StoreError
        ├── StoreOpenError       the database cannot be opened, locked by another process,
        │                        or migrated (bad path, not a database, newer schema)
        ├── StoreClosedError     the store is not running: nothing was written (raised by
        │                        StoreHandle; a bare Handle raises ActorGoneError)
        ├── StoreWriteError      SQLite failed the write (disk full, I/O error): that message
        │                        -- or, if the COMMIT failed, its whole batch -- was not kept
        ├── UnknownRowError      no outbox or scheduled row with that id (also a LookupError)
        └── InvalidPayloadError  a payload that is not JSON (also a ValueError)
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar, assert_never

import anyio
import attrs
from anyio.abc import TaskStatus

from actors._mailbox import ActorError, ActorGoneError, Handle, Mailbox, Reply, open_mailbox
from actors._store_schema import LATEST_VERSION, SchemaError, migrate, nonce_for

T = TypeVar("T")

DAY = 86_400.0

# ---------------------------------------------------------------------------------------------
# Errors


class StoreError(ActorError):
    """Base of every error the Store raises."""


class StoreOpenError(StoreError):
    """The database at ``path`` could not be opened or brought to the current schema."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot open the store at {path!r}: {reason}")
        self.path = path
        self.reason = reason


class StoreClosedError(StoreError):
    """The store is not running (its Handle was closed or the actor stopped)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the store {name!r} is not running; nothing was written")
        self.name = name


class StoreWriteError(StoreError):
    """SQLite failed the batch's transaction; none of its writes were kept."""


class UnknownRowError(StoreError, LookupError):
    """No row with that id (it never existed, or retention pruned it)."""

    def __init__(self, table: str, row_id: int) -> None:
        super().__init__(f"no {table} row with id {row_id}")
        self.table = table
        self.row_id = row_id


class InvalidPayloadError(StoreError, ValueError):
    """A payload that cannot be stored as JSON text."""


# ---------------------------------------------------------------------------------------------
# Values


class SendState(enum.Enum):
    """Where an outbox row is. Only ``PENDING`` rows are replayed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ScheduleState(enum.Enum):
    """Where a scheduled send is: waiting, moved into the outbox, or cancelled."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    CANCELLED = "cancelled"


def _check_agent(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name} must be a non-empty string, not {value!r}")


def _check_key(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
        raise ValueError(f"{attribute.name} must be a string of 1-200 characters, not {value!r}")


def _check_mapping(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{attribute.name} must be a mapping (a JSON object), not {value!r}")


@attrs.frozen
class NewSend:
    """A send to accept into the outbox.

    ``payload`` is a JSON object the ChannelActor defines and the Store keeps as text; its
    keys are ``content``, ``embeds``, ``reply_to``, ``allowed_mentions``, ``attachments``
    (references to stored files, never the bytes).
    """

    agent: str = attrs.field(validator=_check_agent)
    channel_id: int = attrs.field(validator=attrs.validators.instance_of(int))
    payload: Mapping[str, Any] = attrs.field(validator=_check_mapping)
    idempotency_key: str | None = attrs.field(default=None, validator=_check_key)


@attrs.frozen
class OutboxRow:
    """One accepted send as stored. ``id`` is the global acceptance order."""

    id: int
    agent: str
    channel_id: int
    payload: Mapping[str, Any]
    nonce: str
    state: SendState
    message_id: int | None
    attempts: int
    last_error: str | None
    created_at: float
    updated_at: float
    idempotency_key: str | None
    scheduled_id: int | None
    """The scheduled send this row came from, if it came from one."""


@attrs.frozen
class Accepted:
    """The outcome of appending one send: its row, and whether its key was already used."""

    row: OutboxRow
    duplicate: bool


@attrs.frozen
class ScheduledRow:
    """One scheduled send as stored."""

    id: int
    agent: str
    channel_id: int
    payload: Mapping[str, Any]
    send_at: float
    state: ScheduleState
    idempotency_key: str | None
    outbox_id: int | None
    """The outbox row it became once due (state QUEUED)."""
    created_at: float
    updated_at: float


@attrs.frozen
class ScheduleAccepted:
    """The outcome of adding a scheduled send: its row, and whether its key was used."""

    row: ScheduledRow
    duplicate: bool


@attrs.frozen
class NewEvent:
    """An event to append to an agent's log; ``received_at`` defaults to the store's clock."""

    agent: str = attrs.field(validator=_check_agent)
    type: str = attrs.field(validator=_check_agent)
    payload: Mapping[str, Any] = attrs.field(validator=_check_mapping)
    channel_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(int))
    )
    received_at: float | None = None


@attrs.frozen
class EventRecord:
    """One event as stored; ``cursor`` orders it within its agent's log."""

    cursor: int
    agent: str
    type: str
    channel_id: int | None
    payload: Mapping[str, Any]
    received_at: float


@attrs.frozen
class EventPage:
    """A page of events after a cursor."""

    events: tuple[EventRecord, ...]
    next_cursor: int
    """Read after this next: the last event's cursor, or the log's high-water mark."""
    missed: bool
    """Events after the requested cursor may have been pruned by retention before this read."""


@attrs.frozen
class OutboxCounts:
    """Outbox rows by state, and the age of the oldest pending one (for metrics)."""

    pending: int
    delivered: int
    failed: int
    cancelled: int
    oldest_pending_created_at: float | None
    oldest_pending_age: float | None
    """Seconds since the oldest pending row was accepted; None when nothing is pending."""


@attrs.frozen
class PruneResult:
    """Rows removed by one prune."""

    events: int
    sends: int
    """Finished (delivered, failed, cancelled) outbox rows past ``outbox_retention``."""
    scheduled: int
    """Queued or cancelled scheduled rows past ``outbox_retention``."""


@attrs.frozen
class StoreStatistics:
    """A snapshot of the Store: its work so far and the size of what it holds."""

    path: str
    schema_version: int
    synchronous: str
    batches: int
    """Transactions run for mailbox messages (one per batch)."""
    messages: int
    """Mailbox messages handled."""
    rows_written: int
    """Rows inserted, updated or deleted by committed messages."""
    average_batch_size: float
    """Messages per batch (0 before the first batch)."""
    largest_batch: int
    failed_messages: int
    """Messages answered with an error (including whole batches SQLite refused), plus
    periodic prunes that failed."""
    pending_outbox: int
    oldest_pending_age: float | None
    scheduled: int
    """Scheduled sends still waiting."""
    event_rows: int
    db_size_bytes: int
    """The database file plus its WAL, as the pages SQLite reports."""
    prunes: int
    pruned_rows: int


# ---------------------------------------------------------------------------------------------
# Messages: the Store's whole protocol. A ``reply`` of None makes a write a plain tell.


@attrs.frozen
class AppendSends:
    """Accept sends into the outbox, all or none, in the given order."""

    sends: tuple[NewSend, ...]
    reply: Reply[tuple[Accepted, ...]] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class MarkDelivered:
    """Discord accepted the send: record its message id (from any state: Discord is truth)."""

    outbox_id: int
    message_id: int
    reply: Reply[OutboxRow] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class MarkFailed:
    """The send failed for good (a pending row becomes failed; others are left alone)."""

    outbox_id: int
    error: str
    reply: Reply[OutboxRow] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class RecordAttempt:
    """One more delivery attempt, with the error it ended in (None: it is in flight)."""

    outbox_id: int
    error: str | None = None
    reply: Reply[OutboxRow] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class CancelSend:
    """Cancel a pending send; the returned row's state says whether it was too late."""

    outbox_id: int
    reply: Reply[OutboxRow] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class GetSend:
    """One outbox row by id, or None."""

    outbox_id: int
    reply: Reply[OutboxRow | None] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class ListPending:
    """Pending sends in acceptance order: all, one agent's, or one (agent, channel)'s."""

    agent: str | None = None
    channel_id: int | None = None
    after_id: int = 0
    limit: int | None = None
    reply: Reply[tuple[OutboxRow, ...]] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class CountOutbox:
    """Outbox rows by state and the oldest pending age, overall or for one agent."""

    agent: str | None = None
    reply: Reply[OutboxCounts] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class AddScheduled:
    """Keep a send until ``send_at`` (UTC epoch seconds)."""

    send: NewSend
    send_at: float
    reply: Reply[ScheduleAccepted] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class ListScheduled:
    """An agent's scheduled sends by send_at (waiting ones only, unless ``everything``)."""

    agent: str
    everything: bool = False
    reply: Reply[tuple[ScheduledRow, ...]] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class CancelScheduled:
    """Cancel a waiting scheduled send; the returned row's state says if it was too late."""

    scheduled_id: int
    reply: Reply[ScheduledRow] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class TakeDue:
    """Move scheduled sends due by now into the outbox, atomically; reply with the new rows.

    Rows move in (send_at, id) order and each gets the next outbox id, so two sends due to
    the same channel keep the order they were scheduled for.
    """

    limit: int | None = None
    reply: Reply[tuple[OutboxRow, ...]] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class NextDue:
    """The earliest send_at of any waiting scheduled send, or None."""

    reply: Reply[float | None] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class AppendEvents:
    """Append events to their agents' logs, in order; reply with their cursors."""

    events: tuple[NewEvent, ...]
    reply: Reply[tuple[int, ...]] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class ReadEvents:
    """Up to ``limit`` of an agent's events after ``after``, optionally filtered."""

    agent: str
    after: int = 0
    limit: int = 100
    types: frozenset[str] | None = None
    channel_ids: frozenset[int] | None = None
    reply: Reply[EventPage] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class LatestCursor:
    """The cursor of an agent's newest event (or the log's high-water mark if it has none)."""

    agent: str
    reply: Reply[int] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class LatestMessages:
    """Channel -> the highest message id among an agent's logged ``message_created`` events."""

    agent: str
    reply: Reply[dict[int, int]] = attrs.field(kw_only=True, repr=False)


@attrs.frozen
class Prune:
    """Apply the retention periods now (the periodic loop does the same)."""

    reply: Reply[PruneResult] | None = attrs.field(default=None, kw_only=True, repr=False)


@attrs.frozen
class GetStatistics:
    """A :class:`StoreStatistics` snapshot."""

    reply: Reply[StoreStatistics] = attrs.field(kw_only=True, repr=False)


StoreMsg = (
    AppendSends
    | MarkDelivered
    | MarkFailed
    | RecordAttempt
    | CancelSend
    | GetSend
    | ListPending
    | CountOutbox
    | AddScheduled
    | ListScheduled
    | CancelScheduled
    | TakeDue
    | NextDue
    | AppendEvents
    | ReadEvents
    | LatestCursor
    | LatestMessages
    | Prune
    | GetStatistics
)
"""The Store's whole protocol."""


# ---------------------------------------------------------------------------------------------
# The database side: runs only in the worker thread.

_OUTBOX_COLUMNS = (
    "id, agent, channel_id, payload, nonce, state, message_id, attempts, last_error, "
    "created_at, updated_at, idempotency_key, scheduled_id"
)
_SCHEDULED_COLUMNS = (
    "id, agent, channel_id, payload, send_at, state, idempotency_key, outbox_id, "
    "created_at, updated_at"
)
_EVENT_COLUMNS = "cursor, agent, type, channel_id, payload, received_at"


def _dumps(payload: Mapping[str, Any]) -> str:
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError(f"the payload is not valid JSON data: {exc}") from exc


def _outbox_row(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=row[0],
        agent=row[1],
        channel_id=row[2],
        payload=json.loads(row[3]),
        nonce=row[4],
        state=SendState(row[5]),
        message_id=row[6],
        attempts=row[7],
        last_error=row[8],
        created_at=row[9],
        updated_at=row[10],
        idempotency_key=row[11],
        scheduled_id=row[12],
    )


def _scheduled_row(row: sqlite3.Row) -> ScheduledRow:
    return ScheduledRow(
        id=row[0],
        agent=row[1],
        channel_id=row[2],
        payload=json.loads(row[3]),
        send_at=row[4],
        state=ScheduleState(row[5]),
        idempotency_key=row[6],
        outbox_id=row[7],
        created_at=row[8],
        updated_at=row[9],
    )


def _event_record(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        cursor=row[0],
        agent=row[1],
        type=row[2],
        channel_id=row[3],
        payload=json.loads(row[4]),
        received_at=row[5],
    )


@attrs.frozen
class _Ok:
    value: Any


@attrs.frozen
class _Failed:
    error: StoreError


class _MessageFailed(Exception):
    """A message failed on the fast path: run the batch again, one savepoint per message."""


_Outcome = _Ok | _Failed


@attrs.define(eq=False)
class _Database:
    """The connection and every statement the Store runs. Used from one thread at a time."""

    conn: sqlite3.Connection
    path: str
    salt: str
    synchronous: str
    event_retention: float
    outbox_retention: float
    rows: int = 0
    """Rows written by the current message (reset per message)."""
    _last_outbox_id: int | None = attrs.field(default=None, init=False)
    """The highest outbox id in this transaction so far (None: read it from the table)."""

    @classmethod
    def open(
        cls,
        path: str,
        *,
        now: float,
        synchronous: str,
        exclusive: bool,
        busy_timeout: float,
        event_retention: float,
        outbox_retention: float,
    ) -> _Database:
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
            )
        except sqlite3.Error as exc:
            raise StoreOpenError(
                path, f"{exc} (does the directory exist, and may this process write there?)"
            ) from exc
        try:
            if exclusive:
                conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode not in ("wal", "memory"):
                raise StoreOpenError(path, f"SQLite refused WAL mode (journal_mode is {mode})")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute("PRAGMA temp_store = MEMORY")
            migrate(conn, now)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('nonce_salt', ?)",
                (secrets.token_hex(8),),
            )
            conn.execute("COMMIT")
            salt = conn.execute("SELECT value FROM store_meta WHERE key = 'nonce_salt'").fetchone()
        except StoreOpenError:
            conn.close()
            raise
        except SchemaError as exc:
            conn.close()
            raise StoreOpenError(path, str(exc)) from exc
        except sqlite3.Error as exc:
            conn.close()
            reason = str(exc)
            if "locked" in reason:
                reason += " (another mcp-discord process is using this data path)"
            raise StoreOpenError(path, reason) from exc
        return cls(
            conn=conn,
            path=path,
            salt=salt[0],
            synchronous=synchronous,
            event_retention=event_retention,
            outbox_retention=outbox_retention,
        )

    def close(self) -> None:
        try:
            if self.path != ":memory:":
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.close()

    # -- the batch -----------------------------------------------------------------------------

    def run_batch(
        self, batch: Sequence[StoreMsg], now: float, counters: _Counters
    ) -> tuple[list[_Outcome], int]:
        """Run ``batch`` as one transaction; per-message outcomes and rows written.

        The fast path runs the messages back to back. If one of them fails, the transaction
        is rolled back and the batch runs again with a SAVEPOINT around each message, so the
        failing one rolls back alone (the messages are deterministic given ``now``).
        Raises ``sqlite3.Error`` if the transaction itself fails (then nothing was kept).
        """
        try:
            return self._run(batch, now, counters, isolate=False)
        except _MessageFailed:
            return self._run(batch, now, counters, isolate=True)

    def _run(
        self, batch: Sequence[StoreMsg], now: float, counters: _Counters, *, isolate: bool
    ) -> tuple[list[_Outcome], int]:
        conn = self.conn
        outcomes: list[_Outcome] = []
        written = 0
        self._last_outbox_id = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            for msg in batch:
                self.rows = 0
                if isolate:
                    conn.execute("SAVEPOINT message")
                try:
                    value = self._apply(msg, now, counters)
                except (StoreError, sqlite3.Error) as exc:
                    if not isolate:
                        raise _MessageFailed from exc
                    conn.execute("ROLLBACK TO message")
                    conn.execute("RELEASE message")
                    error = exc if isinstance(exc, StoreError) else StoreWriteError(str(exc))
                    if error is not exc:
                        error.__cause__ = exc
                    outcomes.append(_Failed(error))
                else:
                    if isolate:
                        conn.execute("RELEASE message")
                    written += self.rows
                    outcomes.append(_Ok(value))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes, written

    def _apply(self, msg: StoreMsg, now: float, counters: _Counters) -> Any:
        match msg:
            case AppendSends(sends=sends):
                return tuple(self.append_send(send, now) for send in sends)
            case MarkDelivered(outbox_id=oid, message_id=message_id):
                return self._update_send(
                    oid,
                    "UPDATE outbox SET state = 'delivered', message_id = ?, updated_at = ? "
                    "WHERE id = ?",
                    (message_id, now, oid),
                )
            case MarkFailed(outbox_id=oid, error=error):
                return self._update_send(
                    oid,
                    "UPDATE outbox SET state = 'failed', last_error = ?, updated_at = ? "
                    "WHERE id = ? AND state = 'pending'",
                    (error, now, oid),
                )
            case RecordAttempt(outbox_id=oid, error=error):
                return self._update_send(
                    oid,
                    "UPDATE outbox SET attempts = attempts + 1, "
                    "last_error = coalesce(?, last_error), updated_at = ? WHERE id = ?",
                    (error, now, oid),
                )
            case CancelSend(outbox_id=oid):
                return self._update_send(
                    oid,
                    "UPDATE outbox SET state = 'cancelled', updated_at = ? "
                    "WHERE id = ? AND state = 'pending'",
                    (now, oid),
                )
            case GetSend(outbox_id=oid):
                return self.get_send(oid)
            case ListPending(agent=agent, channel_id=channel_id, after_id=after_id, limit=limit):
                return self.list_pending(agent, channel_id, after_id, limit)
            case CountOutbox(agent=agent):
                return self.count_outbox(agent, now)
            case AddScheduled(send=send, send_at=send_at):
                return self.add_scheduled(send, send_at, now)
            case ListScheduled(agent=agent, everything=everything):
                return self.list_scheduled(agent, everything=everything)
            case CancelScheduled(scheduled_id=sid):
                return self.cancel_scheduled(sid, now)
            case TakeDue(limit=limit):
                return self.take_due(now, limit)
            case NextDue():
                row = self.conn.execute(
                    "SELECT MIN(send_at) FROM scheduled WHERE state = 'scheduled'"
                ).fetchone()
                return row[0]
            case AppendEvents(events=events):
                return tuple(self.append_event(event, now) for event in events)
            case ReadEvents(
                agent=agent, after=after, limit=limit, types=types, channel_ids=channel_ids
            ):
                return self.read_events(agent, after, limit, types, channel_ids)
            case LatestCursor(agent=agent):
                return self.latest_cursor(agent)
            case LatestMessages(agent=agent):
                return self.latest_messages(agent)
            case Prune():
                return self.prune(now)  # counted by the actor once committed
            case GetStatistics():
                return self.statistics(now, counters)
            case _:
                assert_never(msg)

    # -- outbox --------------------------------------------------------------------------------

    def _insert_send(
        self,
        agent: str,
        channel_id: int,
        payload: str,
        key: str | None,
        now: float,
        scheduled_id: int | None = None,
    ) -> OutboxRow:
        # The nonce needs the id, so the id is chosen here rather than by AUTOINCREMENT: the
        # next one after the highest ever used (this connection is the only writer, inside a
        # write transaction). An id taken by a message that rolls back may be chosen again
        # later; it was never committed, so its nonce never reached Discord.
        if self._last_outbox_id is None:
            self._last_outbox_id = self.conn.execute(
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0),"
                " coalesce((SELECT max(id) FROM outbox), 0))"
            ).fetchone()[0]
        oid = self._last_outbox_id + 1
        nonce = nonce_for(self.salt, agent, oid)
        self.conn.execute(
            "INSERT INTO outbox (id, agent, channel_id, payload, nonce, idempotency_key, "
            "created_at, updated_at, scheduled_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (oid, agent, channel_id, payload, nonce, key, now, now, scheduled_id),
        )
        self._last_outbox_id = oid
        self.rows += 1
        return OutboxRow(
            id=oid,
            agent=agent,
            channel_id=channel_id,
            payload=json.loads(payload),
            nonce=nonce,
            state=SendState.PENDING,
            message_id=None,
            attempts=0,
            last_error=None,
            created_at=now,
            updated_at=now,
            idempotency_key=key,
            scheduled_id=scheduled_id,
        )

    def append_send(self, send: NewSend, now: float) -> Accepted:
        if send.idempotency_key is not None:
            existing = self.conn.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE agent = ? AND idempotency_key = ?",
                (send.agent, send.idempotency_key),
            ).fetchone()
            if existing is not None:
                return Accepted(_outbox_row(existing), duplicate=True)
        row = self._insert_send(
            send.agent, send.channel_id, _dumps(send.payload), send.idempotency_key, now
        )
        return Accepted(row, duplicate=False)

    def get_send(self, oid: int) -> OutboxRow | None:
        row = self.conn.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (oid,)
        ).fetchone()
        return None if row is None else _outbox_row(row)

    def _update_send(self, oid: int, sql: str, params: tuple[Any, ...]) -> OutboxRow:
        self.rows += self.conn.execute(sql, params).rowcount
        row = self.get_send(oid)
        if row is None:
            raise UnknownRowError("outbox", oid)
        return row

    def list_pending(
        self, agent: str | None, channel_id: int | None, after_id: int, limit: int | None
    ) -> tuple[OutboxRow, ...]:
        where = ["state = 'pending'", "id > ?"]
        params: list[Any] = [after_id]
        if agent is not None:
            where.append("agent = ?")
            params.append(agent)
        if channel_id is not None:
            where.append("channel_id = ?")
            params.append(channel_id)
        params.append(-1 if limit is None else limit)
        rows = self.conn.execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
            params,
        ).fetchall()
        return tuple(_outbox_row(row) for row in rows)

    def count_outbox(self, agent: str | None, now: float) -> OutboxCounts:
        sql = "SELECT state, COUNT(*), MIN(created_at) FROM outbox"
        params: tuple[Any, ...] = ()
        if agent is not None:
            sql += " WHERE agent = ?"
            params = (agent,)
        counts = {state.value: 0 for state in SendState}
        oldest: float | None = None
        for state, count, first in self.conn.execute(sql + " GROUP BY state", params):
            counts[state] = count
            if state == SendState.PENDING.value:
                oldest = first
        return OutboxCounts(
            pending=counts["pending"],
            delivered=counts["delivered"],
            failed=counts["failed"],
            cancelled=counts["cancelled"],
            oldest_pending_created_at=oldest,
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
        )

    # -- scheduled -----------------------------------------------------------------------------

    def _get_scheduled(self, sid: int) -> ScheduledRow | None:
        row = self.conn.execute(
            f"SELECT {_SCHEDULED_COLUMNS} FROM scheduled WHERE id = ?", (sid,)
        ).fetchone()
        return None if row is None else _scheduled_row(row)

    def add_scheduled(self, send: NewSend, send_at: float, now: float) -> ScheduleAccepted:
        if not math.isfinite(send_at):
            raise InvalidPayloadError(f"send_at must be a finite epoch time, not {send_at!r}")
        if send.idempotency_key is not None:
            existing = self.conn.execute(
                f"SELECT {_SCHEDULED_COLUMNS} FROM scheduled "
                "WHERE agent = ? AND idempotency_key = ?",
                (send.agent, send.idempotency_key),
            ).fetchone()
            if existing is not None:
                return ScheduleAccepted(_scheduled_row(existing), duplicate=True)
        cursor = self.conn.execute(
            "INSERT INTO scheduled (agent, channel_id, payload, send_at, idempotency_key, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                send.agent,
                send.channel_id,
                _dumps(send.payload),
                send_at,
                send.idempotency_key,
                now,
                now,
            ),
        )
        self.rows += 1
        sid = cursor.lastrowid
        assert sid is not None
        row = self._get_scheduled(sid)
        assert row is not None
        return ScheduleAccepted(row, duplicate=False)

    def list_scheduled(self, agent: str, *, everything: bool) -> tuple[ScheduledRow, ...]:
        sql = f"SELECT {_SCHEDULED_COLUMNS} FROM scheduled WHERE agent = ?"
        if not everything:
            sql += " AND state = 'scheduled'"
        rows = self.conn.execute(sql + " ORDER BY send_at, id", (agent,)).fetchall()
        return tuple(_scheduled_row(row) for row in rows)

    def cancel_scheduled(self, sid: int, now: float) -> ScheduledRow:
        self.rows += self.conn.execute(
            "UPDATE scheduled SET state = 'cancelled', updated_at = ? "
            "WHERE id = ? AND state = 'scheduled'",
            (now, sid),
        ).rowcount
        row = self._get_scheduled(sid)
        if row is None:
            raise UnknownRowError("scheduled", sid)
        return row

    def take_due(self, now: float, limit: int | None) -> tuple[OutboxRow, ...]:
        due = self.conn.execute(
            "SELECT id, agent, channel_id, payload FROM scheduled "
            "WHERE state = 'scheduled' AND send_at <= ? ORDER BY send_at, id LIMIT ?",
            (now, -1 if limit is None else limit),
        ).fetchall()
        moved = []
        for sid, agent, channel_id, payload in due:
            row = self._insert_send(agent, channel_id, payload, None, now, scheduled_id=sid)
            self.conn.execute(
                "UPDATE scheduled SET state = 'queued', outbox_id = ?, updated_at = ? WHERE id = ?",
                (row.id, now, sid),
            )
            self.rows += 1
            moved.append(row)
        return tuple(moved)

    # -- events --------------------------------------------------------------------------------

    def append_event(self, event: NewEvent, now: float) -> int:
        received_at = now if event.received_at is None else event.received_at
        cursor = self.conn.execute(
            "INSERT INTO events (agent, type, channel_id, payload, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (event.agent, event.type, event.channel_id, _dumps(event.payload), received_at),
        )
        self.rows += 1
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _high_water(self) -> int:
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])

    def _pruned_through(self) -> int:
        row = self.conn.execute(
            "SELECT value FROM store_meta WHERE key = 'events_pruned_through'"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def read_events(
        self,
        agent: str,
        after: int,
        limit: int,
        types: frozenset[str] | None,
        channel_ids: frozenset[int] | None,
    ) -> EventPage:
        if limit < 1:
            raise InvalidPayloadError(f"limit must be at least 1, not {limit}")
        where = ["agent = ?", "cursor > ?"]
        params: list[Any] = [agent, after]
        if types is not None:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            params.extend(sorted(types))
        if channel_ids is not None:
            where.append(f"channel_id IN ({', '.join('?' * len(channel_ids))})")
            params.extend(sorted(channel_ids))
        rows = self.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} "
            "ORDER BY cursor LIMIT ?",
            [*params, limit],
        ).fetchall()
        events = tuple(_event_record(row) for row in rows)
        full = len(events) == limit
        next_cursor = events[-1].cursor if full else max(after, self._high_water())
        return EventPage(events, next_cursor, missed=after < self._pruned_through())

    def latest_cursor(self, agent: str) -> int:
        row = self.conn.execute("SELECT MAX(cursor) FROM events WHERE agent = ?", (agent,))
        latest = row.fetchone()[0]
        return self._high_water() if latest is None else int(latest)

    def latest_messages(self, agent: str) -> dict[int, int]:
        # The agent's rows come from the events_agent index; one aggregate per channel.
        rows = self.conn.execute(
            "SELECT channel_id, MAX(CAST(json_extract(payload, '$.message.id') AS INTEGER)) "
            "FROM events WHERE agent = ? AND type = 'message_created' "
            "AND channel_id IS NOT NULL GROUP BY channel_id",
            (agent,),
        ).fetchall()
        return {int(row[0]): int(row[1]) for row in rows if row[1] is not None}

    # -- maintenance ---------------------------------------------------------------------------

    def prune(self, now: float) -> PruneResult:
        event_cutoff = now - self.event_retention
        newest = self.conn.execute(
            "SELECT MAX(cursor) FROM events WHERE received_at < ?", (event_cutoff,)
        ).fetchone()[0]
        events = 0
        if newest is not None:
            events = self.conn.execute(
                "DELETE FROM events WHERE received_at < ?", (event_cutoff,)
            ).rowcount
            self.conn.execute(
                "INSERT INTO store_meta (key, value) VALUES ('events_pruned_through', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), "
                "CAST(excluded.value AS INTEGER))",
                (newest,),
            )
        cutoff = now - self.outbox_retention
        sends = self.conn.execute(
            "DELETE FROM outbox WHERE state != 'pending' AND updated_at < ?", (cutoff,)
        ).rowcount
        scheduled = self.conn.execute(
            "DELETE FROM scheduled WHERE state != 'scheduled' AND updated_at < ?", (cutoff,)
        ).rowcount
        self.rows += events + sends + scheduled
        return PruneResult(events=events, sends=sends, scheduled=scheduled)

    def prune_now(self, now: float, counters: _Counters) -> PruneResult:
        """One prune in its own transaction (the periodic loop's)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.rows = 0
            result = self.prune(now)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        counters.prunes += 1
        counters.pruned_rows += self.rows
        return result

    def size_bytes(self) -> int:
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        size = int(pages) * int(page_size)
        if self.path != ":memory:":
            with contextlib.suppress(OSError):  # no WAL file right now (checkpointed)
                size += os.path.getsize(self.path + "-wal")
        return size

    def statistics(self, now: float, counters: _Counters) -> StoreStatistics:
        pending, oldest = self.conn.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'"
        ).fetchone()
        scheduled = self.conn.execute(
            "SELECT COUNT(*) FROM scheduled WHERE state = 'scheduled'"
        ).fetchone()[0]
        event_rows = self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return StoreStatistics(
            path=self.path,
            schema_version=LATEST_VERSION,
            synchronous=self.synchronous,
            batches=counters.batches,
            messages=counters.messages,
            rows_written=counters.rows_written,
            average_batch_size=counters.messages / counters.batches if counters.batches else 0.0,
            largest_batch=counters.largest_batch,
            failed_messages=counters.failed_messages,
            pending_outbox=pending,
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            scheduled=scheduled,
            event_rows=event_rows,
            db_size_bytes=self.size_bytes(),
            prunes=counters.prunes,
            pruned_rows=counters.pruned_rows,
        )


@attrs.define(eq=False)
class _Counters:
    batches: int = 0
    messages: int = 0
    rows_written: int = 0
    largest_batch: int = 0
    failed_messages: int = 0
    prunes: int = 0
    pruned_rows: int = 0


# ---------------------------------------------------------------------------------------------
# The actor


Synchronous = Literal["FULL", "NORMAL"]


def _fspath(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def _check_positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.define(eq=False)
class StoreActor:
    """Owns the SQLite database at ``path``; serves :data:`StoreMsg` in group commits."""

    mailbox: Mailbox[StoreMsg]
    path: str = attrs.field(converter=_fspath)
    """A file path (its directory must exist) or ``":memory:"`` (tests)."""
    clock: Callable[[], float] = time.time
    """Wall clock, UTC epoch seconds: created_at, send_at, received_at, retention."""
    synchronous: Synchronous = attrs.field(
        default="FULL", validator=attrs.validators.in_(("FULL", "NORMAL"))
    )
    """FULL: a reply survives power loss; NORMAL: it survives a process kill (faster)."""
    batch_limit: int = attrs.field(default=256, validator=_check_positive)
    """At most this many messages per transaction."""
    event_retention: float = attrs.field(default=7 * DAY, validator=_check_positive)
    outbox_retention: float = attrs.field(default=7 * DAY, validator=_check_positive)
    """How long finished sends (and their idempotency keys) are kept."""
    prune_interval: float | None = 300.0
    """Seconds between periodic prunes; None turns the loop off (prune with :class:`Prune`)."""
    exclusive: bool = True
    """Lock the database for this process alone (a second server cannot open it)."""
    busy_timeout: float = 2.0
    """Seconds to wait for another process's lock when opening."""
    _db: _Database | None = attrs.field(default=None, init=False, repr=False)
    _limiter: anyio.CapacityLimiter = attrs.field(
        factory=lambda: anyio.CapacityLimiter(1), init=False, repr=False
    )
    _counters: _Counters = attrs.field(factory=_Counters, init=False, repr=False)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open (and migrate) the database, report started, serve until intake closes, close.

        Raises :class:`StoreOpenError` before reporting started if the database cannot be
        opened, so ``await tg.start(actor.run)`` fails with it.
        """
        db = await self.open()
        try:
            async with anyio.create_task_group() as tg:
                if self.prune_interval is not None:
                    tg.start_soon(self._prune_loop, db, self.prune_interval)
                task_status.started()
                await self._serve(db)
                tg.cancel_scope.cancel()
        finally:
            self._db = None
            with anyio.CancelScope(shield=True):
                await self._in_thread(db.close)

    async def open(self) -> _Database:
        """Open and migrate the database now (``run`` does it if nobody did).

        For callers that want :class:`StoreOpenError` before starting the actor in a task
        group (where it would come wrapped in an exception group).
        """
        if self._db is not None:
            return self._db
        with anyio.CancelScope(shield=True):  # an opened connection is always closed
            db: _Database = await self._in_thread(
                _Database.open,
                self.path,
                now=self.clock(),
                synchronous=self.synchronous,
                exclusive=self.exclusive,
                busy_timeout=self.busy_timeout,
                event_retention=self.event_retention,
                outbox_retention=self.outbox_retention,
            )
        self._db = db
        return db

    async def _in_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        def call() -> T:
            return fn(*args, **kwargs)

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def _serve(self, db: _Database) -> None:
        async for first in self.mailbox:
            batch: list[StoreMsg] = [first]
            while len(batch) < self.batch_limit:
                try:
                    batch.append(self.mailbox.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                    break
            await self._commit(db, batch)

    async def _commit(self, db: _Database, batch: list[StoreMsg]) -> None:
        counters = self._counters
        now = self.clock()
        with anyio.CancelScope(shield=True):  # never abandon a transaction or its replies
            try:
                outcomes, written = await self._in_thread(db.run_batch, batch, now, counters)
            except sqlite3.Error as exc:
                error = StoreWriteError(f"the store could not commit {len(batch)} messages: {exc}")
                error.__cause__ = exc
                counters.failed_messages += len(batch)
                for msg in batch:
                    if msg.reply is not None:
                        msg.reply.fail(error)
                return
            except BaseException:
                for msg in batch:
                    if msg.reply is not None:
                        msg.reply.fail(StoreError("the store crashed; the write may be lost"))
                raise
        counters.batches += 1
        counters.messages += len(batch)
        counters.rows_written += written
        counters.largest_batch = max(counters.largest_batch, len(batch))
        for msg, outcome in zip(batch, outcomes, strict=True):
            match outcome:
                case _Ok(value=value):
                    if isinstance(value, PruneResult):
                        counters.prunes += 1
                        counters.pruned_rows += value.events + value.sends + value.scheduled
                    elif isinstance(value, StoreStatistics):  # count the batch it rode in
                        value = self._with_counters(value)
                    if msg.reply is not None:
                        msg.reply.send(value)
                case _Failed(error=failure):
                    counters.failed_messages += 1
                    if msg.reply is not None:
                        msg.reply.fail(failure)

    def _with_counters(self, stats: StoreStatistics) -> StoreStatistics:
        counters = self._counters
        return attrs.evolve(
            stats,
            batches=counters.batches,
            messages=counters.messages,
            rows_written=counters.rows_written,
            average_batch_size=counters.messages / counters.batches if counters.batches else 0.0,
            largest_batch=counters.largest_batch,
            failed_messages=counters.failed_messages,
            prunes=counters.prunes,
            pruned_rows=counters.pruned_rows,
        )

    async def _prune_loop(self, db: _Database, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            try:
                await self._in_thread(db.prune_now, self.clock(), self._counters)
            except sqlite3.Error:
                self._counters.failed_messages += 1  # a busy disk: the next round retries


# ---------------------------------------------------------------------------------------------
# Handle-level helpers


@attrs.frozen
class StoreHandle:
    """Typed calls over ``Handle[StoreMsg]``; every call waits for the durable result.

    ``timeout`` (seconds) bounds each call unless the call passes its own; a call that runs
    out raises :class:`~actors.AskTimeoutError` (the write may still happen: retry with the
    same idempotency key and the outbox returns the row instead of a second one). A closed
    store raises :class:`StoreClosedError`.

    Under trio's autojump ``MockClock`` a wait on the Store's worker thread looks like idle
    time, so virtual time jumps to the deadline: tests on that clock pass ``timeout=math.inf``
    (or run the Store on the real clock, as its own tests do).
    """

    handle: Handle[StoreMsg]
    timeout: float = 30.0

    async def _ask(self, make: Callable[[Reply[T]], StoreMsg], timeout: float | None) -> T:
        try:
            return await self.handle.ask(make, timeout=self.timeout if timeout is None else timeout)
        except ActorGoneError as exc:
            raise StoreClosedError(self.handle.name) from exc

    async def append(
        self,
        agent: str,
        channel_id: int,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Accepted:
        """Accept one send into the outbox (durably) and return its row."""
        send = NewSend(agent, channel_id, payload, idempotency_key)
        (accepted,) = await self.append_many([send], timeout=timeout)
        return accepted

    async def append_many(
        self, sends: Iterable[NewSend], *, timeout: float | None = None
    ) -> tuple[Accepted, ...]:
        """Accept several sends, all or none, in order."""
        batch = tuple(sends)
        return await self._ask(lambda reply: AppendSends(batch, reply=reply), timeout)

    async def mark_delivered(
        self, outbox_id: int, message_id: int, *, timeout: float | None = None
    ) -> OutboxRow:
        return await self._ask(
            lambda reply: MarkDelivered(outbox_id, message_id, reply=reply), timeout
        )

    async def mark_failed(
        self, outbox_id: int, error: str, *, timeout: float | None = None
    ) -> OutboxRow:
        return await self._ask(lambda reply: MarkFailed(outbox_id, error, reply=reply), timeout)

    async def record_attempt(
        self, outbox_id: int, error: str | None = None, *, timeout: float | None = None
    ) -> OutboxRow:
        return await self._ask(lambda reply: RecordAttempt(outbox_id, error, reply=reply), timeout)

    async def cancel(self, outbox_id: int, *, timeout: float | None = None) -> OutboxRow:
        return await self._ask(lambda reply: CancelSend(outbox_id, reply=reply), timeout)

    async def get(self, outbox_id: int, *, timeout: float | None = None) -> OutboxRow | None:
        return await self._ask(lambda reply: GetSend(outbox_id, reply=reply), timeout)

    async def pending(
        self,
        agent: str | None = None,
        channel_id: int | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> tuple[OutboxRow, ...]:
        """Pending sends in acceptance order (the replay at start)."""
        return await self._ask(
            lambda reply: ListPending(agent, channel_id, after_id, limit, reply=reply), timeout
        )

    async def outbox_counts(
        self, agent: str | None = None, *, timeout: float | None = None
    ) -> OutboxCounts:
        return await self._ask(lambda reply: CountOutbox(agent, reply=reply), timeout)

    async def schedule(
        self,
        agent: str,
        channel_id: int,
        payload: Mapping[str, Any],
        send_at: float,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> ScheduleAccepted:
        send = NewSend(agent, channel_id, payload, idempotency_key)
        return await self._ask(lambda reply: AddScheduled(send, send_at, reply=reply), timeout)

    async def scheduled(
        self, agent: str, *, everything: bool = False, timeout: float | None = None
    ) -> tuple[ScheduledRow, ...]:
        return await self._ask(lambda reply: ListScheduled(agent, everything, reply=reply), timeout)

    async def cancel_scheduled(
        self, scheduled_id: int, *, timeout: float | None = None
    ) -> ScheduledRow:
        return await self._ask(lambda reply: CancelScheduled(scheduled_id, reply=reply), timeout)

    async def take_due(
        self, *, limit: int | None = None, timeout: float | None = None
    ) -> tuple[OutboxRow, ...]:
        return await self._ask(lambda reply: TakeDue(limit, reply=reply), timeout)

    async def next_due(self, *, timeout: float | None = None) -> float | None:
        return await self._ask(lambda reply: NextDue(reply=reply), timeout)

    async def append_events(
        self, events: Iterable[NewEvent], *, timeout: float | None = None
    ) -> tuple[int, ...]:
        batch = tuple(events)
        return await self._ask(lambda reply: AppendEvents(batch, reply=reply), timeout)

    async def read_events(
        self,
        agent: str,
        after: int = 0,
        *,
        limit: int = 100,
        types: Iterable[str] | None = None,
        channel_ids: Iterable[int] | None = None,
        timeout: float | None = None,
    ) -> EventPage:
        type_set = None if types is None else frozenset(types)
        channel_set = None if channel_ids is None else frozenset(channel_ids)
        return await self._ask(
            lambda reply: ReadEvents(agent, after, limit, type_set, channel_set, reply=reply),
            timeout,
        )

    async def latest_cursor(self, agent: str, *, timeout: float | None = None) -> int:
        return await self._ask(lambda reply: LatestCursor(agent, reply=reply), timeout)

    async def latest_messages(self, agent: str, *, timeout: float | None = None) -> dict[int, int]:
        """Channel -> the newest message id logged for ``agent`` there (where backfill resumes)."""
        return await self._ask(lambda reply: LatestMessages(agent, reply=reply), timeout)

    async def prune(self, *, timeout: float | None = None) -> PruneResult:
        return await self._ask(lambda reply: Prune(reply=reply), timeout)

    async def statistics(self, *, timeout: float | None = None) -> StoreStatistics:
        return await self._ask(lambda reply: GetStatistics(reply=reply), timeout)

    def close(self) -> None:
        """Stop intake: the store commits what is queued, closes the database and ends."""
        self.handle.close()


@asynccontextmanager
async def open_store(
    path: str | os.PathLike[str],
    *,
    name: str = "store",
    capacity: int = 1024,
    timeout: float = 30.0,
    **options: Any,
) -> AsyncIterator[StoreHandle]:
    """Run a :class:`StoreActor` for the block (tests, benchmarks, tools).

    ``options`` go to :class:`StoreActor`. Raises :class:`StoreOpenError` on entry if the
    database cannot be opened; on exit closes intake and waits for the final commit.
    """
    handle, mailbox = open_mailbox[StoreMsg](name, capacity)
    actor = StoreActor(mailbox, path, **options)
    with mailbox, handle:
        await actor.open()  # StoreOpenError here, not inside the task group's exception group
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            try:
                yield StoreHandle(handle, timeout)
            finally:
                handle.close()


__all__ = [
    "Accepted",
    "AddScheduled",
    "AppendEvents",
    "AppendSends",
    "CancelScheduled",
    "CancelSend",
    "CountOutbox",
    "EventPage",
    "EventRecord",
    "GetSend",
    "GetStatistics",
    "InvalidPayloadError",
    "LatestCursor",
    "LatestMessages",
    "ListPending",
    "ListScheduled",
    "MarkDelivered",
    "MarkFailed",
    "NewEvent",
    "NewSend",
    "NextDue",
    "OutboxCounts",
    "OutboxRow",
    "Prune",
    "PruneResult",
    "ReadEvents",
    "RecordAttempt",
    "ScheduleAccepted",
    "ScheduleState",
    "ScheduledRow",
    "SendState",
    "StoreActor",
    "StoreClosedError",
    "StoreError",
    "StoreHandle",
    "StoreMsg",
    "StoreOpenError",
    "StoreStatistics",
    "StoreWriteError",
    "Synchronous",
    "TakeDue",
    "UnknownRowError",
    "nonce_for",
]
