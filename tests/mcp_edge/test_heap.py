"""The startup heap is frozen once the agents are up, or after the settle time at the latest."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import anyio
import pytest

from mcp_edge.heap import THRESHOLDS, freeze_when_ready, tune_collector

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process must not keep its heap out of collections


async def test_freezes_once_ready() -> None:
    flag = {"ready": False}
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: freeze_when_ready(lambda: flag["ready"], settle=60, poll=0.01))
        await anyio.sleep(0.05)
        assert gc.get_freeze_count() == 0  # not ready yet: nothing frozen
        flag["ready"] = True
    assert gc.get_freeze_count() > 0


async def test_freezes_after_settle_when_never_ready() -> None:
    with anyio.fail_after(5):
        await freeze_when_ready(lambda: False, settle=0.05, poll=0.01)
    assert gc.get_freeze_count() > 0


def test_tune_collector_sets_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_threshold() == THRESHOLDS
        assert THRESHOLDS[0] > before[0]  # young collections less often than CPython's 700
    finally:
        gc.set_threshold(*before)
