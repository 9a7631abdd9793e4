"""The policy and the audit log on a running server: the sandbox, real discord.py, a real client.

Every registered tool is checked for a policy denial (generated from the registry); channel
rules by id, by pattern and per guild, threads judged by their parent, ``dms: false``, filtered
outputs, a quota, and the audit log's completeness with no secret in any record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge

from discord_io.sandbox._model import ChannelType
from mcp_edge.audit import AUDIT_FILE, AuditLog, read_audit
from mcp_edge.policy import (
    PROFILES,
    READER,
    AgentPolicy,
    ChannelAcl,
    ChannelRules,
    Policy,
    Quotas,
)

pytestmark = [pytest.mark.anyio]

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
API_KEY = "mcpd_abcdefghijklmnopqrstuvwxyz012345"


@asynccontextmanager
async def policy_edge(
    tmp_path: Path, *agents: AgentPolicy, audit: bool = False
) -> AsyncIterator[Edge]:
    """The ``edge`` fixture's server with a policy (and, if asked, a running audit log)."""
    log = AuditLog(tmp_path / AUDIT_FILE) if audit else None
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    async with anyio.create_task_group() as tg:
        if log is not None:
            await tg.start(log.run)
        try:
            async with running_edge(tmp_path / "data", policy=Policy.of(agents), audit=log) as edge:
                yield edge
        finally:
            if log is not None:
                await log.aclose()


def _without(tool: str) -> AgentPolicy:
    """A policy for scribe whose tools lack ``tool``: a profile if one does, else a list."""
    for profile in ("reader", "compat", "chatter"):
        if tool not in PROFILES[profile]:
            return AgentPolicy("scribe", profile=profile)
    return AgentPolicy("scribe", explicit=("server_status",))


async def _tool_names(edge: Edge) -> set[str]:
    with anyio.fail_after(10):
        return {t.name for t in (await edge.client.list_tools()).tools}


async def test_every_registered_tool_is_denied_and_hidden_without_a_grant(
    tmp_path: Path,
) -> None:
    """For each registered tool: absent from tools/list and refused, naming the grant."""
    async with policy_edge(tmp_path, AgentPolicy("scribe", profile="admin")) as edge:
        registered = await _tool_names(edge)
        assert registered >= {"send_message", "read_messages", "list_guilds"}
        for tool in sorted(registered):
            policy = _without(tool)
            edge.runtime.policy = Policy.of([policy])
            assert tool not in await _tool_names(edge), tool
            text = await edge.error(tool, {})
            assert f"tool {tool} is not granted to agent scribe" in text, text
            if policy.explicit is None:
                assert f"`grant: [{tool}]`" in text, text
            else:
                assert f"add {tool} to the agent's `tools` list" in text, text


async def test_tools_list_shows_exactly_the_granted_tools(tmp_path: Path) -> None:
    """reader sees the registered read-only tools; herald (no policy entry) sees chatter's."""
    async with policy_edge(tmp_path, AgentPolicy("scribe", profile="reader")) as edge:
        shown = await _tool_names(edge)
        assert shown
        assert shown <= READER
        assert "read_messages" in shown
        async with edge.as_agent("herald"):
            herald = await _tool_names(edge)
        assert herald <= PROFILES["chatter"]
        assert "send_message" in herald
        assert "delete_message" not in herald


async def test_channel_allow_by_id_and_pattern(tmp_path: Path) -> None:
    """allow [general's id, "bot-*"]: those work, others are refused naming the rule, and
    list_channels shows only the allowed ones."""
    (tmp_path / "probe").mkdir()
    async with running_edge(tmp_path / "probe") as probe:
        general = probe.channel("general")
        guild = str(probe.sandbox.state.channels[int(general)].guild_id)
    rules = ChannelRules(allow=(general, "bot-*"))
    async with policy_edge(tmp_path, AgentPolicy("scribe", channels=ChannelAcl(rules))) as edge:
        assert edge.channel("general") == general
        await edge.ok("read_messages", {"channel_id": general, "limit": 1})
        await edge.ok("send_message", {"channel_id": edge.channel("bot-lab"), "content": "hi"})
        text = await edge.error(
            "send_message", {"channel_id": edge.channel("announcements"), "content": "hi"}
        )
        assert "#announcements" in text
        assert "is not allowed for agent scribe" in text
        assert "channels.allow" in text
        assert not edge.sandbox.delivered(int(edge.channel("announcements")))
        listed = await edge.ok("list_channels", {"guild_id": guild})
        assert {c["name"] for c in listed["channels"]} == {"general", "bot-lab"}
        detail = await edge.ok("get_guild", {"guild_id": guild})
        assert {c["name"] for c in detail["channels"]} == {"general", "bot-lab"}


async def test_channel_deny_per_guild_by_name_and_id_and_threads(tmp_path: Path) -> None:
    """Per-guild deny by guild name or id; a thread is judged by its parent channel."""
    (tmp_path / "probe").mkdir()
    async with running_edge(tmp_path / "probe") as probe:
        general = probe.channel("general")
        thread = probe.channel("welcome-thread")
        guild = str(probe.sandbox.state.channels[int(general)].guild_id)
    for key in ("sandbox guild", guild):
        acl = ChannelAcl(guilds=((key, ChannelRules(deny=("general",))),))
        async with policy_edge(
            tmp_path / key.replace(" ", "-"), AgentPolicy("scribe", channels=acl)
        ) as edge:
            text = await edge.error("read_messages", {"channel_id": general})
            assert f"channels.guilds[{key!r}].deny entry 'general'" in text
            text = await edge.error("read_messages", {"channel_id": thread})
            assert f"thread {thread} (in #general)" in text
            await edge.ok("read_messages", {"channel_id": edge.channel("bot-lab"), "limit": 1})


