"""Guild members: list, search, get, modify (nick, roles, voice, timeout), roles one by one.

``GET /guilds/{id}/members`` needs the GUILD_MEMBERS privileged intent granted to the app
(403 50001 otherwise, as Discord). Modifying answers with the member and dispatches
GUILD_MEMBER_UPDATE; each change is checked against the actor's permissions and the role
hierarchy in ``_guild_ops``. Literal paths (``@me``, ``search``) are registered before
``{user_id}`` so they win.
"""

from __future__ import annotations

from .. import _member_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router, ok
from .._guild_rules import CREATE_INSTANT_INVITE, require
from .._model import JSONObject, Member
from .._serialize import member_json
from ._args import (
    Problems,
    audit_reason,
    boolean,
    fail_on,
    snowflake,
    snowflakes,
    string,
    timestamp,
)

router = Router()

MAX_NICK = 32


def _member(call: Call, member: Member) -> JSONObject:
    return member_json(member, call.state.users[member.user_id])


@router.get("/guilds/{guild_id}/members")
async def list_guild_members(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/members?limit&after``: by user id; needs GUILD_MEMBERS."""
    guild_id = call.snowflake("guild_id")
    limit = call.query_int("limit", default=1, low=1, high=1000)
    after = call.query_snowflake("after") or 0
    members = ops.list_members(call.state, call.me.id, guild_id, limit=limit, after=after)
    return ok([_member(call, m) for m in members])


@router.get("/guilds/{guild_id}/members/search")
async def search_guild_members(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/members/search?query&limit``: username/nick prefix match."""
    guild_id = call.snowflake("guild_id")
    query = call.request.query.get("query")
    limit = call.query_int("limit", default=1, low=1, high=1000)
    if query is None:
        fail_on({"query": [("BASE_TYPE_REQUIRED", "This field is required")]})
    assert query is not None
    members = ops.search_members(call.state, call.me.id, guild_id, query=query, limit=limit)
    return ok([_member(call, m) for m in members])


@router.patch("/guilds/{guild_id}/members/@me")
async def modify_current_member(call: Call) -> Reply:
    """``PATCH /guilds/{guild_id}/members/@me``: the bot's nickname (CHANGE_NICKNAME)."""
    guild_id = call.snowflake("guild_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    payload = await call.json(empty={})
    problems: Problems = {}
    nick = string(payload, "nick", problems, high=MAX_NICK)
    fail_on(problems)
    member = ops.modify_current_member(
        call.state,
        me.id,
        guild_id,
        nick=nick if "nick" in payload else ops.UNSET,
        reason=audit_reason(call),
    )
    return ok(_member(call, member))


@router.get("/guilds/{guild_id}/members/{user_id}")
async def get_guild_member(call: Call) -> Reply:
    """``GET /guilds/{guild_id}/members/{user_id}`` (10007 Unknown Member)."""
    member = ops.get_member(
        call.state, call.me.id, call.snowflake("guild_id"), call.snowflake("user_id")
    )
    return ok(_member(call, member))


def parse_member_edit(payload: JSONObject) -> ops.MemberEdit:
    """The modify body, checked (400 50035 naming each bad field); absent fields stay unset."""
    problems: Problems = {}
    unset = ops.UNSET
    nick = string(payload, "nick", problems, high=MAX_NICK)
    roles = snowflakes(payload, "roles", problems)
    mute = boolean(payload, "mute", problems)
    deaf = boolean(payload, "deaf", problems)
    channel_id = snowflake(payload, "channel_id", problems)
    until = timestamp(payload, "communication_disabled_until", problems)
    fail_on(problems)
    return ops.MemberEdit(
        nick=nick if "nick" in payload else unset,
        roles=(None if roles is None else tuple(roles)) if "roles" in payload else unset,
        mute=mute if "mute" in payload else unset,
        deaf=deaf if "deaf" in payload else unset,
        channel_id=channel_id if "channel_id" in payload else unset,
        communication_disabled_until=(
            until if "communication_disabled_until" in payload else unset
        ),
    )


@router.patch("/guilds/{guild_id}/members/{user_id}")
async def modify_guild_member(call: Call) -> Reply:
    """``PATCH /guilds/{guild_id}/members/{user_id}``: 200 with the member."""
    guild_id, user_id = call.snowflake("guild_id"), call.snowflake("user_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    edit = parse_member_edit(await call.json(empty={}))
    member = ops.modify_member(
        call.state, me.id, guild_id, user_id, edit, reason=audit_reason(call)
    )
    return ok(_member(call, member))


@router.put("/guilds/{guild_id}/members/{user_id}")
async def add_guild_member(call: Call) -> Reply:
    """``PUT /guilds/{guild_id}/members/{user_id}``: add a user given an OAuth2 access token.

    The sandbox takes any non-empty ``access_token``; needs CREATE_INSTANT_INVITE; 201 with
    the member, 204 if already one, 403 40007 if the user is banned.
    """
    guild_id, user_id = call.snowflake("guild_id"), call.snowflake("user_id")
    me = call.me
    guild = call.state.visible_guild(me.id, guild_id)
    payload = await call.json(empty={})
    problems: Problems = {}
    string(payload, "access_token", problems, low=1, high=4096, required=True)
    fail_on(problems)
    require(guild, me.id, CREATE_INSTANT_INVITE)
    member = ops.join_guild(call.state, guild_id, user_id)
    if member is None:
        return NO_CONTENT
    return Reply(201, _member(call, member))


@router.put("/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_guild_member_role(call: Call) -> Reply:
    """``PUT .../members/{user_id}/roles/{role_id}``: 204; GUILD_MEMBER_UPDATE."""
    ops.add_member_role(
        call.state,
        call.me.id,
        call.snowflake("guild_id"),
        call.snowflake("user_id"),
        call.snowflake("role_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT


@router.delete("/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_guild_member_role(call: Call) -> Reply:
    """``DELETE .../members/{user_id}/roles/{role_id}``: 204; GUILD_MEMBER_UPDATE."""
    ops.remove_member_role(
        call.state,
        call.me.id,
        call.snowflake("guild_id"),
        call.snowflake("user_id"),
        call.snowflake("role_id"),
        reason=audit_reason(call),
    )
    return NO_CONTENT
