"""EdgeMetrics: tool calls pushed, a real swarm on the sandbox pulled, the outbox cached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.discord_io.agent_helpers import GRANTED
from tests.discord_io.conftest import (  # autouse: every sandbox body held to the spec
    _openapi_validation,  # noqa: F401
)

from actors.agent import AgentOptions
from actors.discord_port import ConnectionState
from actors.egress import EgressBudget
from actors.store import OutboxCounts
from discord_io.agent_client import AgentStatistics, route_template
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.sandbox.control_client import SandboxControl
from discord_io.swarm import AgentConfig, Swarm, SwarmState, SwarmStatistics, open_swarm
from mcp_edge.metrics import OTHER_AGENT, OUTCOMES, EdgeMetrics

pytestmark = [pytest.mark.anyio]

OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5, default_timeout=10)
STORE = {"synchronous": "NORMAL", "prune_interval": None}
CREATE = "POST /channels/{channel_id}/messages"

Samples = Mapping[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def anyio_backend() -> str:
    """discord.py (the swarm) runs on asyncio only."""
    return "asyncio"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Message create limited to 3 per 0.3 s per channel: Discord's shape at test speed."""
    return SandboxConfig(
        rate_limits=RateLimitConfig().override("message-create", limit=3, window=0.3)
    )


def scrape(metrics: EdgeMetrics) -> Samples:
    """Every sample of a scrape, by name and labels, parsed as Prometheus would."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; KeyError naming what was there if it is missing."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        near = sorted(str(dict(ls)) for n, ls in samples if n == name)
        raise KeyError(f"no sample {name}{labels}; {name} has {near or 'no samples'}")
    return samples[key]


def configs(sandbox: Sandbox, names: Sequence[str]) -> list[AgentConfig]:
    return [
        AgentConfig(name, sandbox.bot(name).token, capabilities=GRANTED[name], options=OPTIONS)
        for name in names
    ]


@asynccontextmanager
async def bound_swarm(
    sandbox: Sandbox, data: Path, names: Sequence[str] = ("scribe", "herald")
) -> AsyncIterator[tuple[Swarm, EdgeMetrics]]:
    """A running swarm, every agent READY, and an EdgeMetrics bound to it."""
    async with open_swarm(
        configs(sandbox, names), data, sandbox_url=sandbox.base_url, store_options=STORE
    ) as swarm:
        await swarm.ready(10)
        metrics = EdgeMetrics(interval=0.05)
        metrics.bind(
            swarm.statistics,
            lambda agent: swarm.store.outbox_counts(agent, timeout=5),
            agents=swarm.names,
        )
        yield swarm, metrics


async def wait_for(predicate: object, what: str, timeout: float = 10) -> None:
    assert callable(predicate)
    with anyio.fail_after(timeout, reason=what):
        while not predicate():  # noqa: ASYNC110 - polls agent state that has no event to await
            await anyio.sleep(0.02)


# ------------------------------------------------------------------------------- tool calls


def test_tool_calls_are_counted_with_latency_by_tool_agent_and_outcome() -> None:
    """Each call adds to the counter and to the histogram buckets of its own labels."""
    metrics = EdgeMetrics()
    metrics.record_tool_call("send_message", "scribe", "ok", 0.004)
    metrics.record_tool_call("send_message", "scribe", "ok", 0.2)
    metrics.record_tool_call("read_messages", "herald", "tool_error", 12.0)
    samples = scrape(metrics)
    ok = {"tool": "send_message", "agent": "scribe", "outcome": "ok"}
    assert value(samples, "mcp_discord_tool_calls_total", **ok) == 2
    seconds = "mcp_discord_tool_call_seconds"
    assert value(samples, f"{seconds}_bucket", **ok, le="0.001") == 0
    assert value(samples, f"{seconds}_bucket", **ok, le="0.005") == 1
    assert value(samples, f"{seconds}_bucket", **ok, le="0.25") == 2
    assert value(samples, f"{seconds}_sum", **ok) == pytest.approx(0.204)
    failed = {"tool": "read_messages", "agent": "herald", "outcome": "tool_error"}
    assert value(samples, f"{seconds}_bucket", **failed, le="10.0") == 0
    assert value(samples, f"{seconds}_bucket", **failed, le="+Inf") == 1


def test_an_unknown_outcome_is_refused() -> None:
    """A typo in the outcome raises instead of becoming a new label value."""
    metrics = EdgeMetrics()
    with pytest.raises(ValueError, match="outcome must be one of ok, tool_error"):
        metrics.record_tool_call("send_message", "scribe", "okay", 0.1)
    assert set(OUTCOMES) == {"ok", "tool_error", "bad_arguments", "denied", "internal_error"}


async def test_unknown_agents_count_as_other_once_the_agents_are_named() -> None:
    """After bind(agents=...), a call naming another agent is labelled (other)."""
    metrics = EdgeMetrics()
    stats = SwarmStatistics(SwarmState.IDLE, (), (), None, EgressBudget().statistics())
    metrics.bind(lambda: stats, agents=["scribe"])
    metrics.record_tool_call("send_message", "nobody-123", "bad_arguments", 0.001)
    metrics.record_tool_call("list_agents", "", "ok", 0.001)
    samples = scrape(metrics)
    name = "mcp_discord_tool_calls_total"
    assert value(samples, name, tool="send_message", agent=OTHER_AGENT, outcome="bad_arguments")
    assert value(samples, name, tool="list_agents", agent="", outcome="ok") == 1


def test_every_instance_has_its_own_registry() -> None:
    """Two EdgeMetrics never collide, and nothing lands in prometheus_client's global one."""
    first, second = EdgeMetrics(), EdgeMetrics()
    first.record_tool_call("send_message", "scribe", "ok", 0.01)
    assert ("mcp_discord_tool_calls_total", frozenset()) not in scrape(second)
    global_families = text_string_to_metric_families(generate_latest(REGISTRY).decode())
    assert not any(f.name.startswith("mcp_discord") for f in global_families)


