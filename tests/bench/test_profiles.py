"""The send path's profiles in ``bench/profiles`` run and report (tiny sizes, no timing)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROFILES = [
    (
        "actor_cost",
        ["--sends", "100", "--agents", "2", "--channels", "2", "--repeat", "1"],
        "sync sends",
    ),
    ("rest_cost", ["--calls", "10", "--rounds", "1", "--top", "0"], "CPU/call"),
    (
        "sandbox_cost",
        ["--bots", "2", "--guilds", "1", "--channels", "2", "--rate", "20", "--seconds", "1"],
        "ms per message",
    ),
    ("event_cost", [], "per event"),
]


@pytest.mark.parametrize(("module", "args", "says"), PROFILES, ids=[p[0] for p in PROFILES])
def test_profile_runs(module: str, args: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.profiles.{module}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert says in done.stdout, done.stdout[-3000:]
