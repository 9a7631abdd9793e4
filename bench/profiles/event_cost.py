"""CPU microseconds the server spends on each received MESSAGE_CREATE in our code (``timeit``).

Every message an agent sends comes back to its own bot as a gateway ``MESSAGE_CREATE``;
DiscordIO translates it into a :class:`~actors.discord_port.MessageCreated` and the
:class:`~actors.event_hub.EventHub` stages it for the log. ``python -m bench.profiles.event_cost``
times, per event and best of 5, outside any server, in CPU time (``time.process_time``: a busy
machine slows the figures less than wall time would):

- ``event_payload``: the event's JSON payload (:mod:`actors._event_payload`);
- the hub's whole batch step (``_handle_batch``: take, dedup, stage, append, publish) for
  batches of 256 live events, with a Store double that answers at once (the SQLite write and
  its ``json.dumps`` are the Store's, not measured here), with nobody listening, then with one
  subscriber and one parked ``wait_for_events`` per agent.

Run it with ``PYTHONPATH`` pointing at another ``src`` to compare two versions.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import time
import timeit
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import anyio

from actors._event_payload import event_payload
from actors._mailbox import open_mailbox
from actors.discord_port import AttachmentInfo, MessageCreated, MessageInfo
from actors.event_hub import EventHub, HubMsg, snowflake_at
from actors.store import EventPage, NewEvent

AGENTS = [f"agent-{i:03d}" for i in range(100)]
CHANNEL = 1_180_000_000_000_000_001
GUILD = 1_170_000_000_000_000_001
BATCH = 256
_ids = itertools.count(snowflake_at(1_700_000_000.0))


def _message(*, attachment: bool = False) -> MessageInfo:
    """A message as the swarm sends it: a guild text message from a bot, with a nonce."""
    mid = next(_ids)
    return MessageInfo(
        id=mid,
        channel_id=CHANNEL,
        guild_id=GUILD,
        author_id=1_190_000_000_000_000_042,
        author_name="agent-042",
        author_bot=True,
        content="hello there, a message " * 4,
        created_at=dt.datetime(2026, 11, 24, 3, 0, 0, 123000, tzinfo=dt.UTC),
        attachments=(
            (AttachmentInfo(mid + 1, "notes.txt", 1234, "https://cdn.example/notes.txt"),)
            if attachment
            else ()
        ),
        nonce=f"{mid:x}"[:25],
    )


class _NullLog:
    """An ``EventLog`` that takes every batch at once (the Store's cost is not ours here)."""

    def __init__(self) -> None:
        self.cursor = 0

    async def append_events(
        self, events: Iterable[NewEvent], *, timeout: float | None = None
    ) -> tuple[int, ...]:
        n = len(list(events))
        start = self.cursor
        self.cursor += n
        return tuple(range(start + 1, start + n + 1))

    async def read_events(self, agent: str, after: int = 0, **_: Any) -> EventPage:
        return EventPage((), after, missed=False)

    async def latest_messages(self, agent: str, *, timeout: float | None = None) -> dict[int, int]:
        return {}


def _best(fn: Callable[[], Any], number: int) -> float:
    """CPU microseconds per call, the best of 5 runs."""
    return min(timeit.repeat(fn, number=number, repeat=5, timer=time.process_time)) / number * 1e6


async def _hub_per_event(*, listeners: bool, rounds: int = 20) -> float:
    """CPU microseconds per event of ``_handle_batch`` over batches of ``BATCH`` live events."""
    handle, mailbox = open_mailbox[HubMsg]("event_hub", 4096)
    hub = EventHub(mailbox, handle, _NullLog(), dedup_window=BATCH * rounds * 6)
    subs = []
    async with anyio.create_task_group() as tg:
        if listeners:
            for agent in AGENTS:
                subs.append(hub.subscribe(agent, types=["message_created"], buffer=10**6))
                tg.start_soon(partial(hub.wait_for_events, agent, 10**9, timeout=10**6))
            await anyio.wait_all_tasks_blocked()
        best = float("inf")
        for _ in range(5):
            batches = [
                [MessageCreated(AGENTS[i % len(AGENTS)], _message()) for i in range(BATCH)]
                for _ in range(rounds)
            ]
            gc.disable()  # as timeit does: a collection's pause is not this code's cost
            started = time.process_time()
            for batch in batches:
                await hub._handle_batch(list[HubMsg](batch))
            best = min(best, time.process_time() - started)
            gc.enable()
            for sub in subs:  # keep the buffers from growing between runs
                while True:
                    try:
                        sub.receive_nowait()
                    except anyio.WouldBlock:
                        break
            await anyio.wait_all_tasks_blocked()  # woken waiters park again
        tg.cancel_scope.cancel()
    for sub in subs:
        sub.close()
    return best / (BATCH * rounds) * 1e6


def main() -> int:
    figures: dict[str, float] = {}
    plain = MessageCreated("agent-042", _message())
    with_file = MessageCreated("agent-042", _message(attachment=True))
    figures["event_payload(MessageCreated)"] = _best(lambda: event_payload(plain), 20_000)
    figures["event_payload(MessageCreated), 1 attachment"] = _best(
        lambda: event_payload(with_file), 20_000
    )
    figures["hub _handle_batch per event, nobody listening"] = anyio.run(
        partial(_hub_per_event, listeners=False)
    )
    figures["hub _handle_batch per event, 1 subscriber + 1 waiter/agent"] = anyio.run(
        partial(_hub_per_event, listeners=True)
    )
    width = max(len(k) for k in figures)
    print(f"| {'per-event piece':{width}} | µs |")
    print(f"|{'-' * (width + 2)}|---:|")
    for name, value in figures.items():
        print(f"| {name:{width}} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
