"""The narrow port through which actors reach Discord, and the values that cross it.

Actors never import ``discord``: they call a :class:`DiscordPort` (implemented per agent by
``discord_io.agent_client.AgentClient``) and get back the frozen attrs values below. Every
discord.py object is translated into these once, at the edge (``discord_io._translate``).

Conventions:

- Ids (snowflakes) are ``int`` everywhere inside; Discord's JSON carries them as strings.
- Timestamps are timezone-aware ``datetime`` in UTC.
- A message ``nonce`` is a ``str`` of at most 25 characters; with ``enforce_nonce`` Discord
  returns the first message instead of posting a second one (per author, for a few minutes).
- Events (``MessageCreated`` ... ``GatewayDisconnected``) name the ``agent`` whose bot saw them,
  so one EventHub can take every agent's events from one stream.

Connection states, as :class:`ConnectionState`::

    CONNECTING   → READY          READY dispatched: a fresh session (GatewayReady)
    READY        → RESUMING       the socket was lost; discord.py reconnects and resumes
    RESUMING     → READY          RESUMED: Discord replayed what was missed (GatewayResumed),
                                  or READY: a fresh session, dispatches may be lost (backfill)
    any          → DISCONNECTED   the client died (then, after a backoff, → CONNECTING;
                                  outages are retried without limit), or stop()
    any          → FAILED         final: token refused, privileged intent missing, or more
                                  than max_restarts client deaths in a row

Exceptions::

    ActorError
    └── DiscordError                a Discord operation failed (code/text: Discord's own)
        ├── DiscordForbidden        403: the bot lacks a permission (named when known)
        ├── DiscordNotFound         404: the thing does not exist or is not visible (named)
        ├── DiscordRateLimited      429 with a long wait: retry after ``retry_after`` s
        ├── DiscordUnavailable      5xx, outage, connection lost, not connected: retryable
        ├── DiscordBadRequest       400-class: the request itself is wrong (field errors)
        ├── AgentLoginFailed        the agent's token was refused (final, state FAILED)
        ├── AgentIntentsMissing     a privileged intent is not enabled (final, state FAILED)
        └── AgentNotReady           no READY within the caller's deadline (also TimeoutError)
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from actors._mailbox import ActorError
from actors._ratelimit import RateLimitHeaders, RateLimitScope

JSONObject = Mapping[str, Any]
"""A JSON object in Discord's own shape (embeds are passed through as such)."""

DEVELOPER_PORTAL = "https://discord.com/developers/applications"


# ----------------------------------------------------------------------------- configuration


@attrs.frozen
class AgentCapabilities:
    """What an agent is configured to do; its gateway intents are derived from this.

    ``message_content``, ``members`` and ``presences`` are Discord's privileged intents: the
    bot's application must have them enabled in the developer portal, or login fails with
    :class:`AgentIntentsMissing`.
    """

    read_messages: bool = True
    """Guild (and, with ``direct_messages``, DM) message events."""
    message_content: bool = False
    """See other users' message content (privileged)."""
    direct_messages: bool = True
    reactions: bool = True
    members: bool = False
    """Member join/leave events and the member list (privileged)."""
    presences: bool = False
    """Presence updates (privileged)."""


class ConnectionState(enum.StrEnum):
    """Where an agent's gateway connection is; see the diagram in the module docstring."""

    CONNECTING = "connecting"
    READY = "ready"
    RESUMING = "resuming"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


class ChannelKind(enum.IntEnum):
    """Discord's channel types (``ChannelInfo.type`` holds the raw int; compare with these)."""

    TEXT = 0
    DM = 1
    VOICE = 2
    GROUP_DM = 3
    CATEGORY = 4
    ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    STAGE = 13
    DIRECTORY = 14
    FORUM = 15
    MEDIA = 16


# ----------------------------------------------------------------------------- values


@attrs.frozen
class AttachmentInfo:
    id: int
    filename: str
    size: int
    url: str
    content_type: str | None = None


