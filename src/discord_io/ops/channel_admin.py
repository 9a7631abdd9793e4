"""Channel administration: create, change and delete guild channels, and their overwrites.

Routes (REST v10): ``POST /guilds/{guild_id}/channels``, ``GET``/``PATCH``/``DELETE
/channels/{channel_id}``, ``PUT``/``DELETE /channels/{channel_id}/permissions/{overwrite_id}``.
Every write takes an audit-log ``reason``. What Discord requires, and what a 403 names:

- creating, changing or deleting a channel needs ``manage_channels`` there;
- changing a channel's overwrites (``PATCH`` with ``permission_overwrites``, ``PUT``/``DELETE``
  of one) also needs ``manage_roles`` (Discord's "Manage Permissions" in a channel);
- any overwrite, on creation too, may only allow or deny permissions the bot holds itself,
  and only an administrator may put ``manage_roles`` in one.

Channels come back as :class:`ChannelSettings`: the port's
:class:`~actors.discord_port.ChannelInfo` plus the settings these routes change (slowmode,
nsfw, overwrites, a voice channel's bitrate and user limit), so the compat profile can use it
wherever a ``ChannelInfo`` goes. Overwrites are :class:`Overwrite` values with raw bit sets;
:mod:`discord_io.ops.permissions` converts names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from actors.discord_port import ChannelInfo, ChannelKind, DiscordPort
from discord_io._translate import channel_from_payload
from discord_io.ops.permissions import parse_bits

OverwriteKind = Literal["role", "member"]

CREATABLE: Final[Mapping[str, ChannelKind]] = {
    "text": ChannelKind.TEXT,
    "voice": ChannelKind.VOICE,
    "category": ChannelKind.CATEGORY,
    "announcement": ChannelKind.ANNOUNCEMENT,
    "forum": ChannelKind.FORUM,
    "stage": ChannelKind.STAGE,
}
"""The channel types a guild channel can be created as, by name."""

_KIND_CODE: Final[Mapping[str, int]] = {"role": 0, "member": 1}
_KIND_NAME: Final[Mapping[int, OverwriteKind]] = {0: "role", 1: "member"}


@attrs.frozen
class Overwrite:
    """One permission overwrite of a channel: for a role (``@everyone``'s id is the guild's)
    or a member; ``allow`` and ``deny`` are bit sets."""

    id: int
    kind: OverwriteKind
    allow: int = 0
    deny: int = 0

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Overwrite:
        return cls(
            id=int(data["id"]),
            kind=_KIND_NAME.get(int(data["type"]), "role"),
            allow=parse_bits(data.get("allow")),
            deny=parse_bits(data.get("deny")),
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": _KIND_CODE[self.kind],
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@attrs.frozen
class ChannelSettings(ChannelInfo):
    """A guild channel with its administrable settings."""

    nsfw: bool = False
    slowmode: int = 0
    """Seconds a member must wait between messages (``rate_limit_per_user``); 0: none."""
    overwrites: tuple[Overwrite, ...] = ()
    bitrate: int | None = None
    user_limit: int | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> ChannelSettings:
        base = channel_from_payload(data)
        return cls(
            id=base.id,
            type=base.type,
            guild_id=base.guild_id,
            name=base.name,
            parent_id=base.parent_id,
            position=base.position,
            topic=base.topic,
            nsfw=bool(data.get("nsfw", False)),
            slowmode=int(data.get("rate_limit_per_user") or 0),
            overwrites=tuple(
                Overwrite.from_payload(o) for o in data.get("permission_overwrites") or ()
            ),
            bitrate=data.get("bitrate"),
            user_limit=data.get("user_limit"),
        )


def _overwrites(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise ValueError("permission_overwrites must be a list of Overwrite values")
    out = []
    for item in value:
        if not isinstance(item, Overwrite):
            raise ValueError(f"permission_overwrites: {item!r} is not an Overwrite")
        out.append(item.to_payload())
    return out


_FIELDS: Final[Mapping[str, str]] = {
    "name": "name",
    "topic": "topic",
    "slowmode": "rate_limit_per_user",
    "rate_limit_per_user": "rate_limit_per_user",
    "position": "position",
    "nsfw": "nsfw",
    "parent_id": "parent_id",
    "bitrate": "bitrate",
    "user_limit": "user_limit",
    "permission_overwrites": "permission_overwrites",
}
"""Keyword → Discord's field, for create and update (``slowmode`` is an alias)."""


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in fields.items():
        target = _FIELDS.get(key)
        if target is None:
            known = ", ".join(sorted(_FIELDS))
            raise ValueError(f"{key} is not a channel setting; the settings are {known}")
        if target == "permission_overwrites":
            body[target] = _overwrites(value)
        elif target == "parent_id":
            body[target] = None if value is None else str(value)
        else:
            body[target] = value
    return body


_GRANTABLE = "every permission its permission_overwrites allow or deny"


