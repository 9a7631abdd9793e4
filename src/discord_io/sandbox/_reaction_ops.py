"""Reactions on messages: add, remove (own or someone's), list who reacted, clear.

Discord's rules, as ``resources/message.mdx`` states them:

- reacting needs READ_MESSAGE_HISTORY, and ADD_REACTIONS too when the emoji is not on the
  message yet (anyone may join an existing reaction); a message holds at most 20 distinct
  emoji (30010);
- removing someone else's reaction, clearing all reactions or one emoji's needs
  MANAGE_MESSAGES, and is impossible in a DM (50003);
- adding a reaction twice, or removing one that is not there, answers 204 and dispatches nothing;
- reactions in an archived thread cannot change (50083).

Emoji arrive in the path as a unicode emoji or ``name:id`` (custom). The sandbox keeps no
emoji registry, so any well-formed custom emoji is accepted; text that cannot be an emoji
(plain ASCII) is 10014 Unknown Emoji, as on Discord.

Dispatches: MESSAGE_REACTION_ADD / _REMOVE / _REMOVE_ALL / _REMOVE_EMOJI, for the
GUILD_MESSAGE_REACTIONS intent in guilds and DIRECT_MESSAGE_REACTIONS in DMs.
"""

from __future__ import annotations

import attrs

from . import _errors as errors
from ._access import MANAGE_MESSAGES, PERMISSION_BITS
from ._channel_ops import archived_thread
from ._errors import DiscordError
from ._events import Dispatch
from ._intents import Intent
from ._model import Channel, JSONObject, Message, Reaction
from ._serialize import partial_member_json, user_json
from ._snowflake import parse_snowflake
from ._state import SandboxState

ADD_REACTIONS = PERMISSION_BITS["add_reactions"]
MAX_DISTINCT = 20
"""Distinct emoji one message may carry (30010 beyond)."""


@attrs.frozen
class Emoji:
    """An emoji as a reaction route names it."""

    name: str
    id: int | None = None

    @property
    def key(self) -> str:
        """The key of ``Message.reactions``: the name, or ``name:id`` for a custom emoji."""
        return self.name if self.id is None else f"{self.name}:{self.id}"

    def to_json(self) -> JSONObject:
        """The ``emoji`` object of a reaction dispatch."""
        return {"id": None if self.id is None else str(self.id), "name": self.name}


def parse_emoji(raw: str) -> Emoji:
    """A path's emoji: unicode, or ``name:id`` / ``a:name:id`` (10014 Unknown Emoji otherwise)."""
    text = raw.strip()
    if ":" in text:
        parts = [p for p in text.split(":") if p]
        if parts and parts[0] == "a" and len(parts) == 3:
            parts = parts[1:]
        if len(parts) == 2:
            ident = parse_snowflake(parts[1])
            if ident is not None and ident > 0 and parts[0].replace("_", "").isalnum():
                return Emoji(parts[0], ident)
        raise errors.unknown("Emoji")
    if not text or text.isascii() or len(text) > 32:
        raise errors.unknown("Emoji")
    return Emoji(text)


def max_reactions() -> DiscordError:
    """400 30010: the message already carries 20 distinct emoji."""
    return DiscordError(400, 30010, "Maximum number of reactions reached (20)")


def dm_not_allowed() -> DiscordError:
    """403 50003: moderation of reactions has no meaning in a DM."""
    return DiscordError(403, 50003, "Cannot execute action on a DM channel")


def _message(state: SandboxState, user_id: int, channel_id: int, message_id: int) -> Message:
    return state.visible_message(user_id, channel_id, message_id)


def _writable(state: SandboxState, user_id: int, channel_id: int, message_id: int) -> Message:
    """A message whose reactions may change: not in an archived thread (50083)."""
    message = _message(state, user_id, channel_id, message_id)
    thread = state.channels[message.channel_id].thread
    if thread is not None and thread.archived:
        raise archived_thread()
    return message


def _perms(state: SandboxState, user_id: int, channel: Channel) -> int:
    return state.permissions_for(user_id, channel) if channel.guild_id is not None else -1


