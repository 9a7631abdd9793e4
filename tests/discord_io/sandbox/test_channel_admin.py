"""Channel administration through real discord.py: edit, delete, permission overwrites."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import discord
import pytest
from tests.discord_io.sandbox.channel_helpers import RawEvents, grant, raw_request

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

Eventually = Callable[..., Awaitable[None]]
NO_GUILDS = discord.Intents(guild_messages=True)


def _text(client: discord.Client, sandbox: Sandbox, name: str) -> discord.TextChannel:
    channel = client.get_channel(sandbox.channel_id(name))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_edit_channel_and_channel_update(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """channel.edit changes name/topic/slowmode/nsfw/category; CHANNEL_UPDATE needs GUILDS."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("herald", enable_debug_events=True) as watcher:
                async with connect("courier", intents=NO_GUILDS, enable_debug_events=True) as deaf:
                    seen, unseen = RawEvents(watcher), RawEvents(deaf)
                    updates: list[tuple[discord.abc.GuildChannel, discord.abc.GuildChannel]] = []

                    async def on_guild_channel_update(
                        before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
                    ) -> None:
                        updates.append((before, after))

                    watcher.on_guild_channel_update = on_guild_channel_update  # type: ignore[attr-defined]
                    channel = _text(admin, sandbox, "bot-lab")
                    forums = next(c for c in admin.guilds[0].categories if c.name == "Forums")
                    edited = await channel.edit(
                        name="Robot Lab",
                        topic="new topic",
                        slowmode_delay=5,
                        nsfw=True,
                        category=forums,
                        reason="tidy up",
                    )
                    assert edited is not None
                    assert edited.name == "robot-lab"  # Discord's text-channel naming
                    assert edited.topic == "new topic"
                    assert edited.slowmode_delay == 5
                    assert edited.nsfw
                    assert edited.category_id == forums.id
                    await eventually_fn(lambda: updates != [])
                    before, after = updates[0]
                    assert (before.name, after.name) == ("bot-lab", "robot-lab")
                    assert seen.of("CHANNEL_UPDATE")[0]["id"] == str(channel.id)
                    await channel.send("sync")
                    await eventually_fn(lambda: unseen.of("MESSAGE_CREATE") != [])
                    assert unseen.of("CHANNEL_UPDATE") == []


async def test_edit_needs_manage_channels_and_valid_fields(sandbox: Sandbox, connect) -> None:
    """Without MANAGE_CHANNELS: 403 50013. Out-of-range fields: 400 50035 naming them."""
    grant(sandbox, "scribe", "manage_channels")
    with anyio.fail_after(20):
        async with connect("sentinel") as plain:
            with pytest.raises(discord.Forbidden) as caught:
                await _text(plain, sandbox, "bot-lab").edit(topic="mine now")
            assert caught.value.code == 50013
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            channel = _text(admin, sandbox, "bot-lab")
            with pytest.raises(discord.HTTPException) as bad:
                await channel.edit(slowmode_delay=50000)
            assert (bad.value.status, bad.value.code) == (400, 50035)
            assert "rate_limit_per_user" in bad.value.text
            with pytest.raises(discord.HTTPException) as long_name:
                await channel.edit(name="x" * 101)
            assert "name" in long_name.value.text
            status, body = await raw_request(
                sandbox, "PATCH", f"/channels/{channel.id}", json_body={"parent_id": "1"}
            )
            assert status == 400
            assert "parent_id" in body["errors"]


async def test_set_permissions_changes_what_a_member_may_do(
    sandbox: Sandbox, connect, eventually_fn: Eventually
) -> None:
    """A member overwrite denying SEND_MESSAGES takes effect; removing it restores sending."""
    grant(sandbox, "scribe", "manage_roles")
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            async with connect("sentinel", enable_debug_events=True) as target:
                seen = RawEvents(target)
                channel = _text(admin, sandbox, "bot-lab")
                member = channel.guild.get_member(target.user.id)
                assert member is not None
                await channel.set_permissions(member, send_messages=False, reason="quiet")
                await eventually_fn(lambda: seen.of("CHANNEL_UPDATE") != [])
                (update,) = seen.of("CHANNEL_UPDATE")
                mine = [o for o in update["permission_overwrites"] if o["id"] == str(member.id)]
                assert mine == [
                    {"id": str(member.id), "type": 1, "allow": "0", "deny": str(1 << 11)}
                ]
                theirs = _text(target, sandbox, "bot-lab")
                with pytest.raises(discord.Forbidden) as caught:
                    await theirs.send("can I?")
                assert caught.value.code == 50013
                await channel.set_permissions(member, overwrite=None)
                await theirs.send("yes again")
                fetched = await admin.fetch_channel(channel.id)
                assert isinstance(fetched, discord.TextChannel)
                assert member not in fetched.overwrites


