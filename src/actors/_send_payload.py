"""What an accepted send stores in the outbox: a JSON object, and back to the port's arguments.

The outbox keeps a send as JSON text (the Store's ``payload``), so everything a send carries
must survive a restart as JSON: ``content``; optionally ``reply_to`` (a message id),
``embeds`` (Discord embed objects), ``allowed_mentions`` (the four fields of
:class:`~actors.discord_port.AllowedMentions`, id lists as lists) and ``files`` (each
``{"filename", "data" (base64), "description"}``). :func:`send_payload` builds it,
:func:`send_arguments` reads it back; an old row without the optional keys reads as a plain
text send.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from actors.discord_port import AllowedMentions, FileUpload, JSONObject


@attrs.frozen
class SendArguments:
    """A stored send, as :meth:`~actors.discord_port.DiscordPort.send_message` takes it."""

    content: str
    reply_to: int | None = None
    embeds: tuple[JSONObject, ...] = ()
    allowed_mentions: AllowedMentions | None = None
    files: tuple[FileUpload, ...] = ()


def send_payload(
    content: str,
    *,
    reply_to: int | None = None,
    embeds: Sequence[JSONObject] = (),
    allowed_mentions: AllowedMentions | None = None,
    files: Sequence[FileUpload] = (),
) -> dict[str, Any]:
    """The outbox payload of one send."""
    payload: dict[str, Any] = {"content": content}
    if reply_to is not None:
        payload["reply_to"] = reply_to
    if embeds:
        payload["embeds"] = [dict(e) for e in embeds]
    if allowed_mentions is not None:
        payload["allowed_mentions"] = {
            "everyone": allowed_mentions.everyone,
            "users": _ids_or_flag(allowed_mentions.users),
            "roles": _ids_or_flag(allowed_mentions.roles),
            "replied_user": allowed_mentions.replied_user,
        }
    if files:
        payload["files"] = [
            {
                "filename": f.filename,
                "data": base64.b64encode(f.data).decode("ascii"),
                "description": f.description,
            }
            for f in files
        ]
    return payload


def send_arguments(payload: Mapping[str, Any]) -> SendArguments:
    """Read a stored payload back (see the module docstring for its keys)."""
    mentions = payload.get("allowed_mentions")
    return SendArguments(
        content=str(payload.get("content", "")),
        reply_to=payload.get("reply_to"),
        embeds=tuple(payload.get("embeds", ())),
        allowed_mentions=None
        if mentions is None
        else AllowedMentions(
            everyone=bool(mentions.get("everyone", False)),
            users=_flag_or_ids(mentions.get("users", False)),
            roles=_flag_or_ids(mentions.get("roles", False)),
            replied_user=bool(mentions.get("replied_user", False)),
        ),
        files=tuple(
            FileUpload(
                filename=str(f["filename"]),
                data=base64.b64decode(f["data"]),
                description=f.get("description"),
            )
            for f in payload.get("files", ())
        ),
    )


def _ids_or_flag(value: bool | tuple[int, ...]) -> bool | list[int]:
    return value if isinstance(value, bool) else list(value)


def _flag_or_ids(value: object) -> bool | tuple[int, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return tuple(int(v) for v in value)
    return False
