"""How every tool is registered, knows its caller, and fails: the :class:`ToolKit`.

A tool module defines ``register(kit)`` and, inside it, ``@kit.tool(...)``-decorated ``async``
functions. The decorator registers the function with the :class:`~mcp.server.MCPServer` (its
signature and docstring become the schema and the description the model reads; its return
annotation, a pydantic model, the output schema) and wraps it so that every call:

1. knows its caller: the agent named by the API key the request carried
   (``get_access_token().client_id``), else the runtime's ``default_agent`` (stdio, or HTTP with
   ``auth: none`` on loopback), else the call is refused. Tools take no ``agent`` argument: a call
   can never act as an agent other than the caller's. Inside a tool, :meth:`ToolKit.caller`
   returns the caller's :class:`Caller` (its name and :class:`~actors.AgentHandle`);
2. runs under the runtime's ``tool_timeout``;
3. turns every expected failure into a :class:`ToolError` whose text says what happened and
   what to do (:func:`tool_error_for`), and anything unexpected into a ToolError that names the
   request id -- never a traceback, which goes to the log; the server keeps serving;
4. is checked against the runtime's :class:`~mcp_edge.policy.Policy` (when there is one)
   before the tool body runs: the tool must be granted to the caller, every channel named by a
   ``channel_id``/``channel_ids``/``thread_id``/``forum_id`` argument (at any depth) must pass
   the caller's channel rules -- the channel is looked up once per agent and cached for
   :data:`CHANNEL_TTL` seconds, a thread is judged by its parent -- and the caller's quotas
   must have room. Afterwards, list fields of the result holding channels or items with a
   ``channel_id`` are filtered by the same rules (:meth:`ToolKit._filter`), so a denied channel
   never shows up in list_channels, get_guild, wait_for_events, search results ...;
5. is logged as one JSON line (agent, tool, duration_ms, outcome, request_id) and counted
   (``ToolCallRecorder``) with its outcome: ``ok``, ``tool_error`` (Discord or the agent said
   no), ``denied`` (no identity, or the policy refused), ``internal_error``; and recorded in the
   runtime's :class:`~mcp_edge.audit.AuditLog` (when there is one). Arguments the schema
   rejects never reach the wrapper: the SDK answers them (``bad_arguments``), and the kit's
   :meth:`ToolKit.middleware` counts and audits them. The middleware also refuses a call of a
   tool the caller is not granted before the SDK validates its arguments (so the answer is the
   grant it needs, not a schema complaint), and :meth:`ToolKit.list_middleware` shows each
   caller only its granted tools in ``tools/list``.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

import anyio
import attrs
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from actors import (
    ActorError,
    AgentBusyError,
    AgentHandle,
    EgressBudgetExceededError,
    RetryLaterError,
    SendFailedError,
    SendUnconfirmedError,
)
from actors.agent import AgentStoppingError
from actors.discord_port import (
    AgentIntentsMissing,
    AgentLoginFailed,
    DiscordError,
    DiscordRateLimited,
    DiscordUnavailable,
)
from mcp_edge.audit import record_for
from mcp_edge.policy import CHANNEL_ARGUMENTS, THREAD_TYPES, ChannelFacts, Policy, PolicyError
from mcp_edge.runtime import EdgeRuntime

_log = logging.getLogger("mcp_edge.tools")

CHANNEL_TTL = 60.0
"""Seconds a channel's name, guild and parent are trusted for the channel rules."""
_UNKNOWN_GUILD = -1
"""The guild of a channel that could not be looked up: not a DM, in no named guild."""

P = ParamSpec("P")
R = TypeVar("R")


@attrs.frozen
class Caller:
    """The agent a tool call acts for."""

    agent: str
    handle: AgentHandle = attrs.field(repr=False)
    request_id: str = ""


@attrs.define
class _ToolsCall:
    """What :meth:`ToolKit.middleware` and the wrapper share of one tools/call."""

    request_id: str
    reached: bool = False
    """Set by the wrapper: the tool ran (else the SDK answered, refusing the arguments)."""


_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("mcp_discord_caller")
_tools_call: contextvars.ContextVar[_ToolsCall] = contextvars.ContextVar("mcp_discord_call")
"""Set by :meth:`ToolKit.middleware` per tools/call. The wrapper marks that it ran, and takes
the request id from it: reading it from the tool's Context (a pydantic private attribute)
costs ~5 µs."""


class NotAuthenticatedError(ToolError):
    """The call carried no identity and the server has no default agent."""


