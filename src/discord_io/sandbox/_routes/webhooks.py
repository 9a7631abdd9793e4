"""Webhooks: create/list on a channel, get/modify/delete by id (bot token) or by token, and
execute. Rules and dispatches are ``_webhook_ops``'."""

from __future__ import annotations

from .. import _webhook_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._channel_ops import Problems, fail_on
from .._model import Webhook
from .._serialize import message_json, webhook_json
from ._args import audit_reason
from .messages import _body, _content, _kept_attachments, _objects

router = Router()

MAX_EMBEDS = 10


def _view(call: Call, webhook: Webhook, *, by_token: bool = False) -> dict[str, object]:
    out = webhook_json(call.state, webhook)
    if by_token:
        out.pop("user", None)  # Discord leaves the creator out when asked by token
    return out


def _by_token(call: Call) -> Webhook:
    return ops.by_token(
        call.state, call.snowflake("webhook_id"), call.request.match_info["webhook_token"]
    )


@router.post("/channels/{channel_id}/webhooks")
async def create_webhook(call: Call) -> Reply:
    """``POST /channels/{channel_id}/webhooks`` ``{name, avatar?}`` (MANAGE_WEBHOOKS)."""
    payload = await call.json(empty={})
    webhook = ops.create_webhook(
        call.state, call.me.id, call.snowflake("channel_id"), payload, reason=audit_reason(call)
    )
    return ok(_view(call, webhook))


@router.get("/channels/{channel_id}/webhooks")
async def list_channel_webhooks(call: Call) -> Reply:
    """``GET /channels/{channel_id}/webhooks`` (MANAGE_WEBHOOKS)."""
    hooks = ops.channel_webhooks(call.state, call.me.id, call.snowflake("channel_id"))
    return ok([_view(call, w) for w in hooks])


@router.get("/webhooks/{webhook_id}")
async def get_webhook(call: Call) -> Reply:
    """``GET /webhooks/{webhook_id}`` (10015 Unknown Webhook)."""
    return ok(
        _view(call, ops.managed_webhook(call.state, call.me.id, call.snowflake("webhook_id")))
    )


@router.patch("/webhooks/{webhook_id}")
async def modify_webhook(call: Call) -> Reply:
    """``PATCH /webhooks/{webhook_id}`` ``{name?, avatar?, channel_id?}``."""
    me = call.me
    webhook = ops.managed_webhook(call.state, me.id, call.snowflake("webhook_id"))
    payload = await call.json(empty={})
    changed = ops.modify_webhook(
        call.state, webhook, payload, user_id=me.id, reason=audit_reason(call)
    )
    return ok(_view(call, changed))


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(call: Call) -> Reply:
    """``DELETE /webhooks/{webhook_id}``: 204."""
    me = call.me
    webhook = ops.managed_webhook(call.state, me.id, call.snowflake("webhook_id"))
    ops.delete_webhook(call.state, webhook, user_id=me.id, reason=audit_reason(call))
    return NO_CONTENT


@router.get("/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def get_webhook_by_token(call: Call) -> Reply:
    """``GET /webhooks/{webhook_id}/{webhook_token}`` (no bot token needed)."""
    return ok(_view(call, _by_token(call), by_token=True))


@router.patch("/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def modify_webhook_by_token(call: Call) -> Reply:
    """``PATCH /webhooks/{webhook_id}/{webhook_token}`` ``{name?, avatar?}``."""
    webhook = _by_token(call)
    payload = await call.json(empty={})
    ops.modify_webhook(call.state, webhook, payload, user_id=None)
    return ok(_view(call, webhook, by_token=True))


@router.delete("/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def delete_webhook_by_token(call: Call) -> Reply:
    """``DELETE /webhooks/{webhook_id}/{webhook_token}``: 204."""
    ops.delete_webhook(call.state, _by_token(call))
    return NO_CONTENT


@router.post("/webhooks/{webhook_id}/{webhook_token}", auth=False)
async def execute_webhook(call: Call) -> Reply:
    """``POST /webhooks/{id}/{token}?wait&thread_id``: post as the webhook (200 with the
    message when ``wait`` is true, else 204); dispatches MESSAGE_CREATE."""
    webhook = _by_token(call)
    wait = call.request.query.get("wait", "false").lower() in ("true", "1")
    thread_id = call.query_snowflake("thread_id")
    payload, files = await _body(call)
    problems: Problems = {}
    content = _content(payload, problems) or ""
    embeds = _objects(payload, "embeds", problems, MAX_EMBEDS) or []
    components = _objects(payload, "components", problems, 40) or []
    username = ops.check_name(payload.get("username"), "username", problems, required=False)
    avatar_url = payload.get("avatar_url")
    if avatar_url is not None and not isinstance(avatar_url, str):
        problems["avatar_url"] = [("BASE_TYPE_STRING", "Must be a string.")]
        avatar_url = None
    flags = payload.get("flags") or 0
    if not isinstance(flags, int):
        problems["flags"] = [("NUMBER_TYPE_COERCE", f'Value "{flags}" is not int.')]
    fail_on(problems)
    message = ops.execute(
        call.state,
        webhook,
        content=content,
        embeds=embeds,
        components=components,
        files=files,
        username=username,
        avatar_url=avatar_url,
        tts=payload.get("tts") is True,
        flags=flags,
        thread_id=thread_id,
        thread_name=payload.get("thread_name"),
        applied_tags=payload.get("applied_tags"),
    )
    if not wait:
        return NO_CONTENT
    return ok(message_json(call.state, message))


_MESSAGE = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"


@router.get(_MESSAGE, auth=False)
async def get_webhook_message(call: Call) -> Reply:
    """``GET .../messages/{message_id}``: a message the webhook posted."""
    message = ops.webhook_message(call.state, _by_token(call), call.snowflake("message_id"))
    return ok(message_json(call.state, message))


@router.patch(_MESSAGE, auth=False)
async def edit_webhook_message(call: Call) -> Reply:
    """``PATCH .../messages/{message_id}``: edit it; dispatches MESSAGE_UPDATE."""
    webhook = _by_token(call)
    message_id = call.snowflake("message_id")
    payload, files = await _body(call)
    problems: Problems = {}
    content = _content(payload, problems)
    if "content" in payload and payload["content"] is None:
        content = ""
    embeds = _objects(payload, "embeds", problems, MAX_EMBEDS)
    if "embeds" in payload and payload["embeds"] is None:
        embeds = []
    components = _objects(payload, "components", problems, 40)
    fail_on(problems)
    message = ops.edit_message(
        call.state,
        webhook,
        message_id,
        content=content,
        embeds=embeds,
        components=components,
        keep_attachments=_kept_attachments(payload),
        files=files,
    )
    return ok(message_json(call.state, message))


@router.delete(_MESSAGE, auth=False)
async def delete_webhook_message(call: Call) -> Reply:
    """``DELETE .../messages/{message_id}``: 204; dispatches MESSAGE_DELETE."""
    ops.delete_message(call.state, _by_token(call), call.snowflake("message_id"))
    return NO_CONTENT
