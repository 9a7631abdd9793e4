"""The compat profile: the prototype's tools, driven with its argument shapes, on the sandbox.

The compat server (:func:`mcp_edge.compat.build_compat_server`) runs on the same sandbox and
swarm as the tools' tests (``tests/mcp_edge/tools/conftest.py``), with the SDK's in-process
client; one test serves both profiles over HTTP and checks which tools each key sees.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError
from tests.mcp_edge.tools.conftest import GRANTED, OPTIONS, STORE, Edge

from actors.discord_port import ConnectionState
from discord_io.sandbox import Role, sandbox_server
from discord_io.sandbox._permissions import Permission
from discord_io.swarm import AgentConfig, open_swarm
from mcp_edge import compat as compat_module
from mcp_edge import policy
from mcp_edge.compat import COMPAT_TOOLS, build_compat_server, notice
from mcp_edge.http_app import _ProfileChooser, build_http_app, transport_security
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.ops import Health
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.server import build_server

pytestmark = [pytest.mark.anyio]

DEPRECATED = "DEPRECATED (compat profile): use "


@pytest.fixture
def anyio_backend() -> str:
    """discord.py runs on asyncio only."""
    return "asyncio"


@asynccontextmanager
async def running_compat(data_dir: Path) -> AsyncIterator[Edge]:
    """The sandbox, the seed's four bots, and a client of the compat server (as scribe)."""
    async with sandbox_server() as sandbox:
        configs = [
            AgentConfig(name, sandbox.bot(name).token, capabilities=caps, options=OPTIONS)
            for name, caps in GRANTED.items()
        ]
        async with open_swarm(
            configs, data_dir, sandbox_url=sandbox.base_url, store_options=STORE
        ) as swarm:
            await swarm.ready(10)
            rt = EdgeRuntime(swarm, default_agent="scribe", allow_private_urls=True)
            async with Client(build_compat_server(rt)) as client:
                yield Edge(sandbox, swarm, rt, client)


@pytest.fixture
async def compat(tmp_path: Path) -> AsyncIterator[Edge]:
    """A running compat server on the sandbox."""
    async with running_compat(tmp_path) as edge:
        yield edge


async def text(edge: Edge, tool: str, arguments: Mapping[str, Any] | None = None) -> str:
    """Call ``tool``; its text result, checked to end with the deprecation notice."""
    result = await edge.call(tool, arguments)
    assert not result.is_error, result.content
    body = "\n".join(getattr(c, "text", "") for c in result.content)
    last = body.rstrip().splitlines()[-1]
    assert last.startswith(DEPRECATED), body
    assert "removed in a future major version" in last
    return body


def guild_id(edge: Edge) -> str:
    return str(next(iter(edge.sandbox.state.guilds)))


def grant(edge: Edge, role: str, *permissions: Permission) -> None:
    """Add permissions to a seeded role (scribe and herald have "agents")."""
    guild = edge.sandbox.state.guilds[int(guild_id(edge))]
    found = next(r for r in guild.roles.values() if r.name == role)
    for permission in permissions:
        found.permissions |= int(permission)


def add_low_role(edge: Edge, name: str) -> Role:
    """A new role below every other (so a bot with Manage Roles may hand it out)."""
    state = edge.sandbox.state
    guild = state.guilds[int(guild_id(edge))]
    for other in guild.roles.values():
        if other.id != guild.id:
            other.position += 1
    return state.add_role(
        Role(id=state.snowflakes.next(), guild_id=guild.id, name=name, position=1)
    )


