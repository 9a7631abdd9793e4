"""Configuration: one checked :class:`Config` from a file, the environment and the command line.

Where a value comes from, highest precedence first::

    overrides (CLI flags)  >  MCP_DISCORD_* environment  >  config file  >  defaults

The file (TOML, YAML or JSON, chosen by its extension) is ``path``, else ``$MCP_DISCORD_CONFIG``,
else there is none: a pure environment/defaults setup is valid. Its shape is flat — every scalar
:class:`Config` field is a top-level key of the same name — plus a list of agents::

    transport: http
    host: 127.0.0.1
    port: 8765
    data_dir: ./data                # relative paths resolve against the file's directory
    agents:
      - name: scribe
        token_env: SCRIBE_TOKEN     # or token_file: secrets/scribe.token (never token: ...)
        api_keys: ["sha256:<64 hex>"]
        capabilities: {message_content: true, members: false, presences: false}
        budget: {rate: 2.0}         # messages per second across its channels
        default: true               # the agent a stdio session speaks as
        profile: chatter            # reader | chatter | moderator | admin | compat
        grant: [pin_message]        # tools on top of the profile (tools: [...] = exactly these)
        deny: [send_dm]             # tools taken away
        channels: {allow: ["bot-*"], deny: [staff], guilds: {"Guild name": {deny: [...]}}}
        dms: true                   # direct messages allowed
        quotas: {calls_per_minute: 60, sends_per_day: 500}

The policy keys (profile ... quotas) are explained in ``docs/policy.md`` and
:mod:`mcp_edge.policy`; tool names are checked against the catalog, with the closest match
suggested for a typo.

Each scalar field also has an environment variable, ``MCP_DISCORD_`` + its name in capitals
(``MCP_DISCORD_PORT``; lists are comma-separated). ``MCP_DISCORD_TOKEN`` is a one-agent
shortcut: when the file defines no agents it defines one, named ``$MCP_DISCORD_AGENT`` (default
``default``), whose ``token_env`` is ``MCP_DISCORD_TOKEN``.

Validation never stops at the first mistake: every problem is collected as ``key: problem —
fix`` and one :class:`ConfigError` lists them all, so a broken deployment is fixed in one pass.
Keys are named where the user wrote them (``agents[1].token_env``, ``MCP_DISCORD_PORT``,
``--port``). Secrets are resolved here (a token from its variable or file) and kept out of
``repr`` and of every message: errors name the variable or file, never its value. Things that
work but deserve a look (a token file others can read, a likely-mistyped variable) become
:attr:`Config.warnings`, which the caller logs.

Errors::

    ValueError
     └── ConfigError      one or more problems, each in .problems as (key, problem, fix)
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import os
import re
import stat
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import attrs
import yaml

from mcp_edge.logs import redact
from mcp_edge.policy import (
    DEFAULT_PROFILE,
    KNOWN_TOOLS,
    PROFILES,
    AgentPolicy,
    ChannelAcl,
    ChannelRules,
    Quotas,
    closest_tool,
)

ENV_PREFIX = "MCP_DISCORD_"
AGENT_NAME = re.compile(r"[a-z0-9_-]{1,32}")
HASH_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_DATA_DIR = Path(".mcp-discord")


@attrs.frozen
class Problem:
    """One thing wrong with the configuration: where, what, and how to fix it."""

    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.problem} — {self.fix}"


class ConfigError(ValueError):
    """The configuration cannot be used; :attr:`problems` lists every reason with its fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = f"config {self.problems[0]}"
        else:
            lines = "\n".join(f"  {p}" for p in self.problems)
            text = f"config has {len(self.problems)} problems:\n{lines}"
        super().__init__(text)

    @classmethod
    def one(cls, key: str, problem: str, fix: str) -> ConfigError:
        """A ConfigError with a single problem."""
        return cls([Problem(key, problem, fix)])


