"""Shared pieces of the guild-family tests: names to ids, and the seed guild.

(Every sandbox in these tests is held to Discord's OpenAPI spec by the conftest's autouse check;
``RawEvents``, ``grant`` and ``raw_request`` come from ``channel_helpers``.)
"""

from __future__ import annotations

import discord

from discord_io.sandbox import Guild, Sandbox

WATCH = discord.Intents.default() | discord.Intents(members=True)
"""A watcher's intents: the defaults plus the members intent (courier and scribe have it)."""


def seed_guild(sandbox: Sandbox) -> Guild:
    """The default seed's one guild."""
    (guild,) = sandbox.state.guilds.values()
    return guild


def user_id(sandbox: Sandbox, name: str) -> int:
    """A user's or bot's id by name."""
    for user in sandbox.state.users.values():
        if user.username == name:
            return user.id
    raise KeyError(name)


def client_guild(client: discord.Client, sandbox: Sandbox) -> discord.Guild:
    """The seed guild as the client sees it."""
    guild = client.get_guild(seed_guild(sandbox).id)
    assert guild is not None
    return guild
