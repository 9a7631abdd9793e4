"""Pins: ``/channels/{id}/messages/pins`` (what discord.py 2.7 calls) and the deprecated
``/channels/{id}/pins`` family. Rules and dispatches are ``_channel_ops``'."""

from __future__ import annotations

import datetime as dt

from .. import _channel_ops as ops
from .. import _errors as errors
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._model import Message
from .._serialize import message_json
from .._snowflake import iso_timestamp
from ._args import audit_reason

router = Router()


def _view(call: Call, message: Message) -> dict[str, object]:
    bot = call.me
    redact = not call.state.sees_content(bot, message)
    return message_json(call.state, message, viewer_id=bot.id, redact=redact)


def _before(call: Call) -> dt.datetime | None:
    raw = call.request.query.get("before")
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise errors.form_error(
            {"before": [("DATE_TIME_TYPE_PARSE", f'Could not parse "{raw}". Should be ISO8601.')]}
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@router.get("/channels/{channel_id}/messages/pins")
async def list_pins(call: Call) -> Reply:
    """``GET .../messages/pins?before&limit``: ``{items: [{pinned_at, message}], has_more}``."""
    limit = call.query_int("limit", default=50, low=1, high=50)
    before = _before(call)
    pins = ops.list_pins(call.state, call.me.id, call.snowflake("channel_id"))
    if before is not None:
        pins = [m for m in pins if m.pinned_at is not None and m.pinned_at < before]
    items = [
        {"pinned_at": iso_timestamp(m.pinned_at or m.timestamp), "message": _view(call, m)}
        for m in pins[:limit]
    ]
    return ok({"items": items, "has_more": len(pins) > limit})


@router.get("/channels/{channel_id}/pins")
async def list_pins_deprecated(call: Call) -> Reply:
    """``GET /channels/{id}/pins`` (deprecated): up to 50 pinned messages."""
    pins = ops.list_pins(call.state, call.me.id, call.snowflake("channel_id"))
    return ok([_view(call, m) for m in pins[:50]])


async def _pin(call: Call, *, pin: bool) -> Reply:
    ops.set_pinned(
        call.state,
        call.me.id,
        call.snowflake("channel_id"),
        call.snowflake("message_id"),
        pin=pin,
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.put("/channels/{channel_id}/messages/pins/{message_id}")
async def pin_message(call: Call) -> Reply:
    """``PUT .../messages/pins/{message_id}``: 204; dispatches CHANNEL_PINS_UPDATE."""
    return await _pin(call, pin=True)


@router.delete("/channels/{channel_id}/messages/pins/{message_id}")
async def unpin_message(call: Call) -> Reply:
    """``DELETE .../messages/pins/{message_id}``: 204; dispatches CHANNEL_PINS_UPDATE."""
    return await _pin(call, pin=False)


@router.put("/channels/{channel_id}/pins/{message_id}")
async def pin_message_deprecated(call: Call) -> Reply:
    """``PUT /channels/{id}/pins/{message_id}`` (deprecated)."""
    return await _pin(call, pin=True)


@router.delete("/channels/{channel_id}/pins/{message_id}")
async def unpin_message_deprecated(call: Call) -> Reply:
    """``DELETE /channels/{id}/pins/{message_id}`` (deprecated)."""
    return await _pin(call, pin=False)
