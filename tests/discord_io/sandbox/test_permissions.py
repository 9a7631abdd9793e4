"""Discord's permission arithmetic: flags, overwrites, implicit rules, timeouts, threads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from discord_io.sandbox._permissions import (
    ALL_PERMISSIONS,
    TIMED_OUT_PERMISSIONS,
    Overwrite,
    Permission,
    base_permissions,
    channel_permissions,
    describe,
    missing_permissions,
)

P = Permission
GUILD = 1000
OWNER = 1
MEMBER = 2
SEND_DEPENDENTS = P.MENTION_EVERYONE | P.SEND_TTS_MESSAGES | P.ATTACH_FILES | P.EMBED_LINKS

# The "Bitwise Permission Flags" table of topics/permissions.mdx, row by row.
DOCS_FLAGS = [
    ("CREATE_INSTANT_INVITE", 0),
    ("KICK_MEMBERS", 1),
    ("BAN_MEMBERS", 2),
    ("ADMINISTRATOR", 3),
    ("MANAGE_CHANNELS", 4),
    ("MANAGE_GUILD", 5),
    ("ADD_REACTIONS", 6),
    ("VIEW_AUDIT_LOG", 7),
    ("PRIORITY_SPEAKER", 8),
    ("STREAM", 9),
    ("VIEW_CHANNEL", 10),
    ("SEND_MESSAGES", 11),
    ("SEND_TTS_MESSAGES", 12),
    ("MANAGE_MESSAGES", 13),
    ("EMBED_LINKS", 14),
    ("ATTACH_FILES", 15),
    ("READ_MESSAGE_HISTORY", 16),
    ("MENTION_EVERYONE", 17),
    ("USE_EXTERNAL_EMOJIS", 18),
    ("VIEW_GUILD_INSIGHTS", 19),
    ("CONNECT", 20),
    ("SPEAK", 21),
    ("MUTE_MEMBERS", 22),
    ("DEAFEN_MEMBERS", 23),
    ("MOVE_MEMBERS", 24),
    ("USE_VAD", 25),
    ("CHANGE_NICKNAME", 26),
    ("MANAGE_NICKNAMES", 27),
    ("MANAGE_ROLES", 28),
    ("MANAGE_WEBHOOKS", 29),
    ("MANAGE_GUILD_EXPRESSIONS", 30),
    ("USE_APPLICATION_COMMANDS", 31),
    ("REQUEST_TO_SPEAK", 32),
    ("MANAGE_EVENTS", 33),
    ("MANAGE_THREADS", 34),
    ("CREATE_PUBLIC_THREADS", 35),
    ("CREATE_PRIVATE_THREADS", 36),
    ("USE_EXTERNAL_STICKERS", 37),
    ("SEND_MESSAGES_IN_THREADS", 38),
    ("USE_EMBEDDED_ACTIVITIES", 39),
    ("MODERATE_MEMBERS", 40),
    ("VIEW_CREATOR_MONETIZATION_ANALYTICS", 41),
    ("USE_SOUNDBOARD", 42),
    ("CREATE_GUILD_EXPRESSIONS", 43),
    ("CREATE_EVENTS", 44),
    ("USE_EXTERNAL_SOUNDS", 45),
    ("SEND_VOICE_MESSAGES", 46),
    ("SET_VOICE_CHANNEL_STATUS", 48),
    ("SEND_POLLS", 49),
    ("USE_EXTERNAL_APPS", 50),
    ("PIN_MESSAGES", 51),
    ("BYPASS_SLOWMODE", 52),
]


def in_channel(
    base: int,
    overwrites: list[Overwrite],
    *,
    roles: tuple[int, ...] = (),
    timed_out: bool = False,
    in_thread: bool = False,
) -> int:
    """Permissions of MEMBER with ``roles`` in a channel of GUILD."""
    return channel_permissions(
        base,
        guild_id=GUILD,
        member_id=MEMBER,
        member_role_ids=roles,
        overwrites=overwrites,
        timed_out=timed_out,
        in_thread=in_thread,
    )


def role_ow(role_id: int, *, allow: int = 0, deny: int = 0) -> Overwrite:
    """A role overwrite."""
    return Overwrite(id=role_id, type=Overwrite.ROLE, allow=allow, deny=deny)


def member_ow(member_id: int = MEMBER, *, allow: int = 0, deny: int = 0) -> Overwrite:
    """A member overwrite."""
    return Overwrite(id=member_id, type=Overwrite.MEMBER, allow=allow, deny=deny)


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shift"), DOCS_FLAGS)
def test_flag_has_docs_name_and_value(name: str, shift: int) -> None:
    """Each flag in the docs' table exists with the docs' bit."""
    assert Permission[name].value == 1 << shift


def test_no_flags_beyond_the_docs() -> None:
    """The enum holds exactly the docs' flags and ALL_PERMISSIONS is their union."""
    assert [(flag.name, flag.value) for flag in Permission] == [
        (name, 1 << shift) for name, shift in DOCS_FLAGS
    ]
    assert sum(1 << shift for _, shift in DOCS_FLAGS) == ALL_PERMISSIONS


@pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning")  # discord.py's
def test_all_permissions_agrees_with_discord_py() -> None:
    """discord.py's Permissions.all() is the same bit set."""
    import discord  # imported here, so the filter above covers its import-time warning

    assert discord.Permissions.all().value == ALL_PERMISSIONS


def test_docs_bitwise_example() -> None:
    """The docs' example: SEND_MESSAGES | ADD_REACTIONS == 2112, KICK_MEMBERS not set."""
    permissions = P.ADD_REACTIONS | P.SEND_MESSAGES
    assert permissions == 2112
    assert permissions & 0x40 == 0x40
    assert permissions & 0x800 == 0x800
    assert permissions & P.KICK_MEMBERS != P.KICK_MEMBERS


def test_docs_example_role_permissions_are_known_flags() -> None:
    """The docs' example role's "66321471" decodes to known flags only."""
    assert int("66321471") & ~ALL_PERMISSIONS == 0


# --- base permissions ----------------------------------------------------------------------


def guild_base(member_id: int, roles: tuple[int, ...], role_permissions: dict[int, int]) -> int:
    """base_permissions in GUILD owned by OWNER."""
    return base_permissions(
        guild_id=GUILD,
        owner_id=OWNER,
        member_id=member_id,
        member_role_ids=roles,
        role_permissions=role_permissions,
    )


@pytest.mark.parametrize(
    ("member_id", "roles", "role_permissions", "expected"),
    [
        pytest.param(MEMBER, (), {GUILD: P.VIEW_CHANNEL}, P.VIEW_CHANNEL, id="everyone-only"),
        pytest.param(
            MEMBER,
            (10, 11),
            {GUILD: P.VIEW_CHANNEL, 10: P.SEND_MESSAGES, 11: P.KICK_MEMBERS, 12: P.BAN_MEMBERS},
            P.VIEW_CHANNEL | P.SEND_MESSAGES | P.KICK_MEMBERS,
            id="roles-or-together",
        ),
        pytest.param(
            MEMBER, (GUILD,), {GUILD: P.SEND_MESSAGES}, P.SEND_MESSAGES, id="everyone-listed"
        ),
        pytest.param(OWNER, (), {}, ALL_PERMISSIONS, id="owner-needs-nothing"),
        pytest.param(
            MEMBER, (10,), {GUILD: 0, 10: P.ADMINISTRATOR}, ALL_PERMISSIONS, id="admin-role"
        ),
        pytest.param(MEMBER, (), {GUILD: 1 << 47 | 1 << 60}, 0, id="unknown-bits-dropped"),
    ],
)
def test_base_permissions_table(
    member_id: int, roles: tuple[int, ...], role_permissions: dict[int, int], expected: int
) -> None:
    """Base permissions: @everyone OR roles; owner and ADMINISTRATOR get everything."""
    assert guild_base(member_id, roles, role_permissions) == expected


def test_base_without_everyone_role_is_an_error() -> None:
    """role_permissions without @everyone raises a ValueError that says so."""
    with pytest.raises(ValueError, match="no @everyone role"):
        guild_base(MEMBER, (), {10: 0})


def test_base_with_undefined_role_is_an_error() -> None:
    """A member role the guild does not define raises a ValueError naming it."""
    with pytest.raises(ValueError, match="role 99, which the guild does not define"):
        guild_base(MEMBER, (99,), {GUILD: 0})


