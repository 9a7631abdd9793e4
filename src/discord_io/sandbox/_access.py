"""Who may see and do what in a channel: the sandbox's one permission check.

Discord computes a member's permissions in a channel from the guild's @everyone role, the
member's roles (ADMINISTRATOR short-circuits to everything, the owner always has everything),
then the channel's overwrites in a fixed order: @everyone, the member's roles together, the
member. A thread takes its parent channel's overwrites.

:func:`permissions_for` adapts the sandbox's objects to ``_permissions``, which does the
arithmetic. ``PERMISSION_BITS`` names the bits for seed files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from ._model import Channel, Guild, Member
from ._permissions import Overwrite, base_permissions, channel_permissions

PERMISSION_BITS: Mapping[str, int] = {
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
    "send_polls": 1 << 49,
}
ALL_PERMISSIONS = 0
for _bit in PERMISSION_BITS.values():
    ALL_PERMISSIONS |= _bit

VIEW_CHANNEL = PERMISSION_BITS["view_channel"]
SEND_MESSAGES = PERMISSION_BITS["send_messages"]
SEND_MESSAGES_IN_THREADS = PERMISSION_BITS["send_messages_in_threads"]
MANAGE_MESSAGES = PERMISSION_BITS["manage_messages"]
READ_MESSAGE_HISTORY = PERMISSION_BITS["read_message_history"]
ADMINISTRATOR = PERMISSION_BITS["administrator"]

DEFAULT_EVERYONE = sum(
    PERMISSION_BITS[name]
    for name in (
        "create_instant_invite",
        "add_reactions",
        "stream",
        "view_channel",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "mention_everyone",
        "use_external_emojis",
        "connect",
        "speak",
        "use_vad",
        "change_nickname",
        "use_application_commands",
        "request_to_speak",
        "create_public_threads",
        "create_private_threads",
        "use_external_stickers",
        "send_messages_in_threads",
        "use_embedded_activities",
        "send_polls",
    )
)
"""What @everyone may do in a new Discord guild."""


def permission_value(names: Iterable[str]) -> int:
    """The bit set for permission names (raises KeyError naming an unknown one)."""
    value = 0
    for name in names:
        value |= PERMISSION_BITS[name]
    return value


def permissions_for(
    guild: Guild, member: Member, channel: Channel | None, parent: Channel | None
) -> int:
    """The member's permissions in ``channel`` (guild-wide when ``channel`` is None).

    ``parent`` is the thread's parent channel when ``channel`` is a thread (its overwrites
    apply). The arithmetic is ``_permissions``' (base, then overwrites, then timeout rules).
    """
    base = base_permissions(
        guild_id=guild.id,
        owner_id=guild.owner_id,
        member_id=member.user_id,
        member_role_ids=member.roles,
        role_permissions={role.id: role.permissions for role in guild.roles.values()},
    )
    if channel is None:
        return base
    source = parent if channel.is_thread and parent is not None else channel
    until = member.communication_disabled_until
    return channel_permissions(
        base,
        guild_id=guild.id,
        member_id=member.user_id,
        member_role_ids=member.roles,
        overwrites=[
            Overwrite(id=o.id, type=o.type, allow=o.allow, deny=o.deny)
            for o in source.permission_overwrites
        ],
        timed_out=until is not None and until > dt.datetime.now(dt.UTC),
        in_thread=channel.is_thread,
    )
