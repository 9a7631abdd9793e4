"""send_messages (bulk sends) against the sandbox with the real discord.py and a real client."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from tests.mcp_edge.tools.conftest import Edge, assert_hints, running_edge

pytestmark = [pytest.mark.anyio]

HINTS = {  # tool: (read_only, destructive, idempotent, open_world)
    "send_messages": (False, False, False, True),
}


def _texts(edge: Edge, channel: str) -> list[str]:
    return [m.content for m in edge.sandbox.delivered(int(channel))]


def _slow(edge: Edge, channel: str) -> list[str]:
    return [t for t in _texts(edge, channel) if t.startswith("slow")]


def _queued(edge: Edge, channel: str) -> list[str]:
    return [t for t in _texts(edge, channel) if t.startswith("q")]


async def test_one_message_to_many_channels(edge: Edge) -> None:
    """content + channel_ids posts once in each channel; every item is delivered."""
    general, lab = edge.channel("general"), edge.channel("bot-lab")
    out = await edge.ok(
        "send_messages", {"content": "release 1.2 is out", "channel_ids": [general, lab]}
    )
    assert out["summary"] == {"total": 2, "ok": 2, "failed": 0, "delivered": 2, "queued": 0}
    assert [r["channel_id"] for r in out["results"]] == [general, lab]
    for result, channel in zip(out["results"], (general, lab), strict=True):
        assert result["state"] == "delivered"
        assert result["message_id"].isdigit()
        assert _texts(edge, channel).count("release 1.2 is out") == 1


async def test_many_messages_keep_their_order_per_channel(edge: Edge) -> None:
    """Items for one channel arrive in list order, interleaved with another channel's; the
    call reports progress."""
    general, lab = edge.channel("general"), edge.channel("bot-lab")
    items = [{"channel_id": general if i % 2 else lab, "content": f"step {i}"} for i in range(8)]
    items[3]["embeds"] = [{"title": "an embed"}]
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    with anyio.fail_after(30):
        result = await edge.client.call_tool(
            "send_messages", {"messages": items}, progress_callback=progress
        )
    assert not result.is_error, result.content
    out = dict(result.structured_content or {})
    assert max(done for done, _ in seen) == 8
    assert {total for _, total in seen} == {8}
    assert out["summary"]["delivered"] == 8
    assert [r["index"] for r in out["results"]] == list(range(8))
    assert [t for t in _texts(edge, general) if t.startswith("step")] == [
        "step 1",
        "step 3",
        "step 5",
        "step 7",
    ]
    assert [t for t in _texts(edge, lab) if t.startswith("step")] == [
        "step 0",
        "step 2",
        "step 4",
        "step 6",
    ]


async def test_reply_in_a_bulk_item(edge: Edge) -> None:
    """reply_to makes an item a reply."""
    general = edge.channel("general")
    first = edge.sandbox.delivered(int(general))[0]
    out = await edge.ok(
        "send_messages",
        {"messages": [{"channel_id": general, "content": "re", "reply_to": str(first.id)}]},
    )
    page = await edge.ok("read_messages", {"channel_id": general, "limit": 1})
    assert page["messages"][0]["id"] == out["results"][0]["message_id"]
    assert page["messages"][0]["reply_to"] == str(first.id)


async def test_partial_failure_is_a_result_not_an_error(edge: Edge) -> None:
    """sentinel cannot see staff: that item fails with Discord's reason, the others go out."""
    general, staff = edge.channel("general"), edge.channel("staff")
    async with edge.as_agent("sentinel"):
        out = await edge.ok(
            "send_messages",
            {
                "messages": [
                    {"channel_id": general, "content": "a"},
                    {"channel_id": staff, "content": "secret"},
                    {"channel_id": "1", "content": "nowhere"},
                    {"channel_id": general, "content": "b"},
                ]
            },
        )
    assert out["summary"] == {"total": 4, "ok": 2, "failed": 2, "delivered": 2, "queued": 0}
    states = [r["state"] for r in out["results"]]
    assert states == ["delivered", "failed", "failed", "delivered"]
    assert "forbidden" in out["results"][1]["error"]
    assert "not found" in out["results"][2]["error"]
    assert out["results"][0]["error"] is None
    assert "secret" not in _texts(edge, staff)
    assert [t for t in _texts(edge, general) if t in ("a", "b")] == ["a", "b"]


