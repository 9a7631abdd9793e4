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
from ._permissions import Permission, base_permissions, channel_permissions

PERMISSION_BITS: Mapping[str, int] = {
    name.lower(): flag.value for name, flag in Permission.__members__.items()
}
"""Every Discord permission by its lower-case name (``"send_messages"``), as seed files write it."""

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


def role_permissions(guild: Guild) -> dict[int, int]:
    """Every role's permission bits by role id (@everyone's id is the guild's)."""
    return {role.id: role.permissions for role in guild.roles.values()}


def permissions_for(
    guild: Guild,
    member: Member,
    channel: Channel | None,
    parent: Channel | None,
    roles: Mapping[int, int] | None = None,
) -> int:
    """The member's permissions in ``channel`` (guild-wide when ``channel`` is None).

    ``parent`` is the thread's parent channel when ``channel`` is a thread (its overwrites
    apply). ``roles`` is :func:`role_permissions` of the guild when the caller already has it
    (one fan-out asks for many members). The arithmetic is ``_permissions``' (base, then
    overwrites, then timeout rules).
    """
    base = base_permissions(
        guild_id=guild.id,
        owner_id=guild.owner_id,
        member_id=member.user_id,
        member_role_ids=member.roles,
        role_permissions=role_permissions(guild) if roles is None else roles,
    )
    if channel is None:
        return base
    in_thread = channel.is_thread
    source = parent if in_thread and parent is not None else channel
    until = member.communication_disabled_until
    return channel_permissions(
        base,
        guild_id=guild.id,
        member_id=member.user_id,
        member_role_ids=member.roles,
        overwrites=source.permission_overwrites,  # validated when made: read as they are
        timed_out=until is not None and until > dt.datetime.now(dt.UTC),
        in_thread=in_thread,
    )
