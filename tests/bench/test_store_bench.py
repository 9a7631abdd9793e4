"""The store benchmark runs end to end at tiny sizes; its figures are sane, never timed here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench import store

TINY = store.StoreBenchConfig(appends=60, writers=6, repeats=1)


def test_batched_runs_use_fewer_transactions_than_unbatched() -> None:
    """Every configuration writes every row; unbatched is one transaction per append."""
    runs = store.run(TINY)
    assert [(r.synchronous, r.batched) for r in runs] == [
        ("FULL", True),
        ("FULL", False),
        ("NORMAL", True),
        ("NORMAL", False),
    ]
    for r in runs:
        assert 0 < r.appends_per_second < math.inf
        assert 0 <= r.p50_ms <= r.p99_ms
        if r.batched:
            assert r.batches < TINY.appends
        else:
            assert r.batches == TINY.appends


def test_cli_prints_markdown_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench store` prints the table and writes the same runs as JSON."""
    out = tmp_path / "store.json"
    argv = ["store", "--appends", "30", "--writers", "3", "--repeats", "1", "--syncs", "normal"]
    assert cli.main([*argv, "--backend", "trio", "--json", str(out)]) == 0
    printed = capsys.readouterr()
    assert "| NORMAL | batched |" in printed.out
    assert "group commit is" in printed.out
    data = json.loads(out.read_text())
    assert [run["batched"] for run in data["runs"]] == [True, False]
