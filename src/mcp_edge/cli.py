"""The ``mcp-discord`` command line.

Output rule: stdout is the stdio transport's wire, so only a command's own answer (``--help``,
``--version``, the sandbox banner) goes there; diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version

PROG = "mcp-discord"


def _version() -> str:
    return version("mcp-discord")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "An MCP server that gives swarms of AI agents fast, safe, loss-free access to Discord."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="start the MCP server (not built yet: see README.md, Status)",
        description="Start the MCP server. Not built yet: the MCP edge lands with issue #5.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    match args.command:
        case "serve":
            print(
                f"{PROG} serve: the MCP server is not built yet (the MCP edge is issue #5). "
                f"This is {PROG} {_version()}; see README.md, Status, for what works today.",
                file=sys.stderr,
            )
            return 2
        case _:
            parser.print_help()
            return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
