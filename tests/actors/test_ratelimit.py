"""Rate-limit headers and errors: parsing Discord's headers, refusing what Discord never sends."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import (
    ActorError,
    RateLimitError,
    RateLimitHeaderError,
    RateLimitHeaders,
    RateLimitScope,
    RetryLaterError,
)


def test_parses_the_documented_user_429_case_insensitively() -> None:
    """The rate-limits doc's 429 example parses, whatever the header names' case."""
    parsed = RateLimitHeaders.from_headers(
        {
            "retry-after": "65",
            "x-ratelimit-limit": "10",
            "X-RATELIMIT-REMAINING": "0",
            "X-RateLimit-Reset": "1470173023.123",
            "x-ratelimit-reset-after": "64.57",
            "X-Ratelimit-Bucket": "abcd1234",
            "X-RateLimit-Scope": "user",
            "Content-Type": "application/json",
        }
    )
    assert parsed == RateLimitHeaders(
        limit=10,
        remaining=0,
        reset_after=64.57,
        reset=1470173023.123,
        bucket="abcd1234",
        is_global=False,
        scope=RateLimitScope.USER,
        retry_after=65.0,
    )
    assert parsed.describes_bucket


def test_parses_a_global_429() -> None:
    """A global 429 has no bucket headers, only Global, Scope and Retry-After."""
    parsed = RateLimitHeaders.from_headers(
        {"Retry-After": "65", "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
    )
    assert parsed.is_global
    assert parsed.scope is RateLimitScope.GLOBAL
    assert parsed.retry_after == 65
    assert not parsed.describes_bucket


def test_absent_headers_are_none_and_unrelated_ones_ignored() -> None:
    """A response without rate-limit headers parses to all-None, not to an error."""
    parsed = RateLimitHeaders.from_headers({"Content-Length": "2", "Date": "today"})
    assert parsed == RateLimitHeaders()
    assert not parsed.describes_bucket


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-RateLimit-Limit", "abc"),
        ("X-RateLimit-Limit", "0"),
        ("X-RateLimit-Limit", "-1"),
        ("X-RateLimit-Limit", "5.5"),
        ("X-RateLimit-Limit", "5_000"),
        ("X-RateLimit-Limit", "\u0665"),  # an Arabic-Indic five: int() would take it
        ("X-RateLimit-Remaining", "-1"),
        ("X-RateLimit-Remaining", "6"),
        ("X-RateLimit-Reset-After", "nan"),
        ("X-RateLimit-Reset-After", "inf"),
        ("X-RateLimit-Reset-After", "-0.5"),
        ("X-RateLimit-Reset-After", "1e3"),
        ("X-RateLimit-Reset-After", ""),
        ("X-RateLimit-Reset", "soon"),
        ("X-RateLimit-Bucket", "  "),
        ("X-RateLimit-Global", "yes"),
        ("X-RateLimit-Scope", "bot"),
        ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
def test_bad_values_raise_a_clear_error(header: str, value: str) -> None:
    """A header Discord would never send is refused with its name and value in the message."""
    good = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "1"}
    with pytest.raises(RateLimitHeaderError) as info:
        RateLimitHeaders.from_headers({**good, header: value})
    assert header in str(info.value)
    assert info.value.header == header
    assert info.value.value == value


def test_error_tree() -> None:
    """Header errors are ValueErrors and rate-limit errors; all of them are actor errors."""
    assert issubclass(RateLimitHeaderError, ValueError)
    assert issubclass(RateLimitHeaderError, RateLimitError)
    assert issubclass(RetryLaterError, RateLimitError)
    assert issubclass(RateLimitError, ActorError)


def test_retry_later_error_says_when() -> None:
    """The message gives the wait in seconds, or says it waits on answers when unpredictable."""
    assert "retry in 1.500 s" in str(RetryLaterError("route", 1.5))
    unknown = RetryLaterError("route", math.inf)
    assert "answered" in str(unknown)
    assert unknown.retry_after == math.inf


NAMES = st.sampled_from(
    [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Reset-After",
        "X-RateLimit-Bucket",
        "X-RateLimit-Global",
        "X-RateLimit-Scope",
        "Retry-After",
    ]
)


@settings(max_examples=200)
@given(st.dictionaries(NAMES, st.text(max_size=12)))
def test_arbitrary_values_parse_or_raise_the_typed_error(headers: dict[str, str]) -> None:
    """Whatever the values, parsing returns headers or raises RateLimitHeaderError, nothing else."""
    try:
        parsed = RateLimitHeaders.from_headers(headers)
    except RateLimitHeaderError:
        return
    for number in (parsed.reset_after, parsed.reset, parsed.retry_after):
        assert number is None or (math.isfinite(number) and number >= 0)
    if parsed.limit is not None and parsed.remaining is not None:
        assert 0 <= parsed.remaining <= parsed.limit


@settings(max_examples=100)
@given(
    limit=st.integers(1, 10_000),
    data=st.data(),
    reset_after_ms=st.integers(0, 10**9),
    bucket=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
)
def test_values_as_discord_formats_them_round_trip(
    limit: int, data: st.DataObject, reset_after_ms: int, bucket: str
) -> None:
    """Limit, remaining, millisecond decimals and bucket ids come back exactly as sent."""
    remaining = data.draw(st.integers(0, limit))
    parsed = RateLimitHeaders.from_headers(
        {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": f"{reset_after_ms / 1000:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
    )
    assert (parsed.limit, parsed.remaining, parsed.bucket) == (limit, remaining, bucket)
    assert parsed.reset_after == pytest.approx(reset_after_ms / 1000, abs=1e-9)


class _CaseInsensitive(dict[str, str]):
    """A mapping that finds names in any case, as aiohttp's CIMultiDictProxy does."""

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self.items() if k.lower() == key.lower()), default)


@settings(max_examples=200)
@given(
    st.dictionaries(
        NAMES.map(lambda name: name.lower()) | NAMES.map(lambda name: name.upper()) | NAMES,
        st.sampled_from(["5", "0", " 3 ", "1.5", "x", "", "true", "User", "abc"]),
    )
)
def test_case_insensitive_headers_read_in_place_parse_the_same(headers: dict[str, str]) -> None:
    """``case_insensitive=True`` (no lower-cased copy) gives what the plain path gives."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if len(lowered) < len(headers):
        return  # one name in two cases: which wins is the mapping's business
    try:
        plain: RateLimitHeaders | str = RateLimitHeaders.from_headers(headers)
    except RateLimitHeaderError as error:
        plain = str(error)
    try:
        in_place: RateLimitHeaders | str = RateLimitHeaders.from_headers(
            _CaseInsensitive(headers), case_insensitive=True
        )
    except RateLimitHeaderError as error:
        in_place = str(error)
    assert in_place == plain
