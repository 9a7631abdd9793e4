"""``mcp-discord serve``: the process — sandbox (if embedded), swarm, MCP server, transport.

One asyncio loop (discord.py needs it; uvloop when installed), one root task group::

    root
    ├─ sandbox     the embedded sandbox Discord, when no token is configured
    ├─ swarm       the agents' Discord IO and actors, EventHub, Store (discord_io.swarm)
    ├─ audit       the audit log's writer (DATA_DIR/audit.sqlite3, mcp_edge.audit)
    ├─ metrics     the outbox figures' refresh loop
    ├─ freeze heap once the agents are up, the startup heap leaves GC walks (mcp_edge.heap)
    ├─ signals     SIGINT/SIGTERM -> stop
    └─ edge        stdio (the MCP server on stdin/stdout) or HTTP (uvicorn: /mcp /sse /ws ...)

Profiles: agents configured with ``profile: compat`` are served the deprecated prototype tools
(:func:`~mcp_edge.compat.build_compat_server`) instead of the main server: over stdio when the
default agent has that profile, over HTTP per request by the caller's API key.

Start: the sandbox (if any) and the swarm start first; the transport opens once every layer
runs (agents may still be connecting: ``/readyz`` says when they are READY). The embedded
default is announced in the log, and over HTTP a banner on stdout gives the URL, the demo
agents' API keys and a client config to paste.

Stop (SIGTERM, SIGINT, stdin closed for stdio): the transport stops taking connections and
in-flight HTTP requests get ``graceful`` seconds; at the same time the swarm's ordered shutdown
closes the agents' intake (a late send is told to retry) and drains the outboxes within
``stop_timeout``; what is left stays in the outbox for the next start. The audit log then
writes what it has queued. A second SIGINT cancels everything at once (the outbox is durable,
so nothing accepted is lost either way).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable, Iterator

import anyio
import attrs
import uvicorn
from anyio.abc import TaskStatus

from actors import AgentOptions, StoreOpenError
from actors.discord_port import AgentCapabilities
from discord_io.sandbox import RateLimitConfig, Sandbox, SandboxConfig
from discord_io.swarm import AgentConfig, Swarm
from mcp_edge.audit import AUDIT_FILE, AuditLog
from mcp_edge.auth import ApiKeyVerifier
from mcp_edge.compat import build_compat_server, uses_compat
from mcp_edge.config import AgentSettings, Config, ConfigError, is_loopback
from mcp_edge.embedded import client_config, demo_keys, load_seed, sandbox_agents, with_demo_keys
from mcp_edge.heap import freeze_when_ready, tune_collector
from mcp_edge.http_app import build_http_app, transport_security
from mcp_edge.keys import KeyFileWatcher
from mcp_edge.logs import configure_logging
from mcp_edge.metrics import EdgeMetrics
from mcp_edge.ops import Health
from mcp_edge.policy import Policy
from mcp_edge.runtime import EdgeRuntime
from mcp_edge.server import build_server

_log = logging.getLogger("mcp_edge.serve")

GRACEFUL_HTTP = 3.0
"""Seconds in-flight HTTP requests (and open streams) get once a stop begins."""


def main(config: Config) -> int:
    """Run the server until it is stopped; the process exit code."""
    configure_logging(config.log_level)
    for warning in config.warnings:
        _log.warning("config: %s", warning)
    tune_collector()
    try:
        anyio.run(
            functools.partial(serve, config, freeze_heap=True),
            backend="asyncio",
            backend_options=_asyncio_options(),
        )
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # the edge of the process: a clear line, not a traceback
        known = _known_failure(exc)
        if known is None:
            raise
        code, error = known
        sys.stderr.write(f"mcp-discord: {error}\n")
        return code
    return 0


def _known_failure(exc: BaseException) -> tuple[int, BaseException] | None:
    """The exit code and error for a failure the operator can fix, wherever the task groups
    wrapped it; None for anything else (a bug: its traceback is shown)."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _known_failure(inner)
            if found is not None:
                return found
        return None
    if isinstance(exc, ConfigError):
        return 2, exc
    if isinstance(exc, StoreOpenError | OSError):
        return 1, exc
    return None


def _asyncio_options() -> dict[str, object]:
    return {"use_uvloop": importlib.util.find_spec("uvloop") is not None}


