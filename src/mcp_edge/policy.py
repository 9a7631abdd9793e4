"""Per-agent policy: which tools an agent may call, in which channels, and how often.

An operator writes it per agent in the config file (``docs/policy.md``)::

    agents:
      - name: scribe
        profile: chatter            # reader | chatter | moderator | admin | compat
        grant: [pin_message]        # extra tools on top of the profile
        deny: [send_dm]             # tools taken away
        # tools: [read_messages]    # OR exactly these tools (profile, grant ignored)
        channels:
          allow: ["bot-*", "123456789012345678"]   # ids or name globs (fnmatch, no case)
          deny: [staff]
          guilds: {"Sandbox Guild": {deny: [announcements]}}   # by guild id or name
        dms: false                  # DM channels refused (default true)
        quotas: {calls_per_minute: 60, sends_per_day: 500}

Tools. A *profile* is a named set of tool names (:data:`PROFILES`): ``reader`` has the
read-only tools (but list_bans and list_webhooks, kept for moderators and admins), ``chatter``
adds talking (sends, own edits, reactions, threads, DMs, bulk and scheduled sends, presence),
``moderator`` adds message and member moderation (and cancel_scheduled), ``admin`` has the
whole catalog, ``compat`` the prototype's tool names. ``tools`` (when given) replaces the
profile; ``grant`` adds to it and ``deny`` removes from it. Destructive tools (annotation
``destructive_hint``) are never part of ``reader`` or ``chatter``: the sets leave them out, and
:meth:`Policy.note_tool` removes any tool the server registers as destructive from those two
profiles too, so only a ``moderator``/``admin`` profile or an explicit ``grant``/``tools``
entry turns one on. The catalog (:data:`CATALOG`) is static so the config can be checked
before a server runs; a test checks it against the registered tools.

``dms: false`` also withholds the DM-only tools (:data:`DM_TOOLS`).

Channels. A call with a ``channel_id``, ``channel_ids``, ``thread_id`` or ``forum_id``
argument is judged per channel (:meth:`Policy.check_channel`): a thread by its parent
channel; a DM channel by ``dms``; a guild channel by the global ``channels`` rules and then by
the rules of its guild (``guilds``, keyed by guild id or name), both of which must pass. In one
rule set, ``deny`` wins over ``allow``; a non-empty ``allow`` admits only what it matches. An
entry of digits is a channel id; anything else is a glob on the channel's name (a leading
``#`` is ignored). A denial names the rule that refused. Outputs that list channels or carry a
``channel_id`` (list_channels, get_guild, wait_for_events, search_messages ...) are filtered
by the same rules, so a denied channel is invisible.

Quotas. ``calls_per_minute`` is a token bucket of that capacity refilled over a minute;
``sends_per_day`` likewise over a day, charged by the sending tools (:data:`SEND_TOOLS`), one
per message (a ``send_messages`` call counts each of its messages). Both
use :class:`actors.TokenBucket` on ``anyio.current_time()``, so tests run them on a virtual
clock. An exhausted quota refuses at once with the seconds to wait.

An agent the policy does not know gets the ``chatter`` profile and no channel limits.

Errors (all are ToolErrors: the model reads them)::

    ToolError
     └── PolicyError              refused by this agent's policy (audit outcome ``denied``)
          ├── ToolNotGrantedError   the tool is not in the agent's tool set
          ├── ChannelDeniedError    a channel rule (or ``dms: false``) refuses the channel
          └── QuotaExceededError    calls_per_minute / sends_per_day spent; retry_after says when
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping

import attrs
from mcp.server.mcpserver.exceptions import ToolError

from actors import RetryLaterError, TokenBucket

CORE_TOOLS = (
    "list_guilds",
    "get_guild",
    "list_channels",
    "get_channel",
    "list_members",
    "get_member",
    "send_message",
    "read_messages",
    "edit_message",
    "delete_message",
    "add_reaction",
    "remove_reaction",
    "wait_for_events",
    "server_status",
)
ISSUE6_TOOLS = (
    "create_thread",
    "create_forum_post",
    "list_threads",
    "update_thread",
    "pin_message",
    "unpin_message",
    "list_pins",
    "bulk_delete_messages",
    "list_reactions",
    "search_messages",
    "create_channel",
    "update_channel",
    "delete_channel",
    "set_channel_permissions",
    "list_roles",
    "create_role",
    "update_role",
    "delete_role",
    "add_role",
    "remove_role",
    "timeout_member",
    "kick_member",
    "ban_member",
    "unban_member",
    "list_bans",
    "create_webhook",
    "list_webhooks",
    "delete_webhook",
    "send_webhook_message",
    "list_voice_states",
    "send_dm",
    "read_dms",
    "send_messages",
    "schedule_message",
    "list_scheduled",
    "cancel_scheduled",
    "set_agent_presence",
    "set_agent_profile",
    "whoami",
)
CATALOG: tuple[str, ...] = CORE_TOOLS + ISSUE6_TOOLS
"""Every tool of the main server, by name."""

COMPAT_TOOLS: frozenset[str] = frozenset(
    {
        "get_server_info",
        "list_members",
        "add_role",
        "remove_role",
        "create_text_channel",
        "delete_channel",
        "send_message",
        "read_messages",
        "moderate_message",
        "add_reaction",
        "add_multiple_reactions",
        "remove_reaction",
        "get_user_info",
        "list_channels",
        "get_self_info",
    }
)
"""The prototype's tool names (served by the compat server)."""

