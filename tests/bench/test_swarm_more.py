"""swarm-chat, bulk and idle run end to end at tiny sizes and write their files; untimed."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bench._load import CallRecord, LoadConfig, LoadResult

from bench import bulk, idle, swarm_chat


def _finite_positive(value: object) -> bool:
    return isinstance(value, int | float) and 0 < value < math.inf


def _run(module: ModuleType, out: Path, *extra: str) -> dict[str, Any]:
    """``module``'s ``main`` with ``--quick --out out``; the results it wrote."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    assert module.main(parser.parse_args(["--quick", "--out", str(out), *extra])) == 0
    for name in ("results.json", "summary.md", "latency.png", "throughput.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "throughput.png").read_bytes().startswith(b"\x89PNG")
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def test_swarm_chat_every_message_reaches_every_other_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm-chat --quick`: 3 agents in one guild see each other's messages, none missed."""
    data = _run(swarm_chat, tmp_path / "chat")
    assert "## swarm-chat" in capsys.readouterr().out
    figures = data["runs"]["http"]
    assert figures["errors"] == 0
    assert figures["lost"] == figures["duplicated"] == 0
    assert figures["observations_missed"] == 0
    assert figures["observations_duplicated"] == 0
    assert figures["observations_expected"] == 2 * figures["ok"]  # each seen by 2 others
    for key in ("delivered_per_s", "p99_ms", "to_all_p50_ms", "server_cpu_s_per_1000_msgs"):
        assert _finite_positive(figures[key]), key
    assert figures["to_all_p50_ms"] <= figures["to_all_p99_ms"] <= figures["to_all_max_ms"]
    assert set(data["windows"]) == {"http send_message", "http delivery to all"}


def test_delivery_to_all_waits_for_the_last_other_agent() -> None:
    """A message's delivery-to-all time is its last other watcher's; the sender is not one."""
    config = LoadConfig(transport="http", base_url="", keys=["a", "b", "c"], seconds=1.0)
    records = [CallRecord(0, 0, 0.0, 0.01, None), CallRecord(1, 0, 0.5, 0.01, None)]
    result = LoadResult(config, records, window=(100.0, 101.0), finished=100.6)
    watchers = [swarm_chat.Watcher(s) for s in range(3)]
    watchers[1].seen["chat 0 0"] = 100.02
    watchers[2].seen["chat 0 0"] = 100.05
    watchers[2].times.update(["chat 0 0", "chat 0 0"])
    watchers[0].seen["chat 1 0"] = 100.6  # "chat 1 0" never reaches agent 2
    to_all, figures = swarm_chat.delivery_to_all(result, watchers)
    assert to_all[0].latency == pytest.approx(0.05)
    assert to_all[1].error == "missed"
    assert figures["observations_expected"] == 4
    assert figures["observations_missed"] == 1
    assert figures["observations_duplicated"] == 1
    assert figures["to_all_max_ms"] == pytest.approx(50.0)
    assert figures["after_ack_p50_ms"] == pytest.approx(40.0)  # the send took 10 ms of it


def test_bulk_delivers_every_item_of_every_call(tmp_path: Path) -> None:
    """`bulk --quick`: send_messages over 3 agents' channels; every item delivered once."""
    data = _run(bulk, tmp_path / "bulk")
    figures = data["runs"]["http"]
    assert figures["errors"] == 0
    assert figures["lost"] == figures["duplicated"] == 0
    assert figures["items_per_call"] == 2
    assert figures["http_429s"] >= 0
    for key in ("delivered_per_s", "p99_ms", "server_cpu_s_per_1000_msgs", "cpu_x_floor"):
        assert _finite_positive(figures[key]), key
    assert _finite_positive(data["runs"]["floor http"]["server_cpu_ms_per_call"])


def test_bulk_plan_spreads_items_over_the_agents_channels() -> None:
    """Call n's items go round the channels in turn, each with its own tag."""
    plan = bulk.bulk_plan((11, 12, 13), batch=2)
    tool, arguments = plan(4, 1)
    assert tool == "send_messages"
    assert [m["channel_id"] for m in arguments["messages"]] == ["13", "11"]
    assert [m["content"] for m in arguments["messages"]] == bulk.item_tags(4, 1, 2)


def test_idle_measures_rss_per_ready_agent(tmp_path: Path) -> None:
    """`idle --quick`: a baseline server, then 4 READY agents and their idle sessions."""
    data = _run(idle, tmp_path / "idle")
    figures = data["runs"]["http"]
    assert figures["agents"] == 4
    assert figures["sessions"] == 4
    for key in ("server_rss_baseline_mb", "server_rss_agents_mb", "sandbox_rss_agents_mb"):
        assert _finite_positive(figures[key]), key
    assert math.isfinite(figures["rss_kb_per_agent"])
    assert math.isfinite(figures["rss_kb_per_session"])
    assert "| http |" in (tmp_path / "idle" / "summary.md").read_text()
