"""serve's start-up failures: one clear line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MCP_DISCORD_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mcp_edge", "serve", "--transport", "http", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        stdin=subprocess.DEVNULL,
    )


def test_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    """A data dir that cannot be made exits 1 naming it, without a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = _serve("--data-dir", str(blocker / "data"))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert str(blocker) in out.stderr
    assert out.stdout == ""


def test_non_loopback_without_keys_refuses_to_start(tmp_path: Path) -> None:
    """Listening beyond loopback with auth off is refused with the key, the problem, the fix."""
    out = _serve("--data-dir", str(tmp_path), "--host", "0.0.0.0", env={"MCP_DISCORD_AUTH": "none"})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "auth" in out.stderr
