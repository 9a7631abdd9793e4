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
4. is logged as one JSON line (agent, tool, duration_ms, outcome, request_id) and counted
   (``ToolCallRecorder``) with its outcome: ``ok``, ``tool_error`` (Discord or the agent said
   no), ``denied`` (no identity), ``internal_error``. Arguments the schema rejects never reach
   the wrapper: the SDK answers them (``bad_arguments``, counted by the server's middleware).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio
import attrs
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

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
from mcp_edge.runtime import EdgeRuntime

_log = logging.getLogger("mcp_edge.tools")

P = ParamSpec("P")
R = TypeVar("R")


@attrs.frozen
class Caller:
    """The agent a tool call acts for."""

    agent: str
    handle: AgentHandle = attrs.field(repr=False)
    request_id: str = ""


_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("mcp_discord_caller")
_reached: contextvars.ContextVar[list[bool]] = contextvars.ContextVar("mcp_discord_reached")
"""Set by :meth:`ToolKit.middleware` per tools/call; the wrapper marks that it ran."""


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
    """Registers tools on ``server`` with identity, limits, errors, logs and metrics."""

    server: MCPServer
    runtime: EdgeRuntime
    names: list[str] = attrs.field(factory=list, init=False)

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
            return wrapped

        return decorate

    def _wrap(
        self, name: str, fn: Callable[P, Awaitable[R]], timeout: float | None
    ) -> Callable[P, Awaitable[R]]:
        runtime = self.runtime

        @functools.wraps(fn)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            reached = _reached.get(None)
            if reached is not None:
                reached.append(True)
            ctx = next((v for v in kwargs.values() if isinstance(v, Context)), None)
            request_id = _request_id(ctx)
            started = time.perf_counter()
            agent = "-"
            outcome = "ok"
            try:
                caller = self._resolve(request_id)
                agent = caller.agent
                token = _caller.set(caller)
                try:
                    limit = runtime.tool_timeout if timeout is None else timeout
                    with anyio.fail_after(limit if limit > 0 else math.inf):
                        return await fn(*args, **kwargs)
                finally:
                    _caller.reset(token)
            except NotAuthenticatedError:
                outcome = "denied"
                raise
            except _EXPECTED as exc:
                outcome = "tool_error"
                raise tool_error_for(exc, name) from exc
            except Exception:
                outcome = "internal_error"
                _log.exception(
                    "tool %s failed unexpectedly",
                    name,
                    extra={"tool": name, "agent": agent, "request_id": request_id},
                )
                raise ToolError(
                    f"{name} failed with an internal error (request {request_id}); it was logged "
                    "for the operator. Retrying may help; the server keeps serving."
                ) from None
            finally:
                seconds = time.perf_counter() - started
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

        return call

    async def middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Count the tools/call requests the wrapper never saw: arguments the schema refused,
        unknown tools (outcome ``bad_arguments``)."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        reached: list[bool] = []
        token = _reached.set(reached)
        started = time.perf_counter()
        try:
            result = await call_next(ctx)
        finally:
            _reached.reset(token)
        if not reached and self.runtime.recorder is not None:
            name = str((ctx.params or {}).get("name", ""))
            tool = name if name in self.names else "(unknown)"
            access = get_access_token()
            agent = access.client_id if access is not None else self.runtime.default_agent
            self.runtime.recorder.record_tool_call(
                tool, agent or "-", "bad_arguments", time.perf_counter() - started
            )
        return result

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


def _request_id(ctx: Context[Any, Any] | None) -> str:
    if ctx is None:
        return ""
    try:
        return str(ctx.request_id)
    except (LookupError, ValueError, AttributeError):
        return ""


__all__ = ["Caller", "NotAuthenticatedError", "ToolKit", "tool_error_for"]
