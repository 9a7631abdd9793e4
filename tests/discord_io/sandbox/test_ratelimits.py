"""The sandbox rate limiter: Discord's windows, headers, 429s, faults, bans and counters."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from discord_io.sandbox._ratelimits import (
    DEFAULT_BUCKETS,
    BucketSpec,
    Decision,
    RateLimitConfig,
    RateLimiter,
    bucket_hash,
    major_parameter,
)

EPOCH = 1_700_000_000.0
IP = "203.0.113.7"
BOT = 1
CREATE = "/api/v10/channels/{channel_id}/messages"
REACT = "/api/v10/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
UNREACT_USER = "/api/v10/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}"
ROUTE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


@attrs.define
class FakeClock:
    """Monotonic time that moves only when told; the wall clock is a fixed offset from it."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock at 0."""
    return FakeClock()


def make(clock: FakeClock, config: RateLimitConfig | None = None) -> RateLimiter:
    return RateLimiter(config, clock=clock, wall_clock=clock.wall)


def send(
    limiter: RateLimiter,
    channel: str | None = "10",
    *,
    bot: int | None = BOT,
    method: str = "POST",
    template: str = CREATE,
    ip: str = IP,
) -> Decision:
    return limiter.check(bot, method, template, channel, ip)


def json_body(decision: Decision) -> dict[str, object]:
    assert isinstance(decision.body, dict)
    return decision.body


# -- fixed windows and their headers ------------------------------------------------------


def test_first_request_opens_a_window_with_full_headers(clock: FakeClock) -> None:
    """The first message create opens a 5 s window and carries every bucket header."""
    decision = send(make(clock))
    assert decision.kind == "ok"
    assert decision.status == 200
    assert decision.body is None
    assert decision.route == "POST /channels/{channel_id}/messages"
    assert decision.headers == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "1700000005.000",
        "X-RateLimit-Reset-After": "5.000",
        "X-RateLimit-Bucket": bucket_hash("message-create"),
        "Via": "1.1 google",
    }


def test_window_is_anchored_at_its_first_request(clock: FakeClock) -> None:
    """Later requests see the same reset; the next window opens at the first request after it."""
    limiter = make(clock)
    send(limiter)
    clock.advance(3.0)
    second = send(limiter)
    assert second.headers["X-RateLimit-Remaining"] == "3"
    assert second.headers["X-RateLimit-Reset-After"] == "2.000"
    assert second.headers["X-RateLimit-Reset"] == "1700000005.000"
    clock.advance(4.5)  # t = 7.5: the old window ended at 5; nothing happened since
    third = send(limiter)
    assert third.headers["X-RateLimit-Remaining"] == "4"
    assert third.headers["X-RateLimit-Reset-After"] == "5.000"
    assert third.headers["X-RateLimit-Reset"] == "1700000012.500"


def test_over_the_limit_is_a_user_429_with_route_headers(clock: FakeClock) -> None:
    """The sixth message in 5 s gets Discord's 429: body, Retry-After, scope, Via, headers."""
    limiter = make(clock)
    for _ in range(5):
        assert send(limiter).kind == "ok"
        clock.advance(0.25)
    decision = send(limiter)  # t = 1.25
    assert decision.kind == "rate_limited"
    assert decision.status == 429
    assert decision.scope == "user"
    assert decision.body == {
        "message": "You are being rate limited.",
        "retry_after": 3.75,
        "global": False,
    }
    assert decision.headers == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1700000005.000",
        "X-RateLimit-Reset-After": "3.750",
        "X-RateLimit-Bucket": bucket_hash("message-create"),
        "Retry-After": "4",
        "X-RateLimit-Scope": "user",
        "Via": "1.1 google",
    }


def test_rejected_requests_consume_nothing(clock: FakeClock) -> None:
    """429s don't extend the window: at its end the full limit is back."""
    limiter = make(clock)
    for _ in range(5):
        send(limiter)
    for _ in range(20):
        assert send(limiter).status == 429
    clock.advance(5.0)
    assert send(limiter).headers["X-RateLimit-Remaining"] == "4"


