"""Channel administration tools: ``create_channel``, ``update_channel``, ``delete_channel``
and ``set_channel_permissions``.

Each is one REST write through :mod:`discord_io.ops.channel_admin` (``set_channel_permissions``
reads the channel back, so its answer is the overwrites as Discord now holds them). Permissions
are given and returned by Discord's names (``view_channel``, ``send_messages``), never as bit
numbers: :mod:`discord_io.ops.permissions` converts them, and an unknown name is refused before
Discord with the field and the closest real names. Every write takes an optional ``reason``
that Discord writes to the guild's audit log. Discord's own refusals come back as ToolErrors
naming the permission the bot lacks (``manage_channels``; ``manage_roles`` for overwrites).
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors.discord_port import DiscordError
from discord_io.ops import channel_admin as ops
from discord_io.ops.permissions import parse_permissions, permission_names
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Channel, Reason, Snowflake, not_found_hint, opt_id, to_id

PermissionName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description='A Discord permission name, e.g. "view_channel", "send_messages".',
    ),
]

CreatableType = Literal["text", "voice", "category", "forum", "announcement", "stage"]

Slowmode = Annotated[
    int | None,
    Field(
        ge=0,
        le=21600,
        description="Slowmode: seconds each member must wait between messages (Discord's "
        "rate_limit_per_user), 0 to 21600; 0 turns it off.",
    ),
]

_GUILD_ADVICE = "call list_guilds for the guild ids this agent can use"
_CHANNEL_ADVICE = "check channel_id (list_channels gives the guild's channels)"


class PermissionOverwrite(BaseModel):
    """What one role or member may or may not do in a channel, beyond their roles."""

    id: Snowflake = Field(
        description="The role's or member's id. The @everyone role's id is the guild's id."
    )
    type: Literal["role", "member"]
    allow: list[PermissionName] = Field(
        default_factory=list, max_length=64, description="Permissions granted here."
    )
    deny: list[PermissionName] = Field(
        default_factory=list, max_length=64, description="Permissions taken away here."
    )

    def value(self, field: str) -> ops.Overwrite:
        """The ops value, names checked (``ValueError`` naming ``field``)."""
        allow = parse_permissions(self.allow, f"{field}.allow")
        deny = parse_permissions(self.deny, f"{field}.deny")
        _check_disjoint(allow, deny, field)
        return ops.Overwrite(
            id=to_id(self.id, f"{field}.id"), kind=self.type, allow=allow, deny=deny
        )

    @classmethod
    def of(cls, o: ops.Overwrite) -> PermissionOverwrite:
        return cls(
            id=str(o.id),
            type=o.kind,
            allow=permission_names(o.allow),
            deny=permission_names(o.deny),
        )


def _check_disjoint(allow: int, deny: int, field: str) -> None:
    both = allow & deny
    if both:
        names = ", ".join(permission_names(both))
        raise ValueError(f"{field}: {names} is both allowed and denied; put it in one list only")


class AdminChannel(Channel):
    """A guild channel with the settings channel administration changes."""

    nsfw: bool = False
    slowmode: int = Field(0, description="Seconds between a member's messages; 0: off.")
    permission_overwrites: list[PermissionOverwrite] = Field(default_factory=list)
    bitrate: int | None = Field(None, description="Voice channels: bits per second.")
    user_limit: int | None = Field(None, description="Voice channels: 0 means no limit.")

    @classmethod
    def of_settings(cls, c: ops.ChannelSettings) -> AdminChannel:
        base = Channel.of(c)
        return cls(
            **base.model_dump(),
            nsfw=c.nsfw,
            slowmode=c.slowmode,
            permission_overwrites=[PermissionOverwrite.of(o) for o in c.overwrites],
            bitrate=c.bitrate,
            user_limit=c.user_limit,
        )


class DeletedChannel(BaseModel):
    deleted: bool
    channel: AdminChannel = Field(description="The channel as it was before it was deleted.")


class ChannelPermissions(BaseModel):
    channel_id: str
    target_id: str
    target_type: Literal["role", "member"]
    removed: bool = Field(description="True: the overwrite was deleted (remove mode).")
    allow: list[str] = Field(description="What the overwrite now grants (empty when removed).")
    deny: list[str] = Field(description="What it now takes away (empty when removed).")
    permission_overwrites: list[PermissionOverwrite] | None = Field(
        None,
        description="All of the channel's overwrites after the change; null if the bot can "
        "no longer read the channel.",
    )


def _overwrite_values(
    overwrites: list[PermissionOverwrite] | None,
) -> list[ops.Overwrite] | None:
    if overwrites is None:
        return None
    seen: set[tuple[str, str]] = set()
    out = []
    for index, item in enumerate(overwrites):
        field = f"permission_overwrites[{index}]"
        if (item.type, item.id) in seen:
            raise ValueError(f"{field}: a second overwrite for {item.type} {item.id}; merge them")
        seen.add((item.type, item.id))
        out.append(item.value(field))
    return out


def register(kit: ToolKit) -> None:
    @kit.tool(title="Create a channel", read_only=False, destructive=False, idempotent=False)
    async def create_channel(
        guild_id: Snowflake,
        name: Annotated[str, Field(min_length=1, max_length=100)],
        ctx: Context,
        type: Annotated[CreatableType, Field(description="The kind of channel.")] = "text",
        topic: Annotated[str | None, Field(max_length=4096)] = None,
        slowmode: Slowmode = None,
        parent_id: Annotated[
            Snowflake | None, Field(description="The category to put it in (a category's id).")
        ] = None,
        position: Annotated[int | None, Field(ge=0, le=10000)] = None,
        nsfw: bool | None = None,
        permission_overwrites: Annotated[
            list[PermissionOverwrite] | None,
            Field(
                max_length=100,
                description="Who may or may not do what here, e.g. [{id: <guild id>, type: "
                'role, deny: ["view_channel"]}] for a private channel.',
            ),
        ] = None,
        reason: Reason = None,
    ) -> AdminChannel:
        """Create a channel in a guild: text, voice, category, forum, announcement or stage.

        Put it in a category with parent_id (list_channels shows categories), set its topic,
        slowmode and who may see or post in it with permission_overwrites. Returns the new
        channel with its id. Needs the Manage Channels permission; overwrites may only allow
        or deny permissions the bot has itself. Calling twice
        creates two channels: check list_channels first if unsure whether it exists.
        """
        gid = to_id(guild_id, "guild_id")
        more: dict[str, object] = {}
        if slowmode is not None:
            more["slowmode"] = slowmode
        if position is not None:
            more["position"] = position
        if nsfw is not None:
            more["nsfw"] = nsfw
        overwrites = _overwrite_values(permission_overwrites)
        if overwrites is not None:
            more["permission_overwrites"] = overwrites
        parent = opt_id(parent_id, "parent_id")
        with not_found_hint(f"{_GUILD_ADVICE}; parent_id must be a category of that guild"):
            channel = await kit.caller().handle.call(
                lambda port: ops.create_channel(
                    port,
                    gid,
                    name=name,
                    type=type,
                    topic=topic,
                    parent_id=parent,
                    reason=reason,
                    **more,
                )
            )
        return AdminChannel.of_settings(channel)

    @kit.tool(title="Change a channel", read_only=False, destructive=True, idempotent=True)
    async def update_channel(
        channel_id: Snowflake,
        ctx: Context,
        name: Annotated[str | None, Field(min_length=1, max_length=100)] = None,
        topic: Annotated[
            str | None, Field(max_length=4096, description='"" clears the topic.')
        ] = None,
        slowmode: Slowmode = None,
        parent_id: Annotated[
            Snowflake | Literal["none"] | None,
            Field(description='Move it into this category; "none" takes it out of its category.'),
        ] = None,
        position: Annotated[int | None, Field(ge=0, le=10000)] = None,
        nsfw: bool | None = None,
        permission_overwrites: Annotated[
            list[PermissionOverwrite] | None,
            Field(
                max_length=100,
                description="REPLACES all of the channel's overwrites ([] removes them all). "
                "To change one role's or member's, use set_channel_permissions instead.",
            ),
        ] = None,
        reason: Reason = None,
    ) -> AdminChannel:
        """Change a channel's name, topic, slowmode, category, position, nsfw flag or
        permission overwrites. Only what you give changes; the rest stays as it is.

        Returns the channel as it now is. Needs Manage Channels in the channel (and Manage
        Roles for permission_overwrites). Text channel names are made lower case with dashes.
        For a thread's archived/locked state use update_thread.
        """
        cid = to_id(channel_id, "channel_id")
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = name
        if topic is not None:
            changes["topic"] = topic
        if slowmode is not None:
            changes["slowmode"] = slowmode
        if parent_id is not None:
            changes["parent_id"] = None if parent_id == "none" else to_id(parent_id, "parent_id")
        if position is not None:
            changes["position"] = position
        if nsfw is not None:
            changes["nsfw"] = nsfw
        overwrites = _overwrite_values(permission_overwrites)
        if overwrites is not None:
            changes["permission_overwrites"] = overwrites
        if not changes:
            raise ValueError(
                "give at least one of name, topic, slowmode, parent_id, position, nsfw, "
                "permission_overwrites"
            )
        with not_found_hint(_CHANNEL_ADVICE):
            channel = await kit.caller().handle.call(
                lambda port: ops.update_channel(port, cid, reason=reason, **changes)
            )
        return AdminChannel.of_settings(channel)

    @kit.tool(title="Delete a channel", read_only=False, destructive=True, idempotent=True)
    async def delete_channel(
        channel_id: Snowflake, ctx: Context, reason: Reason = None
    ) -> DeletedChannel:
        """Delete a channel, category or thread, with all its messages. This cannot be undone.

        Deleting a category leaves its channels in place, outside any category. Returns the
        channel as it was. Needs Manage Channels (Manage Threads for a thread).
        """
        cid = to_id(channel_id, "channel_id")
        with not_found_hint(f"{_CHANNEL_ADVICE}; it may already be deleted"):
            channel = await kit.caller().handle.call(
                lambda port: ops.delete_channel(port, cid, reason=reason)
            )
        return DeletedChannel(deleted=True, channel=AdminChannel.of_settings(channel))

    @kit.tool(title="Set channel permissions", read_only=False, destructive=True, idempotent=True)
    async def set_channel_permissions(
        channel_id: Snowflake,
        target_id: Annotated[
            Snowflake,
            Field(description="The role's or member's id; the guild's id means @everyone."),
        ],
        target_type: Literal["role", "member"],
        ctx: Context,
        allow: Annotated[
            list[PermissionName],
            Field(max_length=64, description='Permissions to grant, e.g. ["send_messages"].'),
        ] = [],  # noqa: B006 - pydantic copies defaults; the schema shows []
        deny: Annotated[
            list[PermissionName],
            Field(max_length=64, description='Permissions to take away, e.g. ["view_channel"].'),
        ] = [],  # noqa: B006 - as above
        remove: Annotated[
            bool,
            Field(description="True: delete this role's or member's overwrite instead."),
        ] = False,
        reason: Reason = None,
    ) -> ChannelPermissions:
        """Set what one role or member may do in a channel: its permission overwrite.

        The overwrite is REPLACED by exactly allow + deny (permissions in neither fall back to
        the roles'). To make a channel private, deny view_channel to @everyone (target_id =
        the guild id, target_type role) and allow it to a role. remove=true deletes the
        overwrite. Returns all of the channel's overwrites afterwards. Needs Manage Roles in
        the channel, and the bot can only allow or deny permissions it has itself. Threads
        have no overwrites: set them on the thread's channel. Names are Discord's:
        view_channel, send_messages, read_message_history, manage_messages, ...
        """
        cid, tid = to_id(channel_id, "channel_id"), to_id(target_id, "target_id")
        handle = kit.caller().handle
        allow_bits = parse_permissions(allow, "allow")
        deny_bits = parse_permissions(deny, "deny")
        if remove and (allow_bits or deny_bits):
            raise ValueError("remove=true deletes the overwrite: leave allow and deny empty")
        _check_disjoint(allow_bits, deny_bits, "allow/deny")
        advice = f"{_CHANNEL_ADVICE}; target_id must be a role or member of its guild"
        with not_found_hint(advice):
            if remove:
                await handle.call(lambda port: ops.remove_overwrite(port, cid, tid, reason=reason))
            else:
                value = ops.Overwrite(id=tid, kind=target_type, allow=allow_bits, deny=deny_bits)
                await handle.call(lambda port: ops.set_overwrite(port, cid, value, reason=reason))
        now: list[PermissionOverwrite] | None
        try:
            channel = await handle.call(lambda port: ops.get_channel_settings(port, cid))
            now = [PermissionOverwrite.of(o) for o in channel.overwrites]
        except DiscordError:
            now = None
        return ChannelPermissions(
            channel_id=channel_id,
            target_id=target_id,
            target_type=target_type,
            removed=remove,
            allow=permission_names(allow_bits),
            deny=permission_names(deny_bits),
            permission_overwrites=now,
        )


__all__ = [
    "AdminChannel",
    "ChannelPermissions",
    "DeletedChannel",
    "PermissionOverwrite",
    "Reason",
    "register",
]
