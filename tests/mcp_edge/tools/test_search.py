"""search_messages against the sandbox: filters, bounded pages with progress and a cursor,
several channels with partial failure, and bad arguments."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge, running_edge

from actors.discord_port import MessageInfo
from mcp_edge.policy import AgentPolicy, ChannelAcl, ChannelRules, Policy
from mcp_edge.tools._history import MessageFilter, time_bound

pytestmark = [pytest.mark.anyio]


def _info(content: str, **kw: object) -> MessageInfo:
    fields: dict[str, object] = {
        "id": 10**17,
        "channel_id": 1,
        "guild_id": None,
        "author_id": 5,
        "author_name": "a",
        "author_bot": False,
        "content": content,
        "created_at": dt.datetime.now(dt.UTC),
    }
    fields.update(kw)
    return MessageInfo(**fields)  # type: ignore[arg-type]


def test_filter_mentions_forms() -> None:
    """mentions matches <@id>, <@!id> and <@&id>, and not a longer id that starts the same."""
    keep = MessageFilter(mentions=42)
    assert keep.active
    assert keep(_info("hi <@42>"))
    assert keep(_info("hi <@!42>"))
    assert keep(_info("role <@&42>"))
    assert not keep(_info("hi <@421>"))
    assert not keep(_info("hi 42"))
    assert not MessageFilter().active


def test_time_bound_names_the_field() -> None:
    """A time before 2015 is refused naming the field; naive times are UTC."""
    with pytest.raises(ValueError, match="since"):
        time_bound(dt.datetime(2014, 1, 1), "since")
    naive = time_bound(dt.datetime(2020, 1, 1), "until")
    aware = time_bound(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "until")
    assert naive == aware


def _post(edge: Edge, channel: str, text: str, author: str = "alice") -> str:
    return str(edge.sandbox.inject_message(int(channel), text, author_id=edge.user_id(author)).id)


async def test_filters_combine(edge: Edge) -> None:
    """contains, author_id, mentions and has_attachments each narrow the matches, newest
    first."""
    lab = edge.channel("bot-lab")
    bob = edge.user_id("bob")
    a = _post(edge, lab, "needle one")
    _post(edge, lab, "hay", "bob")
    c = _post(edge, lab, f"Needle for <@{bob}>")
    d = _post(edge, lab, "needle two", "bob")
    filed = await edge.ok(
        "send_message",
        {
            "channel_id": lab,
            "content": "report",
            "attachments": [{"filename": "r.txt", "data_base64": base64.b64encode(b"x").decode()}],
        },
    )
    found = await edge.ok("search_messages", {"channel_ids": [lab], "contains": "needle"})
    assert [m["id"] for m in found["messages"]] == [d, c, a]
    assert found["next_cursor"] is None
    assert found["scanned"] == 5
    assert found["pages"] == 1
    mine = await edge.ok(
        "search_messages",
        {"channel_ids": [lab], "contains": "needle", "author_id": str(edge.user_id("alice"))},
    )
    assert [m["id"] for m in mine["messages"]] == [c, a]
    mentioned = await edge.ok("search_messages", {"channel_ids": [lab], "mentions": str(bob)})
    assert [m["id"] for m in mentioned["messages"]] == [c]
    files = await edge.ok("search_messages", {"channel_ids": [lab], "has_attachments": True})
    assert [m["id"] for m in files["messages"]] == [filed["message_id"]]
    assert files["messages"][0]["attachments"][0]["filename"] == "r.txt"


async def test_bounded_pages_progress_and_cursor(edge: Edge) -> None:
    """One page per call when asked: progress is reported, next_cursor continues exactly where
    the scan stopped, and the last call ends it."""
    lab = edge.channel("bot-lab")
    needles = [_post(edge, lab, f"needle {i}" if i % 10 == 0 else f"hay {i}") for i in range(250)]
    expected = [m for i, m in enumerate(needles) if i % 10 == 0][::-1]
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    with anyio.fail_after(30):
        result = await edge.client.call_tool(
            "search_messages",
            {"channel_ids": [lab], "contains": "needle", "max_pages": 1, "limit": 100},
            progress_callback=progress,
        )
    assert not result.is_error, result.content
    first = dict(result.structured_content or {})
    assert first["pages"] == 1
    assert first["scanned"] == 100
    assert len(first["messages"]) == 10
    assert first["next_cursor"]
    assert seen
    assert seen[-1][0] == 1
    assert seen[-1][1] == 1
    assert "scanned 100" in (seen[-1][2] or "")
    rest = await edge.ok(
        "search_messages",
        {"channel_ids": [lab], "contains": "needle", "limit": 100, "cursor": first["next_cursor"]},
    )
    assert rest["next_cursor"] is None
    assert rest["pages"] == 2
    ids = [m["id"] for m in first["messages"] + rest["messages"]]
    assert ids == expected


async def test_limit_mid_page_resumes_without_duplicates(edge: Edge) -> None:
    """Stopping at `limit` inside a page leaves a cursor that picks up the next older match."""
    lab = edge.channel("bot-lab")
    ids = [_post(edge, lab, f"needle {i}") for i in range(5)][::-1]
    got: list[str] = []
    cursor = None
    for _ in range(3):
        args = {"channel_ids": [lab], "contains": "needle", "limit": 2}
        if cursor is not None:
            args["cursor"] = cursor
        page = await edge.ok("search_messages", args)
        got += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == ids
    assert cursor is None


async def test_time_bounds(edge: Edge) -> None:
    """since in the future finds nothing and stops at once; until in 2016 finds nothing;
    since after until and since before Discord are refused naming the field."""
    lab = edge.channel("bot-lab")
    _post(edge, lab, "now")
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    later = await edge.ok("search_messages", {"channel_ids": [lab], "since": future})
    assert later["messages"] == []
    assert later["scanned"] == 0
    assert later["next_cursor"] is None
    old = await edge.ok("search_messages", {"channel_ids": [lab], "until": "2016-01-01T00:00:00Z"})
    assert old["messages"] == []
    assert old["next_cursor"] is None
    recent = await edge.ok(
        "search_messages",
        {"channel_ids": [lab], "since": "2016-01-01T00:00:00Z", "until": future},
    )
    assert [m["content"] for m in recent["messages"]] == ["now"]
    both = await edge.error(
        "search_messages",
        {"channel_ids": [lab], "since": future, "until": "2016-01-01T00:00:00Z"},
    )
    assert "since" in both
    assert "until" in both
    ancient = await edge.error(
        "search_messages", {"channel_ids": [lab], "since": "2010-01-01T00:00:00Z"}
    )
    assert "since" in ancient


async def test_several_channels_partial_failure(edge: Edge) -> None:
    """Channels are searched together; one the bot cannot see is reported in failed_channels;
    if every channel fails, Discord's own error is the answer."""
    lab, general, staff = edge.channel("bot-lab"), edge.channel("general"), edge.channel("staff")
    in_lab = _post(edge, lab, "needle lab")
    in_general = _post(edge, general, "needle general")
    _post(edge, staff, "needle staff")
    both = await edge.ok("search_messages", {"channel_ids": [lab, general], "contains": "needle"})
    assert {m["id"] for m in both["messages"]} == {in_lab, in_general}
    assert both["failed_channels"] == []
    async with edge.as_agent("courier"):  # no agents role: staff is hidden from it
        mixed = await edge.ok(
            "search_messages",
            {"channel_ids": [lab, staff, general], "author_id": str(edge.user_id("alice"))},
        )
        assert {m["id"] for m in mixed["messages"]} >= {in_lab, in_general}
        assert [f["channel_id"] for f in mixed["failed_channels"]] == [staff]
        only = await edge.error("search_messages", {"channel_ids": [staff]})
    assert "staff" in only or staff in only or "view_channel" in only