def test_headers_parse_the_way_discordpy_reads_them(clock: FakeClock) -> None:
    """discord.py's header spellings find every value (headers are case-insensitive)."""
    headers = CIMultiDict(send(make(clock)).headers)
    assert int(headers["X-Ratelimit-Limit"]) == 5
    assert int(headers["X-Ratelimit-Remaining"]) == 4
    assert float(headers["X-Ratelimit-Reset-After"]) == 5.0
    assert float(headers["X-Ratelimit-Reset"]) == EPOCH + 5.0
    assert headers["X-Ratelimit-Bucket"] == bucket_hash("message-create")
    assert headers["via"]


@pytest.mark.parametrize(
    ("elapsed", "reset_after"),
    [(1.0, "4.000"), (1.0001, "4.000"), (1.0009, "4.000"), (1.0011, "3.999"), (3.2659, "1.735")],
)
def test_reset_after_is_rounded_up_to_the_millisecond(
    clock: FakeClock, elapsed: float, reset_after: str
) -> None:
    """Rounding up means waiting exactly Reset-After never lands inside the old window."""
    limiter = make(clock)
    send(limiter)
    clock.advance(elapsed)
    assert send(limiter).headers["X-RateLimit-Reset-After"] == reset_after


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0.001, "1"), (0.25, "1"), (1.0, "1"), (1.001, "2"), (4.5, "5"), (64.57, "65")],
)
def test_retry_after_header_is_whole_seconds_rounded_up(
    clock: FakeClock, retry_after: float, header: str
) -> None:
    """Retry-After is the body's retry_after rounded up to an integer, as Discord sends it."""
    limiter = make(clock, RateLimitConfig(global_limit=1, global_window=retry_after))
    send(limiter)
    decision = send(limiter, "11")
    assert decision.headers["Retry-After"] == header
    assert json_body(decision)["retry_after"] == retry_after


# -- clients that follow the headers, and clients that don't -------------------------------


@attrs.define
class DiscordPyBucket:
    """discord.py's Ratelimit, sequential: pre-emptive wait at Remaining 0, reset at expiry."""

    limit: int = 1
    remaining: int = 1
    expires: float | None = None

    def ready_at(self, t: float) -> float:
        """When a request wanted at ``t`` actually goes out (waiting for the reset if needed)."""
        if self.expires is not None and t > self.expires:
            self.remaining, self.expires = self.limit, None
        if self.remaining <= 0:
            assert self.expires is not None
            t = max(t, self.expires)
            self.remaining, self.expires = self.limit, None
        return t

    def update(
        self, headers: dict[str, str], received: float, wall: float, *, use_clock: bool
    ) -> None:
        """Read the headers of a non-429 response the way ``Ratelimit.update`` does."""
        self.limit = int(headers["X-RateLimit-Limit"])
        self.remaining = int(headers["X-RateLimit-Remaining"])
        if use_clock:
            reset_after = float(headers["X-RateLimit-Reset"]) - wall
        else:
            reset_after = float(headers["X-RateLimit-Reset-After"])
        self.expires = received + reset_after


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=10),
    window=st.one_of(
        st.sampled_from([0.25, 0.3, 1.0, 2.5, 5.0]),
        st.floats(min_value=0.01, max_value=10.0, allow_nan=False),
    ),
    gaps=st.lists(st.floats(min_value=0.0, max_value=3.0, allow_nan=False), max_size=80),
    latency=st.floats(min_value=0.0, max_value=0.05, allow_nan=False),
    start=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    use_clock=st.booleans(),
)
def test_a_header_following_client_never_gets_a_429(
    limit: int,
    window: float,
    gaps: list[float],
    latency: float,
    start: float,
    use_clock: bool,
) -> None:
    """Waiting out Reset-After (or Reset) whenever Remaining is 0 avoids every 429."""
    clock = FakeClock(start)
    spec = BucketSpec("tight", limit, window, ["POST /channels/{channel_id}/messages"])
    limiter = make(clock, RateLimitConfig(global_limit=10**6, buckets=[spec]))
    client = DiscordPyBucket()
    t = start
    for gap in [0.0, *gaps]:
        t = client.ready_at(t + gap)
        client.remaining -= 1
        clock.now = t
        decision = send(limiter)
        assert decision.status == 200, (t, decision)
        t += latency
        clock.now = t
        client.update(decision.headers, t, clock.wall(), use_clock=use_clock)


