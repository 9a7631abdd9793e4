"""The built-in seed: what ``mcp-discord sandbox`` serves when no ``--seed`` file is given.

A demo guild, "Sandbox Guild", with a category of text channels (one staff-only), an
announcement channel, a forum with tags, a voice channel with someone in it, a thread, and a
welcome message; three humans; four bots whose privileged intents differ so each intent's
effect can be tried. Bot tokens are made by ``make_token`` and are the same on every run: they
are sandbox-only and worthless against Discord.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SEED: dict[str, Any] = {
    "users": [
        {"name": "alice", "global_name": "Alice", "status": "online"},
        {"name": "bob", "global_name": "Bob", "status": "idle"},
        {"name": "carol", "global_name": "Carol", "status": "offline"},
    ],
    "bots": [
        {
            "name": "scribe",
            "description": "Sees everything: all privileged intents granted.",
            "privileged_intents": ["message_content", "guild_members", "guild_presences"],
        },
        {
            "name": "herald",
            "description": "Reads message content; no member list or presences.",
            "privileged_intents": ["message_content"],
        },
        {
            "name": "sentinel",
            "description": "No privileged intents: sees message content only when mentioned.",
            "privileged_intents": [],
        },
        {
            "name": "courier",
            "description": "Member list, no message content.",
            "privileged_intents": ["guild_members"],
        },
    ],
    "guilds": [
        {
            "name": "Sandbox Guild",
            "owner": "alice",
            "description": "A demo guild served by the mcp-discord sandbox.",
            "roles": [
                {
                    "name": "moderator",
                    "permissions": ["manage_messages", "kick_members", "manage_threads"],
                    "color": 0x3498DB,
                    "hoist": True,
                    "mentionable": True,
                },
                {"name": "agents", "permissions": ["manage_messages"], "color": 0x2ECC71},
            ],
            "members": [
                {"user": "alice", "roles": ["moderator"]},
                {"user": "bob"},
                {"user": "carol", "nick": "caz"},
                {"user": "scribe", "roles": ["agents"]},
                {"user": "herald", "roles": ["agents"]},
                {"user": "sentinel"},
                {"user": "courier"},
            ],
            "channels": [
                {"name": "Text Channels", "type": "category"},
                {
                    "name": "general",
                    "type": "text",
                    "parent": "Text Channels",
                    "topic": "Say hello.",
                },
                {
                    "name": "bot-lab",
                    "type": "text",
                    "parent": "Text Channels",
                    "topic": "Where agents try things.",
                },
                {
                    "name": "staff",
                    "type": "text",
                    "parent": "Text Channels",
                    "topic": "Moderators and agents only.",
                    "overwrites": [
                        {"role": "@everyone", "deny": ["view_channel"]},
                        {"role": "moderator", "allow": ["view_channel"]},
                        {"role": "agents", "allow": ["view_channel"]},
                    ],
                },
                {"name": "announcements", "type": "announcement", "parent": "Text Channels"},
                {
                    "name": "welcome-thread",
                    "type": "public_thread",
                    "parent": "general",
                    "owner": "alice",
                },
                {"name": "Forums", "type": "category"},
                {
                    "name": "ideas",
                    "type": "forum",
                    "parent": "Forums",
                    "topic": "One post per idea.",
                    "tags": ["feature", "bug", "question"],
                },
                {"name": "Voice Channels", "type": "category"},
                {"name": "Lounge", "type": "voice", "parent": "Voice Channels"},
            ],
            "system_channel": "general",
            "voice_states": [{"user": "bob", "channel": "Lounge"}],
            "messages": [
                {
                    "channel": "general",
                    "author": "alice",
                    "content": "Welcome to the sandbox! Bots: say hi in #bot-lab.",
                },
            ],
        }
    ],
    "dms": [{"between": ["alice", "scribe"]}],
}
