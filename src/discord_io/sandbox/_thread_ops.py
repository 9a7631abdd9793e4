"""Threads and forum posts: start them, join and leave them, list archived ones.

Discord's rules (``topics/threads.mdx``, ``resources/channel.mdx``):

- a thread from a message lives in a text or announcement channel, shares the message's id,
  needs CREATE_PUBLIC_THREADS and is one per message (160004);
- a thread without a message is private by default (``type`` 12, CREATE_PRIVATE_THREADS, text
  channels only) or public (11, CREATE_PUBLIC_THREADS; 10 in announcement channels);
- a forum or media post is a public thread with a first message (``message``) whose id is the
  thread's; it needs SEND_MESSAGES in the forum, and its ``applied_tags`` must be the forum's;
- the creator is the thread's owner and first member; joining an archived thread is 50083;
  removing someone else needs MANAGE_THREADS (or owning the private thread);
- archived threads list newest archive first: public ones for anyone who can read history,
  private ones with MANAGE_THREADS, or the private ones the caller joined.

Dispatches (GUILDS intent, to sessions that can see the thread): THREAD_CREATE with
``newly_created``; THREAD_MEMBERS_UPDATE to every bot with GUILD_MEMBERS and, whatever its
intents, to the bot added or removed (who also gets THREAD_CREATE when added);
THREAD_MEMBER_UPDATE to the creator's sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from . import _errors as errors
from ._access import PERMISSION_BITS, READ_MESSAGE_HISTORY, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS
from ._channel_ops import (
    ARCHIVE_DURATIONS,
    MANAGE_THREADS,
    MAX_SLOWMODE,
    AuditEvent,
    Problems,
    applied_tags,
    archived_thread,
    audit,
    dm_channel,
    fail_on,
    integer_field,
    string_field,
    wrong_channel_type,
)
from ._errors import DiscordError
from ._events import Dispatch
from ._guild_ops import change
from ._intents import Intent
from ._model import (
    Channel,
    ChannelType,
    JSONObject,
    Message,
    ThreadInfo,
)
from ._serialize import channel_json, thread_member_json
from ._state import NewAttachment, SandboxState

CREATE_PUBLIC_THREADS = PERMISSION_BITS["create_public_threads"]
CREATE_PRIVATE_THREADS = PERMISSION_BITS["create_private_threads"]
FORUMS = frozenset({ChannelType.GUILD_FORUM, ChannelType.GUILD_MEDIA})
THREAD_PARENTS = frozenset({ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT})
HAS_THREAD = 1 << 5
"""Message flag: a thread was started from this message."""


def thread_exists() -> DiscordError:
    """400 160004: the message already has a thread."""
    return DiscordError(400, 160004, "A thread has already been created for this message")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _thread_fields(payload: JSONObject, problems: Problems) -> tuple[str | None, int, int | None]:
    name = string_field(payload, "name", problems, 1, 100)
    if payload.get("name") is None:
        problems["name"] = [("BASE_TYPE_REQUIRED", "This field is required")]
    duration = payload.get("auto_archive_duration")
    if duration is None:
        duration = 1440
    if duration not in ARCHIVE_DURATIONS:
        problems["auto_archive_duration"] = [
            ("BASE_TYPE_CHOICES", f"Value must be one of {set(ARCHIVE_DURATIONS)}.")
        ]
        duration = 1440
    slowmode = integer_field(payload, "rate_limit_per_user", problems, 0, MAX_SLOWMODE)
    return name, int(duration), slowmode


def _guild_channel(state: SandboxState, user_id: int, channel_id: int) -> tuple[Channel, int]:
    channel = state.visible_channel(user_id, channel_id)
    if channel.guild_id is None:
        raise dm_channel()
    return channel, state.permissions_for(user_id, channel)


def _new_thread(
    state: SandboxState,
    parent: Channel,
    *,
    thread_id: int,
    kind: ChannelType,
    name: str,
    owner_id: int,
    duration: int,
    slowmode: int | None,
    invitable: bool = True,
    tags: Sequence[int] = (),
) -> Channel:
    now = _now()
    thread = Channel(
        id=thread_id,
        type=kind,
        guild_id=parent.guild_id,
        name=name,
        parent_id=parent.id,
        rate_limit_per_user=slowmode or 0,
        thread=ThreadInfo(
            owner_id=owner_id,
            auto_archive_duration=duration,
            invitable=invitable,
            create_timestamp=now,
            member_ids={owner_id},
            joined_at={owner_id: now},
            applied_tags=list(tags),
        ),
    )
    state.add_channel(thread)
    return thread


def _announce(
    state: SandboxState,
    thread: Channel,
    owner_id: int,
    reason: str | None = None,
    *,
    audited: bool = True,
) -> None:
    if audited:
        audit(
            state,
            thread.guild_id,
            AuditEvent.THREAD_CREATE,
            owner_id,
            thread.id,
            reason=reason,
            changes=[change("name", new=thread.name), change("type", new=int(thread.type))],
        )
    data = channel_json(state, thread)
    data["newly_created"] = True
    state.publish(
        Dispatch(
            "THREAD_CREATE",
            data,
            int(Intent.GUILDS),
            guild_id=thread.guild_id,
            channel_id=thread.id,
        )
    )
    member = thread_member_json(thread, owner_id)
    member["guild_id"] = str(thread.guild_id)
    state.publish(
        Dispatch(
            "THREAD_MEMBER_UPDATE",
            member,
            int(Intent.GUILDS),
            guild_id=thread.guild_id,
            channel_id=thread.id,
            user_ids=frozenset({owner_id}),
        )
    )


def start_from_message(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    message_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> Channel:
    """``POST /channels/{id}/messages/{message_id}/threads``: a public thread on a message."""
    channel, perms = _guild_channel(state, user_id, channel_id)
    if channel.type not in THREAD_PARENTS:
        raise wrong_channel_type()
    message = state.visible_message(user_id, channel.id, message_id)
    problems: Problems = {}
    name, duration, slowmode = _thread_fields(payload, problems)
    fail_on(problems)
    assert name is not None
    if not perms & CREATE_PUBLIC_THREADS:
        raise errors.missing_permissions()
    if message.id in state.channels or message.flags & HAS_THREAD:
        raise thread_exists()
    kind = (
        ChannelType.ANNOUNCEMENT_THREAD
        if channel.type == ChannelType.GUILD_ANNOUNCEMENT
        else ChannelType.PUBLIC_THREAD
    )
    thread = _new_thread(
        state,
        channel,
        thread_id=message.id,
        kind=kind,
        name=name,
        owner_id=user_id,
        duration=duration,
        slowmode=slowmode,
    )
    message.flags |= HAS_THREAD
    _announce(state, thread, user_id, reason)
    return thread


def start_without_message(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    payload: JSONObject,
    *,
    reason: str | None = None,
) -> Channel:
    """``POST /channels/{id}/threads`` in a text or announcement channel."""
    channel, perms = _guild_channel(state, user_id, channel_id)
    if channel.type not in THREAD_PARENTS:
        raise wrong_channel_type()
    problems: Problems = {}
    name, duration, slowmode = _thread_fields(payload, problems)
    raw_type = payload.get("type", int(ChannelType.PRIVATE_THREAD))
    if raw_type is None:
        raw_type = int(ChannelType.PRIVATE_THREAD)
    allowed = {int(ChannelType.PRIVATE_THREAD), int(ChannelType.PUBLIC_THREAD)}
    if channel.type == ChannelType.GUILD_ANNOUNCEMENT:
        allowed = {int(ChannelType.ANNOUNCEMENT_THREAD)}
    if isinstance(raw_type, bool) or raw_type not in allowed:
        problems["type"] = [("BASE_TYPE_CHOICES", f"Value must be one of {allowed}.")]
    invitable = payload.get("invitable")
    if invitable is not None and not isinstance(invitable, bool):
        problems["invitable"] = [("BASE_TYPE_BOOLEAN", "Must be either true or false.")]
    fail_on(problems)
    assert name is not None
    kind = ChannelType(raw_type)
    needed = CREATE_PRIVATE_THREADS if kind == ChannelType.PRIVATE_THREAD else CREATE_PUBLIC_THREADS
    if not perms & needed:
        raise errors.missing_permissions()
    thread = _new_thread(
        state,
        channel,
        thread_id=state.snowflakes.next(),
        kind=kind,
        name=name,
        owner_id=user_id,
        duration=duration,
        slowmode=slowmode,
        invitable=invitable is not False,
    )
    _announce(state, thread, user_id, reason)
    return thread


def start_forum_post(
    state: SandboxState,
    user_id: int,
    channel_id: int,
    payload: JSONObject,
    *,
    content: str,
    embeds: Sequence[JSONObject],
    components: Sequence[JSONObject],
    files: Sequence[NewAttachment],
    reason: str | None = None,
) -> tuple[Channel, Message]:
    """``POST /channels/{id}/threads`` in a forum or media channel: a post and its first message.

    The route has read ``message`` (``content``, ``embeds`` ...) and the files already.
    """
    forum, perms = _guild_channel(state, user_id, channel_id)
    if forum.type not in FORUMS:
        raise wrong_channel_type()
    problems: Problems = {}
    name, duration, slowmode = _thread_fields(payload, problems)
    if not isinstance(payload.get("message"), dict):
        problems["message"] = [("BASE_TYPE_REQUIRED", "This field is required")]
    tags = applied_tags(state, _probe(forum), payload.get("applied_tags"), problems) or []
    fail_on(problems)
    assert name is not None
    if not perms & SEND_MESSAGES:
        raise errors.missing_permissions()
    if not content and not embeds and not files and not components:
        raise errors.empty_message()
    thread_id = state.snowflakes.next()
    thread = _new_thread(
        state,
        forum,
        thread_id=thread_id,
        kind=ChannelType.PUBLIC_THREAD,
        name=name,
        owner_id=user_id,
        duration=duration,
        slowmode=slowmode,
        tags=tags,
    )
    message = Message(
        id=thread_id,
        channel_id=thread.id,
        author_id=user_id,
        guild_id=thread.guild_id,
        content=content,
        embeds=[{"type": "rich", **e} for e in embeds],
        components=list(components),
    )
    message.attachments = [state.store_attachment(thread.id, f) for f in files]
    forum.last_message_id = thread.id
    _announce(state, thread, user_id, reason)
    state.post_message(message, thread, perms)
    assert thread.thread is not None
    thread.thread.message_count = 0  # the starter message does not count
    return thread, message


def open_webhook_post(
    state: SandboxState, forum: Channel, webhook_id: int, name: object, raw_tags: object
) -> Channel:
    """A forum post a webhook opens with ``thread_name``: its owner is the webhook; the caller
    posts the first message with the thread's id."""
    problems: Problems = {}
    title = string_field({"thread_name": name}, "thread_name", problems, 1, 100)
    tags = applied_tags(state, _probe(forum), raw_tags, problems) or []
    fail_on(problems)
    assert title is not None
    thread = _new_thread(
        state,
        forum,
        thread_id=state.snowflakes.next(),
        kind=ChannelType.PUBLIC_THREAD,
        name=title,
        owner_id=webhook_id,
        duration=1440,
        slowmode=None,
        tags=tags,
    )
    forum.last_message_id = thread.id
    _announce(state, thread, webhook_id, audited=False)
    return thread