def test_a_greedy_header_following_client_gets_exactly_the_limit(clock: FakeClock) -> None:
    """Sending as fast as the headers allow for 60 s yields 5 messages per 5 s and no 429."""
    limiter = make(clock)
    client = DiscordPyBucket()
    sent = 0
    while True:
        clock.now = client.ready_at(clock.now)
        if clock.now >= 60.0:
            break
        client.remaining -= 1
        decision = send(limiter)
        assert decision.status == 200
        sent += 1
        client.update(decision.headers, clock.now, clock.wall(), use_clock=False)
    assert sent == 60
    assert limiter.statistics().rate_limited == {"user": 0, "global": 0, "shared": 0}


def test_an_impatient_client_gets_429s_that_say_when_to_retry(clock: FakeClock) -> None:
    """A message every 0.5 s ignoring headers: 5 pass per window, the rest 429 until its end."""
    limiter = make(clock)
    window_end = 0.0
    passed = limited = 0
    for step in range(40):
        clock.now = step * 0.5
        decision = send(limiter)
        if decision.status == 200:
            passed += 1
            if decision.headers["X-RateLimit-Remaining"] == "4":
                window_end = clock.now + 5.0
        else:
            limited += 1
            assert json_body(decision)["retry_after"] == pytest.approx(window_end - clock.now)
            assert decision.headers["Retry-After"] == str(math.ceil(window_end - clock.now))
    assert (passed, limited) == (20, 20)


def test_retrying_after_retry_after_succeeds(clock: FakeClock) -> None:
    """A client that obeys the 429's retry_after gets through on its next try."""
    limiter = make(clock)
    for _ in range(5):
        send(limiter)
    clock.advance(1.2345)
    decision = send(limiter)
    retry_after = json_body(decision)["retry_after"]
    assert isinstance(retry_after, float)
    assert retry_after == 3.766
    clock.advance(retry_after)
    assert send(limiter).status == 200


# -- global limit ---------------------------------------------------------------------------


def test_global_limit_counts_every_route_and_channel(clock: FakeClock) -> None:
    """50 requests a second per bot across routes; the 51st gets a global 429."""
    limiter = make(clock)
    for i in range(25):
        assert send(limiter, str(i)).status == 200
        assert send(limiter, str(i), method="GET", template="/users/@me").status == 200
    clock.advance(0.4)
    decision = send(limiter, "999")
    assert decision.kind == "rate_limited"
    assert decision.scope == "global"
    assert decision.body == {
        "message": "You are being rate limited.",
        "retry_after": 0.6,
        "global": True,
    }
    assert decision.headers == {
        "Retry-After": "1",
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
        "Via": "1.1 google",
    }
    assert send(limiter, "999", bot=2).status == 200  # another bot has its own budget
    clock.advance(0.6)
    assert send(limiter, "999").status == 200


def test_global_429_consumes_no_route_token(clock: FakeClock) -> None:
    """A globally limited request never reaches its route bucket."""
    limiter = make(clock, RateLimitConfig(global_limit=1))
    send(limiter, "10")
    for _ in range(10):
        assert send(limiter, "11").scope == "global"
    clock.advance(1.0)
    assert send(limiter, "11").headers["X-RateLimit-Remaining"] == "4"


def test_route_429s_still_count_against_the_global_limit(clock: FakeClock) -> None:
    """A request a bucket rejects did reach Discord, so it spends global budget."""
    limiter = make(clock, RateLimitConfig(global_limit=7))
    scopes = [send(limiter).scope for _ in range(8)]
    assert scopes == [None] * 5 + ["user", "user", "global"]


def test_requests_without_a_token_are_limited_per_ip(clock: FakeClock) -> None:
    """With no bot the global limit applies to the IP; other IPs are unaffected."""
    limiter = make(clock, RateLimitConfig(global_limit=2))
    for _ in range(2):
        assert send(limiter, None, bot=None, method="GET", template="/users/@me").status == 200
    assert send(limiter, None, bot=None, method="GET", template="/users/@me").scope == "global"
    other = send(limiter, None, bot=None, method="GET", template="/users/@me", ip="198.51.100.1")
    assert other.status == 200
    assert send(limiter, None, method="GET", template="/users/@me").status == 200


