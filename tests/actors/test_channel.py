"""ChannelActor: acceptance into the outbox, in-order exactly-once delivery under every fault.

Also home of the fakes the agent tests share: :class:`FakePort` (a scripted Discord behind our
own :class:`~actors.discord_port.DiscordPort` interface, with Discord's nonce dedup) and
:class:`MemoryOutbox` (the few Store calls a ChannelActor makes, in memory, so the trio
autojump clock sees no worker thread).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
import pytest
from trio.testing import MockClock

from actors import Accepted, NewSend, OutboxRow, Reply, SendState, StoreWriteError, open_mailbox
from actors.channel import (
    Accept,
    ChannelActor,
    ChannelMsg,
    Delivered,
    DeliveryReply,
    Ticket,
    Wake,
)
from actors.discord_port import (
    AgentNotReady,
    AllowedMentions,
    ChannelInfo,
    ConnectionState,
    DiscordError,
    DiscordForbidden,
    DiscordRateLimited,
    DiscordUnavailable,
    FileUpload,
    GuildInfo,
    JSONObject,
    MemberInfo,
    MessageInfo,
    SentMessage,
)
from actors.egress import EgressBudget

anyio_test = pytest.mark.anyio
trio_test = pytest.mark.trio  # long virtual waits: trio's autojump clock only

AGENT = "alpha"
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# ------------------------------------------------------------------------------------- fakes


@attrs.frozen
class Refuse:
    """The next call fails with ``error`` before Discord posts anything."""

    error: DiscordError


@attrs.frozen
class LoseAnswer:
    """The next call is posted by Discord, but the answer is lost (a timeout, a 5xx)."""


Fault = Refuse | LoseAnswer


def server_error() -> Fault:
    return Refuse(DiscordUnavailable("Discord failed with 503; retry later", status=503))


def rate_limited(retry_after: float) -> Fault:
    return Refuse(DiscordRateLimited("send a message", retry_after))


def forbidden() -> Fault:
    return Refuse(DiscordForbidden("send a message", permission="send_messages"))


@attrs.frozen
class Posted:
    message_id: int
    nonce: str | None
    content: str
    at: float


@attrs.define(eq=False)
class FakePort:
    """A scripted Discord for one agent: nonce dedup, faults per channel, outages."""

    agent: str = AGENT
    latency: float = 0.01
    user_id: int | None = 1
    _state: ConnectionState = attrs.field(default=ConnectionState.READY, alias="state")
    faults: defaultdict[int, deque[Fault]] = attrs.field(
        factory=lambda: defaultdict(deque), init=False
    )
    delivered: defaultdict[int, list[Posted]] = attrs.field(
        factory=lambda: defaultdict(list), init=False
    )
    """Per channel, every message Discord holds, in the order it posted them."""
    calls: list[tuple[float, int, str | None]] = attrs.field(factory=list, init=False)
    """Every send_message call: (time, channel, nonce)."""
    _by_nonce: dict[str, SentMessage] = attrs.field(factory=dict, init=False)
    _ids: Iterable[int] = attrs.field(factory=lambda: itertools.count(1000), init=False)
    _ready: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    history: list[MessageInfo] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        if self._state is ConnectionState.READY:
            self._ready.set()

    @property
    def state(self) -> ConnectionState:
        return self._state

    def set_state(self, state: ConnectionState) -> None:
        self._state = state
        if state is ConnectionState.READY:
            self._ready.set()
        elif self._ready.is_set():
            self._ready = anyio.Event()

    def script(self, channel_id: int, *faults: Fault) -> None:
        self.faults[channel_id].extend(faults)

    def contents(self, channel_id: int) -> list[str]:
        return [p.content for p in self.delivered[channel_id]]

    async def wait_ready(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._ready.wait()
            return
        raise AgentNotReady(self.agent, timeout, self._state)

    async def send_message(
        self,
        channel_id: int,
        content: str,
        *,
        nonce: str | None,
        enforce_nonce: bool = True,
        reply_to: int | None = None,
        embeds: Sequence[JSONObject] = (),
        allowed_mentions: AllowedMentions | None = None,
        files: Sequence[FileUpload] = (),
    ) -> SentMessage:
        self.calls.append((anyio.current_time(), channel_id, nonce))
        await anyio.sleep(self.latency)
        if self._state is not ConnectionState.READY:
            raise DiscordUnavailable(f"agent {self.agent!r} is not connected to Discord")
        fault = self.faults[channel_id].popleft() if self.faults[channel_id] else None
        if isinstance(fault, Refuse):
            raise fault.error
        if enforce_nonce and nonce is not None and nonce in self._by_nonce:
            sent = self._by_nonce[nonce]
        else:
            sent = self._post(channel_id, content, nonce)
        if isinstance(fault, LoseAnswer):
            raise DiscordUnavailable("the request timed out", status=504)
        return sent

    def _post(self, channel_id: int, content: str, nonce: str | None) -> SentMessage:
        mid = next(iter(self._ids))
        info = MessageInfo(
            id=mid,
            channel_id=channel_id,
            guild_id=None,
            author_id=1,
            author_name=self.agent,
            author_bot=True,
            content=content,
            created_at=EPOCH,
            nonce=nonce,
        )
        sent = SentMessage(
            id=mid, channel_id=channel_id, created_at=EPOCH, nonce=nonce, message=info
        )
        if nonce is not None:
            self._by_nonce[nonce] = sent
        self.delivered[channel_id].append(Posted(mid, nonce, content, anyio.current_time()))
        self.history.append(info)
        return sent

    def post_directly(self, channel_id: int, content: str, nonce: str) -> None:
        """Discord holds this message already (an earlier attempt reached it)."""
        self._post(channel_id, content, nonce)

    async def edit_message(
        self,
        channel_id: int,
        message_id: int,
        *,
        content: str | None = None,
        embeds: Sequence[JSONObject] | None = None,
    ) -> MessageInfo:
        raise NotImplementedError

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        raise NotImplementedError

    async def fetch_messages(
        self,
        channel_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[MessageInfo]:
        await anyio.sleep(self.latency)
        if self._state is not ConnectionState.READY:
            raise DiscordUnavailable("not connected")
        fault = self.faults[channel_id].popleft() if self.faults[channel_id] else None
        if isinstance(fault, Refuse):
            raise fault.error
        mine = [m for m in self.history if m.channel_id == channel_id]
        return list(reversed(mine))[:limit]

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        raise NotImplementedError

    async def remove_reaction(
        self, channel_id: int, message_id: int, emoji: str, *, user_id: int | None = None
    ) -> None:
        raise NotImplementedError

    async def get_channel(self, channel_id: int) -> ChannelInfo:
        raise NotImplementedError

    async def list_guilds(self) -> list[GuildInfo]:
        raise NotImplementedError

    async def list_channels(self, guild_id: int) -> list[ChannelInfo]:
        raise NotImplementedError

    async def get_member(self, guild_id: int, user_id: int) -> MemberInfo:
        raise NotImplementedError

    async def list_members(
        self, guild_id: int, *, limit: int = 100, after: int | None = None
    ) -> list[MemberInfo]:
        raise NotImplementedError


@attrs.define(eq=False)
class MemoryOutbox:
    """The Store calls a ChannelActor makes, kept in memory (ids, nonces, keys, states)."""

    rows: dict[int, OutboxRow] = attrs.field(factory=dict)
    latency: float = 0.0
    _next: int = 1

    async def append_many(
        self, sends: Iterable[NewSend], *, timeout: float | None = None
    ) -> tuple[Accepted, ...]:
        await anyio.sleep(self.latency)
        out = []
        for send in sends:
            existing = next(
                (
                    r
                    for r in self.rows.values()
                    if send.idempotency_key is not None
                    and (r.agent, r.idempotency_key) == (send.agent, send.idempotency_key)
                ),
                None,
            )
            if existing is not None:
                out.append(Accepted(existing, duplicate=True))
                continue
            out.append(
                Accepted(
                    self.add(send.agent, send.channel_id, send.payload, key=send.idempotency_key),
                    duplicate=False,
                )
            )
        return tuple(out)

    def add(
        self, agent: str, channel_id: int, payload: Mapping[str, Any], *, key: str | None = None
    ) -> OutboxRow:
        oid, self._next = self._next, self._next + 1
        row = OutboxRow(
            id=oid,
            agent=agent,
            channel_id=channel_id,
            payload=dict(payload),
            nonce=f"nonce-{agent}-{oid}",
            state=SendState.PENDING,
            message_id=None,
            attempts=0,
            last_error=None,
            created_at=0.0,
            updated_at=0.0,
            idempotency_key=key,
            scheduled_id=None,
        )
        self.rows[oid] = row
        return row

    async def pending(
        self,
        agent: str | None = None,
        channel_id: int | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> tuple[OutboxRow, ...]:
        await anyio.sleep(self.latency)
        rows = [
            r
            for oid, r in sorted(self.rows.items())
            if r.state is SendState.PENDING
            and oid > after_id
            and agent in (None, r.agent)
            and channel_id in (None, r.channel_id)
        ]
        return tuple(rows if limit is None else rows[:limit])

    def _update(self, oid: int, **changes: Any) -> OutboxRow:
        row = self.rows[oid] = attrs.evolve(self.rows[oid], **changes)
        return row

    async def mark_delivered(
        self, outbox_id: int, message_id: int, *, timeout: float | None = None
    ) -> OutboxRow:
        await anyio.sleep(self.latency)
        row = self.rows[outbox_id]
        return self._update(
            outbox_id, state=SendState.DELIVERED, message_id=message_id, attempts=row.attempts + 1
        )

    async def mark_failed(
        self, outbox_id: int, error: str, *, timeout: float | None = None
    ) -> OutboxRow:
        await anyio.sleep(self.latency)
        row = self.rows[outbox_id]
        return self._update(
            outbox_id, state=SendState.FAILED, last_error=error, attempts=row.attempts + 1
        )

    async def record_attempt(
        self, outbox_id: int, error: str | None = None, *, timeout: float | None = None
    ) -> OutboxRow:
        await anyio.sleep(self.latency)
        row = self.rows[outbox_id]
        return self._update(outbox_id, last_error=error, attempts=row.attempts + 1)

    def states(self) -> dict[int, SendState]:
        return {oid: r.state for oid, r in self.rows.items()}


def assert_exactly_once_in_order(
    port: FakePort, store: MemoryOutbox, channel_id: int, acknowledged: Iterable[int]
) -> None:
    """Every acknowledged row is on Discord once, and the channel shows outbox-id order."""
    posted = port.delivered[channel_id]
    nonces = [p.nonce for p in posted]
    assert len(nonces) == len(set(nonces)), "a message was posted twice"
    expected = [store.rows[oid].nonce for oid in sorted(acknowledged)]
    assert [n for n in nonces if n in set(expected)] == expected
    for oid in acknowledged:
        row = store.rows[oid]
        assert row.state is SendState.DELIVERED
        assert row.message_id == next(p.message_id for p in posted if p.nonce == row.nonce)


# ------------------------------------------------------------------------------------- helpers


@attrs.define(eq=False)
class Running:
    actor: ChannelActor
    handle: Any
    port: FakePort
    store: MemoryOutbox

    async def accept(
        self,
        content: str,
        *,
        key: str | None = None,
        sync: bool = True,
        timeout: float = math.inf,
    ) -> tuple[Accepted, DeliveryReply | None]:
        accepted: Reply[Accepted] = Reply()
        delivered: DeliveryReply | None = Reply() if sync else None
        await self.handle.tell(
            Accept({"content": content}, key, Ticket(), accepted, delivered), timeout=timeout
        )
        return await accepted.wait(), delivered


@asynccontextmanager
async def channel_actor(
    port: FakePort | None = None,
    store: MemoryOutbox | None = None,
    *,
    channel_id: int = 10,
    capacity: int = 64,
    **options: Any,
) -> AsyncIterator[Running]:
    port = port or FakePort()
    store = store or MemoryOutbox()
    handle, mailbox = open_mailbox[ChannelMsg](f"channel {channel_id}", capacity)
    options.setdefault("base_backoff", 0.1)
    options.setdefault("max_backoff", 2.0)
    options.setdefault("ready_wait", 5.0)
    actor = ChannelActor(AGENT, channel_id, mailbox, port, store, **options)
    with mailbox:
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            try:
                yield Running(actor, handle, port, store)
            finally:
                handle.close()


async def eventually(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait until ``predicate()`` holds, polling (the fakes have no events to wait on)."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polls a fake's state on the virtual clock
            await anyio.sleep(0.1)


async def settle(reply: DeliveryReply | None, timeout: float = 600.0) -> Delivered | None:
    assert reply is not None
    with anyio.fail_after(timeout):
        return await reply.wait()


# ------------------------------------------------------------------------------------- tests


@anyio_test
async def test_sync_send_is_delivered_and_marked() -> None:
    """A sync send is posted with its row's nonce and enforce_nonce, then marked delivered."""
    async with channel_actor() as ch:
        accepted, delivered = await ch.accept("hello")
        sent = await settle(delivered)
    assert sent is not None
    assert sent.nonce == accepted.row.nonce
    row = ch.store.rows[accepted.row.id]
    assert row.state is SendState.DELIVERED
    assert row.message_id == sent.id
    assert ch.port.contents(10) == ["hello"]


