"""Guild-management objects in Discord's JSON shapes: bans, audit log entries, member events.

Like ``_serialize``: fresh JSON-ready dicts, ids as strings, shapes after the OpenAPI spec's
``GuildBanResponse``, ``GuildAuditLogResponse`` and ``AuditLogEntryResponse``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._model import AuditLogEntry, Ban, JSONObject, Member, User
from ._serialize import member_json, user_json


def ban_json(ban: Ban, user: User) -> JSONObject:
    """``GuildBanResponse``."""
    return {"user": user_json(user), "reason": ban.reason}


def audit_entry_json(entry: AuditLogEntry, guild_id: int | None = None) -> JSONObject:
    """``AuditLogEntryResponse`` (with ``guild_id`` for GUILD_AUDIT_LOG_ENTRY_CREATE)."""
    out: JSONObject = {
        "id": str(entry.id),
        "action_type": entry.action_type,
        "user_id": None if entry.user_id is None else str(entry.user_id),
        "target_id": None if entry.target_id is None else str(entry.target_id),
    }
    if entry.changes:
        out["changes"] = [dict(change) for change in entry.changes]
    if entry.options is not None:
        out["options"] = dict(entry.options)
    if entry.reason is not None:
        out["reason"] = entry.reason
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    return out


def audit_log_json(
    entries: Iterable[AuditLogEntry], users: Mapping[int, User], threads: Iterable[JSONObject] = ()
) -> JSONObject:
    """``GuildAuditLogResponse``: the entries and the users they mention."""
    listed = list(entries)
    mentioned: dict[int, User] = {}
    for entry in listed:
        for uid in (entry.user_id, entry.target_id):
            if uid is not None and uid in users:
                mentioned.setdefault(uid, users[uid])
    return {
        "audit_log_entries": [audit_entry_json(e) for e in listed],
        "users": [user_json(u) for u in mentioned.values()],
        "integrations": [],
        "webhooks": [],
        "guild_scheduled_events": [],
        "threads": list(threads),
        "application_commands": [],
        "auto_moderation_rules": [],
    }


def member_event_json(guild_id: int, member: Member, user: User) -> JSONObject:
    """GUILD_MEMBER_UPDATE's ``d``: the member with its user and ``guild_id``."""
    out = member_json(member, user)
    out["guild_id"] = str(guild_id)
    return out