# -- buckets: major parameters, grouping, templates --------------------------------------------


def test_each_channel_has_its_own_bucket(clock: FakeClock) -> None:
    """Exhausting channel A leaves channel B's message-create bucket untouched."""
    limiter = make(clock)
    for _ in range(5):
        send(limiter, "A")
    assert send(limiter, "A").status == 429
    decision = send(limiter, "B")
    assert decision.status == 200
    assert decision.headers["X-RateLimit-Remaining"] == "4"
    assert decision.headers["X-RateLimit-Bucket"] == bucket_hash("message-create")


def test_each_bot_has_its_own_bucket(clock: FakeClock) -> None:
    """Two bots posting to one channel don't share a per-route bucket."""
    limiter = make(clock)
    for _ in range(5):
        send(limiter, "A")
    assert send(limiter, "A").status == 429
    assert send(limiter, "A", bot=2).status == 200


def test_grouped_routes_share_one_hash_and_one_window(clock: FakeClock) -> None:
    """React and remove-reaction share the 1-per-0.25 s bucket and its hash."""
    limiter = make(clock)
    react = send(limiter, method="PUT", template=REACT)
    assert react.status == 200
    assert react.headers["X-RateLimit-Limit"] == "1"
    assert react.headers["X-RateLimit-Reset-After"] == "0.250"
    unreact = send(limiter, method="DELETE", template=UNREACT_USER)
    assert unreact.status == 429
    assert unreact.headers["X-RateLimit-Bucket"] == react.headers["X-RateLimit-Bucket"]
    assert react.headers["X-RateLimit-Bucket"] == bucket_hash("reaction")
    assert react.headers["X-RateLimit-Bucket"] != send(limiter).headers["X-RateLimit-Bucket"]
    clock.advance(0.25)
    assert send(limiter, method="DELETE", template=REACT).status == 200


def test_bucket_hashes_look_like_discords() -> None:
    """Hashes are stable 32-hex strings, distinct per bucket name."""
    hashes = {bucket_hash(spec.name) for spec in DEFAULT_BUCKETS}
    assert len(hashes) == len(DEFAULT_BUCKETS)
    for value in hashes:
        assert len(value) == 32
        int(value, 16)
    assert bucket_hash("message-create") == bucket_hash("message-create")


def test_templates_match_with_or_without_prefix_and_any_placeholder_names(
    clock: FakeClock,
) -> None:
    """``/api/v10``, ``/api`` or no prefix, and renamed placeholders, reach the same bucket."""
    limiter = make(clock)
    for template in (
        "/api/v10/channels/{channel_id}/messages",
        "/channels/{channel_id}/messages",
        "/api/channels/{id}/messages",
        "/api/v10/channels/{cid:\\d+}/messages",
        "/channels/{channel_id}/messages",
    ):
        decision = send(limiter, template=template)
        assert decision.headers["X-RateLimit-Bucket"] == bucket_hash("message-create")
    assert send(limiter).status == 429
    assert send(limiter).route == "POST /channels/{channel_id}/messages"


def test_an_unlisted_route_gets_its_own_default_bucket(clock: FakeClock) -> None:
    """A route in no spec is limited on its own, with default_limit per default_window."""
    limiter = make(clock, RateLimitConfig(default_limit=2, default_window=3.0))
    me = send(limiter, None, method="GET", template="/api/v10/users/@me")
    app = send(limiter, None, method="GET", template="/api/v10/oauth2/applications/@me")
    assert me.headers["X-RateLimit-Limit"] == "2"
    assert me.headers["X-RateLimit-Reset-After"] == "3.000"
    assert me.headers["X-RateLimit-Bucket"] == bucket_hash("GET /users/@me")
    assert me.headers["X-RateLimit-Bucket"] != app.headers["X-RateLimit-Bucket"]
    assert send(limiter, None, method="GET", template="/api/v10/users/@me").status == 200
    assert send(limiter, None, method="GET", template="/api/v10/users/@me").status == 429


