"""The event log's payloads: their JSON pinned per event type, and the fast paths checked."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors._event_payload import DISCORD_EVENT_TYPES, event_payload, message_payload
from actors.discord_port import (
    AttachmentInfo,
    ChannelCreated,
    ChannelDeleted,
    ChannelInfo,
    ChannelKind,
    ChannelUpdated,
    DiscordEvent,
    GatewayDisconnected,
    GatewayReady,
    GatewayResumed,
    MemberInfo,
    MemberJoined,
    MemberLeft,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessageInfo,
    ReactionAdded,
    ReactionRemoved,
)

AT = dt.datetime(2026, 11, 24, 3, 0, 0, 123000, tzinfo=dt.UTC)
MESSAGE = MessageInfo(
    id=1_300_000_000_000_000_001,
    channel_id=1_180_000_000_000_000_002,
    guild_id=1_170_000_000_000_000_003,
    author_id=1_190_000_000_000_000_004,
    author_name="ada",
    author_bot=True,
    content='héllo "there"',
    created_at=AT,
    edited_at=AT + dt.timedelta(seconds=1),
    attachments=(AttachmentInfo(1_300_000_000_000_000_005, "a.txt", 12, "https://cdn/a.txt"),),
    reply_to=1_300_000_000_000_000_000,
    nonce="n-1",
)
CHANNEL = ChannelInfo(1_180_000_000_000_000_002, 0, 1_170_000_000_000_000_003, "general", 7, 3)
MESSAGE_JSON = (
    '{"message":{"id":"1300000000000000001","channel_id":"1180000000000000002",'
    '"guild_id":"1170000000000000003","author_id":"1190000000000000004","author_name":"ada",'
    '"author_bot":true,"content":"héllo \\"there\\"",'
    '"created_at":"2026-11-24T03:00:00.123000+00:00",'
    '"edited_at":"2026-11-24T03:00:01.123000+00:00","attachments":[{"id":"1300000000000000005",'
    '"filename":"a.txt","size":12,"url":"https://cdn/a.txt","content_type":null}],'
    '"reply_to":"1300000000000000000","nonce":"n-1"}}'
)
CHANNEL_JSON = (
    '{"channel":{"id":"1180000000000000002","type":0,"guild_id":"1170000000000000003",'
    '"name":"general","parent_id":"7","position":3,"topic":null}}'
)

PINNED: list[tuple[DiscordEvent, str]] = [
    (MessageCreated("ada", MESSAGE), MESSAGE_JSON),
    (MessageEdited("ada", MESSAGE), MESSAGE_JSON),
    (
        MessageCreated("ada", attrs.evolve(MESSAGE, guild_id=None, edited_at=None, nonce=None)),
        '{"message":{"id":"1300000000000000001","channel_id":"1180000000000000002",'
        '"guild_id":null,"author_id":"1190000000000000004","author_name":"ada","author_bot":true,'
        '"content":"héllo \\"there\\"","created_at":"2026-11-24T03:00:00.123000+00:00",'
        '"edited_at":null,"attachments":[{"id":"1300000000000000005","filename":"a.txt",'
        '"size":12,"url":"https://cdn/a.txt","content_type":null}],'
        '"reply_to":"1300000000000000000","nonce":null}}',
    ),
    (
        MessageDeleted("ada", 2, 3, None),
        '{"channel_id":"2","message_id":"3","guild_id":null}',
    ),
    (
        ReactionAdded("ada", 2, 3, 4, 5, "👍"),
        '{"channel_id":"2","message_id":"3","guild_id":"4","user_id":"5","emoji":"👍"}',
    ),
    (
        ReactionRemoved("ada", 2, 3, 4, 5, "party:99"),
        '{"channel_id":"2","message_id":"3","guild_id":"4","user_id":"5","emoji":"party:99"}',
    ),
    (
        MemberJoined(
            "ada",
            MemberInfo(4, 5, "bob", "Bob", bot=False, nick="bobby", roles=(6, 7), joined_at=AT),
        ),
        '{"member":{"guild_id":"4","user_id":"5","name":"bob","display_name":"Bob","bot":false,'
        '"nick":"bobby","roles":["6","7"],"joined_at":"2026-11-24T03:00:00.123000+00:00"}}',
    ),
    (MemberLeft("ada", 4, 5, "bob"), '{"guild_id":"4","user_id":"5","name":"bob"}'),
    (ChannelCreated("ada", CHANNEL), CHANNEL_JSON),
    (ChannelUpdated("ada", CHANNEL), CHANNEL_JSON),
    (
        ChannelDeleted("ada", attrs.evolve(CHANNEL, type=ChannelKind.FORUM)),
        CHANNEL_JSON.replace('"type":0', '"type":15'),
    ),
    (
        GatewayReady("ada", "s-1", (4, 8)),
        '{"session_id":"s-1","guild_ids":["4","8"]}',
    ),
    (GatewayReady("ada", None, ()), '{"session_id":null,"guild_ids":[]}'),
    (GatewayResumed("ada"), "{}"),
    (GatewayDisconnected("ada"), "{}"),
]


def _json(payload: Mapping[str, Any]) -> str:
    """The payload as the Store writes it (``store._dumps``)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize(("event", "expected"), PINNED, ids=[type(e).__name__ for e, _ in PINNED])
