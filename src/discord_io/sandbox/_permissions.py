"""Discord's permission arithmetic, computed the way Discord computes it.

Pure functions over integers: no I/O, no discord.py, no clock. The sandbox server asks this
module whether a member may do something in a channel; the answer must be the one real
Discord would give, because the sandbox exists to make tests against it mean something.

Sources: ``topics/permissions.mdx`` (flags, "Permission Overwrites", "Implicit Permissions",
"Inherited Permissions (Threads)", "Permissions For Timed Out Members"), ``topics/threads.mdx``
("Permissions") and ``resources/channel.mdx`` (the overwrite object) in discord-api-docs.

How Discord computes a member's permissions in a channel
--------------------------------------------------------
A permission set is a bit set (`Permission`); on the wire it is a decimal string.

**Base (guild-level) permissions** -- `base_permissions`:

1. The guild owner has every permission. Nothing else is consulted.
2. Start from the permissions of the @everyone role (its id is the guild id).
3. OR in the permissions of every role the member has. Role *positions* play no part here.
4. If the result has ``ADMINISTRATOR``, the member has every permission.

**Channel overwrites** -- `channel_permissions`, starting from the base. The docs' order of
application ("Permission Overwrites", steps 3-8):

5. ``ADMINISTRATOR`` in the base bypasses every overwrite: the member has every permission
   (this also covers the owner, whose base is all permissions).
6. The @everyone overwrite (a role overwrite whose id is the guild id): clear its ``deny``,
   then set its ``allow``.
7. The overwrites of all the member's other roles, *aggregated*: clear the union of their
   ``deny`` bits, then set the union of their ``allow`` bits. So if one role denies a bit and
   another allows it, the allow wins whatever the roles' positions are.
8. The member's own overwrite: clear its ``deny``, then set its ``allow``.

Every step is "clear deny, then set allow", so within one overwrite an allowed bit wins, and a
later step beats an earlier one: member overwrite > role overwrites > @everyone overwrite.

**After the overwrites** (only when step 5 did not short-circuit):

9. A timed-out member keeps only ``VIEW_CHANNEL`` and ``READ_MESSAGE_HISTORY``. Owners and
   administrators are exempt, which step 5 already guarantees.
10. In a thread, ``SEND_MESSAGES`` has no effect and is not inherited from the parent channel:
    it is cleared, and ``SEND_MESSAGES_IN_THREADS`` is the permission to talk. (A thread has no
    overwrites of its own; pass the parent channel's overwrites.)
11. Implicit denial: without the permission to send (``SEND_MESSAGES``, or in a thread
    ``SEND_MESSAGES_IN_THREADS``) the member also cannot use ``MENTION_EVERYONE``,
    ``SEND_TTS_MESSAGES``, ``ATTACH_FILES`` or ``EMBED_LINKS``; they are removed.
12. Implicit denial: without ``VIEW_CHANNEL`` the member has no permissions in the channel
    at all: the result is 0.

Because of step 12, a channel result says nothing about guild-wide abilities such as
``KICK_MEMBERS``; check those against `base_permissions` (masked with
`TIMED_OUT_PERMISSIONS` for a timed-out member who is neither owner nor administrator).

What is left out
----------------
- Voice and stage channels: the docs say denying ``CONNECT`` "implicitly denies other
  permissions such as MANAGE_CHANNEL" without listing them, so no rule is applied.
- Private threads: seeing one also needs thread membership or ``MANAGE_THREADS``; locked
  and archived threads have their own rules. Those depend on thread state, which the caller
  holds -- this module only computes the permission bits.
- Role hierarchy (who may kick, ban, assign or edit whom): a comparison of role positions,
  not of permission bits.
- Permission syncing of categories: a rule about how overwrites are *copied*, not computed.
- User-installed apps, application-command permissions, 2FA requirements for moderators.

Errors
------
Only ``ValueError``: a malformed overwrite payload, a member role the guild does not define,
a negative permission set, a duplicate overwrite. Each message names the offending value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Final, Protocol

import attrs

__all__ = [
    "ALL_PERMISSIONS",
    "TIMED_OUT_PERMISSIONS",
    "Overwrite",
    "OverwriteBits",
    "Permission",
    "base_permissions",
    "channel_permissions",
    "describe",
    "missing_permissions",
]


class Permission(enum.IntFlag):
    """Discord's permission flags, with Discord's names and bit values (bit 47 is unassigned)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
    USE_SOUNDBOARD = 1 << 42
    CREATE_GUILD_EXPRESSIONS = 1 << 43
    CREATE_EVENTS = 1 << 44
    USE_EXTERNAL_SOUNDS = 1 << 45
    SEND_VOICE_MESSAGES = 1 << 46
    SET_VOICE_CHANNEL_STATUS = 1 << 48
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50
    PIN_MESSAGES = 1 << 51
    BYPASS_SLOWMODE = 1 << 52


def _union(flags: Iterable[Permission]) -> int:
    bits = 0
    for flag in flags:
        bits |= flag.value
    return bits


