"""API keys: how an HTTP client proves which agent it is, stored only as hashes.

A key is ``mcpd_`` + 256 random bits (``secrets.token_urlsafe(32)``). The prefix makes a
leaked key recognisable to secret scanners and to :func:`mcp_edge.logs.redact`. The server
never stores a key, only ``sha256:<hex digest>``: a fast hash is enough because the key is
already a uniformly random 256-bit secret, so there is nothing to brute-force — slow KDFs
(bcrypt, argon2) exist to protect low-entropy passwords, and here they would only add
milliseconds to every request. A key's public *id* is the first 8 hex digits of its digest:
enough to name it in ``keys list`` and ``keys revoke`` without revealing anything.

Hashes live in two places, merged by :meth:`KeyRing.build`:

- the config file, ``agents[].api_keys`` — for keys managed with the rest of the deployment;
- the keys file (``keys_file``, default ``data_dir/api-keys.json``), written by
  ``mcp-discord keys create|rotate|revoke``, which may also carry an expiry and a note::

      {"version": 1, "keys": [{"agent": "scribe", "hash": "sha256:...", "created_at": 1.7e9,
                               "expires_at": null, "note": "ci"}]}

Rotation creates a new key and gives the agent's older keys an expiry (``--grace``), so both
work while clients move over. Expiry is wall-clock time (``time.time()``): a key's validity is
a date, not a duration measured by the event loop.

The server re-reads the keys file when it changes: :class:`KeyFileWatcher` stats it at most once
per ``interval`` seconds of its clock, so per-request cost is a clock read. A file that turns bad
keeps the last good ring (and says so once in the log) rather than locking every client out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from mcp_edge.config import HASH_FORMAT, ConfigError

if TYPE_CHECKING:
    from mcp_edge.config import Config

KEY_PREFIX = "mcpd_"
KEYS_FILE_VERSION = 1

logger = logging.getLogger(__name__)


def generate_key() -> str:
    """A new API key: ``mcpd_`` + 256 random bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """``sha256:<hex>`` of the key: what is stored (a 256-bit random key needs no slow KDF)."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def key_id(hashed: str) -> str:
    """A key's short public id: the first 8 hex digits of its digest."""
    return hashed.partition(":")[2][:8]


@attrs.frozen
class KeyRecord:
    """One stored key: its agent, its hash, and when it stops working (wall-clock seconds)."""

    agent: str
    hash: str
    created_at: float
    expires_at: float | None = None
    note: str = ""

    @property
    def id(self) -> str:
        """The public id (see :func:`key_id`)."""
        return key_id(self.hash)

    def live(self, now: float) -> bool:
        """Whether the key is accepted at wall-clock time ``now``."""
        return self.expires_at is None or now < self.expires_at


@attrs.frozen
class KeyRing:
    """Lookup from key hash to record; only agents in the config are admitted."""

    by_hash: dict[str, KeyRecord] = attrs.field(factory=dict, repr=False)

    @classmethod
    def build(cls, config: Config, records: Iterable[KeyRecord]) -> KeyRing:
        """The config file's hashes (never expire) plus the keys file's records."""
        agents = {a.name for a in config.agents}
        by_hash: dict[str, KeyRecord] = {}
        for record in records:
            if record.agent in agents:
                by_hash[record.hash] = record
        for agent in config.agents:
            for hashed in agent.api_key_hashes:
                by_hash[hashed] = KeyRecord(agent.name, hashed, 0.0, note="config file")
        return cls(by_hash)

    def agent_for(self, key: str, now: float) -> str | None:
        """The agent a presented key belongs to; None if unknown, revoked or expired."""
        if not key.startswith(KEY_PREFIX):
            return None
        record = self.by_hash.get(hash_key(key))
        if record is None or not record.live(now):
            return None
        return record.agent

    def keys_for(self, agent: str) -> list[KeyRecord]:
        """The agent's records (live or not), oldest first."""
        return sorted(
            (r for r in self.by_hash.values() if r.agent == agent), key=lambda r: r.created_at
        )

    def __len__(self) -> int:
        return len(self.by_hash)


