"""The compat profile: the prototype's 15 tools, by its names and argument shapes, on the new core.

The prototype (hanweg/mcp-discord, see ``docs/compat.md``) named its tools and arguments its own
way (``server_id`` for a guild, ``filter_type``, ``order``, ``timeout_minutes`` ...) and answered
in plain text. Agents configured with ``profile: compat`` get :func:`build_compat_server`: the
same tool names and arguments, answered in the same plain-text shape, but each one implemented
by what the new tools use -- :meth:`~actors.AgentHandle.send_message` (the exactly-once outbox),
:meth:`~actors.AgentHandle.read_messages`, :meth:`~actors.AgentHandle.call` over the port and
the ``discord_io.ops`` operations -- and registered through the same
:class:`~mcp_edge.tools._kit.ToolKit`, so identity, time limits, errors, logs, metrics (and
the policy and audit layers) apply to them exactly as to the new tools.

Every result ends with a deprecation notice naming the new tool to use instead, and every
description says the tool is deprecated. The prototype's defects are not reproduced:
``moderate_message`` really times the author out, ``create_text_channel`` finds its category,
errors say what to do, and a call made while the agent is still connecting waits for it
(:data:`READY_WAIT` seconds) instead of failing with "client not ready".

Results are text, so the kit cannot filter them by the caller's channel rules as it filters the
new tools' models: ``list_channels`` and ``get_server_info`` apply the rules themselves; every
``channel_id`` argument is checked by the kit as for any tool.

``await_mention`` is not offered: ``wait_for_events`` (profile ``chatter``) replaces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from actors import AgentHandle
from actors.discord_port import (
    ChannelInfo,
    ChannelKind,
    ConnectionState,
    DiscordError,
    DiscordNotFound,
    DiscordPort,
    MemberInfo,
)
from actors.event_hub import DISCORD_EPOCH_MS
from discord_io.ops import channel_admin, moderation, roles, users
from mcp_edge.policy import ChannelFacts
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Snowflake, channel_kind, iso, not_found_hint, opt_id, to_id
from mcp_edge.tools.reactions import parse_emoji

READY_WAIT = 10.0
"""Seconds a compat call waits for a connecting agent before it reports that it is connecting."""

MAX_TIMEOUT_MINUTES = 28 * 24 * 60
"""Discord's longest timeout: 28 days."""

USER_LOOKUP_GUILDS = 25
"""Guilds ``get_user_info`` searches for the user, at most (one request each)."""

INSTRUCTIONS = """\
DEPRECATED compatibility profile: these are the tools of the prototype Discord MCP server
(server_id, filter_type, ...), kept so existing prompts keep working. Each result ends with a
notice naming the new tool to use instead; ask the operator to move this agent to a current
profile (chatter, moderator, ...) to get them. Ids are strings of digits.
"""

_CONNECTING = frozenset(
    {ConnectionState.CONNECTING, ConnectionState.RESUMING, ConnectionState.DISCONNECTED}
)

_REMOVAL = "this alias will be removed in a future major version"


def notice(new: str, how: str = "") -> str:
    """The deprecation line every compat result ends with."""
    use = f"use {new}{' ' + how if how else ''}"
    return f"DEPRECATED (compat profile): {use}; {_REMOVAL}."


def _answer(text: str, new: str, how: str = "") -> str:
    return f"{text}\n\n{notice(new, how)}"


def _created(snowflake: int) -> str:
    seconds = ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000
    return iso(dt.datetime.fromtimestamp(seconds, dt.UTC)) or ""


async def _ready(handle: AgentHandle) -> AgentHandle:
    """Wait (up to :data:`READY_WAIT`) for a connecting agent; the call then fails clearly."""
    deadline = anyio.current_time() + READY_WAIT
    while True:  # the handle offers no readiness event: poll its state
        if handle.state not in _CONNECTING or anyio.current_time() >= deadline:
            break
        await anyio.sleep(0.1)
    state = handle.state
    if state is ConnectionState.FAILED:
        raise ToolError(
            f"agent {handle.agent!r} could not log in to Discord (its bot token or privileged "
            "intents were refused): tell the server's operator; calling again will not help."
        )
    if state is not ConnectionState.READY:
        raise ToolError(
            f"agent {handle.agent!r} is still connecting to Discord (state {state.value}): "
            "call again in a minute."
        )
    return handle