@trio_test
async def test_concurrent_senders_every_fault_once_in_order(
    autojump_clock: MockClock,
) -> None:
    """Concurrent senders under 5xx, 429, lost answers and an outage: once each, in order."""
    rng = random.Random(7)
    port = FakePort()
    for _ in range(40):
        port.script(
            10,
            rng.choice([server_error(), rate_limited(rng.uniform(0.1, 2.0)), LoseAnswer()]),
        )
    acknowledged: list[int] = []
    replies: list[DeliveryReply | None] = []
    async with channel_actor(port) as ch:

        async def sender(name: str) -> None:
            for i in range(15):
                accepted, delivered = await ch.accept(f"{name}-{i}", sync=i % 2 == 0)
                acknowledged.append(accepted.row.id)
                replies.append(delivered)
                await anyio.sleep(rng.uniform(0, 0.3))

        async def outage() -> None:
            await anyio.sleep(2.0)
            port.set_state(ConnectionState.DISCONNECTED)
            await anyio.sleep(20.0)
            port.set_state(ConnectionState.READY)

        async with anyio.create_task_group() as tg:
            for name in "abcd":
                tg.start_soon(sender, name)
            tg.start_soon(outage)
        for reply in replies:
            if reply is not None:
                assert await settle(reply) is not None
    assert len(acknowledged) == 60
    assert_exactly_once_in_order(port, ch.store, 10, acknowledged)
    # each sender's own messages keep their order too
    for name in "abcd":
        mine = [c for c in port.contents(10) if c.startswith(f"{name}-")]
        assert mine == [f"{name}-{i}" for i in range(15)]
    assert ch.actor.statistics().retries >= 40