def test_base_with_negative_role_permissions_is_an_error() -> None:
    """A negative bit set is rejected rather than read as 'all bits'."""
    with pytest.raises(ValueError, match="non-negative"):
        guild_base(MEMBER, (10,), {GUILD: 0, 10: -1})


# --- channel permissions: table ------------------------------------------------------------

VIEW_SEND = P.VIEW_CHANNEL | P.SEND_MESSAGES
TEXT_USER = VIEW_SEND | SEND_DEPENDENTS | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS


@pytest.mark.parametrize(
    ("base", "overwrites", "roles", "expected"),
    [
        pytest.param(TEXT_USER, [], (), TEXT_USER, id="no-overwrites"),
        pytest.param(
            VIEW_SEND,
            [role_ow(GUILD, deny=P.SEND_MESSAGES)],
            (),
            P.VIEW_CHANNEL,
            id="everyone-deny",
        ),
        pytest.param(
            P.VIEW_CHANNEL,
            [role_ow(GUILD, allow=P.SEND_MESSAGES | P.ADD_REACTIONS)],
            (),
            VIEW_SEND | P.ADD_REACTIONS,
            id="everyone-allow",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(GUILD, allow=P.ADD_REACTIONS, deny=P.ADD_REACTIONS)],
            (),
            VIEW_SEND | P.ADD_REACTIONS,
            id="allow-beats-deny-in-one-overwrite",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(10, deny=P.VIEW_CHANNEL), role_ow(11, allow=P.VIEW_CHANNEL)],
            (10, 11),
            VIEW_SEND,
            id="docs-coolstuff-role-allow-beats-role-deny",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(GUILD, allow=P.ADD_REACTIONS), role_ow(10, deny=P.ADD_REACTIONS)],
            (10,),
            VIEW_SEND,
            id="role-deny-beats-everyone-allow",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(GUILD, allow=P.ADD_REACTIONS), role_ow(10, deny=P.ADD_REACTIONS)],
            (GUILD, 10),
            VIEW_SEND,
            id="everyone-in-role-list-applies-once",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(10, allow=P.ADD_REACTIONS), member_ow(deny=P.ADD_REACTIONS)],
            (10,),
            VIEW_SEND,
            id="member-deny-beats-role-allow",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(10, deny=P.SEND_MESSAGES), member_ow(allow=P.SEND_MESSAGES)],
            (10,),
            VIEW_SEND,
            id="member-allow-beats-role-deny",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(12, deny=P.VIEW_CHANNEL), member_ow(3, deny=P.VIEW_CHANNEL)],
            (10,),
            VIEW_SEND,
            id="others-overwrites-ignored",
        ),
        pytest.param(
            VIEW_SEND,
            [Overwrite(id=10, type=Overwrite.MEMBER, deny=P.VIEW_CHANNEL)],
            (10,),
            VIEW_SEND,
            id="member-overwrite-does-not-match-role-id",
        ),
        pytest.param(
            VIEW_SEND,
            [role_ow(MEMBER, deny=P.VIEW_CHANNEL)],
            (),
            VIEW_SEND,
            id="role-overwrite-does-not-match-member-id",
        ),
        pytest.param(
            VIEW_SEND | P.KICK_MEMBERS,
            [role_ow(GUILD, deny=P.VIEW_CHANNEL)],
            (),
            0,
            id="no-view-channel-means-nothing",
        ),
        pytest.param(
            TEXT_USER,
            [role_ow(GUILD, deny=P.SEND_MESSAGES)],
            (),
            P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS,
            id="no-send-drops-mention-tts-attach-embed",
        ),
        pytest.param(
            P.ADMINISTRATOR,
            [role_ow(GUILD, deny=ALL_PERMISSIONS), member_ow(deny=ALL_PERMISSIONS)],
            (),
            ALL_PERMISSIONS,
            id="administrator-bypasses-overwrites",
        ),
    ],
)
def test_channel_permissions_table(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], expected: int
) -> None:
    """Overwrites apply in the docs' order: @everyone, roles aggregated, member."""
    assert in_channel(base, overwrites, roles=roles) == expected


def test_timed_out_keeps_view_and_history_only() -> None:
    """A timed-out member keeps VIEW_CHANNEL and READ_MESSAGE_HISTORY, even over allows."""
    result = in_channel(
        TEXT_USER, [member_ow(allow=P.SEND_MESSAGES | P.MANAGE_MESSAGES)], timed_out=True
    )
    assert result == P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY


def test_timed_out_without_view_has_nothing() -> None:
    """A timed-out member who cannot view the channel has no permissions there."""
    assert in_channel(P.READ_MESSAGE_HISTORY, [], timed_out=True) == 0


def test_timed_out_administrator_is_exempt() -> None:
    """ADMINISTRATOR (and so the owner, whose base is all) is exempt from timeouts."""
    assert in_channel(P.ADMINISTRATOR, [], timed_out=True) == ALL_PERMISSIONS
    owner_base = base_permissions(
        guild_id=GUILD, owner_id=OWNER, member_id=OWNER, member_role_ids=(), role_permissions={}
    )
    assert in_channel(owner_base, [], timed_out=True) == ALL_PERMISSIONS


def test_timed_out_permissions_constant() -> None:
    """TIMED_OUT_PERMISSIONS is exactly VIEW_CHANNEL and READ_MESSAGE_HISTORY."""
    assert TIMED_OUT_PERMISSIONS == P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY


def test_thread_ignores_send_messages() -> None:
    """In a thread SEND_MESSAGES has no effect: without SEND_MESSAGES_IN_THREADS, no sending."""
    assert in_channel(TEXT_USER, [], in_thread=True) == (
        P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS
    )


def test_thread_send_messages_in_threads_without_send_messages() -> None:
    """Like an announcement thread: no SEND_MESSAGES, yet SEND_MESSAGES_IN_THREADS talks."""
    base = TEXT_USER | P.SEND_MESSAGES_IN_THREADS
    result = in_channel(base, [role_ow(GUILD, deny=P.SEND_MESSAGES)], in_thread=True)
    assert result == (base & ~P.SEND_MESSAGES)
    assert result & SEND_DEPENDENTS == SEND_DEPENDENTS


def test_thread_inherits_parent_view_channel() -> None:
    """A thread of a channel the member cannot view grants nothing."""
    base = TEXT_USER | P.SEND_MESSAGES_IN_THREADS
    assert in_channel(base, [member_ow(deny=P.VIEW_CHANNEL)], in_thread=True) == 0


def test_duplicate_overwrites_are_an_error() -> None:
    """Two overwrites for the same role in one channel raise a ValueError naming the role."""
    with pytest.raises(ValueError, match="two overwrites for role 10"):
        in_channel(VIEW_SEND, [role_ow(10), role_ow(10, allow=P.ADD_REACTIONS)], roles=(10,))


def test_negative_base_is_an_error() -> None:
    """A negative base bit set raises a ValueError."""
    with pytest.raises(ValueError, match="base permissions must be a non-negative"):
        in_channel(-1, [])


# --- missing_permissions and describe ------------------------------------------------------


def test_missing_permissions() -> None:
    """missing_permissions returns what is required and not held, as a Permission."""
    missing = missing_permissions(VIEW_SEND | P.EMBED_LINKS, P.VIEW_CHANNEL)
    assert missing == P.SEND_MESSAGES | P.EMBED_LINKS
    assert isinstance(missing, Permission)
    assert not missing_permissions(P.VIEW_CHANNEL, VIEW_SEND)


@pytest.mark.parametrize(
    ("permissions", "text"),
    [
        pytest.param(P.SEND_MESSAGES | P.EMBED_LINKS, "SEND_MESSAGES, EMBED_LINKS", id="two"),
        pytest.param(P.EMBED_LINKS | P.SEND_MESSAGES, "SEND_MESSAGES, EMBED_LINKS", id="bit-order"),
        pytest.param(0, "", id="empty"),
        pytest.param(
            P.KICK_MEMBERS | 1 << 47 | 1 << 60, "KICK_MEMBERS, bit 47, bit 60", id="unknown"
        ),
        pytest.param(P.BYPASS_SLOWMODE, "BYPASS_SLOWMODE", id="newest"),
    ],
)
def test_describe(permissions: int, text: str) -> None:
    """describe renders flag names in bit order, unknown bits by number."""
    assert describe(permissions) == text


# --- overwrite payloads --------------------------------------------------------------------