def _probe(forum: Channel) -> Channel:
    """A stand-in thread of ``forum``, to check ``applied_tags`` before the thread exists."""
    return Channel(id=0, type=ChannelType.PUBLIC_THREAD, parent_id=forum.id)


# ----------------------------------------------------------------------------- members


def _thread(state: SandboxState, user_id: int, channel_id: int) -> Channel:
    channel = state.visible_channel(user_id, channel_id)
    if channel.thread is None:
        raise wrong_channel_type()
    return channel


def _members_update(
    state: SandboxState,
    thread: Channel,
    affected: int,
    *,
    added: bool,
) -> None:
    info = thread.thread
    assert info is not None
    assert thread.guild_id is not None
    data: JSONObject = {
        "id": str(thread.id),
        "guild_id": str(thread.guild_id),
        "member_count": len(info.member_ids) - (0 if added else 1),
    }
    if added:
        member = thread_member_json(thread, affected)
        data["added_members"] = [member]
    else:
        data["removed_member_ids"] = [str(affected)]
    others = frozenset(uid for uid in state.guilds[thread.guild_id].members if uid != affected)
    for intents, users in ((int(Intent.GUILD_MEMBERS), others), (0, frozenset({affected}))):
        state.publish(
            Dispatch(
                "THREAD_MEMBERS_UPDATE",
                data,
                intents,
                guild_id=thread.guild_id,
                channel_id=thread.id,
                user_ids=users,
            )
        )


