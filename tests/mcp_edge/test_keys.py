"""API keys: generation, hashing, expiry, the keys file, and re-reading it when it changes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mcp_edge.config import Config, ConfigError, config_from_data
from mcp_edge.keys import (
    KEY_PREFIX,
    KeyFileWatcher,
    KeyRecord,
    KeyRing,
    generate_key,
    hash_key,
    key_id,
    load_keys_file,
    save_keys_file,
)


def _config(tmp_path: Path, **agent_extra: object) -> Config:
    return config_from_data(
        {
            "data_dir": str(tmp_path),
            "agents": [{"name": "scribe", **agent_extra}, {"name": "herald"}],
        },
        environ={},
    )


def test_generated_keys_are_prefixed_random_and_distinct() -> None:
    """A key is mcpd_ + 43 URL-safe characters (256 bits); two keys differ."""
    a, b = generate_key(), generate_key()
    assert a.startswith(KEY_PREFIX)
    assert len(a) == len(KEY_PREFIX) + 43
    assert a != b


def test_hash_and_id() -> None:
    """The hash is sha256:<64 hex>; the id is its first 8 hex digits."""
    hashed = hash_key("mcpd_x")
    assert hashed.startswith("sha256:")
    assert len(hashed) == 7 + 64
    assert key_id(hashed) == hashed[7:15]


def test_ring_maps_keys_to_agents_with_expiry(tmp_path: Path) -> None:
    """A live key maps to its agent; an expired or unknown key, or a stranger's, maps to None."""
    config = _config(tmp_path)
    live, old, stranger = generate_key(), generate_key(), generate_key()
    ring = KeyRing.build(
        config,
        [
            KeyRecord("scribe", hash_key(live), 100.0),
            KeyRecord("herald", hash_key(old), 100.0, expires_at=200.0),
            KeyRecord("ghost", hash_key(stranger), 100.0),
        ],
    )
    assert ring.agent_for(live, now=150.0) == "scribe"
    assert ring.agent_for(old, now=199.9) == "herald"
    assert ring.agent_for(old, now=200.0) is None
    assert ring.agent_for(stranger, now=150.0) is None
    assert ring.agent_for(generate_key(), now=150.0) is None
    assert ring.agent_for("not-a-key", now=150.0) is None
    assert [r.hash for r in ring.keys_for("scribe")] == [hash_key(live)]


def test_ring_includes_config_file_hashes(tmp_path: Path) -> None:
    """Hashes in the config file's api_keys work and never expire."""
    key = generate_key()
    config = _config(tmp_path, api_keys=[hash_key(key)])
    ring = KeyRing.build(config, [])
    assert ring.agent_for(key, now=1e12) == "scribe"


def test_keys_file_round_trip_is_private(tmp_path: Path) -> None:
    """save then load gives the same records; the file is mode 0600; no temp file remains."""
    path = tmp_path / "sub" / "api-keys.json"
    records = [
        KeyRecord("scribe", hash_key("mcpd_a"), 1.5, None, "ci"),
        KeyRecord("herald", hash_key("mcpd_b"), 2.0, 3.0),
    ]
    save_keys_file(path, records)
    assert load_keys_file(path) == records
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["api-keys.json"]


def test_missing_keys_file_is_empty(tmp_path: Path) -> None:
    """No keys file yet means no keys, not an error."""
    assert load_keys_file(tmp_path / "none.json") == []


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "keys": []}',
        '{"version": 1, "keys": [{"agent": "a", "hash": "md5:1", "created_at": 1}]}',
        '{"version": 1, "keys": [{"agent": "a", "hash": "sha256:' + "0" * 64 + '"}]}',
    ],
)
def test_bad_keys_file_names_the_file(tmp_path: Path, text: str) -> None:
    """A damaged keys file is a ConfigError naming the file and how to recover."""
    path = tmp_path / "api-keys.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_keys_file(path)
    assert str(path) in str(exc.value)
    assert "keys create" in str(exc.value)


def test_watcher_rereads_the_file_when_it_changes(tmp_path: Path) -> None:
    """The watcher stats at most once per interval and picks up a new key after that."""
    config = _config(tmp_path)
    now = [0.0]
    watcher = KeyFileWatcher(config, clock=lambda: now[0])
    first, second = generate_key(), generate_key()
    save_keys_file(watcher.path, [KeyRecord("scribe", hash_key(first), 1.0)])
    assert watcher.agent_for(first, now=10.0) == "scribe"
    save_keys_file(
        watcher.path,
        [KeyRecord("scribe", hash_key(first), 1.0), KeyRecord("herald", hash_key(second), 2.0)],
    )
    now[0] = 0.5
    assert watcher.agent_for(second, now=10.0) is None  # within the interval: not re-checked
    now[0] = 1.5
    assert watcher.agent_for(second, now=10.0) == "herald"


def test_watcher_keeps_the_last_good_ring_when_the_file_breaks(tmp_path: Path) -> None:
    """A keys file that turns bad does not lock clients out: the last good keys stay."""
    config = _config(tmp_path)
    now = [0.0]
    watcher = KeyFileWatcher(config, clock=lambda: now[0])
    key = generate_key()
    save_keys_file(watcher.path, [KeyRecord("scribe", hash_key(key), 1.0)])
    assert watcher.agent_for(key, now=10.0) == "scribe"
    watcher.path.write_text("{broken")
    now[0] = 5.0
    assert watcher.agent_for(key, now=10.0) == "scribe"
