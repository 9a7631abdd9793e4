"""Gateway intents derived from what an agent is configured to do (its AgentCapabilities).

Ask for no more than the agent needs: every intent costs events to parse (CPU and memory for
each of a hundred agents) and the privileged ones must be enabled per bot application.
``guilds`` is always on: it carries the guild, channel and role state the client routes by.
"""

from __future__ import annotations

import discord

from actors.discord_port import AgentCapabilities

# Application flags (``GET /oauth2/applications/@me``) that grant each privileged intent,
# full or "limited" (bots in fewer than 100 guilds).
_GRANTING_FLAGS: dict[str, int] = {
    "presences": 1 << 12 | 1 << 13,
    "members": 1 << 14 | 1 << 15,
    "message_content": 1 << 18 | 1 << 19,
}
_PORTAL_NAMES: dict[str, str] = {
    "presences": "presences",
    "members": "guild_members",
    "message_content": "message_content",
}


def intents_for(capabilities: AgentCapabilities) -> discord.Intents:
    """The smallest set of intents that serves ``capabilities``."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True  # not privileged; keeps list_voice_states current
    if capabilities.read_messages:
        intents.guild_messages = True
        intents.dm_messages = capabilities.direct_messages
        intents.message_content = capabilities.message_content
    if capabilities.reactions:
        intents.guild_reactions = True
        intents.dm_reactions = capabilities.direct_messages
    intents.members = capabilities.members
    intents.presences = capabilities.presences
    return intents


def privileged(intents: discord.Intents) -> tuple[str, ...]:
    """The privileged intents among ``intents``, by the names the developer portal uses."""
    return tuple(_PORTAL_NAMES[flag] for flag in _GRANTING_FLAGS if getattr(intents, flag))


def missing_privileged(intents: discord.Intents, application_flags: int | None) -> tuple[str, ...]:
    """The privileged intents asked for that the application's flags do not grant.

    All of those asked for when the flags are unknown (Discord only says "4014").
    """
    asked = privileged(intents)
    if not application_flags:
        return asked
    missing = tuple(
        _PORTAL_NAMES[flag]
        for flag, bits in _GRANTING_FLAGS.items()
        if getattr(intents, flag) and not application_flags & bits
    )
    return missing or asked