def _agent_config(agent: AgentSettings, config: Config) -> AgentConfig:
    if agent.token is None:
        raise ConfigError.one(
            f"agents.{agent.name}.token_env",
            "the agent has no Discord bot token",
            "set token_env (an environment variable) or token_file, or run with --sandbox",
        )
    return AgentConfig(
        agent.name,
        agent.token,
        capabilities=AgentCapabilities(
            message_content=agent.message_content,
            members=agent.members,
            presences=agent.presences,
        ),
        options=AgentOptions(budget_rate=agent.budget_rate, default_timeout=config.send_timeout),
    )


def _compat_chooser(config: Config, runtime: EdgeRuntime) -> Callable[[str | None], bool]:
    """Whether an agent (None: the default agent) is configured with the compat profile."""

    def compat_for(agent: str | None) -> bool:
        name = agent if agent is not None else runtime.default_agent
        settings = None if name is None else config.agent(name)
        return settings is not None and uses_compat(settings.profile)

    return compat_for


def _check_exposure(config: Config, embedded: bool) -> None:
    if config.transport != "http" or is_loopback(config.host):
        return
    if embedded and not any(a.api_key_hashes for a in config.agents):
        raise ConfigError.one(
            "host",
            f"the embedded sandbox would be served on {config.host}, beyond loopback, with demo "
            "keys printed in the banner",
            "bind to 127.0.0.1, or create keys with `mcp-discord keys create --agent NAME`",
        )


