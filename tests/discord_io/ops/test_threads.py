"""The thread and pin operations over ``AgentClient.rest``, against the sandbox, and their
translators."""

from __future__ import annotations

import datetime as dt

import anyio
import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.discord_io.agent_helpers import make_agent, running

from actors.discord_port import ChannelKind, DiscordBadRequest, DiscordForbidden
from discord_io.ops import pins, threads
from discord_io.sandbox import Sandbox
from discord_io.sandbox._reaction_ops import Emoji, add_reaction

pytestmark = [pytest.mark.anyio]


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_snowflake_time_is_discord_py_s(snowflake: int) -> None:
    """snowflake_time agrees with discord.py's for every id."""
    assert pins.snowflake_time(snowflake) == discord.utils.snowflake_time(snowflake)


@given(
    archived=st.booleans(),
    locked=st.booleans(),
    duration=st.sampled_from(threads.ARCHIVE_DURATIONS),
    tags=st.lists(st.integers(min_value=1, max_value=2**63), max_size=5),
)
def test_thread_from_payload(archived: bool, locked: bool, duration: int, tags: list[int]) -> None:
    """Ids become ints, metadata flags and times carry over, tags keep their order."""
    data = {
        "id": "11",
        "type": 11,
        "guild_id": "1",
        "parent_id": "2",
        "name": "t",
        "owner_id": "3",
        "message_count": 4,
        "member_count": 2,
        "applied_tags": [str(t) for t in tags],
        "thread_metadata": {
            "archived": archived,
            "locked": locked,
            "auto_archive_duration": duration,
            "archive_timestamp": "2026-01-02T03:04:05.000000+00:00",
            "create_timestamp": "2026-01-01T00:00:00+00:00",
        },
    }
    info = threads.thread_from_payload(data)
    assert (info.id, info.guild_id, info.parent_id, info.owner_id) == (11, 1, 2, 3)
    assert (info.archived, info.locked, info.auto_archive_duration) == (archived, locked, duration)
    assert info.archived_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert info.applied_tags == tuple(tags)


async def test_threads_over_rest(sandbox: Sandbox) -> None:
    """Start, archive, list archived and list active threads through the port."""
    lab = sandbox.channel_id("bot-lab")
    guild = next(iter(sandbox.state.guilds))
    async with running(make_agent(sandbox, "scribe")) as agent:
        with anyio.fail_after(10):
            made = await threads.create_thread(agent, lab, "ops", reason="test")
            assert made.type == ChannelKind.PUBLIC_THREAD
            active = await threads.active_threads(agent, guild)
            assert made.id in {t.id for t in active.threads}
            closed = await threads.update_thread(agent, made.id, archived=True)
            assert closed.archived
            page = await threads.archived_public_threads(agent, lab, limit=10)
            assert [t.id for t in page.threads] == [made.id]
            with pytest.raises(DiscordBadRequest) as refused:
                await threads.update_thread(agent, made.id, name="x")
            assert refused.value.code == 50083
            forum = await threads.get_forum(agent, sandbox.channel_id("ideas"))
            assert {t.name for t in forum.tags} == {"feature", "bug", "question"}
            with pytest.raises(ValueError, match="private"):
                await threads.create_thread(
                    agent, sandbox.channel_id("announcements"), "x", private=True
                )


async def test_pins_and_reactions_over_rest(sandbox: Sandbox) -> None:
    """A custom emoji's users are read through its URL-escaped route; pinning without the
    permission is a DiscordForbidden naming pin_messages."""
    general = sandbox.channel_id("general")
    message = sandbox.delivered(general)[0]
    alice = next(u.id for u in sandbox.state.users.values() if u.username == "alice")
    add_reaction(sandbox.state, alice, general, message.id, Emoji("party", 42))
    async with running(make_agent(sandbox, "sentinel")) as agent:
        with anyio.fail_after(10):
            users = await pins.reaction_users(agent, general, message.id, "party:42")
            assert [u.id for u in users] == [alice]
            with pytest.raises(DiscordForbidden, match="pin_messages"):
                await pins.set_pinned(agent, general, message.id, pin=True)
            page = await pins.list_pins(agent, general)
            assert page.pins == ()
