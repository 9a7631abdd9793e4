"""The pacing benchmark runs end to end at tiny sizes: 0 429s and every message once.

Zero 429s is a correctness property of the header-driven pacing (a client that follows the
sandbox's headers never gets one), so it is asserted; timings never are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench import pacing
from discord_io.sandbox import Seed, make_token

TINY = pacing.PacingBenchConfig(messages=17, channels=4, per_channel=7, limit=5, window=0.2)


def test_the_seed_has_one_bot_and_the_channels() -> None:
    """The generated seed is valid; the token and channel ids are the sandbox's."""
    data, token, channel_ids = pacing.build_seed(3)
    state = Seed.from_mapping(data).build()
    (bot,) = state.bots.values()
    assert token == make_token(bot.id, "pacer")
    assert set(channel_ids) <= set(state.channels)


def test_a_tiny_run_delivers_everything_once_without_429s() -> None:
    """Both scenarios against a real sandbox process: all delivered once, 0 429s anywhere."""
    report = pacing.run(TINY)
    single, fanout = report.scenarios
    assert (single.name, single.channels, single.messages) == ("single", 1, 17)
    assert (fanout.name, fanout.channels, fanout.messages) == ("fanout", 4, 28)
    for scenario in report.scenarios:
        assert scenario.delivered == scenario.messages
        assert scenario.duplicates == 0
        assert scenario.total_429s == 0, scenario.rate_limited
        assert scenario.statuses == {200: scenario.messages}
        assert scenario.egress_counted == 0
        assert scenario.span > 0
    assert single.steady_rate > 0
    assert report.utilization() is not None


def test_cli_prints_markdown_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench pacing --only single` prints the table and writes the JSON."""
    out = tmp_path / "pacing.json"
    argv = ["pacing", "--only", "single", "--messages", "8", "--limit", "5/0.2"]
    assert cli.main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| single (1 channel) | 8 | 8 | 0 / 0 / 0 |" in text
    assert "scaled down in time" in text
    data = json.loads(out.read_text())
    assert data["scenario"] == "pacing"
    assert [s["name"] for s in data["scenarios"]] == ["single"]
    assert data["scenarios"][0]["total_429s"] == 0
