"""Fixtures for discord_io: asyncio only (discord.py needs it), a sandbox, real clients.

Every sandbox a test builds (the ``sandbox`` fixture's, or one started with ``sandbox_server``
/ ``Sandbox(...)`` in the test itself) has each JSON body it answers with held to Discord's
OpenAPI spec: the autouse fixture ``_openapi_validation`` chains a
:class:`~tests.discord_io.sandbox.openapi_check.ResponseRecorder` into the app the sandbox
builds, and a body that fails the spec fails the test (at teardown, listing each failure).
The sandbox's control API (``/_sandbox/``) is not Discord and is not checked.

The spec, ``../shared/discord-api-spec/openapi.json``, is a test-time input only; it is read once
per session, the first time a test builds a sandbox. Without it those tests fail, saying where
the file must be; ``MCP_DISCORD_SKIP_SPEC=1`` opts out explicitly. The session's tally (bodies
checked, routes covered, failures) is printed in pytest's terminal summary.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import attrs
import discord
import pytest
from tests.discord_io.sandbox.openapi_check import (
    SPEC_PATH,
    ResponseRecorder,
    SpecMissingError,
    SpecValidator,
    load_spec,
)

from discord_io._endpoint import point_discord_py_at, point_discord_py_at_discord
from discord_io.sandbox import ResponseHook, Sandbox, SandboxConfig, sandbox_server
from discord_io.sandbox import _server as sandbox_server_module

SKIP_SPEC_ENV = "MCP_DISCORD_SKIP_SPEC"
"""Set to 1 to run the sandbox tests without the OpenAPI check (say so when you do)."""

CONTROL_PREFIX = "/_sandbox"
"""The sandbox's own control API (``/_sandbox``, ``/_sandbox/...``): not Discord, not checked."""


@pytest.fixture
def anyio_backend() -> str:
    """discord.py runs on asyncio only."""
    return "asyncio"


# ----------------------------------------------------------------------------- the spec check


@attrs.define
class SpecTally:
    """What the OpenAPI check saw over the whole session, for the terminal summary."""

    validator: SpecValidator | None = None
    missing: str | None = None
    """Why there is no validator (the spec is absent), once that is known."""
    skipped: bool = False
    checked: int = 0
    ignored: int = 0
    failures: int = 0
    routes: set[tuple[str, str]] = attrs.field(factory=set)
    """(method, spec path) pairs that answered at least one checked body."""

    def load(self) -> SpecValidator | None:
        """The session's validator (built on first use); None when skipped; fails if absent."""
        if self.validator is not None:
            return self.validator
        if os.environ.get(SKIP_SPEC_ENV) == "1":
            self.skipped = True
            return None
        if self.missing is None:
            try:
                self.validator = SpecValidator(load_spec(), ignore_prefixes=(CONTROL_PREFIX,))
            except SpecMissingError as exc:
                self.missing = str(exc)
            else:
                return self.validator
        pytest.fail(
            f"{self.missing}.\nEvery JSON body the sandbox sends in the tests must be checked "
            f"against Discord's OpenAPI spec: check out discord/discord-api-spec so that "
            f"{SPEC_PATH} exists (CI has ../shared beside the repository), or set "
            f"{SKIP_SPEC_ENV}=1 to run the sandbox tests without the check.",
            pytrace=False,
        )

    def summary(self) -> str:
        """One line for the terminal summary."""
        if self.skipped:
            return f"sandbox OpenAPI validation: SKIPPED ({SKIP_SPEC_ENV}=1)"
        if self.missing is not None:
            return f"sandbox OpenAPI validation: NOT RUN (spec missing at {SPEC_PATH})"
        return (
            f"sandbox OpenAPI validation: {self.checked} bodies checked, "
            f"{len(self.routes)} routes, {self.failures} failures"
            + (f" ({self.ignored} control-API bodies not checked)" if self.ignored else "")
        )


_TALLY = pytest.StashKey[SpecTally]()


def _tally(config: pytest.Config) -> SpecTally:
    tally = config.stash.get(_TALLY, None)
    if tally is None:
        tally = config.stash[_TALLY] = SpecTally()
    return tally