async def test_bad_arguments(edge: Edge) -> None:
    """No channels, too many, a bad id, a foreign cursor and a zero limit are refused naming
    the field."""
    lab, general = edge.channel("bot-lab"), edge.channel("general")
    assert "channel_ids" in await edge.error("search_messages", {"channel_ids": []})
    eleven = [lab] * 11
    assert "channel_ids" in await edge.error("search_messages", {"channel_ids": eleven})
    assert "channel_ids" in await edge.error("search_messages", {"channel_ids": ["lab"]})
    cursor = await edge.error(
        "search_messages", {"channel_ids": [general], "cursor": f"search:{lab}.-"}
    )
    assert "cursor" in cursor
    assert "limit" in await edge.error("search_messages", {"channel_ids": [lab], "limit": 0})
    assert "max_pages" in await edge.error(
        "search_messages", {"channel_ids": [lab], "max_pages": 50}
    )


async def test_policy_denials(tmp_path: Path) -> None:
    """A denied channel among channel_ids refuses the search, naming the rule; a reader
    profile may search."""
    rules = ChannelAcl(ChannelRules(deny=("general",)))
    policy = Policy.of([AgentPolicy("scribe", profile="reader", channels=rules)])
    async with running_edge(tmp_path, policy=policy) as edge:
        lab, general = edge.channel("bot-lab"), edge.channel("general")
        found = _post(edge, lab, "needle")
        refused = await edge.error("search_messages", {"channel_ids": [lab, general]})
        assert "general" in refused
        allowed = await edge.ok("search_messages", {"channel_ids": [lab], "contains": "needle"})
        assert [m["id"] for m in allowed["messages"]] == [found]
