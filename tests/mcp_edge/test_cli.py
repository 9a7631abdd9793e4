"""The mcp-discord command line: --help, --version, config check, keys, and honest exits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from mcp_edge import cli
from mcp_edge.config import load_config
from mcp_edge.keys import KeyRing, hash_key, key_id, load_keys_file

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.iEPR9w.H3fg6pfjyhPmAGXQe9CnV9QRf2w04xXULiln8F"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_edge", *args], capture_output=True, text=True, timeout=60
    )


def test_version_prints_the_distribution_version() -> None:
    """--version prints the installed distribution's version on stdout."""
    out = _cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"mcp-discord {version('mcp-discord')}"


def test_help_lists_the_commands() -> None:
    """--help describes the program and names its commands."""
    out = _cli("--help")
    assert out.returncode == 0
    assert "usage: mcp-discord" in out.stdout
    assert "serve" in out.stdout


def test_unknown_command_fails_with_usage_on_stderr() -> None:
    """A mistyped command exits non-zero and says so on stderr, leaving stdout clean."""
    out = _cli("srve")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "invalid choice" in out.stderr


def test_sandbox_prints_its_banner_and_stops_on_sigterm() -> None:
    """`mcp-discord sandbox --port 0` prints base URL, gateway URL and bot tokens, then serves."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_edge", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("  courier"):
                break
        banner = "\n".join(lines)
        assert "base URL:    http://127.0.0.1:" in banner
        assert banner.split("base URL:    ")[1].split("\n")[0].endswith("/api/v10")
        assert "gateway URL: ws://127.0.0.1:" in banner
        for name in ("scribe", "herald", "sentinel", "courier"):
            assert f"  {name}" in banner
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "listening on" in err  # logs go to stderr


def test_sandbox_rejects_a_bad_seed_file(tmp_path) -> None:
    """A bad seed file exits 2 with the key and the fix on stderr."""
    seed = tmp_path / "seed.yaml"
    seed.write_text("bots: []\n")
    out = _cli("sandbox", "--seed", str(seed))
    assert out.returncode == 2
    assert out.stdout == ""
    assert "seed bots: a sandbox needs at least one bot" in out.stderr


# --- config check and keys ----------------------------------------------------------------------


def _config_file(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "mcp-discord.yaml"
    path.write_text(
        text
        or (
            "transport: http\n"
            "host: 0.0.0.0\n"
            "agents:\n"
            "  - {name: scribe, token_env: H1_SCRIBE_TOKEN}\n"
            "  - {name: herald, token_env: H1_HERALD_TOKEN}\n"
        )
    )
    return path


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_check_prints_the_redacted_config(tmp_path: Path, monkeypatch, capsys) -> None:
    """`config check` prints the effective config as JSON on stdout, the token as ***."""
    monkeypatch.setenv("H1_SCRIBE_TOKEN", TOKEN)
    monkeypatch.setenv("H1_HERALD_TOKEN", TOKEN + "h")
    path = _config_file(tmp_path, "agents:\n  - {name: scribe, token_env: H1_SCRIBE_TOKEN}\n")
    monkeypatch.setenv("MCP_DISCORD_PORT", "9100")
    code, out, err = _main(capsys, "config", "check", "--config", str(path))
    assert code == 0, err
    data = json.loads(out)
    assert data["port"] == 9100
    assert data["agents"][0]["token"] == "***"
    assert "MCP_DISCORD_PORT" in data["source"]
    assert TOKEN not in out + err


def test_config_check_lists_problems_on_stderr(tmp_path: Path, capsys) -> None:
    """A broken config exits 2 with each problem on stderr and nothing on stdout."""
    path = _config_file(tmp_path, "prot: 1\nagents: [{name: a, token: " + TOKEN + "}]\n")
    code, out, err = _main(capsys, "config", "check", "--config", str(path))
    assert code == 2
    assert out == ""
    assert "prot: unknown key — did you mean port?" in err
    assert "agents[0].token:" in err
    assert TOKEN not in err


def test_keys_create_list_rotate_revoke(tmp_path: Path, capsys) -> None:
    """The keys workflow: create prints a key once, rotate expires old ones, revoke removes."""
    path = _config_file(tmp_path)
    code, out, err = _main(
        capsys, "keys", "create", "--agent", "scribe", "--note", "ci", "--config", str(path)
    )
    assert code == 0, err
    first = out.strip()
    assert first.startswith("mcpd_")
    assert "shown only this once" in err
    assert first not in err

    config = load_config(path, check_secrets=False)
    ring = KeyRing.build(config, load_keys_file(config.keys_path))
    assert ring.agent_for(first, now=time.time()) == "scribe"
    # now that a key exists, binding beyond loopback is allowed
    full = load_config(path, {"H1_SCRIBE_TOKEN": TOKEN, "H1_HERALD_TOKEN": TOKEN})
    assert full.host == "0.0.0.0"

    code, out, err = _main(
        capsys, "keys", "rotate", "--agent", "scribe", "--grace", "1h", "--config", str(path)
    )
    assert code == 0, err
    second = out.strip()
    ring = KeyRing.build(config, load_keys_file(config.keys_path))
    now = time.time()
    assert ring.agent_for(first, now=now) == "scribe"  # within the grace period
    assert ring.agent_for(first, now=now + 3601) is None
    assert ring.agent_for(second, now=now + 3601) == "scribe"

    code, out, _ = _main(capsys, "keys", "list", "--config", str(path))
    assert code == 0
    assert first not in out
    assert second not in out
    assert "sha256:" not in out
    rows = out.splitlines()[1:]
    assert len(rows) == 2
    assert all(" scribe " in row for row in rows)
    assert any(row.endswith("ci") and "never" not in row for row in rows)

    first_id = key_id(hash_key(first))
    code, _, err = _main(capsys, "keys", "revoke", "--id", first_id, "--config", str(path))
    assert code == 0, err
    ring = KeyRing.build(config, load_keys_file(config.keys_path))
    assert ring.agent_for(first, now=now) is None
    assert ring.agent_for(second, now=now) == "scribe"

    code, _, err = _main(
        capsys, "keys", "revoke", "--agent", "scribe", "--all", "--config", str(path)
    )
    assert code == 0, err
    assert load_keys_file(config.keys_path) == []


def test_keys_refuse_unknown_agents_and_ids(tmp_path: Path, capsys) -> None:
    """An unknown agent or key id exits 2 with the fix on stderr."""
    path = _config_file(tmp_path)
    code, out, err = _main(capsys, "keys", "create", "--agent", "nobody", "--config", str(path))
    assert code == 2
    assert out == ""
    assert "no agent named 'nobody'" in err
    assert "scribe, herald" in err
    code, out, err = _main(capsys, "keys", "revoke", "--id", "deadbeef", "--config", str(path))
    assert code == 2
    assert "keys list" in err
    code, _, err = _main(
        capsys, "keys", "rotate", "--agent", "scribe", "--grace", "soon", "--config", str(path)
    )
    assert code == 2
    assert "--grace" in err


def test_serve_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    """`serve` with an unusable config prints the problems on stderr and exits 2."""
    path = _config_file(tmp_path, "port: 99999\n")
    out = _cli("serve", "--config", str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert "port: 99999 is out of range" in out.stderr


def test_duration_parsing() -> None:
    """--grace accepts seconds, minutes, hours and days."""
    assert [cli.parse_duration(t) for t in ("90s", "30m", "24h", "7d", "0", "1.5h")] == [
        90,
        1800,
        86400,
        604800,
        0,
        5400,
    ]
    with pytest.raises(ValueError, match="24h"):
        cli.parse_duration("tomorrow")