def _reaction(cid: int, mid: int, emoji: str) -> Callable[[DiscordPort], Awaitable[None]]:
    return lambda port: port.add_reaction(cid, mid, emoji)


def _member(gid: int, uid: int) -> Callable[[DiscordPort], Awaitable[MemberInfo]]:
    return lambda port: port.get_member(gid, uid)


def _roles_text(member: MemberInfo) -> str:
    return ", ".join(str(r) for r in member.roles) or "none"


def build_compat_server(runtime: EdgeRuntime, *, name: str = "mcp-discord-compat") -> MCPServer:
    """An MCPServer offering the prototype's tools (module docstring) against ``runtime``."""
    server = MCPServer(
        name=name,
        title="Discord for AI agents (deprecated compat profile)",
        instructions=INSTRUCTIONS,
        version=runtime.version,
        website_url="https://github.com/mcp-discord/mcp-discord",
        log_level="WARNING",
    )
    kit = ToolKit(server, runtime)
    register(kit)
    server.middleware.append(kit.middleware)
    server.middleware.append(kit.list_middleware)  # tools/list: only the caller's granted tools
    return server


ServerId = Annotated[Snowflake, Field(description="The server (guild) id.")]
ChannelId = Annotated[Snowflake, Field(description="The channel id.")]
MessageId = Annotated[Snowflake, Field(description="The message id.")]
UserId = Annotated[Snowflake, Field(description="The user id.")]
EmojiText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description='A unicode emoji ("👍") or "name:id" of a custom emoji.',
    ),
]


