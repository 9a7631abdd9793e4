"""The swarm scenarios run end to end at tiny sizes and write their files; figures sane, untimed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench._load import CallRecord
from bench._world import PRIVILEGED, build_seed

from bench import __main__ as cli
from bench import _results
from discord_io.sandbox import Seed
from discord_io.sandbox._access import permission_value, permissions_for

pytestmark = pytest.mark.filterwarnings(
    # The SDK's streamable HTTP client leaves each response's SSE iterator (httpx2) unexhausted
    # once it has the result; on trio, the garbage-collected generators warn. Not the bench's.
    "ignore:Exception ignored in. <async_generator:pytest.PytestUnraisableExceptionWarning"
)


def _finite_positive(value: object) -> bool:
    return isinstance(value, int | float) and 0 < value < math.inf


def _outputs(out: Path) -> dict[str, object]:
    for name in ("results.json", "summary.md", "latency.png", "throughput.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "latency.png").read_bytes().startswith(b"\x89PNG")
    data: dict[str, object] = json.loads((out / "results.json").read_text())
    return data


def test_per_bot_seed_gives_each_bot_its_own_channels() -> None:
    """With per_bot every bot owns its channels, in its guild, seen by no other bot."""
    data, bots = build_seed(5, 2, 3, per_bot=True, privileged=PRIVILEGED)
    state = Seed.from_mapping(data).build()
    assert len(bots) == 5 == len(state.bots)
    owned = [cid for bot in bots for cid in bot.channel_ids]
    assert len(owned) == len(set(owned)) == 15
    view = permission_value(["view_channel"])
    for bot in bots:
        assert state.bot_for_token(bot.token) is not None
        guilds = {state.channels[cid].guild_id for cid in bot.channel_ids}
        assert len(guilds) == 1
        guild = state.guilds[guilds.pop()]  # type: ignore[index]
        assert bot.id in guild.members
        for other in bots:  # a message reaches its sender's gateway only
            if other.id not in guild.members:
                continue
            for cid in bot.channel_ids:
                member = guild.members[other.id]
                sees = permissions_for(guild, member, state.channels[cid], None) & view
                assert bool(sees) == (other is bot), (other.name, cid)


def test_windows_and_percentiles_of_records() -> None:
    """Per-second windows count starts, answers and errors; percentiles are nearest-rank."""
    records = [CallRecord(0, n, n * 0.1, 0.01 * (n + 1), None) for n in range(20)]
    records.append(CallRecord(0, 20, 1.5, 0.5, "timeout"))
    rows = _results.windows(records, seconds=2.0)
    assert [row["started"] for row in rows] == [10, 11]
    assert [row["errors"] for row in rows] == [0, 1]
    assert sum(row["ok_per_s"] for row in rows) == 19  # the last answers after the window
    figures = _results.latency_ms(records)
    assert figures["p50_ms"] == pytest.approx(110.0)
    assert figures["max_ms"] == pytest.approx(200.0)


@pytest.mark.parametrize("transport", ["http", "ws-raw"])
def test_floor_runs_and_writes_its_files(
    tmp_path: Path, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench floor --quick` drives echo and writes JSON, Markdown and both plots."""
    out = tmp_path / "floor"
    assert cli.main(["floor", "--quick", "--transport", transport, "--out", str(out)]) == 0
    assert "## floor" in capsys.readouterr().out
    data = _outputs(out)
    figures = data["runs"][transport]  # type: ignore[index]
    assert figures["errors"] == 0
    for key in ("ok", "p50_ms", "p99_ms", "server_cpu_ms_per_call", "server_peak_rss_mb"):
        assert _finite_positive(figures[key]), key
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_latency_runs_every_transport_against_the_real_server(tmp_path: Path) -> None:
    """`python -m bench latency --quick`: send_message over all four transports, floor beside."""
    out = tmp_path / "latency"
    assert cli.main(["latency", "--quick", "--out", str(out)]) == 0
    data = _outputs(out)
    runs = data["runs"]
    transports = ("http", "http-legacy", "sse", "ws")
    assert set(runs) == {*transports, *(f"floor {t}" for t in transports)}  # type: ignore[arg-type]
    for transport in transports:
        figures = runs[transport]  # type: ignore[index]
        assert figures["errors"] == 0, transport
        for key in ("ok", "p50_ms", "server_cpu_ms_per_call", "cpu_x_floor", "p50_x_floor"):
            assert _finite_positive(figures[key]), (transport, key)
    assert "| http |" in (out / "summary.md").read_text()


def test_swarm_send_delivers_every_acknowledged_message(tmp_path: Path) -> None:
    """`python -m bench swarm-send --quick`: 3 agents, rate limits on; 0 lost, 0 duplicated."""
    out = tmp_path / "swarm"
    assert cli.main(["swarm-send", "--quick", "--out", str(out)]) == 0
    data = _outputs(out)
    figures = data["runs"]["http"]  # type: ignore[index]
    assert figures["errors"] == 0
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["http_429s"] >= 0
    for key in ("delivered_per_s", "p99_ms", "server_cpu_s_per_1000_msgs", "pacing_utilization"):
        assert _finite_positive(figures[key]), key
    assert _finite_positive(data["runs"]["floor http"]["server_cpu_ms_per_call"])  # type: ignore[index]


def test_targets_say_pass_fail_and_na() -> None:
    """Every swarm-send target gets a line; a missed one says FAIL with the figure."""
    from bench.swarm_send import TARGETS, targets

    figures = {
        "delivered_per_s": 1200.0,
        "p99_ms": 150.0,
        "lost": 0,
        "duplicated": 0,
        "http_429s": 0,
        "cpu_x_floor": math.nan,
        "pacing_utilization": 0.97,
    }
    lines = targets("ws", figures)
    assert len(lines) == len(TARGETS)
    assert "messages/s delivered >= 1000: PASS (1.2e+03)" in lines[0]
    assert lines[1].endswith("p99 ms < 100: FAIL (150)")
    assert lines[5].endswith(": n/a")
    assert sum("FAIL" in line for line in lines) == 1
