"""Messages: create (JSON or multipart with files), get, list, edit, delete.

Create accepts what discord.py sends: a JSON body, or ``multipart/form-data`` with a
``payload_json`` field and ``files[n]`` parts. A ``nonce`` with ``enforce_nonce: true`` makes the
create idempotent per author for a few minutes: a repeat returns the first message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .. import _errors as errors
from .._app import NO_CONTENT, Call, Reply, Router, ok, parse_json_object
from .._channel_ops import AuditEvent, audit
from .._model import JSONObject, Message
from .._serialize import message_json
from .._snowflake import parse_snowflake
from .._state import AllowedMentions, NewAttachment
from ._args import audit_reason

router = Router()

MAX_CONTENT = 2000
MAX_NONCE = 25
MAX_EMBEDS = 10


async def _body(call: Call) -> tuple[JSONObject, list[NewAttachment]]:
    """The payload and uploaded files, from JSON or multipart."""
    request = call.request
    if request.content_type != "multipart/form-data":
        return await call.json(empty={}), []
    form = await request.post()
    payload: JSONObject
    if "payload_json" in form:
        raw = form["payload_json"]
        payload = parse_json_object(raw.file.read() if isinstance(raw, web.FileField) else raw)
    else:
        payload = {k: v for k, v in form.items() if isinstance(v, str)}
    described: dict[int, str | None] = {}
    for item in payload.get("attachments") or ():
        if isinstance(item, dict) and isinstance(item.get("id"), int | str):
            described[int(item["id"])] = item.get("description")
    files: list[NewAttachment] = []
    for key, value in form.items():
        if isinstance(value, web.FileField) and key.startswith("files["):
            index = parse_snowflake(key[6:-1]) if key.endswith("]") else None
            files.append(
                NewAttachment(
                    filename=value.filename,
                    data=value.file.read(),
                    content_type=value.content_type,
                    description=described.get(index) if index is not None else None,
                )
            )
    return payload, files


def _content(payload: JSONObject, problems: dict[str, list[tuple[str, str]]]) -> str | None:
    content = payload.get("content")
    if content is None:
        return None
    if not isinstance(content, str):
        problems["content"] = [("BASE_TYPE_STRING", f'Could not interpret "{content}" as string.')]
        return None
    if len(content) > MAX_CONTENT:
        problems["content"] = [
            ("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
        ]
    return content


def _objects(
    payload: JSONObject, key: str, problems: dict[str, list[tuple[str, str]]], most: int
) -> list[JSONObject] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems[key] = [("BASE_TYPE_LIST", "Must be a list of objects.")]
        return None
    if len(value) > most:
        problems[key] = [("BASE_TYPE_MAX_LENGTH", f"Must be {most} or fewer in length.")]
    return value


def _allowed_mentions(payload: JSONObject) -> AllowedMentions | None:
    value = payload.get("allowed_mentions")
    if not isinstance(value, dict):
        return None
    parse = value.get("parse") or []
    users = value.get("users") or []
    roles = value.get("roles") or []
    return AllowedMentions(
        parse=frozenset(p for p in parse if isinstance(p, str)),
        users=frozenset(u for u in map(parse_snowflake, users) if u is not None),
        roles=frozenset(r for r in map(parse_snowflake, roles) if r is not None),
    )


def _view(call: Call, message: Message, *, nonce: bool = False) -> JSONObject:
    bot = call.me
    redact = not call.state.sees_content(bot, message)
    return message_json(call.state, message, viewer_id=bot.id, redact=redact, nonce=nonce)


def _fail_on(problems: dict[str, list[tuple[str, str]]]) -> None:
    if problems:
        raise errors.form_error(problems)


@router.post("/channels/{channel_id}/messages")
async def create_message(call: Call) -> Reply:
    """``POST /channels/{channel_id}/messages``: post a message; dispatches MESSAGE_CREATE."""
    channel_id = call.snowflake("channel_id")
    me = call.me
    payload, files = await _body(call)
    problems: dict[str, list[tuple[str, str]]] = {}
    content = _content(payload, problems) or ""
    embeds = _objects(payload, "embeds", problems, MAX_EMBEDS) or []
    components = _objects(payload, "components", problems, 40) or []
    nonce: Any = payload.get("nonce")
    if nonce is not None:
        if isinstance(nonce, bool) or not isinstance(nonce, str | int):
            problems["nonce"] = [("BASE_TYPE_STRING", "Must be a string or an integer.")]
        elif isinstance(nonce, str) and len(nonce) > MAX_NONCE:
            problems["nonce"] = [
                ("BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length.")
            ]
    reference_id = None
    reference = payload.get("message_reference")
    if isinstance(reference, dict) and reference.get("message_id") is not None:
        reference_id = parse_snowflake(reference["message_id"])
        if reference_id is None:
            problems["message_reference.message_id"] = [
                ("NUMBER_TYPE_COERCE", f'Value "{reference["message_id"]}" is not snowflake.')
            ]
    flags = payload.get("flags") or 0
    if not isinstance(flags, int):
        problems["flags"] = [("NUMBER_TYPE_COERCE", f'Value "{flags}" is not int.')]
    _fail_on(problems)
    message, _new = call.state.create_message(
        me.id,
        channel_id,
        content=content,
        embeds=embeds,
        components=components,
        files=files,
        nonce=nonce,
        enforce_nonce=payload.get("enforce_nonce") is True,
        tts=payload.get("tts") is True,
        flags=flags,
        reference_id=reference_id,
        allowed=_allowed_mentions(payload),
    )
    return ok(_view(call, message, nonce=True))


@router.get("/channels/{channel_id}/messages/{message_id}")
async def get_message(call: Call) -> Reply:
    """``GET /channels/{channel_id}/messages/{message_id}`` (10008 Unknown Message)."""
    message = call.state.visible_message(
        call.me.id, call.snowflake("channel_id"), call.snowflake("message_id")
    )
    return ok(_view(call, message))


@router.get("/channels/{channel_id}/messages")
async def list_messages(call: Call) -> Reply:
    """``GET /channels/{channel_id}/messages``: newest first; ``limit`` 1-100, one of
    ``before`` / ``after`` / ``around``."""
    channel_id = call.snowflake("channel_id")
    limit = call.query_int("limit", default=50, low=1, high=100)
    messages = call.state.list_messages(
        call.me.id,
        channel_id,
        limit=limit,
        before=call.query_snowflake("before"),
        after=call.query_snowflake("after"),
        around=call.query_snowflake("around"),
    )
    return ok([_view(call, m) for m in messages])


def _kept_attachments(payload: JSONObject) -> Sequence[int] | None:
    value = payload.get("attachments")
    if not isinstance(value, list):
        return None
    kept = []
    for item in value:
        if isinstance(item, dict):
            ident = parse_snowflake(item.get("id"))
            if ident is not None:
                kept.append(ident)
    return kept


@router.patch("/channels/{channel_id}/messages/{message_id}")
async def edit_message(call: Call) -> Reply:
    """``PATCH .../messages/{message_id}``: edit content/embeds/components/flags/attachments."""
    channel_id, message_id = call.snowflake("channel_id"), call.snowflake("message_id")
    payload, files = await _body(call)
    problems: dict[str, list[tuple[str, str]]] = {}
    content = _content(payload, problems)
    if "content" in payload and payload["content"] is None:
        content = ""
    embeds = _objects(payload, "embeds", problems, MAX_EMBEDS)
    if "embeds" in payload and payload["embeds"] is None:
        embeds = []
    components = _objects(payload, "components", problems, 40)
    flags = payload.get("flags")
    if flags is not None and not isinstance(flags, int):
        problems["flags"] = [("NUMBER_TYPE_COERCE", f'Value "{flags}" is not int.')]
    _fail_on(problems)
    message = call.state.edit_message(
        call.me.id,
        channel_id,
        message_id,
        content=content,
        embeds=embeds,
        components=components,
        flags=flags,
        keep_attachments=_kept_attachments(payload),
        files=files,
    )
    return ok(_view(call, message))


@router.delete("/channels/{channel_id}/messages/{message_id}")
async def delete_message(call: Call) -> Reply:
    """``DELETE .../messages/{message_id}``: 204; dispatches MESSAGE_DELETE. Deleting someone
    else's message records a MESSAGE_DELETE audit entry (target: the author) with the reason."""
    channel_id, message_id = call.snowflake("channel_id"), call.snowflake("message_id")
    message = call.state.visible_message(call.me.id, channel_id, message_id)
    author, guild_id = message.author_id, call.state.channels[message.channel_id].guild_id
    call.state.delete_message(call.me.id, channel_id, message_id)
    if author != call.me.id:
        audit(
            call.state,
            guild_id,
            AuditEvent.MESSAGE_DELETE,
            call.me.id,
            author,
            reason=audit_reason(call),
            options={"channel_id": str(channel_id), "count": "1"},
        )
    return NO_CONTENT
