"""Any JSON sent to a guild endpoint gets Discord's answer: 2xx, or a 4xx error body; never 5xx.

(The conftest's autouse check also holds each answer, error bodies included, to the spec.)
"""

from __future__ import annotations

import json

import aiohttp
import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.discord_io.sandbox.channel_helpers import grant
from tests.discord_io.sandbox.guild_helpers import seed_guild, user_id

from discord_io.sandbox import Sandbox

pytestmark = [pytest.mark.anyio]

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["0", "1", "2", "15", "2030-01-01T00:00:00+00:00", "1191168914227331073"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = [
    *("name", "type", "topic", "rate_limit_per_user", "bitrate", "user_limit", "parent_id"),
    *("position", "nsfw", "permission_overwrites", "available_tags", "nick", "roles", "mute"),
    *("deaf", "channel_id", "communication_disabled_until", "permissions", "color", "colors"),
    *("hoist", "mentionable", "delete_message_seconds", "delete_message_days"),
    *("access_token", "id", "lock_permissions"),
]
_BODY = _JSON | st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=5)
_ENDPOINTS = [
    ("POST", "/guilds/{guild}/channels"),
    ("PATCH", "/guilds/{guild}/channels"),
    ("PATCH", "/guilds/{guild}/members/{bob}"),
    ("PATCH", "/guilds/{guild}/members/@me"),
    ("PUT", "/guilds/{guild}/members/{bob}"),
    ("POST", "/guilds/{guild}/roles"),
    ("PATCH", "/guilds/{guild}/roles"),
    ("PATCH", "/guilds/{guild}/roles/{moderator}"),
    ("PUT", "/guilds/{guild}/bans/{carol}"),
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    endpoint=st.sampled_from(_ENDPOINTS),
    body=_BODY | st.lists(st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=3), max_size=3),
    bot=st.sampled_from(["scribe", "sentinel"]),
)
async def test_any_body_gets_an_answer_never_a_5xx(
    sandbox: Sandbox, endpoint: tuple[str, str], body: object, bot: str
) -> None:
    """Whatever JSON a guild endpoint is sent, by an admin or a bot with no rights: no 5xx."""
    grant(sandbox, "scribe", "administrator")
    guild = seed_guild(sandbox)
    moderator = next(r.id for r in guild.roles.values() if r.name == "moderator")
    method, template = endpoint
    path = template.format(
        guild=guild.id,
        bob=user_id(sandbox, "bob"),
        carol=user_id(sandbox, "carol"),
        moderator=moderator,
    )
    headers = {
        "Authorization": f"Bot {sandbox.bot(bot).token}",
        "Content-Type": "application/json",
        "X-Audit-Log-Reason": "fuzz%20test",
    }
    with anyio.fail_after(10):
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.request(
                    method, sandbox.base_url + path, data=json.dumps(body), headers=headers
                ) as response:
                    status = response.status
                    answer = await response.json() if status != 204 else None
                if status != 429:
                    break
                await anyio.sleep(float(answer["retry_after"]))
    assert status < 500, answer
    if status >= 400:
        assert isinstance(answer["code"], int)
        assert isinstance(answer["message"], str)
