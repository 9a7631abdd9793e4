"""The ``mcp-discord`` command line.

Output rule: stdout is the stdio transport's wire, so only a command's own answer (``--help``,
``--version``, the sandbox banner) goes there; diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
from collections.abc import Sequence
from importlib.metadata import version

import anyio

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
    sandbox = commands.add_parser(
        "sandbox",
        help="run the sandbox Discord (a local Discord API v10 server) until interrupted",
        description=(
            "Run the sandbox Discord: REST and gateway v10 on one port, seeded with guilds, "
            "users and bots. Prints its base URL, gateway URL and the bots' tokens, then serves "
            "until SIGINT/SIGTERM. Tokens are sandbox-only."
        ),
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument(
        "--port", type=int, default=0, help="port to bind (default 0: a free port)"
    )
    sandbox.add_argument(
        "--seed", metavar="FILE", help="YAML or JSON seed file (default: the built-in demo seed)"
    )
    sandbox.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="enforce no REST rate limits (benchmarks); injected faults still work",
    )
    sandbox.add_argument(
        "--message-limit",
        metavar="N/SECONDS",
        help="message creates allowed per channel per window (default 5/5, as Discord)",
    )
    sandbox.add_argument(
        "--control-remote",
        action="store_true",
        help="answer the control API (/_sandbox) from non-loopback addresses too",
    )
    return parser


def _sandbox_banner(sb: object) -> str:
    from discord_io.sandbox import Sandbox

    assert isinstance(sb, Sandbox)
    lines = [
        "mcp-discord sandbox: a local Discord API v10 server (sandbox-only tokens)",
        f"base URL:    {sb.base_url}",
        f"gateway URL: {sb.gateway_url}",
        "bots:",
    ]
    width = max(len(bot.name) for bot in sb.bots)
    lines += [f"  {bot.name:<{width}}  {bot.token}" for bot in sb.bots]
    if sb.config.control_api:
        lines.append(f"control API: {sb.http_url}/_sandbox (see docs/sandbox.md)")
    return "\n".join(lines)


def _sandbox_config(args: argparse.Namespace) -> object:
    from discord_io.sandbox import RateLimitConfig, SandboxConfig

    limits: RateLimitConfig | None = RateLimitConfig()
    if args.message_limit:
        count, _, seconds = args.message_limit.partition("/")
        try:
            limit, window = int(count), float(seconds or "5")
            limits = RateLimitConfig().override("message-create", limit=limit, window=window)
        except ValueError:
            raise SystemExit(
                f"{PROG} sandbox: --message-limit wants N/SECONDS such as 5/5, "
                f"got {args.message_limit!r}"
            ) from None
    if args.no_rate_limits:
        limits = None
    return SandboxConfig(rate_limits=limits, control_remote=args.control_remote)


async def _run_sandbox(host: str, port: int, seed_file: str | None, config: object = None) -> None:
    from discord_io.sandbox import Sandbox, SandboxConfig, Seed

    seed = Seed.load(seed_file) if seed_file else None
    assert config is None or isinstance(config, SandboxConfig)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:
            sb = await tg.start(Sandbox(seed, host=host, port=port, config=config).run)
            print(_sandbox_banner(sb), flush=True)
            async for signum in signals:
                name = signal.Signals(signum).name
                logging.getLogger(__name__).info("sandbox: %s, stopping", name)
                break
            tg.cancel_scope.cancel()


def _asyncio_options() -> dict[str, object]:
    """asyncio on uvloop where it is installed (a dependency except on Windows): 10-20 % faster."""
    return {"use_uvloop": importlib.util.find_spec("uvloop") is not None}


def _sandbox(args: argparse.Namespace) -> int:
    from discord_io.sandbox import SeedError

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        anyio.run(
            _run_sandbox,
            args.host,
            args.port,
            args.seed,
            _sandbox_config(args),
            backend_options=_asyncio_options(),
        )
    except SeedError as exc:
        print(f"{PROG} sandbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG} sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


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
        case "sandbox":
            return _sandbox(args)
        case _:
            parser.print_help()
            return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
