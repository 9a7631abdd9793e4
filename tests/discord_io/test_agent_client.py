"""AgentClient against the sandbox with the real discord.py: states, the port, events, faults."""

from __future__ import annotations

import asyncio
import threading

import anyio
import attrs
import pytest
from tests.discord_io.agent_helpers import ALL, event_stream, make_agent, next_event, running

from actors import ChildSpec, Restart, Supervisor
from actors.discord_port import (
    AgentCapabilities,
    AgentIntentsMissing,
    AgentLoginFailed,
    AgentNotReady,
    ChannelCreated,
    ChannelDeleted,
    ChannelKind,
    ChannelUpdated,
    ConnectionState,
    DiscordEvent,
    DiscordForbidden,
    DiscordNotFound,
    DiscordPort,
    DiscordUnavailable,
    FileUpload,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    MemberJoined,
    MemberLeft,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    ReactionAdded,
    ReactionRemoved,
)
from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]


async def test_agent_reaches_ready_and_reports_it(sandbox: Sandbox) -> None:
    """run() starts at once; the agent goes CONNECTING -> READY and emits GatewayReady."""
    send, events = event_stream()
    agent = make_agent(sandbox, "scribe", sink=send)
    with anyio.fail_after(10), send, events:
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            assert agent.state is ConnectionState.CONNECTING
            await agent.wait_ready(5)
            assert agent.state is ConnectionState.READY
            assert agent.user_id == sandbox.bot("scribe").id
            ready = await next_event(events, GatewayReady)
            assert ready.agent == "scribe"
            assert ready.guild_ids == tuple(g.id for g in sandbox.state.guilds.values())
            stats = agent.statistics()
            assert (stats.readies, stats.restarts, stats.error) == (1, 0, None)
            agent.stop()
    assert agent.state is ConnectionState.DISCONNECTED


async def test_send_fetch_edit_react_delete_through_the_port(sandbox: Sandbox) -> None:
    """Every message operation of the port works and answers with our attrs types."""
    channel_id = sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe")) as agent:
            port: DiscordPort = agent
            sent = await port.send_message(channel_id, "first draft", nonce="n-1")
            assert (sent.channel_id, sent.nonce) == (channel_id, "n-1")
            assert sent.message.author_id == sandbox.bot("scribe").id
            assert sent.message.author_bot
            reply = await port.send_message(channel_id, "a reply", nonce=None, reply_to=sent.id)
            assert reply.message.reply_to == sent.id
            fetched = await port.fetch_messages(channel_id, limit=10)
            assert [m.id for m in fetched[:2]] == [reply.id, sent.id]
            assert fetched[1].content == "first draft"
            edited = await port.edit_message(channel_id, sent.id, content="final words")
            assert (edited.content, edited.edited_at is not None) == ("final words", True)
            await port.add_reaction(channel_id, sent.id, "👍")
            await port.remove_reaction(channel_id, sent.id, "👍")
            await port.delete_message(channel_id, sent.id)
            after = await port.fetch_messages(channel_id, limit=10, after=sent.id - 1)
            assert sent.id not in [m.id for m in after]


async def test_file_upload_and_lookups(sandbox: Sandbox) -> None:
    """Files go up as multipart; channel, guild and member lookups come back translated."""
    channel_id = sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe")) as agent:
            sent = await agent.send_message(
                channel_id,
                "see attached",
                nonce="file-1",
                files=[FileUpload("report.csv", b"a,b\n1,2\n")],
            )
            (attachment,) = sent.message.attachments
            assert (attachment.filename, attachment.size) == ("report.csv", 8)
            channel = await agent.get_channel(channel_id)
            assert (channel.name, channel.type) == ("bot-lab", ChannelKind.TEXT)
            guilds = await agent.list_guilds()
            assert [g.name for g in guilds] == ["Sandbox Guild"]
            channels = await agent.list_channels(guilds[0].id)
            assert channel_id in [c.id for c in channels]
            assert all(c.guild_id == guilds[0].id for c in channels)
            alice = next(u for u in sandbox.state.users.values() if u.username == "alice")
            member = await agent.get_member(guilds[0].id, alice.id)
            assert (member.name, member.bot, len(member.roles)) == ("alice", False, 1)
            members = await agent.list_members(guilds[0].id, limit=100)
            assert alice.id in [m.user_id for m in members]