def test_overwrite_from_payload_as_discord_sends_it() -> None:
    """Strings for id, allow and deny, an integer type."""
    payload = {"id": "41771983423143936", "type": 0, "allow": "2048", "deny": "1024"}
    overwrite = Overwrite.from_payload(payload)
    assert overwrite == Overwrite(
        id=41771983423143936, type=0, allow=P.SEND_MESSAGES, deny=P.VIEW_CHANNEL
    )
    assert overwrite.to_payload() == payload


def test_overwrite_from_payload_accepts_integers() -> None:
    """Discord also accepts numbers for id, allow and deny."""
    overwrite = Overwrite.from_payload({"id": 5, "type": 1, "allow": 2048, "deny": 0})
    assert overwrite == Overwrite(id=5, type=1, allow=2048, deny=0)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"id": "5", "type": 1}, id="omitted"),
        pytest.param({"id": "5", "type": 1, "allow": None, "deny": None}, id="null"),
    ],
)
def test_overwrite_allow_deny_default_to_zero(payload: dict[str, Any]) -> None:
    """allow and deny may be omitted or null, which both mean "0"."""
    assert Overwrite.from_payload(payload) == Overwrite(id=5, type=1, allow=0, deny=0)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(["id", 1], "must be a JSON object, got list", id="not-object"),
        pytest.param({"type": 0}, "'id' is missing", id="no-id"),
        pytest.param({"id": None, "type": 0}, "'id' is missing", id="null-id"),
        pytest.param({"id": "5"}, "'type' is missing", id="no-type"),
        pytest.param(
            {"id": "5", "type": 2}, r"type must be 0 \(role\) or 1 \(member\), got 2", id="type-2"
        ),
        pytest.param({"id": "5", "type": "0"}, "type must be the integer", id="type-string"),
        pytest.param({"id": "5", "type": "role"}, "type must be the integer", id="type-name"),
        pytest.param({"id": "5", "type": True}, "type must be the integer", id="type-bool"),
        pytest.param(
            {"id": "abc", "type": 0}, "id must be a string of decimal digits", id="id-word"
        ),
        pytest.param(
            {"id": "-5", "type": 0}, "id must be a string of decimal digits", id="id-sign"
        ),
        pytest.param(
            {"id": " 5", "type": 0}, "id must be a string of decimal digits", id="id-space"
        ),
        pytest.param(
            {"id": "1_0", "type": 0}, "id must be a string of decimal digits", id="id-underscore"
        ),
        pytest.param(
            {"id": "\u0665", "type": 0},
            "id must be a string of decimal digits",
            id="id-arabic-digit",
        ),
        pytest.param({"id": "", "type": 0}, "id must be a string of decimal digits", id="id-empty"),
        pytest.param(
            {"id": 1.5, "type": 0},
            "id must be a decimal string or an integer, got float",
            id="id-float",
        ),
        pytest.param({"id": "0", "type": 0}, "id must be a snowflake", id="id-zero"),
        pytest.param({"id": str(1 << 64), "type": 0}, "id must be a snowflake", id="id-too-big"),
        pytest.param({"id": -5, "type": 0}, "id must not be negative", id="id-negative-int"),
        pytest.param(
            {"id": "5", "type": 0, "allow": "0x800"},
            "allow must be a string of decimal",
            id="allow-hex",
        ),
        pytest.param(
            {"id": "5", "type": 0, "allow": -1}, "allow must not be negative", id="allow-negative"
        ),
        pytest.param(
            {"id": "5", "type": 0, "deny": False},
            "deny must be a decimal string or an integer, got bool",
            id="deny-bool",
        ),
        pytest.param(
            {"id": "5", "type": 0, "deny": ["1"]}, "deny must be a decimal string", id="deny-list"
        ),
        pytest.param(
            {"id": "5", "type": 0, "allow": str(1 << 47)},
            "allow has bits that name no Discord permission: bit 47",
            id="allow-unknown-bit",
        ),
        pytest.param(
            {"id": "5", "type": 0, "deny": str(1 << 53)},
            "deny has bits that name no Discord permission: bit 53",
            id="deny-unknown-bit",
        ),
        pytest.param(
            {"id": "5", "type": 0, "allow": "9" * 40},
            "allow must be a string of decimal digits",
            id="allow-huge",
        ),
    ],
)
def test_bad_overwrite_payload_is_a_clear_error(payload: Any, message: str) -> None:
    """A malformed overwrite payload raises a ValueError that names the field and the problem."""
    with pytest.raises(ValueError, match=message):
        Overwrite.from_payload(payload)


