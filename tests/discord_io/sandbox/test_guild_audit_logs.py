"""The audit log through discord.py: every guild action leaves an entry with its reason."""

from __future__ import annotations

import datetime as dt

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request
from tests.discord_io.sandbox.guild_helpers import client_guild, seed_guild, user_id

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

REASON = 'spam & raids / 100% — ünïcode, "quoted"'
"""discord.py URL-quotes the X-Audit-Log-Reason header; the log keeps the decoded text."""

Action = discord.AuditLogAction


async def test_actions_are_recorded_with_their_reason(sandbox: Sandbox, connect) -> None:
    """Channel, role, member, kick and ban actions each leave one entry, newest first."""
    grant(
        sandbox,
        "scribe",
        "view_audit_log",
        "manage_channels",
        "manage_roles",
        "manage_nicknames",
        "moderate_members",
        "kick_members",
        "ban_members",
    )
    bob, carol = user_id(sandbox, "bob"), user_id(sandbox, "carol")
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            guild = client_guild(client, sandbox)
            channel = await guild.create_text_channel("audited", reason=REASON)
            role = await guild.create_role(name="audited", reason=REASON)
            await role.edit(name="audited-2", reason=REASON)
            member = await guild.fetch_member(bob)
            await member.edit(nick="Robert", reason=REASON)
            await member.add_roles(role, reason=REASON)
            await member.timeout(dt.timedelta(minutes=10), reason=REASON)
            await guild.kick(discord.Object(id=bob), reason=REASON)
            await guild.ban(discord.Object(id=carol), reason=REASON)
            await guild.unban(discord.Object(id=carol), reason=REASON)
            await role.delete(reason=REASON)
            entries = [e async for e in guild.audit_logs(limit=None)]
            assert [e.action for e in entries] == [
                Action.role_delete,
                Action.unban,
                Action.ban,
                Action.kick,
                Action.member_update,
                Action.member_role_update,
                Action.member_update,
                Action.role_update,
                Action.role_create,
                Action.channel_create,
            ]
            assert {e.reason for e in entries} == {REASON}
            assert {e.user_id for e in entries} == {client.user.id}
            by_action = {e.action: e for e in entries}
            assert by_action[Action.channel_create].target.id == channel.id
            assert by_action[Action.channel_create].after.name == "audited"
            assert by_action[Action.role_update].before.name == "audited"
            assert by_action[Action.role_update].after.name == "audited-2"
            assert [r.id for r in by_action[Action.member_role_update].after.roles] == [role.id]
            assert by_action[Action.kick].target.id == bob
            nick_change = entries[-4]
            assert nick_change.after.nick == "Robert"
            assert entries[4].after.timed_out_until is not None


async def test_filters_and_paging(sandbox: Sandbox, connect) -> None:
    """user, action, before, after and limit filter the log as discord.py asks for them."""
    grant(sandbox, "scribe", "view_audit_log", "manage_roles")
    grant(sandbox, "courier", "manage_roles")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as client,
            connect("courier") as other,
        ):
            guild = client_guild(client, sandbox)
            made = [await guild.create_role(name=f"r{i}") for i in range(4)]
            await client_guild(other, sandbox).create_role(name="theirs")
            await made[0].edit(name="r0-renamed")
            mine = [e async for e in guild.audit_logs(user=guild.me)]
            assert len(mine) == 5
            creates = [e async for e in guild.audit_logs(action=Action.role_create)]
            assert len(creates) == 5
            assert [e.target.id for e in creates][1:] == [r.id for r in reversed(made)]
            newest_two = [e async for e in guild.audit_logs(limit=2)]
            assert [e.action for e in newest_two] == [Action.role_update, Action.role_create]
            oldest = [e async for e in guild.audit_logs(limit=2, oldest_first=True)]
            assert [e.target.id for e in oldest] == [made[0].id, made[1].id]
            after = [e async for e in guild.audit_logs(after=oldest[1], limit=None)]
            assert [e.target.id for e in after][-2:] == [made[3].id, made[2].id]  # newest first
            before = [e async for e in guild.audit_logs(before=oldest[1], limit=None)]
            assert [e.target.id for e in before] == [made[0].id]
    path = f"/guilds/{seed_guild(sandbox).id}/audit-logs"
    status, body = await raw_request(sandbox, "GET", path, params={"limit": "101"})
    assert (status, body["code"]) == (400, 50035)
    status, body = await raw_request(sandbox, "GET", path, params={"action_type": "x"})
    assert (status, body["code"]) == (400, 50035)


async def test_audit_log_needs_view_audit_log(sandbox: Sandbox, connect) -> None:
    """Without VIEW_AUDIT_LOG reading the log is 403 50013."""
    with anyio.fail_after(15):
        async with connect("sentinel") as client:
            with pytest.raises(discord.Forbidden) as caught:
                [e async for e in client_guild(client, sandbox).audit_logs()]
            assert caught.value.code == 50013


async def test_audit_log_entry_create_goes_to_viewers_only(
    sandbox: Sandbox, connect, eventually_fn
) -> None:
    """GUILD_AUDIT_LOG_ENTRY_CREATE reaches bots with VIEW_AUDIT_LOG and GUILD_MODERATION."""
    grant(sandbox, "scribe", "manage_roles")
    grant(sandbox, "herald", "view_audit_log")
    with anyio.fail_after(20):
        async with (
            connect("scribe", intents=discord.Intents.all()) as actor,
            connect("herald", enable_debug_events=True) as viewer,
            connect("sentinel", enable_debug_events=True) as blind,
        ):
            seen, unseen = RawEvents(viewer), RawEvents(blind)
            entries: list[discord.AuditLogEntry] = []

            async def on_audit_log_entry_create(entry: discord.AuditLogEntry) -> None:
                entries.append(entry)

            viewer.on_audit_log_entry_create = on_audit_log_entry_create  # type: ignore[attr-defined]
            role = await client_guild(actor, sandbox).create_role(name="watched", reason="why not")
            await eventually_fn(lambda: bool(entries))
            assert entries[0].action is Action.role_create
            assert entries[0].target.id == role.id
            assert entries[0].reason == "why not"
            assert len(seen.of("GUILD_AUDIT_LOG_ENTRY_CREATE")) == 1
            assert unseen.of("GUILD_AUDIT_LOG_ENTRY_CREATE") == []
