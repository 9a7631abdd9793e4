"""The ``mcp-discord`` command line.

Output rule: stdout is the stdio transport's wire, so only a command's own answer (``--help``,
``--version``, the sandbox banner, ``config check``'s JSON, a new API key, ``keys list``) goes
there; diagnostics go to stderr.

Commands: ``serve`` (the MCP server, in :mod:`mcp_edge.serve`), ``sandbox``, ``config check``
and ``keys create|rotate|revoke|list``. Configuration mistakes exit 2 with every problem and its
fix on stderr (see :mod:`mcp_edge.config`); a key is printed once, on creation, and never again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import re
import signal
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from mcp_edge.config import Config

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
    _add_serve(commands)
    _add_config(commands)
    _add_keys(commands)
    importlib.import_module("mcp_edge._cli_audit").add_parser(commands)  # audit tail | export
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


# --- serve, config, keys ------------------------------------------------------------------------


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="TOML, YAML or JSON config file (default: $MCP_DISCORD_CONFIG, else none)",
    )


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="start the MCP server",
        description=(
            "Start the MCP server over stdio (one agent) or HTTP (many agents, API keys). "
            "Settings come from flags, then MCP_DISCORD_* variables, then the config file; "
            "see docs/configuration.md."
        ),
    )
    serve.add_argument("--transport", choices=("stdio", "http"), help="default stdio")
    serve.add_argument("--host", help="HTTP address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8765; 0: a free port)")
    _config_option(serve)
    serve.add_argument("--data-dir", metavar="DIR", type=Path, help="default .mcp-discord")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="run against the embedded sandbox Discord even if tokens are configured",
    )


def _add_config(commands: Any) -> None:
    config = commands.add_parser(
        "config", help="inspect the configuration", description="Inspect the configuration."
    )
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="print the effective configuration (secrets redacted) or its problems",
        description=(
            "Load the configuration as serve would (file, environment, defaults), print it as "
            "JSON with secrets redacted, and exit 0; or print every problem and exit 2."
        ),
    )
    _config_option(check)
    importlib.import_module("mcp_edge._cli_migrate").add_parser(actions)  # config migrate


def _add_keys(commands: Any) -> None:
    keys = commands.add_parser(
        "keys",
        help="manage the API keys HTTP clients use",
        description=(
            "Manage API keys: each maps an HTTP client (Authorization: Bearer <key>) to an "
            "agent. Only hashes are stored, in the keys file (keys_file, default "
            "DATA_DIR/api-keys.json)."
        ),
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="make a new key for an agent and print it once",
        description="Make a new key for an agent. It is printed once, on stdout: store it now.",
    )
    create.add_argument("--agent", required=True, help="the agent the key speaks as")
    create.add_argument("--note", default="", help="a reminder of who holds the key")
    _config_option(create)
    rotate = actions.add_parser(
        "rotate",
        help="make a new key and expire the agent's older keys after a grace period",
        description=(
            "Make a new key for an agent and set the agent's older keys (in the keys file) to "
            "expire after the grace period, so clients can move over."
        ),
    )
    rotate.add_argument("--agent", required=True)
    rotate.add_argument(
        "--grace", default="24h", help="how long old keys keep working: 90s, 30m, 24h, 7d, 0"
    )
    rotate.add_argument("--note", default="", help="a reminder of who holds the new key")
    _config_option(rotate)
    revoke = actions.add_parser(
        "revoke",
        help="remove a key (by id) or all of an agent's keys",
        description="Remove a key by its id (from keys list), or all keys of an agent.",
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="the key's id, as keys list shows it")
    which.add_argument("--agent", help="with --all: the agent whose keys to remove")
    revoke.add_argument("--all", action="store_true", help="remove every key of --agent")
    _config_option(revoke)
    listing = actions.add_parser(
        "list",
        help="show keys: id, agent, created, expires, note (never the keys)",
        description="Show the keys: id, agent, created, expires, note. Never the keys themselves.",
    )
    listing.add_argument("--agent", help="only this agent's keys")
    _config_option(listing)


def _load(
    args: argparse.Namespace, *, check_secrets: bool = True, overrides: dict[str, Any] | None = None
) -> Config:
    from mcp_edge.config import load_config

    return load_config(args.config, overrides=overrides, check_secrets=check_secrets)


def _serve(args: argparse.Namespace) -> int:
    from mcp_edge.config import ConfigError

    overrides: dict[str, Any] = {
        "transport": args.transport,
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "log_level": args.log_level,
        "sandbox": "on" if args.sandbox else None,
    }
    try:
        config = _load(args, overrides={k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        print(f"{PROG} serve: {exc}", file=sys.stderr)
        return 2
    from mcp_edge.serve import main as serve_main  # logs config.warnings once logging is set

    return serve_main(config)


def _config_check(args: argparse.Namespace) -> int:
    from mcp_edge.config import ConfigError

    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"{PROG} config check: {exc}", file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"{PROG} config check: warning: {warning}", file=sys.stderr)
    print(json.dumps(config.redacted(), indent=2))
    return 0


_GRACE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``24h``, ``7d`` or a bare number of seconds."""
    match = _GRACE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write 90s, 30m, 24h, 7d or 0")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _KeysFailure(Exception):
    """A keys command that cannot go on: the message says why and what to do."""


