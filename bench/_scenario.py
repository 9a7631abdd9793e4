"""What the swarm scenarios share: their common options and the figures of one load run.

Every swarm scenario takes ``--seconds``, ``--warmup``, ``--transport`` (one of
:data:`bench._load.TRANSPORTS` or ``all``), ``--out`` and ``--quick`` (tiny sizes, a couple of
seconds: what the tests run). :func:`load_figures` turns a :class:`bench._load.LoadResult` and
the processes' samples into the figures every scenario reports.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from bench._load import SDK_TRANSPORTS, TRANSPORTS, LoadResult, Transport
from bench._results import latency_ms
from bench._serve import Sampler

MB = 1024 * 1024


def add_common_arguments(
    parser: argparse.ArgumentParser, *, seconds: float, transports: str = "all"
) -> None:
    """``--seconds --warmup --transport --out --quick``."""
    parser.add_argument(
        "--seconds",
        type=_positive_float,
        default=seconds,
        metavar="S",
        help=f"timed seconds per run (default {seconds:g})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        metavar="S",
        help="untimed seconds of the same load before each run (default 2)",
    )
    parser.add_argument(
        "--transport",
        choices=[*TRANSPORTS, "all"],
        default=transports,
        help=f"MCP transport of the clients (default {transports}; all: one run for each of "
        f"{', '.join(SDK_TRANSPORTS)}; ws-raw, http-raw: JSON-RPC without the SDK client)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default bench-results/<scenario>-<timestamp>/)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and ~2 s runs: proves the scenario works (what the tests run)",
    )


def transports(choice: str) -> list[Transport]:
    """The transports ``--transport`` names."""
    if choice == "all":
        return list(SDK_TRANSPORTS)
    assert choice in TRANSPORTS, choice
    return [choice]  # type: ignore[list-item]


def load_figures(
    result: LoadResult, sampler: Sampler, *, server: str, per: str = "call"
) -> dict[str, Any]:
    """Calls, rate, latency, errors, and ``server``'s CPU and RSS over the timed window."""
    start, end = result.window
    seconds = end - start
    ok = len(result.ok)
    cpu = sampler.cpu_between(server, start, max(end, result.finished))
    figures: dict[str, Any] = {
        "offered": result.offered,
        "calls": len(result.records),
        "ok": ok,
        "errors": len(result.records) - ok,
        f"ok_{per}s_per_s": ok / seconds if seconds > 0 else math.nan,
        **latency_ms(result.records),
        "server_cpu_s": cpu,
        f"server_cpu_ms_per_{per}": 1000 * cpu / ok if ok else math.nan,
        "server_peak_rss_mb": sampler.peak_rss(server) / MB,
    }
    if result.session_failures:
        figures["sessions_failed"] = sum(result.session_failures.values())
    if "loadgen" in sampler.pids:
        loadgen = sampler.cpu_between("loadgen", start, max(end, result.finished))
        figures["loadgen_cpu_s"] = loadgen
    return figures


def first_errors(result: LoadResult, limit: int = 3) -> list[str]:
    """The most common errors, for the notes."""
    calls = [f"{n} x {error}" for error, n in result.errors.most_common(limit)]
    return calls + [f"{n} sessions lost: {e}" for e, n in result.session_failures.items()]


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


__all__ = ["MB", "add_common_arguments", "first_errors", "load_figures", "transports"]
