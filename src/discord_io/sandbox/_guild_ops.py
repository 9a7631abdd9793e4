"""Guild channels (create, reorder), voice states and active threads, as Discord does them.

The rules (permissions, hierarchy, audit log, who hears what) are ``_guild_rules``';
``change`` and ``record_audit`` are re-exported here for the channel, thread and webhook
operations that record audit log entries too.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from . import _errors as errors
from ._access import ADMINISTRATOR
from ._errors import DiscordError
from ._guild_rules import (
    MANAGE_CHANNELS,
    MANAGE_ROLES,
    MAX_CHANNELS,
    VOICE_TYPES,
    AuditAction,
    change,
    guild_for,
    guild_permissions,
    publish_channel,
    record_audit,
)
from ._model import (
    Channel,
    ChannelType,
    JSONObject,
    PermissionOverwrite,
    VoiceState,
)
from ._state import SandboxState

__all__ = [
    "ChannelMove",
    "NewChannel",
    "active_threads",
    "change",
    "create_channel",
    "record_audit",
    "reorder_channels",
    "voice_state",
]

# ----------------------------------------------------------------------------- channels


@attrs.frozen
class NewChannel:
    """A checked ``POST /guilds/{id}/channels`` body."""

    name: str
    type: ChannelType = ChannelType.GUILD_TEXT
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    parent_id: int | None = None
    position: int | None = None
    bitrate: int | None = None
    user_limit: int | None = None
    overwrites: tuple[PermissionOverwrite, ...] = ()
    available_tags: tuple[JSONObject, ...] = ()


def _channel_name(kind: ChannelType, name: str) -> str:
    """Discord's text-like channel names: lower case, spaces as dashes."""
    if kind in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM):
        return "-".join(name.lower().split())
    return name


def create_channel(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    new: NewChannel,
    *,
    reason: str | None = None,
) -> Channel:
    """Create a guild channel (MANAGE_CHANNELS); dispatches CHANNEL_CREATE."""
    guild = guild_for(state, actor_id, guild_id)
    have = guild_permissions(guild, actor_id)
    parent: Channel | None = None
    if new.parent_id is not None:
        parent = state.channels.get(new.parent_id)
        if (
            parent is None
            or parent.guild_id != guild.id
            or parent.type != ChannelType.GUILD_CATEGORY
            or new.type == ChannelType.GUILD_CATEGORY
        ):
            raise errors.form_error(
                {
                    "parent_id": [
                        ("CHANNEL_PARENT_INVALID", "Category does not exist or is not a category.")
                    ]
                }
            )
        if not have & MANAGE_CHANNELS and not (
            state.permissions_for(actor_id, parent) & MANAGE_CHANNELS
        ):
            raise errors.missing_permissions()
    elif not have & MANAGE_CHANNELS:
        raise errors.missing_permissions()
    if not have & ADMINISTRATOR:
        for overwrite in new.overwrites:
            if (overwrite.allow | overwrite.deny) & ~have or (
                (overwrite.allow | overwrite.deny) & MANAGE_ROLES
            ):
                raise errors.missing_permissions()
    if sum(1 for c in state.guild_channels(guild) if not c.is_thread) >= MAX_CHANNELS:
        raise DiscordError(400, 30013, "Maximum number of guild channels reached (500)")
    siblings = [
        c
        for c in state.guild_channels(guild)
        if not c.is_thread and _sort_group(c.type) == _sort_group(new.type)
    ]
    position = new.position
    if position is None:
        position = max((c.position for c in siblings), default=-1) + 1
    channel = Channel(
        id=state.snowflakes.next(),
        type=new.type,
        guild_id=guild.id,
        name=_channel_name(new.type, new.name),
        position=position,
        parent_id=new.parent_id,
        topic=new.topic,
        nsfw=new.nsfw,
        rate_limit_per_user=new.rate_limit_per_user,
        permission_overwrites=list(new.overwrites),
    )
    if new.bitrate is not None:
        channel.bitrate = new.bitrate
    if new.user_limit is not None:
        channel.user_limit = new.user_limit
    for tag in new.available_tags:
        channel.available_tags.append(
            {
                "id": str(state.snowflakes.next()),
                "name": str(tag.get("name", "")),
                "moderated": bool(tag.get("moderated", False)),
                "emoji_id": None if tag.get("emoji_id") is None else str(tag["emoji_id"]),
                "emoji_name": tag.get("emoji_name"),
            }
        )
    state.add_channel(channel)
    publish_channel(state, "CHANNEL_CREATE", channel)
    changes = [
        change("name", new=channel.name),
        change("type", new=int(channel.type)),
        change(
            "permission_overwrites",
            new=[
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in channel.permission_overwrites
            ],
        ),
        change("nsfw", new=channel.nsfw),
    ]
    if channel.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        changes.append(change("rate_limit_per_user", new=channel.rate_limit_per_user))
        if channel.topic:
            changes.append(change("topic", new=channel.topic))
    record_audit(
        state,
        guild,
        AuditAction.CHANNEL_CREATE,
        actor_id,
        channel.id,
        reason=reason,
        changes=changes,
    )
    return channel