@attrs.frozen
class AgentSettings:
    """One agent: a Discord bot identity, how to find its token, and what it may do."""

    name: str
    token: str | None = attrs.field(default=None, repr=False)
    """The resolved bot token (from token_env or token_file). Never logged or printed."""
    token_env: str | None = None
    token_file: Path | None = None
    sandbox_bot: str | None = None
    """In sandbox mode, the seed bot this agent logs in as (None: the bot with its name)."""
    api_key_hashes: tuple[str, ...] = ()
    message_content: bool = True
    members: bool = False
    presences: bool = False
    budget_rate: float | None = None
    default: bool = False
    profile: str = DEFAULT_PROFILE
    """The named tool set (reader, chatter, moderator, admin, compat)."""
    tools: tuple[str, ...] | None = None
    """Exactly these tools (the profile and ``grant`` are then ignored)."""
    grant: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    channels: ChannelAcl = attrs.field(factory=ChannelAcl)
    dms: bool = True
    quotas: Quotas = attrs.field(factory=Quotas)

    def policy(self) -> AgentPolicy:
        """This agent's :class:`~mcp_edge.policy.AgentPolicy`."""
        return AgentPolicy(
            agent=self.name,
            profile=self.profile,
            explicit=self.tools,
            grant=self.grant,
            deny=self.deny,
            channels=self.channels,
            dms=self.dms,
            quotas=self.quotas,
        )

    @property
    def has_token_source(self) -> bool:
        """Whether a real Discord token is configured for this agent."""
        return self.token_env is not None or self.token_file is not None


@attrs.frozen
class Config:
    """The effective, checked configuration of one ``mcp-discord serve``."""

    agents: tuple[AgentSettings, ...] = ()
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: str = "info"
    sandbox: Literal["auto", "on", "off"] = "auto"
    sandbox_seed: Path | None = None
    sandbox_port: int = 0
    sandbox_rate_limits: bool = True
    discord_api_url: str | None = None
    """Talk to this Discord-compatible REST base (an external sandbox: benchmarks, shared test
    rigs) instead of Discord; the agents' tokens come from their token sources as usual."""
    """Whether the embedded sandbox enforces Discord's REST rate limits (off for benchmarks)."""
    auth: Literal["api_key", "none"] = "api_key"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    keys_file: Path | None = None
    tool_timeout: float = 30.0
    send_timeout: float = 10.0
    max_request_body: int = 4 * 1024 * 1024
    stop_timeout: float = 10.0
    source: str = ""
    warnings: tuple[str, ...] = ()
    """Things that work but deserve attention; the caller logs them (``config check`` prints)."""

    @property
    def sandbox_enabled(self) -> bool:
        """``sandbox: on``, or ``auto`` and no agent has a token source."""
        if self.sandbox == "auto":
            return not any(agent.has_token_source for agent in self.agents)
        return self.sandbox == "on"

    @property
    def keys_path(self) -> Path:
        """The keys file: ``keys_file``, else ``data_dir/api-keys.json``."""
        return self.keys_file if self.keys_file is not None else self.data_dir / "api-keys.json"

    @property
    def default_agent(self) -> str | None:
        """The agent marked default, else the first agent, else None."""
        for agent in self.agents:
            if agent.default:
                return agent.name
        return self.agents[0].name if self.agents else None

    def agent(self, name: str) -> AgentSettings | None:
        """The agent called ``name``, if there is one."""
        return next((a for a in self.agents if a.name == name), None)

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as JSON-able data, tokens as ``***``, keys as their ids."""
        from mcp_edge.keys import key_id

        out: dict[str, Any] = {"source": self.source}
        for field in attrs.fields(Config):
            if field.name in ("agents", "source", "warnings"):
                continue
            out[field.name] = _jsonable(getattr(self, field.name))
        out["keys_file"] = str(self.keys_path)
        out["sandbox_enabled"] = self.sandbox_enabled
        out["default_agent"] = self.default_agent
        out["agents"] = [
            {
                "name": a.name,
                "token": "***" if a.token is not None else None,
                "token_env": a.token_env,
                "token_file": _jsonable(a.token_file),
                "sandbox_bot": a.sandbox_bot,
                "api_keys": [f"id:{key_id(h)}" for h in a.api_key_hashes],
                "capabilities": {
                    "message_content": a.message_content,
                    "members": a.members,
                    "presences": a.presences,
                },
                "budget": {"rate": a.budget_rate},
                "default": a.default,
                "profile": a.profile,
                "tools": None if a.tools is None else list(a.tools),
                "grant": list(a.grant),
                "deny": list(a.deny),
                "channels": {
                    "allow": list(a.channels.rules.allow),
                    "deny": list(a.channels.rules.deny),
                    "guilds": {
                        key: {"allow": list(r.allow), "deny": list(r.deny)}
                        for key, r in a.channels.guilds
                    },
                },
                "dms": a.dms,
                "quotas": {
                    "calls_per_minute": a.quotas.calls_per_minute,
                    "sends_per_day": a.quotas.sends_per_day,
                },
            }
            for a in self.agents
        ]
        out["warnings"] = list(self.warnings)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# --- scalar fields ------------------------------------------------------------------------------


class _Parse(Protocol):
    def __call__(self, value: object, base: Path, *, from_env: bool = False) -> object: ...


class _Bad(Exception):
    """A value that does not parse: the problem and the fix (the key is added by the caller)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def _describe(value: object) -> str:
    """A short, redacted rendering of a bad value for an error message."""
    text = redact(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _choice(*choices: str) -> _Parse:
    def parse(value: object, base: Path, *, from_env: bool = False) -> object:
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        raise _Bad(
            f"expected one of {', '.join(choices)}, got {_describe(value)}",
            f"set it to one of: {', '.join(choices)}",
        )

    return parse


def _sandbox_mode(value: object, base: Path, *, from_env: bool = False) -> object:
    # YAML 1.1 reads an unquoted `on`/`off` as a boolean: accept what the user meant.
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        word = value.strip().lower()
        word = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}.get(
            word, word
        )
        if word in ("auto", "on", "off"):
            return word
    raise _Bad(
        f"expected auto, on or off, got {_describe(value)}",
        "set it to auto (sandbox when no tokens are configured), on or off",
    )


