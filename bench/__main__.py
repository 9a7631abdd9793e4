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

from bench import agents, edge, pacing, runtime, sandbox, store

SCENARIOS: dict[str, ModuleType] = {
    "agents": agents,
    "edge": edge,
    "pacing": pacing,
    "runtime": runtime,
    "sandbox": sandbox,
    "store": store,
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
