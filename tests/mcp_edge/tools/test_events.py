"""wait_for_events against the sandbox: long-poll, cursor continuity, filters, timeouts."""

from __future__ import annotations

from typing import Any, get_args

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.mcp_edge.tools.conftest import Edge

from actors._event_payload import EVENT_TYPES
from mcp_edge.tools.events import EventType, ids_as_strings

pytestmark = [pytest.mark.anyio]


async def _now(edge: Edge) -> str:
    """A cursor at the end of the caller's log."""
    page: dict[str, Any] = {"next_cursor": None}
    while True:
        args = {"timeout": 0, "limit": 100}
        if page["next_cursor"] is not None:
            args["cursor"] = page["next_cursor"]
        page = await edge.ok("wait_for_events", args)
        if not page["events"]:
            return str(page["next_cursor"])


def _messages(page: dict[str, Any]) -> list[str]:
    return [
        e["data"]["message"]["content"] for e in page["events"] if e["type"] == "message_created"
    ]


def test_event_types_match_the_hub() -> None:
    """The schema's event types are exactly the hub's."""
    assert set(get_args(EventType)) == EVENT_TYPES


@given(
    st.recursive(
        st.integers() | st.text() | st.booleans() | st.none(),
        lambda inner: (
            st.lists(inner)
            | st.dictionaries(st.sampled_from(["id", "x", "user_id", "role_ids", "n"]), inner)
        ),
    )
)
def test_ids_as_strings_only_touches_ids(value: Any) -> None:
    """Integers under id keys become strings; nothing else changes shape."""

    def check(before: Any, after: Any, key: str) -> None:
        if isinstance(before, dict):
            assert set(after) == set(before)
            for k in before:
                check(before[k], after[k], k)
        elif isinstance(before, list):
            assert len(after) == len(before)
            for b, a in zip(before, after, strict=True):
                check(b, a, key)
        elif (
            isinstance(before, int)
            and not isinstance(before, bool)
            and key in ("id", "user_id", "role_ids")
        ):
            assert after == str(before)
        else:
            assert after == before

    check(value, ids_as_strings(value), "")


async def test_waiting_call_gets_a_human_message(edge: Edge) -> None:
    """A message injected while wait_for_events is parked is returned, ids as strings."""
    general = edge.channel("general")
    cursor = await _now(edge)
    alice = edge.user_id("alice")
    result: dict[str, Any] = {}

    async def wait() -> None:
        result.update(await edge.ok("wait_for_events", {"cursor": cursor, "timeout": 10}))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.3)
            edge.sandbox.inject_message(int(general), "anyone there?", author_id=alice)
    (event,) = result["events"]
    assert event["type"] == "message_created"
    assert event["channel_id"] == general
    assert int(event["cursor"]) > int(cursor)
    assert int(result["next_cursor"]) >= int(event["cursor"])
    assert event["received_at"].endswith("Z")
    message = event["data"]["message"]
    assert message["content"] == "anyone there?"
    assert message["author_id"] == str(alice)
    assert message["channel_id"] == general
    assert result["missed"] is False
    assert result["explanation"] is None


async def test_cursor_continuity(edge: Edge) -> None:
    """Paging by next_cursor returns every new message once, in order, with no gaps."""
    general = edge.channel("general")
    cursor = await _now(edge)
    alice = edge.user_id("alice")
    for i in range(7):
        edge.sandbox.inject_message(int(general), f"m{i}", author_id=alice)
    seen: list[str] = []
    cursors: list[int] = []
    with anyio.fail_after(15):
        while len(seen) < 7:
            page = await edge.ok(
                "wait_for_events",
                {"cursor": cursor, "timeout": 5, "limit": 2, "types": ["message_created"]},
            )
            assert len(page["events"]) <= 2
            seen.extend(_messages(page))
            cursors.extend(int(e["cursor"]) for e in page["events"])
            cursor = page["next_cursor"]
    assert seen == [f"m{i}" for i in range(7)]
    assert cursors == sorted(set(cursors))
    tail = await edge.ok("wait_for_events", {"cursor": cursor, "timeout": 0})
    assert _messages(tail) == []