# --- properties ----------------------------------------------------------------------------

ROLE_POOL = (10, 11, 12, 13)
MEMBER_POOL = (MEMBER, 3)

bit_sets = st.integers(min_value=0, max_value=ALL_PERMISSIONS).map(
    lambda bits: bits & ALL_PERMISSIONS
)
flags = st.sampled_from(list(Permission))
overwrite_lists = st.lists(
    st.one_of(
        st.builds(role_ow, st.sampled_from((GUILD, *ROLE_POOL)), allow=bit_sets, deny=bit_sets),
        st.builds(member_ow, st.sampled_from(MEMBER_POOL), allow=bit_sets, deny=bit_sets),
    ),
    unique_by=lambda overwrite: (overwrite.type, overwrite.id),
    max_size=7,
)
role_sets = st.lists(st.sampled_from((GUILD, *ROLE_POOL)), unique=True).map(tuple)
role_permission_maps = st.fixed_dictionaries(dict.fromkeys((GUILD, *ROLE_POOL), bit_sets))


def docs_reference(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], *, timed_out: bool
) -> int:
    """The docs' compute_overwrites pseudocode, transcribed, plus the implicit rules."""
    if base & P.ADMINISTRATOR == P.ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_id = {overwrite.id: overwrite for overwrite in overwrites}  # ids are unique in the pools
    permissions = base
    overwrite_everyone = by_id.get(GUILD)
    if overwrite_everyone:
        permissions &= ~overwrite_everyone.deny
        permissions |= overwrite_everyone.allow
    allow = deny = 0
    member_roles = [role_id for role_id in roles if role_id != GUILD]  # Discord never lists it
    for role_id in member_roles:
        overwrite_role = by_id.get(role_id)
        if overwrite_role:
            allow |= overwrite_role.allow
            deny |= overwrite_role.deny
    permissions &= ~deny
    permissions |= allow
    overwrite_member = by_id.get(MEMBER)
    if overwrite_member:
        permissions &= ~overwrite_member.deny
        permissions |= overwrite_member.allow
    if timed_out:
        permissions &= P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY
    if not permissions & P.SEND_MESSAGES:
        permissions &= ~SEND_DEPENDENTS
    if not permissions & P.VIEW_CHANNEL:
        permissions = 0
    return permissions


@given(base=bit_sets, overwrites=overwrite_lists, roles=role_sets, timed_out=st.booleans())
def test_matches_docs_pseudocode(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], timed_out: bool
) -> None:
    """channel_permissions equals the docs' pseudocode followed by the implicit rules."""
    expected = docs_reference(base, overwrites, roles, timed_out=timed_out)
    assert in_channel(base, overwrites, roles=roles, timed_out=timed_out) == expected


@given(
    role_permissions=role_permission_maps,
    roles=role_sets,
    admin_role=st.sampled_from((GUILD, *ROLE_POOL)),
    overwrites=overwrite_lists,
    timed_out=st.booleans(),
)
def test_administrator_in_any_role_gives_everything(
    role_permissions: dict[int, int],
    roles: tuple[int, ...],
    admin_role: int,
    overwrites: list[Overwrite],
    timed_out: bool,
) -> None:
    """ADMINISTRATOR on @everyone or any held role means all permissions in every channel."""
    role_permissions[admin_role] |= P.ADMINISTRATOR
    base = guild_base(MEMBER, (*roles, admin_role), role_permissions)
    assert base == ALL_PERMISSIONS
    assert in_channel(base, overwrites, roles=roles, timed_out=timed_out) == ALL_PERMISSIONS


@given(
    role_permissions=role_permission_maps,
    roles=role_sets,
    overwrites=overwrite_lists,
    timed_out=st.booleans(),
    in_thread=st.booleans(),
)
def test_owner_gets_everything(
    role_permissions: dict[int, int],
    roles: tuple[int, ...],
    overwrites: list[Overwrite],
    timed_out: bool,
    in_thread: bool,
) -> None:
    """The owner has all permissions whatever their roles, overwrites or timeout."""
    base = guild_base(OWNER, roles, role_permissions)
    assert base == ALL_PERMISSIONS
    result = channel_permissions(
        base,
        guild_id=GUILD,
        member_id=OWNER,
        member_role_ids=roles,
        overwrites=overwrites,
        timed_out=timed_out,
        in_thread=in_thread,
    )
    assert result == ALL_PERMISSIONS