async def test_tool_list_is_the_prototypes(compat: Edge) -> None:
    """The prototype's tool names and argument names, every description marked deprecated."""
    tools = {t.name: t for t in (await compat.client.list_tools()).tools}
    assert set(tools) == set(COMPAT_TOOLS)
    assert set(COMPAT_TOOLS) == policy.COMPAT_TOOLS  # the policy's compat profile grants them
    for tool in tools.values():
        assert "DEPRECATED" in (tool.description or ""), tool.name
    props = {name: set(t.input_schema["properties"]) for name, t in tools.items()}
    assert props["get_server_info"] == {"server_id"}
    assert props["list_channels"] == {"server_id", "filter_type"}
    assert props["list_members"] == {"server_id", "limit"}
    assert props["create_text_channel"] == {"server_id", "name", "category_id", "topic"}
    assert props["read_messages"] == {"channel_id", "limit", "order"}
    assert props["moderate_message"] == {"channel_id", "message_id", "reason", "timeout_minutes"}
    assert props["add_multiple_reactions"] == {"channel_id", "message_id", "emojis"}
    assert tools["moderate_message"].annotations is not None
    assert tools["moderate_message"].annotations.destructive_hint is True
    assert tools["get_server_info"].annotations is not None
    assert tools["get_server_info"].annotations.read_only_hint is True


async def test_server_channels_members_users(compat: Edge) -> None:
    """get_server_info, list_channels (filtered), list_members, get_user_info, get_self_info."""
    gid = guild_id(compat)
    info = await text(compat, "get_server_info", {"server_id": gid})
    assert "name: Sandbox Guild" in info
    assert f"id: {gid}" in info
    assert "use get_guild with guild_id" in info
    voice = await text(compat, "list_channels", {"server_id": gid, "filter_type": "voice"})
    assert "Lounge" in voice
    assert "general" not in voice
    every = await text(compat, "list_channels", {"server_id": gid})
    assert "general" in every
    assert "Lounge" in every
    members = await text(compat, "list_members", {"server_id": gid, "limit": 2})
    assert members.startswith("Server Members (2):")
    bob = compat.user_id("bob")
    user = await text(compat, "get_user_info", {"user_id": str(bob)})
    assert "Name: bob" in user
    assert f"ID: {bob}" in user
    assert "use get_member" in user
    me = await text(compat, "get_self_info")
    assert "Name: scribe" in me
    assert f"ID: {compat.user_id('scribe')}" in me
    assert "use whoami" in me


async def test_send_and_read_in_both_orders(compat: Edge) -> None:
    """send_message posts through the outbox; read_messages honours order."""
    lab = compat.channel("bot-lab")
    for n in (1, 2):
        sent = await text(compat, "send_message", {"channel_id": lab, "content": f"compat {n}"})
        assert "Message sent successfully. Message ID:" in sent
    assert [m.content for m in compat.sandbox.delivered(int(lab))][-2:] == ["compat 1", "compat 2"]
    newest = await text(compat, "read_messages", {"channel_id": lab, "limit": 2})
    assert newest.index("compat 2") < newest.index("compat 1")
    oldest = await text(
        compat, "read_messages", {"channel_id": lab, "limit": 2, "order": "ascending"}
    )
    assert oldest.index("compat 1") < oldest.index("compat 2")


async def test_reactions(compat: Edge) -> None:
    """add_reaction, add_multiple_reactions and remove_reaction change the message."""
    general = compat.channel("general")
    welcome = compat.sandbox.delivered(int(general))[0]
    args = {"channel_id": general, "message_id": str(welcome.id)}
    await text(compat, "add_reaction", {**args, "emoji": "👍"})
    several = await text(compat, "add_multiple_reactions", {**args, "emojis": ["🎉", "✅"]})
    assert "Added reactions: 🎉, ✅" in several
    assert {"👍", "🎉", "✅"} <= set(welcome.reactions)
    await text(compat, "remove_reaction", {**args, "emoji": "👍"})
    reaction = welcome.reactions.get("👍")
    assert reaction is None or not reaction.user_ids


