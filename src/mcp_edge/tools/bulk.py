"""Bulk sends: ``send_messages`` posts many messages in one call, to many channels or many
to one, with a result per item.

Every item goes through the agent's exactly-once send path
(:meth:`~actors.AgentHandle.send_message`: outbox, nonce, per-channel order), exactly as
``send_message`` would send it. Items of one channel are sent one after another in list order
(so a channel shows them in that order); different channels run concurrently, at most
:data:`PARALLEL_CHANNELS` at a time.

Partial failure is a normal result: each item reports ``delivered``, ``queued`` or ``failed``
(with the error text a ``send_message`` call would have given) and the summary counts them; a
failed item does not stop the later items of its channel. Only arguments that cannot be sent
at all (an empty message, a bad id, both forms at once) refuse the whole call, before anything
is sent.

Time. The call must answer within the server's tool time limit, while Discord paces one
channel at about one message a second. With ``delivery: sync``, once less than
:data:`SYNC_MARGIN` seconds of the budget are left the remaining items are accepted as
``queued`` instead: durable, delivered in order, and reported as such -- never lost, never
double-sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from actors import ActorError, SendReceipt
from actors.discord_port import DiscordError
from mcp_edge.tools._kit import ToolKit, tool_error_for
from mcp_edge.tools._types import Snowflake, opt_id, to_id
from mcp_edge.tools.messages import Embed

MAX_ITEMS = 50
PARALLEL_CHANNELS = 8
SYNC_MARGIN = 3.0
"""Seconds of the tool's time budget kept back: below it, sync sends are accepted as queued."""

_EXPECTED = (DiscordError, ActorError, TimeoutError, ValueError)


class BulkItem(BaseModel):
    """One message of a bulk send."""

    channel_id: Snowflake
    content: str = Field(default="", max_length=2000)
    reply_to: Snowflake | None = Field(
        default=None, description="Reply to this message id (same channel)."
    )
    embeds: list[Embed] | None = Field(default=None, max_length=10)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="A retry with the same key never posts this item twice.",
    )


class ItemResult(BaseModel):
    index: int = Field(description="The item's position in the request (0-based).")
    channel_id: str
    state: Literal["delivered", "queued", "failed"] = Field(
        description="delivered: Discord holds it (message_id). queued: durably accepted, it WILL "
        "be posted in order -- do not send it again. failed: not posted; error says why."
    )
    message_id: str | None = None
    outbox_id: int | None = None
    duplicate: bool = Field(
        default=False, description="Its idempotency_key was used before: that send's result."
    )
    error: str | None = None


class BulkSummary(BaseModel):
    total: int
    ok: int = Field(description="Delivered or queued.")
    failed: int
    delivered: int
    queued: int


class BulkResult(BaseModel):
    results: list[ItemResult] = Field(description="One per item, in request order.")
    summary: BulkSummary


def _item_result(index: int, receipt: SendReceipt) -> ItemResult:
    return ItemResult(
        index=index,
        channel_id=str(receipt.channel_id),
        state="delivered" if receipt.message_id is not None else "queued",
        message_id=None if receipt.message_id is None else str(receipt.message_id),
        outbox_id=receipt.outbox_id,
        duplicate=receipt.duplicate,
    )


