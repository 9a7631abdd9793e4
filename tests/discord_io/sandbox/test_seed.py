"""Seeds: the default world, YAML/JSON files, and errors that name the key and the fix."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from discord_io.sandbox import ChannelType, Seed, SeedError, default_seed
from discord_io.sandbox._snowflake import SnowflakeGenerator, parse_snowflake, snowflake_time

MINIMAL = """
users:
  - {name: ada}
bots:
  - {name: helper, privileged_intents: [message_content]}
guilds:
  - name: Lab
    owner: ada
    roles: [{name: mods, permissions: [manage_messages]}]
    members: [{user: ada, roles: [mods]}, {user: helper}]
    channels:
      - {name: Main, type: category}
      - {name: chat, type: text, parent: Main}
      - {name: talk, type: voice, parent: Main}
      - {name: board, type: forum, tags: [idea]}
      - {name: side, type: public_thread, parent: chat}
dms: [{between: [ada, helper]}]
"""


def test_default_seed_has_every_common_channel_type_and_several_bots() -> None:
    """The built-in seed has text, voice, category, announcement, forum, thread and DM channels."""
    state = default_seed().build()
    types = {c.type for c in state.channels.values()}
    assert {
        ChannelType.GUILD_TEXT,
        ChannelType.GUILD_VOICE,
        ChannelType.GUILD_CATEGORY,
        ChannelType.GUILD_ANNOUNCEMENT,
        ChannelType.GUILD_FORUM,
        ChannelType.PUBLIC_THREAD,
        ChannelType.DM,
    } <= types
    assert 3 <= len(state.bots) <= 5
    assert sum(1 for u in state.users.values() if not u.bot) >= 3


def test_default_seed_is_deterministic() -> None:
    """Two builds of the default seed have the same ids and tokens."""
    first, second = default_seed().build(), default_seed().build()
    assert list(first.channels) == list(second.channels)
    assert [b.token for b in first.bots.values()] == [b.token for b in second.bots.values()]


def test_tokens_look_like_discord_tokens() -> None:
    """A token is base64(user id) . timestamp . signature, like Discord's."""
    for bot in default_seed().build().bots.values():
        head, stamp, sig = bot.token.split(".")
        assert base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode() == str(bot.id)
        assert len(stamp) == 6
        assert len(sig) >= 27


def test_yaml_and_json_files_load_alike(tmp_path: Path) -> None:
    """The same seed as YAML and as JSON builds the same world."""
    import yaml

    yaml_file = tmp_path / "seed.yaml"
    yaml_file.write_text(MINIMAL)
    json_file = tmp_path / "seed.json"
    json_file.write_text(json.dumps(yaml.safe_load(MINIMAL)))
    a, b = Seed.load(yaml_file).build(), Seed.load(json_file).build()
    assert [c.name for c in a.channels.values()] == [c.name for c in b.channels.values()]
    helper = next(iter(a.bots.values()))
    assert helper.granted_intents == 1 << 15


@pytest.mark.parametrize(
    ("change", "where", "fix"),
    [
        pytest.param(("guilds", 0, "channels", 1, "type", "txt"), "guilds[0].channels[1].type",
                     "text, voice", id="channel-type"),
        pytest.param(("guilds", 0, "owner", "nobody"), "guilds[0].owner", "ada", id="owner"),
        pytest.param(("bots", 0, "privileged_intents", ["messages"]),
                     "bots[0].privileged_intents[0]", "message_content", id="intent"),
        pytest.param(("guilds", 0, "members", 0, "roles", ["admins"]),
                     "guilds[0].members[0].roles[0]", "mods", id="role"),
        pytest.param(("guilds", 0, "channels", 4, "parent", "talk"), "guilds[0].channels[4].parent",
                     "text", id="thread-parent"),
        pytest.param(("guilds", 0, "colour", 1), "guilds[0].colour", "name", id="unknown-key"),
        pytest.param(("bots", 0, "id", "12ab"), "bots[0].id", "digits", id="bad-id"),
        pytest.param(("guilds", 0, "channels", 1, "overwrites", [{"role": "mods", "allow": 2**47}]),
                     "guilds[0].channels[1].overwrites[0]", "permission bits",
                     id="overwrite-unknown-bit"),
    ],
)  # fmt: skip
def test_seed_errors_name_the_key_and_the_fix(
    change: tuple[object, ...], where: str, fix: str
) -> None:
    """Each mistake raises SeedError naming where it is and how to fix it."""
    import yaml

    data = yaml.safe_load(MINIMAL)
    *path, key, value = change
    node = data
    for part in path:
        node = node[part]
    node[key] = value
    with pytest.raises(SeedError) as caught:
        Seed.from_mapping(data)
    assert caught.value.where == where
    assert fix in caught.value.fix
    assert where in str(caught.value)


def test_seed_needs_a_bot() -> None:
    """A seed without bots is refused with a fix."""
    with pytest.raises(SeedError, match="at least one bot"):
        Seed.from_mapping({"users": [{"name": "x"}]})


def test_unreadable_seed_file_is_a_seed_error(tmp_path: Path) -> None:
    """A missing file and broken YAML are SeedErrors, not tracebacks."""
    with pytest.raises(SeedError, match="cannot read"):
        Seed.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("bots: [unclosed")
    with pytest.raises(SeedError, match="not valid"):
        Seed.load(broken)


def test_snowflakes_increase_and_encode_time() -> None:
    """Generated ids strictly increase and decode to the generator's clock."""
    gen = SnowflakeGenerator(clock=lambda: 1_700_000_000_000)
    ids = [gen.next() for _ in range(5000)]
    assert ids == sorted(set(ids))
    assert snowflake_time(ids[0]).year == 2023
    assert parse_snowflake(str(ids[0])) == ids[0]
    assert parse_snowflake("12a") is None
    assert parse_snowflake("9" * 21) is None
    assert parse_snowflake(True) is None  # noqa: FBT003 - a bool is not an id
