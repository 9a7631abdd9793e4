"""Scheduled sends: ``schedule_message``, ``list_scheduled`` and ``cancel_scheduled``.

A scheduled send is a row in the Store's ``scheduled`` table (:meth:`~actors.StoreHandle
.schedule`): durable from the moment ``schedule_message`` answers, so it survives restarts.
When it falls due the :class:`~actors.SchedulerActor` moves it into the outbox, and from there
it is an ordinary exactly-once send (nonce, per-channel order). A send that fell due while the
server was down goes out as soon as it is back. After scheduling, the tool wakes the scheduler
so a sooner time counts at once.

Ownership: every row carries the agent that scheduled it; the tools only ever show or cancel
the caller's own rows (another agent's id reads as unknown).

Times are the server's wall clock (UTC): ``send_at`` must lie in the future and at most
:data:`MAX_AHEAD` seconds (a year) ahead.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from actors import OutboxRow, ScheduledRow, ScheduleState, SendState
from actors._send_payload import send_payload
from actors.discord_port import DiscordUnavailable
from mcp_edge.tools._kit import ToolKit
from mcp_edge.tools._types import Snowflake, iso, not_found_hint, opt_id, to_id
from mcp_edge.tools.messages import Embed

MAX_AHEAD = 366 * 86_400.0
"""How far ahead a send may be scheduled (a year, leap day included)."""


class ScheduledSend(BaseModel):
    """A message scheduled for later, and where it is now."""

    scheduled_id: str = Field(description="The server's id of this send: pass to cancel_scheduled.")
    channel_id: str
    send_at: str = Field(description="When it is (or was) due, ISO 8601 UTC.")
    state: Literal["scheduled", "sent", "cancelled"] = Field(
        description="scheduled: waiting. sent: handed to delivery when due (see delivery). "
        "cancelled: will never be sent."
    )
    delivery: Literal["pending", "delivered", "failed", "cancelled"] | None = Field(
        default=None,
        description="For sent: pending (queued, goes out in order), delivered (message_id), "
        "failed (error says why).",
    )
    message_id: str | None = None
    error: str | None = None
    content: str
    embeds: int = Field(default=0, description="How many embeds it carries.")
    reply_to: str | None = None
    idempotency_key: str | None = None
    outbox_id: int | None = None
    duplicate: bool = Field(
        default=False,
        description="The idempotency_key was used before: this is that scheduled send.",
    )

    @classmethod
    def of(
        cls, row: ScheduledRow, outbox: OutboxRow | None = None, *, duplicate: bool = False
    ) -> ScheduledSend:
        payload = row.payload
        reply_to = payload.get("reply_to")
        return cls(
            scheduled_id=str(row.id),
            channel_id=str(row.channel_id),
            send_at=iso(dt.datetime.fromtimestamp(row.send_at, dt.UTC)) or "",
            state=_state(row.state),
            delivery=None if outbox is None else _delivery(outbox.state),
            message_id=None
            if outbox is None or outbox.message_id is None
            else str(outbox.message_id),
            error=None
            if outbox is None or outbox.state is not SendState.FAILED
            else outbox.last_error,
            content=str(payload.get("content", "")),
            embeds=len(payload.get("embeds", ())),
            reply_to=None if reply_to is None else str(reply_to),
            idempotency_key=row.idempotency_key,
            outbox_id=row.outbox_id,
            duplicate=duplicate,
        )


def _state(state: ScheduleState) -> Literal["scheduled", "sent", "cancelled"]:
    match state:
        case ScheduleState.SCHEDULED:
            return "scheduled"
        case ScheduleState.QUEUED:
            return "sent"
        case ScheduleState.CANCELLED:
            return "cancelled"


def _delivery(state: SendState) -> Literal["pending", "delivered", "failed", "cancelled"]:
    match state:
        case SendState.PENDING:
            return "pending"
        case SendState.DELIVERED:
            return "delivered"
        case SendState.FAILED:
            return "failed"
        case SendState.CANCELLED:
            return "cancelled"


class ScheduledList(BaseModel):
    scheduled: list[ScheduledSend] = Field(description="By send time, soonest first.")
    more: bool = Field(description="More rows matched than limit: raise limit to see them.")


def _send_at(
    send_at: dt.datetime | None, in_seconds: float | None, now: float
) -> tuple[float, str]:
    """The epoch time to send at, and which field gave it; ValueError naming the field."""
    if (send_at is None) == (in_seconds is None):
        raise ValueError("give exactly one of send_at (an ISO time) or in_seconds")
    if in_seconds is not None:
        field = "in_seconds"
        if not math.isfinite(in_seconds):
            raise ValueError("in_seconds must be a finite number of seconds")
        when = now + in_seconds
    else:
        assert send_at is not None
        field = "send_at"
        if send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=dt.UTC)
        when = send_at.timestamp()
    now_text = iso(dt.datetime.fromtimestamp(now, dt.UTC))
    if when <= now:
        raise ValueError(
            f"{field} is in the past (the server's time is {now_text}): give a future time, "
            "or use send_message to post now"
        )
    if when - now > MAX_AHEAD:
        raise ValueError(
            f"{field} is more than a year ahead (the server's time is {now_text}): schedule "
            "at most 366 days ahead"
        )
    return when, field


def register(kit: ToolKit) -> None:
    runtime = kit.runtime

    async def outbox_of(row: ScheduledRow) -> OutboxRow | None:
        if row.outbox_id is None:
            return None
        return await runtime.swarm.store.get(row.outbox_id)

    async def own_row(agent: str, scheduled_id: int) -> ScheduledRow:
        rows = await runtime.swarm.store.scheduled(agent, everything=True)
        for row in rows:
            if row.id == scheduled_id:
                return row
        raise ToolError(
            f"this agent has no scheduled send {scheduled_id}: list_scheduled "
            "(include_done true) shows its own"
        )

    def already_sent(row: ScheduledRow, outbox: OutboxRow | None) -> ToolError:
        where = ""
        if outbox is not None and outbox.message_id is not None:
            where = f" as message {outbox.message_id} in channel {row.channel_id}"
        elif outbox is not None and outbox.state is SendState.PENDING:
            where = " and is being delivered (it cannot be stopped any more)"
        return ToolError(
            f"scheduled send {row.id} already went out{where}: it can no longer be cancelled; "
            "use delete_message to remove the posted message"
        )

    @kit.tool(title="Schedule a message", read_only=False, destructive=False, idempotent=False)
    async def schedule_message(
        channel_id: Snowflake,
        ctx: Context,
        content: Annotated[str, Field(max_length=2000)] = "",
        send_at: Annotated[
            dt.datetime | None,
            Field(description="When to post, ISO 8601 (UTC if no offset is given)."),
        ] = None,
        in_seconds: Annotated[
            float | None, Field(description="Or: post this many seconds from now.")
        ] = None,
        embeds: Annotated[list[Embed] | None, Field(max_length=10)] = None,
        reply_to: Annotated[
            Snowflake | None, Field(description="Reply to this message id (same channel).")
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=128,
                description="Any unique string: scheduling again with the same key returns "
                "the first scheduled send instead of a second one.",
            ),
        ] = None,
    ) -> ScheduledSend:
        """Schedule a message to be posted later in a channel, thread or DM channel.

        Give send_at (an ISO time, within a year) or in_seconds. Once this returns, the send
        is stored durably: it goes out when due even if the server restarts meanwhile (if
        the server was down at that moment, as soon as it is back), exactly once. Keep the
        scheduled_id to cancel it (cancel_scheduled); list_scheduled shows what is waiting.
        Mentions ping nobody.
        """
        if not content and not embeds:
            raise ValueError("give content or embeds: a message cannot be empty")
        cid = to_id(channel_id, "channel_id")
        reply = opt_id(reply_to, "reply_to")
        when, _ = _send_at(send_at, in_seconds, runtime.clock())
        caller = kit.caller()
        try:
            with not_found_hint("call list_channels for the channel ids this agent can see"):
                await caller.handle.call(lambda port: port.get_channel(cid))
        except DiscordUnavailable:
            pass  # Discord is down now: schedule anyway; a bad channel fails at send time
        payload = send_payload(content, reply_to=reply, embeds=[e.payload() for e in embeds or ()])
        accepted = await runtime.swarm.store.schedule(
            caller.agent, cid, payload, when, idempotency_key=idempotency_key
        )
        runtime.swarm.scheduler.wake()
        row = accepted.row
        return ScheduledSend.of(row, await outbox_of(row), duplicate=accepted.duplicate)

    @kit.tool(title="List scheduled messages", read_only=True, open_world=False)
    async def list_scheduled(
        ctx: Context,
        include_done: Annotated[
            bool, Field(description="Also those already sent or cancelled.")
        ] = False,
        channel_id: Annotated[Snowflake | None, Field(description="Only this channel's.")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
    ) -> ScheduledList:
        """List this agent's own scheduled messages, soonest first.

        By default only those still waiting; include_done adds those already sent (with
        their delivery state and message id) and cancelled ones.
        """
        cid = opt_id(channel_id, "channel_id")
        agent = kit.caller().agent
        rows = await runtime.swarm.store.scheduled(agent, everything=include_done)
        matched = [r for r in rows if cid is None or r.channel_id == cid]
        shown = matched[:limit]
        return ScheduledList(
            scheduled=[ScheduledSend.of(r, await outbox_of(r)) for r in shown],
            more=len(matched) > limit,
        )

    @kit.tool(
        title="Cancel a scheduled message",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=False,
    )
    async def cancel_scheduled(
        scheduled_id: Annotated[
            str,
            Field(
                pattern=r"^[1-9][0-9]{0,18}$",
                description="The scheduled_id schedule_message or list_scheduled gave.",
            ),
        ],
        ctx: Context,
    ) -> ScheduledSend:
        """Cancel one of this agent's scheduled messages before it goes out.

        Cancelling one already cancelled changes nothing. One that already went out cannot
        be cancelled: the error says so and names the posted message (delete_message
        removes it).
        """
        sid = int(scheduled_id)
        agent = kit.caller().agent
        row = await own_row(agent, sid)
        if row.state is ScheduleState.SCHEDULED:
            row = await runtime.swarm.store.cancel_scheduled(sid)
        if row.state is ScheduleState.QUEUED:
            raise already_sent(row, await outbox_of(row))
        return ScheduledSend.of(row)


__all__ = ["MAX_AHEAD", "ScheduledList", "ScheduledSend", "register"]