async def test_same_nonce_twice_is_one_message(sandbox: Sandbox) -> None:
    """nonce + enforce_nonce: the second send returns the first message; one is delivered."""
    channel_id = sandbox.channel_id("bot-lab")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe")) as agent:
            first = await agent.send_message(channel_id, "exactly once", nonce="outbox-42")
            second = await agent.send_message(channel_id, "exactly once", nonce="outbox-42")
            assert second.id == first.id
            assert [m.content for m in sandbox.delivered(channel_id)] == ["exactly once"]


async def test_bad_token_fails_fast_with_a_clear_error(sandbox: Sandbox) -> None:
    """A refused token: FAILED and AgentLoginFailed at once, run() returns, no retries."""
    agent = make_agent(sandbox, "scribe", token="not.a-real.token")
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            with pytest.raises(AgentLoginFailed, match="could not log in") as caught:
                await agent.wait_ready(4)
    assert agent.state is ConnectionState.FAILED
    assert agent.error is caught.value
    assert agent.statistics().restarts == 0
    assert "not.a-real.token" not in repr(agent)


async def test_missing_privileged_intent_names_it(sandbox: Sandbox) -> None:
    """Asking for message_content without it granted: AgentIntentsMissing naming it."""
    agent = make_agent(sandbox, "sentinel", capabilities=AgentCapabilities(message_content=True))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            with pytest.raises(AgentIntentsMissing) as caught:
                await agent.wait_ready(4)
    assert caught.value.intents == ("message_content",)
    assert "developer portal" in str(caught.value) or "developers" in str(caught.value)
    assert agent.state is ConnectionState.FAILED


async def test_wait_ready_has_a_deadline(sandbox: Sandbox) -> None:
    """While Discord is down, wait_ready raises AgentNotReady at its deadline, naming the state;
    once Discord is back the agent connects by itself."""
    sandbox.start_outage()
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "scribe"), ready=False) as agent:
            with pytest.raises(AgentNotReady, match="not connected"):
                await agent.wait_ready(0.5)
            assert agent.state in (ConnectionState.CONNECTING, ConnectionState.DISCONNECTED)
            assert isinstance(agent.error, DiscordUnavailable)
            with pytest.raises(DiscordUnavailable, match="not connected"):
                await agent.fetch_messages(sandbox.channel_id("general"), limit=1)
            sandbox.end_outage()
            await agent.wait_ready(10)
            assert agent.statistics().restarts >= 1


async def test_events_arrive_translated(sandbox: Sandbox) -> None:
    """Another bot's create, edit, reaction and delete reach the sink as our event types."""
    send, events = event_stream()
    channel_id = sandbox.channel_id("general")
    with anyio.fail_after(20), send, events:
        async with running(make_agent(sandbox, "herald", sink=send)) as watcher:
            async with running(make_agent(sandbox, "scribe")) as writer:
                sent = await writer.send_message(channel_id, "v1", nonce="ev-1")
                created = await next_event(
                    events, MessageCreated, lambda e: e.message.id == sent.id
                )
                assert created.agent == "herald"
                assert created.message == attrs.evolve(
                    sent.message, guild_id=created.message.guild_id
                )
                assert created.message.guild_id is not None
                await writer.edit_message(channel_id, sent.id, content="v2")
                edited = await next_event(events, MessageEdited)
                assert (edited.message.id, edited.message.content) == (sent.id, "v2")
                await writer.add_reaction(channel_id, sent.id, "🎉")
                reacted = await next_event(events, ReactionAdded)
                assert (reacted.message_id, reacted.user_id, reacted.emoji) == (
                    sent.id,
                    writer.user_id,
                    "🎉",
                )
                await writer.remove_reaction(channel_id, sent.id, "🎉")
                await next_event(events, ReactionRemoved)
                await writer.delete_message(channel_id, sent.id)
                deleted = await next_event(events, MessageDeleted)
                assert (deleted.channel_id, deleted.message_id) == (channel_id, sent.id)
            assert watcher.statistics().dropped == 0


