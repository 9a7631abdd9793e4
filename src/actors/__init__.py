"""The actor runtime and the domain actors. Imports neither ``discord`` nor ``mcp``.

The runtime is backend-neutral anyio: it runs on asyncio (production, because discord.py
needs it) and on trio (tests with a virtual clock). Everything outside this package reaches an
actor only through its :class:`Handle`.
"""

from actors._mailbox import (
    ActorError,
    ActorGoneError,
    AskTimeoutError,
    Handle,
    Mailbox,
    MailboxFullError,
    MailboxStatistics,
    Reply,
    open_mailbox,
)

__all__ = [
    "ActorError",
    "ActorGoneError",
    "AskTimeoutError",
    "Handle",
    "Mailbox",
    "MailboxFullError",
    "MailboxStatistics",
    "Reply",
    "open_mailbox",
]
