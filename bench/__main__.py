"""``python -m bench <scenario> [options]``: one argparse subcommand per scenario module.

To add a scenario, write ``bench/<name>.py`` with a docstring (its first line is the
subcommand's help), ``add_arguments(parser)`` and ``main(args) -> int``, and list it in
``SCENARIOS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from bench import (
    agents,
    bulk,
    edge,
    floor,
    idle,
    latency,
    pacing,
    runtime,
    sandbox,
    store,
    swarm_chat,
    swarm_send,
)

SCENARIOS: dict[str, ModuleType] = {
    "agents": agents,
    "bulk": bulk,
    "edge": edge,
    "floor": floor,
    "idle": idle,
    "latency": latency,
    "pacing": pacing,
    "runtime": runtime,
    "sandbox": sandbox,
    "store": store,
    "swarm-chat": swarm_chat,
    "swarm-send": swarm_send,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run one of mcp-discord's load benchmarks."
    )
    subcommands = parser.add_subparsers(dest="scenario", metavar="scenario", required=True)
    for name, module in SCENARIOS.items():
        doc = (module.__doc__ or "").strip()
        summary = doc.splitlines()[0] if doc else name
        sub = subcommands.add_parser(
            name,
            help=summary,
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = SCENARIOS[args.scenario].main(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