async def test_a_denied_channel_in_a_bulk_send_refuses_it_all(tmp_path: Path) -> None:
    """Each item's channel_id is judged: one refused channel refuses the call, nothing posted."""
    acl = ChannelAcl(ChannelRules(deny=("announcements",)))
    async with policy_edge(tmp_path, AgentPolicy("scribe", channels=acl)) as edge:
        lab, news = edge.channel("bot-lab"), edge.channel("announcements")
        before = len(edge.sandbox.delivered(int(lab)))
        items = [{"channel_id": lab, "content": "one"}, {"channel_id": news, "content": "two"}]
        text = await edge.error("send_messages", {"messages": items})
        assert "channels.deny entry 'announcements'" in text
        assert len(edge.sandbox.delivered(int(lab))) == before
        assert not edge.sandbox.delivered(int(news))


async def test_dms_false_refuses_dm_channels(tmp_path: Path) -> None:
    """dms: false refuses a DM channel; the same agent still reads guild channels."""
    async with policy_edge(tmp_path, AgentPolicy("scribe", dms=False)) as edge:
        scribe = edge.user_id("scribe")
        dm = next(
            c.id
            for c in edge.sandbox.state.channels.values()
            if c.type == ChannelType.DM and scribe in c.recipients
        )
        text = await edge.error("read_messages", {"channel_id": str(dm)})
        assert "dms: false" in text
        await edge.ok("read_messages", {"channel_id": edge.channel("general"), "limit": 1})
        edge.runtime.policy = Policy.of([AgentPolicy("scribe")])
        await edge.ok("read_messages", {"channel_id": str(dm), "limit": 1})


async def test_wait_for_events_hides_denied_channels(tmp_path: Path) -> None:
    """Events in a denied channel never reach the agent; the others do."""
    acl = ChannelAcl(ChannelRules(deny=("bot-lab",)))
    async with policy_edge(tmp_path, AgentPolicy("scribe", channels=acl)) as edge:
        general, lab = edge.channel("general"), edge.channel("bot-lab")
        page = await edge.ok("wait_for_events", {"timeout": 0, "limit": 100})
        while page["events"]:
            page = await edge.ok(
                "wait_for_events", {"timeout": 0, "limit": 100, "cursor": page["next_cursor"]}
            )
        cursor = page["next_cursor"]
        alice = edge.user_id("alice")
        edge.sandbox.inject_message(int(lab), "secret lab talk", author_id=alice)
        edge.sandbox.inject_message(int(general), "public talk", author_id=alice)
        seen: list[dict[str, Any]] = []
        with anyio.fail_after(20):
            while not any(e.get("channel_id") == general for e in seen):
                page = await edge.ok(
                    "wait_for_events", {"timeout": 5, "limit": 100, "cursor": cursor}
                )
                seen += page["events"]
                cursor = page["next_cursor"]
        assert all(e.get("channel_id") != lab for e in seen)
        assert "secret lab talk" not in json.dumps(seen)


async def test_calls_per_minute_quota(tmp_path: Path) -> None:
    """The fourth call in a minute with calls_per_minute: 3 is refused with a retry time."""
    policy = AgentPolicy("scribe", quotas=Quotas(calls_per_minute=3))
    async with policy_edge(tmp_path, policy) as edge:
        for _ in range(3):
            await edge.ok("list_guilds")
        text = await edge.error("list_guilds")
        assert "calls_per_minute (3) quota" in text
        assert "again in" in text
        async with edge.as_agent("herald"):
            await edge.ok("list_guilds")  # quotas are per agent


async def test_audit_has_one_record_per_call_and_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ok, denied (tool and channel), bad-argument and unknown-tool calls: one record each,
    with ids and outcomes; no token or API key in any record or audit log line."""
    acl = ChannelAcl(ChannelRules(deny=("announcements",)))
    async with policy_edge(tmp_path, AgentPolicy("scribe", channels=acl), audit=True) as edge:
        general = edge.channel("general")
        with caplog.at_level(logging.INFO, logger="mcp_edge.audit"):
            await edge.ok("list_guilds")
            sent = await edge.ok(
                "send_message",
                {"channel_id": general, "content": f"leak {TOKEN} and {API_KEY}"},
            )
            await edge.error("ban_member", {"guild_id": "1", "user_id": "2"})
            await edge.error("read_messages", {"channel_id": edge.channel("announcements")})
            await edge.error("send_message", {"channel_id": general})  # empty: the tool refuses
            await edge.error("send_message", {"channel_id": "not-an-id", "content": "x"})
            await edge.error("no_such_tool", {"token": TOKEN})
            assert edge.runtime.audit is not None
            await edge.runtime.audit.flush()
        records = read_audit(tmp_path / AUDIT_FILE)
    assert [(r.tool, r.outcome) for r in records] == [
        ("list_guilds", "ok"),
        ("send_message", "ok"),
        ("ban_member", "denied"),
        ("read_messages", "denied"),
        ("send_message", "tool_error"),
        ("send_message", "bad_arguments"),
        ("no_such_tool", "bad_arguments"),
    ]
    assert all(r.agent == "scribe" for r in records)
    send = records[1]
    assert send.ids["channel_id"] == (general,)
    assert send.ids["message_id"] == (sent["message_id"],)
    assert send.arguments["content"] == "leak *** and ***"
    assert "not granted" in (records[2].error or "")
    assert "announcements" in (records[3].error or "")
    assert records[6].arguments == {"token": "***"}
    assert all(r.duration_ms >= 0 for r in records)
    everything = json.dumps([r.to_json() for r in records])
    everything += "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything
    assert API_KEY not in everything
    lines = [r for r in caplog.records if r.name == "mcp_edge.audit"]
    assert len(lines) == len(records)
