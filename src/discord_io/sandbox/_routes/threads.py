"""Threads: start one (from a message, without one, or as a forum post), its members, and the
archived lists. Rules and dispatches are ``_thread_ops``'."""

from __future__ import annotations

import datetime as dt

from .. import _errors as errors
from .. import _thread_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._channel_ops import Problems, fail_on
from .._model import Channel, JSONObject
from .._serialize import channel_json, member_json, message_json, thread_member_json
from ._args import audit_reason
from .messages import _body, _content, _objects

router = Router()


def _created(call: Call, thread: Channel) -> Reply:
    me = call.me.id
    out = channel_json(call.state, thread, viewer_id=me)
    out["member"] = thread_member_json(thread, me)
    return Reply(201, out)


@router.post("/channels/{channel_id}/messages/{message_id}/threads")
async def start_from_message(call: Call) -> Reply:
    """``POST .../messages/{message_id}/threads`` ``{name, auto_archive_duration?}``: 201."""
    payload = await call.json(empty={})
    thread = ops.start_from_message(
        call.state,
        call.me.id,
        call.snowflake("channel_id"),
        call.snowflake("message_id"),
        payload,
        reason=audit_reason(call),
    )
    return _created(call, thread)


@router.post("/channels/{channel_id}/threads")
async def start_thread(call: Call) -> Reply:
    """``POST /channels/{channel_id}/threads``: a thread, or a forum post with its message."""
    me = call.me
    channel_id = call.snowflake("channel_id")
    channel = call.state.visible_channel(me.id, channel_id)
    if channel.type not in ops.FORUMS:
        payload = await call.json(empty={})
        thread = ops.start_without_message(
            call.state, me.id, channel_id, payload, reason=audit_reason(call)
        )
        return _created(call, thread)
    payload, files = await _body(call)
    message = payload.get("message")
    problems: Problems = {}
    fields: JSONObject = message if isinstance(message, dict) else {}
    content = _content(fields, problems) or ""
    embeds = _objects(fields, "embeds", problems, 10) or []
    components = _objects(fields, "components", problems, 40) or []
    fail_on({f"message.{key}": value for key, value in problems.items()})
    thread, first = ops.start_forum_post(
        call.state,
        me.id,
        channel_id,
        payload,
        content=content,
        embeds=embeds,
        components=components,
        files=files,
        reason=audit_reason(call),
    )
    reply = _created(call, thread)
    assert isinstance(reply.body, dict)
    reply.body["message"] = message_json(call.state, first, viewer_id=me.id)
    return reply


@router.put("/channels/{channel_id}/thread-members/@me")
async def join_thread(call: Call) -> Reply:
    """``PUT /channels/{id}/thread-members/@me``: 204; THREAD_MEMBERS_UPDATE."""
    me = call.me.id
    ops.add_member(call.state, me, call.snowflake("channel_id"), me)
    return NO_CONTENT


@router.delete("/channels/{channel_id}/thread-members/@me")
async def leave_thread(call: Call) -> Reply:
    """``DELETE /channels/{id}/thread-members/@me``: 204; THREAD_MEMBERS_UPDATE."""
    me = call.me.id
    ops.remove_member(call.state, me, call.snowflake("channel_id"), me)
    return NO_CONTENT


@router.put("/channels/{channel_id}/thread-members/{user_id}")
async def add_thread_member(call: Call) -> Reply:
    """``PUT /channels/{id}/thread-members/{user_id}``: 204."""
    ops.add_member(call.state, call.me.id, call.snowflake("channel_id"), call.snowflake("user_id"))
    return NO_CONTENT


@router.delete("/channels/{channel_id}/thread-members/{user_id}")
async def remove_thread_member(call: Call) -> Reply:
    """``DELETE /channels/{id}/thread-members/{user_id}``: 204 (MANAGE_THREADS)."""
    ops.remove_member(
        call.state, call.me.id, call.snowflake("channel_id"), call.snowflake("user_id")
    )
    return NO_CONTENT


def _member_view(call: Call, thread: Channel, user_id: int, with_member: bool) -> JSONObject:
    out = thread_member_json(thread, user_id)
    if with_member and thread.guild_id is not None:
        member = call.state.member(thread.guild_id, user_id)
        if member is not None:
            out["member"] = member_json(member, call.state.users[user_id])
    return out


def _with_member(call: Call) -> bool:
    return call.request.query.get("with_member", "false").lower() in ("true", "1")


@router.get("/channels/{channel_id}/thread-members")
async def list_thread_members(call: Call) -> Reply:
    """``GET /channels/{id}/thread-members?with_member``: thread member objects."""
    channel_id = call.snowflake("channel_id")
    ids = ops.members(call.state, call.me.id, channel_id)
    thread = call.state.channels[channel_id]
    return ok([_member_view(call, thread, uid, _with_member(call)) for uid in ids])


@router.get("/channels/{channel_id}/thread-members/{user_id}")
async def get_thread_member(call: Call) -> Reply:
    """``GET /channels/{id}/thread-members/{user_id}`` (10007 when not a member)."""
    user_id = call.snowflake("user_id")
    thread = ops.member(call.state, call.me.id, call.snowflake("channel_id"), user_id)
    return ok(_member_view(call, thread, user_id, _with_member(call)))


def _before(call: Call) -> dt.datetime | int | None:
    raw = call.request.query.get("before")
    if raw is None:
        return None
    if raw.isdigit():
        return call.query_snowflake("before")
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise errors.form_error(
            {"before": [("DATE_TIME_TYPE_PARSE", f'Could not parse "{raw}". Should be ISO8601.')]}
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def _archived(call: Call, *, private: bool, joined_only: bool) -> Reply:
    me = call.me.id
    threads, more = ops.archived_threads(
        call.state,
        me,
        call.snowflake("channel_id"),
        private=private,
        joined_only=joined_only,
        before=_before(call),
        limit=call.query_int("limit", default=50, low=1, high=100),
    )
    return ok(
        {
            "threads": [channel_json(call.state, t, viewer_id=me) for t in threads],
            "members": [
                thread_member_json(t, me)
                for t in threads
                if t.thread is not None and me in t.thread.member_ids
            ],
            "has_more": more,
        }
    )


@router.get("/channels/{channel_id}/threads/archived/public")
async def archived_public(call: Call) -> Reply:
    """``GET .../threads/archived/public?before&limit``: ``{threads, members, has_more}``."""
    return await _archived(call, private=False, joined_only=False)


@router.get("/channels/{channel_id}/threads/archived/private")
async def archived_private(call: Call) -> Reply:
    """``GET .../threads/archived/private`` (MANAGE_THREADS)."""
    return await _archived(call, private=True, joined_only=False)


@router.get("/channels/{channel_id}/users/@me/threads/archived/private")
async def archived_joined_private(call: Call) -> Reply:
    """``GET .../users/@me/threads/archived/private``: private archived threads joined."""
    return await _archived(call, private=True, joined_only=True)