@given(
    base=bit_sets,
    overwrites=overwrite_lists,
    roles=role_sets,
    target=st.integers(min_value=0, max_value=6),
    extra_deny=bit_sets,
    timed_out=st.booleans(),
    in_thread=st.booleans(),
)
def test_adding_a_deny_never_grants(
    base: int,
    overwrites: list[Overwrite],
    roles: tuple[int, ...],
    target: int,
    extra_deny: int,
    timed_out: bool,
    in_thread: bool,
) -> None:
    """Adding deny bits to an overwrite (or a deny-only overwrite) never adds a permission."""
    if target < len(overwrites):
        old = overwrites[target]
        changed = [*overwrites]
        changed[target] = Overwrite(
            id=old.id, type=old.type, allow=old.allow, deny=old.deny | extra_deny
        )
    elif not any(
        overwrite.type == Overwrite.MEMBER and overwrite.id == MEMBER for overwrite in overwrites
    ):
        changed = [*overwrites, member_ow(deny=extra_deny)]
    else:
        changed = overwrites
    before = in_channel(base, overwrites, roles=roles, timed_out=timed_out, in_thread=in_thread)
    after = in_channel(base, changed, roles=roles, timed_out=timed_out, in_thread=in_thread)
    assert after & ~before == 0


@given(base=bit_sets, roles=role_sets, role_allow=bit_sets, role_deny=bit_sets, flag=flags)
def test_member_overwrite_beats_role_overwrites(
    base: int, roles: tuple[int, ...], role_allow: int, role_deny: int, flag: Permission
) -> None:
    """Whatever the @everyone and role overwrites say, the member's allow and deny win."""
    others = [role_ow(role, allow=role_allow, deny=role_deny) for role in (GUILD, *ROLE_POOL)]
    base &= ~P.ADMINISTRATOR
    visible = P.VIEW_CHANNEL | P.SEND_MESSAGES | flag
    allowed = in_channel(base, [*others, member_ow(allow=visible)], roles=roles)
    assert allowed & visible == visible
    denied = in_channel(base, [*others, member_ow(deny=flag)], roles=roles)
    assert not denied & flag


@given(
    base=st.integers(min_value=0, max_value=(1 << 70) - 1),
    overwrites=overwrite_lists,
    roles=role_sets,
    timed_out=st.booleans(),
    in_thread=st.booleans(),
)
def test_result_is_within_all_permissions(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], timed_out: bool, in_thread: bool
) -> None:
    """No input, not even unknown bits in the base, yields a bit outside ALL_PERMISSIONS."""
    result = in_channel(base, overwrites, roles=roles, timed_out=timed_out, in_thread=in_thread)
    assert result & ~ALL_PERMISSIONS == 0


@given(
    base=bit_sets,
    overwrites=overwrite_lists,
    roles=role_sets,
    timed_out=st.booleans(),
    in_thread=st.booleans(),
)
def test_without_view_channel_nothing_unless_admin(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], timed_out: bool, in_thread: bool
) -> None:
    """A result without VIEW_CHANNEL is 0, unless ADMINISTRATOR made it everything."""
    result = in_channel(base, overwrites, roles=roles, timed_out=timed_out, in_thread=in_thread)
    if base & P.ADMINISTRATOR:
        assert result == ALL_PERMISSIONS
    else:
        assert result & P.VIEW_CHANNEL or result == 0
        if timed_out:
            assert result & ~TIMED_OUT_PERMISSIONS == 0


@given(
    base=bit_sets,
    overwrites=overwrite_lists,
    roles=role_sets,
    in_thread=st.booleans(),
)
def test_send_dependents_need_the_send_permission(
    base: int, overwrites: list[Overwrite], roles: tuple[int, ...], in_thread: bool
) -> None:
    """Mention-everyone, TTS, attach and embed never outlive the permission to send."""
    result = in_channel(base, overwrites, roles=roles, in_thread=in_thread)
    send = P.SEND_MESSAGES_IN_THREADS if in_thread else P.SEND_MESSAGES
    if base & P.ADMINISTRATOR:
        return
    if in_thread:
        assert not result & P.SEND_MESSAGES
    if not result & send:
        assert result & SEND_DEPENDENTS == 0