async def test_roles(compat: Edge) -> None:
    """add_role and remove_role (with Manage Roles) change the member's roles."""
    grant(compat, "agents", Permission.MANAGE_ROLES)
    role = add_low_role(compat, "helpers")
    gid, bob = guild_id(compat), compat.user_id("bob")
    args = {"server_id": gid, "user_id": str(bob), "role_id": str(role.id)}
    await text(compat, "add_role", args)
    member = compat.sandbox.state.member(int(gid), bob)
    assert member is not None
    assert role.id in member.roles
    await text(compat, "remove_role", args)
    assert role.id not in member.roles


async def test_channels_created_in_category_and_deleted(compat: Edge) -> None:
    """create_text_channel finds its category (the prototype's bug); delete_channel deletes."""
    grant(compat, "agents", Permission.MANAGE_CHANNELS)
    gid = guild_id(compat)
    category = compat.channel("Text Channels")
    made = await text(
        compat,
        "create_text_channel",
        {"server_id": gid, "name": "compat-room", "category_id": category, "topic": "t"},
    )
    assert "Created text channel #compat-room" in made
    new_id = int(made.split("(ID: ")[1].split(")")[0])
    created = compat.sandbox.state.channels[new_id]
    assert created.parent_id == int(category)
    assert created.topic == "t"
    gone = await text(compat, "delete_channel", {"channel_id": str(new_id), "reason": "tidy"})
    assert "Deleted channel #compat-room" in gone
    assert new_id not in compat.sandbox.state.channels


async def test_moderate_message_times_the_author_out(compat: Edge) -> None:
    """The message is deleted and its author really is timed out (the prototype's bug)."""
    grant(compat, "agents", Permission.MODERATE_MEMBERS)
    general = compat.channel("general")
    bob = compat.user_id("bob")
    spam = compat.sandbox.inject_message(int(general), "buy now", author_id=bob)
    before = dt.datetime.now(dt.UTC)
    done = await text(
        compat,
        "moderate_message",
        {
            "channel_id": general,
            "message_id": str(spam.id),
            "reason": "spam",
            "timeout_minutes": 10,
        },
    )
    assert "deleted" in done
    assert "timed out for 10 minutes" in done
    assert spam.deleted
    member = compat.sandbox.state.member(int(guild_id(compat)), bob)
    assert member is not None
    assert member.communication_disabled_until is not None
    until = member.communication_disabled_until
    assert dt.timedelta(minutes=9) < until - before < dt.timedelta(minutes=11)


async def test_moderate_message_without_timeout(compat: Edge) -> None:
    """timeout_minutes omitted: only the message is deleted."""
    general = compat.channel("general")
    bob = compat.user_id("bob")
    spam = compat.sandbox.inject_message(int(general), "oops", author_id=bob)
    args = {"channel_id": general, "message_id": str(spam.id), "reason": "off-topic"}
    done = await text(compat, "moderate_message", args)
    assert "deleted" in done
    assert "timed out" not in done
    member = compat.sandbox.state.member(int(guild_id(compat)), bob)
    assert member is not None
    assert member.communication_disabled_until is None


async def test_discord_permission_errors(compat: Edge) -> None:
    """A bot without the permission gets Discord's refusal, naming it."""
    gid = guild_id(compat)
    async with compat.as_agent("sentinel"):
        made = await compat.error("create_text_channel", {"server_id": gid, "name": "nope"})
        assert "manage_channels" in made
    general = compat.channel("general")
    spam = compat.sandbox.inject_message(int(general), "x", author_id=compat.user_id("bob"))
    timeout = await compat.error(
        "moderate_message",
        {"channel_id": general, "message_id": str(spam.id), "reason": "r", "timeout_minutes": 5},
    )
    assert "moderate_members" in timeout
    assert "timeout_member" in timeout
    assert "deleted" in timeout  # says the message is gone, only the timeout failed