@anyio_test
async def test_lost_answer_is_retried_without_a_duplicate() -> None:
    """Discord posted it but the answer was lost: the retry gets the same message back."""
    port = FakePort()
    port.script(10, LoseAnswer(), LoseAnswer())
    async with channel_actor(port) as ch:
        accepted, delivered = await ch.accept("once")
        sent = await settle(delivered)
    assert sent is not None
    assert port.contents(10) == ["once"]
    assert len([c for c in port.calls if c[2] == accepted.row.nonce]) == 3
    assert all(nonce == accepted.row.nonce for _, _, nonce in port.calls)
    assert ch.store.rows[accepted.row.id].attempts == 3


@trio_test
async def test_429_retries_the_head_after_retry_after(
    autojump_clock: MockClock,
) -> None:
    """A 429 retries the same message after retry_after, before any later message."""
    port = FakePort(latency=0.0)
    port.script(10, rate_limited(3.0))
    async with channel_actor(port) as ch:
        first, d1 = await ch.accept("first")
        second, d2 = await ch.accept("second")
        await settle(d1)
        await settle(d2)
    (t0, _, n0), (t1, _, n1), (_t2, _, n2) = port.calls
    assert n0 == n1 == first.row.nonce
    assert n2 == second.row.nonce
    assert t1 - t0 >= 3.0
    assert port.contents(10) == ["first", "second"]
    assert ch.actor.bucket is not None
    assert ch.actor.bucket.statistics().rate_limited == 1