def _chain(first: ResponseHook | None, second: ResponseHook) -> ResponseHook:
    if first is None:
        return second

    def both(method: str, route: str, path: str, status: int, body: object) -> None:
        first(method, route, path, status, body)
        second(method, route, path, status, body)

    return both


@pytest.fixture(autouse=True)
def _openapi_validation(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Hold every JSON body of every sandbox this test builds to Discord's OpenAPI spec."""
    tally = _tally(request.config)
    recorders: list[ResponseRecorder] = []
    create_app = sandbox_server_module.create_app

    def validating_create_app(*args: Any, **kwargs: Any) -> Any:
        validator = tally.load()
        if validator is None:
            return create_app(*args, **kwargs)
        recorder = ResponseRecorder(validator)
        recorders.append(recorder)
        routes = tally.routes

        def check(method: str, route: str, path: str, status: int, body: object) -> None:
            recorder.on_response(method, route, path, status, body)
            if validator.is_ignored(route or path):
                return
            if not route:  # no sandbox route took it: a 404/405 held to Discord's error object
                routes.add((method, "(no route)"))
            else:
                routes.add((method, validator.spec_path(route) or route))

        kwargs["on_response"] = _chain(kwargs.get("on_response"), check)
        return create_app(*args, **kwargs)

    monkeypatch.setattr(sandbox_server_module, "create_app", validating_create_app)
    yield
    for recorder in recorders:
        tally.checked += recorder.checked
        tally.ignored += recorder.ignored
        tally.failures += len(recorder.failures)
    for recorder in recorders:
        recorder.assert_clean()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Report the session's OpenAPI check: bodies checked, routes covered, failures."""
    tally = config.stash.get(_TALLY, None)
    if tally is not None and (tally.checked or tally.skipped or tally.missing):
        terminalreporter.write_sep("-", "sandbox OpenAPI validation")
        terminalreporter.write_line(tally.summary())


# ----------------------------------------------------------------------------- clients


class RecordingClient(discord.Client):
    """A real discord.py client that records what it receives."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 0.1)
        super().__init__(**options)
        self.ready = asyncio.Event()
        self.messages: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.deletes: list[discord.RawMessageDeleteEvent] = []
        self.typing: list[discord.RawTypingEvent] = []
        self.resumes = 0
        self.connects = 0

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Re-identify at once: discord.py's default waits 5 s (Discord's identify limit)."""

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_connect(self) -> None:
        self.connects += 1

    async def on_resumed(self) -> None:
        self.resumes += 1

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.deletes.append(payload)

    async def on_raw_typing(self, payload: discord.RawTypingEvent) -> None:
        self.typing.append(payload)


async def eventually(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling), or fail after ``timeout``."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polls client state that has no event to await
            await anyio.sleep(0.01)


ConnectFn = Callable[..., AbstractAsyncContextManager[RecordingClient]]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The sandbox's settings; a test module may override this fixture."""
    return SandboxConfig()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    """A running sandbox with the default seed, discord.py pointed at it; no answer is a 5xx."""
    server_errors: list[tuple[str, str, int, object]] = []

    def record(method: str, route: str, path: str, status: int, body: object) -> None:
        if status >= 500:
            server_errors.append((method, path, status, body))

    async with sandbox_server(config=sandbox_config, on_response=record) as sb:
        point_discord_py_at(sb.base_url)
        try:
            yield sb
        finally:
            point_discord_py_at_discord()
    assert server_errors == [], "the sandbox answered with server errors"


@pytest.fixture
def connect(sandbox: Sandbox) -> ConnectFn:
    """``async with connect("scribe", intents=...) as client``: a logged-in client at READY."""

    @asynccontextmanager
    async def connecting(
        bot: str, *, intents: discord.Intents | None = None, wait_ready: bool = True, **options: Any
    ) -> AsyncIterator[RecordingClient]:
        client = RecordingClient(intents=intents or discord.Intents.default(), **options)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.start, sandbox.bot(bot).token)
            try:
                if wait_ready:
                    with anyio.fail_after(10, reason="the client did not reach on_ready"):
                        await client.ready.wait()
                yield client
            finally:
                with anyio.CancelScope(shield=True):
                    await client.close()

    return connecting


@pytest.fixture
def eventually_fn() -> Callable[..., Awaitable[None]]:
    """The :func:`eventually` helper, for test modules."""
    return eventually