def _items(
    messages: Sequence[BulkItem] | None,
    content: str | None,
    channel_ids: Sequence[str] | None,
    embeds: Sequence[Embed] | None,
    idempotency_key: str | None,
) -> list[BulkItem]:
    """The items to send, checked (ValueError naming the field: nothing is sent then)."""
    if messages is not None:
        if content is not None or channel_ids is not None or embeds is not None:
            raise ValueError(
                "give either messages (a list of items) or content/embeds with channel_ids "
                "(one message to many channels), not both"
            )
        if not messages:
            raise ValueError("messages is empty: give 1 to 50 items")
        items = list(messages)
    else:
        if not channel_ids:
            raise ValueError(
                "give messages (a list of items), or content and channel_ids (one message to "
                "many channels)"
            )
        seen: set[str] = set()
        for i, cid in enumerate(channel_ids):
            if cid in seen:
                raise ValueError(f"channel_ids[{i}] repeats channel {cid}: list each channel once")
            seen.add(cid)
        items = [
            BulkItem(
                channel_id=cid, content=content or "", embeds=None if not embeds else list(embeds)
            )
            for cid in channel_ids
        ]
    where = "messages" if messages is not None else "content"
    for i, item in enumerate(items):
        to_id(item.channel_id, f"messages[{i}].channel_id")
        opt_id(item.reply_to, f"messages[{i}].reply_to")
        if not item.content and not item.embeds:
            field = f"messages[{i}].content" if where == "messages" else "content"
            raise ValueError(f"{field}: give content or embeds, a message cannot be empty")
    if idempotency_key is not None:
        items = [
            item
            if item.idempotency_key is not None
            else item.model_copy(update={"idempotency_key": f"{idempotency_key}#{i}"})
            for i, item in enumerate(items)
        ]
    return items


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    @kit.tool(title="Send many messages", read_only=False, destructive=False, idempotent=False)
    async def send_messages(
        ctx: Context,
        messages: Annotated[
            list[BulkItem] | None,
            Field(
                max_length=MAX_ITEMS,
                description="Up to 50 messages, each to its own channel (several may share one).",
            ),
        ] = None,
        content: Annotated[
            str | None,
            Field(max_length=2000, description="Or: one text to post in every channel_ids."),
        ] = None,
        channel_ids: Annotated[
            list[Snowflake] | None,
            Field(max_length=MAX_ITEMS, description="With content/embeds: where to post it."),
        ] = None,
        embeds: Annotated[
            list[Embed] | None,
            Field(max_length=10, description="With channel_ids: embeds of the one message."),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=100,
                description="Any unique string for the whole batch: retrying the call with the "
                "same key and items never posts an item twice (item keys win where given).",
            ),
        ] = None,
        delivery: Annotated[
            Literal["sync", "queued"],
            Field(
                description="sync: wait until Discord holds each message (message ids). "
                "queued: return once all are durably accepted (faster)."
            ),
        ] = "sync",
    ) -> BulkResult:
        """Send many messages in one call: a list of items, or one message to many channels.

        Give messages (up to 50 items of channel_id, content, reply_to, embeds,
        idempotency_key), or content (and/or embeds) with channel_ids. Each channel gets its
        items in list order, exactly once; channels are served in parallel. The result has
        one entry per item -- delivered, queued (it WILL be posted; do not resend) or failed
        with the reason -- and a summary. Some items failing is NOT an error of the call:
        read summary.failed and retry only the failed items (with the same idempotency_key
        retrying everything is safe too). Mentions ping nobody.
        """
        items = _items(messages, content, channel_ids, embeds, idempotency_key)
        handle = kit.caller().handle
        budget = runtime.tool_timeout if runtime.tool_timeout > 0 else math.inf
        deadline = anyio.current_time() + budget - SYNC_MARGIN
        results: list[ItemResult | None] = [None] * len(items)
        by_channel: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            by_channel.setdefault(int(item.channel_id), []).append(i)
        limiter = anyio.CapacityLimiter(PARALLEL_CHANNELS)
        done = 0

        async def send_one(i: int) -> ItemResult:
            item = items[i]
            cid = int(item.channel_id)
            left = deadline - anyio.current_time()
            mode: Literal["sync", "queued"] = delivery
            timeout = min(runtime.send_timeout, left)
            if mode == "sync" and timeout < 1.0:
                mode, timeout = "queued", max(1.0, left + SYNC_MARGIN - 1.0)
            try:
                receipt = await handle.send_message(
                    cid,
                    item.content,
                    delivery=mode,
                    idempotency_key=item.idempotency_key,
                    reply_to=opt_id(item.reply_to, "reply_to"),
                    embeds=[e.payload() for e in item.embeds or ()],
                    timeout=max(timeout, 1.0),
                )
            except _EXPECTED as exc:
                text = str(tool_error_for(exc, "send_messages"))
                return ItemResult(index=i, channel_id=item.channel_id, state="failed", error=text)
            return _item_result(i, receipt)

        async def run_channel(indexes: list[int]) -> None:
            nonlocal done
            async with limiter:
                for i in indexes:
                    results[i] = await send_one(i)
                    done += 1
                    await ctx.report_progress(done, len(items), f"sent {done} of {len(items)}")

        async with anyio.create_task_group() as tg:
            for indexes in by_channel.values():
                tg.start_soon(run_channel, indexes)
        final = [r for r in results if r is not None]
        delivered = sum(1 for r in final if r.state == "delivered")
        queued = sum(1 for r in final if r.state == "queued")
        failed = sum(1 for r in final if r.state == "failed")
        return BulkResult(
            results=final,
            summary=BulkSummary(
                total=len(final),
                ok=delivered + queued,
                failed=failed,
                delivered=delivered,
                queued=queued,
            ),
        )


__all__ = ["MAX_ITEMS", "BulkItem", "BulkResult", "ItemResult", "register"]