def _known_agent(config: Config, name: str) -> None:
    if config.agent(name) is not None:
        return
    known = ", ".join(a.name for a in config.agents) or "none"
    where = f"in {config.source}" if config.source != "defaults" else "(no config file)"
    raise _KeysFailure(
        f"no agent named {name!r} {where}; agents: {known}. "
        "Fix: use one of those, or add the agent under agents: in the config file"
    )


def _keys(args: argparse.Namespace) -> int:
    from mcp_edge.config import ConfigError

    command = f"{PROG} keys {args.keys_command}"
    try:
        config = _load(args, check_secrets=False)
        match args.keys_command:
            case "create":
                return _keys_create(config, args.agent, args.note, command)
            case "rotate":
                return _keys_rotate(config, args, command)
            case "revoke":
                return _keys_revoke(config, args, command)
            case _:
                return _keys_list(config, args.agent)
    except (ConfigError, _KeysFailure) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"{command}: cannot write the keys file ({exc.strerror or exc}). "
            "Fix: check that this user may write to the data directory or keys_file",
            file=sys.stderr,
        )
        return 1


def _new_key(config: Config, agent: str, note: str, records: list[Any], command: str) -> None:
    from mcp_edge.keys import KeyRecord, generate_key, hash_key, key_id, save_keys_file

    key = generate_key()
    hashed = hash_key(key)
    records.append(KeyRecord(agent, hashed, time.time(), None, note))
    save_keys_file(config.keys_path, records)
    print(key, flush=True)
    print(
        f"{command}: key id {key_id(hashed)} for agent {agent}, stored (hashed) in "
        f"{config.keys_path}. The key above is shown only this once: store it now.",
        file=sys.stderr,
    )


def _live_records(config: Config) -> list[Any]:
    from mcp_edge.keys import load_keys_file

    now = time.time()
    return [r for r in load_keys_file(config.keys_path) if r.live(now)]


def _keys_create(config: Config, agent: str, note: str, command: str) -> int:
    _known_agent(config, agent)
    _new_key(config, agent, note, _live_records(config), command)
    return 0


def _keys_rotate(config: Config, args: argparse.Namespace, command: str) -> int:
    import attrs

    _known_agent(config, args.agent)
    try:
        grace = parse_duration(args.grace)
    except ValueError as exc:
        raise _KeysFailure(f"--grace: {exc}") from None
    until = time.time() + grace
    records = [
        attrs.evolve(r, expires_at=until)
        if r.agent == args.agent and (r.expires_at is None or r.expires_at > until)
        else r
        for r in _live_records(config)
    ]
    old = sum(1 for r in records if r.agent == args.agent)
    _new_key(config, args.agent, args.note, records, command)
    print(
        f"{command}: {old} older key(s) of {args.agent} expire at {_when(until)}", file=sys.stderr
    )
    agent = config.agent(args.agent)
    if agent is not None and agent.api_key_hashes:
        print(
            f"{command}: note: {len(agent.api_key_hashes)} key(s) in the config file's "
            f"api_keys for {args.agent} do not expire; remove them there when clients moved",
            file=sys.stderr,
        )
    return 0


def _keys_revoke(config: Config, args: argparse.Namespace, command: str) -> int:
    from mcp_edge.keys import key_id, save_keys_file

    records = _live_records(config)
    if args.id is not None:
        wanted = args.id.strip().lower().removeprefix("id:")
        keep = [r for r in records if r.id != wanted]
        if len(keep) == len(records):
            for agent in config.agents:
                if any(key_id(h) == wanted for h in agent.api_key_hashes):
                    raise _KeysFailure(
                        f"key {wanted} is in the config file (agent {agent.name}'s api_keys). "
                        "Fix: delete its hash there"
                    )
            raise _KeysFailure(
                f"no key with id {wanted!r}. Fix: see the ids with `{PROG} keys list`"
            )
    else:
        if not args.all:
            raise _KeysFailure("--agent needs --all (to remove one key, use --id)")
        _known_agent(config, args.agent)
        keep = [r for r in records if r.agent != args.agent]
    save_keys_file(config.keys_path, keep)
    print(f"{command}: removed {len(records) - len(keep)} key(s)", file=sys.stderr)
    return 0


def _keys_list(config: Config, agent: str | None) -> int:
    from mcp_edge.keys import KeyRing, load_keys_file

    if agent is not None:
        _known_agent(config, agent)
    ring = KeyRing.build(config, load_keys_file(config.keys_path))
    now = time.time()
    rows = [("ID", "AGENT", "CREATED", "EXPIRES", "NOTE")]
    for name in [agent] if agent is not None else [a.name for a in config.agents]:
        for r in ring.keys_for(name):
            created = "-" if r.note == "config file" and r.created_at == 0 else _when(r.created_at)
            expires = _when(r.expires_at) + ("" if r.live(now) else " (expired)")
            rows.append((r.id, r.agent, created, expires, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    match args.command:
        case "serve":
            return _serve(args)
        case "config" if args.config_command == "migrate":
            return int(importlib.import_module("mcp_edge._cli_migrate").run(args))
        case "config":
            return _config_check(args)
        case "keys":
            return _keys(args)
        case "audit":
            return int(importlib.import_module("mcp_edge._cli_audit").run(args))
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
