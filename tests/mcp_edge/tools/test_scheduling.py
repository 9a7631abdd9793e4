"""Scheduled sends against the sandbox with the real discord.py and a real MCP client,
including a restart on the same data directory."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge, assert_hints, running_edge

pytestmark = [pytest.mark.anyio]

HINTS = {  # tool: (read_only, destructive, idempotent, open_world)
    "schedule_message": (False, False, False, True),
    "list_scheduled": (True, False, True, False),
    "cancel_scheduled": (False, True, True, False),
}


def _texts(edge: Edge, channel: str) -> list[str]:
    return [m.content for m in edge.sandbox.delivered(int(channel))]


async def _until_delivered(edge: Edge, channel: str, text: str) -> None:
    with anyio.fail_after(15, reason=f"{text!r} was not delivered"):
        while text not in _texts(edge, channel):  # noqa: ASYNC110 - polls the sandbox
            await anyio.sleep(0.05)


def _iso(seconds_from_now: float) -> str:
    return dt.datetime.fromtimestamp(time.time() + seconds_from_now, dt.UTC).isoformat()


async def test_schedule_delivers_when_due(edge: Edge) -> None:
    """A send due in a second waits, then goes out once; list_scheduled follows it."""
    general = edge.channel("general")
    row = await edge.ok(
        "schedule_message", {"channel_id": general, "content": "later!", "in_seconds": 1}
    )
    assert row["state"] == "scheduled"
    assert row["channel_id"] == general
    assert row["duplicate"] is False
    assert "later!" not in _texts(edge, general)
    waiting = await edge.ok("list_scheduled")
    assert [r["scheduled_id"] for r in waiting["scheduled"]] == [row["scheduled_id"]]
    await _until_delivered(edge, general, "later!")
    assert _texts(edge, general).count("later!") == 1
    assert (await edge.ok("list_scheduled"))["scheduled"] == []
    with anyio.fail_after(10):
        while True:
            done = await edge.ok("list_scheduled", {"include_done": True})
            (sent,) = done["scheduled"]
            if sent["delivery"] == "delivered":
                break
            await anyio.sleep(0.05)
    assert sent["state"] == "sent"
    assert sent["message_id"] == str(edge.sandbox.delivered(int(general))[-1].id)


async def test_send_at_and_idempotency_key(edge: Edge) -> None:
    """send_at as ISO works; the same idempotency key returns the first row (duplicate)."""
    general = edge.channel("general")
    args = {
        "channel_id": general,
        "content": "standup",
        "send_at": _iso(3600),
        "idempotency_key": "daily-1",
        "embeds": [{"title": "agenda"}],
    }
    first = await edge.ok("schedule_message", args)
    second = await edge.ok("schedule_message", args)
    assert second["duplicate"] is True
    assert second["scheduled_id"] == first["scheduled_id"]
    assert first["embeds"] == 1
    assert first["idempotency_key"] == "daily-1"
    sent_at = dt.datetime.fromisoformat(first["send_at"])
    assert abs(sent_at.timestamp() - (time.time() + 3600)) < 60
    assert len((await edge.ok("list_scheduled"))["scheduled"]) == 1


async def test_cancel_own_only_and_not_after_sending(edge: Edge) -> None:
    """Cancel stops a send (twice is fine); another agent cannot see or cancel it; a sent one
    cannot be cancelled."""
    general = edge.channel("general")
    row = await edge.ok(
        "schedule_message", {"channel_id": general, "content": "never", "in_seconds": 2}
    )
    async with edge.as_agent("herald"):
        assert (await edge.ok("list_scheduled", {"include_done": True}))["scheduled"] == []
        other = await edge.error("cancel_scheduled", {"scheduled_id": row["scheduled_id"]})
    assert "no scheduled send" in other
    cancelled = await edge.ok("cancel_scheduled", {"scheduled_id": row["scheduled_id"]})
    assert cancelled["state"] == "cancelled"
    again = await edge.ok("cancel_scheduled", {"scheduled_id": row["scheduled_id"]})
    assert again["state"] == "cancelled"

    soon = await edge.ok(
        "schedule_message", {"channel_id": general, "content": "gone out", "in_seconds": 1}
    )
    await _until_delivered(edge, general, "gone out")
    await anyio.sleep(2.5)
    assert "never" not in _texts(edge, general)
    late = await edge.error("cancel_scheduled", {"scheduled_id": soon["scheduled_id"]})
    assert "already went out" in late
    assert "delete_message" in late


async def test_scheduled_send_survives_a_restart(tmp_path: Path) -> None:
    """Scheduled, then the server stops before it is due; a new server on the same data dir
    delivers it once."""
    async with running_edge(tmp_path) as first:
        general = first.channel("general")
        row = await first.ok(
            "schedule_message",
            {"channel_id": general, "content": "after the restart", "in_seconds": 2},
        )
    assert "after the restart" not in _texts(first, general)
    await anyio.sleep(2.2)  # it falls due while no server runs
    async with running_edge(tmp_path) as second:
        await _until_delivered(second, general, "after the restart")
        assert _texts(second, general).count("after the restart") == 1
        with anyio.fail_after(10):
            while True:
                done = await second.ok("list_scheduled", {"include_done": True})
                (sent,) = done["scheduled"]
                if sent["delivery"] == "delivered":
                    break
                await anyio.sleep(0.05)
        assert sent["scheduled_id"] == row["scheduled_id"]


async def test_channel_the_bot_cannot_see_is_refused(edge: Edge) -> None:
    """sentinel cannot see staff: Discord's refusal comes back at schedule time."""
    async with edge.as_agent("sentinel"):
        text = await edge.error(
            "schedule_message",
            {"channel_id": edge.channel("staff"), "content": "x", "in_seconds": 60},
        )
        assert (await edge.ok("list_scheduled"))["scheduled"] == []
    assert "forbidden" in text or "not found" in text


async def test_bad_times_and_arguments_are_refused(edge: Edge) -> None:
    """Past, too far ahead, both or neither time, empty content and bad ids name the field."""
    general = edge.channel("general")
    base = {"channel_id": general, "content": "x"}
    past = await edge.error("schedule_message", {**base, "send_at": _iso(-60)})
    assert "send_at is in the past" in past
    assert "in_seconds is in the past" in await edge.error(
        "schedule_message", {**base, "in_seconds": 0}
    )
    far = await edge.error("schedule_message", {**base, "send_at": _iso(400 * 86_400)})
    assert "more than a year ahead" in far
    assert "exactly one" in await edge.error("schedule_message", base)
    assert "exactly one" in await edge.error(
        "schedule_message", {**base, "in_seconds": 5, "send_at": _iso(5)}
    )
    assert "content or embeds" in await edge.error(
        "schedule_message", {"channel_id": general, "in_seconds": 5}
    )
    assert "channel_id" in await edge.error(
        "schedule_message", {**base, "channel_id": "general", "in_seconds": 5}
    )
    assert "scheduled_id" in await edge.error("cancel_scheduled", {"scheduled_id": "0"})
    assert "no scheduled send" in await edge.error("cancel_scheduled", {"scheduled_id": "999"})
    assert (await edge.ok("list_scheduled", {"include_done": True}))["scheduled"] == []


async def test_annotations(edge: Edge) -> None:
    """The tools' hints say truthfully what they do, and each has a title and output schema."""
    await assert_hints(edge, HINTS)