def _sort_group(kind: ChannelType) -> int:
    """Discord sorts text-like channels, voice-like channels and categories separately."""
    if kind in VOICE_TYPES:
        return 1
    if kind == ChannelType.GUILD_CATEGORY:
        return 2
    return 0


@attrs.frozen
class ChannelMove:
    """One entry of ``PATCH /guilds/{id}/channels``."""

    id: int
    position: int | None = None
    parent_id: int | None = None
    moves_parent: bool = False
    """Whether ``parent_id`` was given (None then means 'out of its category')."""
    lock_permissions: bool = False


def reorder_channels(
    state: SandboxState,
    actor_id: int,
    guild_id: int,
    moves: Sequence[ChannelMove],
    *,
    reason: str | None = None,
) -> list[Channel]:
    """Reposition channels (MANAGE_CHANNELS); dispatches CHANNEL_UPDATE for each changed."""
    guild = guild_for(state, actor_id, guild_id)
    have = guild_permissions(guild, actor_id)
    if sum(1 for m in moves if m.moves_parent) > 1:
        raise DiscordError(400, 40009, "Only one channel can have a parent_id modified at a time")
    targets: list[tuple[ChannelMove, Channel]] = []
    for move in moves:
        channel = state.channels.get(move.id)
        if channel is None or channel.guild_id != guild.id or channel.is_thread:
            raise errors.unknown("Channel")
        targets.append((move, channel))
    for move, channel in targets:
        if move.moves_parent:
            if not state.can_view(actor_id, channel):
                raise errors.missing_access()
            if not state.permissions_for(actor_id, channel) & MANAGE_CHANNELS:
                raise errors.missing_access()
            if move.parent_id is not None:
                parent = state.channels.get(move.parent_id)
                if (
                    parent is None
                    or parent.guild_id != guild.id
                    or parent.type != ChannelType.GUILD_CATEGORY
                    or channel.type == ChannelType.GUILD_CATEGORY
                ):
                    raise errors.form_error(
                        {
                            "parent_id": [
                                (
                                    "CHANNEL_PARENT_INVALID",
                                    "Category does not exist or is not a category.",
                                )
                            ]
                        }
                    )
                if not state.permissions_for(actor_id, parent) & MANAGE_CHANNELS:
                    raise errors.missing_access()
            elif not have & MANAGE_CHANNELS:
                raise errors.missing_access()
            if move.lock_permissions and not have & MANAGE_ROLES:
                raise errors.missing_permissions()
        elif not have & MANAGE_CHANNELS:
            parent = state.channels.get(channel.parent_id) if channel.parent_id else None
            if parent is None or not state.permissions_for(actor_id, parent) & MANAGE_CHANNELS:
                raise errors.missing_permissions()
    changed: list[Channel] = []
    for move, channel in targets:
        changes: list[JSONObject] = []
        if move.position is not None and move.position != channel.position:
            changes.append(change("position", channel.position, move.position))
            channel.position = move.position
        if move.moves_parent and move.parent_id != channel.parent_id:
            changes.append(
                change(
                    "parent_id",
                    None if channel.parent_id is None else str(channel.parent_id),
                    None if move.parent_id is None else str(move.parent_id),
                )
            )
            channel.parent_id = move.parent_id
            if move.lock_permissions and move.parent_id is not None:
                channel.permission_overwrites = list(
                    state.channels[move.parent_id].permission_overwrites
                )
        if changes:
            changed.append(channel)
            record_audit(
                state,
                guild,
                AuditAction.CHANNEL_UPDATE,
                actor_id,
                channel.id,
                reason=reason,
                changes=changes,
            )
    for channel in changed:
        publish_channel(state, "CHANNEL_UPDATE", channel)
    return changed


# ----------------------------------------------------------------------------- voice and threads


def voice_state(state: SandboxState, actor_id: int, guild_id: int, user_id: int) -> VoiceState:
    """A member's voice state (10065 Unknown Voice State when not connected)."""
    guild = guild_for(state, actor_id, guild_id)
    found = guild.voice_states.get(user_id)
    if found is None:
        raise DiscordError(404, 10065, "Unknown Voice State")
    return found


def active_threads(state: SandboxState, actor_id: int, guild_id: int) -> list[Channel]:
    """The guild's unarchived threads the actor can see, newest (highest id) first."""
    guild = guild_for(state, actor_id, guild_id)
    threads = [
        c
        for c in state.guild_channels(guild)
        if c.thread is not None and not c.thread.archived and state.can_view(actor_id, c)
    ]
    return sorted(threads, key=lambda c: c.id, reverse=True)