KNOWN_TOOLS: tuple[str, ...] = tuple(sorted(set(CATALOG) | COMPAT_TOOLS))
"""Every tool name a config may mention."""

READER: frozenset[str] = frozenset(
    {
        "list_guilds",
        "get_guild",
        "list_channels",
        "get_channel",
        "list_members",
        "get_member",
        "read_messages",
        "wait_for_events",
        "server_status",
        "list_threads",
        "list_pins",
        "list_reactions",
        "search_messages",
        "list_roles",
        "list_voice_states",
        "read_dms",
        "list_scheduled",
        "whoami",
    }
)
CHATTER: frozenset[str] = READER | {
    "send_message",
    "edit_message",
    "add_reaction",
    "create_thread",
    "create_forum_post",
    "send_dm",
    "send_messages",
    "schedule_message",
    "set_agent_presence",
}
MODERATOR: frozenset[str] = CHATTER | {
    "cancel_scheduled",
    "delete_message",
    "bulk_delete_messages",
    "pin_message",
    "unpin_message",
    "update_thread",
    "remove_reaction",
    "timeout_member",
    "kick_member",
    "ban_member",
    "unban_member",
    "list_bans",
}
ADMIN: frozenset[str] = frozenset(CATALOG)
PROFILES: Mapping[str, frozenset[str]] = {
    "reader": READER,
    "chatter": CHATTER,
    "moderator": MODERATOR,
    "admin": ADMIN,
    "compat": COMPAT_TOOLS,
}
DEFAULT_PROFILE = "chatter"
SAFE_PROFILES = frozenset({"reader", "chatter"})
"""Profiles that never include a destructive tool."""

SEND_TOOLS: frozenset[str] = frozenset(
    {"send_message", "send_messages", "send_dm", "send_webhook_message", "schedule_message"}
)
"""Tools that post messages: each call spends one of ``sends_per_day``."""

DM_TOOLS: frozenset[str] = frozenset({"send_dm", "read_dms"})
"""Tools that only touch direct messages: withheld from an agent with ``dms: false``."""

CHANNEL_ARGUMENTS = ("channel_id", "channel_ids", "thread_id", "forum_id")
"""Tool arguments whose channels the channel rules judge."""

THREAD_TYPES = frozenset({10, 11, 12})
"""Discord channel types of threads (judged by their parent channel)."""

MINUTE = 60.0
DAY = 86_400.0


class PolicyError(ToolError):
    """The call was refused by the calling agent's policy."""


class ToolNotGrantedError(PolicyError):
    """The tool is not in the agent's tool set."""


class ChannelDeniedError(PolicyError):
    """A channel rule refuses the channel."""


class QuotaExceededError(PolicyError):
    """A quota of the agent is spent; ``retry_after`` seconds until it allows one more."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@attrs.frozen
class ChannelRules:
    """One allow/deny pair: entries are channel ids (digits) or name globs."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.allow and not self.deny


@attrs.frozen
class ChannelAcl:
    """The global channel rules and those of particular guilds (keyed by id or name)."""

    rules: ChannelRules = ChannelRules()
    guilds: tuple[tuple[str, ChannelRules], ...] = ()

    @property
    def empty(self) -> bool:
        return self.rules.empty and all(r.empty for _, r in self.guilds)


@attrs.frozen
class Quotas:
    """Per-agent call and send budgets (None: unlimited)."""

    calls_per_minute: int | None = None
    sends_per_day: int | None = None