@attrs.frozen
class MessageInfo:
    """A message as actors see it."""

    id: int
    channel_id: int
    guild_id: int | None
    """None for DMs, and for REST answers (Discord leaves it out there)."""
    author_id: int
    author_name: str
    author_bot: bool
    content: str
    """Empty when the message_content intent hides another user's text."""
    created_at: dt.datetime
    edited_at: dt.datetime | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    reply_to: int | None = None
    """The id of the message this one replies to."""
    nonce: str | None = None
    """Only create answers and MESSAGE_CREATE carry it."""


@attrs.frozen
class SentMessage:
    """What ``send_message`` returns: the message Discord holds (the first one, on a dedup)."""

    id: int
    channel_id: int
    created_at: dt.datetime
    nonce: str | None
    message: MessageInfo = attrs.field(repr=False)
    rate_limit: RateLimitHeaders | None = attrs.field(default=None, repr=False, eq=False)
    """The rate-limit headers of the create request's answer, when the port saw them: what
    the channel's :class:`~actors.DiscordBucket` paces the next send by."""


@attrs.frozen
class ChannelInfo:
    id: int
    type: int
    """A :class:`ChannelKind` value (kept as int so new Discord types pass through)."""
    guild_id: int | None
    name: str | None
    parent_id: int | None = None
    position: int | None = None
    topic: str | None = None


@attrs.frozen
class GuildInfo:
    id: int
    name: str
    owner: bool = False
    """Whether the agent's bot owns the guild."""
    member_count: int | None = None
    """Approximate, when Discord reports it."""


@attrs.frozen
class MemberInfo:
    guild_id: int
    user_id: int
    name: str
    """The username."""
    display_name: str
    """Nickname, else global name, else username."""
    bot: bool
    nick: str | None = None
    roles: tuple[int, ...] = ()
    joined_at: dt.datetime | None = None


@attrs.frozen
class AllowedMentions:
    """Who a message may ping; the default pings nobody (safe for agents)."""

    everyone: bool = False
    users: bool | tuple[int, ...] = False
    """True: every mentioned user; a tuple: only these."""
    roles: bool | tuple[int, ...] = False
    replied_user: bool = False


@attrs.frozen
class FileUpload:
    filename: str
    data: bytes = attrs.field(repr=False)
    description: str | None = None


# ----------------------------------------------------------------------------- events


@attrs.frozen
class MessageCreated:
    agent: str
    message: MessageInfo


@attrs.frozen
class MessageEdited:
    agent: str
    message: MessageInfo
    """The message as it is after the edit."""


@attrs.frozen
class MessageDeleted:
    agent: str
    channel_id: int
    message_id: int
    guild_id: int | None


@attrs.frozen
class ReactionAdded:
    agent: str
    channel_id: int
    message_id: int
    guild_id: int | None
    user_id: int
    emoji: str
    """A unicode emoji, or ``name:id`` for a custom one."""


@attrs.frozen
class ReactionRemoved:
    agent: str
    channel_id: int
    message_id: int
    guild_id: int | None
    user_id: int
    emoji: str


@attrs.frozen
class MemberJoined:
    agent: str
    member: MemberInfo


@attrs.frozen
class MemberLeft:
    agent: str
    guild_id: int
    user_id: int
    name: str


@attrs.frozen
class ChannelCreated:
    agent: str
    channel: ChannelInfo


@attrs.frozen
class ChannelUpdated:
    agent: str
    channel: ChannelInfo


@attrs.frozen
class ChannelDeleted:
    agent: str
    channel: ChannelInfo


@attrs.frozen
class GatewayReady:
    """A fresh session (IDENTIFY): dispatches since the last one may be lost; backfill."""

    agent: str
    session_id: str | None
    guild_ids: tuple[int, ...]


@attrs.frozen
class GatewayResumed:
    """The session resumed: Discord replayed what was missed; no gap."""

    agent: str


@attrs.frozen
class GatewayDisconnected:
    agent: str


DiscordEvent = (
    MessageCreated
    | MessageEdited
    | MessageDeleted
    | ReactionAdded
    | ReactionRemoved
    | MemberJoined
    | MemberLeft
    | ChannelCreated
    | ChannelUpdated
    | ChannelDeleted
    | GatewayReady
    | GatewayResumed
    | GatewayDisconnected
)
"""Everything an agent's gateway hands to the EventHub."""


