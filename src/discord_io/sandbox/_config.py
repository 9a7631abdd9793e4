"""The sandbox's knobs, with Discord's own values as defaults.

Tests shrink the timings (a short heartbeat interval, a short resume window) to exercise timeouts
quickly; everything else should stay as Discord has it so clients meet the same limits.
"""

from __future__ import annotations

import attrs

from ._ratelimits import RateLimitConfig


@attrs.frozen
class GatewayConfig:
    """Gateway timings and limits."""

    heartbeat_interval: float = 41.25
    """Seconds between heartbeats, sent in HELLO (Discord: 41.25 s)."""
    heartbeat_grace: float = 1.5
    """A connection silent for ``heartbeat_interval * heartbeat_grace`` is closed with 4009."""
    send_limit: int = 120
    send_window: float = 60.0
    """A client may send ``send_limit`` payloads per ``send_window`` seconds (4008 beyond)."""
    max_payload: int = 4096
    """Largest payload a client may send, in bytes (4002 beyond)."""
    resume_window: float = 180.0
    """Seconds a disconnected session stays resumable."""
    replay_limit: int = 2000
    """Dispatches kept per session for RESUME; a gap beyond them gets INVALID_SESSION(false)."""
    outbox_limit: int = 10_000
    """Frames queued to one socket before it counts as a stuck consumer (closed with 4000)."""
    close_timeout: float = 2.0
    """Seconds to wait for the client's close frame after sending ours."""
    chunk_size: int = 1000
    """Members per GUILD_MEMBERS_CHUNK."""


@attrs.frozen
class SandboxConfig:
    """Everything configurable about a sandbox."""

    gateway: GatewayConfig = GatewayConfig()
    max_body: int = 25 * 1024 * 1024
    """Largest REST request body in bytes (413, code 40005, beyond)."""
    nonce_window: float = 300.0
    """Seconds a message nonce with ``enforce_nonce`` is remembered."""
    rate_limits: RateLimitConfig | None = attrs.field(factory=RateLimitConfig)
    """Discord's REST rate limits (``_ratelimits``); None enforces none (benchmarks), though
    injected 429/5xx faults and the counters still work. Change one bucket with e.g.
    ``RateLimitConfig().override("message-create", limit=5, window=0.5)``."""
    control_api: bool = True
    """Serve the control API under ``/_sandbox`` (see ``_control``)."""
    control_remote: bool = False
    """Accept control API calls from non-loopback addresses (refused with 403 otherwise)."""
