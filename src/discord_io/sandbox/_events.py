"""Gateway dispatches as the state publishes them, before fan-out picks the sessions.

A :class:`Dispatch` says what happened (``event``, ``data``) and who may hear it: sessions
whose intents include one of ``intents``, who are in ``guild_id`` (and its shard), who can view
``channel_id``, and, for direct messages, who are among ``user_ids``. Content-bearing events
carry ``redacted``, the payload for sessions without the message_content intent; ``sees_content``
names the users who get the full payload anyway (the author, mentioned users, DM recipients).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._model import JSONObject


@attrs.frozen
class Dispatch:
    """One gateway event on its way to every session allowed to receive it."""

    event: str
    data: JSONObject
    intents: int
    """The session needs one of these intent bits; 0 means every session gets it."""
    guild_id: int | None = None
    channel_id: int | None = None
    user_ids: frozenset[int] | None = None
    redacted: Callable[[], JSONObject] | None = None
    sees_content: frozenset[int] = frozenset()


Publisher = Callable[[Dispatch], None]
"""Where the state hands its dispatches (the gateway's fan-out, or nowhere)."""


def publish_nowhere(_: Dispatch) -> None:
    """The publisher of a state no gateway listens to."""
