"""``mcp-discord config migrate``: the prototype's setup (hanweg/mcp-discord) as our config file.

The prototype read one thing, ``DISCORD_TOKEN``, from its environment: the shell's, or the
``env`` of its entry in an MCP client's config (``{"mcpServers": {"discord": {"command": "uv",
"args": [...], "env": {"DISCORD_TOKEN": "..."}}}}``). Its bot needed the message content,
server members and presence intents. ``migrate`` writes a config file (``--out``) with one
agent, named after the client config's server entry, that keeps all of that:

* ``profile: compat`` -- the prototype's tool names and arguments (:mod:`mcp_edge.compat`);
* ``capabilities`` -- message_content, members and presences, as the prototype asked for;
* the token by reference, never by value: ``token_env: DISCORD_TOKEN`` when the variable is set
  (or must be, see below), or ``token_file`` when the token was only in the client config and
  ``--token-file`` says where to keep it (written with mode 0600);
* ``data_dir`` next to the file (the durable outbox must not depend on the client's cwd).

Then it prints, on stdout, the new client config entry (``mcp-discord serve --config FILE``
over stdio) ready to paste in place of the old one, and on stderr what it did and what is left
for the user. An existing ``--out`` (or ``--token-file``) is kept unless ``--force``. No token
is ever printed or written anywhere but the token file.

Exit codes: 0 done; 2 nothing usable (no token anywhere, no such server entry, a file exists);
1 a file could not be read or written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

PROG = "mcp-discord config migrate"
TOKEN_VAR = "DISCORD_TOKEN"
CAPABILITIES = {"message_content": True, "members": True, "presences": True}
"""The privileged intents the prototype's bot needed."""
PLACEHOLDER = "<your bot token: the value of DISCORD_TOKEN in the old entry>"


class MigrateError(Exception):
    """The migration cannot go on; the message says why and what to do. ``code``: exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_parser(actions: Any) -> None:
    """Add ``migrate`` to the ``config`` command's actions."""
    migrate = actions.add_parser(
        "migrate",
        help="write a config file from the prototype's setup (hanweg/mcp-discord)",
        description=(
            "Read the prototype's setup -- DISCORD_TOKEN from the environment and/or its entry "
            "in an MCP client's config -- and write a config file with one agent (profile "
            "compat: the prototype's tool names). Prints the client config entry that launches "
            "the new server; never prints or stores the token except in --token-file."
        ),
    )
    migrate.add_argument(
        "--client-config",
        metavar="FILE",
        type=Path,
        help="the MCP client's JSON config holding the prototype's entry (mcpServers.NAME)",
    )
    migrate.add_argument(
        "--server-name",
        default="discord",
        help="the prototype's key under mcpServers, also the agent's name (default discord)",
    )
    migrate.add_argument(
        "--out",
        metavar="FILE",
        type=Path,
        default=Path("mcp-discord.yaml"),
        help="the config file to write (default mcp-discord.yaml)",
    )
    migrate.add_argument(
        "--token-file",
        metavar="PATH",
        type=Path,
        help="where to store a token found only in the client config (mode 0600)",
    )
    migrate.add_argument(
        "--force", action="store_true", help="overwrite --out and --token-file if they exist"
    )


def run(args: argparse.Namespace) -> int:
    """Do the migration of the module docstring; the exit code."""
    try:
        return _migrate(args)
    except MigrateError as exc:
        _tell(str(exc))
        return exc.code


def _tell(text: str) -> None:
    """A line for the user, on stderr (stdout carries only the new client config entry)."""
    sys.stderr.write(f"{PROG}: {text}\n")