@attrs.frozen
class ChannelFacts:
    """What the channel rules need to know about a channel (a thread's are its parent's)."""

    id: int
    name: str | None
    guild_id: int | None
    guild_name: str | None = None
    thread_id: int | None = None
    """Set when the channel asked about was this thread of channel ``id``."""

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None


@attrs.frozen
class AgentPolicy:
    """One agent's effective policy."""

    agent: str
    profile: str = DEFAULT_PROFILE
    explicit: tuple[str, ...] | None = None
    """The config's ``tools`` list (exactly these tools), if given."""
    grant: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    channels: ChannelAcl = ChannelAcl()
    dms: bool = True
    quotas: Quotas = Quotas()

    @property
    def restricts_channels(self) -> bool:
        return not self.channels.empty or not self.dms

    def tools(self, destructive: Iterable[str] = ()) -> frozenset[str]:
        """The granted tool names; ``destructive`` tools are dropped from safe profiles."""
        if self.explicit is not None:
            base = frozenset(self.explicit)
        else:
            base = PROFILES[self.profile]
            if self.profile in SAFE_PROFILES:
                base = base - frozenset(destructive)
            base = base | frozenset(self.grant)
        if not self.dms:
            base = base - DM_TOOLS
        return base - frozenset(self.deny)

    def describe(self) -> str:
        return "explicit tools list" if self.explicit is not None else f"profile {self.profile}"

    def not_granted(self, tool: str) -> ToolNotGrantedError:
        """The error for a call of ``tool``, with the config change that would allow it."""
        who = f"tool {tool} is not granted to agent {self.agent} ({self.describe()})"
        if tool in self.deny:
            fix = f"remove {tool} from the agent's `deny` list in the server config"
        elif tool in DM_TOOLS and not self.dms:
            fix = "set `dms: true` for the agent (direct messages are off)"
        elif self.explicit is not None:
            fix = f"add {tool} to the agent's `tools` list in the server config"
        else:
            profile = next(
                (p for p in ("reader", "chatter", "moderator", "admin") if tool in PROFILES[p]),
                None,
            )
            fix = f"grant it with `grant: [{tool}]`"
            if profile is not None and profile != self.profile:
                fix += f" or profile {profile}"
        return ToolNotGrantedError(
            f"{who}: ask the server's operator to {fix}. Other tools of yours still work."
        )

    def channel_verdict(self, facts: ChannelFacts) -> str | None:
        """None if the channel is allowed, else the rule that refuses it."""
        if facts.is_dm:
            return None if self.dms else "dms: false (direct messages are off for this agent)"
        refusal = _judge(self.channels.rules, facts, "channels")
        if refusal is not None:
            return refusal
        for key, rules in self.channels.guilds:
            if key == str(facts.guild_id) or (
                facts.guild_name is not None and key.casefold() == facts.guild_name.casefold()
            ):
                refusal = _judge(rules, facts, f"channels.guilds[{key!r}]")
                if refusal is not None:
                    return refusal
        return None


def _matches(entry: str, facts: ChannelFacts) -> bool:
    entry = entry.strip()
    if entry.isdigit():
        return int(entry) == facts.id or (
            facts.thread_id is not None and int(entry) == facts.thread_id
        )
    if facts.name is None:
        return False
    return fnmatch.fnmatchcase(facts.name.casefold(), entry.removeprefix("#").casefold())


def _judge(rules: ChannelRules, facts: ChannelFacts, where: str) -> str | None:
    for entry in rules.deny:
        if _matches(entry, facts):
            return f"{where}.deny entry {entry!r}"
    if rules.allow and not any(_matches(entry, facts) for entry in rules.allow):
        return f"{where}.allow (it matches none of {', '.join(repr(e) for e in rules.allow)})"
    return None


