"""The embedded default: with no Discord token configured, serve against the sandbox Discord.

``mcp-discord serve`` with no agent that has a token source (or with ``--sandbox``) starts the
sandbox (:class:`~discord_io.sandbox.Sandbox`, the default seed or ``sandbox_seed``) in the same
process, on ``sandbox_port`` (0: a free port), and says so in the log. Its agents are the
configured ones, each logging in as the seed bot named by ``sandbox_bot`` (or its own name); with
no agents configured, every bot of the seed becomes an agent of the same name, with the
capabilities its granted privileged intents allow, and a profile (:data:`DEMO_PROFILES`) so the
demo shows the policy at work: the first (default) agent is an ``admin``, the second a
``moderator``, the others ``chatter`` s.

Demo API keys: an agent with no key gets one, generated on first start and kept (mode 0600) in
``data_dir/sandbox-demo-keys.json`` so a pasted client config keeps working across restarts.
They are printed in the banner, because that is their whole purpose; they only ever open the
sandbox's agents. Binding beyond loopback in sandbox mode is refused unless keys were configured
by the operator (a printed key is no secret).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from discord_io.sandbox import Intent, Sandbox, Seed, default_seed
from mcp_edge.config import AgentSettings, Config, ConfigError
from mcp_edge.keys import generate_key, hash_key

DEMO_KEYS_FILE = "sandbox-demo-keys.json"
DEMO_PROFILES = ("admin", "moderator", "chatter")
"""The profiles of the seed's bots as demo agents, in seed order (then chatter)."""


def load_seed(config: Config) -> Seed:
    if config.sandbox_seed is None:
        return default_seed()
    return Seed.load(config.sandbox_seed)


def sandbox_agents(config: Config, sandbox: Sandbox) -> tuple[AgentSettings, ...]:
    """The agents to run on ``sandbox``: the configured ones, else one per seed bot."""
    bots = {bot.name: bot for bot in sandbox.bots}
    if not config.agents:
        agents = [
            AgentSettings(
                name=bot.name,
                message_content=bool(bot.granted_intents & Intent.MESSAGE_CONTENT),
                members=bool(bot.granted_intents & Intent.GUILD_MEMBERS),
                presences=bool(bot.granted_intents & Intent.GUILD_PRESENCES),
                default=index == 0,
                profile=DEMO_PROFILES[index] if index < len(DEMO_PROFILES) else "chatter",
            )
            for index, bot in enumerate(sandbox.bots)
        ]
    else:
        agents = list(config.agents)
    resolved = []
    for agent in agents:
        bot_name = agent.sandbox_bot or agent.name
        bot = bots.get(bot_name)
        if bot is None:
            raise ConfigError.one(
                f"agents.{agent.name}.sandbox_bot",
                f"the sandbox seed has no bot named {bot_name!r}",
                f"use one of {', '.join(sorted(bots))}, or add the bot to the seed",
            )
        resolved.append(attrs.evolve(agent, token=bot.token))
    return tuple(resolved)


def demo_keys(data_dir: Path, agents: Sequence[AgentSettings]) -> dict[str, str]:
    """Per agent without a configured key, its demo key (made and saved on first use)."""
    path = data_dir / DEMO_KEYS_FILE
    known: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text("utf-8"))
            known = {str(k): str(v) for k, v in loaded.items()}
        except (ValueError, AttributeError):
            known = {}
    wanted = {a.name for a in agents if not a.api_key_hashes}
    keys = {name: known.get(name) or generate_key() for name in sorted(wanted)}
    if keys != {k: v for k, v in known.items() if k in wanted}:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(keys, out, indent=2)
        os.replace(tmp, path)
    return keys


def with_demo_keys(
    agents: Sequence[AgentSettings], keys: Mapping[str, str]
) -> tuple[AgentSettings, ...]:
    return tuple(
        attrs.evolve(a, api_key_hashes=(hash_key(keys[a.name]),)) if a.name in keys else a
        for a in agents
    )


def client_config(url: str, keys: Mapping[str, str]) -> str:
    """A ready-to-paste MCP client config (``mcpServers``) with one entry per demo agent."""
    servers = {
        f"discord-{name}": {
            "type": "http",
            "url": url,
            "headers": {"Authorization": f"Bearer {key}"},
        }
        for name, key in keys.items()
    }
    return json.dumps({"mcpServers": servers}, indent=2)


__all__ = [
    "DEMO_KEYS_FILE",
    "client_config",
    "demo_keys",
    "load_seed",
    "sandbox_agents",
    "with_demo_keys",
]