def _record(item: object, where: str) -> KeyRecord:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object")
    agent, hashed = item.get("agent"), item.get("hash")
    created, expires, note = item.get("created_at"), item.get("expires_at"), item.get("note", "")
    if not isinstance(agent, str) or not agent:
        raise ValueError(f"{where}.agent: expected the agent's name")
    if not isinstance(hashed, str) or not HASH_FORMAT.fullmatch(hashed):
        raise ValueError(f"{where}.hash: expected sha256:<64 hex digits>")
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise ValueError(f"{where}.created_at: expected seconds since the epoch")
    if expires is not None and (not isinstance(expires, int | float) or isinstance(expires, bool)):
        raise ValueError(f"{where}.expires_at: expected seconds since the epoch or null")
    if not isinstance(note, str):
        raise ValueError(f"{where}.note: expected text")
    return KeyRecord(
        agent, hashed, float(created), None if expires is None else float(expires), note
    )


def load_keys_file(path: Path) -> list[KeyRecord]:
    """The records in a keys file; a missing file has none; a bad one raises ConfigError."""
    key = f"keys file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(
            key,
            f"cannot be read ({type(exc).__name__})",
            "check its permissions (it should be 0600, owned by this user)",
        ) from None
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError('expected {"version": 1, "keys": [...]}')
        if data.get("version") != KEYS_FILE_VERSION:
            raise ValueError(f"version {data.get('version')!r} is not {KEYS_FILE_VERSION}")
        return [_record(item, f"keys[{i}]") for i, item in enumerate(data["keys"])]
    except ValueError as exc:
        raise ConfigError.one(
            key,
            f"is not a valid keys file: {exc}",
            "restore it from a backup, or delete it and create keys again "
            "with `mcp-discord keys create`",
        ) from None


def save_keys_file(path: Path, records: Sequence[KeyRecord]) -> None:
    """Write the keys file atomically (temporary file + rename), readable only by this user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = {
        "version": KEYS_FILE_VERSION,
        "keys": [attrs.asdict(r) for r in records],
    }
    fd, tmp = tempfile.mkstemp(prefix=".api-keys.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@attrs.define
class KeyFileWatcher:
    """The current :class:`KeyRing`, re-read when the keys file changes.

    :meth:`ring` is cheap enough to call per request: it stats the file at most once per
    ``interval`` seconds of ``clock`` (``anyio.current_time`` in the server, a fake in tests),
    and rebuilds the ring only when the file's mtime, size or inode changed.
    """

    config: Config
    clock: Callable[[], float]
    interval: float = 1.0
    _ring: KeyRing | None = attrs.field(default=None, init=False)
    _stamp: tuple[int, int, int] | None = attrs.field(default=None, init=False)
    _checked_at: float | None = attrs.field(default=None, init=False)
    _bad_stamp: tuple[int, int, int] | None = attrs.field(default=None, init=False)

    @property
    def path(self) -> Path:
        """The keys file watched."""
        return self.config.keys_path

    def ring(self) -> KeyRing:
        """The current key ring (re-read if the file changed since the last look)."""
        now = self.clock()
        if (
            self._ring is not None
            and self._checked_at is not None
            and now - self._checked_at < self.interval
        ):
            return self._ring
        self._checked_at = now
        stamp = self._stat()
        if self._ring is None or stamp != self._stamp:
            self._reload(stamp)
        assert self._ring is not None
        return self._ring

    def agent_for(self, key: str, now: float) -> str | None:
        """Shorthand for ``ring().agent_for(key, now)`` (``now``: wall-clock seconds)."""
        return self.ring().agent_for(key, now)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        try:
            records = load_keys_file(self.path)
        except ConfigError as exc:
            if self._ring is None:
                self._ring = KeyRing.build(self.config, [])
            if stamp != self._bad_stamp:
                logger.error("%s; keeping the keys loaded before", exc)
                self._bad_stamp = stamp
            self._stamp = stamp
            return
        self._ring = KeyRing.build(self.config, records)
        self._stamp = stamp
        self._bad_stamp = None