@attrs.define(eq=False)
class Policy:
    """Every agent's policy, the quota buckets, and the tools the server registered."""

    agents: Mapping[str, AgentPolicy] = attrs.field(factory=dict)
    _destructive: set[str] = attrs.field(factory=set, init=False)
    _registered: set[str] = attrs.field(factory=set, init=False)
    _buckets: dict[tuple[str, str], TokenBucket] = attrs.field(factory=dict, init=False)
    _grants: dict[str, frozenset[str]] = attrs.field(factory=dict, init=False)

    @classmethod
    def of(cls, agents: Iterable[AgentPolicy]) -> Policy:
        return cls({a.agent: a for a in agents})

    def note_tool(self, name: str, *, destructive: bool) -> None:
        """The server registered ``name`` (the kit calls this for every tool)."""
        self._registered.add(name)
        if destructive:
            self._destructive.add(name)
        self._grants.clear()

    def agent(self, name: str) -> AgentPolicy:
        return self.agents.get(name) or AgentPolicy(agent=name)

    def granted(self, agent: str) -> frozenset[str]:
        """The tool names ``agent`` may call (and see in tools/list)."""
        tools = self._grants.get(agent)
        if tools is None:
            tools = self._grants[agent] = self.agent(agent).tools(self._destructive)
        return tools

    def check_tool(self, agent: str, tool: str) -> None:
        """Raise :class:`ToolNotGrantedError` unless ``agent`` may call ``tool``."""
        if tool not in self.granted(agent):
            raise self.agent(agent).not_granted(tool)

    def check_channel(self, agent: str, facts: ChannelFacts) -> None:
        """Raise :class:`ChannelDeniedError` if a channel rule of ``agent`` refuses ``facts``."""
        policy = self.agent(agent)
        refusal = policy.channel_verdict(facts)
        if refusal is None:
            return
        if facts.thread_id is not None:
            where = f"#{facts.name}" if facts.name else f"channel {facts.id}"
            what = f"thread {facts.thread_id} (in {where})"
        else:
            what = f"channel {facts.id}" + (f" (#{facts.name})" if facts.name else "")
        raise ChannelDeniedError(
            f"{what} is not allowed for agent {agent}: refused by {refusal}. "
            "Use another channel (list_channels shows the ones you may use), or ask the "
            "server's operator to change the rule."
        )

    def allows_channel(self, agent: str, facts: ChannelFacts) -> bool:
        return self.agent(agent).channel_verdict(facts) is None

    def restricts_channels(self, agent: str) -> bool:
        return self.agent(agent).restricts_channels

    def check_quota(self, agent: str, tool: str, sends: int = 1) -> None:
        """Spend one call, and ``sends`` sends for :data:`SEND_TOOLS` (a bulk send counts its
        messages), or raise QuotaExceededError having spent nothing."""
        quotas = self.agent(agent).quotas
        spend: list[tuple[TokenBucket, int]] = []
        if quotas.calls_per_minute is not None:
            bucket = self._bucket(agent, "calls_per_minute", quotas.calls_per_minute, MINUTE)
            spend.append((bucket, 1))
        if quotas.sends_per_day is not None and tool in SEND_TOOLS:
            bucket = self._bucket(agent, "sends_per_day", quotas.sends_per_day, DAY)
            spend.append((bucket, max(1, sends)))
        for bucket, n in spend:  # check every bucket first: a refused call spends nothing
            if n > bucket.capacity:
                raise QuotaExceededError(
                    f"this {tool} call holds {n} messages, more than agent {agent}'s whole "
                    f"{bucket.name} quota: nothing was done; send fewer at a time",
                    math.inf,
                )
            wait = bucket.wait_time(n)
            if wait > 0:
                raise QuotaExceededError(
                    f"agent {agent} has used its {bucket.name} quota: nothing was done; "
                    f"call {tool} again in {_seconds(wait)} (or ask the server's operator "
                    "for a larger quota)",
                    wait,
                )
        for bucket, n in spend:
            try:
                bucket.acquire_nowait(n)
            except RetryLaterError as exc:  # pragma: no cover - checked just above
                raise QuotaExceededError(str(exc), exc.retry_after) from exc

    def _bucket(self, agent: str, kind: str, amount: int, period: float) -> TokenBucket:
        bucket = self._buckets.get((agent, kind))
        if bucket is None:
            bucket = self._buckets[(agent, kind)] = TokenBucket(
                amount / period, amount, name=f"{kind} ({amount})"
            )
        return bucket


def _seconds(wait: float) -> str:
    if math.isinf(wait):
        return "a while"
    return f"{math.ceil(wait * 10) / 10:g} s"


def closest_tool(name: str) -> str | None:
    """The known tool name nearest to a mistyped ``name``."""
    import difflib

    match = difflib.get_close_matches(name, KNOWN_TOOLS, n=1, cutoff=0.6)
    return match[0] if match else None


__all__ = [
    "CATALOG",
    "CHANNEL_ARGUMENTS",
    "COMPAT_TOOLS",
    "DM_TOOLS",
    "KNOWN_TOOLS",
    "PROFILES",
    "SEND_TOOLS",
    "AgentPolicy",
    "ChannelAcl",
    "ChannelDeniedError",
    "ChannelFacts",
    "ChannelRules",
    "Policy",
    "PolicyError",
    "QuotaExceededError",
    "Quotas",
    "ToolNotGrantedError",
    "closest_tool",
]