async def test_batch_idempotency_key_never_posts_twice(edge: Edge) -> None:
    """Retrying a batch with the same key returns the first results as duplicates."""
    general, lab = edge.channel("general"), edge.channel("bot-lab")
    args = {"content": "only once", "channel_ids": [general, lab], "idempotency_key": "batch-1"}
    first = await edge.ok("send_messages", args)
    second = await edge.ok("send_messages", args)
    assert all(r["duplicate"] for r in second["results"])
    assert [r["message_id"] for r in second["results"]] == [
        r["message_id"] for r in first["results"]
    ]
    assert _texts(edge, general).count("only once") == 1
    assert _texts(edge, lab).count("only once") == 1


async def test_queued_delivery_returns_at_once_and_delivers(edge: Edge) -> None:
    """delivery queued returns outbox ids; the messages then arrive in order."""
    general = edge.channel("general")
    items = [{"channel_id": general, "content": f"q{i}"} for i in range(3)]
    out = await edge.ok("send_messages", {"messages": items, "delivery": "queued"})
    assert out["summary"]["ok"] == 3
    assert all(r["outbox_id"] is not None for r in out["results"])
    with anyio.fail_after(10):
        while _queued(edge, general) != ["q0", "q1", "q2"]:  # noqa: ASYNC110 - polls the sandbox
            await anyio.sleep(0.05)


async def test_bad_arguments_name_the_field(edge: Edge) -> None:
    """Both forms, neither, an empty item, a repeated channel and a bad id name the field;
    nothing is sent."""
    general = edge.channel("general")
    before = len(edge.sandbox.delivered(int(general)))
    both = await edge.error(
        "send_messages",
        {
            "messages": [{"channel_id": general, "content": "x"}],
            "content": "y",
            "channel_ids": [general],
        },
    )
    assert "not both" in both
    assert "channel_ids" in await edge.error("send_messages", {})
    empty = await edge.error(
        "send_messages",
        {"messages": [{"channel_id": general, "content": "x"}, {"channel_id": general}]},
    )
    assert "messages[1].content" in empty
    assert "channel_ids[1]" in await edge.error(
        "send_messages", {"content": "x", "channel_ids": [general, general]}
    )
    assert "channel_id" in await edge.error(
        "send_messages", {"messages": [{"channel_id": "general", "content": "x"}]}
    )
    too_many = [{"channel_id": general, "content": str(i)} for i in range(51)]
    assert "messages" in await edge.error("send_messages", {"messages": too_many})
    assert len(edge.sandbox.delivered(int(general))) == before


async def test_annotations(edge: Edge) -> None:
    """The tools' hints say truthfully what they do, and each has a title and output schema."""
    await assert_hints(edge, HINTS)


async def test_sync_falls_back_to_queued_near_the_time_limit(tmp_path: Path) -> None:
    """With a slow Discord and a short tool time limit, late items come back queued (never
    an error, never lost) and still arrive in order."""
    async with running_edge(tmp_path, tool_timeout=5.0) as edge:
        general = edge.channel("general")
        edge.sandbox.set_latency(rest=0.4)
        items = [{"channel_id": general, "content": f"slow {i}"} for i in range(10)]
        out = await edge.ok("send_messages", {"messages": items})
        summary = out["summary"]
        assert summary["failed"] == 0
        assert summary["delivered"] >= 1
        assert summary["queued"] >= 1
        states = [r["state"] for r in out["results"]]
        assert states == sorted(states)  # delivered ones first, then the queued ones
        edge.sandbox.set_latency(rest=0)
        want = [f"slow {i}" for i in range(10)]
        with anyio.fail_after(20):
            while _slow(edge, general) != want:  # noqa: ASYNC110 - polls the sandbox
                await anyio.sleep(0.05)
