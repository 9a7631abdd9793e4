"""Voice states: who is in which voice channel, muted or deafened, streaming.

Discord has no REST route that lists a guild's voice states: the whole list comes from the
gateway (GUILD_CREATE's ``voice_states``, then VOICE_STATE_UPDATE), which the port reads from
its cache (:meth:`~actors.discord_port.DiscordPort.voice_states`). One member's state can be
asked live over REST (``GET /guilds/{guild_id}/voice-states/{user_id}``, 404 10065 when they
are not in voice): :func:`voice_state_of`.
"""

from __future__ import annotations

from typing import Any

import attrs

from actors.discord_port import DiscordNotFound, DiscordPort

UNKNOWN_VOICE_STATE = 10065
MAX_NAME_LOOKUPS = 25
"""Members in voice whose names the gateway did not give, looked up over REST per call."""


@attrs.frozen
class VoiceStateInfo:
    """One member connected to a voice channel."""

    guild_id: int
    channel_id: int
    user_id: int
    username: str | None
    """None when the gateway did not send the member with the state."""
    display_name: str | None
    mute: bool
    """Server-muted by a moderator."""
    deaf: bool
    """Server-deafened by a moderator."""
    self_mute: bool
    self_deaf: bool
    self_stream: bool
    """Streaming (Go Live)."""
    self_video: bool
    suppress: bool
    """Suppressed in a stage channel (not a speaker)."""


def voice_state_from_payload(data: Any, guild_id: int) -> VoiceStateInfo:
    member = data.get("member") or {}
    user = member.get("user") or {}
    username = user.get("username")
    display = member.get("nick") or user.get("global_name") or username
    return VoiceStateInfo(
        guild_id=guild_id,
        channel_id=int(data["channel_id"]),
        user_id=int(data["user_id"]),
        username=None if username is None else str(username),
        display_name=None if display is None else str(display),
        mute=bool(data.get("mute", False)),
        deaf=bool(data.get("deaf", False)),
        self_mute=bool(data.get("self_mute", False)),
        self_deaf=bool(data.get("self_deaf", False)),
        self_stream=bool(data.get("self_stream", False)),
        self_video=bool(data.get("self_video", False)),
        suppress=bool(data.get("suppress", False)),
    )


async def list_voice_states(port: DiscordPort, guild_id: int) -> list[VoiceStateInfo]:
    """Everyone in the guild's voice channels, by channel then user id (the gateway's view);
    names the gateway left out are looked up (up to :data:`MAX_NAME_LOOKUPS`)."""
    if guild_id not in {g.id for g in await port.list_guilds()}:
        raise DiscordNotFound(f"guild {guild_id}")
    states = [
        voice_state_from_payload(v, guild_id)
        for v in await port.voice_states(guild_id)
        if v.get("channel_id") is not None
    ]
    states.sort(key=lambda s: (s.channel_id, s.user_id))
    unnamed = [i for i, s in enumerate(states) if s.username is None][:MAX_NAME_LOOKUPS]
    for i in unnamed:
        try:
            member = await port.get_member(guild_id, states[i].user_id)
        except DiscordNotFound:
            continue  # left the guild since: keep the state, nameless
        states[i] = attrs.evolve(states[i], username=member.name, display_name=member.display_name)
    return states


async def voice_state_of(port: DiscordPort, guild_id: int, user_id: int) -> VoiceStateInfo | None:
    """``user_id``'s voice state asked live over REST; None when they are not in voice."""
    try:
        data = await port.rest(
            "GET",
            "/guilds/{guild_id}/voice-states/{user_id}",
            action=f"see the voice state of user {user_id} in guild {guild_id}",
            what=f"member {user_id} of guild {guild_id}",
            ids={"guild_id": guild_id, "user_id": user_id},
        )
    except DiscordNotFound as exc:
        if exc.code == UNKNOWN_VOICE_STATE:
            return None
        raise
    if data.get("channel_id") is None:
        return None
    return voice_state_from_payload(data, guild_id)


__all__ = ["VoiceStateInfo", "list_voice_states", "voice_state_from_payload", "voice_state_of"]
