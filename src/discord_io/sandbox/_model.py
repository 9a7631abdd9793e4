"""The sandbox's in-memory objects: users, bots, guilds, roles, members, channels, messages.

Stateful objects are ``@attrs.define`` (a message is edited, a channel gains messages); ids are
ints here and strings only on the wire (see ``_serialize``). Objects refer to each other by id,
and :class:`~discord_io.sandbox._state.SandboxState` owns the indexes.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from ._permissions import Overwrite
from ._snowflake import snowflake_time

JSONObject = dict[str, Any]


class ChannelType(enum.IntEnum):
    """Discord's channel types the sandbox models."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_FORUM = 15
    GUILD_MEDIA = 16


THREAD_TYPES = frozenset(
    {ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD}
)
TEXT_CAPABLE = frozenset(
    {
        ChannelType.GUILD_TEXT,
        ChannelType.DM,
        ChannelType.GROUP_DM,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_STAGE_VOICE,
        *THREAD_TYPES,
    }
)
"""Channel types that hold messages directly (categories and forums do not)."""


class MessageType(enum.IntEnum):
    """The message types the sandbox creates."""

    DEFAULT = 0
    CHANNEL_PINNED_MESSAGE = 6
    REPLY = 19


@attrs.define(eq=False)
class User:
    """A Discord account: a human or a bot's user."""

    id: int
    username: str
    global_name: str | None = None
    discriminator: str = "0"
    avatar: str | None = None
    bot: bool = False
    public_flags: int = 0
    status: str = "online"
    """Presence status shown to bots with the presences intent: online, idle, dnd or offline."""
    activities: list[JSONObject] = attrs.field(factory=list)


@attrs.define(eq=False)
class Bot:
    """A bot account with its token, application and granted privileged intents."""

    user: User
    token: str
    application_id: int
    granted_intents: int = 0
    description: str = ""
    owner_id: int | None = None

    @property
    def id(self) -> int:
        """The bot user's id."""
        return self.user.id

    @property
    def name(self) -> str:
        """The bot user's name."""
        return self.user.username


@attrs.define(eq=False)
class Role:
    """A guild role; the @everyone role's id equals its guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None
    """For a bot's managed role: the bot it belongs to (``tags.bot_id`` on the wire)."""


@attrs.define(eq=False)
class Member:
    """A user's membership of a guild."""

    user_id: int
    guild_id: int
    roles: list[int] = attrs.field(factory=list)
    nick: str | None = None
    joined_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    deaf: bool = False
    mute: bool = False
    pending: bool = False
    communication_disabled_until: dt.datetime | None = None
    flags: int = 0


@attrs.frozen
class PermissionOverwrite:
    """A channel's allow/deny pair for one role (type 0) or member (type 1).

    Validated once, when made, by :class:`~discord_io.sandbox._permissions.Overwrite`'s rules
    (``ValueError``: not a snowflake, a type other than 0 or 1, bits naming no permission), so
    the permission check reads the stored values as they are on every request.
    """

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def __attrs_post_init__(self) -> None:
        Overwrite(self.id, self.type, self.allow, self.deny)  # raises ValueError if invalid


@attrs.define(eq=False)
class ThreadInfo:
    """What a thread has beyond a channel: owner, archive state, counts."""

    owner_id: int
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    invitable: bool = True
    create_timestamp: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    archive_timestamp: dt.datetime | None = None
    message_count: int = 0
    total_message_sent: int = 0
    member_ids: set[int] = attrs.field(factory=set)
    applied_tags: list[int] = attrs.field(factory=list)
    joined_at: dict[int, dt.datetime] = attrs.field(factory=dict)
    """When each member joined (``join_timestamp``); members missing here joined at creation."""