async def test_bad_arguments_name_the_field(compat: Edge) -> None:
    """Malformed ids, out-of-range numbers, unknown enums and bad emoji are refused by name."""
    gid = guild_id(compat)
    general = compat.channel("general")
    assert "server_id" in await compat.error("get_server_info", {"server_id": "abc"})
    assert "limit" in await compat.error("list_members", {"server_id": gid, "limit": 0})
    assert "filter_type" in await compat.error(
        "list_channels", {"server_id": gid, "filter_type": "forum"}
    )
    assert "order" in await compat.error("read_messages", {"channel_id": general, "order": "up"})
    assert "reason" in await compat.error(
        "moderate_message", {"channel_id": general, "message_id": "1"}
    )
    assert "timeout_minutes" in await compat.error(
        "moderate_message",
        {"channel_id": general, "message_id": "1", "reason": "r", "timeout_minutes": 50000},
    )
    assert "emoji" in await compat.error(
        "add_reaction", {"channel_id": general, "message_id": "1", "emoji": ":thumbsup:"}
    )
    category = await compat.error(
        "create_text_channel", {"server_id": gid, "name": "x", "category_id": general}
    )
    assert "category_id" in category
    assert "not a category" in category
    assert "not a server this bot is in" in await compat.error(
        "get_server_info", {"server_id": "12345"}
    )


def test_notice_names_the_new_tool() -> None:
    """The notice names the replacement and says the alias goes away."""
    line = notice("list_members", "with guild_id")
    assert line.startswith("DEPRECATED (compat profile): use list_members with guild_id;")
    assert line.endswith("this alias will be removed in a future major version.")


class _Keys:
    """An API-key verifier for two fixed keys (the HTTP test's two agents)."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._agents = {key: agent for agent, key in keys.items()}

    async def verify_token(self, token: str) -> AccessToken | None:
        agent = self._agents.get(token)
        return None if agent is None else AccessToken(token=token, client_id=agent, scopes=[])

    async def authenticate(self, token: str) -> AccessToken | None:
        return await self.verify_token(token)


async def test_http_serves_each_key_its_profile(tmp_path: Path) -> None:
    """Over HTTP, herald's key (profile compat) lists the compat tools, scribe's the main ones."""
    keys = {"scribe": "key-scribe-0123456789", "herald": "key-herald-0123456789"}
    with anyio.fail_after(60):
        async with running_compat(tmp_path) as edge:
            edge.runtime.default_agent = None
            app = build_http_app(
                build_server(edge.runtime),
                verifier=_Keys(keys),  # type: ignore[arg-type]
                metrics=EdgeMetrics(),
                health=lambda: Health.from_statistics(edge.swarm.statistics()),
                security=transport_security((), ()),
                compat=build_compat_server(edge.runtime),
                compat_for=lambda agent: agent == "herald",
            )
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve)
                while True:  # uvicorn offers no started event
                    if server.started:
                        break
                    await anyio.sleep(0.01)
                port = server.servers[0].sockets[0].getsockname()[1]
                url = f"http://127.0.0.1:{port}/mcp"
                seen: dict[str, set[str]] = {}
                for agent, key in keys.items():
                    headers = {"Authorization": f"Bearer {key}"}
                    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
                        transport = streamable_http_client(url, http_client=http)
                        async with Client(transport) as client:  # type: ignore[arg-type]
                            seen[agent] = {t.name for t in (await client.list_tools()).tools}
                            if agent == "herald":
                                result = await client.call_tool("get_self_info", {})
                                assert not result.is_error, result.content
                                body = getattr(result.content[0], "text", "")
                                assert "Name: herald" in body
                sse = sse_client(
                    f"http://127.0.0.1:{port}/sse",
                    headers={"Authorization": f"Bearer {keys['herald']}"},
                )
                async with Client(sse, mode="legacy") as client:  # type: ignore[arg-type]
                    seen["herald over sse"] = {t.name for t in (await client.list_tools()).tools}
                    sent = await client.call_tool(
                        "send_message", {"channel_id": edge.channel("bot-lab"), "content": "sse"}
                    )
                    assert not sent.is_error, sent.content
                    assert DEPRECATED in getattr(sent.content[0], "text", "")
                server.should_exit = True
    assert seen["herald over sse"] == set(COMPAT_TOOLS)
    assert seen["herald"] == set(COMPAT_TOOLS)
    assert "list_guilds" in seen["scribe"]
    assert "get_server_info" not in seen["scribe"]


async def test_profile_chooser_reads_every_identity() -> None:
    """The middleware's user, a WebSocket ?access_token= key, or none (the default agent)."""
    keys = {"scribe": "key-scribe-0123456789", "herald": "key-herald-0123456789"}
    verifier = _Keys(keys)
    picks: list[str | None] = []

    def compat_for(agent: str | None) -> bool:
        picks.append(agent)
        return agent == "herald"

    choose = _ProfileChooser(verifier, compat_for)  # type: ignore[arg-type]
    token = await verifier.verify_token(keys["herald"])
    assert token is not None
    assert await choose({"type": "http", "user": AuthenticatedUser(token)})
    query = f"x=1&access_token={keys['herald']}".encode()
    assert await choose({"type": "websocket", "query_string": query})
    assert not await choose({"type": "websocket", "query_string": b"access_token=wrong"})
    assert not await choose({"type": "http"})
    assert picks == ["herald", "herald", None, None]


