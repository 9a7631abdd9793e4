"""Agent identity: ``whoami``, ``set_agent_presence`` and ``set_agent_profile``.

``whoami`` tells a model which agent it is acting as and what that agent can do: the bot's
user, its guilds, its configured capabilities and the gateway intents they ask for. ``profile``
is the agent's tool profile and ``granted_tools`` what it may call (both null without a policy).
``set_agent_profile`` changes the bot's Discord username and avatar (``PATCH /users/@me``);
an avatar URL is downloaded with the same fences as message attachments.
"""

from __future__ import annotations

from typing import Annotated, Literal

import attrs
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from discord_io._intents import intents_for
from discord_io.ops import users as ops
from discord_io.ops.users import Keep, UserInfo
from mcp_edge.tools._attachments import decode_base64, download
from mcp_edge.tools._kit import ToolKit

MAX_AVATAR_BYTES = 10 * 1024 * 1024
"""Discord's avatar upload limit."""

Status = Literal["online", "idle", "dnd", "invisible"]


class Identity(BaseModel):
    """Who this agent is on Discord and what it may do."""

    agent: str = Field(description="The agent's name on this server.")
    user_id: str = Field(description="Its bot's Discord user id (how others mention it).")
    username: str
    global_name: str | None = None
    avatar_url: str | None = None
    connection: str = Field(description="connecting, ready, resuming, disconnected or failed.")
    guild_count: int = Field(description="Guilds the bot is in (list_guilds names them).")
    capabilities: dict[str, bool] = Field(
        description="What the agent is configured for (message_content, members, presences "
        "are Discord's privileged intents)."
    )
    intents: list[str] = Field(description="The gateway intents its bot connects with.")
    granted_tools: list[str] | None = Field(
        None, description="The tools this agent may call (null: no policy, every tool)."
    )
    profile: str | None = Field(
        None,
        description="The agent's tool profile (reader, chatter, moderator, admin, compat, or "
        "'explicit tools list'); null when the server applies no policy.",
    )


class Presence(BaseModel):
    status: Status
    activity: str | None = None


class BotProfile(BaseModel):
    user_id: str
    username: str
    global_name: str | None = None
    avatar_url: str | None = Field(None, description="Null: Discord's default avatar.")

    @classmethod
    def of(cls, user: UserInfo) -> BotProfile:
        return cls(
            user_id=str(user.id),
            username=user.username,
            global_name=user.global_name,
            avatar_url=user.avatar_url,
        )


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    @kit.tool(title="Who am I", read_only=True)
    async def whoami(ctx: Context) -> Identity:
        """Which agent this session acts as: its bot's Discord user (id, username, avatar),
        how many guilds it is in, its connection state, and its capabilities and intents.

        Call it first to learn your own user id (to recognise your messages and mentions) and
        what you can see: without message_content, other users' text arrives empty.
        """
        caller = kit.caller()
        handle = caller.handle
        user = await handle.call(ops.current_user)
        guilds = await handle.call(lambda port: port.list_guilds())
        capabilities = runtime.swarm.client(caller.agent).capabilities
        return Identity(
            agent=caller.agent,
            user_id=str(user.id),
            username=user.username,
            global_name=user.global_name,
            avatar_url=user.avatar_url,
            connection=handle.state.value,
            guild_count=len(guilds),
            capabilities={k: bool(v) for k, v in attrs.asdict(capabilities).items()},
            intents=sorted(name for name, on in intents_for(capabilities) if on),
            profile=None
            if runtime.policy is None
            else runtime.policy.agent(caller.agent).describe().removeprefix("profile "),
            granted_tools=None
            if runtime.policy is None
            else sorted(runtime.policy.granted(caller.agent)),
        )

    @kit.tool(title="Set the agent's presence", read_only=False, idempotent=True)
    async def set_agent_presence(
        ctx: Context,
        status: Annotated[
            Status, Field(description="online, idle, dnd (do not disturb) or invisible.")
        ] = "online",
        activity: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=128,
                description='A custom status line shown under the name, e.g. "Triaging bugs".',
            ),
        ] = None,
    ) -> Presence:
        """Set the bot's online status and custom status text, as others see it in the member
        list. Leaving activity out clears the status text.

        It lasts until the next call or until the agent reconnects to Discord.
        """
        await kit.caller().handle.call(lambda port: port.set_presence(status, activity))
        return Presence(status=status, activity=activity)

    @kit.tool(title="Set the agent's profile", read_only=False, destructive=True, idempotent=True)
    async def set_agent_profile(
        ctx: Context,
        username: Annotated[
            str | None,
            Field(
                min_length=2,
                max_length=32,
                description='The bot\'s new username (no "@", "#", ":", "```" or "discord").',
            ),
        ] = None,
        avatar_base64: Annotated[
            str | None, Field(description="A new avatar: PNG, JPEG, GIF or WebP bytes, base64.")
        ] = None,
        avatar_url: Annotated[
            str | None, Field(description="Or: a public http(s) URL of the avatar image.")
        ] = None,
        clear_avatar: Annotated[
            bool, Field(description="Go back to Discord's default avatar.")
        ] = False,
    ) -> BotProfile:
        """Change the bot's Discord username and/or avatar. This changes how the bot appears
        everywhere, for every conversation it is in; the old name and avatar are replaced.

        Give username, and/or one of avatar_base64, avatar_url or clear_avatar. Discord limits
        how often a username can change (about twice an hour): on a rate limit, wait. For a
        per-message name and avatar (a persona), use a webhook instead.
        """
        if sum((avatar_base64 is not None, avatar_url is not None, clear_avatar)) > 1:
            raise ValueError("give at most one of avatar_base64, avatar_url and clear_avatar")
        avatar: bytes | Keep | None = Keep.KEEP
        limit = min(MAX_AVATAR_BYTES, runtime.max_attachment_bytes)
        if clear_avatar:
            avatar = None
        elif avatar_base64 is not None:
            avatar = decode_base64("avatar", avatar_base64, limit)
        elif avatar_url is not None:
            avatar = await download(
                avatar_url, "avatar", max_bytes=limit, allow_private=runtime.allow_private_urls
            )
        if username is None and avatar is Keep.KEEP:
            raise ValueError("give username, avatar_base64, avatar_url or clear_avatar")
        if avatar is not Keep.KEEP and avatar is not None and ops.image_type(avatar) is None:
            raise ValueError("avatar must be a PNG, JPEG, GIF or WebP image")
        user = await kit.caller().handle.call(
            lambda port: ops.modify_current_user(port, username=username, avatar=avatar)
        )
        return BotProfile.of(user)


__all__ = ["BotProfile", "Identity", "Presence", "register"]