async def test_overwrites_need_manage_roles_and_a_type(sandbox: Sandbox, connect) -> None:
    """Without MANAGE_ROLES: 403 50013; without ``type``: 400 50035; unknown role: 10011."""
    with anyio.fail_after(20):
        async with connect("scribe", intents=discord.Intents.all()) as client:
            channel = _text(client, sandbox, "bot-lab")
            with pytest.raises(discord.Forbidden) as caught:
                await channel.set_permissions(channel.guild.default_role, send_messages=False)
            assert caught.value.code == 50013
        grant(sandbox, "scribe", "manage_roles")
        path = f"/channels/{channel.id}/permissions/{channel.guild.id}"
        status, body = await raw_request(sandbox, "PUT", path, json_body={"allow": "0"})
        assert (status, body["code"]) == (400, 50035)
        assert "type" in body["errors"]
        status, body = await raw_request(
            sandbox, "PUT", f"/channels/{channel.id}/permissions/42", json_body={"type": 0}
        )
        assert (status, body["code"]) == (404, 10011)


async def test_delete_channel(sandbox: Sandbox, connect, eventually_fn: Eventually) -> None:
    """channel.delete needs MANAGE_CHANNELS; then the channel is gone and others hear of it."""
    with anyio.fail_after(25):
        async with connect("sentinel", enable_debug_events=True) as plain:
            seen = RawEvents(plain)
            with pytest.raises(discord.Forbidden) as caught:
                await _text(plain, sandbox, "bot-lab").delete()
            assert caught.value.code == 50013
            grant(sandbox, "scribe", "manage_channels")
            async with connect("scribe", intents=discord.Intents.all()) as admin:
                channel = _text(admin, sandbox, "bot-lab")
                await channel.delete(reason="cleanup")
                with pytest.raises(discord.NotFound) as gone:
                    await admin.fetch_channel(channel.id)
                assert gone.value.code == 10003
                await eventually_fn(lambda: seen.of("CHANNEL_DELETE") != [])
                assert plain.get_channel(channel.id) is None
                category = next(c for c in admin.guilds[0].categories if c.name == "Forums")
                await category.delete()
                await eventually_fn(lambda: plain.get_channel(category.id) is None)
                ideas = plain.get_channel(sandbox.channel_id("ideas"))
                assert ideas is not None
                await eventually_fn(lambda: getattr(ideas, "category_id", 0) is None)


async def test_channel_actions_are_audited_with_their_reason(sandbox: Sandbox, connect) -> None:
    """Edits, overwrites, pins, webhooks, bulk deletes and threads land in the audit log."""
    grant(
        sandbox,
        "scribe",
        "manage_channels",
        "manage_roles",
        "manage_webhooks",
        "view_audit_log",
    )
    with anyio.fail_after(25):
        async with connect("scribe", intents=discord.Intents.all()) as admin:
            channel = _text(admin, sandbox, "bot-lab")
            guild = channel.guild
            await channel.edit(topic="audited", reason="edit reason")
            await channel.set_permissions(guild.default_role, embed_links=False, reason="ow")
            message = await channel.send("pin me")
            await message.pin(reason="pin reason")
            await channel.create_webhook(name="Audited", reason="hook reason")
            doomed = [await channel.send(f"d{i}") for i in range(2)]
            await channel.delete_messages(doomed, reason="bulk reason")
            await channel.create_thread(name="audited thread", reason="thread reason")
            entries = [e async for e in guild.audit_logs(limit=50)]
            reasons = {e.action: e.reason for e in entries}
            action = discord.AuditLogAction
            assert reasons[action.channel_update] == "edit reason"
            assert reasons[action.overwrite_create] == "ow"
            assert reasons[action.message_pin] == "pin reason"
            assert reasons[action.webhook_create] == "hook reason"
            assert reasons[action.message_bulk_delete] == "bulk reason"
            assert reasons[action.thread_create] == "thread reason"
            pin = next(e for e in entries if e.action is action.message_pin)
            assert pin.extra.channel.id == channel.id
            assert pin.extra.message_id == message.id
            bulk = next(e for e in entries if e.action is action.message_bulk_delete)
            assert bulk.extra.count == 2
            overwrite = next(e for e in entries if e.action is action.overwrite_create)
            assert overwrite.extra.id == guild.default_role.id