@attrs.define(eq=False)
class Channel:
    """Any channel: guild text/voice/category/announcement/forum/stage, thread, or DM."""

    id: int
    type: ChannelType
    guild_id: int | None = None
    name: str | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    permission_overwrites: list[PermissionOverwrite] = attrs.field(factory=list)
    rate_limit_per_user: int = 0
    bitrate: int = 64000
    user_limit: int = 0
    recipients: list[int] = attrs.field(factory=list)
    """For DMs: the users in the conversation."""
    last_message_id: int | None = None
    last_pin_timestamp: dt.datetime | None = None
    flags: int = 0
    available_tags: list[JSONObject] = attrs.field(factory=list)
    thread: ThreadInfo | None = None

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread."""
        return self.type in THREAD_TYPES


@attrs.define(eq=False)
class VoiceState:
    """A user connected to a voice channel."""

    user_id: int
    channel_id: int
    session_id: str
    deaf: bool = False
    mute: bool = False
    self_deaf: bool = False
    self_mute: bool = False
    self_video: bool = False
    suppress: bool = False


@attrs.define(eq=False)
class Attachment:
    """A file uploaded with a message; its bytes are served from the sandbox's CDN route."""

    id: int
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: str | None = None
    description: str | None = None
    data: bytes = attrs.field(default=b"", repr=False)


@attrs.define(eq=False)
class Reaction:
    """One emoji's reactions on a message."""

    emoji_name: str
    emoji_id: int | None = None
    user_ids: list[int] = attrs.field(factory=list)


@attrs.define(eq=False)
class Message:
    """A message in a channel."""

    id: int
    channel_id: int
    author_id: int
    guild_id: int | None = None
    content: str = ""
    type: MessageType = MessageType.DEFAULT
    tts: bool = False
    edited_timestamp: dt.datetime | None = None
    mention_everyone: bool = False
    mentions: list[int] = attrs.field(factory=list)
    mention_roles: list[int] = attrs.field(factory=list)
    attachments: list[Attachment] = attrs.field(factory=list)
    embeds: list[JSONObject] = attrs.field(factory=list)
    components: list[JSONObject] = attrs.field(factory=list)
    nonce: str | int | None = None
    pinned: bool = False
    flags: int = 0
    message_reference: JSONObject | None = None
    webhook_id: int | None = None
    webhook_author: User | None = None
    """For a webhook's message: the author as shown (the webhook, with per-message overrides)."""
    pinned_at: dt.datetime | None = None
    reactions: dict[str, Reaction] = attrs.field(factory=dict)
    """Keyed by the emoji's name (unicode) or ``name:id`` (custom)."""
    deleted: bool = False

    @property
    def timestamp(self) -> dt.datetime:
        """When the message was created, read from its id."""
        return snowflake_time(self.id)


@attrs.define(eq=False)
class Webhook:
    """A channel's incoming webhook (type 1): executing it with its token posts messages."""

    id: int
    channel_id: int
    guild_id: int | None
    name: str
    token: str
    user_id: int | None = None
    """Who created it."""
    application_id: int | None = None
    avatar: str | None = None
    type: int = 1


@attrs.frozen
class Ban:
    """A user banned from a guild, with the reason given when banning."""

    user_id: int
    reason: str | None = None


@attrs.frozen
class AuditLogEntry:
    """One guild audit log entry (``action_type`` is Discord's audit log event number)."""

    id: int
    action_type: int
    user_id: int | None
    target_id: int | None
    changes: tuple[JSONObject, ...] = ()
    """``{"key", "old_value"?, "new_value"?}`` items, as Discord records them."""
    options: JSONObject | None = None
    reason: str | None = None


@attrs.define(eq=False)
class Guild:
    """A guild with its roles, members and voice states; channels live in the state's index."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = attrs.field(factory=dict)
    members: dict[int, Member] = attrs.field(factory=dict)
    channel_ids: list[int] = attrs.field(factory=list)
    voice_states: dict[int, VoiceState] = attrs.field(factory=dict)
    bans: dict[int, Ban] = attrs.field(factory=dict)
    audit_log: list[AuditLogEntry] = attrs.field(factory=list)
    """Oldest first; entries get increasing ids."""
    description: str | None = None
    icon: str | None = None
    features: list[str] = attrs.field(factory=list)
    system_channel_id: int | None = None
    afk_channel_id: int | None = None
    afk_timeout: int = 300
    verification_level: int = 0
    default_message_notifications: int = 0
    explicit_content_filter: int = 0
    mfa_level: int = 0
    nsfw_level: int = 0
    premium_tier: int = 0
    preferred_locale: str = "en-US"
    created_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def everyone_role(self) -> Role:
        """The @everyone role (its id is the guild's id)."""
        return self.roles[self.id]
