"""Discord's permission flags by name: the table, and conversions between names and bits.

A permission set travels as a decimal string of bits (``"2048"``); people and models think in
names (``send_messages``). Names here are Discord's own (``topics/permissions.mdx``), lower
case; discord.py's other spellings (``read_messages``, ``manage_emojis``, ``use_voice_activation``
...) are accepted as aliases, so a name taken from either documentation works.

- :func:`parse_permissions` turns names into bits, refusing an unknown name with a
  ``ValueError`` that names the field and suggests the closest real names;
- :func:`permission_names` turns bits into names, in bit order (a bit Discord added later and
  this table lacks comes back as ``unknown_bit_<n>``, so nothing is lost silently);
- :func:`parse_bits` reads Discord's decimal string.

A test holds the table to ``discord.Permissions.VALID_FLAGS``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Final

PERMISSIONS: Final[Mapping[str, int]] = {
    "create_instant_invite": 1 << 0,
    "kick_members": 1 << 1,
    "ban_members": 1 << 2,
    "administrator": 1 << 3,
    "manage_channels": 1 << 4,
    "manage_guild": 1 << 5,
    "add_reactions": 1 << 6,
    "view_audit_log": 1 << 7,
    "priority_speaker": 1 << 8,
    "stream": 1 << 9,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "send_tts_messages": 1 << 12,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_external_emojis": 1 << 18,
    "view_guild_insights": 1 << 19,
    "connect": 1 << 20,
    "speak": 1 << 21,
    "mute_members": 1 << 22,
    "deafen_members": 1 << 23,
    "move_members": 1 << 24,
    "use_vad": 1 << 25,
    "change_nickname": 1 << 26,
    "manage_nicknames": 1 << 27,
    "manage_roles": 1 << 28,
    "manage_webhooks": 1 << 29,
    "manage_guild_expressions": 1 << 30,
    "use_application_commands": 1 << 31,
    "request_to_speak": 1 << 32,
    "manage_events": 1 << 33,
    "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "use_external_stickers": 1 << 37,
    "send_messages_in_threads": 1 << 38,
    "use_embedded_activities": 1 << 39,
    "moderate_members": 1 << 40,
    "view_creator_monetization_analytics": 1 << 41,
    "use_soundboard": 1 << 42,
    "create_guild_expressions": 1 << 43,
    "create_events": 1 << 44,
    "use_external_sounds": 1 << 45,
    "send_voice_messages": 1 << 46,
    "set_voice_channel_status": 1 << 48,
    "send_polls": 1 << 49,
    "use_external_apps": 1 << 50,
    "pin_messages": 1 << 51,
    "bypass_slowmode": 1 << 52,
}
"""Discord's permission names (lower case) and their bits; bit 47 is unassigned."""

ALIASES: Final[Mapping[str, str]] = {
    "read_messages": "view_channel",
    "external_emojis": "use_external_emojis",
    "use_voice_activation": "use_vad",
    "manage_permissions": "manage_roles",
    "manage_expressions": "manage_guild_expressions",
    "manage_emojis": "manage_guild_expressions",
    "manage_emojis_and_stickers": "manage_guild_expressions",
    "external_stickers": "use_external_stickers",
    "create_expressions": "create_guild_expressions",
    "create_polls": "send_polls",
    "timeout_members": "moderate_members",
    "manage_server": "manage_guild",
}
"""Other spellings (mostly discord.py's attribute names) → Discord's name."""

ALL_PERMISSIONS: Final[int] = sum(PERMISSIONS.values())
"""Every bit the table knows."""

_NAME_OF: Final[Mapping[int, str]] = {bit: name for name, bit in PERMISSIONS.items()}
_SEPARATORS = re.compile(r"[\s\-.]+")
_DIGITS = re.compile(r"[0-9]{1,32}")


def _normalise(name: str) -> str:
    return _SEPARATORS.sub("_", name.strip().lower())


def permission_bit(name: str, field: str = "permission") -> int:
    """The bit of one permission name (case and ``-``/space insensitive; aliases accepted).

    An unknown name raises ``ValueError`` naming ``field`` and the closest real names.
    """
    key = _normalise(name)
    key = ALIASES.get(key, key)
    bit = PERMISSIONS.get(key)
    if bit is not None:
        return bit
    close = difflib.get_close_matches(key, [*PERMISSIONS, *ALIASES], n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(ALIASES.get(c, c) for c in dict.fromkeys(close))}?"
        if close
        else "names are Discord's, like view_channel, send_messages, manage_messages"
    )
    raise ValueError(f"{field}: {name!r} is not a Discord permission; {hint}")


def parse_permissions(names: Iterable[str], field: str = "permissions") -> int:
    """The bit set of permission names (``ValueError`` naming ``field`` for an unknown one)."""
    bits = 0
    for name in names:
        bits |= permission_bit(name, field)
    return bits


def permission_names(bits: int) -> list[str]:
    """The names of the bits set in ``bits``, in bit order (unknown bits: ``unknown_bit_<n>``)."""
    if bits < 0:
        raise ValueError(f"a permission bit set cannot be negative, got {bits}")
    return [
        _NAME_OF.get(1 << bit, f"unknown_bit_{bit}")
        for bit in range(bits.bit_length())
        if bits >> bit & 1
    ]


def parse_bits(raw: object) -> int:
    """A permission bit set as Discord sends it: a decimal string (or an int); None is 0."""
    if raw is None:
        return 0
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        return int(raw)
    raise ValueError(f"not a permission bit set: {raw!r}")


__all__ = [
    "ALIASES",
    "ALL_PERMISSIONS",
    "PERMISSIONS",
    "parse_bits",
    "parse_permissions",
    "permission_bit",
    "permission_names",
]