class EventSink(Protocol):
    """Where an agent's events go: a bounded stream (``MemoryObjectSendStream`` fits).

    ``send_nowait`` must never block: it raises ``anyio.WouldBlock`` when full (the event is
    dropped and counted), or ``anyio.ClosedResourceError`` / ``BrokenResourceError`` /
    :class:`~actors.ActorError` when nobody listens (dropped and counted too).
    """

    def send_nowait(self, item: DiscordEvent, /) -> None: ...


# ----------------------------------------------------------------------------- errors


class DiscordError(ActorError):
    """A Discord operation failed. ``code`` and ``text`` are Discord's JSON error, if any."""

    retryable: bool = False
    egress_counted: bool = False
    """True when the port already counted Discord's answers to this call in the egress
    budget (it observes every response, discord.py's own retries too): callers must
    not count the error again (:meth:`~actors.EgressBudget.record_error` skips it)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: int | None = None, text: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.text = text


def _discord_said(code: int | None, text: str) -> str:
    if not code and not text:
        return ""
    return f" (Discord: {text or 'no message'}, code {code or 0})"


class DiscordForbidden(DiscordError):
    """403: the bot may not do this here. ``permission`` names what it lacks, when known: a
    permission (``manage_messages``) or a privileged intent (``guild_members intent ...``)."""

    def __init__(
        self,
        action: str,
        *,
        permission: str | None = None,
        code: int | None = None,
        text: str = "",
    ) -> None:
        if not permission:
            need = ""
        elif "intent" in permission:
            need = f"; the agent needs the {permission}"
        else:
            need = f"; the bot needs the {permission!r} permission there"
        super().__init__(
            f"forbidden to {action}{need}{_discord_said(code, text)}",
            status=403,
            code=code,
            text=text,
        )
        self.action = action
        self.permission = permission


class DiscordNotFound(DiscordError):
    """404: ``what`` does not exist, or the bot cannot see it."""

    def __init__(self, what: str, *, code: int | None = None, text: str = "") -> None:
        super().__init__(
            f"{what} was not found{_discord_said(code, text)}", status=404, code=code, text=text
        )
        self.what = what


class DiscordRateLimited(DiscordError):
    """429 with a wait longer than the agent will sleep through: retry after ``retry_after``."""

    retryable = True

    def __init__(
        self, action: str, retry_after: float, *, scope: RateLimitScope | None = None
    ) -> None:
        where = f" ({scope.value} limit)" if scope is not None else ""
        super().__init__(
            f"rate limited{where} while trying to {action}; retry after {retry_after:.2f} s",
            status=429,
        )
        self.action = action
        self.retry_after = retry_after
        self.scope = scope


class DiscordUnavailable(DiscordError):
    """Discord could not be reached or failed (5xx, outage, lost connection): retry later."""

    retryable = True


class DiscordBadRequest(DiscordError):
    """The request was refused as malformed; ``field_errors`` maps a field path to why."""

    def __init__(
        self,
        action: str,
        *,
        status: int = 400,
        code: int | None = None,
        text: str = "",
        field_errors: Mapping[str, str] | None = None,
    ) -> None:
        fields = dict(field_errors or {})
        detail = "".join(f"; {path}: {why}" for path, why in fields.items())
        super().__init__(
            f"Discord refused the request to {action}{_discord_said(code, text)}{detail}",
            status=status,
            code=code,
            text=text,
        )
        self.action = action
        self.field_errors: Mapping[str, str] = fields


class AgentLoginFailed(DiscordError):
    """Discord refused the agent's token. Final: fix the token, then restart the agent."""

    def __init__(self, agent: str, reason: str = "the token was refused") -> None:
        super().__init__(
            f"agent {agent!r} could not log in to Discord: {reason}. Check the agent's bot "
            f"token (Bot → Reset Token in {DEVELOPER_PORTAL}) and its token source."
        )
        self.agent = agent