def test_a_shared_bucket_counts_all_bots_and_answers_scope_shared(clock: FakeClock) -> None:
    """A shared spec limits a resource for everyone and its 429 says ``shared``."""
    spec = BucketSpec("hot", 1, 2.0, ["POST /channels/{channel_id}/messages"], shared=True)
    limiter = make(clock, RateLimitConfig(buckets=[spec]))
    assert send(limiter, bot=1).status == 200
    decision = send(limiter, bot=2)
    assert decision.scope == "shared"
    assert decision.headers["X-RateLimit-Scope"] == "shared"
    assert decision.body == {
        "message": "The resource is being rate limited.",
        "retry_after": 2.0,
        "global": False,
    }


def test_major_parameter_joins_like_discordpy() -> None:
    """channel_id, guild_id, webhook_id and token, those present, joined with '+'."""
    assert major_parameter({"channel_id": "1", "message_id": "2"}) == "1"
    assert major_parameter({"guild_id": "3", "user_id": "4"}) == "3"
    assert major_parameter({"webhook_id": "5", "webhook_token": "tok"}) == "5+tok"
    assert major_parameter({}) is None


# -- fault injection ---------------------------------------------------------------------------


def test_injected_faults_are_consumed_in_order(clock: FakeClock) -> None:
    """Two injected 429s then a 502, each answering one request, then normal service."""
    limiter = make(clock)
    limiter.inject_429(2, retry_after=2.5)
    limiter.inject_status(1, 502)
    first, second, third, fourth = (send(limiter) for _ in range(4))
    assert (first.kind, first.status, first.scope) == ("fault", 429, "user")
    assert first.body == {
        "message": "You are being rate limited.",
        "retry_after": 2.5,
        "global": False,
    }
    assert first.headers["Retry-After"] == "3"
    assert first.headers["X-RateLimit-Scope"] == "user"
    assert first.headers["Via"] == "1.1 google"
    assert second.status == 429
    assert (third.kind, third.status) == ("fault", 502)
    assert third.body == {"message": "502: Bad Gateway", "code": 0}
    assert "X-RateLimit-Remaining" not in third.headers
    assert fourth.kind == "ok"
    stats = limiter.statistics()
    assert (stats.faults_consumed, stats.faults_pending) == (3, 0)


def test_injected_route_429_reports_the_bucket_untouched(clock: FakeClock) -> None:
    """An injected user 429 shows the bucket as it is (a sub-ratelimit) and spends nothing."""
    limiter = make(clock)
    send(limiter)
    limiter.inject_429(1, retry_after=1.0)
    clock.advance(1.0)
    fault = send(limiter)
    assert fault.status == 429
    assert {name: fault.headers[name] for name in ROUTE_HEADERS} == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "1700000005.000",
        "X-RateLimit-Reset-After": "4.000",
        "X-RateLimit-Bucket": bucket_hash("message-create"),
    }
    assert send(limiter).headers["X-RateLimit-Remaining"] == "3"


def test_injected_faults_match_their_route(clock: FakeClock) -> None:
    """A fault for one route skips other routes; a bare template matches any method."""
    limiter = make(clock)
    limiter.inject_status(1, 500, route="POST /channels/{channel_id}/messages")
    limiter.inject_status(1, 503, route="/api/v10/channels/{id}/messages")
    assert send(limiter, method="GET", template="/users/@me").status == 200
    assert send(limiter, method="GET", template=CREATE).status == 503
    assert send(limiter).status == 500
    assert send(limiter).status == 200


def test_injected_global_and_shared_429s(clock: FakeClock) -> None:
    """Injected global 429s look like real ones; injected shared ones carry scope shared."""
    limiter = make(clock)
    limiter.inject_429(1, scope="global", retry_after=0.5)
    limiter.inject_429(1, scope="shared", retry_after=30.0)
    glob = send(limiter)
    assert glob.kind == "fault"
    assert glob.headers == {
        "Retry-After": "1",
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
        "Via": "1.1 google",
    }
    assert glob.body == {
        "message": "You are being rate limited.",
        "retry_after": 0.5,
        "global": True,
    }
    shared = send(limiter)
    assert shared.scope == "shared"
    assert shared.headers["X-RateLimit-Scope"] == "shared"
    assert json_body(shared)["message"] == "The resource is being rate limited."
    assert limiter.statistics().rate_limited == {"user": 0, "global": 1, "shared": 1}