def add_reaction(
    state: SandboxState, user_id: int, channel_id: int, message_id: int, emoji: Emoji
) -> None:
    """React as ``user_id``; dispatches MESSAGE_REACTION_ADD unless already reacted."""
    message = _writable(state, user_id, channel_id, message_id)
    channel = state.channels[message.channel_id]
    reaction = message.reactions.get(emoji.key)
    if reaction is None:
        if not _perms(state, user_id, channel) & ADD_REACTIONS:
            raise errors.missing_permissions()
        if len(message.reactions) >= MAX_DISTINCT:
            raise max_reactions()
        reaction = message.reactions[emoji.key] = Reaction(emoji.name, emoji.id)
    elif user_id in reaction.user_ids:
        return
    reaction.user_ids.append(user_id)
    data = _event_data(message, channel, emoji, user_id)
    data["message_author_id"] = str(message.author_id)
    if channel.guild_id is not None:
        member = state.member(channel.guild_id, user_id)
        if member is not None:
            data["member"] = partial_member_json(member)
            data["member"]["user"] = user_json(state.users[user_id])
    state.publish(_dispatch("MESSAGE_REACTION_ADD", data, channel))


def remove_reaction(
    state: SandboxState,
    actor_id: int,
    channel_id: int,
    message_id: int,
    emoji: Emoji,
    user_id: int,
) -> None:
    """Remove ``user_id``'s reaction (someone else's needs MANAGE_MESSAGES)."""
    message = _writable(state, actor_id, channel_id, message_id)
    channel = state.channels[message.channel_id]
    if user_id != actor_id:
        if channel.guild_id is None:
            raise dm_not_allowed()
        if not _perms(state, actor_id, channel) & MANAGE_MESSAGES:
            raise errors.missing_permissions()
    reaction = message.reactions.get(emoji.key)
    if reaction is None or user_id not in reaction.user_ids:
        return
    reaction.user_ids.remove(user_id)
    if not reaction.user_ids:
        del message.reactions[emoji.key]
    data = _event_data(message, channel, emoji, user_id)
    state.publish(_dispatch("MESSAGE_REACTION_REMOVE", data, channel))


def reaction_users(
    state: SandboxState,
    viewer_id: int,
    channel_id: int,
    message_id: int,
    emoji: Emoji,
    *,
    after: int | None,
    limit: int,
) -> list[int]:
    """Who reacted with ``emoji``, by user id ascending, after ``after``, at most ``limit``."""
    message = _message(state, viewer_id, channel_id, message_id)
    reaction = message.reactions.get(emoji.key)
    if reaction is None:
        return []
    ids = sorted(reaction.user_ids)
    if after is not None:
        ids = [uid for uid in ids if uid > after]
    return ids[:limit]


def clear_reactions(
    state: SandboxState, actor_id: int, channel_id: int, message_id: int, emoji: Emoji | None
) -> None:
    """Remove every reaction (or one emoji's); MANAGE_MESSAGES; dispatches REMOVE_ALL/EMOJI."""
    message = _writable(state, actor_id, channel_id, message_id)
    channel = state.channels[message.channel_id]
    if channel.guild_id is None:
        raise dm_not_allowed()
    if not _perms(state, actor_id, channel) & MANAGE_MESSAGES:
        raise errors.missing_permissions()
    data: JSONObject = {"channel_id": str(channel.id), "message_id": str(message.id)}
    data["guild_id"] = str(channel.guild_id)
    if emoji is None:
        message.reactions.clear()
        state.publish(_dispatch("MESSAGE_REACTION_REMOVE_ALL", data, channel))
        return
    if message.reactions.pop(emoji.key, None) is None:
        return
    data["emoji"] = emoji.to_json()
    state.publish(_dispatch("MESSAGE_REACTION_REMOVE_EMOJI", data, channel))


def _event_data(message: Message, channel: Channel, emoji: Emoji, user_id: int) -> JSONObject:
    data: JSONObject = {
        "user_id": str(user_id),
        "channel_id": str(channel.id),
        "message_id": str(message.id),
        "emoji": emoji.to_json(),
        "burst": False,
        "burst_colors": [],
        "type": 0,
    }
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    return data


def _dispatch(event: str, data: JSONObject, channel: Channel) -> Dispatch:
    if channel.guild_id is None:
        return Dispatch(
            event,
            data,
            int(Intent.DIRECT_MESSAGE_REACTIONS),
            channel_id=channel.id,
            user_ids=frozenset(channel.recipients),
        )
    return Dispatch(
        event,
        data,
        int(Intent.GUILD_MESSAGE_REACTIONS),
        guild_id=channel.guild_id,
        channel_id=channel.id,
    )
