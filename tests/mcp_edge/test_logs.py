"""JSON-lines logging: one object per line, secrets scrubbed, nothing on stdout."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_edge.keys import generate_key
from mcp_edge.logs import _SECRETS, JsonFormatter, configure_logging, redact, utc_iso

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.iEPR9w.H3fg6pfjyhPmAGXQe9CnV9QRf2w04xXULiln8F"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as pytest had it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("mcp_edge.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_redact_removes_tokens_keys_and_bearer_credentials() -> None:
    """Discord tokens, mcpd_ keys and Bearer values become ***; other text is left alone."""
    key = generate_key()
    text = f"login {TOKEN} with {key}; header Authorization: Bearer abc.def-123 done"
    out = redact(text)
    assert TOKEN not in out
    assert key not in out
    assert "abc.def-123" not in out
    assert out == "login *** with ***; header Authorization: Bearer *** done"
    assert redact("mcp_edge.config loaded 3 agents") == "mcp_edge.config loaded 3 agents"


def test_sandbox_tokens_are_redacted() -> None:
    """The sandbox's Discord-shaped tokens are caught too."""
    from discord_io.sandbox._seed import make_token

    token = make_token(1187654321098765432, "scribe")
    assert redact(f"token={token}") == "token=***"


def test_formatter_emits_one_json_object_with_extras() -> None:
    """A record becomes one JSON line with ts, level, logger, msg and the structured extras."""
    line = JsonFormatter().format(
        _record(
            "tool %s done",
            "send_message",
            agent="scribe",
            tool="send_message",
            duration_ms=12.5,
            outcome="ok",
            request_id="r-1",
            transport="http",
        )
    )
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "info"
    assert data["logger"] == "mcp_edge.test"
    assert data["msg"] == "tool send_message done"
    assert data["ts"].endswith("Z")
    assert data["duration_ms"] == 12.5
    assert {k: data[k] for k in ("agent", "tool", "outcome", "request_id", "transport")} == {
        "agent": "scribe",
        "tool": "send_message",
        "outcome": "ok",
        "request_id": "r-1",
        "transport": "http",
    }


def test_secrets_in_message_args_extras_and_tracebacks_are_redacted() -> None:
    """A token or key in the message, its args, an extra or the exception text never comes out."""
    key = generate_key()
    try:
        raise RuntimeError(f"login failed for {TOKEN}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = _record(f"using {key} and %s", TOKEN, error=f"bad token {TOKEN}")
    record.exc_info = exc_info
    line = JsonFormatter().format(record)
    assert TOKEN not in line
    assert key not in line
    data = json.loads(line)
    assert data["msg"] == "using *** and ***"
    assert data["error"] == "bad token ***"
    assert "RuntimeError: login failed for ***" in data["exc"]


def test_configure_logging_writes_json_lines_to_the_stream(restore_logging: None) -> None:
    """After configure_logging each log call is one valid JSON line on the given stream."""
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    configure_logging("debug", stream=stream)  # idempotent: still one handler
    assert len(logging.getLogger().handlers) == 1
    log = logging.getLogger("mcp_edge.test")
    log.debug("one")
    log.warning("two %s", TOKEN, extra={"agent": "scribe"})
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["one", "two ***"]
    assert json.loads(lines[1])["agent"] == "scribe"
    assert logging.getLogger("discord.gateway").level == logging.WARNING


def test_configure_logging_rejects_an_unknown_level(restore_logging: None) -> None:
    """An unknown level is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="debug, info, warning, error"):
        configure_logging("loud")


def test_nothing_reaches_stdout() -> None:
    """In a fresh process, logs (even from the SDK's loggers) go to stderr only."""
    script = (
        "import logging\n"
        "from mcp_edge.logs import configure_logging\n"
        "configure_logging('debug')\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "for name in ('', 'mcp', 'discord.gateway', 'uvicorn.access', 'mcp_edge'):\n"
        "    logging.getLogger(name).error('hello %s', name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 4  # uvicorn.access is silenced
    assert all(json.loads(line)["level"] == "error" for line in lines)


def test_webhook_tokens_in_urls_are_redacted() -> None:
    """discord.py logs webhook execute URLs on 429s: the token part never survives."""
    url = "POST https://discord.com/api/v10/webhooks/1234567890/aBc-DeF_123.xyz?wait=true"
    assert redact(url) == "POST https://discord.com/api/v10/webhooks/1234567890/***?wait=true"


def _redact_in_full(text: str) -> str:
    """What :func:`redact` does without its fast path: the full substitution, always."""
    return _SECRETS.sub(lambda m: (m.group("bearer") or m.group("webhook") or "") + "***", text)


@pytest.mark.parametrize(
    ("middle", "redacted"),
    [("abcd", True), ("ab-_cdef", True), ("abc", False), ("abcdefghi", False)],
)
def test_tokens_with_the_shortest_and_longest_middle_are_redacted(
    middle: str, redacted: bool
) -> None:
    """A token's middle part is 4 to 8 characters: the fast path finds both ends of that."""
    token = f"{'M' * 24}.{middle}.{'x' * 27}"
    out = redact(f"token {token} here")
    assert out == (_redact_in_full(f"token {token} here"))
    assert (out == "token *** here") is redacted


_FRAGMENTS = st.sampled_from(
    [TOKEN, "Bearer ", "bEaReR\t", "mcpd_", "MCPD_abcdefgh", "mfa.", "MFA.", "/webhooks/",
     "/WebHooks/12/", ".", "..", "abcd", "abcdefgh", "abcdefghi", "x" * 18, "y" * 20, "_",
     "-", " ", "\n", "123", "é", "İ", "\u017f", "\u212a"]
)  # fmt: skip


@given(st.lists(_FRAGMENTS | st.text(max_size=6), max_size=12).map("".join))
def test_the_fast_path_never_skips_a_secret(text: str) -> None:
    """redact's cheap checks pass over text only when the full substitution would change
    nothing."""
    assert redact(text) == _redact_in_full(text)


def _iso_by_datetime(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@given(
    st.floats(min_value=-1e10, max_value=253_402_300_798, allow_nan=False)
    | st.integers(0, 2_000_000_000).map(lambda s: s + 0.9999995)
    | st.integers(0, 2_000_000_000).map(lambda s: s + 0.0004995)
)
def test_utc_iso_writes_what_datetime_writes(ts: float) -> None:
    """The cached per-second timestamp text is datetime's, to the millisecond (rounding to
    microseconds first, as datetime does)."""
    assert utc_iso(ts) == _iso_by_datetime(ts)
    assert utc_iso(ts + 1) == _iso_by_datetime(ts + 1)  # the next second, from the cache
