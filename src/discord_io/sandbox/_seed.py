"""Seed files: the world a sandbox starts with, from YAML or JSON, checked before it is used.

A seed names things and refers to them by name; ids are made for you (the same ids on every
run, so tests and docs can rely on them) unless you give one. Shape::

    users:                      # humans
      - {name: alice, global_name: Alice, status: online}
    bots:                       # each gets a token (made for you unless given)
      - name: scribe
        privileged_intents: [message_content, guild_members, guild_presences]
    guilds:
      - name: Sandbox
        owner: alice
        everyone_permissions: [view_channel, send_messages, ...]   # optional
        roles: [{name: moderator, permissions: [manage_messages], color: 0x3498db}]
        members: all            # or a list: [{user: alice, roles: [moderator], nick: Al}]
        channels:
          - {name: Text, type: category}
          - name: general
            type: text          # text voice category announcement forum stage media
            parent: Text        #  public_thread private_thread announcement_thread
            overwrites: [{role: "@everyone", deny: [send_messages]}]
        voice_states: [{user: alice, channel: Lounge}]
        messages: [{channel: general, author: alice, content: hello}]
    dms: [{between: [alice, scribe]}]

Every mistake raises :class:`SeedError` naming the key (``guilds[0].channels[2].type``), what
is wrong, and how to fix it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from ._access import DEFAULT_EVERYONE, PERMISSION_BITS
from ._errors import DiscordError
from ._intents import PRIVILEGED_NAMES
from ._model import (
    THREAD_TYPES,
    Bot,
    Channel,
    ChannelType,
    Guild,
    Member,
    PermissionOverwrite,
    Role,
    ThreadInfo,
    User,
    VoiceState,
)
from ._snowflake import SnowflakeGenerator, parse_snowflake
from ._state import SandboxState

SEED_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
"""Seed ids encode this instant, so they sort before anything made at run time."""

CHANNEL_TYPES: Mapping[str, ChannelType] = {
    "text": ChannelType.GUILD_TEXT,
    "voice": ChannelType.GUILD_VOICE,
    "category": ChannelType.GUILD_CATEGORY,
    "announcement": ChannelType.GUILD_ANNOUNCEMENT,
    "announcement_thread": ChannelType.ANNOUNCEMENT_THREAD,
    "public_thread": ChannelType.PUBLIC_THREAD,
    "private_thread": ChannelType.PRIVATE_THREAD,
    "stage": ChannelType.GUILD_STAGE_VOICE,
    "forum": ChannelType.GUILD_FORUM,
    "media": ChannelType.GUILD_MEDIA,
}
STATUSES = ("online", "idle", "dnd", "offline")


class SeedError(ValueError):
    """A seed that cannot be used: where, what is wrong, and the fix."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        self.where, self.problem, self.fix = where, problem, fix
        super().__init__(f"seed {where}: {problem}. Fix: {fix}")


def make_token(user_id: int, name: str) -> str:
    """A deterministic, Discord-shaped bot token: base64(user id).timestamp.signature.

    Sandbox only: anyone who can read this function can make the token.
    """
    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    stamp = base64.urlsafe_b64encode((user_id >> 22).to_bytes(6, "big")[-4:]).decode()
    stamp = stamp.rstrip("=")
    digest = hashlib.sha256(f"mcp-discord-sandbox:{name}:{user_id}".encode()).digest()
    sig = base64.urlsafe_b64encode(digest).decode().rstrip("=")[:38]
    return f"{head}.{stamp}.{sig}"


@attrs.frozen
class Seed:
    """A checked seed; :meth:`build` makes a fresh world from it (each sandbox gets its own)."""

    data: Mapping[str, Any]
    source: str = "<seed>"

    @classmethod
    def from_mapping(cls, data: object, source: str = "<seed>") -> Seed:
        """Check a parsed seed (raises :class:`SeedError`)."""
        seed = cls(_mapping(data, "(top level)"), source)
        seed.build()
        return seed

    @classmethod
    def load(cls, path: str | Path) -> Seed:
        """Read a ``.yaml``/``.yml`` or ``.json`` seed file and check it."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SeedError(
                str(file), f"cannot read the file ({exc.strerror})", "check the path"
            ) from None
        try:
            is_json = file.suffix.lower() == ".json"
            data = json.loads(text) if is_json else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise SeedError(
                str(file), f"not valid {file.suffix or 'YAML'}: {exc}", "fix the syntax"
            ) from None
        return cls.from_mapping(data, str(file))

    def build(self, state: SandboxState | None = None) -> SandboxState:
        """Fill ``state`` (or a new one) with this seed's world."""
        state = state if state is not None else SandboxState()
        runtime, seed_ids = state.snowflakes, SnowflakeGenerator.fixed(SEED_EPOCH)
        state.snowflakes = seed_ids  # seed objects get the same ids on every run
        try:
            _Builder(state, seed_ids).build(self.data)
        finally:
            state.snowflakes = runtime
        runtime.observe(seed_ids.next())
        return state