@anyio_test
async def test_permanent_failure_marks_failed_and_moves_on() -> None:
    """A 403 fails the row and its sync sender with DiscordForbidden; the next one goes out."""
    port = FakePort()
    port.script(10, forbidden())
    async with channel_actor(port) as ch:
        bad, d_bad = await ch.accept("not allowed")
        good, d_good = await ch.accept("fine")
        with pytest.raises(DiscordForbidden, match="send_messages"):
            await settle(d_bad)
        assert await settle(d_good) is not None
    row = ch.store.rows[bad.row.id]
    assert row.state is SendState.FAILED
    assert row.last_error is not None
    assert "forbidden" in row.last_error
    assert ch.store.rows[good.row.id].state is SendState.DELIVERED
    assert port.contents(10) == ["fine"]


@trio_test
async def test_outage_makes_no_requests_and_recovers_in_order(autojump_clock: MockClock) -> None:
    """While not READY nothing is sent; on READY the backlog goes out in acceptance order."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    async with channel_actor(port) as ch:
        ids = [(await ch.accept(f"m{i}", sync=False))[0].row.id for i in range(5)]
        await anyio.sleep(120)
        assert port.calls == []
        assert all(ch.store.rows[oid].state is SendState.PENDING for oid in ids)
        port.set_state(ConnectionState.READY)
        await eventually(lambda: len(port.delivered[10]) >= 5)
    assert port.contents(10) == [f"m{i}" for i in range(5)]
    assert_exactly_once_in_order(port, ch.store, 10, ids)


@anyio_test
async def test_replay_at_start_delivers_pending_first_without_duplicates() -> None:
    """Pending rows load before the first message; one already on Discord is not re-posted."""
    port = FakePort()
    store = MemoryOutbox()
    old = [store.add(AGENT, 10, {"content": f"old{i}"}) for i in range(3)]
    store.add(AGENT, 11, {"content": "other channel"})
    port.post_directly(10, "old0", old[0].nonce)  # reached Discord before the crash
    async with channel_actor(port, store) as ch:
        new, delivered = await ch.accept("new")
        await settle(delivered)
        await eventually(lambda: store.rows[old[2].id].state is not SendState.PENDING)
    assert port.contents(10) == ["old0", "old1", "old2", "new"]
    assert store.rows[old[0].id].message_id == port.delivered[10][0].message_id
    assert_exactly_once_in_order(port, store, 10, [r.id for r in old] + [new.row.id])
    assert port.delivered[11] == []


@trio_test
async def test_wake_loads_rows_written_by_others_once(autojump_clock: MockClock) -> None:
    """Wake queues pending rows the actor does not hold; twice is still once."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    store = MemoryOutbox()
    async with channel_actor(port, store) as ch:
        await anyio.sleep(1)
        row = store.add(AGENT, 10, {"content": "from elsewhere"})
        await ch.handle.tell(Wake())
        await ch.handle.tell(Wake())
        await anyio.sleep(1)
        assert ch.actor.statistics().backlog == 1
        port.set_state(ConnectionState.READY)
        await eventually(lambda: store.rows[row.id].state is not SendState.PENDING)
    assert port.contents(10) == ["from elsewhere"]


