"""Guild channels: create (``POST /guilds/{id}/channels``) and reorder (``PATCH``).

Create answers 201 with the channel and dispatches CHANNEL_CREATE; reorder answers 204 and
dispatches CHANNEL_UPDATE for each channel it moved. Both need MANAGE_CHANNELS and record an
audit log entry with the ``X-Audit-Log-Reason``.
"""

from __future__ import annotations

from typing import Any

from .. import _guild_ops as ops
from .._app import NO_CONTENT, Call, Reply, Router
from .._guild_rules import CREATABLE_TYPES, VOICE_TYPES
from .._model import ChannelType, JSONObject, PermissionOverwrite
from .._permissions import Overwrite
from .._serialize import channel_json
from ._args import Problems, audit_reason, boolean, fail_on, integer, json_array, snowflake, string

router = Router()

_TYPE_CHOICES = ", ".join(str(int(t)) for t in sorted(CREATABLE_TYPES))


def _overwrites(payload: JSONObject, problems: Problems) -> tuple[PermissionOverwrite, ...]:
    value = payload.get("permission_overwrites")
    if value is None:
        return ()
    if not isinstance(value, list):
        problems["permission_overwrites"] = [("BASE_TYPE_ARRAY", "Must be an array.")]
        return ()
    out: list[PermissionOverwrite] = []
    seen: set[tuple[int, int]] = set()
    for index, item in enumerate(value):
        try:
            parsed = Overwrite.from_payload(item)
        except ValueError as exc:
            problems[f"permission_overwrites.{index}"] = [("BASE_TYPE_INVALID", str(exc))]
            continue
        if (parsed.type, parsed.id) in seen:
            continue
        seen.add((parsed.type, parsed.id))
        out.append(
            PermissionOverwrite(
                id=parsed.id, type=parsed.type, allow=parsed.allow, deny=parsed.deny
            )
        )
    return tuple(out)


def _tags(payload: JSONObject, problems: Problems) -> tuple[JSONObject, ...]:
    value = payload.get("available_tags")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems["available_tags"] = [("BASE_TYPE_ARRAY", "Must be an array of objects.")]
        return ()
    tags: list[JSONObject] = []
    for index, tag in enumerate(value[:20]):
        where = f"available_tags.{index}"
        name = string(tag, "name", problems, low=1, high=20, required=True, where=f"{where}.name")
        emoji_id = snowflake(tag, "emoji_id", problems, where=f"{where}.emoji_id")
        emoji_name = string(tag, "emoji_name", problems, high=100, where=f"{where}.emoji_name")
        moderated = tag.get("moderated") is True
        tags.append(
            {"name": name, "moderated": moderated, "emoji_id": emoji_id, "emoji_name": emoji_name}
        )
    return tuple(tags)


def parse_new_channel(payload: JSONObject) -> ops.NewChannel:
    """The create body, checked as Discord checks it (400 50035 naming each bad field)."""
    problems: Problems = {}
    name = string(payload, "name", problems, low=1, high=100, required=True)
    raw_type = integer(payload, "type", problems)
    kind = ChannelType.GUILD_TEXT
    if raw_type is not None:
        if raw_type in {int(t) for t in CREATABLE_TYPES}:
            kind = ChannelType(raw_type)
        else:
            problems["type"] = [("BASE_TYPE_CHOICES", f"Value must be one of {{{_TYPE_CHOICES}}}.")]
    topic = string(
        payload, "topic", problems, high=4096 if kind == ChannelType.GUILD_FORUM else 1024
    )
    slowmode = integer(payload, "rate_limit_per_user", problems, low=0, high=21600)
    voice = kind in VOICE_TYPES
    bitrate = integer(
        payload,
        "bitrate",
        problems,
        low=8000,
        high=64000 if kind == ChannelType.GUILD_STAGE_VOICE else 96000,
    )
    user_limit = integer(
        payload,
        "user_limit",
        problems,
        low=0,
        high=10000 if kind == ChannelType.GUILD_STAGE_VOICE else 99,
    )
    parent_id = snowflake(payload, "parent_id", problems)
    position = integer(payload, "position", problems)
    nsfw = boolean(payload, "nsfw", problems)
    overwrites = _overwrites(payload, problems)
    tags = _tags(payload, problems)
    fail_on(problems)
    assert name is not None
    return ops.NewChannel(
        name=name,
        type=kind,
        topic=topic,
        nsfw=bool(nsfw),
        rate_limit_per_user=slowmode or 0,
        parent_id=parent_id,
        position=position,
        bitrate=bitrate if voice else None,
        user_limit=user_limit if voice else None,
        overwrites=overwrites,
        available_tags=tags,
    )


@router.post("/guilds/{guild_id}/channels")
async def create_guild_channel(call: Call) -> Reply:
    """``POST /guilds/{guild_id}/channels``: 201 with the channel; CHANNEL_CREATE."""
    guild_id = call.snowflake("guild_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    new = parse_new_channel(await call.json())
    channel = ops.create_channel(call.state, me.id, guild_id, new, reason=audit_reason(call))
    return Reply(201, channel_json(call.state, channel, viewer_id=me.id))


def _moves(body: list[Any]) -> list[ops.ChannelMove]:
    problems: Problems = {}
    moves: list[ops.ChannelMove] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            problems[str(index)] = [
                ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            ]
            continue
        ident = snowflake(item, "id", problems, where=f"{index}.id")
        if item.get("id") is None:
            problems[f"{index}.id"] = [("BASE_TYPE_REQUIRED", "This field is required")]
        position = integer(item, "position", problems, where=f"{index}.position")
        parent_id = snowflake(item, "parent_id", problems, where=f"{index}.parent_id")
        lock = item.get("lock_permissions") is True
        if ident is not None:
            moves.append(
                ops.ChannelMove(
                    id=ident,
                    position=position,
                    parent_id=parent_id,
                    moves_parent="parent_id" in item,
                    lock_permissions=lock,
                )
            )
    fail_on(problems)
    return moves


@router.patch("/guilds/{guild_id}/channels")
async def reorder_guild_channels(call: Call) -> Reply:
    """``PATCH /guilds/{guild_id}/channels``: 204; CHANNEL_UPDATE for each moved channel."""
    guild_id = call.snowflake("guild_id")
    me = call.me
    call.state.visible_guild(me.id, guild_id)
    moves = _moves(await json_array(call))
    ops.reorder_channels(call.state, me.id, guild_id, moves, reason=audit_reason(call))
    return NO_CONTENT
