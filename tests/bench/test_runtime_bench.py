"""The runtime benchmark runs end to end at tiny sizes; its figures are sane, never timed here."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench import runtime

TINY = runtime.RuntimeConfig(messages=50, round_trips=20, capacity=4, repeats=2)
PROBES = ["stream-send", "tell", "stream-ping-pong", "ask"]
ROUND_TRIP_PROBES = {"stream-ping-pong", "ask"}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_every_probe_yields_positive_finite_figures(backend: str) -> None:
    """Each probe runs on the backend and reports a positive, finite time per operation."""
    result = runtime.measure_backend(backend, TINY)
    assert [m.probe for m in result.measurements] == PROBES
    for m in result.measurements:
        sized_by = TINY.round_trips if m.probe in ROUND_TRIP_PROBES else TINY.messages
        assert m.operations == sized_by
        assert len(m.seconds_per_op) == TINY.repeats
        assert all(0 < s < math.inf for s in m.seconds_per_op)
        assert 0 < m.min_us <= m.median_us <= m.max_us < math.inf
        assert 0 < m.ops_per_second < math.inf
    assert 0 < result.ask_ratio < math.inf
    assert 0 < result.tell_ratio < math.inf
    assert result.passed == (result.ask_ratio <= runtime.ASK_TARGET)


def test_cli_prints_markdown_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench runtime` prints the tables and writes the same figures as JSON."""
    out = tmp_path / "results" / "runtime.json"
    argv = ["runtime", "--messages", "40", "--round-trips", "10", "--capacity", "2"]
    argv += ["--repeats", "1", "--backends", "asyncio,trio", "--json", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr()
    assert "| asyncio | ask |" in printed.out
    assert "| trio | ask |" in printed.out
    assert "ask round trip vs bare ping-pong" in printed.out
    assert "measuring trio" in printed.err
    data = json.loads(out.read_text())
    assert set(data["backends"]) == {"asyncio", "trio"}
    assert data["config"]["round_trips"] == 10
    for figures in data["backends"].values():
        assert set(figures["probes"]) == set(PROBES)
        assert 0 < figures["ask_over_ping_pong"] < math.inf
        assert figures["passed"] == (figures["ask_over_ping_pong"] <= runtime.ASK_TARGET)


def test_missing_uvloop_is_reported_as_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """When uvloop cannot be imported, the run skips it and the report says why."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an import of a missing module sees
    report = runtime.run(runtime.RuntimeConfig(messages=5, round_trips=5, backends=("uvloop",)))
    assert report.results == ()
    assert report.skipped == {"uvloop": "uvloop is not installed"}
    assert "skipped: uvloop is not installed" in runtime.render_markdown(report)


@pytest.mark.parametrize("value", ["asyncio,tokio", "", "0"])
def test_bad_arguments_are_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown backends and non-positive sizes stop argparse with a usage error."""
    option = "--repeats" if value == "0" else "--backends"
    with pytest.raises(SystemExit) as info:
        cli.main(["runtime", option, value])
    assert info.value.code == 2
    assert "python -m bench runtime" in capsys.readouterr().err
