"""The outbox payload of a send survives JSON and reads back as the same port arguments."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from actors._send_payload import SendArguments, send_arguments, send_payload
from actors.discord_port import AllowedMentions, FileUpload

ids = st.integers(min_value=0, max_value=2**64 - 1)
mentions = st.builds(
    AllowedMentions,
    everyone=st.booleans(),
    users=st.booleans() | st.lists(ids, max_size=5).map(tuple),
    roles=st.booleans() | st.lists(ids, max_size=5).map(tuple),
    replied_user=st.booleans(),
)
files = st.builds(
    FileUpload,
    filename=st.text(min_size=1, max_size=20),
    data=st.binary(max_size=200),
    description=st.none() | st.text(max_size=20),
)


@given(
    content=st.text(max_size=50),
    reply_to=st.none() | ids,
    mentions=st.none() | mentions,
    uploads=st.lists(files, max_size=3),
)
def test_round_trip_through_json(
    content: str,
    reply_to: int | None,
    mentions: AllowedMentions | None,
    uploads: list[FileUpload],
) -> None:
    """send_payload -> JSON text -> send_arguments gives back exactly what was sent."""
    payload = send_payload(
        content, reply_to=reply_to, allowed_mentions=mentions, files=uploads, embeds=()
    )
    stored = json.loads(json.dumps(payload))
    assert send_arguments(stored) == SendArguments(
        content=content, reply_to=reply_to, allowed_mentions=mentions, files=tuple(uploads)
    )


def test_an_old_row_reads_as_plain_text() -> None:
    """A row written before mentions and files existed reads as a plain text send."""
    assert send_arguments({"content": "hi", "embeds": [{"title": "t"}]}) == SendArguments(
        content="hi", embeds=({"title": "t"},)
    )
