"""Fixtures for discord_io: asyncio only (discord.py needs it), a sandbox, real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import discord
import pytest

from discord_io._endpoint import point_discord_py_at, point_discord_py_at_discord
from discord_io.sandbox import Sandbox, SandboxConfig, sandbox_server


@pytest.fixture
def anyio_backend() -> str:
    """discord.py runs on asyncio only."""
    return "asyncio"


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
                    with anyio.fail_after(10, "the client did not reach on_ready"):
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