def default_seed() -> Seed:
    """The built-in seed: a demo guild with every common channel type, humans and bots."""
    from ._default_seed import DEFAULT_SEED

    return Seed(DEFAULT_SEED, "<built-in default seed>")


# ----------------------------------------------------------------------------- checking


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SeedError(where, f"expected a mapping, got {type(value).__name__}", "use key: value")
    return value


def _list(value: object, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SeedError(where, f"expected a list, got {type(value).__name__}", "use a list")
    return value


def _keys(entry: Mapping[str, Any], where: str, allowed: Sequence[str]) -> None:
    for key in entry:
        if key not in allowed:
            raise SeedError(f"{where}.{key}", "unknown key", f"use one of: {', '.join(allowed)}")


def _str(entry: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value:
        if value is None:
            raise SeedError(f"{where}.{key}", "missing", f"add {key}: <text>")
        raise SeedError(f"{where}.{key}", f"expected text, got {value!r}", "quote it as text")
    return value


def _opt_str(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise SeedError(f"{where}.{key}", f"expected text, got {value!r}", "quote it as text")
    return value


def _bool(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise SeedError(
            f"{where}.{key}", f"expected true or false, got {value!r}", "use true/false"
        )
    return value


def _int(entry: Mapping[str, Any], key: str, where: str, default: int = 0) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SeedError(
            f"{where}.{key}", f"expected a whole number, got {value!r}", "use 0, 1, ..."
        )
    return value


def _permissions(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    names = _list(value, where)
    bits = 0
    for i, name in enumerate(names):
        if name not in PERMISSION_BITS:
            raise SeedError(
                f"{where}[{i}]",
                f"unknown permission {name!r}",
                f"use a bit set or names such as {', '.join(list(PERMISSION_BITS)[:6])} ...",
            )
        bits |= PERMISSION_BITS[name]
    return bits


@attrs.define
class _Builder:
    state: SandboxState
    ids: SnowflakeGenerator
    names: dict[str, int] = attrs.field(factory=dict)

    def new_id(self, entry: Mapping[str, Any], where: str) -> int:
        if "id" not in entry:
            return self.ids.next()
        value = parse_snowflake(entry["id"])
        if value is None or value == 0:
            raise SeedError(f"{where}.id", f"{entry['id']!r} is not a snowflake", "use digits only")
        self.ids.observe(value)
        return value

    def user(self, name: object, where: str) -> int:
        if not isinstance(name, str) or name not in self.names:
            known = ", ".join(self.names) or "none yet"
            raise SeedError(where, f"no user or bot named {name!r}", f"use one of: {known}")
        return self.names[name]

    def build(self, data: Mapping[str, Any]) -> None:
        _keys(data, "(top level)", ("users", "bots", "guilds", "dms"))
        for i, raw in enumerate(_list(data.get("users"), "users")):
            self.add_user(_mapping(raw, f"users[{i}]"), f"users[{i}]")
        bots = _list(data.get("bots"), "bots")
        if not bots:
            raise SeedError("bots", "a sandbox needs at least one bot", "add bots: [{name: mybot}]")
        for i, raw in enumerate(bots):
            self.add_bot(_mapping(raw, f"bots[{i}]"), f"bots[{i}]")
        for i, raw in enumerate(_list(data.get("guilds"), "guilds")):
            self.add_guild(_mapping(raw, f"guilds[{i}]"), f"guilds[{i}]")
        for i, raw in enumerate(_list(data.get("dms"), "dms")):
            where = f"dms[{i}]"
            entry = _mapping(raw, where)
            _keys(entry, where, ("between",))
            pair = _list(entry.get("between"), f"{where}.between")
            if len(pair) != 2:
                raise SeedError(f"{where}.between", "a DM is between two users", "list two names")
            a, b = (self.user(n, f"{where}.between[{j}]") for j, n in enumerate(pair))
            self.state.open_dm(a, b)

    def _claim(self, name: str, where: str) -> None:
        if name in self.names:
            raise SeedError(f"{where}.name", f"{name!r} is used twice", "give each a unique name")

    def add_user(self, entry: Mapping[str, Any], where: str) -> None:
        _keys(entry, where, ("name", "id", "global_name", "status"))
        name = _str(entry, "name", where)
        self._claim(name, where)
        status = _str(entry, "status", where, "online")
        if status not in STATUSES:
            raise SeedError(f"{where}.status", f"unknown status {status!r}", f"use {STATUSES}")
        user = User(
            id=self.new_id(entry, where),
            username=name,
            global_name=_opt_str(entry, "global_name", where),
            status=status,
        )
        self.state.add_user(user)
        self.names[name] = user.id

    def add_bot(self, entry: Mapping[str, Any], where: str) -> None:
        _keys(
            entry,
            where,
            ("name", "id", "application_id", "token", "privileged_intents", "description"),
        )
        name = _str(entry, "name", where)
        self._claim(name, where)
        user_id = self.new_id(entry, where)
        application_id = user_id
        if "application_id" in entry:
            application_id = self.new_id({"id": entry["application_id"]}, f"{where}.application")
        granted = 0
        for i, intent in enumerate(_list(entry.get("privileged_intents"), where)):
            if intent not in PRIVILEGED_NAMES:
                raise SeedError(
                    f"{where}.privileged_intents[{i}]",
                    f"unknown privileged intent {intent!r}",
                    f"use any of: {', '.join(PRIVILEGED_NAMES)}",
                )
            granted |= PRIVILEGED_NAMES[intent]
        token = _opt_str(entry, "token", where) or make_token(user_id, name)
        if self.state.bot_for_token(token) is not None:
            raise SeedError(f"{where}.token", "two bots share a token", "give each its own token")
        user = User(id=user_id, username=name, bot=True, status="offline")
        bot = Bot(
            user=user,
            token=token,
            application_id=application_id,
            granted_intents=granted,
            description=_opt_str(entry, "description", where) or "",
        )
        self.state.add_bot(bot)
        self.names[name] = user_id

    def add_guild(self, entry: Mapping[str, Any], where: str) -> None:
        _keys(
            entry,
            where,
            (
                "name",
                "id",
                "owner",
                "description",
                "everyone_permissions",
                "roles",
                "members",
                "channels",
                "voice_states",
                "messages",
                "system_channel",
            ),
        )
        name = _str(entry, "name", where)
        guild_id = self.new_id(entry, where)
        owner = self.user(entry.get("owner"), f"{where}.owner")
        guild = Guild(
            id=guild_id,
            name=name,
            owner_id=owner,
            description=_opt_str(entry, "description", where),
            created_at=SEED_EPOCH,
        )
        everyone = DEFAULT_EVERYONE
        if "everyone_permissions" in entry:
            everyone = _permissions(entry["everyone_permissions"], f"{where}.everyone_permissions")
        self.state.add_guild(guild)
        self.state.add_role(
            Role(id=guild_id, guild_id=guild_id, name="@everyone", permissions=everyone)
        )
        roles: dict[str, int] = {"@everyone": guild_id}
        for i, raw in enumerate(_list(entry.get("roles"), f"{where}.roles")):
            rw = f"{where}.roles[{i}]"
            role_entry = _mapping(raw, rw)
            _keys(role_entry, rw, ("name", "id", "permissions", "color", "hoist", "mentionable"))
            role_name = _str(role_entry, "name", rw)
            if role_name in roles:
                raise SeedError(f"{rw}.name", f"{role_name!r} is used twice", "rename one")
            role = Role(
                id=self.new_id(role_entry, rw),
                guild_id=guild_id,
                name=role_name,
                permissions=_permissions(role_entry.get("permissions", 0), f"{rw}.permissions"),
                position=i + 1,
                color=_int(role_entry, "color", rw),
                hoist=_bool(role_entry, "hoist", rw),
                mentionable=_bool(role_entry, "mentionable", rw),
            )
            self.state.add_role(role)
            roles[role_name] = role.id
        self._add_members(guild, entry.get("members", "all"), roles, f"{where}.members")
        channels = self._add_channels(guild, entry, roles, where)
        if "system_channel" in entry:
            guild.system_channel_id = self._channel(
                channels, entry["system_channel"], f"{where}.system_channel"
            )
        for i, raw in enumerate(_list(entry.get("voice_states"), f"{where}.voice_states")):
            vw = f"{where}.voice_states[{i}]"
            vs = _mapping(raw, vw)
            _keys(vs, vw, ("user", "channel", "self_mute", "self_deaf"))
            user_id = self.user(vs.get("user"), f"{vw}.user")
            if user_id not in guild.members:
                raise SeedError(f"{vw}.user", "not a member of this guild", "add them to members")
            channel_id = self._channel(channels, vs.get("channel"), f"{vw}.channel")
            if self.state.channels[channel_id].type not in (
                ChannelType.GUILD_VOICE,
                ChannelType.GUILD_STAGE_VOICE,
            ):
                raise SeedError(f"{vw}.channel", "not a voice channel", "name a voice channel")
            guild.voice_states[user_id] = VoiceState(
                user_id=user_id,
                channel_id=channel_id,
                session_id=hashlib.md5(f"{user_id}".encode(), usedforsecurity=False).hexdigest(),
                self_mute=_bool(vs, "self_mute", vw),
                self_deaf=_bool(vs, "self_deaf", vw),
            )
        for i, raw in enumerate(_list(entry.get("messages"), f"{where}.messages")):
            mw = f"{where}.messages[{i}]"
            msg = _mapping(raw, mw)
            _keys(msg, mw, ("channel", "author", "content"))
            channel_id = self._channel(channels, msg.get("channel"), f"{mw}.channel")
            author = self.user(msg.get("author"), f"{mw}.author")
            try:
                self.state.create_message(author, channel_id, content=_str(msg, "content", mw))
            except DiscordError as exc:
                raise SeedError(
                    mw, f"cannot post it ({exc})", "check channel and permissions"
                ) from None

    def _add_members(self, guild: Guild, raw: object, roles: Mapping[str, int], where: str) -> None:
        joined = SEED_EPOCH
        if raw == "all":
            entries: Sequence[Any] = [{"user": name} for name in self.names]
        else:
            entries = _list(raw, where)
        for i, item in enumerate(entries):
            mw = f"{where}[{i}]"
            entry = _mapping(item, mw)
            _keys(entry, mw, ("user", "roles", "nick"))
            user_id = self.user(entry.get("user"), f"{mw}.user")
            member_roles = []
            for j, role_name in enumerate(_list(entry.get("roles"), f"{mw}.roles")):
                if role_name not in roles or role_name == "@everyone":
                    raise SeedError(
                        f"{mw}.roles[{j}]",
                        f"no role named {role_name!r}",
                        f"use one of: {', '.join(r for r in roles if r != '@everyone') or 'none'}",
                    )
                member_roles.append(roles[role_name])
            user = self.state.users[user_id]
            if user.bot:
                managed = Role(
                    id=self.ids.next(),
                    guild_id=guild.id,
                    name=user.username,
                    position=len(guild.roles),
                    managed=True,
                    bot_id=user_id,
                )
                self.state.add_role(managed)
                member_roles.append(managed.id)
            self.state.add_member(
                Member(
                    user_id=user_id,
                    guild_id=guild.id,
                    roles=member_roles,
                    nick=_opt_str(entry, "nick", mw),
                    joined_at=joined,
                )
            )
        if guild.owner_id not in guild.members:
            raise SeedError(f"{where}", "the owner is not a member", "add the owner to members")

    def _channel(self, channels: Mapping[str, int], name: object, where: str) -> int:
        if not isinstance(name, str) or name not in channels:
            raise SeedError(
                where, f"no channel named {name!r}", f"use one of: {', '.join(channels) or 'none'}"
            )
        return channels[name]

    def _add_channels(
        self, guild: Guild, entry: Mapping[str, Any], roles: Mapping[str, int], where: str
    ) -> dict[str, int]:
        channels: dict[str, int] = {}
        for i, raw in enumerate(_list(entry.get("channels"), f"{where}.channels")):
            cw = f"{where}.channels[{i}]"
            spec = _mapping(raw, cw)
            _keys(
                spec,
                cw,
                (
                    "name",
                    "id",
                    "type",
                    "parent",
                    "topic",
                    "nsfw",
                    "overwrites",
                    "tags",
                    "owner",
                    "bitrate",
                    "user_limit",
                    "rate_limit_per_user",
                ),
            )
            name = _str(spec, "name", cw)
            if name in channels:
                raise SeedError(f"{cw}.name", f"{name!r} is used twice in this guild", "rename one")
            type_name = _str(spec, "type", cw, "text")
            if type_name not in CHANNEL_TYPES:
                raise SeedError(
                    f"{cw}.type",
                    f"unknown channel type {type_name!r}",
                    f"use one of: {', '.join(CHANNEL_TYPES)}",
                )
            kind = CHANNEL_TYPES[type_name]
            parent_id = None
            if "parent" in spec:
                parent_id = self._channel(channels, spec["parent"], f"{cw}.parent")
                parent = self.state.channels[parent_id]
                if kind in THREAD_TYPES:
                    if parent.type not in (
                        ChannelType.GUILD_TEXT,
                        ChannelType.GUILD_ANNOUNCEMENT,
                        ChannelType.GUILD_FORUM,
                        ChannelType.GUILD_MEDIA,
                    ):
                        raise SeedError(
                            f"{cw}.parent",
                            "threads live in text, announcement or forum channels",
                            "name a text, announcement or forum channel defined above",
                        )
                elif parent.type != ChannelType.GUILD_CATEGORY:
                    raise SeedError(
                        f"{cw}.parent",
                        "a channel's parent must be a category",
                        "name a category, or drop parent",
                    )
            elif kind in THREAD_TYPES:
                raise SeedError(
                    f"{cw}.parent",
                    "a thread needs a parent channel",
                    "add parent: <text or forum channel>",
                )
            channel = Channel(
                id=self.new_id(spec, cw),
                type=kind,
                guild_id=guild.id,
                name=name,
                position=sum(1 for c in channels.values() if self.state.channels[c].type == kind),
                parent_id=parent_id,
                topic=_opt_str(spec, "topic", cw),
                nsfw=_bool(spec, "nsfw", cw),
                rate_limit_per_user=_int(spec, "rate_limit_per_user", cw),
                bitrate=_int(spec, "bitrate", cw, 64000),
                user_limit=_int(spec, "user_limit", cw),
            )
            for j, tag in enumerate(_list(spec.get("tags"), f"{cw}.tags")):
                if not isinstance(tag, str):
                    raise SeedError(f"{cw}.tags[{j}]", "a tag is a name", "quote it as text")
                channel.available_tags.append(
                    {
                        "id": str(self.ids.next()),
                        "name": tag,
                        "moderated": False,
                        "emoji_id": None,
                        "emoji_name": None,
                    }
                )
            if kind in THREAD_TYPES:
                owner = self.user(spec.get("owner", self._owner_name(guild)), f"{cw}.owner")
                channel.thread = ThreadInfo(
                    owner_id=owner, create_timestamp=SEED_EPOCH, member_ids={owner}
                )
            for j, raw_ow in enumerate(_list(spec.get("overwrites"), f"{cw}.overwrites")):
                channel.permission_overwrites.append(
                    self._overwrite(
                        _mapping(raw_ow, f"{cw}.overwrites[{j}]"), roles, f"{cw}.overwrites[{j}]"
                    )
                )
            self.state.add_channel(channel)
            channels[name] = channel.id
        return channels

    def _owner_name(self, guild: Guild) -> str:
        return self.state.users[guild.owner_id].username

    def _overwrite(
        self, spec: Mapping[str, Any], roles: Mapping[str, int], where: str
    ) -> PermissionOverwrite:
        _keys(spec, where, ("role", "member", "allow", "deny"))
        if ("role" in spec) == ("member" in spec):
            raise SeedError(
                where,
                "an overwrite is for one role or one member",
                "give exactly one of role: or member:",
            )
        if "role" in spec:
            if spec["role"] not in roles:
                raise SeedError(
                    f"{where}.role",
                    f"no role named {spec['role']!r}",
                    f"use one of: {', '.join(roles)}",
                )
            target, kind = roles[spec["role"]], 0
        else:
            target, kind = self.user(spec["member"], f"{where}.member"), 1
        allow = _permissions(spec.get("allow", 0), f"{where}.allow")
        deny = _permissions(spec.get("deny", 0), f"{where}.deny")
        try:
            return PermissionOverwrite(id=target, type=kind, allow=allow, deny=deny)
        except ValueError as exc:  # a bit set naming no Discord permission
            raise SeedError(where, str(exc), "use only Discord's permission bits") from None