def add_member(state: SandboxState, actor_id: int, channel_id: int, user_id: int) -> None:
    """``PUT /channels/{id}/thread-members/@me`` or ``/{user_id}``: join or add someone."""
    thread = _thread(state, actor_id, channel_id)
    info = thread.thread
    assert info is not None
    assert thread.guild_id is not None
    if info.archived:
        raise archived_thread()
    perms = state.permissions_for(actor_id, thread)
    if user_id != actor_id:
        if not perms & SEND_MESSAGES_IN_THREADS:
            raise errors.missing_permissions()
        if (
            thread.type == ChannelType.PRIVATE_THREAD
            and not perms & MANAGE_THREADS
            and not (info.invitable and actor_id in info.member_ids)
        ):
            raise errors.missing_permissions()
        if state.member(thread.guild_id, user_id) is None:
            raise errors.unknown("Member")
    if user_id in info.member_ids:
        return
    info.member_ids.add(user_id)
    info.joined_at[user_id] = _now()
    data = channel_json(state, thread)  # the added user learns of the thread (and joins it)
    data["member"] = thread_member_json(thread, user_id)
    state.publish(
        Dispatch(
            "THREAD_CREATE",
            data,
            int(Intent.GUILDS),
            guild_id=thread.guild_id,
            channel_id=thread.id,
            user_ids=frozenset({user_id}),
        )
    )
    _members_update(state, thread, user_id, added=True)