@anyio_test
async def test_duplicate_key_is_delivered_once_and_answers_both() -> None:
    """The same idempotency key twice while pending: one post, both senders answered."""
    port = FakePort()
    port.script(10, server_error())
    async with channel_actor(port) as ch:
        a, da = await ch.accept("hi", key="k1")
        b, db = await ch.accept("hi", key="k1")
        sa, sb = await settle(da), await settle(db)
    assert b.duplicate
    assert b.row.id == a.row.id
    assert sa is not None
    assert sb is not None
    assert sa.id == sb.id
    assert port.contents(10) == ["hi"]


@anyio_test
async def test_abandoned_accept_is_skipped_and_nothing_is_written() -> None:
    """An Accept whose sender gave up before the intake took it is never written."""
    async with channel_actor() as ch:
        ticket = Ticket()
        assert ticket.abandon()
        skipped: Reply[Accepted] = Reply()
        await ch.handle.tell(Accept({"content": "late"}, None, ticket, skipped, None))
        taken, _ = await ch.accept("on time")
        assert not skipped.answered
        assert not ticket.take()
    assert [r.payload["content"] for r in ch.store.rows.values()] == ["on time"]
    assert taken.row.id == 1


@trio_test
async def test_stopping_in_an_outage_leaves_rows_pending(
    autojump_clock: MockClock,
) -> None:
    """Intake closing mid-outage ends the actor at once; rows stay pending, senders hear None."""
    port = FakePort(state=ConnectionState.DISCONNECTED)
    store = MemoryOutbox()
    with anyio.fail_after(5):
        async with channel_actor(port, store) as ch:
            _, delivered = await ch.accept("stays")
            await anyio.sleep(1)
    assert await settle(delivered) is None
    assert list(store.states().values()) == [SendState.PENDING]