def tool_error_for(exc: BaseException, tool: str) -> ToolError:
    """The ToolError a model reads for an expected failure (see the module docstring)."""
    match exc:
        case ToolError():
            return exc
        case AgentLoginFailed() | AgentIntentsMissing():
            return ToolError(f"{exc} Tell the server's operator; other agents are unaffected.")
        case DiscordRateLimited():
            return ToolError(f"{exc}. Nothing was done; call {tool} again after that.")
        case DiscordUnavailable():
            return ToolError(f"Discord is unavailable: {exc}")
        case DiscordError():
            return ToolError(str(exc))
        case AgentBusyError() | EgressBudgetExceededError() | RetryLaterError():
            return ToolError(str(exc))
        case AgentStoppingError():
            return ToolError(
                f"{exc}: the server is shutting down and accepted nothing; retry in a few "
                "seconds (against another replica if there is one)."
            )
        case SendFailedError() | SendUnconfirmedError():
            return ToolError(str(exc))
        case TimeoutError():
            retry = (
                "retry with the same idempotency_key (it never posts twice)"
                if "send" in tool
                else "retry it, perhaps with a smaller request"
            )
            return ToolError(
                f"{tool} did not finish within the server's time limit for a tool call; {retry}."
            )
        case ValueError():
            return ToolError(f"invalid argument: {exc}")
        case ActorError():
            return ToolError(str(exc))
    raise TypeError(f"not an expected failure: {exc!r}")


_EXPECTED = (ToolError, DiscordError, ActorError, TimeoutError, ValueError)


