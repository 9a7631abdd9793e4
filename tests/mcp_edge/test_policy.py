"""The policy: profiles against the registered tools, channel rules, quotas, config keys."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest
from trio.testing import MockClock

from mcp_edge.config import ConfigError, config_from_data
from mcp_edge.policy import (
    CATALOG,
    COMPAT_TOOLS,
    PROFILES,
    READER,
    AgentPolicy,
    ChannelAcl,
    ChannelDeniedError,
    ChannelFacts,
    ChannelRules,
    Policy,
    QuotaExceededError,
    Quotas,
    ToolNotGrantedError,
)
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.server import build_server

GUILD = 100
GENERAL = ChannelFacts(1, "general", GUILD, "Sandbox Guild")
BOT_LAB = ChannelFacts(2, "bot-lab", GUILD, "Sandbox Guild")
STAFF = ChannelFacts(3, "staff", GUILD, "Sandbox Guild")
OTHER_GUILD = ChannelFacts(4, "general", 200, "Other Guild")
DM = ChannelFacts(5, None, None)


def registered() -> dict[str, Any]:
    """Every tool the server registers, with its annotations (no swarm needed)."""
    server = build_server(EdgeRuntime(cast("Any", None), version="test"))
    return {t.name: t.annotations for t in anyio.run(server.list_tools)}


def test_catalog_covers_every_registered_tool() -> None:
    """The static catalog (used to check configs) names every tool the server registers."""
    tools = registered()
    assert tools, "no tools registered"
    assert set(tools) <= set(CATALOG), sorted(set(tools) - set(CATALOG))
    assert len(CATALOG) == len(set(CATALOG))


def test_safe_profiles_never_grant_a_destructive_tool() -> None:
    """reader and chatter grant no tool the server annotates as destructive."""
    tools = registered()
    destructive = {name for name, a in tools.items() if a is not None and a.destructive_hint}
    policy = Policy.of([AgentPolicy("r", profile="reader"), AgentPolicy("c", profile="chatter")])
    for name in tools:
        policy.note_tool(name, destructive=name in destructive)
    assert not policy.granted("r") & destructive
    assert not policy.granted("c") & destructive
    assert not PROFILES["chatter"] & destructive, "the static sets agree with the annotations"
    granted = AgentPolicy("g", profile="chatter", grant=tuple(destructive)).tools(destructive)
    assert destructive <= granted


def test_reader_profile_is_read_only() -> None:
    """Every registered tool of the reader profile is annotated read-only."""
    for name, hints in registered().items():
        if name in READER:
            assert hints is not None, name
            assert hints.read_only_hint, name


def test_profiles_nest() -> None:
    """reader < chatter < moderator < admin; admin is the catalog; compat is its own set."""
    assert PROFILES["reader"] < PROFILES["chatter"] < PROFILES["moderator"] < PROFILES["admin"]
    assert PROFILES["admin"] == set(CATALOG)
    assert PROFILES["compat"] == COMPAT_TOOLS


def test_explicit_grant_and_deny() -> None:
    """tools replaces the profile; grant adds; deny removes, and errors say which change."""
    policy = Policy.of(
        [
            AgentPolicy("a", profile="reader", grant=("pin_message",), deny=("read_messages",)),
            AgentPolicy("b", explicit=("send_message",)),
        ]
    )
    assert "pin_message" in policy.granted("a")
    assert "read_messages" not in policy.granted("a")
    assert policy.granted("b") == {"send_message"}
    with pytest.raises(ToolNotGrantedError, match=r"remove read_messages from the agent's `deny`"):
        policy.check_tool("a", "read_messages")
    with pytest.raises(ToolNotGrantedError, match=r"`grant: \[ban_member\]` or profile moderator"):
        policy.check_tool("a", "ban_member")
    with pytest.raises(ToolNotGrantedError, match=r"add read_messages to the agent's `tools`"):
        policy.check_tool("b", "read_messages")
    assert policy.granted("unknown") == PROFILES["chatter"]


def test_dms_false_withholds_the_dm_tools() -> None:
    """dms: false takes send_dm and read_dms away, and the error names the setting."""
    policy = Policy.of([AgentPolicy("a", dms=False), AgentPolicy("b")])
    assert not policy.granted("a") & {"send_dm", "read_dms"}
    assert {"send_dm", "read_dms"} <= policy.granted("b")
    with pytest.raises(ToolNotGrantedError, match=r"set `dms: true`"):
        policy.check_tool("a", "send_dm")


def test_channel_rules_by_id_pattern_and_guild() -> None:
    """deny wins, allow admits only matches, per-guild rules add to the global ones."""
    policy = Policy.of(
        [
            AgentPolicy(
                "a",
                channels=ChannelAcl(
                    rules=ChannelRules(allow=("bot-*", "#general", "3"), deny=("staff",)),
                    guilds=(("Other Guild", ChannelRules(deny=("general",))),),
                ),
            ),
            AgentPolicy(
                "b", channels=ChannelAcl(guilds=((str(GUILD), ChannelRules(deny=("1",))),))
            ),
            AgentPolicy("c", dms=False),
        ]
    )
    assert policy.allows_channel("a", GENERAL)
    assert policy.allows_channel("a", BOT_LAB)
    with pytest.raises(ChannelDeniedError, match=r"channels\.deny entry 'staff'"):
        policy.check_channel("a", STAFF)
    with pytest.raises(ChannelDeniedError, match=r"channels\.guilds\['Other Guild'\]\.deny"):
        policy.check_channel("a", OTHER_GUILD)
    with pytest.raises(ChannelDeniedError, match=r"channels\.allow"):
        policy.check_channel("a", ChannelFacts(9, "random", GUILD))
    with pytest.raises(ChannelDeniedError, match=r"channels\.guilds\['100'\]\.deny entry '1'"):
        policy.check_channel("b", GENERAL)
    assert policy.allows_channel("b", OTHER_GUILD)
    assert policy.allows_channel("a", DM)
    with pytest.raises(ChannelDeniedError, match="dms: false"):
        policy.check_channel("c", DM)
    thread = ChannelFacts(3, "staff", GUILD, thread_id=77)
    with pytest.raises(ChannelDeniedError, match=r"thread 77 \(in #staff\)"):
        policy.check_channel("a", thread)


@pytest.mark.parametrize(
    "anyio_backend", [pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}))]
)
@pytest.mark.anyio
async def test_quotas_exhaust_and_recover(anyio_backend: Any) -> None:
    """calls_per_minute and sends_per_day refuse with a retry time, then refill on the clock."""
    policy = Policy.of([AgentPolicy("a", quotas=Quotas(calls_per_minute=2, sends_per_day=1))])
    policy.check_quota("a", "list_guilds")
    policy.check_quota("a", "send_message")
    with pytest.raises(QuotaExceededError, match="calls_per_minute") as info:
        policy.check_quota("a", "list_guilds")
    assert 0 < info.value.retry_after <= 30
    await anyio.sleep(info.value.retry_after)
    with pytest.raises(QuotaExceededError, match="sends_per_day") as sends:
        policy.check_quota("a", "send_message")
    assert sends.value.retry_after > 3600
    policy.check_quota("a", "list_guilds")  # the refused send spent nothing
    await anyio.sleep(86_400)
    policy.check_quota("a", "send_dm")
    for _ in range(10):
        policy.check_quota("nobody", "send_message")  # no quotas: unlimited
    bulk = Policy.of([AgentPolicy("b", quotas=Quotas(sends_per_day=5))])
    bulk.check_quota("b", "send_messages", 3)
    with pytest.raises(QuotaExceededError, match="sends_per_day"):
        bulk.check_quota("b", "send_messages", 3)  # 3 of the 2 left: all or nothing
    bulk.check_quota("b", "send_messages", 2)
    with pytest.raises(QuotaExceededError, match="more than agent b's whole"):
        bulk.check_quota("b", "send_messages", 6)


def test_config_policy_keys() -> None:
    """The agent keys parse into the policy values."""
    config = config_from_data(
        {
            "sandbox": "on",
            "agents": [
                {
                    "name": "scribe",
                    "profile": "Moderator",
                    "grant": ["create_role"],
                    "deny": ["ban_member"],
                    "channels": {
                        "allow": ["bot-*", 123456789012345678],
                        "deny": ["staff"],
                        "guilds": {"Sandbox Guild": {"deny": ["general"]}},
                    },
                    "dms": False,
                    "quotas": {"calls_per_minute": 60, "sends_per_day": 500},
                },
                {"name": "herald", "tools": ["read_messages"]},
            ],
        },
        environ={},
    )
    scribe = config.agents[0].policy()
    assert scribe.profile == "moderator"
    assert scribe.channels.rules.allow == ("bot-*", "123456789012345678")
    assert scribe.channels.guilds == (("Sandbox Guild", ChannelRules(deny=("general",))),)
    assert scribe.quotas == Quotas(60, 500)
    assert not scribe.dms
    assert "create_role" in scribe.tools()
    assert "ban_member" not in scribe.tools()
    assert config.agents[1].policy().tools() == {"read_messages"}
    assert config.redacted()["agents"][0]["quotas"]["sends_per_day"] == 500


def test_config_policy_mistakes_are_named_with_fixes() -> None:
    """Bad profile, unknown tools (closest match), bad channels and quotas: every one named."""
    with pytest.raises(ConfigError) as info:
        config_from_data(
            {
                "sandbox": "on",
                "agents": [
                    {
                        "name": "scribe",
                        "profile": "moderater",
                        "grant": ["pin_mesage"],
                        "deny": [42],
                        "channels": {"allow": "general", "deney": [], "guilds": {"g": [1]}},
                        "dms": "no",
                        "quotas": {"calls_per_minute": 0, "per_hour": 3},
                    }
                ],
            },
            environ={},
        )
    text = str(info.value)
    assert "agents[0].profile: unknown profile 'moderater'" in text
    assert "did you mean moderator?" in text
    assert "agents[0].grant[0]: unknown tool 'pin_mesage' — did you mean pin_message?" in text
    assert "agents[0].deny[0]: unknown tool 42" in text
    assert "agents[0].channels.deney: unknown key" in text
    assert "agents[0].channels.guilds.g: expected a mapping" in text
    assert "agents[0].dms: expected true or false" in text
    assert "agents[0].quotas.calls_per_minute: expected a whole number of at least 1" in text
    assert "agents[0].quotas.per_hour: unknown key" in text