@trio_test
async def test_backoff_grows_and_is_capped(autojump_clock: MockClock) -> None:
    """Repeated 5xx: waits 0.1, 0.2, 0.4 ... up to max_backoff between attempts."""
    port = FakePort(latency=0.0)
    port.script(10, *[server_error() for _ in range(7)])
    async with channel_actor(port, max_backoff=2.0) as ch:
        _, delivered = await ch.accept("slow")
        await settle(delivered)
    times = [t for t, _, _ in port.calls]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


@trio_test
async def test_egress_budget_pauses_until_failures_age_out(
    autojump_clock: MockClock,
) -> None:
    """With the egress budget spent, nothing is sent until enough 403s leave the window."""
    egress = EgressBudget(limit=4, fraction=0.5, window=60.0)
    for _ in range(2):
        egress.record(403)
    async with channel_actor(egress=egress) as ch:
        start = anyio.current_time()
        _, delivered = await ch.accept("patient")
        await settle(delivered)
    ((t, _, _),) = ch.port.calls
    assert t - start >= 60.0


@trio_test
async def test_global_bucket_429_blocks_the_agent_bucket(autojump_clock: MockClock) -> None:
    """A global-scope 429 also blocks the shared global token bucket."""
    from actors import RateLimitScope, TokenBucket

    port = FakePort(latency=0.0)
    port.script(10, Refuse(DiscordRateLimited("send", 5.0, scope=RateLimitScope.GLOBAL)))
    shared = TokenBucket(45, 5)
    async with channel_actor(port, global_bucket=shared) as ch:
        _, delivered = await ch.accept("x")
        await settle(delivered)
        assert shared.wait_time() == 0
    (t0, _, _), (t1, _, _) = port.calls
    assert t1 - t0 >= 5.0


@anyio_test
async def test_settled_outcome_keeps_no_message_content() -> None:
    """A late waiter for a settled send gets its id and nonce; the content is not kept."""
    async with channel_actor() as ch:
        first, d1 = await ch.accept("remember me", key="k")
        sent = await settle(d1)
        again, d2 = await ch.accept("remember me", key="k")
        late = await settle(d2)
    assert again.duplicate
    assert isinstance(sent, Delivered)
    assert late == sent
    assert (late.id, late.nonce, late.channel_id) == (
        ch.port.delivered[10][0].message_id,
        first.row.nonce,
        10,
    )
    assert list(ch.actor._settled.values()) == [late.id]  # a bare id: nothing for the gc


@attrs.define(eq=False)
class BrokenOutbox(MemoryOutbox):
    """An outbox whose writes fail."""

    async def append_many(
        self, sends: Iterable[NewSend], *, timeout: float | None = None
    ) -> tuple[Accepted, ...]:
        raise StoreWriteError("disk full")


@anyio_test
async def test_refused_accept_fails_its_delivered_reply_too() -> None:
    """A send the store refused fails both Replies: a sync sender waiting on one hears it."""
    async with channel_actor(store=BrokenOutbox()) as ch:
        accepted: Reply[Accepted] = Reply()
        delivered: DeliveryReply = Reply()
        await ch.handle.tell(Accept({"content": "x"}, None, Ticket(), accepted, delivered))
        with anyio.fail_after(5), pytest.raises(StoreWriteError, match="disk full"):
            await delivered.wait()
        with pytest.raises(StoreWriteError):
            await accepted.wait()


@anyio_test
async def test_duplicate_of_a_finished_send_answers_delivered_with_none() -> None:
    """A key whose send finished before this actor: its delivered Reply says None at once."""
    store = MemoryOutbox()
    old = store.add(AGENT, 10, {"content": "long ago"}, key="k")
    store.rows[old.id] = attrs.evolve(old, state=SendState.DELIVERED, message_id=5)
    async with channel_actor(store=store) as ch:
        accepted, delivered = await ch.accept("long ago", key="k")
        assert accepted.duplicate
        assert accepted.row.state is SendState.DELIVERED
        assert await settle(delivered, timeout=5) is None
    assert ch.port.calls == []
