"""The sandbox's world in memory: indexes over users, bots, guilds, channels and messages.

The REST routes call these methods, which check access the way Discord does (raising
:class:`~discord_io.sandbox._errors.DiscordError`), change the world, and hand a
:class:`~discord_io.sandbox._events.Dispatch` to ``publish`` for the gateway's fan-out. Nothing
here awaits: one request's change and its dispatches happen in one step of the event loop, so
sessions see events in the order the state made them.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Sequence

import attrs

from . import _errors as errors
from ._access import (
    MANAGE_MESSAGES,
    PERMISSION_BITS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    permissions_for,
    role_permissions,
)
from ._events import Dispatch, Publisher, publish_nowhere
from ._intents import Intent
from ._model import (
    TEXT_CAPABLE,
    Attachment,
    Bot,
    Channel,
    ChannelType,
    Guild,
    JSONObject,
    Member,
    Message,
    MessageType,
    Role,
    User,
    Webhook,
)
from ._serialize import channel_json, message_json, partial_member_json, user_json
from ._snowflake import SnowflakeGenerator

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_MENTION_EVERYONE = PERMISSION_BITS["mention_everyone"]
_MANAGE_THREADS = PERMISSION_BITS["manage_threads"]

NONCE_WINDOW = 300.0
"""Seconds during which ``enforce_nonce`` returns the first message for a repeated nonce."""


@attrs.frozen
class NewAttachment:
    """A file to attach to a new message."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None


@attrs.frozen
class AllowedMentions:
    """Which mentions in the content count (``allowed_mentions``); None fields mean 'parse'."""

    parse: frozenset[str] = frozenset({"users", "roles", "everyone"})
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()