@attrs.define(eq=False)
class ToolKit:
    """Registers tools on ``server`` with identity, policy, limits, errors, logs, metrics and
    the audit log."""

    server: MCPServer
    runtime: EdgeRuntime
    names: list[str] = attrs.field(factory=list, init=False)
    _known: set[str] = attrs.field(factory=set, init=False, repr=False)
    """The names again, to ask "is it ours?" per call without scanning the list."""
    destructive: set[str] = attrs.field(factory=set, init=False)
    _noted: Policy | None = attrs.field(default=None, init=False, repr=False)
    _channels: dict[tuple[str, int], tuple[ChannelFacts, float]] = attrs.field(
        factory=dict, init=False, repr=False
    )
    _guilds: dict[str, tuple[dict[int, str], float]] = attrs.field(
        factory=dict, init=False, repr=False
    )

    def caller(self) -> Caller:
        """The caller of the tool call running now (only inside a ``@kit.tool`` function)."""
        try:
            return _caller.get()
        except LookupError:
            raise RuntimeError("ToolKit.caller() outside a tool call") from None

    def tool(
        self,
        *,
        title: str,
        read_only: bool,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = True,
        timeout: float | None = None,
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Register an ``async`` tool; the annotations must say truthfully what it does."""
        annotations = ToolAnnotations(
            title=title,
            read_only_hint=read_only,
            destructive_hint=destructive if not read_only else False,
            idempotent_hint=idempotent if not read_only else True,
            open_world_hint=open_world,
        )

        def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            name = fn.__name__
            wrapped = self._wrap(name, fn, timeout)
            self.server.add_tool(wrapped, name=name, title=title, annotations=annotations)
            self.names.append(name)
            self._known.add(name)
            if annotations.destructive_hint:
                self.destructive.add(name)
            self._noted = None
            return wrapped

        return decorate

    def policy(self) -> Policy | None:
        """The runtime's policy, told about every tool registered here."""
        policy = self.runtime.policy
        if policy is not None and policy is not self._noted:
            for name in self.names:
                policy.note_tool(name, destructive=name in self.destructive)
            self._noted = policy
        return policy

    def granted(self, agent: str) -> frozenset[str] | None:
        """The tools ``agent`` may call here (None: no policy, every tool)."""
        policy = self.policy()
        return None if policy is None else policy.granted(agent)

    def _wrap(
        self, name: str, fn: Callable[P, Awaitable[R]], timeout: float | None
    ) -> Callable[P, Awaitable[R]]:
        runtime = self.runtime
        context_name = find_context_parameter(fn)  # where the SDK passes the Context, if at all

        @functools.wraps(fn)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            arguments = dict(kwargs)  # the tool's arguments, without its Context
            ctx = None if context_name is None else arguments.pop(context_name, None)
            tools_call = _tools_call.get(None)
            if tools_call is not None:
                tools_call.reached = True
                request_id = tools_call.request_id
            else:  # called without the middleware (a test, another server)
                request_id = _request_id(ctx if isinstance(ctx, Context) else None)
            started_at = runtime.clock()
            started = time.perf_counter()
            agent = "-"
            outcome = "ok"
            error: str | None = None
            result: Any = None
            cancelled = False
            try:
                caller = self._resolve(request_id)
                agent = caller.agent
                token = _caller.set(caller)
                try:
                    limit = runtime.tool_timeout if timeout is None else timeout
                    # A bare CancelScope: anyio.fail_after is two generator context managers
                    # around one, and costs a few µs more on every call.
                    deadline = anyio.current_time() + limit if limit > 0 else math.inf
                    with anyio.CancelScope(deadline=deadline):
                        policy = self.policy()
                        restricted = policy is not None and policy.restricts_channels(agent)
                        if policy is not None:
                            await self._admit(policy, caller, name, arguments, restricted)
                        result = await fn(*args, **kwargs)
                        if restricted:
                            assert policy is not None
                            result = await self._filter(policy, caller, result)
                        return cast("R", result)
                    # Only a cancellation by the scope's own deadline ends the block here.
                    raise TimeoutError(f"{name} ran out of its {limit} s")
                finally:
                    _caller.reset(token)
            except (NotAuthenticatedError, PolicyError) as exc:
                outcome = "denied"
                error = str(exc)
                raise
            except _EXPECTED as exc:
                outcome = "tool_error"
                failure = tool_error_for(exc, name)
                error = str(failure)
                raise failure from exc
            except Exception:
                outcome = "internal_error"
                _log.exception(
                    "tool %s failed unexpectedly",
                    name,
                    extra={"tool": name, "agent": agent, "request_id": request_id},
                )
                error = (
                    f"{name} failed with an internal error (request {request_id}); it was logged "
                    "for the operator. Retrying may help; the server keeps serving."
                )
                raise ToolError(error) from None
            except BaseException:  # cancelled: the client gave up, or the server is stopping
                cancelled = True
                raise
            finally:
                seconds = time.perf_counter() - started
                if _log.isEnabledFor(logging.INFO):  # the fields only when the line is written
                    _log.info(
                        "tool %s %s",
                        name,
                        outcome,
                        extra={
                            "tool": name,
                            "agent": agent,
                            "outcome": outcome,
                            "duration_ms": round(seconds * 1000, 3),
                            "request_id": request_id,
                        },
                    )
                if runtime.recorder is not None:
                    runtime.recorder.record_tool_call(name, agent, outcome, seconds)
                if runtime.audit is not None:
                    self._audit(
                        started_at,
                        agent,
                        name,
                        arguments,
                        "cancelled" if cancelled else outcome,
                        "cancelled before it finished" if cancelled else error,
                        result if outcome == "ok" and not cancelled else None,
                        seconds,
                        request_id,
                    )

        return call

    # --- policy -------------------------------------------------------------------------------

    async def _admit(
        self,
        policy: Policy,
        caller: Caller,
        tool: str,
        arguments: dict[str, Any],
        restricted: bool,
    ) -> None:
        """Refuse the call (a PolicyError) unless its tool, channels and quotas allow it
        (``restricted``: the caller has channel rules)."""
        policy.check_tool(caller.agent, tool)
        if restricted:
            for channel_id in _channel_arguments(arguments):
                facts = await self._facts(caller, channel_id)
                policy.check_channel(caller.agent, facts)
        policy.check_quota(caller.agent, tool, _message_count(arguments))

    async def check_channel(self, channel_id: int) -> None:
        """Apply the caller's channel rules to a channel a tool reaches indirectly (a
        webhook's channel, say); the arguments the kit sees are checked already."""
        policy = self.runtime.policy
        caller = self.caller()
        if policy is not None and policy.restricts_channels(caller.agent):
            policy.check_channel(caller.agent, await self._facts(caller, channel_id))

    async def _facts(self, caller: Caller, channel_id: int) -> ChannelFacts:
        """What the channel rules know of ``channel_id`` (cached per agent for CHANNEL_TTL).

        A channel that cannot be looked up is judged by its id alone, in no guild: id rules
        still apply, and a name ``allow`` list refuses it (the rules fail closed).
        """
        key = (caller.agent, channel_id)
        now = anyio.current_time()
        hit = self._channels.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            info = await caller.handle.call(lambda port: port.get_channel(channel_id))
            thread_id = None
            if info.type in THREAD_TYPES and info.parent_id is not None:
                thread_id, parent_id = info.id, info.parent_id
                info = await caller.handle.call(lambda port: port.get_channel(parent_id))
        except (DiscordError, ActorError):
            return ChannelFacts(channel_id, None, _UNKNOWN_GUILD)
        facts = ChannelFacts(
            info.id,
            info.name,
            info.guild_id,
            await self._guild_name(caller, info.guild_id),
            thread_id,
        )
        self._channels[key] = (facts, now + CHANNEL_TTL)
        return facts

    async def _guild_name(self, caller: Caller, guild_id: int | None) -> str | None:
        if guild_id is None:
            return None
        now = anyio.current_time()
        hit = self._guilds.get(caller.agent)
        if hit is None or hit[1] <= now or guild_id not in hit[0]:
            try:
                guilds = await caller.handle.call(lambda port: port.list_guilds())
            except (DiscordError, ActorError):
                return None
            hit = ({g.id: g.name for g in guilds}, now + CHANNEL_TTL)
            self._guilds[caller.agent] = hit
        return hit[0].get(guild_id)

    async def _filter(self, policy: Policy, caller: Caller, result: Any, depth: int = 0) -> Any:
        """``result`` without the list items (channels, or things with a ``channel_id``) in
        channels the caller's rules refuse."""
        if not isinstance(result, BaseModel) or depth > 2:
            return result
        update: dict[str, Any] = {}
        for field in type(result).model_fields:
            value = getattr(result, field)
            if isinstance(value, list):
                kept = [
                    await self._filter(policy, caller, item, depth + 1)
                    for item in value
                    if await self._visible(policy, caller, item)
                ]
                if len(kept) != len(value) or any(
                    a is not b for a, b in zip(kept, value, strict=True)
                ):
                    update[field] = kept
            elif isinstance(value, BaseModel):
                filtered = await self._filter(policy, caller, value, depth + 1)
                if filtered is not value:
                    update[field] = filtered
        return result.model_copy(update=update) if update else result

    async def _visible(self, policy: Policy, caller: Caller, item: Any) -> bool:
        if not isinstance(item, BaseModel):
            return True
        fields = type(item).model_fields
        if "id" in fields and "type" in fields and "parent_id" in fields:  # a Channel
            kind = str(getattr(item, "type", ""))
            own = int(getattr(item, "id", 0))
            parent = getattr(item, "parent_id", None)
            if "thread" in kind and parent is not None:
                facts = await self._facts(caller, int(parent))
                facts = attrs.evolve(facts, thread_id=own)
            else:
                guild = getattr(item, "guild_id", None)
                guild_id = None if guild is None else int(guild)
                facts = ChannelFacts(
                    own,
                    getattr(item, "name", None),
                    guild_id,
                    await self._guild_name(caller, guild_id),
                )
            return policy.allows_channel(caller.agent, facts)
        channel = getattr(item, "channel_id", None)
        if channel is None or not str(channel).isdigit():
            return True
        return policy.allows_channel(caller.agent, await self._facts(caller, int(channel)))

    # --- middleware ---------------------------------------------------------------------------

    async def middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """For tools/call: refuse a tool the caller is not granted before the SDK checks its
        arguments (outcome ``denied``), and count and audit the calls the wrapper never saw:
        arguments the schema refused, unknown tools (outcome ``bad_arguments``)."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name = str(params.get("name", ""))
        started_at = self.runtime.clock()
        started = time.perf_counter()
        agent = self._agent_name()
        granted = self.granted(agent) if agent is not None else None
        if granted is not None and name in self._known and name not in granted:
            policy = self.policy()
            assert policy is not None
            text = str(policy.agent(agent or "-").not_granted(name))
            request_id = "" if ctx.request_id is None else str(ctx.request_id)
            self._finish(name, agent, params, "denied", text, started, started_at, request_id)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        tools_call = _ToolsCall("" if ctx.request_id is None else str(ctx.request_id))
        token = _tools_call.set(tools_call)
        try:
            result = await call_next(ctx)
        finally:
            _tools_call.reset(token)
        if not tools_call.reached:
            self._finish(
                name,
                agent,
                params,
                "bad_arguments",
                _error_text(result),
                started,
                started_at,
                tools_call.request_id,
            )
        return result

    def _finish(
        self,
        name: str,
        agent: str | None,
        params: Any,
        outcome: str,
        error: str | None,
        started: float,
        started_at: float,
        request_id: str,
    ) -> None:
        """Count and audit a call the wrapper did not run (an unknown tool's name is counted
        as ``(unknown)``, a bounded label, but audited as called, cut to 100 characters)."""
        seconds = time.perf_counter() - started
        tool = name if name in self._known else "(unknown)"
        if self.runtime.recorder is not None:
            self.runtime.recorder.record_tool_call(tool, agent or "-", outcome, seconds)
        raw = params.get("arguments")
        self._audit(
            started_at,
            agent or "-",
            name[:100] or "(unknown)",
            raw if isinstance(raw, dict) else {},
            outcome,
            error,
            None,
            seconds,
            request_id,
        )

    def _audit(
        self,
        started: float,
        agent: str,
        tool: str,
        arguments: dict[str, Any],
        outcome: str,
        error: str | None,
        result: Any,
        seconds: float,
        request_id: str,
    ) -> None:
        """Append the audit record of a call; a failure here is logged, never the caller's."""
        audit = self.runtime.audit
        if audit is None:
            return
        try:
            audit.append(
                record_for(
                    started=started,
                    agent=agent,
                    tool=tool,
                    arguments=arguments,
                    outcome=outcome,
                    error=error,
                    result=result,
                    seconds=seconds,
                    request_id=request_id,
                )
            )
        except Exception:
            _log.exception(
                "could not audit a call of %s",
                tool,
                extra={"tool": tool, "agent": agent},
            )

    async def list_middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """For tools/list: show the caller only the tools its policy grants."""
        result = await call_next(ctx)
        if ctx.method != "tools/list":
            return result
        agent = self._agent_name()
        granted = self.granted(agent) if agent is not None else None
        if granted is None or not isinstance(result, dict):
            return result
        tools = result.get("tools")
        if isinstance(tools, list):
            result = dict(result)
            result["tools"] = [
                t
                for t in tools
                if not isinstance(t, dict)
                or t.get("name") not in self._known
                or t["name"] in granted
            ]
        return result

    def _agent_name(self) -> str | None:
        access = get_access_token()
        return access.client_id if access is not None else self.runtime.default_agent

    def _resolve(self, request_id: str) -> Caller:
        token = get_access_token()
        if token is not None:
            name = token.client_id
        elif self.runtime.default_agent is not None:
            name = self.runtime.default_agent
        else:
            raise NotAuthenticatedError(
                "this call carries no API key: send `Authorization: Bearer <api key>` (ask the "
                "server's operator for one: `mcp-discord keys create --agent NAME`)"
            )
        try:
            handle = self.runtime.swarm.agent(name)
        except KeyError:
            raise NotAuthenticatedError(
                f"the API key belongs to agent {name!r}, which this server does not run"
            ) from None
        return Caller(agent=name, handle=handle, request_id=request_id)


def _channel_arguments(arguments: Any, depth: int = 0) -> list[int]:
    """Every channel id in arguments named like :data:`~mcp_edge.policy.CHANNEL_ARGUMENTS`,
    at any depth (``send_messages`` items carry their own ``channel_id``)."""
    if isinstance(arguments, BaseModel):
        arguments = arguments.model_dump()
    found: list[int] = []
    if depth > 4:
        return found
    if isinstance(arguments, dict):
        for key, value in arguments.items():
            if key in CHANNEL_ARGUMENTS:
                values = value if isinstance(value, list | tuple) else [value]
                found += [int(v) for v in values if v is not None and str(v).isdigit()]
            elif isinstance(value, dict | list | tuple | BaseModel):
                found += _channel_arguments(value, depth + 1)
    elif isinstance(arguments, list | tuple):
        for item in arguments:
            found += _channel_arguments(item, depth + 1)
    return list(dict.fromkeys(found))


def _message_count(arguments: dict[str, Any]) -> int:
    """How many messages a (bulk) send holds: its ``messages``, else its ``channel_ids``."""
    for key in ("messages", "channel_ids"):
        value = arguments.get(key)
        if isinstance(value, list | tuple) and value:
            return len(value)
    return 1


def _error_text(result: HandlerResult) -> str | None:
    """The text of an error result (what the caller read), if ``result`` is one."""
    data = result.model_dump(by_alias=True) if isinstance(result, BaseModel) else result
    if not isinstance(data, dict) or not data.get("isError"):
        return None
    content = data.get("content") or []
    return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict)) or None


def _request_id(ctx: Context[Any, Any] | None) -> str:
    if ctx is None:
        return ""
    try:
        return str(ctx.request_id)
    except (LookupError, ValueError, AttributeError):
        return ""


__all__ = ["Caller", "NotAuthenticatedError", "ToolKit", "tool_error_for"]