def _needs(body: Mapping[str, Any], *, creating: bool) -> str:
    if "permission_overwrites" not in body:
        return "manage_channels"
    if creating:
        return f"manage_channels (and {_GRANTABLE})"
    return f"manage_channels and manage_roles (and {_GRANTABLE})"


async def create_channel(
    port: DiscordPort,
    guild_id: int,
    *,
    name: str,
    type: str = "text",
    topic: str | None = None,
    parent_id: int | None = None,
    reason: str | None = None,
    **more: Any,
) -> ChannelSettings:
    """Create a guild channel of ``type`` (a :data:`CREATABLE` name).

    ``more``: ``slowmode`` (or ``rate_limit_per_user``), ``position``, ``nsfw``,
    ``permission_overwrites`` (a sequence of :class:`Overwrite`), ``bitrate``, ``user_limit``.
    An unknown type or keyword raises ``ValueError`` naming it.
    """
    kind = CREATABLE.get(type)
    if kind is None:
        raise ValueError(f"type must be one of {', '.join(CREATABLE)}, not {type!r}")
    body = _body({"name": name, "topic": topic, "parent_id": parent_id, **more})
    body["type"] = int(kind)
    for key in ("topic", "parent_id"):
        if body.get(key) is None:
            body.pop(key, None)
    data = await port.rest(
        "POST",
        "/guilds/{guild_id}/channels",
        action=f"create a channel in guild {guild_id}",
        json=body,
        reason=reason,
        permission=_needs(body, creating=True),
        what=f"guild {guild_id}",
        ids={"guild_id": guild_id},
    )
    return ChannelSettings.from_payload(data)


async def channel_payload(port: DiscordPort, channel_id: int) -> Mapping[str, Any]:
    """``GET /channels/{id}``: Discord's whole channel object (what ChannelInfo leaves out,
    too: overwrites, settings, a forum's tags)."""
    data: Mapping[str, Any] = await port.rest(
        "GET",
        "/channels/{channel_id}",
        action=f"see channel {channel_id}",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return data


async def get_channel_settings(port: DiscordPort, channel_id: int) -> ChannelSettings:
    """One channel with its settings and overwrites."""
    return ChannelSettings.from_payload(await channel_payload(port, channel_id))


async def update_channel(
    port: DiscordPort,
    channel_id: int,
    *,
    reason: str | None = None,
    **changes: Any,
) -> ChannelSettings:
    """Change a channel's settings: only the keywords given (the names of
    :func:`create_channel`'s, plus ``name``); ``parent_id=None`` takes it out of its
    category, ``topic=""`` clears the topic, ``permission_overwrites`` replaces them all."""
    body = _body(changes)
    if not body:
        raise ValueError("give at least one setting to change")
    data = await port.rest(
        "PATCH",
        "/channels/{channel_id}",
        action=f"change channel {channel_id}",
        json=body,
        reason=reason,
        permission=_needs(body, creating=False),
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return ChannelSettings.from_payload(data)


async def delete_channel(
    port: DiscordPort, channel_id: int, *, reason: str | None = None
) -> ChannelSettings:
    """Delete a channel (or a thread); returns it as it was."""
    data = await port.rest(
        "DELETE",
        "/channels/{channel_id}",
        action=f"delete channel {channel_id}",
        reason=reason,
        permission="manage_channels (manage_threads for a thread)",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id},
    )
    return ChannelSettings.from_payload(data)


async def set_overwrite(
    port: DiscordPort, channel_id: int, overwrite: Overwrite, *, reason: str | None = None
) -> None:
    """Add or replace the channel's overwrite for ``overwrite``'s role or member."""
    await port.rest(
        "PUT",
        "/channels/{channel_id}/permissions/{overwrite_id}",
        action=f"set permissions in channel {channel_id}",
        json={
            "type": _KIND_CODE[overwrite.kind],
            "allow": str(overwrite.allow),
            "deny": str(overwrite.deny),
        },
        reason=reason,
        permission="manage_roles",
        what=f"channel {channel_id}, or {overwrite.kind} {overwrite.id}",
        ids={"channel_id": channel_id, "overwrite_id": overwrite.id},
    )


async def remove_overwrite(
    port: DiscordPort, channel_id: int, target_id: int, *, reason: str | None = None
) -> None:
    """Delete the channel's overwrite for a role or member (nothing there: no error)."""
    await port.rest(
        "DELETE",
        "/channels/{channel_id}/permissions/{overwrite_id}",
        action=f"remove a permission overwrite in channel {channel_id}",
        reason=reason,
        permission="manage_roles",
        what=f"channel {channel_id}",
        ids={"channel_id": channel_id, "overwrite_id": target_id},
    )


__all__ = [
    "CREATABLE",
    "ChannelSettings",
    "Overwrite",
    "OverwriteKind",
    "create_channel",
    "delete_channel",
    "get_channel_settings",
    "remove_overwrite",
    "set_overwrite",
    "update_channel",
]