@attrs.define
class SandboxState:
    """Everything the sandbox knows, indexed for the request path."""

    snowflakes: SnowflakeGenerator = attrs.field(factory=SnowflakeGenerator)
    publish: Publisher = publish_nowhere
    clock: Callable[[], float] = time.monotonic
    nonce_window: float = NONCE_WINDOW
    cdn_base: str = "http://127.0.0.1"
    """Scheme and host for attachment URLs; the server sets it once it knows its port."""

    users: dict[int, User] = attrs.field(factory=dict)
    bots: dict[int, Bot] = attrs.field(factory=dict)
    guilds: dict[int, Guild] = attrs.field(factory=dict)
    channels: dict[int, Channel] = attrs.field(factory=dict)
    messages: dict[int, Message] = attrs.field(factory=dict)
    webhooks: dict[int, Webhook] = attrs.field(factory=dict)
    _bots_by_token: dict[str, Bot] = attrs.field(factory=dict, init=False)
    _user_guilds: dict[int, set[int]] = attrs.field(factory=dict, init=False)
    _history: dict[int, list[int]] = attrs.field(factory=dict, init=False)
    _delivered: dict[int, list[Message]] = attrs.field(factory=dict, init=False)
    _nonces: dict[tuple[int, str], tuple[float, int]] = attrs.field(factory=dict, init=False)
    _nonce_order: collections.deque[tuple[float, tuple[int, str]]] = attrs.field(
        factory=collections.deque, init=False
    )
    _attachments: dict[int, Attachment] = attrs.field(factory=dict, init=False)

    # ----------------------------------------------------------------- building the world

    def add_user(self, user: User) -> User:
        """Add a user (human or a bot's user)."""
        self.users[user.id] = user
        self._user_guilds.setdefault(user.id, set())
        return user

    def add_bot(self, bot: Bot) -> Bot:
        """Add a bot and its user; its token then authenticates REST and gateway calls."""
        self.add_user(bot.user)
        self.bots[bot.id] = bot
        self._bots_by_token[bot.token] = bot
        return bot

    def add_guild(self, guild: Guild) -> Guild:
        """Add a guild; it must already hold its @everyone role."""
        self.guilds[guild.id] = guild
        return guild

    def add_role(self, role: Role) -> Role:
        """Add a role to its guild."""
        self.guilds[role.guild_id].roles[role.id] = role
        return role

    def add_member(self, member: Member) -> Member:
        """Make a user a member of a guild."""
        self.guilds[member.guild_id].members[member.user_id] = member
        self._user_guilds.setdefault(member.user_id, set()).add(member.guild_id)
        return member

    def remove_member(self, guild_id: int, user_id: int) -> Member | None:
        """End a user's membership of a guild (kick, ban, leave); their voice state goes too."""
        guild = self.guilds[guild_id]
        guild.voice_states.pop(user_id, None)
        self._user_guilds.get(user_id, set()).discard(guild_id)
        return guild.members.pop(user_id, None)

    def add_channel(self, channel: Channel) -> Channel:
        """Add a channel (to its guild's list when it has one)."""
        self.channels[channel.id] = channel
        self._history.setdefault(channel.id, [])
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].channel_ids.append(channel.id)
        return channel

    def open_dm(self, user_id: int, other_id: int) -> Channel:
        """The DM channel between two users, created on first use."""
        pair = sorted((user_id, other_id))
        for channel in self.channels.values():
            if channel.type == ChannelType.DM and sorted(channel.recipients) == pair:
                return channel
        return self.add_channel(
            Channel(id=self.snowflakes.next(), type=ChannelType.DM, recipients=pair)
        )

    # ----------------------------------------------------------------- lookups

    def bot_for_token(self, token: str) -> Bot | None:
        """The bot a token belongs to, if any."""
        return self._bots_by_token.get(token)

    def guild_ids_of(self, user_id: int) -> set[int]:
        """The guilds a user is a member of (live view: do not mutate)."""
        return self._user_guilds.get(user_id, set())

    def member(self, guild_id: int, user_id: int) -> Member | None:
        """A user's membership of a guild, if any."""
        guild = self.guilds.get(guild_id)
        return None if guild is None else guild.members.get(user_id)

    def guild_channels(self, guild: Guild) -> list[Channel]:
        """A guild's channels, threads included, in creation order."""
        return [self.channels[cid] for cid in guild.channel_ids]

    def attachment(self, attachment_id: int) -> Attachment | None:
        """An uploaded file by id."""
        return self._attachments.get(attachment_id)

    def delivered(self, channel_id: int) -> list[Message]:
        """Every message created in a channel, in order, deleted ones included."""
        return list(self._delivered.get(channel_id, ()))

    # ----------------------------------------------------------------- access

    def permissions_for(self, user_id: int, channel: Channel) -> int:
        """The user's permissions in a guild channel (0 if not a member).

        The one permission check of the sandbox; ``_access`` adapts it to ``_permissions``.
        """
        if channel.guild_id is None:
            return 0
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        parent = self.channels.get(channel.parent_id) if channel.parent_id is not None else None
        return permissions_for(guild, member, channel, parent)

    def can_view(self, user_id: int, channel: Channel) -> bool:
        """Whether the user sees the channel (DM recipient, or VIEW_CHANNEL in its guild)."""
        if channel.guild_id is None:
            return user_id in channel.recipients
        return _sees(user_id, channel, self.permissions_for(user_id, channel))

    def viewer_test(self, channel: Channel) -> Callable[[int], bool]:
        """``can_view(user_id, channel)`` for the many users of one fan-out: the guild, the
        parent and the roles' permissions are looked up once, not once per user. Use it within
        one step (it keeps the roles' permissions as they were when made)."""
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        if guild is None or channel.type == ChannelType.PRIVATE_THREAD:
            return lambda user_id: self.can_view(user_id, channel)
        members = guild.members
        parent = self.channels.get(channel.parent_id) if channel.parent_id is not None else None
        roles = role_permissions(guild)

        def can_view(user_id: int) -> bool:
            member = members.get(user_id)
            if member is None:
                return False
            return bool(permissions_for(guild, member, channel, parent, roles) & VIEW_CHANNEL)

        return can_view

    def visible_channel(self, user_id: int, channel_id: int) -> Channel:
        """The channel, if it exists (10003) and the user can see it (50001)."""
        return self._visible(user_id, channel_id)[0]

    def _visible(self, user_id: int, channel_id: int) -> tuple[Channel, int]:
        """:meth:`visible_channel`, and the user's permissions in it (0 in a DM): computed
        once for the caller's own checks."""
        channel = self.channels.get(channel_id)
        if channel is None:
            raise errors.unknown("Channel")
        if channel.guild_id is None:
            if user_id not in channel.recipients:
                raise errors.missing_access()
            return channel, 0
        perms = self.permissions_for(user_id, channel)
        if not _sees(user_id, channel, perms):
            raise errors.missing_access()
        return channel, perms

    def visible_guild(self, user_id: int, guild_id: int) -> Guild:
        """The guild, if it exists (10004) and the user is a member (50001)."""
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise errors.unknown("Guild")
        if user_id not in guild.members:
            raise errors.missing_access()
        return guild

    def sees_content(self, bot: Bot, message: Message) -> bool:
        """Whether REST shows this bot the message's content (granted intent or exemption)."""
        return (
            bool(bot.granted_intents & Intent.MESSAGE_CONTENT)
            or message.author_id == bot.id
            or message.guild_id is None
            or bot.id in message.mentions
        )

    # ----------------------------------------------------------------- messages

    def create_message(
        self,
        author_id: int,
        channel_id: int,
        *,
        content: str = "",
        embeds: Sequence[JSONObject] = (),
        components: Sequence[JSONObject] = (),
        files: Sequence[NewAttachment] = (),
        nonce: str | int | None = None,
        enforce_nonce: bool = False,
        tts: bool = False,
        flags: int = 0,
        reference_id: int | None = None,
        allowed: AllowedMentions | None = None,
    ) -> tuple[Message, bool]:
        """Post a message; returns it and whether it is new (False: an enforced nonce's twin)."""
        channel, perms = self._visible(author_id, channel_id)
        if channel.type not in TEXT_CAPABLE:
            raise errors.non_text_channel()
        if channel.guild_id is not None:
            needed = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
            if not perms & needed:
                raise errors.missing_permissions()
            if (
                channel.thread is not None
                and channel.thread.locked
                and not perms & PERMISSION_BITS["manage_threads"]
            ):
                raise errors.missing_permissions()
        if not content and not embeds and not files and not components:
            raise errors.empty_message()
        if channel.thread is not None and channel.thread.archived:
            self._reopen(channel)
        if nonce is not None and enforce_nonce:
            twin = self._nonce_twin(author_id, str(nonce))
            if twin is not None:
                return twin, False

        reference: JSONObject | None = None
        if reference_id is not None:
            referenced = self.messages.get(reference_id)
            if referenced is None or referenced.deleted or referenced.channel_id != channel.id:
                raise errors.form_error(
                    {
                        "message_reference": [
                            ("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                        ]
                    }
                )
            reference = {"type": 0, "channel_id": str(channel.id), "message_id": str(referenced.id)}
            if channel.guild_id is not None:
                reference["guild_id"] = str(channel.guild_id)

        message = Message(
            id=self.snowflakes.next(),
            channel_id=channel.id,
            author_id=author_id,
            guild_id=channel.guild_id,
            content=content,
            type=MessageType.REPLY if reference is not None else MessageType.DEFAULT,
            tts=tts,
            embeds=[_rich(e) for e in embeds],
            components=list(components),
            nonce=nonce,
            flags=flags,
            message_reference=reference,
        )
        self._resolve_mentions(message, channel, perms, allowed or AllowedMentions())
        message.attachments = [self._store_attachment(channel.id, f) for f in files]

        self.messages[message.id] = message
        self._history[channel.id].append(message.id)
        self._delivered.setdefault(channel.id, []).append(message)
        channel.last_message_id = message.id
        if channel.thread is not None:
            channel.thread.message_count += 1
            channel.thread.total_message_sent += 1
        if nonce is not None and enforce_nonce:
            self._remember_nonce(author_id, str(nonce), message.id)
        self._publish_message("MESSAGE_CREATE", message, channel)
        return message, True

    def visible_message(self, user_id: int, channel_id: int, message_id: int) -> Message:
        """A message the user may read (10003 / 50001 / 10008)."""
        channel, perms = self._visible(user_id, channel_id)
        if channel.guild_id is not None and not perms & READ_MESSAGE_HISTORY:
            raise errors.missing_access()
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel.id:
            raise errors.unknown("Message")
        return message

    def list_messages(
        self,
        user_id: int,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[Message]:
        """History newest first, as Discord pages it (before / after / around an id)."""
        channel, perms = self._visible(user_id, channel_id)
        if channel.guild_id is not None and not perms & READ_MESSAGE_HISTORY:
            return []
        ids = self._history.get(channel.id, [])
        if around is not None:
            start = max(0, bisect.bisect_left(ids, around) - limit // 2)
            chosen = ids[start : start + limit]
        elif after is not None:
            at = bisect.bisect_right(ids, after)
            chosen = ids[at : at + limit]
        else:
            end = len(ids) if before is None else bisect.bisect_left(ids, before)
            chosen = ids[max(0, end - limit) : end]
        return [self.messages[mid] for mid in reversed(chosen)]

    def edit_message(
        self,
        user_id: int,
        channel_id: int,
        message_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[JSONObject] | None = None,
        components: Sequence[JSONObject] | None = None,
        flags: int | None = None,
        keep_attachments: Iterable[int] | None = None,
        files: Sequence[NewAttachment] = (),
    ) -> Message:
        """Edit a message the user wrote (50005 otherwise); dispatches MESSAGE_UPDATE."""
        message = self.visible_message(user_id, channel_id, message_id)
        channel = self.channels[message.channel_id]
        if message.author_id != user_id:
            if content is not None or embeds is not None or files:
                raise errors.cannot_edit_others()
            if not self.permissions_for(user_id, channel) & MANAGE_MESSAGES:
                raise errors.missing_permissions()
        if content is not None:
            message.content = content
        if embeds is not None:
            message.embeds = [_rich(e) for e in embeds]
        if components is not None:
            message.components = list(components)
        if flags is not None:
            message.flags = flags
        if keep_attachments is not None:
            keep = set(keep_attachments)
            message.attachments = [a for a in message.attachments if a.id in keep]
        message.attachments.extend(self._store_attachment(channel.id, f) for f in files)
        if content is not None:
            perms = self.permissions_for(user_id, channel) if channel.guild_id else 0
            self._resolve_mentions(message, channel, perms, AllowedMentions())
        message.edited_timestamp = dt.datetime.now(dt.UTC)
        self._publish_message("MESSAGE_UPDATE", message, channel)
        return message

    def delete_message(self, user_id: int, channel_id: int, message_id: int) -> None:
        """Delete a message (own, or with MANAGE_MESSAGES); dispatches MESSAGE_DELETE."""
        message = self.visible_message(user_id, channel_id, message_id)
        channel = self.channels[message.channel_id]
        if message.author_id != user_id and not (
            self.permissions_for(user_id, channel) & MANAGE_MESSAGES
        ):
            raise errors.missing_permissions()
        message.deleted = True
        del self.messages[message.id]
        ids = self._history[channel.id]
        at = bisect.bisect_left(ids, message.id)
        if at < len(ids) and ids[at] == message.id:
            del ids[at]
        if channel.thread is not None:
            channel.thread.message_count = max(0, channel.thread.message_count - 1)
        data: JSONObject = {"id": str(message.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        self.publish(self._message_dispatch("MESSAGE_DELETE", data, channel))

    def trigger_typing(self, user_id: int, channel_id: int) -> None:
        """Show the user typing in a channel; dispatches TYPING_START."""
        channel = self.visible_channel(user_id, channel_id)
        if channel.guild_id is not None and not (
            self.permissions_for(user_id, channel) & SEND_MESSAGES
        ):
            raise errors.missing_permissions()
        data: JSONObject = {
            "channel_id": str(channel.id),
            "user_id": str(user_id),
            "timestamp": int(time.time()),
        }
        if channel.guild_id is None:
            intents = int(Intent.DIRECT_MESSAGE_TYPING)
        else:
            intents = int(Intent.GUILD_MESSAGE_TYPING)
            data["guild_id"] = str(channel.guild_id)
            member = self.guilds[channel.guild_id].members.get(user_id)
            if member is not None:
                data["member"] = partial_member_json(member)
                data["member"]["user"] = user_json(self.users[user_id])
        self.publish(
            Dispatch(
                "TYPING_START",
                data,
                intents,
                guild_id=channel.guild_id,
                channel_id=channel.id,
                user_ids=None if channel.guild_id is not None else frozenset(channel.recipients),
            )
        )

    def post_message(self, message: Message, channel: Channel, perms: int = 0) -> None:
        """Record a message built elsewhere (a webhook's, a forum post's first) and dispatch
        MESSAGE_CREATE; ``perms`` are the author's, for @everyone mentions."""
        self._resolve_mentions(message, channel, perms, AllowedMentions())
        self.messages[message.id] = message
        self._history[channel.id].append(message.id)
        self._delivered.setdefault(channel.id, []).append(message)
        channel.last_message_id = message.id
        if channel.thread is not None:
            channel.thread.message_count += 1
            channel.thread.total_message_sent += 1
        self._publish_message("MESSAGE_CREATE", message, channel)

    def store_attachment(self, channel_id: int, new: NewAttachment) -> Attachment:
        """Keep an uploaded file for a message built elsewhere; the CDN route serves it."""
        return self._store_attachment(channel_id, new)

    def unlist_message(self, message: Message) -> None:
        """Remove a message from the world without dispatching (bulk delete, channel delete)."""
        message.deleted = True
        self.messages.pop(message.id, None)
        ids = self._history.get(message.channel_id, [])
        at = bisect.bisect_left(ids, message.id)
        if at < len(ids) and ids[at] == message.id:
            del ids[at]
        channel = self.channels.get(message.channel_id)
        if channel is not None and channel.thread is not None:
            channel.thread.message_count = max(0, channel.thread.message_count - 1)

    def history_ids(self, channel_id: int) -> list[int]:
        """The ids of a channel's live messages, oldest first (live view: do not mutate)."""
        return self._history.get(channel_id, [])

    # ----------------------------------------------------------------- helpers

    def _reopen(self, thread: Channel) -> None:
        """Posting into an archived thread unarchives it (THREAD_UPDATE), as on Discord."""
        assert thread.thread is not None
        thread.thread.archived = False
        thread.thread.archive_timestamp = dt.datetime.now(dt.UTC)
        self.publish(
            Dispatch(
                "THREAD_UPDATE",
                channel_json(self, thread),
                int(Intent.GUILDS),
                guild_id=thread.guild_id,
                channel_id=thread.id,
            )
        )

    def _publish_message(self, event: str, message: Message, channel: Channel) -> None:
        data = message_json(self, message, nonce=event == "MESSAGE_CREATE", gateway=True)

        def redacted() -> JSONObject:
            return message_json(
                self, message, redact=True, nonce=event == "MESSAGE_CREATE", gateway=True
            )

        sees = frozenset((message.author_id, *message.mentions))
        self.publish(self._message_dispatch(event, data, channel, redacted, sees))

    def _message_dispatch(
        self,
        event: str,
        data: JSONObject,
        channel: Channel,
        redacted: Callable[[], JSONObject] | None = None,
        sees: frozenset[int] = frozenset(),
    ) -> Dispatch:
        if channel.guild_id is None:
            return Dispatch(
                event,
                data,
                int(Intent.DIRECT_MESSAGES),
                channel_id=channel.id,
                user_ids=frozenset(channel.recipients),
            )
        return Dispatch(
            event,
            data,
            int(Intent.GUILD_MESSAGES),
            guild_id=channel.guild_id,
            channel_id=channel.id,
            redacted=redacted,
            sees_content=sees,
        )

    def _resolve_mentions(
        self, message: Message, channel: Channel, perms: int, allowed: AllowedMentions
    ) -> None:
        content = message.content
        users: list[int] = []
        if "<@" in content:
            for match in _USER_MENTION.finditer(content):
                uid = int(match.group(1))
                if (
                    uid in self.users
                    and uid not in users
                    and ("users" in allowed.parse or uid in allowed.users)
                ):
                    users.append(uid)
        message.mentions = users
        roles: list[int] = []
        if channel.guild_id is not None and "<@&" in content:
            guild_roles = self.guilds[channel.guild_id].roles
            for match in _ROLE_MENTION.finditer(content):
                rid = int(match.group(1))
                if rid in guild_roles and rid not in roles:
                    roles.append(rid)
        message.mention_roles = roles
        message.mention_everyone = (
            ("@everyone" in content or "@here" in content)
            and "everyone" in allowed.parse
            and (channel.guild_id is None or bool(perms & _MENTION_EVERYONE))
        )

    def _store_attachment(self, channel_id: int, new: NewAttachment) -> Attachment:
        attachment_id = self.snowflakes.next()
        url = f"{self.cdn_base}/attachments/{channel_id}/{attachment_id}/{new.filename}"
        attachment = Attachment(
            id=attachment_id,
            filename=new.filename,
            size=len(new.data),
            url=url,
            proxy_url=url,
            content_type=new.content_type,
            description=new.description,
            data=new.data,
        )
        self._attachments[attachment_id] = attachment
        return attachment

    def _nonce_twin(self, author_id: int, nonce: str) -> Message | None:
        now = self.clock()
        order = self._nonce_order
        while order and order[0][0] <= now:
            _, key = order.popleft()
            entry = self._nonces.get(key)
            if entry is not None and entry[0] <= now:
                del self._nonces[key]
        entry = self._nonces.get((author_id, nonce))
        if entry is None:
            return None
        message = self.messages.get(entry[1])
        return None if message is None or message.deleted else message

    def _remember_nonce(self, author_id: int, nonce: str, message_id: int) -> None:
        expires = self.clock() + self.nonce_window
        key = (author_id, nonce)
        self._nonces[key] = (expires, message_id)
        self._nonce_order.append((expires, key))


def _sees(user_id: int, channel: Channel, perms: int) -> bool:
    """Whether a member with ``perms`` in a guild channel sees it (a private thread also needs
    its membership or MANAGE_THREADS)."""
    if channel.type == ChannelType.PRIVATE_THREAD and channel.thread is not None:
        return bool(perms & VIEW_CHANNEL) and (
            user_id in channel.thread.member_ids or bool(perms & _MANAGE_THREADS)
        )
    return bool(perms & VIEW_CHANNEL)


def _rich(embed: JSONObject) -> JSONObject:
    out = dict(embed)
    out.setdefault("type", "rich")
    return out
