"""Channel administration: modify, delete, permission overwrites, bulk delete.

Rules, dispatches and audit log entries are ``_channel_ops``'; each endpoint passes on the
request's ``X-Audit-Log-Reason``.
"""

from __future__ import annotations

from .. import _channel_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._serialize import channel_json
from ._args import audit_reason

router = Router()


@router.patch("/channels/{channel_id}")
async def modify_channel(call: Call) -> Reply:
    """``PATCH /channels/{channel_id}``: CHANNEL_UPDATE (THREAD_UPDATE for a thread)."""
    me = call.me
    payload = await call.json(empty={})
    channel = ops.modify_channel(
        call.state, me.id, call.snowflake("channel_id"), payload, reason=audit_reason(call)
    )
    return ok(channel_json(call.state, channel, viewer_id=me.id))


@router.delete("/channels/{channel_id}")
async def delete_channel(call: Call) -> Reply:
    """``DELETE /channels/{channel_id}``: the deleted channel; CHANNEL_DELETE / THREAD_DELETE."""
    return ok(
        ops.delete_channel(
            call.state, call.me.id, call.snowflake("channel_id"), reason=audit_reason(call)
        )
    )


@router.put("/channels/{channel_id}/permissions/{overwrite_id}")
async def put_overwrite(call: Call) -> Reply:
    """``PUT /channels/{id}/permissions/{overwrite_id}`` ``{type, allow, deny}``: 204."""
    payload = await call.json(empty={})
    ops.put_overwrite(
        call.state,
        call.me.id,
        call.snowflake("channel_id"),
        call.snowflake("overwrite_id"),
        payload,
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.delete("/channels/{channel_id}/permissions/{overwrite_id}")
async def delete_overwrite(call: Call) -> Reply:
    """``DELETE /channels/{id}/permissions/{overwrite_id}``: 204."""
    ops.delete_overwrite(
        call.state,
        call.me.id,
        call.snowflake("channel_id"),
        call.snowflake("overwrite_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.post("/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(call: Call) -> Reply:
    """``POST .../messages/bulk-delete`` ``{messages}``: 204; MESSAGE_DELETE_BULK."""
    payload = await call.json(empty={})
    ops.bulk_delete(
        call.state, call.me.id, call.snowflake("channel_id"), payload, reason=audit_reason(call)
    )
    return NO_CONTENT
