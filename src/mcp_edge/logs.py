"""Logs: one JSON object per line on stderr, with secrets scrubbed on the way out.

stdout belongs to the stdio transport, so logging never touches it: :func:`configure_logging`
gives the root logger a single stderr handler (replacing any, so calling it twice is harmless,
and so ``logging.basicConfig`` elsewhere — the MCP SDK calls it — becomes a no-op).

Each line has ``ts`` (ISO 8601, UTC), ``level``, ``logger`` and ``msg``, plus whichever of the
structured fields a caller passed with ``extra=``: ``agent``, ``tool``, ``duration_ms``,
``outcome``, ``request_id``, ``transport``, ``error``. A traceback goes in ``exc``. Example::

    log.info("tool call", extra={"agent": "scribe", "tool": "send_message",
                                 "duration_ms": 12.5, "outcome": "ok", "request_id": "r-17"})

Redaction is the last line of defence, not the first: code should not log secrets at all, but
a library's exception text or a debug line might carry one. :func:`redact` is applied to the
formatted message (so to its args too), to string extras and to traceback text, and removes
Discord bot tokens (three base64url parts joined by dots), ``mcpd_`` API keys and whatever
follows ``Bearer``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

EXTRA_FIELDS = ("agent", "tool", "duration_ms", "outcome", "request_id", "transport", "error")
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
NOISY = {
    "discord.gateway": logging.WARNING,
    "discord.client": logging.WARNING,
    "discord.http": logging.WARNING,
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "uvicorn.error": logging.WARNING,
    "sse_starlette": logging.WARNING,
}
"""Libraries that log every connection or request at INFO, held to WARNING."""
SILENT = ("uvicorn.access",)
"""Loggers switched off: access logs could carry keys in URLs, and we log requests ourselves."""

_TOKEN = r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{18,}+\.[A-Za-z0-9_-]{4,8}+\.[A-Za-z0-9_-]{20,}"
"""A Discord bot token: three base64url parts joined by dots. The look-behind and the possessive
runs (a dot never belongs to a run, so giving characters back can never help) keep the scan
linear: without them a long run of letters (a 2,000-character blob) cost tens of milliseconds."""
_SECRETS = re.compile(
    r"(?P<bearer>\bBearer\s+)\S+"
    r"|(?P<webhook>/webhooks/[0-9]+/)[A-Za-z0-9_.-]+"
    r"|\bmcpd_[A-Za-z0-9_-]{8,}"
    r"|\bmfa\.[A-Za-z0-9_-]{20,}"
    r"|" + _TOKEN,
    re.IGNORECASE,
)
_TOKEN_HINT = re.compile(r"\.[A-Za-z0-9_-]{4,8}\.")
"""The middle of a token (:data:`_TOKEN`), which every token contains: a search that stops only
at dots, where :data:`_TOKEN` itself starts at every letter (2 µs for a 100-character sentence,
40 µs for 2,000 characters of prose)."""
_MARKERS = ("bearer", "/webhooks/", "mcpd_", "mfa.")
"""Every other secret :data:`_SECRETS` finds contains one of these (casefolded: the same letters
``re.IGNORECASE`` matches); :func:`redact` spells them out (faster than a loop)."""
_MARK = "_mcp_discord_json"

json_text: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, default=str).encode
"""``json.dumps(value, ensure_ascii=False, default=str)``, without building an encoder each
time (a log line, an audit record)."""

_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime can show
_stamp: tuple[int, str] = (-1, "")
"""The second :func:`utc_iso` formatted last, and its text up to the second."""


def utc_iso(ts: float) -> str:
    """``ts`` (epoch seconds) in UTC ISO 8601 with milliseconds and a Z, exactly as
    ``datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")`` (with ``Z`` for
    ``+00:00``) writes it; the text up to the second is formatted once per second."""
    global _stamp
    if not 0 <= ts < _LAST_SECOND:  # also NaN: datetime says what is wrong with it
        return (
            dt.datetime.fromtimestamp(ts, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    second = int(ts)
    micro = round((ts - second) * 1e6)  # datetime rounds to microseconds, half to even
    if micro >= 1_000_000:
        second += 1
        micro -= 1_000_000
    stamp = _stamp
    if stamp[0] != second:
        stamp = _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{stamp[1]}.{micro // 1000:03d}Z"


def redact(text: str) -> str:
    """``text`` with Discord tokens, ``mcpd_`` keys, Bearer credentials and webhook tokens (in
    ``/webhooks/<id>/<token>`` URLs, which discord.py's rate-limit warnings print) replaced by
    ``***``."""
    # Fast path (every log line and audited string comes here): most text holds no marker and
    # no token, and cheap scans say so; only then is the full substitution worth running. A
    # marker's "/", "_" or "." (which no letter casefolds to) is looked for first: finding
    # "mfa." in a long run of letters costs ~100 times more than finding no ".".
    folded = text.casefold()
    if (
        "bearer" not in folded
        and ("/" not in text or "/webhooks/" not in folded)
        and ("_" not in text or "mcpd_" not in folded)
        and ("." not in text or ("mfa." not in folded and _TOKEN_HINT.search(text) is None))
    ):
        return text
    return _SECRETS.sub(lambda m: (m.group("bearer") or m.group("webhook") or "") + "***", text)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON, redacted (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single JSON line."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args!r}"
        out: dict[str, Any] = {
            "ts": utc_iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(message),
        }
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is None:
                continue
            if isinstance(value, bool | int | float):
                out[name] = value
            else:
                out[name] = redact(str(value))
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json_text(out)


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """Route all logging to one JSON-lines handler on stderr (or ``stream``) at ``level``."""
    try:
        numeric = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(
            f"log level {level!r} is unknown: use one of {', '.join(LEVELS)}"
        ) from None
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if getattr(old, _MARK, False):
            old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, floor in NOISY.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    for name in SILENT:
        quiet = logging.getLogger(name)
        quiet.handlers.clear()
        quiet.propagate = False
        quiet.disabled = True