def test_clear_faults_drops_the_queue(clock: FakeClock) -> None:
    """clear_faults empties the queue and says how many answers were left."""
    limiter = make(clock)
    limiter.inject_429(3)
    limiter.inject_status(2, 504, route="GET /users/@me")
    assert limiter.statistics().faults_pending == 5
    assert limiter.clear_faults() == 5
    assert send(limiter).status == 200


@pytest.mark.parametrize(
    "inject",
    [
        lambda lim: lim.inject_429(0),
        lambda lim: lim.inject_429(1, retry_after=0.0),
        lambda lim: lim.inject_429(1, scope="team"),
        lambda lim: lim.inject_status(1, 429),
        lambda lim: lim.inject_status(1, 404),
        lambda lim: lim.inject_status(1, 500, route="channels/{id}"),
    ],
)
def test_bad_injections_are_refused(clock: FakeClock, inject: object) -> None:
    """Counts below 1, non-positive retry_after, unknown scopes or statuses raise ValueError."""
    assert callable(inject)
    with pytest.raises(ValueError):  # noqa: PT011 -- each case has its own message
        inject(make(clock))


# -- invalid requests and the Cloudflare ban -----------------------------------------------


def test_invalid_tally_is_a_sliding_ten_minute_window(clock: FakeClock) -> None:
    """401, 403 and 429 count per IP for 600 s each, then fall out one by one."""
    limiter = make(clock)
    limiter.record(IP, 401)
    clock.advance(100.0)
    limiter.record(IP, 403)
    clock.advance(100.0)
    limiter.record(IP, 429, "user")
    limiter.record(IP, 429, "global")
    assert limiter.invalid_count(IP) == 4
    assert limiter.invalid_count("198.51.100.1") == 0
    clock.now = 599.9
    assert limiter.invalid_count(IP) == 4
    clock.now = 600.0
    assert limiter.invalid_count(IP) == 3
    clock.now = 800.0
    assert limiter.invalid_count(IP) == 0


def test_shared_429s_and_other_statuses_are_not_invalid(clock: FakeClock) -> None:
    """Shared-scope 429s are exempt, as are 2xx, 404 and 5xx."""
    limiter = make(clock)
    for status, scope in [(429, "shared"), (200, None), (204, None), (404, None), (500, None)]:
        limiter.record(IP, status, scope)  # type: ignore[arg-type]
    assert limiter.invalid_count(IP) == 0


def test_going_over_the_limit_bans_the_ip_cloudflare_style(clock: FakeClock) -> None:
    """Over invalid_limit the IP gets Cloudflare's 1015 (no Via) for every bot until it lifts."""
    limiter = make(clock, RateLimitConfig(invalid_limit=3, ban_duration=60.0))
    for _ in range(3):
        limiter.record(IP, 401)
    assert not limiter.is_banned(IP)
    limiter.record(IP, 403)
    assert limiter.is_banned(IP)
    banned = send(limiter, bot=99)
    assert banned.kind == "banned"
    assert banned.status == 429
    assert banned.body == "error code: 1015"
    assert "Via" not in banned.headers
    assert banned.headers["Content-Type"].startswith("text/plain")
    assert send(limiter, ip="198.51.100.1").status == 200
    limiter.record(IP, 429)  # the app reporting the ban itself: not counted
    assert limiter.invalid_count(IP) == 0
    assert limiter.statistics().banned_ips == 1
    clock.advance(60.0)
    assert not limiter.is_banned(IP)
    assert send(limiter).status == 200


# -- statistics, eviction, configuration ----------------------------------------------------


