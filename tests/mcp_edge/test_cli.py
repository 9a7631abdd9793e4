"""The mcp-discord command line: --help, --version, and honest exits."""

from __future__ import annotations

import subprocess
import sys
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