def remove_member(state: SandboxState, actor_id: int, channel_id: int, user_id: int) -> None:
    """``DELETE /channels/{id}/thread-members/@me`` or ``/{user_id}``: leave or remove."""
    thread = _thread(state, actor_id, channel_id)
    info = thread.thread
    assert info is not None
    if info.archived:
        raise archived_thread()
    if user_id != actor_id:
        owner_of_private = thread.type == ChannelType.PRIVATE_THREAD and info.owner_id == actor_id
        if not (state.permissions_for(actor_id, thread) & MANAGE_THREADS or owner_of_private):
            raise errors.missing_permissions()
    if user_id not in info.member_ids:
        return
    # published while the user is still a member, so a private thread's leaver hears of it too
    _members_update(state, thread, user_id, added=False)
    info.member_ids.discard(user_id)
    info.joined_at.pop(user_id, None)


def members(state: SandboxState, actor_id: int, channel_id: int) -> list[int]:
    """A thread's member ids, ascending."""
    info = _thread(state, actor_id, channel_id).thread
    assert info is not None
    return sorted(info.member_ids)


def member(state: SandboxState, actor_id: int, channel_id: int, user_id: int) -> Channel:
    """The thread if ``user_id`` is one of its members (10007 Unknown Member otherwise)."""
    thread = _thread(state, actor_id, channel_id)
    assert thread.thread is not None
    if user_id not in thread.thread.member_ids:
        raise errors.unknown("Member")
    return thread


# ----------------------------------------------------------------------------- archived


def archived_threads(
    state: SandboxState,
    actor_id: int,
    channel_id: int,
    *,
    private: bool,
    joined_only: bool,
    before: dt.datetime | int | None,
    limit: int,
) -> tuple[list[Channel], bool]:
    """Archived threads of a channel, newest archive first; and whether more remain."""
    channel, perms = _guild_channel(state, actor_id, channel_id)
    if channel.type not in THREAD_PARENTS | FORUMS:
        raise wrong_channel_type()
    if not perms & READ_MESSAGE_HISTORY:
        raise errors.missing_permissions()
    if private and not joined_only and not perms & MANAGE_THREADS:
        raise errors.missing_permissions()
    guild = state.guilds[channel.guild_id] if channel.guild_id is not None else None
    assert guild is not None
    found = [t for t in _children(state, guild.channel_ids, channel.id) if _archived(t)]
    if private:
        found = [t for t in found if t.type == ChannelType.PRIVATE_THREAD]
    else:
        found = [t for t in found if t.type != ChannelType.PRIVATE_THREAD]
    if joined_only:
        found = [t for t in found if t.thread is not None and actor_id in t.thread.member_ids]
    if joined_only:  # the joined list pages by thread id, the others by archive time
        found.sort(key=lambda t: t.id, reverse=True)
        if isinstance(before, int):
            found = [t for t in found if t.id < before]
    else:
        found.sort(key=_archive_time, reverse=True)
    if isinstance(before, dt.datetime):
        found = [t for t in found if _archive_time(t) < before]
    return found[:limit], len(found) > limit


def _children(state: SandboxState, ids: Iterable[int], parent_id: int) -> list[Channel]:
    return [
        state.channels[cid]
        for cid in ids
        if cid in state.channels and state.channels[cid].parent_id == parent_id
    ]


def _archived(channel: Channel) -> bool:
    return channel.thread is not None and channel.thread.archived


def _archive_time(channel: Channel) -> dt.datetime:
    info = channel.thread
    assert info is not None
    return info.archive_timestamp or info.create_timestamp
