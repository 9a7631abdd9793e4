"""Shared fixtures: every anyio test runs on asyncio and on trio (with a virtual clock)."""

from __future__ import annotations

from typing import Any

import pytest
import trio.testing


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """asyncio as production runs it; trio with an autojump clock so waits cost no time."""
    if request.param == "trio":
        return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}
    return "asyncio", {}
