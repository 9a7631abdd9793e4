"""The actor runtime and the domain actors. Imports neither ``discord`` nor ``mcp``.

The runtime is backend-neutral anyio: it runs on asyncio (production, because discord.py
needs it) and on trio (tests with a virtual clock). Everything outside this package reaches an
actor only through its :class:`Handle`.
"""

from actors._bucket import BucketStatistics, DiscordBucket, Permit
from actors._keyed import (
    KeyedChildStatistics,
    KeyedSupervisor,
    KeyedSupervisorStatistics,
    TooManyChildrenError,
)
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
from actors._ratelimit import (
    RateLimitError,
    RateLimitHeaderError,
    RateLimitHeaders,
    RateLimitScope,
    RetryLaterError,
)
from actors._supervisor import (
    Actor,
    ChildSpec,
    ChildStatistics,
    Restart,
    RestartIntensityError,
    Strategy,
    Supervisor,
    SupervisorState,
    SupervisorStatistics,
)
from actors._token_bucket import TokenBucket, TokenBucketStatistics

__all__ = [
    "Actor",
    "ActorError",
    "ActorGoneError",
    "AskTimeoutError",
    "BucketStatistics",
    "ChildSpec",
    "ChildStatistics",
    "DiscordBucket",
    "Handle",
    "KeyedChildStatistics",
    "KeyedSupervisor",
    "KeyedSupervisorStatistics",
    "Mailbox",
    "MailboxFullError",
    "MailboxStatistics",
    "Permit",
    "RateLimitError",
    "RateLimitHeaderError",
    "RateLimitHeaders",
    "RateLimitScope",
    "Reply",
    "Restart",
    "RestartIntensityError",
    "RetryLaterError",
    "Strategy",
    "Supervisor",
    "SupervisorState",
    "SupervisorStatistics",
    "TokenBucket",
    "TokenBucketStatistics",
    "TooManyChildrenError",
    "open_mailbox",
]
