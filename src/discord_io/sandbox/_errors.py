"""Discord's REST errors: the exception the sandbox raises and the bodies it answers with.

Discord answers a failed request with a JSON body ``{"code": int, "message": str}`` and, for a
bad request body or bad parameters (code 50035, "Invalid Form Body"), an ``errors`` tree that
mirrors the input: ``{"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": ...}]}}``.
Route-less failures (unknown route, wrong method, bad token) carry code 0 and a message that
starts with the HTTP status, e.g. ``{"message": "404: Not Found", "code": 0}``.

Exception tree::

    DiscordError            an answer to send, with status, code, message and errors
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

JSONObject = dict[str, Any]


@attrs.define(eq=False)
class DiscordError(Exception):
    """A REST failure to answer with Discord's status and error body."""

    status: int
    code: int
    message: str
    errors: JSONObject | None = None

    def body(self) -> JSONObject:
        """The JSON error body."""
        out: JSONObject = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def http_error(status: int, reason: str) -> DiscordError:
    """A route-less failure, e.g. ``{"message": "404: Not Found", "code": 0}``."""
    return DiscordError(status, 0, f"{status}: {reason}")


UNAUTHORIZED = (401, "Unauthorized")
NOT_FOUND = (404, "Not Found")
METHOD_NOT_ALLOWED = (405, "Method Not Allowed")


def unknown(kind: str) -> DiscordError:
    """404 for an id that names nothing: ``unknown("Channel")`` → 10003 Unknown Channel."""
    return DiscordError(404, _UNKNOWN_CODES[kind], f"Unknown {kind}")


_UNKNOWN_CODES = {
    "Account": 10001,
    "Application": 10002,
    "Channel": 10003,
    "Guild": 10004,
    "Integration": 10005,
    "Invite": 10006,
    "Member": 10007,
    "Message": 10008,
    "Overwrite": 10009,
    "Role": 10011,
    "Token": 10012,
    "User": 10013,
    "Emoji": 10014,
    "Webhook": 10015,
    "Ban": 10026,
}


def missing_access() -> DiscordError:
    """403 50001: the bot cannot see the resource."""
    return DiscordError(403, 50001, "Missing Access")


def missing_permissions() -> DiscordError:
    """403 50013: the bot sees the resource but lacks a permission for the action."""
    return DiscordError(403, 50013, "Missing Permissions")


def cannot_edit_others() -> DiscordError:
    """403 50005: only a message's author may edit it."""
    return DiscordError(403, 50005, "Cannot edit a message authored by another user")


def empty_message() -> DiscordError:
    """400 50006: a message needs content, an embed, a file, a sticker or a poll."""
    return DiscordError(400, 50006, "Cannot send an empty message")


def non_text_channel() -> DiscordError:
    """400 50008: categories and forums hold no messages."""
    return DiscordError(400, 50008, "Cannot send messages in a non-text channel")


def invalid_json() -> DiscordError:
    """400 50109: the body is not JSON."""
    return DiscordError(400, 50109, "The request body contains invalid JSON.")


def entity_too_large() -> DiscordError:
    """413 40005: the request body is over the size limit."""
    return DiscordError(
        413, 40005, "Request entity too large. Try sending something smaller in size."
    )


def form_error(problems: Mapping[str, Sequence[tuple[str, str]]]) -> DiscordError:
    """400 50035 with an ``errors`` tree; keys are dotted paths (``embeds.0.title``)."""
    tree: JSONObject = {}
    for path, items in problems.items():
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
        node["_errors"] = [{"code": code, "message": message} for code, message in items]
    return DiscordError(400, 50035, "Invalid Form Body", tree)


def not_snowflake(field: str, value: str) -> DiscordError:
    """50035 for a path or query value that is not a snowflake, as Discord words it."""
    return form_error({field: [("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')]})
