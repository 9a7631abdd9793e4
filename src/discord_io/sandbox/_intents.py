"""Gateway intents: which dispatches a session asked for, and which need Discord's approval.

A bot sends its intents in IDENTIFY. Bits Discord does not define close the socket with 4013; a
privileged intent (members, presences, message content) the application was not granted closes
it with 4014. In the sandbox the seed grants privileged intents per bot.
"""

from __future__ import annotations

import enum


class Intent(enum.IntFlag):
    """Discord's gateway intent bits (v10)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


ALL_INTENTS = 0
for _intent in Intent:
    ALL_INTENTS |= _intent.value

PRIVILEGED = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT
"""Intents a bot may only use when its application was granted them."""

PRIVILEGED_NAMES: dict[str, Intent] = {
    "guild_members": Intent.GUILD_MEMBERS,
    "guild_presences": Intent.GUILD_PRESENCES,
    "message_content": Intent.MESSAGE_CONTENT,
}
"""Names a seed file uses to grant privileged intents."""

# Application flags Discord sets when a privileged intent is enabled for an application.
_APPLICATION_FLAG = {
    Intent.GUILD_PRESENCES: 1 << 12,  # GATEWAY_PRESENCE
    Intent.GUILD_MEMBERS: 1 << 14,  # GATEWAY_GUILD_MEMBERS
    Intent.MESSAGE_CONTENT: 1 << 18,  # GATEWAY_MESSAGE_CONTENT
}


def application_flags(granted: int) -> int:
    """The application ``flags`` that advertise the privileged intents in ``granted``."""
    flags = 0
    for intent, flag in _APPLICATION_FLAG.items():
        if granted & intent:
            flags |= flag
    return flags