async def test_a_full_sink_counts_drops_and_never_blocks(sandbox: Sandbox) -> None:
    """With nobody reading a sink of 2, events beyond it are counted as dropped; the agent
    stays READY and keeps answering."""
    send, events = event_stream(capacity=2)
    channel_id = sandbox.channel_id("general")
    alice = next(u for u in sandbox.state.users.values() if u.username == "alice")
    with anyio.fail_after(15), send, events:
        async with running(make_agent(sandbox, "herald", sink=send)) as agent:
            for i in range(6):
                sandbox.inject_message(channel_id, f"m{i}", author_id=alice.id)
            with anyio.fail_after(5):
                while agent.statistics().dropped < 5:  # noqa: ASYNC110 - a counter, no event
                    await anyio.sleep(0.01)
            stats = agent.statistics()
            assert (stats.events, stats.dropped) == (2, 5)  # GatewayReady + m0 fit
            assert agent.state is ConnectionState.READY
            assert len(await agent.fetch_messages(channel_id, limit=6)) == 6


async def test_gateway_drop_resumes(sandbox: Sandbox) -> None:
    """A cut TCP connection: RESUMING, then READY again by RESUME, with what was missed."""
    send, events = event_stream()
    channel_id = sandbox.channel_id("general")
    alice = next(u for u in sandbox.state.users.values() if u.username == "alice")
    with anyio.fail_after(15), send, events:
        async with running(make_agent(sandbox, "herald", sink=send)) as agent:
            await next_event(events, GatewayReady)
            assert sandbox.drop_gateway("herald") == 1
            sandbox.inject_message(channel_id, "while away", author_id=alice.id)
            await next_event(events, GatewayDisconnected)
            assert agent.state is ConnectionState.RESUMING
            seen: list[DiscordEvent] = []
            with anyio.fail_after(5):
                async for event in events:  # Discord replays what was missed, then RESUMED
                    seen.append(event)
                    if isinstance(event, GatewayResumed):
                        break
            assert agent.state is ConnectionState.READY
            (missed,) = [e for e in seen if isinstance(e, MessageCreated)]
            assert missed.message.content == "while away"
            stats = agent.statistics()
            assert (stats.readies, stats.resumes, stats.restarts) == (1, 1, 0)


async def test_reconnect_and_invalid_session(sandbox: Sandbox) -> None:
    """Op 7 resumes; INVALID_SESSION(false) identifies again (a second GatewayReady)."""
    send, events = event_stream()
    with anyio.fail_after(15), send, events:
        async with running(make_agent(sandbox, "herald", sink=send)) as agent:
            await next_event(events, GatewayReady)
            sandbox.send_reconnect("herald")
            await next_event(events, GatewayResumed)
            sandbox.invalidate_session("herald", resumable=False)
            await next_event(events, GatewayReady)
            await agent.wait_ready(5)
            assert (agent.statistics().resumes, agent.statistics().readies) == (1, 2)


async def test_a_dead_client_is_restarted(sandbox: Sandbox) -> None:
    """A close code discord.py gives up on (4010) kills the client; the actor starts a new one."""
    send, events = event_stream()
    with anyio.fail_after(15), send, events:
        async with running(make_agent(sandbox, "herald", sink=send)) as agent:
            await next_event(events, GatewayReady)
            sandbox.close_gateway("herald", 4010)
            await next_event(events, GatewayReady)
            await agent.wait_ready(5)
            stats = agent.statistics()
            assert (stats.restarts, stats.readies) == (1, 2)
            assert isinstance(agent.error, DiscordUnavailable)


async def test_forbidden_and_not_found_are_typed_and_named(sandbox: Sandbox) -> None:
    """403s name the permission, 404s name what is missing; Discord's code is kept."""
    welcome = sandbox.delivered(sandbox.channel_id("general"))[0]
    staff = sandbox.channel_id("staff")
    with anyio.fail_after(15):
        async with running(make_agent(sandbox, "sentinel", capabilities=AgentCapabilities())) as a:
            with pytest.raises(DiscordForbidden, match="manage_messages") as forbidden:
                await a.delete_message(welcome.channel_id, welcome.id)
            assert (forbidden.value.permission, forbidden.value.code) == ("manage_messages", 50013)
            with pytest.raises(DiscordForbidden, match="view_channel") as hidden:
                await a.send_message(staff, "let me in", nonce=None)
            assert hidden.value.code == 50001
            guild_id = (await a.list_guilds())[0].id
            with pytest.raises(DiscordForbidden, match="guild_members intent") as no_intent:
                await a.list_members(guild_id)
            assert no_intent.value.code == 50001
            with pytest.raises(DiscordNotFound, match="channel 1234") as missing:
                await a.get_channel(1234)
            assert missing.value.code == 10003
            with pytest.raises(DiscordNotFound, match=f"message 99 in channel {staff - 1}"):
                await a.edit_message(staff - 1, 99, content="x")


