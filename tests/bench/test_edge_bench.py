"""The edge latency benchmark runs end to end at a tiny size; figures are sane, never timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import __main__ as cli


def test_edge_bench_prints_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench edge --calls 3` reports every tool in both eras and writes the JSON."""
    out = tmp_path / "edge.json"
    assert cli.main(["edge", "--calls", "3", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| 2026-07-28 | send_message | 3 |" in table
    assert "| 2025-11-25 | list_channels | 3 |" in table
    results = json.loads(out.read_text())["results"]
    for era in ("auto", "legacy"):
        for figures in results[era].values():
            assert figures["n"] == 3
            assert 0 < figures["p50_ms"] <= figures["max_ms"]