def test_render_speaks_openmetrics_when_the_scraper_asks() -> None:
    """An OpenMetrics Accept header gets OpenMetrics, ending in # EOF."""
    metrics = EdgeMetrics()
    metrics.record_tool_call("send_message", "scribe", "ok", 0.01)
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


async def test_a_failed_refresh_keeps_the_last_figures_and_is_counted() -> None:
    """The Store failing under a refresh keeps the previous outbox figures and counts it."""
    agent = AgentStatistics("scribe", ConnectionState.READY, 0, 1, 0, 0, 0, None)
    stats = SwarmStatistics(
        SwarmState.RUNNING, (agent,), ("scribe",), None, EgressBudget().statistics()
    )
    answers: list[OutboxCounts | Exception] = [
        OutboxCounts(3, 0, 0, 0, 100.0, 2.0),
        RuntimeError("the swarm is not running"),
    ]

    async def probe(name: str) -> OutboxCounts:
        assert name == "scribe"
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    metrics = EdgeMetrics()
    metrics.bind(lambda: stats, probe)
    assert value(scrape(metrics), "mcp_discord_outbox_refresh_age_seconds") == -1
    await metrics.refresh()
    await metrics.refresh()
    samples = scrape(metrics)
    assert value(samples, "mcp_discord_outbox_pending", agent="scribe") == 3
    assert value(samples, "mcp_discord_outbox_oldest_pending_age_seconds", agent="scribe") >= 2
    assert value(samples, "mcp_discord_outbox_refresh_errors_total") == 1
    assert value(samples, "mcp_discord_outbox_refresh_age_seconds") >= 0


# ------------------------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/api/v10/channels/42/messages", CREATE),
        ("GET", "/api/v10/users/@me", "GET /users/@me"),
        ("GET", "/api/v10/gateway/bot", "GET /gateway/bot"),
        (
            "PUT",
            "/api/v10/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
            "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
        ),
        (
            "DELETE",
            "/api/v10/channels/1/messages/2/reactions/x/55",
            "DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
        ),
        (
            "PATCH",
            "/api/v10/webhooks/1/s3cr3t-T0KEN/messages/@original",
            "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
        ),
        ("GET", "/api/v10/guilds/7/members", "GET /guilds/{guild_id}/members"),
        ("get", "/somewhere/else", "GET /{param}/{param}"),
    ],
)
def test_route_templates_name_routes_as_discord_does(method: str, path: str, template: str) -> None:
    """REST paths become Discord's route templates; ids and tokens become parameters."""
    assert route_template(method, path) == template


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["channels", "messages", "webhooks", "reactions", "@me", "guilds"]),
            st.from_regex(r"[A-Za-z0-9_.%-]{1,30}", fullmatch=True),
        ),
        max_size=8,
    )
)
def test_a_route_template_holds_only_literals_and_parameters(segments: list[str]) -> None:
    """Whatever the path, each template segment is a known literal or a {parameter}."""
    template = route_template("GET", "/api/v10/" + "/".join(segments))
    method, _, path = template.partition(" ")
    assert method == "GET"
    for part in path.strip("/").split("/"):
        assert not part or part.startswith("{") or part in segments
        assert not part.isdigit()


