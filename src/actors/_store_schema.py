"""The Store's SQLite schema, as a list of forward migrations, and the nonce scheme.

``schema_version`` holds one row per applied migration. :func:`migrate` applies, in order and
each in its own transaction, every migration newer than the highest recorded version; a
database written by a newer release (a version this code does not know) is refused rather
than guessed at. Migrations only ever move forward: to change a table, add a migration.

Version 1 (the tables; every id is ``AUTOINCREMENT`` so that an id is never reused, even
after the newest rows were deleted or pruned)::

    store_meta      key -> value: the nonce salt (random, written once), the event-prune mark
    outbox          one row per accepted send, in acceptance order (id); payload as JSON text;
                    state pending | delivered | failed | cancelled; unique (agent, idem. key)
    scheduled       sends waiting for their send_at (UTC epoch s); state scheduled | queued
                    (moved into the outbox, outbox_id says where) | cancelled
    events          the per-agent event log; cursor is a global, increasing id

Nonces (Discord's ``nonce`` + ``enforce_nonce``: a string of at most 25 characters, dedup
per author): ``nonce_for(salt, agent, outbox_id)`` is a 10-character tag -- the first 50 bits
of ``blake2b(salt + agent)`` in base32 -- followed by the outbox id in base 36 (at most 13
characters for any 63-bit id), 23 characters at most. It depends only on values stored in
the database, so a replay after a restart sends the same nonce; within one agent the tag is
fixed and the ids are distinct, so nonces are unique per agent. The random salt is per
database: a database deleted and created afresh restarts its ids at 1, and the new salt keeps
those new sends from colliding with nonces Discord still remembers from the old one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import sqlite3
from collections.abc import Sequence

import attrs

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
NONCE_MAX_LENGTH = 25
"""Discord's limit for a message nonce sent as a string."""


@attrs.frozen
class Migration:
    """One forward step of the schema."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="outbox, scheduled sends, event log, store meta",
        statements=(
            """
            CREATE TABLE store_meta (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE outbox (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                agent           TEXT    NOT NULL,
                channel_id      INTEGER NOT NULL,
                payload         TEXT    NOT NULL,
                nonce           TEXT    NOT NULL,
                idempotency_key TEXT,
                state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
                message_id      INTEGER,
                attempts        INTEGER NOT NULL DEFAULT 0,
                last_error      TEXT,
                created_at      REAL    NOT NULL,
                updated_at      REAL    NOT NULL,
                scheduled_id    INTEGER
            )
            """,
            """
            CREATE UNIQUE INDEX outbox_idempotency ON outbox (agent, idempotency_key)
                WHERE idempotency_key IS NOT NULL
            """,
            "CREATE INDEX outbox_pending ON outbox (agent, channel_id, id) WHERE state = 'pending'",
            "CREATE INDEX outbox_finished ON outbox (updated_at) WHERE state != 'pending'",
            """
            CREATE TABLE scheduled (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                agent           TEXT    NOT NULL,
                channel_id      INTEGER NOT NULL,
                payload         TEXT    NOT NULL,
                send_at         REAL    NOT NULL,
                idempotency_key TEXT,
                state           TEXT    NOT NULL DEFAULT 'scheduled'
                    CHECK (state IN ('scheduled', 'queued', 'cancelled')),
                outbox_id       INTEGER,
                created_at      REAL    NOT NULL,
                updated_at      REAL    NOT NULL
            )
            """,
            """
            CREATE UNIQUE INDEX scheduled_idempotency ON scheduled (agent, idempotency_key)
                WHERE idempotency_key IS NOT NULL
            """,
            "CREATE INDEX scheduled_due ON scheduled (send_at, id) WHERE state = 'scheduled'",
            "CREATE INDEX scheduled_agent ON scheduled (agent, send_at, id)",
            """
            CREATE TABLE events (
                cursor      INTEGER PRIMARY KEY AUTOINCREMENT,
                agent       TEXT    NOT NULL,
                type        TEXT    NOT NULL,
                channel_id  INTEGER,
                payload     TEXT    NOT NULL,
                received_at REAL    NOT NULL
            )
            """,
            "CREATE INDEX events_agent ON events (agent, cursor)",
            "CREATE INDEX events_received ON events (received_at)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


class SchemaError(Exception):
    """The database's schema cannot be brought to :data:`LATEST_VERSION`."""


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for a database without a ``schema_version`` table."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(
    conn: sqlite3.Connection,
    now: float,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> tuple[int, ...]:
    """Apply every pending migration, each in one transaction; return the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``): the transactions here are
    explicit. Raises :class:`SchemaError` for a database newer than ``migrations`` know.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    known = max((m.version for m in migrations), default=0)
    version = current_version(conn)
    if version > known:
        raise SchemaError(
            f"the database has schema version {version}, newer than this release knows "
            f"({known}); run a newer mcp-discord or point it at another data path"
        )
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return tuple(applied)


def _base36(n: int) -> str:
    if n < 0:
        raise ValueError(f"an outbox id is positive, not {n}")
    digits = []
    while True:
        n, digit = divmod(n, 36)
        digits.append(_BASE36[digit])
        if n == 0:
            return "".join(reversed(digits))


@functools.lru_cache(maxsize=4096)
def agent_tag(salt: str, agent: str) -> str:
    """The 10-character, per-agent prefix of every nonce (first 50 bits of a blake2b)."""
    digest = hashlib.blake2b(f"{salt}\x00{agent}".encode(), digest_size=8).digest()
    return base64.b32encode(digest).decode("ascii")[:10].lower()


def nonce_for(salt: str, agent: str, outbox_id: int) -> str:
    """The Discord nonce of outbox row ``outbox_id``: agent tag + base-36 id, ≤ 23 chars."""
    nonce = agent_tag(salt, agent) + _base36(outbox_id)
    assert len(nonce) <= NONCE_MAX_LENGTH, nonce  # 10 + 13 for any id below 2**63
    return nonce