def _boolean(value: object, base: Path, *, from_env: bool = False) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1", "yes", "on"):
            return True
        if word in ("false", "0", "no", "off"):
            return False
    raise _Bad(f"expected true or false, got {_describe(value)}", "set it to true or false")


def _text(value: object, base: Path, *, from_env: bool = False) -> object:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _Bad(f"expected non-empty text, got {_describe(value)}", "give it as a quoted string")


def _api_url(value: object, base: Path, *, from_env: bool = False) -> object:
    if isinstance(value, str) and value.strip().startswith(("http://", "https://")):
        return value.strip().rstrip("/")
    raise _Bad(
        f"expected an http(s) URL, got {_describe(value)}",
        "give the REST base of a sandbox Discord, like http://127.0.0.1:8080/api/v10 (what "
        "`mcp-discord sandbox` prints), or leave it unset for Discord itself",
    )


def _int_range(low: int, high: int) -> _Parse:
    def parse(value: object, base: Path, *, from_env: bool = False) -> object:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and from_env:
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None:
            raise _Bad(
                f"expected a whole number, got {_describe(value)}",
                f"give a number from {low} to {high}",
            )
        if not low <= number <= high:
            raise _Bad(f"{number} is out of range", f"give a number from {low} to {high}")
        return number

    return parse


def _positive_float(value: object, base: Path, *, from_env: bool = False) -> object:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and from_env:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise _Bad(
            f"expected a positive number of seconds, got {_describe(value)}",
            "give a number above 0, such as 30 or 2.5",
        )
    return number


def _path(value: object, base: Path, *, from_env: bool = False) -> object:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise _Bad(f"expected a path, got {_describe(value)}", "give a file or directory path")
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else base / path


def _text_list(value: object, base: Path, *, from_env: bool = False) -> object:
    if isinstance(value, str) and from_env:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    raise _Bad(
        f"expected a list of text, got {_describe(value)}",
        'give a list such as ["example.com"] (in the environment: comma-separated)',
    )


_SCALARS: dict[str, _Parse] = {
    "transport": _choice("stdio", "http"),
    "host": _text,
    "port": _int_range(0, 65535),
    "data_dir": _path,
    "log_level": _choice(*LOG_LEVELS),
    "sandbox": _sandbox_mode,
    "sandbox_seed": _path,
    "sandbox_port": _int_range(0, 65535),
    "sandbox_rate_limits": _boolean,
    "discord_api_url": _api_url,
    "auth": _choice("api_key", "none"),
    "allowed_hosts": _text_list,
    "allowed_origins": _text_list,
    "keys_file": _path,
    "tool_timeout": _positive_float,
    "send_timeout": _positive_float,
    "max_request_body": _int_range(1024, 2**40),
    "stop_timeout": _positive_float,
}
_NULLABLE = frozenset({"sandbox_seed", "keys_file", "discord_api_url"})
_FILE_KEYS = (*_SCALARS, "agents")
_AGENT_KEYS = (
    "name",
    "token_env",
    "token_file",
    "sandbox_bot",
    "api_keys",
    "capabilities",
    "budget",
    "default",
    "profile",
    "tools",
    "grant",
    "deny",
    "channels",
    "dms",
    "quotas",
)
_QUOTA_KEYS = ("calls_per_minute", "sends_per_day")
_CHANNEL_KEYS = ("allow", "deny", "guilds")
_CAPABILITIES = ("message_content", "members", "presences")
_SPECIAL_ENV = ("CONFIG", "TOKEN", "AGENT")