async def serve(
    config: Config,
    *,
    sandbox: Sandbox | None = None,
    signals: bool = True,
    freeze_heap: bool = False,
    task_status: TaskStatus[Edge] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run everything in the module docstring until a signal, stdin EOF, :meth:`Edge.stop`
    or cancellation. ``sandbox``: an already running sandbox to use instead of starting one
    (tests, benchmarks); ``signals``: whether to handle SIGINT/SIGTERM; ``freeze_heap``: once
    the agents are up, exempt the startup heap from garbage collection (:mod:`mcp_edge.heap`;
    the server process does, in-process callers need not)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    async with anyio.create_task_group() as root:
        keys: dict[str, str] = {}
        if sandbox is not None or config.sandbox_enabled:
            _check_exposure(config, embedded=True)
            if sandbox is None:
                sandbox = Sandbox(
                    load_seed(config),
                    host="127.0.0.1",
                    port=config.sandbox_port,
                    config=SandboxConfig(
                        rate_limits=RateLimitConfig() if config.sandbox_rate_limits else None
                    ),
                )
                await root.start(sandbox.run, name="sandbox")
            agents = sandbox_agents(config, sandbox)
            if config.transport == "http" and config.auth == "api_key":
                keys = demo_keys(config.data_dir, agents)
                agents = with_demo_keys(agents, keys)
            config = attrs.evolve(config, agents=agents)
            _log.warning(
                "no Discord token configured: serving the embedded SANDBOX Discord at %s "
                "(a local imitation; nothing reaches real Discord). Agents: %s. Configure a "
                "token (MCP_DISCORD_TOKEN or a config file) to use Discord.",
                sandbox.base_url,
                ", ".join(a.name for a in agents),
            )
        if not config.agents:
            raise ConfigError.one(
                "agents",
                "no agent is configured",
                "set MCP_DISCORD_TOKEN, define agents in a config file, or use --sandbox",
            )
        swarm = Swarm(
            [_agent_config(a, config) for a in config.agents],
            config.data_dir,
            config.discord_api_url if sandbox is None else sandbox.base_url,
            stop_timeout=config.stop_timeout,
        )
        await root.start(swarm.run, name="swarm")
        if freeze_heap:
            root.start_soon(
                freeze_when_ready,
                lambda: Health.from_statistics(swarm.statistics()).ready,
                name="freeze heap",
            )
        audit = AuditLog(config.data_dir / AUDIT_FILE)
        await root.start(audit.run, name="audit")
        metrics = EdgeMetrics()
        metrics.bind(swarm.statistics, swarm.store.outbox_counts, agents=swarm.names)
        root.start_soon(metrics.run, name="metrics")
        runtime = EdgeRuntime(
            swarm,
            tool_timeout=config.tool_timeout,
            send_timeout=config.send_timeout,
            recorder=metrics,
            allow_private_urls=sandbox is not None or config.discord_api_url is not None,
            sandbox=sandbox is not None or config.discord_api_url is not None,
            policy=Policy.of(agent.policy() for agent in config.agents),
            audit=audit,
        )
        if config.transport == "stdio" or config.auth == "none":
            runtime.default_agent = config.default_agent
        server = build_server(runtime)
        compat_for = _compat_chooser(config, runtime)
        compat = None
        if any(compat_for(a.name) for a in config.agents):
            compat = build_compat_server(runtime)
        edge = Edge(config, swarm, runtime, sandbox, keys)
        stop = edge.stopping
        if signals:
            root.start_soon(_watch_signals, stop, root.cancel_scope, name="signals")
        if config.transport == "stdio":
            if compat is not None and compat_for(None):
                server = compat  # the stdio agent's profile is compat
            _log.info("serving MCP over stdio as agent %s", runtime.default_agent)
            task_status.started(edge)
            async with anyio.create_task_group() as stdio:
                stdio.start_soon(_cancel_when, stop, stdio.cancel_scope)
                await server.run_stdio_async()
                stdio.cancel_scope.cancel()
        else:
            verifier = None
            if config.auth == "api_key":
                verifier = ApiKeyVerifier(KeyFileWatcher(config, anyio.current_time))
            app = build_http_app(
                server,
                verifier=verifier,
                metrics=metrics,
                health=lambda: Health.from_statistics(swarm.statistics()),
                security=transport_security(config.allowed_hosts, config.allowed_origins),
                max_request_body=config.max_request_body,
                compat=compat,
                compat_for=compat_for,
            )
            http = _Uvicorn(
                uvicorn.Config(
                    app,
                    host=config.host,
                    port=config.port,
                    log_config=None,
                    access_log=False,
                    lifespan="on",
                    ws="wsproto",
                    timeout_graceful_shutdown=int(GRACEFUL_HTTP),
                )
            )
            async with anyio.create_task_group() as edge_group:
                edge_group.start_soon(http.serve, name="http")
                while not http.started:
                    if http.should_exit:
                        raise OSError(f"could not listen on {config.host}:{config.port}")
                    await anyio.sleep(0.01)
                edge.port = http.bound_port()
                _log.info("serving MCP over HTTP at %s", edge.url)
                _banner(edge)
                task_status.started(edge)
                await stop.wait()
                http.should_exit = True
        report = await swarm.stop()
        await audit.aclose()
        _log.info(
            "stopped: outboxes %s in %.2f s",
            "drained" if report.drained else f"left pending {dict(report.pending)}",
            report.elapsed,
        )
        root.cancel_scope.cancel()


@attrs.define(eq=False)
class Edge:
    """What a started server is (for the banner and for tests that run ``serve`` in-process)."""

    config: Config
    swarm: Swarm
    runtime: EdgeRuntime
    sandbox: Sandbox | None
    demo_keys: dict[str, str]
    port: int | None = None
    stopping: anyio.Event = attrs.field(factory=anyio.Event)

    def stop(self) -> None:
        """Begin the ordered stop (what SIGTERM does)."""
        self.stopping.set()

    @property
    def url(self) -> str:
        host = self.config.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/mcp"


def _banner(edge: Edge) -> None:
    """Over HTTP: where to connect (and, with the embedded sandbox, its demo agents' keys and
    a client config to paste), on stdout."""
    if edge.sandbox is None:
        target = (
            f"the Discord-compatible API at {edge.config.discord_api_url}"
            if edge.config.discord_api_url
            else "Discord"
        )
        lines = [
            "",
            f"mcp-discord is serving {len(edge.swarm.names)} agent(s) on {target}.",
            f"  MCP endpoint:  {edge.url}   (also /sse, /ws; /healthz /readyz /metrics)",
        ]
    else:
        lines = [
            "",
            "mcp-discord is running against the embedded sandbox Discord (no real Discord).",
            f"  MCP endpoint:  {edge.url}   (also /sse, /ws; /healthz /readyz /metrics)",
            f"  sandbox:       {edge.sandbox.base_url}",
        ]
    if edge.demo_keys:
        lines.append("  demo agents and their API keys (Authorization: Bearer <key>):")
        lines += [f"    {name:10} {key}" for name, key in edge.demo_keys.items()]
        lines += [
            "",
            "Client config to paste (mcpServers):",
            client_config(edge.url, edge.demo_keys),
        ]
    lines += ["", "Serving until SIGINT or SIGTERM (Ctrl-C).", ""]
    # HTTP only (never stdio, whose stdout is the wire): the command's own answer
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


async def _cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _watch_signals(stop: anyio.Event, root: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if stop.is_set():
                _log.warning("second %s: stopping now", signal.Signals(signum).name)
                root.cancel()
                return
            _log.info("%s: stopping (send it again to stop at once)", signal.Signals(signum).name)
            stop.set()


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the root task group owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def bound_port(self) -> int:
        for server in self.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.config.port


__all__ = ["Edge", "main", "serve"]