class AgentIntentsMissing(DiscordError):
    """The agent asked for privileged intents its bot application does not have."""

    def __init__(self, agent: str, intents: Sequence[str]) -> None:
        names = ", ".join(intents) or "a privileged intent"
        super().__init__(
            f"agent {agent!r} needs the privileged gateway intent(s) {names}, which its bot "
            f"application does not have enabled: enable them under Bot → Privileged Gateway "
            f"Intents in {DEVELOPER_PORTAL}, or configure the agent without the capabilities "
            f"that need them."
        )
        self.agent = agent
        self.intents = tuple(intents)


class AgentNotReady(DiscordError, TimeoutError):
    """The agent's gateway did not reach READY within the caller's deadline."""

    retryable = True

    def __init__(self, agent: str, timeout: float, state: ConnectionState) -> None:
        super().__init__(
            f"agent {agent!r} is not connected to Discord: still {state.value} after "
            f"{timeout:g} s; retry later"
        )
        self.agent = agent
        self.timeout = timeout
        self.state = state


# ----------------------------------------------------------------------------- the port


class DiscordPort(Protocol):
    """The Discord operations actors use, for one agent (its bot's identity and limits).

    Every method raises a :class:`DiscordError` subclass on failure, never a discord.py error.
    """

    @property
    def agent(self) -> str: ...

    @property
    def state(self) -> ConnectionState: ...

    @property
    def user_id(self) -> int | None:
        """The bot's own user id, once logged in."""
        ...

    async def wait_ready(self, timeout: float) -> None:
        """Wait until READY; raise :class:`AgentNotReady` after ``timeout`` seconds, or the
        final error (:class:`AgentLoginFailed`, :class:`AgentIntentsMissing`) at once."""
        ...

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        nonce: str | None,
        enforce_nonce: bool = True,
        reply_to: int | None = None,
        embeds: Sequence[JSONObject] = (),
        allowed_mentions: AllowedMentions | None = None,
        files: Sequence[FileUpload] = (),
    ) -> SentMessage: ...

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[JSONObject] | None = None,
    ) -> MessageInfo: ...

    async def delete_message(
        self, channel_id: int, message_id: int, *, reason: str | None = None
    ) -> None:
        """Delete a message; ``reason`` goes to the guild's audit log (others' messages)."""
        ...

    async def fetch_messages(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]:
        """Up to ``limit`` (1 to 100) messages, newest first, as Discord answers."""
        ...

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None: ...

    async def remove_reaction(
        self, channel_id: int, message_id: int, emoji: str, *, user_id: int | None = None
    ) -> None:
        """Remove the bot's own reaction, or ``user_id``'s (needs manage_messages)."""
        ...

    async def get_channel(self, channel_id: int) -> ChannelInfo: ...

    async def list_guilds(self) -> list[GuildInfo]: ...

    async def list_channels(self, guild_id: int) -> list[ChannelInfo]: ...

    async def get_member(self, guild_id: int, user_id: int) -> MemberInfo: ...

    async def list_members(
        self, guild_id: int, *, limit: int = 100, after: int | None = None
    ) -> list[MemberInfo]: ...

    async def rest(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        query: Mapping[str, str | int] | None = None,
        reason: str | None = None,
        permission: str | None = None,
        what: str = "resource",
        ids: Mapping[str, object] | None = None,
    ) -> Any:
        """Any other Discord REST call, with the bot's rate limiting, error translation and
        egress accounting: ``path`` is the route template with ``{name}`` parameters filled
        from ``ids`` (e.g. ``/guilds/{guild_id}/roles`` with ``ids={"guild_id": 1}``);
        ``reason`` goes to the audit log (``X-Audit-Log-Reason``). Returns Discord's decoded
        JSON (None for 204). Errors as the other methods: ``action`` completes "forbidden to
        ...", ``permission`` names what a 403 lacks, ``what`` what a 404 did not find."""
        ...

    async def set_presence(self, status: str, activity: str | None = None) -> None:
        """The bot's status (``online``, ``idle``, ``dnd``, ``invisible``) and an optional
        custom activity text, over the gateway."""
        ...

    async def voice_states(self, guild_id: int) -> list[JSONObject]:
        """Who is in the guild's voice channels, as Discord's voice state objects (``user_id``,
        ``channel_id``, ``mute``, ``deaf``, ``self_*``, ``suppress``, and ``member`` when
        known), from the gateway's view; empty for a guild the bot is not in."""
        ...