async def test_timeout_returns_an_empty_page_with_a_usable_cursor(edge: Edge) -> None:
    """A wait that times out is empty; its next_cursor then yields exactly what came later."""
    general = edge.channel("general")
    cursor = await _now(edge)
    with anyio.fail_after(10):
        empty = await edge.ok("wait_for_events", {"cursor": cursor, "timeout": 0.2})
    assert empty["events"] == []
    assert empty["next_cursor"].isdigit()
    edge.sandbox.inject_message(int(general), "after the timeout", author_id=edge.user_id("bob"))
    page = await edge.ok("wait_for_events", {"cursor": empty["next_cursor"], "timeout": 5})
    assert _messages(page) == ["after the timeout"]


async def test_channel_filter(edge: Edge) -> None:
    """channel_ids keeps only events in those channels."""
    general, lab = edge.channel("general"), edge.channel("bot-lab")
    cursor = await _now(edge)
    alice = edge.user_id("alice")
    edge.sandbox.inject_message(int(general), "in general", author_id=alice)
    edge.sandbox.inject_message(int(lab), "in the lab", author_id=alice)
    page = await edge.ok("wait_for_events", {"cursor": cursor, "timeout": 5, "channel_ids": [lab]})
    assert _messages(page) == ["in the lab"]
    assert {e["channel_id"] for e in page["events"]} == {lab}


async def test_reaction_events_name_ids_as_strings(edge: Edge) -> None:
    """The bot's own reaction comes back as reaction_added with string ids."""
    general = edge.channel("general")
    welcome = str(edge.sandbox.delivered(int(general))[0].id)
    cursor = await _now(edge)
    await edge.ok("add_reaction", {"channel_id": general, "message_id": welcome, "emoji": "👀"})
    page = await edge.ok(
        "wait_for_events", {"cursor": cursor, "timeout": 5, "types": ["reaction_added"]}
    )
    (event,) = page["events"]
    assert event["data"]["message_id"] == welcome
    assert event["data"]["user_id"] == str(edge.user_id("scribe"))
    assert event["data"]["emoji"] == "👀"


async def test_without_message_content_intent_text_is_empty(edge: Edge) -> None:
    """courier lacks the message_content intent: a human's message arrives without text."""
    general = edge.channel("general")
    async with edge.as_agent("courier"):
        cursor = await _now(edge)
        edge.sandbox.inject_message(int(general), "secret words", author_id=edge.user_id("alice"))
        page = await edge.ok(
            "wait_for_events",
            {"cursor": cursor, "timeout": 5, "types": ["message_created"]},
        )
    (event,) = page["events"]
    assert event["data"]["message"]["content"] == ""
    assert event["data"]["message"]["author_id"] == str(edge.user_id("alice"))


async def test_bad_arguments_name_the_field(edge: Edge) -> None:
    """An unknown type lists the valid ones; bad cursors and timeouts name their field."""
    text = await edge.error("wait_for_events", {"types": ["message"], "timeout": 0})
    assert "types" in text
    assert "message_created" in text
    assert "cursor" in await edge.error("wait_for_events", {"cursor": "after:12", "timeout": 0})
    assert "cursor" in await edge.error(
        "wait_for_events", {"cursor": "99999999999999999999", "timeout": 0}
    )
    assert "timeout" in await edge.error("wait_for_events", {"timeout": -1})


async def test_long_timeout_is_capped_below_the_tool_limit(tmp_path: Any) -> None:
    """A timeout above the server's limit is shortened, so the call returns an empty page."""
    from tests.mcp_edge.tools.conftest import running_edge

    with anyio.fail_after(30):
        async with running_edge(tmp_path, tool_timeout=3.0) as edge:
            cursor = await _now(edge)
            started = anyio.current_time()
            page = await edge.ok("wait_for_events", {"cursor": cursor, "timeout": 60})
            assert page["events"] == []
            assert anyio.current_time() - started < 2.5


async def test_empty_filters_mean_all(edge: Edge) -> None:
    """Empty types and channel_ids lists filter nothing out."""
    general = edge.channel("general")
    cursor = await _now(edge)
    edge.sandbox.inject_message(int(general), "unfiltered", author_id=edge.user_id("alice"))
    page = await edge.ok(
        "wait_for_events", {"cursor": cursor, "timeout": 5, "types": [], "channel_ids": []}
    )
    assert _messages(page) == ["unfiltered"]
