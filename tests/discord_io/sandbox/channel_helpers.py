"""Shared pieces of the channel-family tests: raw dispatch capture and permission grants.

(Every sandbox in these tests is held to Discord's OpenAPI spec by the conftest's autouse check.)
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anyio
import discord

from discord_io.sandbox import Sandbox
from discord_io.sandbox._access import PERMISSION_BITS


class RawEvents:
    """Every dispatch a client receives, as ``(event, data)``, via ``socket_raw_receive``.

    Connect the client with ``enable_debug_events=True``.
    """

    def __init__(self, client: discord.Client) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

        async def on_socket_raw_receive(raw: str) -> None:
            payload = json.loads(raw)
            if payload.get("op") == 0:
                self.events.append((payload["t"], payload["d"]))

        client.on_socket_raw_receive = on_socket_raw_receive  # type: ignore[attr-defined]

    def of(self, event: str) -> list[dict[str, Any]]:
        """The ``d`` of every ``event`` received so far."""
        return [data for name, data in self.events if name == event]

    def names(self) -> list[str]:
        """Event names in order of arrival."""
        return [name for name, _ in self.events]


def grant(sandbox: Sandbox, bot: str, *permissions: str) -> None:
    """Give a bot guild-wide permissions through its managed role (before it connects)."""
    user_id = sandbox.bot(bot).id
    bits = 0
    for name in permissions:
        bits |= PERMISSION_BITS[name]
    for guild in sandbox.state.guilds.values():
        for role in guild.roles.values():
            if role.bot_id == user_id:
                role.permissions |= bits


async def raw_request(
    sandbox: Sandbox,
    method: str,
    path: str,
    *,
    bot: str | None = "scribe",
    json_body: Any = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One REST call without discord.py (for bodies it would never send); waits out 429s."""
    headers = {} if bot is None else {"Authorization": f"Bot {sandbox.bot(bot).token}"}
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.request(
                method, sandbox.base_url + path, json=json_body, params=params, headers=headers
            ) as response:
                body = await response.json() if response.status != 204 else None
                if response.status != 429:
                    return response.status, body
                await anyio.sleep(float(body["retry_after"]))