def register(kit: ToolKit) -> None:
    """Register the compat tools on ``kit``."""
    runtime = kit.runtime

    async def handle() -> AgentHandle:
        return await _ready(kit.caller().handle)

    def allowed(channels: list[ChannelInfo], guild_name: str | None) -> list[ChannelInfo]:
        """The channels the caller's channel rules let it see (the kit filters only models)."""
        policy = kit.policy()
        if policy is None:
            return channels
        agent = kit.caller().agent
        return [
            c
            for c in channels
            if policy.allows_channel(agent, ChannelFacts(c.id, c.name, c.guild_id, guild_name))
        ]

    # --- servers, channels, members, users -------------------------------------------------

    @kit.tool(title="Get server info (deprecated)", read_only=True)
    async def get_server_info(server_id: ServerId, ctx: Context) -> str:
        """DEPRECATED (use get_guild). Describe a Discord server (guild) the bot is in.

        Gives its name, id, creation date, member count and how many channels of each kind it
        has. Get server ids from the bot's servers (get_self_info counts them; the new tool
        list_guilds lists them).
        """
        gid = to_id(server_id, "server_id")
        agent = await handle()
        guilds = await agent.call(lambda port: port.list_guilds())
        guild = next((g for g in guilds if g.id == gid), None)
        if guild is None:
            raise ToolError(
                f"server_id {server_id} is not a server this bot is in: the bot sees only "
                "servers it was invited to (list_guilds, outside the compat profile, lists them)"
            )
        with not_found_hint("the bot may have just left it"):
            channels = allowed(await agent.call(lambda port: port.list_channels(gid)), guild.name)
        kinds = [channel_kind(c.type) for c in channels]
        lines = [
            "Server Information:",
            f"name: {guild.name}",
            f"id: {guild.id}",
            f"created_at: {_created(guild.id)}",
            f"member_count: {guild.member_count if guild.member_count is not None else 'unknown'}",
            f"bot_is_owner: {guild.owner}",
            f"channels: {len(channels)} (text {kinds.count('text')}, voice "
            f"{kinds.count('voice')}, categories {kinds.count('category')})",
        ]
        return _answer("\n".join(lines), "get_guild", "with guild_id")

    @kit.tool(title="List channels (deprecated)", read_only=True)
    async def list_channels(
        server_id: ServerId,
        ctx: Context,
        filter_type: Annotated[
            Literal["text", "voice", "category", "all"],
            Field(description="Only channels of this type; all: every channel."),
        ] = "all",
    ) -> str:
        """DEPRECATED (use list_channels with guild_id and types). List a server's channels.

        One line per channel: name, id and type. Use the ids with read_messages and
        send_message.
        """
        gid = to_id(server_id, "server_id")
        agent = await handle()
        with not_found_hint("server_id must be a server this bot is in"):
            channels = await agent.call(lambda port: port.list_channels(gid))
        if kit.policy() is not None:
            guilds = await agent.call(lambda port: port.list_guilds())
            channels = allowed(channels, next((g.name for g in guilds if g.id == gid), None))
        wanted = {
            "text": {ChannelKind.TEXT, ChannelKind.ANNOUNCEMENT},
            "voice": {ChannelKind.VOICE, ChannelKind.STAGE},
            "category": {ChannelKind.CATEGORY},
        }.get(filter_type)
        shown = [c for c in channels if wanted is None or c.type in wanted]
        lines = [f"Found {len(shown)} channels:"] + [
            f"{c.name} (ID: {c.id}) - {channel_kind(c.type)}" for c in shown
        ]
        how = "with guild_id" + ("" if filter_type == "all" else f' and types ["{filter_type}"]')
        return _answer("\n".join(lines), "list_channels", how)

    @kit.tool(title="List members (deprecated)", read_only=True)
    async def list_members(
        server_id: ServerId,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=1000, description="At most this many.")] = 100,
    ) -> str:
        """DEPRECATED (use list_members with guild_id). List a server's members.

        One line per member: name, display name, id and role ids; at most limit members, by
        ascending user id. Needs the bot's Server Members intent: without it the call fails
        and says so.
        """
        gid = to_id(server_id, "server_id")
        agent = await handle()
        with not_found_hint("server_id must be a server this bot is in"):
            members = await agent.call(lambda port: port.list_members(gid, limit=limit))
        lines = [f"Server Members ({len(members)}):"] + [
            f"{m.name} (display name: {m.display_name}, ID: {m.user_id}, "
            f"Roles: {_roles_text(m)}{', bot' if m.bot else ''})"
            for m in sorted(members, key=lambda m: m.user_id)
        ]
        return _answer("\n".join(lines), "list_members", "with guild_id (it pages with after)")

    @kit.tool(title="Get user info (deprecated)", read_only=True)
    async def get_user_info(user_id: UserId, ctx: Context) -> str:
        """DEPRECATED (use get_member with guild_id and user_id). Describe a Discord user.

        Gives the user's name, display name, id, whether it is a bot, and when the account was
        created, as seen in the first server it shares with the bot. Fails when the user shares
        no server with the bot.
        """
        uid = to_id(user_id, "user_id")
        agent = await handle()
        guilds = sorted(await agent.call(lambda port: port.list_guilds()), key=lambda g: g.id)
        for guild in guilds[:USER_LOOKUP_GUILDS]:
            try:
                member = await agent.call(_member(guild.id, uid))
            except DiscordNotFound:
                continue
            lines = [
                "User information:",
                f"Name: {member.name}",
                f"Display name: {member.display_name}",
                f"ID: {member.user_id}",
                f"Bot: {member.bot}",
                f"Created: {_created(uid)}",
                f"Seen in server: {guild.name} ({guild.id})",
            ]
            return _answer("\n".join(lines), "get_member", "with guild_id and user_id")
        searched = min(len(guilds), USER_LOOKUP_GUILDS)
        raise ToolError(
            f"user_id {user_id} is not a member of any of the {searched} servers searched: "
            "check the id (a message's author id, say); a bot can only see users who share a "
            "server with it"
        )

    @kit.tool(title="Get this bot's info (deprecated)", read_only=True)
    async def get_self_info(ctx: Context) -> str:
        """DEPRECATED (use whoami). Describe this agent's own bot: name, id, servers.

        The servers listed are the ones whose ids the other tools take as server_id.
        """
        agent = await handle()
        me = await agent.call(users.current_user)
        guilds = sorted(await agent.call(lambda port: port.list_guilds()), key=lambda g: g.id)
        lines = [
            "Bot information:",
            f"Name: {me.username}",
            f"Display name: {me.global_name or me.username}",
            f"ID: {me.id}",
            f"Created: {_created(me.id)}",
            f"Agent: {agent.agent}",
            f"Servers ({len(guilds)}):",
            *(f"{g.name} (ID: {g.id})" for g in guilds),
        ]
        return _answer("\n".join(lines), "whoami")

    # --- roles and channels ------------------------------------------------------------------

    @kit.tool(title="Add a role (deprecated)", read_only=False, destructive=False, idempotent=True)
    async def add_role(
        server_id: ServerId, user_id: UserId, role_id: Annotated[Snowflake, Field()], ctx: Context
    ) -> str:
        """DEPRECATED (use add_role with guild_id). Give a member a role.

        Needs Manage Roles, and the role must be below the bot's highest role. Giving a role
        the member has does nothing.
        """
        gid, uid = to_id(server_id, "server_id"), to_id(user_id, "user_id")
        rid = to_id(role_id, "role_id")
        agent = await handle()
        with not_found_hint("check server_id, user_id (a member of it) and role_id"):
            await agent.call(lambda port: roles.add_member_role(port, gid, uid, rid))
        return _answer(f"Added role {rid} to user {uid}", "add_role", "with guild_id")

    @kit.tool(
        title="Remove a role (deprecated)", read_only=False, destructive=True, idempotent=True
    )
    async def remove_role(
        server_id: ServerId, user_id: UserId, role_id: Annotated[Snowflake, Field()], ctx: Context
    ) -> str:
        """DEPRECATED (use remove_role with guild_id). Take a role away from a member.

        Needs Manage Roles, and the role must be below the bot's highest role. Removing a role
        the member does not have does nothing.
        """
        gid, uid = to_id(server_id, "server_id"), to_id(user_id, "user_id")
        rid = to_id(role_id, "role_id")
        agent = await handle()
        with not_found_hint("check server_id, user_id (a member of it) and role_id"):
            await agent.call(lambda port: roles.remove_member_role(port, gid, uid, rid))
        return _answer(f"Removed role {rid} from user {uid}", "remove_role", "with guild_id")

    @kit.tool(title="Create a text channel (deprecated)", read_only=False)
    async def create_text_channel(
        server_id: ServerId,
        name: Annotated[str, Field(min_length=1, max_length=100, description="Channel name.")],
        ctx: Context,
        category_id: Annotated[
            Snowflake | None, Field(description="Create it in this category.")
        ] = None,
        topic: Annotated[str | None, Field(max_length=1024)] = None,
    ) -> str:
        """DEPRECATED (use create_channel with guild_id, type "text" and parent_id). Create a
        text channel, optionally in a category and with a topic.

        Needs Manage Channels. Returns the new channel's id.
        """
        gid = to_id(server_id, "server_id")
        parent = opt_id(category_id, "category_id")
        agent = await handle()
        if parent is not None:
            channels = await agent.call(lambda port: port.list_channels(gid))
            category = next((c for c in channels if c.id == parent), None)
            if category is None or category.type != ChannelKind.CATEGORY:
                raise ToolError(
                    f"category_id {category_id} is not a category of server {server_id}: "
                    'call list_channels with filter_type "category" for the category ids'
                )
        with not_found_hint("server_id must be a server this bot is in"):
            created: ChannelInfo = await agent.call(
                lambda port: channel_admin.create_channel(
                    port, gid, name=name, type="text", topic=topic, parent_id=parent
                )
            )
        return _answer(
            f"Created text channel #{created.name} (ID: {created.id})",
            "create_channel",
            'with guild_id, type "text" and parent_id',
        )

    @kit.tool(title="Delete a channel (deprecated)", read_only=False, destructive=True)
    async def delete_channel(
        channel_id: ChannelId,
        ctx: Context,
        reason: Annotated[
            str | None, Field(max_length=512, description="Shown in the server's audit log.")
        ] = None,
    ) -> str:
        """DEPRECATED (use delete_channel). Delete a channel and all its messages, for good.

        Needs Manage Channels. This cannot be undone.
        """
        cid = to_id(channel_id, "channel_id")
        agent = await handle()
        with not_found_hint("check channel_id; it may already be deleted"):
            gone: ChannelInfo = await agent.call(
                lambda port: channel_admin.delete_channel(port, cid, reason=reason)
            )
        return _answer(f"Deleted channel #{gone.name} (ID: {gone.id})", "delete_channel")

    # --- messages ----------------------------------------------------------------------------

    @kit.tool(title="Send a message (deprecated)", read_only=False)
    async def send_message(
        channel_id: ChannelId,
        content: Annotated[str, Field(min_length=1, max_length=2000)],
        ctx: Context,
    ) -> str:
        """DEPRECATED (use send_message). Post a text message in a channel as this bot.

        Messages go out exactly once and in order. "queued" means Discord is slow or down: the
        message WILL be posted -- do not send it again.
        """
        cid = to_id(channel_id, "channel_id")
        receipt = await kit.caller().handle.send_message(
            cid, content, delivery="sync", timeout=runtime.send_timeout
        )
        if receipt.message_id is None:
            text = (
                f"Message accepted and queued (outbox {receipt.outbox_id}): it will be posted "
                "as soon as Discord takes it -- do not send it again."
            )
        else:
            text = f"Message sent successfully. Message ID: {receipt.message_id}"
        return _answer(text, "send_message", "(it also takes reply_to, embeds, attachments)")

    @kit.tool(title="Read messages (deprecated)", read_only=True)
    async def read_messages(
        channel_id: ChannelId,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100, description="How many, newest.")] = 10,
        order: Annotated[
            Literal["ascending", "descending"],
            Field(description="ascending: oldest first; descending: newest first."),
        ] = "descending",
    ) -> str:
        """DEPRECATED (use read_messages, which pages with next_cursor). Read the latest messages
        of a channel.

        One line per message: author, time, message id and text. Text is empty for other users'
        messages when the bot lacks the message content intent.
        """
        cid = to_id(channel_id, "channel_id")
        agent = await handle()
        with not_found_hint("check channel_id (list_channels gives them)"):
            page = await agent.read_messages(cid, limit=limit)
        ordered = sorted(page, key=lambda m: m.id, reverse=order == "descending")
        lines = [f"Retrieved {len(ordered)} messages:", ""] + [
            f"{m.author_name} ({iso(m.created_at)}, message {m.id}): {m.content}" for m in ordered
        ]
        return _answer("\n".join(lines), "read_messages", "(results are oldest first)")

    # --- reactions ---------------------------------------------------------------------------

    @kit.tool(title="Add a reaction (deprecated)", read_only=False, idempotent=True)
    async def add_reaction(
        channel_id: ChannelId, message_id: MessageId, emoji: EmojiText, ctx: Context
    ) -> str:
        """DEPRECATED (use add_reaction). React to a message with an emoji.

        Adding the same reaction again does nothing.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        emoji_name = parse_emoji(emoji)
        agent = await handle()
        with not_found_hint("check channel_id and message_id (read_messages gives them)"):
            await agent.call(lambda port: port.add_reaction(cid, mid, emoji_name))
        return _answer(f"Added reaction {emoji_name} to message {mid}", "add_reaction")

    @kit.tool(title="Add several reactions (deprecated)", read_only=False, idempotent=True)
    async def add_multiple_reactions(
        channel_id: ChannelId,
        message_id: MessageId,
        emojis: Annotated[list[EmojiText], Field(min_length=1, max_length=20)],
        ctx: Context,
    ) -> str:
        """DEPRECATED (use add_reaction once per emoji). React to a message with several emojis,
        in the order given.

        If one fails, the ones before it stay and the error says which were added.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        names = [parse_emoji(e) for e in emojis]  # every one checked before any is added
        agent = await handle()
        added: list[str] = []
        for emoji_name in names:
            try:
                await agent.call(_reaction(cid, mid, emoji_name))
            except DiscordError as exc:
                done = ", ".join(added) or "none"
                raise ToolError(
                    f"adding {emoji_name} failed: {exc}. Added before it: {done}; the rest were "
                    "not tried. Check channel_id, message_id and the emoji, then retry the rest."
                ) from exc
            added.append(emoji_name)
        return _answer(f"Added reactions: {', '.join(added)}", "add_reaction", "once per emoji")

    @kit.tool(title="Remove a reaction (deprecated)", read_only=False, destructive=True)
    async def remove_reaction(
        channel_id: ChannelId, message_id: MessageId, emoji: EmojiText, ctx: Context
    ) -> str:
        """DEPRECATED (use remove_reaction). Remove this bot's own reaction from a message.

        Removing a reaction that is not there succeeds.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        emoji_name = parse_emoji(emoji)
        agent = await handle()
        with not_found_hint("check channel_id and message_id (read_messages gives them)"):
            await agent.call(lambda port: port.remove_reaction(cid, mid, emoji_name))
        return _answer(f"Removed reaction {emoji_name} from message {mid}", "remove_reaction")

    # --- moderation --------------------------------------------------------------------------

    @kit.tool(title="Moderate a message (deprecated)", read_only=False, destructive=True)
    async def moderate_message(
        channel_id: ChannelId,
        message_id: MessageId,
        reason: Annotated[
            str, Field(min_length=1, max_length=512, description="Why; kept in the audit log.")
        ],
        ctx: Context,
        timeout_minutes: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_TIMEOUT_MINUTES,
                description="Also time the author out for this many minutes (0: no timeout; "
                "at most 40320, 28 days).",
            ),
        ] = 0,
    ) -> str:
        """DEPRECATED (use delete_message, then timeout_member with guild_id and user_id).
        Delete a message and optionally time its author out.

        Deleting others' messages needs Manage Messages; a timeout needs Moderate Members (and
        cannot apply to the server owner or admins). The reason is recorded with the timeout in
        the server's audit log.
        """
        cid, mid = to_id(channel_id, "channel_id"), to_id(message_id, "message_id")
        agent = await handle()
        advice = "check channel_id and message_id (read_messages gives them)"
        with not_found_hint(advice):
            around = await agent.read_messages(cid, limit=3, around=mid)
            channel = await agent.call(lambda port: port.get_channel(cid))
        message = next((m for m in around if m.id == mid), None)
        if message is None:
            raise ToolError(f"message {message_id} is not in channel {channel_id}: {advice}")
        if timeout_minutes and channel.guild_id is None:
            raise ToolError("timeout_minutes applies to server channels only: this is a DM")
        with not_found_hint(advice):
            await agent.call(lambda port: port.delete_message(cid, mid, reason=reason))
        text = f"Message {mid} by {message.author_name} ({message.author_id}) deleted."
        how = "then timeout_member with guild_id, user_id and minutes"
        if not timeout_minutes or channel.guild_id is None:
            return _answer(text, "delete_message", how)
        gid, uid = channel.guild_id, message.author_id
        until = dt.datetime.fromtimestamp(runtime.clock(), dt.UTC) + dt.timedelta(
            minutes=timeout_minutes
        )
        try:
            await agent.call(
                lambda port: moderation.timeout_member(port, gid, uid, until=until, reason=reason)
            )
        except DiscordError as exc:
            raise ToolError(
                f"{text} But the timeout failed: {exc}. The message stays deleted; to retry "
                f"only the timeout, use timeout_member (guild_id {gid}, user_id {uid})."
            ) from exc
        text += f" User timed out for {timeout_minutes} minutes (until {iso(until)})."
        return _answer(text, "delete_message", how)


def uses_compat(profile: str | None) -> bool:
    """Whether an agent with this configured profile is served the compat tools."""
    return profile == "compat"


COMPAT_TOOLS: Sequence[str] = (
    "get_server_info",
    "list_channels",
    "list_members",
    "get_user_info",
    "get_self_info",
    "add_role",
    "remove_role",
    "create_text_channel",
    "delete_channel",
    "send_message",
    "read_messages",
    "add_reaction",
    "add_multiple_reactions",
    "remove_reaction",
    "moderate_message",
)
"""The prototype's tool names this profile serves (``await_mention`` is replaced, not kept)."""


__all__ = ["COMPAT_TOOLS", "build_compat_server", "notice", "register", "uses_compat"]
