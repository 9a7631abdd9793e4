"""The sandbox scale benchmark runs end to end at tiny sizes; its figures are sane, never timed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import __main__ as cli
from bench import sandbox
from discord_io.sandbox import Seed, make_token

TINY = sandbox.SandboxBenchConfig(
    bots=3, guilds=1, channels=4, seconds=1.0, warmup=0.2, concurrency=3
)


def test_the_seed_spreads_bots_over_guilds_and_checks() -> None:
    """The generated seed is a valid sandbox seed; each bot knows its token and guild channels."""
    config = sandbox.SandboxBenchConfig(bots=7, guilds=3, channels=2)
    data, bots = sandbox.build_seed(config)
    state = Seed.from_mapping(data).build()
    assert len(bots) == 7 == len(state.bots)
    assert len(state.guilds) == 3
    for bot in bots:
        assert bot.token == make_token(bot.id, bot.name)
        assert state.bot_for_token(bot.token) is not None
        assert len(bot.channel_ids) == 2
        guild_ids = {state.channels[cid].guild_id for cid in bot.channel_ids}
        assert len(guild_ids) == 1
        assert bot.id in state.guilds[guild_ids.pop()].members  # type: ignore[index]
    sizes = sorted(len(g.members) - 1 for g in state.guilds.values())  # minus the owner
    assert sizes == [2, 2, 3]


def test_a_tiny_run_connects_every_bot_and_counts_requests() -> None:
    """A real sandbox process, three bots on the gateway, REST load: every figure is sane."""
    report = sandbox.run(TINY)
    assert report.bots_ready == report.bots_connected == 3
    assert report.gateway_closes == {}
    assert report.exceptions == {}
    assert report.requests > 0
    assert report.requests == sum(report.statuses.values())
    # three bots share 150 requests/s under Discord's global limit: 429s are expected here
    assert set(report.statuses) <= {200, 429}
    assert report.errors == report.statuses.get(429, 0)
    assert set(report.kinds) == {"create", "get_channel", "list_messages"}
    assert sum(k.requests for k in report.kinds.values()) == report.requests
    assert 0 < report.elapsed < math.inf
    assert 0 < report.sandbox_cpu < math.inf
    assert 0 < report.per_core < math.inf
    assert 0 < report.p50_ms <= report.p99_ms < math.inf
    assert report.passed == (report.per_core >= sandbox.TARGET_PER_CORE and report.errors == 0)
    text = sandbox.render_markdown(report)
    assert "| **requests/s per sandbox core** |" in text
    assert "3 / 3 of 3" in text


def test_cli_prints_markdown_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench sandbox` prints the table and writes the same figures as JSON.

    With --uvloop and --profile the sandbox runs wrapped; the stats file appears on exit.
    """
    out = tmp_path / "results" / "sandbox.json"
    stats = tmp_path / "sandbox.prof"
    argv = ["sandbox", "--bots", "2", "--guilds", "1", "--channels", "2", "--seconds", "0.5"]
    argv += ["--warmup", "0", "--concurrency", "2", "--json", str(out)]
    argv += ["--uvloop", "--profile", str(stats)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr()
    assert "## sandbox: one sandbox process" in printed.out
    assert "event loop uvloop (--uvloop)" in printed.out
    assert stats.stat().st_size > 0
    assert "connecting 2 bots" in printed.err
    data = json.loads(out.read_text())
    assert data["scenario"] == "sandbox"
    assert data["config"]["bots"] == 2
    assert data["config"]["uvloop"] is True
    assert data["config"]["profile"] == str(stats)
    assert data["bots_ready"] == data["bots_connected"] == 2
    assert data["requests"] == sum(data["statuses"].values()) > 0
    assert data["requests_per_sandbox_core"] > 0
    assert data["passed"] is False or data["errors"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bots", "0"], "must be at least 1"),
        (["--seconds", "0"], "must be more than 0"),
    ],
)
def test_bad_arguments_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Non-positive sizes stop argparse with a usage error naming the rule."""
    with pytest.raises(SystemExit) as info:
        cli.main(["sandbox", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_more_guilds_than_bots_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Every guild needs a bot: --guilds beyond --bots exits 2 before starting anything."""
    assert cli.main(["sandbox", "--bots", "2", "--guilds", "3"]) == 2
    assert "--guilds may not exceed --bots" in capsys.readouterr().err