def test_statistics_count_requests_429s_and_faults(clock: FakeClock) -> None:
    """Responses by route and status, 429s by scope, faults consumed and pending."""
    limiter = make(clock)
    limiter.inject_status(1, 500)
    limiter.inject_429(2, route="GET /users/@me")
    for _ in range(7):
        decision = send(limiter)
        limiter.record(IP, decision.status, decision.scope, route=decision.route)
    stats = limiter.statistics()
    assert stats.checked == 7
    assert stats.requests == {"POST /channels/{channel_id}/messages": {500: 1, 200: 5, 429: 1}}
    assert stats.rate_limited == {"user": 1, "global": 0, "shared": 0}
    assert (stats.faults_consumed, stats.faults_pending) == (1, 2)
    assert stats.buckets == 1
    assert limiter.invalid_count(IP) == 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.checked = 0  # type: ignore[misc]


def test_expired_buckets_are_evicted_lazily(clock: FakeClock) -> None:
    """Windows that ended are dropped on a later request, without changing any answer."""
    limiter = make(clock, RateLimitConfig(global_limit=10**6))
    for channel in range(1000):
        send(limiter, str(channel))
    assert limiter.statistics().buckets == 1000
    clock.advance(5.0)
    assert send(limiter, "0").headers["X-RateLimit-Remaining"] == "4"
    assert limiter.statistics().buckets == 1


def test_reset_forgets_all_state(clock: FakeClock) -> None:
    """reset() clears windows, tallies, bans, faults and counters."""
    limiter = make(clock, RateLimitConfig(invalid_limit=1))
    for _ in range(6):
        send(limiter)
    limiter.record(IP, 401)
    limiter.record(IP, 401)
    limiter.inject_429(1)
    limiter.reset()
    assert not limiter.is_banned(IP)
    stats = limiter.statistics()
    assert (stats.checked, stats.buckets, stats.faults_pending, stats.banned_ips) == (0, 0, 0, 0)
    assert send(limiter).headers["X-RateLimit-Remaining"] == "4"


def test_override_changes_one_bucket(clock: FakeClock) -> None:
    """override() replaces one bucket's limit and window and keeps the rest."""
    config = RateLimitConfig().override("message-create", limit=2, window=1.0)
    limiter = make(clock, config)
    first = send(limiter)
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Reset-After"] == "1.000"
    assert send(limiter, method="PUT", template=REACT).headers["X-RateLimit-Limit"] == "1"


@pytest.mark.parametrize(
    "build",
    [
        lambda: RateLimitConfig().override("no-such-bucket", limit=1),
        lambda: RateLimitConfig(global_limit=0),
        lambda: RateLimitConfig(invalid_window=0.0),
        lambda: BucketSpec("x", 1, -1.0, ["GET /a"]),
        lambda: RateLimitConfig(buckets=[BucketSpec("x", 1, 1.0, ["GET /a"])] * 2),
        lambda: RateLimitConfig(
            buckets=[
                BucketSpec("x", 1, 1.0, ["GET /a/{id}"]),
                BucketSpec("y", 1, 1.0, ["GET /a/{b}"]),
            ]
        ),
        lambda: RateLimitConfig(buckets=[BucketSpec("x", 1, 1.0, ["/no-method"])]),
    ],
)
def test_bad_configs_are_refused(build: object) -> None:
    """Non-positive figures, duplicate names or routes and unknown buckets raise ValueError."""
    assert callable(build)
    with pytest.raises(ValueError):  # noqa: PT011 -- each case has its own message
        build()


def test_every_answer_of_one_window_carries_the_same_reset(clock: FakeClock) -> None:
    """X-RateLimit-Reset is the window's end, fixed when it opens: a wall clock that moves
    differently from the monotonic one (NTP slew, rounding) does not make it wobble."""
    jitter = iter([0.0, 0.0007, -0.0004, 0.0011, 0.0, 0.0])

    def wall() -> float:
        return EPOCH + clock.now + next(jitter)

    limiter = RateLimiter(None, clock=clock, wall_clock=wall)
    resets = []
    for _ in range(4):
        resets.append(send(limiter).headers["X-RateLimit-Reset"])
        clock.advance(0.3)
    assert len(set(resets)) == 1, resets
    clock.advance(5.0)  # a new window: a new reset
    assert send(limiter).headers["X-RateLimit-Reset"] != resets[0]
