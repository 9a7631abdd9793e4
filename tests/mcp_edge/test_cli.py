"""The mcp-discord command line: --help, --version, and honest exits."""

from __future__ import annotations

import subprocess
import sys
import time
from importlib.metadata import version


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