def env_var(field: str) -> str:
    """The environment variable of a scalar field: ``MCP_DISCORD_`` + its name in capitals."""
    return ENV_PREFIX + field.upper()


def _closest(word: str, known: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if match:
        return f"did you mean {match[0]}? (known: {', '.join(known)})"
    return f"remove it, or use one of: {', '.join(known)}"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the filesystem, say
        return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (localhost, 127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# --- loading ------------------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw mapping in a TOML, YAML or JSON file (by extension); ConfigError if unreadable."""
    key = f"config file {path}"
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise ConfigError.one(
            key,
            f"unknown format {suffix or '(no extension)'}",
            "name it .toml, .yaml, .yml or .json",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.one(
            key, "not found", "check the path (--config or MCP_DISCORD_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(
            key,
            f"cannot be read ({type(exc).__name__})",
            "check the file's permissions and that it is UTF-8",
        ) from None
    try:
        if suffix == ".toml":
            data: object = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError.one(
            key,
            f"is not valid {suffix[1:].upper()}: {redact(str(exc))}",
            "fix the syntax at the place named",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError.one(
            key,
            f"expected a mapping of keys, got {type(data).__name__}",
            "write key: value pairs at the top level",
        )
    return cast("dict[str, Any]", data)


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    check_secrets: bool = True,
) -> Config:
    """Load and check the configuration: overrides > environment > file > defaults.

    ``check_secrets=False`` is for admin commands (``keys ...``): tokens are not read, and the
    rule that a network-facing server needs API keys is not enforced (they are creating them).
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"]).expanduser()
    data: Mapping[str, Any] = {}
    if path is not None:
        path = path if path.is_absolute() else Path.cwd() / path
        data = read_config_file(path)
    return config_from_data(
        data,
        base_dir=path.parent if path is not None else None,
        environ=env,
        overrides=overrides,
        source_file=path,
        check_secrets=check_secrets,
    )


def config_from_data(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    source_file: Path | None = None,
    check_secrets: bool = True,
) -> Config:
    """Check an already-parsed file mapping merged with the environment and overrides."""
    return _Builder(
        data=data,
        file_base=base_dir or Path.cwd(),
        environ=os.environ if environ is None else environ,
        overrides=overrides or {},
        source_file=source_file,
        check_secrets=check_secrets,
    ).build()


@attrs.define
class _Builder:
    data: Mapping[str, Any]
    file_base: Path
    environ: Mapping[str, str]
    overrides: Mapping[str, Any]
    source_file: Path | None
    check_secrets: bool
    problems: list[Problem] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)

    def bad(self, key: str, problem: str, fix: str) -> None:
        self.problems.append(Problem(key, problem, fix))

    def build(self) -> Config:
        values: dict[str, Any] = {}
        for key in self.data:
            if not isinstance(key, str) or key not in _FILE_KEYS:
                self.bad(
                    _describe(key) if not isinstance(key, str) else key,
                    "unknown key",
                    _closest(str(key), _FILE_KEYS),
                )
        for name, parse in _SCALARS.items():
            if name in self.data:
                self.scalar(values, name, self.data[name], name, parse, self.file_base, env=False)
        env_used = self.scan_environ(values)
        cli_used: list[str] = []
        for name, value in self.overrides.items():
            flag = "--" + name.replace("_", "-")
            if name not in _SCALARS:
                self.bad(flag, "not a setting", _closest(name, tuple(_SCALARS)))
            elif value is not None:
                self.scalar(values, name, value, flag, _SCALARS[name], Path.cwd(), env=True)
                cli_used.append(flag)
        if "data_dir" not in values:
            values["data_dir"] = self.file_base / DEFAULT_DATA_DIR
        sandbox = values.get("sandbox", "auto")
        agents = self.agents(sandbox)
        values["source"] = self.source(env_used, cli_used)
        config = Config(agents=agents, **values)
        self.check_whole(config)
        if self.problems:
            raise ConfigError(self.problems)
        return attrs.evolve(config, warnings=tuple(self.warnings))

    def scalar(
        self,
        values: dict[str, Any],
        name: str,
        raw: object,
        key: str,
        parse: _Parse,
        base: Path,
        *,
        env: bool,
    ) -> None:
        if raw is None and name in _NULLABLE:
            values[name] = None
            return
        try:
            values[name] = parse(raw, base, from_env=env)
        except _Bad as exc:
            self.bad(key, exc.problem, exc.fix)

    def scan_environ(self, values: dict[str, Any]) -> list[str]:
        used = []
        known = (*_SPECIAL_ENV, *(n.upper() for n in _SCALARS))
        for var, raw in self.environ.items():
            if not var.startswith(ENV_PREFIX):
                continue
            suffix = var[len(ENV_PREFIX) :]
            name = suffix.lower()
            if name in _SCALARS:
                if not raw.strip():  # set but empty: as if unset (a common shell idiom)
                    continue
                self.scalar(values, name, raw, var, _SCALARS[name], Path.cwd(), env=True)
                used.append(var)
            elif suffix not in _SPECIAL_ENV:
                match = difflib.get_close_matches(suffix, known, n=1, cutoff=0.75)
                if match:
                    self.warnings.append(
                        f"{var}: not a setting, ignored — did you mean {ENV_PREFIX}{match[0]}?"
                    )
        return sorted(used)

    def source(self, env_used: Sequence[str], cli_used: Sequence[str]) -> str:
        parts = []
        if self.source_file is not None:
            parts.append(f"file {self.source_file}")
        if env_used:
            parts.append(f"env ({', '.join(env_used)})")
        if cli_used:
            parts.append(f"command line ({', '.join(cli_used)})")
        return " + ".join(parts) if parts else "defaults"

    # --- agents ---------------------------------------------------------------------------------

    def agents(self, sandbox: str) -> tuple[AgentSettings, ...]:
        raw = self.data.get("agents")
        if raw is None:
            return self.env_agent(sandbox)
        if not isinstance(raw, list):
            self.bad(
                "agents",
                f"expected a list of agents, got {type(raw).__name__}",
                "write agents as a list: agents: [{name: ..., token_env: ...}]",
            )
            return ()
        if not raw:
            return self.env_agent(sandbox)
        built: list[AgentSettings] = []
        seen: set[str] = set()
        for i, entry in enumerate(raw):
            agent = self.agent(entry, f"agents[{i}]", sandbox)
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and AGENT_NAME.fullmatch(name):
                if name in seen:
                    self.bad(
                        f"agents[{i}].name",
                        f"another agent is already called {name}",
                        "give each agent its own name",
                    )
                seen.add(name)
            if agent is not None:
                built.append(agent)
        return tuple(built)

    def env_agent(self, sandbox: str) -> tuple[AgentSettings, ...]:
        token_var = ENV_PREFIX + "TOKEN"
        name_var = ENV_PREFIX + "AGENT"
        token = self.environ.get(token_var) or None
        name = self.environ.get(name_var) or None
        if token is None and name is None:
            return ()
        name = name or "default"
        if not AGENT_NAME.fullmatch(name):
            self.bad(
                name_var,
                f"{_describe(name)} is not a valid agent name",
                "use 1-32 of a-z, 0-9, _ and -",
            )
            return ()
        if token is None:
            return (AgentSettings(name=name, default=True),)
        token = token.strip() if self.check_secrets and sandbox != "on" else None
        return (AgentSettings(name=name, token=token, token_env=token_var, default=True),)

    def agent(self, entry: object, where: str, sandbox: str) -> AgentSettings | None:
        if not isinstance(entry, dict):
            self.bad(
                where,
                f"expected a mapping, got {type(entry).__name__}",
                "write each agent as {name: ..., token_env: ...}",
            )
            return None
        count = len(self.problems)
        for key in entry:
            if key == "token":
                self.bad(
                    f"{where}.token",
                    "a token written in the config file is refused "
                    "(secrets do not belong in files that get committed)",
                    "put the token in an environment variable and name it with token_env, "
                    "or in a file readable only by you (chmod 600) named by token_file; "
                    "then reset the token in the Discord developer portal",
                )
            elif not isinstance(key, str) or key not in _AGENT_KEYS:
                self.bad(f"{where}.{key}", "unknown key", _closest(str(key), _AGENT_KEYS))
        name = entry.get("name")
        if not isinstance(name, str) or not AGENT_NAME.fullmatch(name):
            self.bad(
                f"{where}.name",
                "missing" if name is None else f"{_describe(name)} is not a valid name",
                "give a name of 1-32 characters from a-z, 0-9, _ and -",
            )
            name = None
        token_env = self.opt_text(entry, "token_env", where)
        if token_env is not None and redact(token_env) != token_env:
            self.bad(
                f"{where}.token_env",
                "this looks like a token itself, written in the file",
                "token_env takes the NAME of a variable holding the token (such as "
                "SCRIBE_TOKEN); reset the token in the Discord developer portal",
            )
            token_env = None
        elif token_env is not None and not ENV_NAME.fullmatch(token_env):
            self.bad(
                f"{where}.token_env",
                f"{_describe(token_env)} is not a variable name",
                "name an environment variable such as SCRIBE_TOKEN",
            )
            token_env = None
        token_file: Path | None = None
        if entry.get("token_file") is not None:
            try:
                token_file = cast("Path", _path(entry["token_file"], self.file_base))
            except _Bad as exc:
                self.bad(f"{where}.token_file", exc.problem, exc.fix)
        if token_env is not None and token_file is not None:
            self.bad(where, "both token_env and token_file are set", "keep only one of them")
        token = None
        if self.check_secrets and sandbox != "on":
            if token_env is not None:
                token = self.token_from_env(token_env, f"{where}.token_env")
            elif token_file is not None:
                token = self.token_from_file(token_file, f"{where}.token_file")
        hashes = self.hashes(entry.get("api_keys"), f"{where}.api_keys")
        caps = self.capabilities(entry.get("capabilities"), f"{where}.capabilities")
        rate = self.budget(entry.get("budget"), f"{where}.budget")
        default = entry.get("default", False)
        if not isinstance(default, bool):
            self.bad(
                f"{where}.default",
                f"expected true or false, got {_describe(default)}",
                "write default: true on at most one agent",
            )
            default = False
        sandbox_bot = self.opt_text(entry, "sandbox_bot", where)
        profile = self.profile(entry.get("profile"), f"{where}.profile")
        tools = None
        if entry.get("tools") is not None:
            tools = self.tool_names(entry["tools"], f"{where}.tools")
            if entry.get("grant") or entry.get("profile") is not None:
                self.warnings.append(
                    f"{where}: tools is set, so profile and grant are ignored (tools lists "
                    "exactly the tools the agent gets)"
                )
        grant = self.tool_names(entry.get("grant"), f"{where}.grant")
        deny = self.tool_names(entry.get("deny"), f"{where}.deny")
        channels = self.channels(entry.get("channels"), f"{where}.channels")
        dms = entry.get("dms", True)
        if not isinstance(dms, bool):
            self.bad(
                f"{where}.dms",
                f"expected true or false, got {_describe(dms)}",
                "write dms: true (direct messages allowed) or dms: false",
            )
            dms = True
        quotas = self.quotas(entry.get("quotas"), f"{where}.quotas")
        if name is None or len(self.problems) > count:
            return None
        return AgentSettings(
            name=name,
            token=token,
            token_env=token_env,
            token_file=token_file,
            sandbox_bot=sandbox_bot,
            api_key_hashes=hashes,
            message_content=caps["message_content"],
            members=caps["members"],
            presences=caps["presences"],
            budget_rate=rate,
            default=default,
            profile=profile,
            tools=tools,
            grant=grant,
            deny=deny,
            channels=channels,
            dms=dms,
            quotas=quotas,
        )

    # --- policy keys ----------------------------------------------------------------------------

    def profile(self, raw: object, key: str) -> str:
        if raw is None:
            return DEFAULT_PROFILE
        if isinstance(raw, str) and raw.strip().lower() in PROFILES:
            return raw.strip().lower()
        self.bad(key, f"unknown profile {_describe(raw)}", _closest(str(raw), tuple(PROFILES)))
        return DEFAULT_PROFILE

    def tool_names(self, raw: object, key: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            self.bad(
                key,
                f"expected a list of tool names, got {type(raw).__name__}",
                "write a list such as [pin_message, unpin_message]",
            )
            return ()
        names = []
        for i, item in enumerate(raw):
            if isinstance(item, str) and item.strip() in KNOWN_TOOLS:
                names.append(item.strip())
                continue
            near = closest_tool(str(item)) if isinstance(item, str) else None
            self.bad(
                f"{key}[{i}]",
                f"unknown tool {_describe(item)}",
                f"did you mean {near}?"
                if near
                else "use a tool name from docs/policy.md (the tool catalog)",
            )
        return tuple(dict.fromkeys(names))

    def channel_rules(self, raw: object, key: str, *, guilds: bool) -> ChannelRules:
        known = _CHANNEL_KEYS if guilds else _CHANNEL_KEYS[:2]
        if not isinstance(raw, dict):
            self.bad(
                key,
                f"expected a mapping, got {type(raw).__name__}",
                'write {allow: ["bot-*", "<channel id>"], deny: [staff]}',
            )
            return ChannelRules()
        for name in raw:
            if name not in known:
                self.bad(f"{key}.{name}", "unknown key", _closest(str(name), known))
        lists: dict[str, tuple[str, ...]] = {}
        for which in ("allow", "deny"):
            value = raw.get(which)
            if value is None:
                lists[which] = ()
                continue
            if isinstance(value, str | int) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, list) or not all(
                (isinstance(v, str) and v.strip()) or (isinstance(v, int) and v > 0) for v in value
            ):
                self.bad(
                    f"{key}.{which}",
                    f"expected a list of channel ids or name patterns, got {_describe(value)}",
                    'write a list such as ["bot-*", "123456789012345678"] (ids as strings)',
                )
                lists[which] = ()
                continue
            lists[which] = tuple(str(v).strip() for v in value)
        return ChannelRules(allow=lists["allow"], deny=lists["deny"])

    def channels(self, raw: object, key: str) -> ChannelAcl:
        if raw is None:
            return ChannelAcl()
        rules = self.channel_rules(raw, key, guilds=True)
        per_guild: list[tuple[str, ChannelRules]] = []
        guilds = raw.get("guilds") if isinstance(raw, dict) else None
        if guilds is not None:
            if not isinstance(guilds, dict):
                self.bad(
                    f"{key}.guilds",
                    f"expected a mapping, got {type(guilds).__name__}",
                    'write guilds: {"<guild id or name>": {allow: [...], deny: [...]}}',
                )
            else:
                for guild, sub in guilds.items():
                    per_guild.append(
                        (
                            str(guild).strip(),
                            self.channel_rules(sub, f"{key}.guilds.{guild}", guilds=False),
                        )
                    )
        return ChannelAcl(rules=rules, guilds=tuple(per_guild))

    def quotas(self, raw: object, key: str) -> Quotas:
        if raw is None:
            return Quotas()
        if not isinstance(raw, dict):
            self.bad(
                key,
                f"expected a mapping, got {type(raw).__name__}",
                "write quotas: {calls_per_minute: 60, sends_per_day: 500}",
            )
            return Quotas()
        values: dict[str, int | None] = {}
        for name, value in raw.items():
            if name not in _QUOTA_KEYS:
                self.bad(f"{key}.{name}", "unknown key", _closest(str(name), _QUOTA_KEYS))
            elif value is None:
                values[name] = None
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                values[name] = value
            else:
                self.bad(
                    f"{key}.{name}",
                    f"expected a whole number of at least 1, got {_describe(value)}",
                    "give a number such as 60, or remove the key for no limit",
                )
        return Quotas(
            calls_per_minute=values.get("calls_per_minute"),
            sends_per_day=values.get("sends_per_day"),
        )

    def opt_text(self, entry: Mapping[str, Any], key: str, where: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.bad(
            f"{where}.{key}",
            f"expected non-empty text, got {_describe(value)}",
            "give it as a quoted string",
        )
        return None

    def token_from_env(self, var: str, key: str) -> str | None:
        value = self.environ.get(var, "").strip()
        if not value:
            state = "is empty" if var in self.environ else "is not set"
            self.bad(
                key,
                f"the environment variable {var} {state}",
                f"export {var}=<bot token>, or use token_file, or run with --sandbox",
            )
            return None
        return value

    def token_from_file(self, path: Path, key: str) -> str | None:
        try:
            value = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except FileNotFoundError:
            self.bad(key, f"{path} does not exist", "check the path, or use token_env")
            return None
        except (OSError, ValueError) as exc:
            self.bad(
                key,
                f"{path} cannot be read ({type(exc).__name__})",
                "make it a UTF-8 file readable by this user (chmod 600)",
            )
            return None
        if not value:
            self.bad(key, f"{path} is empty", "write the bot token into it")
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.warnings.append(f"{key}: {path} can be read by other users — chmod 600 {path}")
        return value

    def hashes(self, raw: object, key: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.bad(
                key,
                f"expected a list of key hashes, got {type(raw).__name__}",
                'write api_keys: ["sha256:<64 hex digits>", ...]',
            )
            return ()
        out = []
        for i, item in enumerate(raw):
            if isinstance(item, str) and HASH_FORMAT.fullmatch(item.strip().lower()):
                out.append(item.strip().lower())
            elif isinstance(item, str) and item.strip().startswith("mcpd_"):
                self.bad(
                    f"{key}[{i}]",
                    "this is an API key itself, not its hash",
                    "never store keys in the config file: revoke it, create a new one with "
                    "`mcp-discord keys create`, which stores only its hash",
                )
            else:
                self.bad(
                    f"{key}[{i}]",
                    "not a key hash",
                    'write "sha256:" followed by 64 lowercase hex digits',
                )
        return tuple(out)

    def capabilities(self, raw: object, key: str) -> dict[str, bool]:
        caps = {"message_content": True, "members": False, "presences": False}
        if raw is None:
            return caps
        if not isinstance(raw, dict):
            self.bad(
                key,
                f"expected a mapping, got {type(raw).__name__}",
                "write capabilities: {message_content: true, members: false, presences: false}",
            )
            return caps
        for name, value in raw.items():
            if name not in _CAPABILITIES:
                self.bad(f"{key}.{name}", "unknown capability", _closest(str(name), _CAPABILITIES))
            elif not isinstance(value, bool):
                self.bad(
                    f"{key}.{name}",
                    f"expected true or false, got {_describe(value)}",
                    "write true or false",
                )
            else:
                caps[name] = value
        return caps

    def budget(self, raw: object, key: str) -> float | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.bad(
                key,
                f"expected a mapping, got {type(raw).__name__}",
                "write budget: {rate: 2.0} (messages per second)",
            )
            return None
        for name in raw:
            if name != "rate":
                self.bad(f"{key}.{name}", "unknown key", _closest(str(name), ("rate",)))
        rate = raw.get("rate")
        if rate is None:
            return None
        try:
            return cast("float", _positive_float(rate, self.file_base))
        except _Bad:
            self.bad(
                f"{key}.rate",
                f"expected a positive number, got {_describe(rate)}",
                "give messages per second above 0, such as 2.0, or remove budget",
            )
            return None

    # --- the whole ------------------------------------------------------------------------------

    def check_whole(self, config: Config) -> None:
        defaults = [a.name for a in config.agents if a.default]
        if len(defaults) > 1:
            self.bad(
                "agents.default",
                f"several agents are the default ({', '.join(defaults)})",
                "set default: true on one agent only",
            )
        if not config.sandbox_enabled:
            for agent in config.agents:
                if not agent.has_token_source:
                    self.bad(
                        f"agent {agent.name}",
                        "no token source and the sandbox is off",
                        "add token_env or token_file, or set sandbox: auto or on",
                    )
        if config.discord_api_url is not None and config.sandbox_enabled:
            self.bad(
                "discord_api_url",
                "is set, but the embedded sandbox is on (sandbox: on, or no agent has a token)",
                "give the agents token sources (the external sandbox's bot tokens) and set "
                "sandbox: off, or remove discord_api_url to use the embedded sandbox",
            )
        if config.sandbox_seed is not None and not _is_file(config.sandbox_seed):
            self.bad(
                "sandbox_seed",
                f"{config.sandbox_seed} is not a file",
                "check the path, or remove sandbox_seed to use the built-in seed",
            )
        if config.transport != "http" or is_loopback(config.host):
            return
        if config.auth == "none":
            self.bad(
                "auth",
                f"auth: none with host {config.host}, which is reachable from other machines",
                "use auth: api_key, or bind host: 127.0.0.1",
            )
        elif self.check_secrets and not self.any_key(config):
            self.bad(
                "auth",
                f"binding beyond loopback ({config.host}) with no auth configured "
                "refuses to start: no agent has an API key",
                "create one with `mcp-discord keys create --agent NAME`, or bind host: 127.0.0.1",
            )

    def any_key(self, config: Config) -> bool:
        from mcp_edge.keys import load_keys_file

        if any(agent.api_key_hashes for agent in config.agents):
            return True
        try:
            records = load_keys_file(config.keys_path)
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return True
        names = {a.name for a in config.agents}
        now = time.time()
        return any(
            r.agent in names and (r.expires_at is None or r.expires_at > now) for r in records
        )
