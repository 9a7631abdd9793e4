"""Fixtures for the MCP edge: the discord_io sandbox fixtures, for tests that run a real swarm.

``sandbox`` (a running sandbox with the default seed, discord.py pointed at it) and
``sandbox_config`` (overridable per module) are the ones of ``tests/discord_io/conftest.py``,
re-exported here; they build a sandbox only when a test asks for one. The OpenAPI check of
those tests (the autouse ``_openapi_validation``) is not forced on every module here: a module
that runs a sandbox imports it itself, which makes it autouse for that module only. Sandbox
tests run on asyncio only (discord.py): such a module sets its own ``anyio_backend`` fixture.
"""

from __future__ import annotations

from tests.discord_io.conftest import sandbox, sandbox_config

__all__ = ["sandbox", "sandbox_config"]