async def test_clean_shutdown_leaves_nothing_running(sandbox: Sandbox) -> None:
    """After stop(), no asyncio task and no heartbeat thread of the agent remains."""
    before_tasks = set(asyncio.all_tasks())
    before_threads = set(threading.enumerate())
    with anyio.fail_after(10):
        async with running(make_agent(sandbox, "scribe")) as agent:
            await agent.fetch_messages(sandbox.channel_id("general"), limit=1)
        for _ in range(50):
            await anyio.sleep(0.02)
            leftover = set(asyncio.all_tasks()) - before_tasks - {asyncio.current_task()}
            threads = set(threading.enumerate()) - before_threads
            if not leftover and not threads:
                break
    assert leftover == set()
    assert threads == set()
    assert agent.state is ConnectionState.DISCONNECTED


async def test_runs_under_a_supervisor(sandbox: Sandbox) -> None:
    """As a TRANSIENT child of a Supervisor: started, READY, stopped in order by stop()."""
    agent = make_agent(sandbox, "scribe", capabilities=ALL)
    supervisor = Supervisor(
        "discord_io", [ChildSpec("scribe", lambda: agent, restart=Restart.TRANSIENT)]
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(supervisor.run)
            await agent.wait_ready(5)
            supervisor.stop()
    assert agent.state is ConnectionState.DISCONNECTED


async def test_restarts_are_bounded(sandbox: Sandbox) -> None:
    """With max_restarts=0 the first client death (not an outage) is final: FAILED, named."""
    agent = make_agent(sandbox, "herald", max_restarts=0)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(agent.run)
            await agent.wait_ready(5)
            sandbox.close_gateway("herald", 4010)
        # run() returned by itself: a final failure
        assert agent.state is ConnectionState.FAILED
        with pytest.raises(DiscordUnavailable, match="gave up") as caught:
            await agent.wait_ready(1)
    assert "4010" in str(caught.value)
    assert agent.statistics().restarts == 0


async def test_channel_and_member_events_arrive_translated(sandbox: Sandbox) -> None:
    """Channel create/update/delete and a member leaving and joining reach the sink."""
    from discord_io.sandbox._channel_ops import delete_channel, modify_channel
    from discord_io.sandbox._guild_ops import NewChannel, create_channel
    from discord_io.sandbox._member_ops import join_guild
    from discord_io.sandbox._moderation_ops import kick

    users = {u.username: u.id for u in sandbox.state.users.values()}
    guild_id = next(iter(sandbox.state.guilds))
    send, events = event_stream()
    with anyio.fail_after(15), send, events:
        async with running(make_agent(sandbox, "scribe", sink=send)):
            channel = create_channel(sandbox.state, users["alice"], guild_id, NewChannel("news"))
            created = await next_event(events, ChannelCreated)
            assert (created.channel.id, created.channel.name) == (channel.id, "news")
            assert created.channel.guild_id == guild_id
            modify_channel(sandbox.state, users["alice"], channel.id, {"topic": "today"})
            updated = await next_event(events, ChannelUpdated)
            assert (updated.channel.id, updated.channel.topic) == (channel.id, "today")
            delete_channel(sandbox.state, users["alice"], channel.id)
            deleted = await next_event(events, ChannelDeleted)
            assert deleted.channel.id == channel.id
            kick(sandbox.state, users["alice"], guild_id, users["bob"])
            left = await next_event(events, MemberLeft)
            assert (left.guild_id, left.user_id, left.name) == (guild_id, users["bob"], "bob")
            join_guild(sandbox.state, guild_id, users["bob"])
            joined = await next_event(events, MemberJoined)
            assert (joined.member.user_id, joined.member.guild_id) == (users["bob"], guild_id)
            assert joined.member.display_name == "Bob"