ALL_PERMISSIONS: Final[int] = _union(Permission)
"""Every permission Discord defines; what the owner and administrators have."""

_NAMES: Final[dict[int, str]] = {flag.value: flag.name for flag in Permission if flag.name}

TIMED_OUT_PERMISSIONS: Final[int] = int(Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
"""All a timed-out member keeps, unless they are the owner or an administrator."""

_SEND_DEPENDENTS: Final[int] = int(
    Permission.MENTION_EVERYONE
    | Permission.SEND_TTS_MESSAGES
    | Permission.ATTACH_FILES
    | Permission.EMBED_LINKS
)
"""Implicitly denied when the member cannot send messages ("Implicit Permissions")."""

# Plain ints for the hot paths: ``int & IntFlag`` goes through enum's Python-level __rand__.
_ADMINISTRATOR: Final[int] = Permission.ADMINISTRATOR.value
_VIEW_CHANNEL: Final[int] = Permission.VIEW_CHANNEL.value
_SEND_MESSAGES: Final[int] = Permission.SEND_MESSAGES.value
_SEND_MESSAGES_IN_THREADS: Final[int] = Permission.SEND_MESSAGES_IN_THREADS.value

_DIGITS = re.compile(r"[0-9]{1,32}")  # ASCII digits only: int() would also take "+1", " 1", "1_0"
_MAX_SNOWFLAKE: Final[int] = (1 << 64) - 1


def _check_bits(what: str, bits: int) -> None:
    if bits < 0:
        raise ValueError(f"{what} must be a non-negative permission bit set, got {bits}")


def _check_overwrite_bits(_: Overwrite, attribute: attrs.Attribute[int], value: int) -> None:
    _check_bits(f"overwrite {attribute.name}", value)
    unknown = value & ~ALL_PERMISSIONS
    if unknown:
        raise ValueError(
            f"overwrite {attribute.name} has bits that name no Discord permission: "
            f"{describe(unknown)} (value {value})"
        )


def _check_overwrite_type(_: Overwrite, __: attrs.Attribute[int], value: int) -> None:
    if value not in (Overwrite.ROLE, Overwrite.MEMBER):
        raise ValueError(f"overwrite type must be 0 (role) or 1 (member), got {value!r}")


def _check_snowflake(_: Overwrite, __: attrs.Attribute[int], value: int) -> None:
    if not 0 < value <= _MAX_SNOWFLAKE:
        raise ValueError(f"overwrite id must be a snowflake (1 to 2**64 - 1), got {value}")


def _parse_uint(field: str, raw: object) -> int:
    """An unsigned integer sent as a decimal string or a JSON number, as Discord accepts both."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(
            f"overwrite {field} must be a decimal string or an integer, "
            f"got {type(raw).__name__} {raw!r}"
        )
    if isinstance(raw, str):
        if not _DIGITS.fullmatch(raw):
            raise ValueError(f"overwrite {field} must be a string of decimal digits, got {raw!r}")
        return int(raw)
    if raw < 0:
        raise ValueError(f"overwrite {field} must not be negative, got {raw}")
    return raw


@attrs.frozen
class Overwrite:
    """A channel's permission overwrite for one role (``type`` 0) or one member (``type`` 1).

    Within one overwrite ``deny`` is applied first and ``allow`` second, so a bit in both is
    allowed. Construction validates: bad values raise ``ValueError``.
    """

    ROLE: ClassVar[int] = 0
    MEMBER: ClassVar[int] = 1

    id: int = attrs.field(validator=_check_snowflake)
    type: int = attrs.field(validator=_check_overwrite_type)
    allow: int = attrs.field(default=0, validator=_check_overwrite_bits)
    deny: int = attrs.field(default=0, validator=_check_overwrite_bits)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Overwrite:
        """Read an overwrite object as Discord sends it (and as clients send it to Discord).

        ``id``, ``allow`` and ``deny`` are decimal strings (integers are accepted too);
        ``type`` is the integer 0 or 1; ``allow`` and ``deny`` may be missing or null, meaning
        "0". Unknown keys are ignored. Anything else raises ``ValueError`` naming the field.
        """
        if not isinstance(payload, Mapping):
            raise ValueError(f"an overwrite must be a JSON object, got {type(payload).__name__}")
        for required in ("id", "type"):
            if payload.get(required) is None:
                raise ValueError(f"overwrite {required!r} is missing: {dict(payload)!r}")
        kind = payload["type"]
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise ValueError(
                f"overwrite type must be the integer 0 (role) or 1 (member), got {kind!r}"
            )
        allow, deny = payload.get("allow"), payload.get("deny")
        return cls(
            id=_parse_uint("id", payload["id"]),
            type=kind,
            allow=0 if allow is None else _parse_uint("allow", allow),
            deny=0 if deny is None else _parse_uint("deny", deny),
        )

    def to_payload(self) -> dict[str, Any]:
        """The overwrite object as Discord sends it: snowflake and bit sets as strings."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


class OverwriteBits(Protocol):
    """What `channel_permissions` reads of an overwrite: an `Overwrite`, or any object holding
    the same four values already validated as one (the sandbox's stored overwrites are)."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def allow(self) -> int: ...
    @property
    def deny(self) -> int: ...


def base_permissions(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    role_permissions: Mapping[int, int],
) -> int:
    """A member's guild-level permissions: @everyone OR their roles; owner or admin -> all.

    ``role_permissions`` maps every role id of the guild to its bit set and must include
    @everyone (id == ``guild_id``). ``member_role_ids`` may or may not list @everyone. A role
    the guild does not define raises ``ValueError``. Timeouts are not applied here; see
    `channel_permissions` and `TIMED_OUT_PERMISSIONS`.
    """
    if member_id == owner_id:
        return ALL_PERMISSIONS
    if guild_id not in role_permissions:
        raise ValueError(f"role_permissions has no @everyone role (id {guild_id}, the guild id)")
    permissions = role_permissions[guild_id]
    if permissions < 0:  # hot path: call the (raising) check only when it will raise
        _check_bits(f"role {guild_id} (@everyone) permissions", permissions)
    for role_id in member_role_ids:
        bits = role_permissions.get(role_id)
        if bits is None:
            raise ValueError(
                f"member {member_id} has role {role_id}, which the guild does not define"
            )
        if bits < 0:
            _check_bits(f"role {role_id} permissions", bits)
        permissions |= bits
    if permissions & _ADMINISTRATOR:
        return ALL_PERMISSIONS
    return permissions & ALL_PERMISSIONS


def channel_permissions(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[OverwriteBits],
    timed_out: bool = False,
    in_thread: bool = False,
) -> int:
    """A member's permissions in one channel: ``base`` with the channel's overwrites applied.

    Order: ADMINISTRATOR in ``base`` -> all; @everyone overwrite; all role overwrites at once
    (union of denies cleared, then union of allows set); the member's overwrite; a timeout
    keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY; no permission to send -> no
    MENTION_EVERYONE, SEND_TTS_MESSAGES, ATTACH_FILES, EMBED_LINKS; no VIEW_CHANNEL -> 0.

    For a thread pass the parent channel's overwrites and ``in_thread=True``: SEND_MESSAGES
    is then cleared (it has no effect in threads) and SEND_MESSAGES_IN_THREADS is the
    permission to send. Private-thread membership and locked/archived threads are the
    caller's business, as is the voice-channel rule for CONNECT (the docs do not list what it
    denies). Two overwrites for the same role or member raise ``ValueError``.
    """
    if base < 0:
        _check_bits("base permissions", base)
    if base & _ADMINISTRATOR:
        return ALL_PERMISSIONS

    role_ids: frozenset[int] | None = None  # made when a role overwrite needs it
    everyone: OverwriteBits | None = None
    member: OverwriteBits | None = None
    roles_allow = roles_deny = 0
    seen: set[int] = set()
    for overwrite in overwrites:
        kind, target = overwrite.type, overwrite.id
        key = target << 1 | kind  # (type, id) as one int: type is 0 or 1
        if key in seen:
            name = "role" if kind == Overwrite.ROLE else "member"
            raise ValueError(f"two overwrites for {name} {target} in one channel")
        seen.add(key)
        if kind == Overwrite.MEMBER:
            if target == member_id:
                member = overwrite
        elif target == guild_id:  # before the role test: @everyone applies once, first
            everyone = overwrite
        else:
            if role_ids is None:
                role_ids = frozenset(member_role_ids)
            if target in role_ids:
                roles_allow |= overwrite.allow
                roles_deny |= overwrite.deny

    permissions = base & ALL_PERMISSIONS
    if everyone is not None:
        permissions = (permissions & ~everyone.deny) | everyone.allow
    permissions = (permissions & ~roles_deny) | roles_allow
    if member is not None:
        permissions = (permissions & ~member.deny) | member.allow

    if timed_out:
        permissions &= TIMED_OUT_PERMISSIONS
    send = _SEND_MESSAGES
    if in_thread:
        permissions &= ~_SEND_MESSAGES
        send = _SEND_MESSAGES_IN_THREADS
    if not permissions & send:
        permissions &= ~_SEND_DEPENDENTS
    if not permissions & _VIEW_CHANNEL:
        return 0
    return permissions


def missing_permissions(required: int, have: int) -> Permission:
    """The flags in ``required`` that ``have`` lacks (empty when nothing is missing)."""
    _check_bits("required permissions", required)
    _check_bits("held permissions", have)
    return Permission(required & ~have)


def describe(permissions: int) -> str:
    """Flag names in bit order for error messages, e.g. ``"SEND_MESSAGES, EMBED_LINKS"``.

    Bits that name no permission appear as ``"bit 47"``; an empty set gives ``""``.
    """
    _check_bits("permissions", permissions)
    return ", ".join(
        _NAMES.get(1 << bit, f"bit {bit}")
        for bit in range(permissions.bit_length())
        if permissions >> bit & 1
    )
