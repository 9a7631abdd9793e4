"""What the gateway sends when a session starts: READY, GUILD_CREATE, GUILD_MEMBERS_CHUNK.

Member lists follow Discord's rules: with the presences intent a small guild (at most
``large_threshold`` members) arrives with every member and presence; otherwise GUILD_CREATE
carries only the bot itself and members in voice channels, and the rest come from
REQUEST_GUILD_MEMBERS as chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ._intents import Intent, application_flags
from ._model import Bot, Guild, JSONObject, Member
from ._serialize import (
    channel_json,
    guild_json,
    member_json,
    presence_json,
    self_user_json,
    voice_state_json,
)
from ._snowflake import iso_timestamp
from ._state import SandboxState


def ready_json(
    bot: Bot,
    session_id: str,
    resume_url: str,
    guild_ids: Sequence[int],
    shard: tuple[int, int] | None,
) -> JSONObject:
    """The READY dispatch's ``d``."""
    out: JSONObject = {
        "v": 10,
        "user": self_user_json(bot.user),
        "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
        "session_id": session_id,
        "resume_gateway_url": resume_url,
        "session_type": "normal",
        "application": {
            "id": str(bot.application_id),
            "flags": application_flags(bot.granted_intents),
        },
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
        "_trace": ['["mcp-discord-sandbox",{"micros":0}]'],
    }
    if shard is not None:
        out["shard"] = list(shard)
    return out


def is_large(guild: Guild, large_threshold: int) -> bool:
    """Discord's ``large``: more members than the session's ``large_threshold``."""
    return len(guild.members) > large_threshold


def guild_create_json(
    state: SandboxState, guild: Guild, bot: Bot, intents: int, large_threshold: int
) -> JSONObject:
    """The GUILD_CREATE dispatch's ``d`` for one session."""
    users = state.users
    large = is_large(guild, large_threshold)
    if intents & Intent.GUILD_PRESENCES and not large:
        members: list[Member] = list(guild.members.values())
    else:
        wanted = {bot.id, *guild.voice_states}
        members = [m for uid, m in guild.members.items() if uid in wanted]
    presences = []
    if intents & Intent.GUILD_PRESENCES:
        presences = [
            presence_json(users[m.user_id], None)
            for m in members
            if users[m.user_id].status != "offline"
        ]
    channels = []
    threads = []
    for channel in state.guild_channels(guild):
        if not state.can_view(bot.id, channel):
            continue
        if channel.is_thread:
            if channel.thread is not None and not channel.thread.archived:
                threads.append(channel_json(state, channel))
        else:
            channels.append(channel_json(state, channel))
    out = guild_json(guild)
    out.update(
        joined_at=iso_timestamp(guild.members[bot.id].joined_at),
        large=large,
        unavailable=False,
        member_count=len(guild.members),
        members=[member_json(m, users[m.user_id]) for m in members],
        channels=channels,
        threads=threads,
        presences=presences,
        voice_states=[voice_state_json(None, vs) for vs in guild.voice_states.values()],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        embedded_activities=[],
        lazy=True,
    )
    return out


def member_chunks(
    state: SandboxState,
    guild: Guild,
    *,
    query: str,
    limit: int,
    user_ids: Sequence[int] | None,
    presences: bool,
    nonce: str | None,
    chunk_size: int,
) -> Iterator[JSONObject]:
    """GUILD_MEMBERS_CHUNK payloads answering one REQUEST_GUILD_MEMBERS."""
    users = state.users
    not_found: list[str] = []
    if user_ids is not None:
        found = []
        for uid in user_ids[:100]:
            member = guild.members.get(uid)
            if member is None:
                not_found.append(str(uid))
            else:
                found.append(member)
    else:
        needle = query.casefold()
        found = [
            m
            for uid, m in guild.members.items()
            if users[uid].username.casefold().startswith(needle)
            or (m.nick is not None and m.nick.casefold().startswith(needle))
        ]
        if limit > 0 or query:
            found = found[: limit or 100]
    chunk_count = max(1, -(-len(found) // chunk_size))
    for index in range(chunk_count):
        part = found[index * chunk_size : (index + 1) * chunk_size]
        out: JSONObject = {
            "guild_id": str(guild.id),
            "members": [member_json(m, users[m.user_id]) for m in part],
            "chunk_index": index,
            "chunk_count": chunk_count,
        }
        if presences:
            out["presences"] = [
                presence_json(users[m.user_id], None)
                for m in part
                if users[m.user_id].status != "offline"
            ]
        if not_found and index == 0:
            out["not_found"] = not_found
        if nonce is not None:
            out["nonce"] = nonce
        yield out