async def test_policy_applies_to_compat_tools(compat: Edge) -> None:
    """A compat agent's policy: its channel rules hide and refuse channels, a profile without
    the compat tools sees none of them."""
    compat.runtime.policy = Policy.of(
        [
            AgentPolicy(
                "scribe", profile="compat", channels=ChannelAcl(ChannelRules(deny=("staff",)))
            ),
            AgentPolicy("herald", profile="chatter"),
        ]
    )
    listed = {t.name for t in (await compat.client.list_tools()).tools}
    assert listed == set(COMPAT_TOOLS)
    channels = await text(compat, "list_channels", {"server_id": guild_id(compat)})
    assert "general" in channels
    assert "staff" not in channels
    refused = await compat.error("read_messages", {"channel_id": compat.channel("staff")})
    assert "staff" in refused or compat.channel("staff") in refused
    async with compat.as_agent("herald"):
        shown = {t.name for t in (await compat.client.list_tools()).tools}
        assert "get_server_info" not in shown


async def test_stdio_serves_the_compat_profile_of_the_default_agent(tmp_path: Path) -> None:
    """`serve` over stdio, default agent with profile compat: the prototype's tools, and a call
    made while the agent is still connecting waits for it."""
    config = tmp_path / "mcp-discord.yaml"
    config.write_text(
        "transport: stdio\nsandbox: on\ndata_dir: data\n"
        "agents:\n  - {name: scribe, profile: compat, default: true}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_DISCORD_")}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_edge", "serve", "--config", str(config)], env=env
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert tools == set(COMPAT_TOOLS)
            result = await client.call_tool("get_self_info", {})
            assert not result.is_error, result.content
            body = getattr(result.content[0], "text", "")
            assert "Name: scribe" in body
            assert DEPRECATED + "whoami" in body


class _Agent:
    """Just the part of an AgentHandle that ``_ready`` reads."""

    def __init__(self, state: ConnectionState) -> None:
        self.agent = "scribe"
        self.state = state


async def test_calls_wait_for_a_connecting_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connecting agent is waited for; one still connecting, or failed, is reported clearly."""
    monkeypatch.setattr(compat_module, "READY_WAIT", 0.3)
    late = _Agent(ConnectionState.CONNECTING)

    async def connect() -> None:
        await anyio.sleep(0.05)
        late.state = ConnectionState.READY

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(connect)
            assert await compat_module._ready(late) is late  # type: ignore[arg-type]
        with pytest.raises(ToolError, match="still connecting"):
            await compat_module._ready(_Agent(ConnectionState.CONNECTING))  # type: ignore[arg-type]
        with pytest.raises(ToolError, match="could not log in"):
            await compat_module._ready(_Agent(ConnectionState.FAILED))  # type: ignore[arg-type]