def test_payload_json_is_pinned(event: DiscordEvent, expected: str) -> None:
    """Each event type's payload is exactly this JSON (what readers of old logs rely on)."""
    assert _json(event_payload(event)) == expected


def test_every_event_type_is_pinned() -> None:
    """The pinned examples cover every event type."""
    assert {type(event) for event, _ in PINNED} == set(DISCORD_EVENT_TYPES)


def test_message_payload_is_the_message_created_payload() -> None:
    """``message_payload`` writes what ``event_payload`` writes for a MessageCreated."""
    for message in (MESSAGE, attrs.evolve(MESSAGE, attachments=(), guild_id=None)):
        payload = message_payload(message)
        assert payload == event_payload(MessageCreated("ada", message))
        assert _json(payload) == _json(event_payload(MessageCreated("ada", message)))


def test_payloads_are_fresh_objects() -> None:
    """Two payloads of one event share nothing (the hub adds ``backfilled`` to one)."""
    first, second = message_payload(MESSAGE), message_payload(MESSAGE)
    first["backfilled"] = True
    first["message"]["attachments"].append("x")
    assert "backfilled" not in second
    assert len(second["message"]["attachments"]) == 1


# ----------------------------------------------------------------------------- fast paths


def _reference(value: Any, *, skip_agent: bool = False) -> dict[str, Any]:
    """The payload rules written plainly, without fast paths: the specification."""
    return {
        field.name: _reference_value(field.name, getattr(value, field.name))
        for field in attrs.fields(type(value))
        if not (skip_agent and field.name == "agent")
    }


def _reference_value(key: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int):
        return str(value) if key in ("id", "reply_to") or key.endswith("_id") else value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if attrs.has(type(value)):
        return _reference(value)
    if isinstance(value, tuple | list):
        if key in ("guild_ids", "roles"):
            return [str(item) for item in value]
        return [_reference_value(key, item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _reference_value(str(k), v) for k, v in value.items()}
    return value


class _Name(str):
    """A str subclass: not the exact type the fast path knows."""


class _Colour(enum.Enum):
    RED = "red"


_VALUE_CLASSES = (MessageInfo, AttachmentInfo, ChannelInfo, MemberInfo)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.text(max_size=4).map(_Name),
    st.sampled_from([*ChannelKind, *_Colour]),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
)


def _attrs_of(cls: type[Any], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.tuples(*(values for _ in attrs.fields(cls))).map(lambda args: cls(*args))


_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3),
        st.sampled_from(_VALUE_CLASSES).flatmap(lambda cls: _attrs_of(cls, inner)),
    ),
    max_leaves=12,
)
_events = st.sampled_from(list(DISCORD_EVENT_TYPES)).flatmap(lambda cls: _attrs_of(cls, _values))


@settings(max_examples=300, deadline=None)
@given(_events)
def test_payload_follows_the_rules_for_any_values(event: DiscordEvent) -> None:
    """Whatever the fields hold (subclasses, enums, bools, nesting), the payload is the rules'."""
    expected = _reference(event, skip_agent=True)
    payload = event_payload(event)
    assert payload == expected
    assert json.dumps(payload, default=str) == json.dumps(expected, default=str)
    if isinstance(event, MessageCreated) and isinstance(event.message, MessageInfo):
        assert message_payload(event.message) == expected