# ------------------------------------------------------------------------------- a real swarm


async def test_a_running_swarm_exports_sends_routes_gateway_state_and_outbox(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Messages sent through the swarm show up as delivered sends, REST answers by route,
    READY gateway states, an empty outbox and the hub's intake."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with bound_swarm(sandbox, tmp_path) as (swarm, metrics):
            for i in range(3):
                await swarm.agent("scribe").send_message(channel, f"scribe {i}")
            await swarm.agent("herald").send_message(channel, "herald 0")
            await metrics.refresh()
            samples = scrape(metrics)
    assert value(samples, "mcp_discord_swarm_state", state="running") == 1
    assert value(samples, "mcp_discord_swarm_state", state="starting") == 0
    for agent, sent in (("scribe", 3), ("herald", 1)):
        assert value(samples, "mcp_discord_gateway_state", agent=agent, state="ready") == 1
        assert value(samples, "mcp_discord_gateway_state", agent=agent, state="resuming") == 0
        assert value(samples, "mcp_discord_gateway_readies_total", agent=agent) == 1
        assert value(samples, "mcp_discord_gateway_reconnects_total", agent=agent) == 0
        assert value(samples, "mcp_discord_messages_delivered_total", agent=agent) == sent
        assert value(samples, "mcp_discord_messages_failed_total", agent=agent) == 0
        assert (
            value(
                samples, "mcp_discord_rest_requests_total", agent=agent, route=CREATE, status="200"
            )
            == sent
        )
        assert value(samples, "mcp_discord_outbox_pending", agent=agent) == 0
        assert value(samples, "mcp_discord_outbox_oldest_pending_age_seconds", agent=agent) == 0
        assert value(samples, "mcp_discord_agent_accepting", agent=agent) == 1
        assert value(samples, "mcp_discord_channel_mailbox_depth", agent=agent) == 0
        assert (
            value(samples, "mcp_discord_ratelimit_waits_total", agent=agent, limiter="global") >= 0
        )
    assert value(samples, "mcp_discord_channel_actors", agent="scribe") == 1
    assert (
        value(
            samples,
            "mcp_discord_rest_requests_total",
            agent="scribe",
            route="GET /users/@me",
            status="200",
        )
        == 1
    )
    # every agent sees every message in the channel: 4 live events each, at least
    assert value(samples, "mcp_discord_events_total", agent="scribe") >= 4
    assert value(samples, "mcp_discord_events_dropped_total", agent="scribe") == 0
    assert value(samples, "mcp_discord_hub_events_total") >= 8
    assert value(samples, "mcp_discord_hub_events_lost_total") == 0
    assert value(samples, "mcp_discord_mailbox_capacity", mailbox="event_hub") == 4096
    assert value(samples, "mcp_discord_mailbox_depth", mailbox="store") >= 0
    assert value(samples, "mcp_discord_egress_invalid_requests_used") == 0
    assert value(samples, "mcp_discord_egress_invalid_requests_limit") == 10_000
    assert value(samples, "mcp_discord_scrape_errors_total") == 0
    assert not any(str(channel) in str(labels) for _, labels in samples)


async def test_429s_are_counted_by_scope_and_in_the_egress_budget(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Injected 429s show up by scope with the wait they asked for; shared ones stay out of
    the invalid-request budget; the sends still go out."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with bound_swarm(sandbox, tmp_path, ["scribe"]) as (swarm, metrics):
            async with SandboxControl(sandbox.http_url) as control:
                await control.inject_429(2, route=CREATE, scope="user", retry_after=0.1)
                await control.inject_429(1, route=CREATE, scope="shared", retry_after=0.1)
            for i in range(2):
                await swarm.agent("scribe").send_message(channel, f"after 429s {i}")
            samples = scrape(metrics)
    scribe = {"agent": "scribe"}
    assert value(samples, "mcp_discord_rest_rate_limited_total", **scribe, scope="user") == 2
    assert value(samples, "mcp_discord_rest_rate_limited_total", **scribe, scope="shared") == 1
    assert value(samples, "mcp_discord_rest_retry_after_seconds_total", **scribe, scope="user") > 0
    assert (
        value(samples, "mcp_discord_rest_requests_total", **scribe, route=CREATE, status="429") == 3
    )
    assert (
        value(samples, "mcp_discord_rest_requests_total", **scribe, route=CREATE, status="200") == 2
    )
    assert value(samples, "mcp_discord_egress_invalid_requests_used") == 2
    assert value(samples, "mcp_discord_egress_invalid_requests_total") == 2
    assert value(samples, "mcp_discord_messages_delivered_total", **scribe) == 2


async def test_an_outage_shows_in_gateway_state_outbox_and_reconnects(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """During an outage the agent is not READY and its queued send is pending with an age;
    after it, the send is delivered, the outbox empty and the reconnect counted."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with bound_swarm(sandbox, tmp_path, ["scribe"]) as (swarm, metrics):
            async with anyio.create_task_group() as tg:
                await tg.start(metrics.run)
                async with SandboxControl(sandbox.http_url) as control:
                    await control.start_outage()
                    client = swarm.client("scribe")
                    await wait_for(lambda: client.state is not ConnectionState.READY, "outage")
                    await swarm.agent("scribe").send_message(
                        channel, "in the dark", delivery="queued"
                    )
                    await metrics.refresh()
                    during = scrape(metrics)
                    await control.end_outage()
                await swarm.ready(10)
                with anyio.fail_after(10, reason="the outbox never emptied"):
                    while await swarm.store.pending():  # noqa: ASYNC110 - polls the real Store
                        await anyio.sleep(0.05)
                await anyio.sleep(0.15)  # two refreshes of the run loop
                after = scrape(metrics)
                tg.cancel_scope.cancel()
    scribe = {"agent": "scribe"}
    assert value(during, "mcp_discord_gateway_state", **scribe, state="ready") == 0
    assert value(during, "mcp_discord_outbox_pending", **scribe) == 1
    assert value(during, "mcp_discord_outbox_oldest_pending_age_seconds", **scribe) >= 0
    assert value(after, "mcp_discord_gateway_state", **scribe, state="ready") == 1
    assert value(after, "mcp_discord_outbox_pending", **scribe) == 0
    assert value(after, "mcp_discord_gateway_reconnects_total", **scribe) >= 1
    assert value(after, "mcp_discord_messages_delivered_total", **scribe) == 1
    assert value(after, "mcp_discord_outbox_refresh_age_seconds") < 1


async def test_counters_survive_a_channel_actor_being_replaced(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A channel whose new actor counts from zero again does not make a counter go down."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with bound_swarm(sandbox, tmp_path, ["scribe"]) as (swarm, metrics):
            for i in range(3):
                await swarm.agent("scribe").send_message(channel, f"first actor {i}")
            real = swarm.statistics()
    delivered = "mcp_discord_messages_delivered_total"
    actor = real.actors[0]
    (first,) = actor.per_channel
    snapshots = [
        real,
        attrs.evolve(
            real, actors=(attrs.evolve(actor, per_channel=(attrs.evolve(first, delivered=1),)),)
        ),
        attrs.evolve(
            real, actors=(attrs.evolve(actor, per_channel=(attrs.evolve(first, delivered=2),)),)
        ),
    ]
    metrics = EdgeMetrics()
    metrics.bind(lambda: snapshots[0])
    totals = []
    while snapshots:
        totals.append(value(scrape(metrics), delivered, agent="scribe"))
        snapshots.pop(0)
    assert totals == [3, 4, 5]


async def test_pacing_waits_are_counted_by_limiter(sandbox: Sandbox, tmp_path: Path) -> None:
    """Sends beyond the channel's window wait in its bucket: counted, with seconds, and no 429."""
    channel = sandbox.channel_id("bot-lab")
    with anyio.fail_after(60):
        async with bound_swarm(sandbox, tmp_path, ["scribe"]) as (swarm, metrics):
            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(swarm.agent("scribe").send_message, channel, f"paced {i}")
            samples = scrape(metrics)
    scribe = {"agent": "scribe"}
    assert value(samples, "mcp_discord_messages_delivered_total", **scribe) == 8
    assert value(samples, "mcp_discord_ratelimit_waits_total", **scribe, limiter="channel") >= 1
    waited = value(samples, "mcp_discord_ratelimit_wait_seconds_total", **scribe, limiter="channel")
    assert waited > 0.1
    assert value(samples, "mcp_discord_ratelimit_waits_total", **scribe, limiter="global") >= 0
    assert (
        "mcp_discord_rest_rate_limited_total",
        frozenset({**scribe, "scope": "user"}.items()),
    ) not in samples
