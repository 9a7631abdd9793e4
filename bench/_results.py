"""A swarm scenario's output folder: ``results.json``, ``summary.md`` and PNG plots.

The folder defaults to ``bench-results/<scenario>-<UTC timestamp>/`` (git-ignored). A scenario
hands :func:`write` its *runs*: one flat mapping of figures per run (a transport, say), plus the
calls each run recorded (:class:`bench._load.CallRecord`). :func:`write` then writes

- ``results.json``: the command, the machine, every run's figures and its per-second windows;
- ``summary.md``: one table, a row per run, a column per figure;
- ``latency.png``: p50, p90 and p99 of the calls started in each 1 s window, per run;
- ``throughput.png``: successful calls answered per 1 s window, per run.

Plots use matplotlib's Agg backend (no display needed). Percentiles are nearest-rank.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench._load import CallRecord
from bench._report import machine

Figures = Mapping[str, Any]
_PACKAGES = ("mcp", "discord.py", "uvicorn", "trio", "anyio", "uvloop", "orjson")


def default_out(scenario: str) -> Path:
    """``bench-results/<scenario>-<YYYYmmdd-HHMMSS>``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("bench-results") / f"{scenario}-{stamp}"


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of already sorted values; NaN when empty."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_ms(records: Sequence[CallRecord]) -> dict[str, float]:
    """p50, p90, p99 and max latency in ms of the successful calls."""
    ordered = sorted(r.latency for r in records if r.ok)
    figures = {f"p{round(q * 100)}_ms": quantile(ordered, q) * 1000 for q in (0.5, 0.9, 0.99)}
    figures["max_ms"] = ordered[-1] * 1000 if ordered else math.nan
    return figures


def windows(
    records: Sequence[CallRecord], seconds: float, width: float = 1.0
) -> list[dict[str, Any]]:
    """Per ``width``-second window: calls started, answered OK, errors, latency percentiles."""
    count = max(1, math.ceil(seconds / width))
    started: list[list[float]] = [[] for _ in range(count)]
    answered = [0] * count
    errors = [0] * count
    for r in records:
        i = min(count - 1, max(0, int(r.start / width)))
        if r.ok:
            started[i].append(r.latency)
            done = int((r.start + r.latency) / width)
            if done < count:
                answered[done] += 1
        else:
            errors[i] += 1
    out = []
    for i in range(count):
        ordered = sorted(started[i])
        out.append(
            {
                "t": i * width,
                "started": len(ordered) + errors[i],
                "ok_per_s": answered[i] / width,
                "errors": errors[i],
                "p50_ms": quantile(ordered, 0.5) * 1000,
                "p90_ms": quantile(ordered, 0.9) * 1000,
                "p99_ms": quantile(ordered, 0.99) * 1000,
            }
        )
    return out


def write(
    out: Path,
    scenario: str,
    runs: Mapping[str, Figures],
    records: Mapping[str, Sequence[CallRecord]],
    *,
    seconds: float,
    config: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> Path:
    """Write the folder's three kinds of files; return the summary's path."""
    out.mkdir(parents=True, exist_ok=True)
    per_second = {name: windows(calls, seconds) for name, calls in records.items()}
    data = {
        "scenario": scenario,
        "command": _command(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(_PACKAGES),
        "config": dict(config),
        "runs": {name: dict(figures) for name, figures in runs.items()},
        "windows": per_second,
        "notes": list(notes),
    }
    (out / "results.json").write_text(json.dumps(data, indent=2, default=_plain) + "\n")
    summary = out / "summary.md"
    summary.write_text(render_markdown(scenario, runs, config=config, notes=notes))
    _plot_latency(out / "latency.png", scenario, per_second)
    _plot_throughput(out / "throughput.png", scenario, per_second)
    return summary


def render_markdown(
    scenario: str,
    runs: Mapping[str, Figures],
    *,
    config: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> str:
    """The summary: the command, the sizes, then a row of figures per run."""
    columns: list[str] = []
    for figures in runs.values():
        columns += [key for key in figures if key not in columns]
    lines = [f"## {scenario}", "", f"`{_command()}`", ""]
    lines.append(", ".join(f"{key} {value}" for key, value in config.items()))
    lines += ["", "| run | " + " | ".join(columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for name, figures in runs.items():
        cells = [_cell(figures.get(column)) for column in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *notes] if notes else []
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _plain(value: object) -> object:
    return str(value)


def _command() -> str:
    """The command line, when run as ``python -m bench``; else (tests) what ran it."""
    if sys.argv and sys.argv[0].endswith("__main__.py"):
        return "python -m bench " + shlex.join(sys.argv[1:])
    return shlex.join(sys.argv)


def _pyplot() -> Any:
    import matplotlib  # heavy: only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the backend

    return plt


def _plot_latency(
    path: Path, scenario: str, per_second: Mapping[str, list[dict[str, Any]]]
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, rows in per_second.items():
        t = [row["t"] for row in rows]
        for key, style in (("p50_ms", ":"), ("p90_ms", "--"), ("p99_ms", "-")):
            ax.plot(t, [row[key] for row in rows], style, label=f"{name} {key[:3]}")
    ax.set_xlabel("seconds into the timed window (call's scheduled start)")
    ax.set_ylabel("latency, ms")
    ax.set_title(f"{scenario}: tool-call latency per 1 s window")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_throughput(
    path: Path, scenario: str, per_second: Mapping[str, list[dict[str, Any]]]
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, rows in per_second.items():
        ax.plot([row["t"] for row in rows], [row["ok_per_s"] for row in rows], label=name)
    ax.set_xlabel("seconds into the timed window")
    ax.set_ylabel("successful calls answered per second")
    ax.set_title(f"{scenario}: throughput per 1 s window")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["default_out", "latency_ms", "quantile", "render_markdown", "windows", "write"]