@given(overwrite=overwrite_lists.filter(bool).map(lambda overwrites: overwrites[0]))
def test_overwrite_payload_round_trips(overwrite: Overwrite) -> None:
    """from_payload(to_payload()) gives back the same overwrite."""
    assert Overwrite.from_payload(overwrite.to_payload()) == overwrite


@given(
    payload=st.dictionaries(
        st.sampled_from(("id", "type", "allow", "deny", "other")),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(1 << 70), max_value=1 << 70),
            st.text(alphabet="0123456789 +-_.xe\u0665", max_size=25),
            st.floats(),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_arbitrary_payload_parses_or_raises_value_error(payload: dict[str, Any]) -> None:
    """Any JSON-ish payload either parses into a valid overwrite or raises ValueError."""
    try:
        overwrite = Overwrite.from_payload(payload)
    except ValueError as error:
        message = str(error)
    else:
        message = ""
        assert overwrite.type in (Overwrite.ROLE, Overwrite.MEMBER)
        assert overwrite.allow & ~ALL_PERMISSIONS == 0
        assert overwrite.deny & ~ALL_PERMISSIONS == 0
    assert not message or message.startswith(("overwrite", "an overwrite"))


@given(required=bit_sets, have=bit_sets)
def test_missing_permissions_is_required_minus_have(required: int, have: int) -> None:
    """The missing flags plus the held ones cover the required ones, with no overlap."""
    missing = missing_permissions(required, have)
    assert missing & have == 0
    assert (missing | (required & have)) == required
    assert describe(missing).count(",") == max(bin(missing).count("1") - 1, 0)


# -- the sandbox state's checks over a seeded world ------------------------------------------

WORLD = {
    "users": [{"name": "ada"}, {"name": "bob"}, {"name": "cyd"}],
    "bots": [{"name": "helper"}, {"name": "other"}],
    "guilds": [
        {
            "name": "Lab",
            "owner": "ada",
            "roles": [{"name": "mods", "permissions": ["manage_threads"]}, {"name": "muted"}],
            "members": [
                {"user": "ada"},
                {"user": "bob", "roles": ["mods"]},
                {"user": "cyd", "roles": ["muted"]},
                {"user": "helper"},
                {"user": "other", "roles": ["mods"]},
            ],
            "channels": [
                {"name": "open", "type": "text"},
                {
                    "name": "hidden",
                    "type": "text",
                    "overwrites": [
                        {"role": "@everyone", "deny": ["view_channel"]},
                        {"member": "helper", "allow": ["view_channel"]},
                        {"role": "mods", "allow": ["view_channel"]},
                    ],
                },
                {
                    "name": "quiet",
                    "type": "text",
                    "overwrites": [{"role": "muted", "deny": ["view_channel"]}],
                },
                {"name": "side", "type": "public_thread", "parent": "hidden"},
                {"name": "secret", "type": "private_thread", "parent": "open", "owner": "bob"},
            ],
        }
    ],
    "dms": [{"between": ["ada", "helper"]}],
}


def test_viewer_test_agrees_with_can_view() -> None:
    """The fan-out's per-channel view test answers as can_view for every user and channel."""
    from discord_io.sandbox import Seed

    state = Seed.from_mapping(WORLD).build()
    answers = set()
    for channel in state.channels.values():
        sees = state.viewer_test(channel)
        for user_id in state.users:
            answers.add(expected := state.can_view(user_id, channel))
            assert sees(user_id) == expected, (channel.name, user_id)
    assert answers == {True, False}


@pytest.mark.parametrize(
    ("target", "kind", "allow"), [(0, 0, 0), (5, 2, 0), (5, 0, 1 << 47), (5, 1, -1)]
)
def test_stored_overwrites_are_validated_when_made(target: int, kind: int, allow: int) -> None:
    """The state's overwrites follow Overwrite's rules, so the hot check can read them as is."""
    from discord_io.sandbox._model import PermissionOverwrite

    with pytest.raises(ValueError, match="overwrite"):
        PermissionOverwrite(target, kind, allow)
    assert PermissionOverwrite(5, 1, int(P.VIEW_CHANNEL)).allow == P.VIEW_CHANNEL