def _agent_name(server_name: str) -> str:
    """The server entry's name as an agent name (lower case letters, digits, - and _)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", server_name.strip().lower()).strip("-")[:32]
    return name or "discord"


def _read_entry(path: Path, server_name: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigrateError(f"--client-config {path} does not exist: check the path") from None
    except OSError as exc:
        raise MigrateError(f"cannot read --client-config {path}: {exc.strerror}", 1) from None
    except ValueError as exc:
        raise MigrateError(f"--client-config {path} is not valid JSON ({exc})") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise MigrateError(f"--client-config {path} has no mcpServers object")
    entry = servers.get(server_name)
    if not isinstance(entry, dict):
        known = ", ".join(str(k) for k in servers) or "none"
        raise MigrateError(
            f"--client-config {path} has no mcpServers.{server_name} entry (entries: {known}); "
            "pass --server-name with the prototype's entry"
        )
    return entry


def _write_token_file(path: Path, token: str, force: bool) -> None:
    if path.exists() and not force:
        raise MigrateError(f"--token-file {path} exists: pass --force to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        path.chmod(0o600)  # O_CREAT's mode does not apply to a file that already existed
    except OSError as exc:
        raise MigrateError(f"cannot write --token-file {path}: {exc.strerror}", 1) from None


def _relative_to(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when it is inside it (the config resolves it so), else
    absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(base.resolve()))
    except ValueError:
        return str(absolute)


def _migrate(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not args.force:
        raise MigrateError(f"--out {out} exists: pass --force to overwrite it, or choose --out")
    notes: list[str] = []
    entry: dict[str, Any] = {}
    if args.client_config is not None:
        entry = _read_entry(args.client_config, args.server_name)
    raw_env = entry.get("env")
    env: dict[str, Any] = raw_env if isinstance(raw_env, dict) else {}
    inline = env.get(TOKEN_VAR)
    inline_token = inline.strip() if isinstance(inline, str) and inline.strip() else None
    in_environment = bool(os.environ.get(TOKEN_VAR, "").strip())
    if inline_token is None and not in_environment:
        where = f" nor in mcpServers.{args.server_name}.env" if entry else ""
        raise MigrateError(
            f"no bot token found: {TOKEN_VAR} is not set in the environment{where}. Export "
            f"{TOKEN_VAR}=<bot token> (or pass --client-config with the prototype's client "
            "config) and run again"
        )
    agent: dict[str, Any] = {"name": _agent_name(args.server_name)}
    entry_env: dict[str, str] | None = None
    if in_environment:
        agent["token_env"] = TOKEN_VAR
        source = f"the {TOKEN_VAR} environment variable"
        if inline_token is None:
            notes.append(
                f"the MCP client must start the server with {TOKEN_VAR} set: most desktop "
                f"clients do not pass on your shell's environment, so if yours does not, add "
                f'"env": {{"{TOKEN_VAR}": "..."}} to the entry, or run again with --client-config '
                "and --token-file to keep the token in a 0600 file"
            )
        else:
            notes.append(
                f"the old client entry also holds the token inline; the new entry does not "
                f"carry it: {TOKEN_VAR} must be set wherever the client starts the server"
            )
    elif args.token_file is not None:
        assert inline_token is not None
        _write_token_file(args.token_file, inline_token, args.force)
        agent["token_file"] = _relative_to(args.token_file, out.parent)
        source = f"the token file {args.token_file} (mode 0600, written from the client config)"
    else:
        agent["token_env"] = TOKEN_VAR
        entry_env = {TOKEN_VAR: PLACEHOLDER}
        source = f"the {TOKEN_VAR} environment variable (set it: the token was only inline)"
        notes.append(
            f"the token was only in the client config and is not copied anywhere: put it in "
            f"the new entry's env.{TOKEN_VAR} in place of the placeholder, or export "
            f"{TOKEN_VAR}, or run again with --token-file PATH to store it in a 0600 file"
        )
    agent["capabilities"] = dict(CAPABILITIES)
    agent["profile"] = "compat"
    agent["default"] = True
    if "DISCORD_TIMEOUT" in env or "DISCORD_TIMEOUT" in os.environ:
        notes.append(
            "DISCORD_TIMEOUT is not used: await_mention is replaced by wait_for_events "
            "(profile chatter), whose timeout is an argument"
        )
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    config = {"transport": "stdio", "data_dir": ".mcp-discord", "agents": [agent]}
    text = (
        f"# Written by `{PROG}` on {when} from the prototype's setup "
        "(hanweg/mcp-discord).\n"
        "# profile: compat serves the prototype's tool names; see docs/compat.md to move on.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MigrateError(f"cannot write --out {out}: {exc.strerror}", 1) from None
    launcher = shutil.which("mcp-discord") or "mcp-discord"
    new_entry: dict[str, Any] = {
        "command": launcher,
        "args": ["serve", "--config", str(out.resolve())],
    }
    if entry_env is not None:
        new_entry["env"] = entry_env
    sys.stdout.write(json.dumps({"mcpServers": {args.server_name: new_entry}}, indent=2) + "\n")
    old_args = entry.get("args")
    old_args = old_args if isinstance(old_args, list) else []
    old = " ".join(str(x) for x in [entry.get("command", ""), *old_args]).strip()
    _tell(
        f"wrote {out}: agent {agent['name']!r}, profile compat (the prototype's tool names), "
        f"capabilities message_content, members, presences; token from {source}."
    )
    _tell(
        f"replace the client's mcpServers.{args.server_name} entry"
        + (f" (was: {old})" if old else "")
        + f" with the one printed above, then check it: mcp-discord config check --config {out}"
    )
    for note in notes:
        _tell(f"note: {note}")
    return 0


__all__ = ["MigrateError", "add_parser", "run"]
