"""CPU of our actor runtime per ``send_message``, in process: no server, no discord.py.

``python -m bench.profiles.actor_cost [--sends N] [--agents A] [--channels C] [--profile]``
runs ``A`` :class:`~actors.agent.AgentActor` s, each writing to ``C`` channels, against an
in-memory Discord (:class:`FakeDiscord`: answers at once, after one checkpoint, with a
:class:`~actors.discord_port.MessageInfo` and rate-limit headers that never block) and one real
:class:`~actors.store.StoreActor` in a temporary directory (``synchronous=NORMAL``: no fsync, so
the disk does not set the pace). One task per agent calls
:meth:`~actors.agent.AgentHandle.send_message` (``delivery="sync"``) over its channels in turn
until ``N`` sends are done in all.

Prints CPU µs per send (``time.process_time``: every thread, the store's SQLite thread
included), wall µs per send, and the Python objects the gc tracks once the sends are done (what
every full collection walks). With ``--profile`` it runs again under cProfile and prints how
often the hot anyio/sniffio entry points were called per send, then the top functions by own
time. asyncio with uvloop by default (as the server runs); ``--backend trio`` for trio.

Run it with ``PYTHONPATH`` pointing at another ``src`` to compare two versions.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import itertools
import pstats
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs

from actors import open_store
from actors._ratelimit import RateLimitHeaders
from actors.agent import AgentActor, AgentOptions, ReceiptState
from actors.discord_port import (
    AllowedMentions,
    ConnectionState,
    FileUpload,
    JSONObject,
    MessageInfo,
    SentMessage,
)

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OPTIONS = AgentOptions(global_rate=1e9, global_burst=1e9, default_timeout=30.0)
"""No budget ever blocks: this measures the runtime's cost, not Discord's pace."""

WATCHED = (
    ("anyio get_async_backend", "_eventloop.py", "get_async_backend"),
    ("sniffio current_async_library", "sniffio", "current_async_library"),
    ("anyio current_time", "_eventloop.py", "current_time"),
    ("anyio checkpoint", "lowlevel.py", "checkpoint"),
    ("anyio checkpoint_if_cancelled", "lowlevel.py", "checkpoint_if_cancelled"),
    ("anyio cancel_shielded_checkpoint", "lowlevel.py", "cancel_shielded_checkpoint"),
    ("anyio CancelScope.__new__", "_tasks.py", "__new__"),
    ("anyio move_on_after", "_tasks.py", "move_on_after"),
    ("backend CancelScope.__enter__", "_backends", "__enter__"),
    ("anyio Event.__new__", "_synchronization.py", "__new__"),
    ("backend Event.wait", "_backends", "wait"),
    ("MemoryObjectSendStream.send", "memory.py", "send"),
    ("MemoryObjectReceiveStream.receive", "memory.py", "receive"),
)


@attrs.define(eq=False)
class FakeDiscord:
    """Discord for one agent, in memory: every send posts at once (after one checkpoint)."""

    agent: str
    user_id: int | None = 1
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(10**17), init=False)
    _sent: dict[int, int] = attrs.field(factory=dict, init=False)

    @property
    def state(self) -> ConnectionState:
        return ConnectionState.READY

    async def wait_ready(self, timeout: float) -> None:
        return None

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
        await anyio.lowlevel.checkpoint()  # the network round trip, at no cost
        mid = next(self._ids)
        count = self._sent[channel_id] = self._sent.get(channel_id, 0) + 1
        info = MessageInfo(
            id=mid,
            channel_id=channel_id,
            guild_id=1,
            author_id=1,
            author_name=self.agent,
            author_bot=True,
            content=content,
            created_at=EPOCH,
            nonce=nonce,
        )
        headers = RateLimitHeaders(
            limit=10**9, remaining=10**9 - count, reset_after=60.0, reset=2e9, bucket="create"
        )
        return SentMessage(mid, channel_id, EPOCH, nonce, info, rate_limit=headers)

    def __getattr__(self, name: str) -> Any:  # the rest of DiscordPort: never called here
        raise NotImplementedError(name)


async def _run(sends: int, agents: int, channels: int, path: Path) -> tuple[float, float, int]:
    """Returns (CPU seconds, wall seconds, gc-tracked objects after the sends)."""
    async with open_store(path, synchronous="NORMAL") as store:
        async with anyio.create_task_group() as tg:
            actors = [
                AgentActor(FakeDiscord(f"agent{i}"), store, None, OPTIONS) for i in range(agents)
            ]
            for actor in actors:
                await tg.start(actor.run)
            per_agent = [sends // agents + (i < sends % agents) for i in range(agents)]
            text = "hello there, a message " * 4

            async def sender(actor: AgentActor, n: int) -> None:
                handle = actor.handle
                for k in range(n):
                    receipt = await handle.send_message(1000 + k % channels, text)
                    assert receipt.state is ReceiptState.DELIVERED

            gc.collect()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            async with anyio.create_task_group() as senders:
                for actor, n in zip(actors, per_agent, strict=True):
                    senders.start_soon(sender, actor, n)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            gc.collect()
            objects = len(gc.get_objects())
            for actor in actors:
                actor.stop()
    return cpu, wall, objects


def _once(args: argparse.Namespace) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        backend_options = {"use_uvloop": True} if args.backend == "asyncio" else {}
        return anyio.run(
            _run,
            args.sends,
            args.agents,
            args.channels,
            Path(tmp) / "outbox.db",
            backend=args.backend,
            backend_options=backend_options,
        )


def _counts(stats: pstats.Stats, sends: int) -> None:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    print("\n| anyio entry point (cProfile) | calls per send |\n|---|---:|")
    for label, file_part, func in WATCHED:
        calls = sum(
            v[1]
            for (file, _, name), v in raw.items()
            if name == func and file_part in file and ("anyio" in file or "sniffio" in file)
        )
        print(f"| {label} | {calls / sends:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=8000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--channels", type=int, default=50, help="per agent")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--profile", action="store_true", help="then one run under cProfile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    runs = [_once(args) for _ in range(args.repeat)]
    cpu, wall, objects = min(runs)
    print(
        f"{args.sends} sync sends, {args.agents} agents x {args.channels} channels "
        f"({args.backend}): CPU {cpu / args.sends * 1e6:.0f} µs/send (best of {args.repeat}: "
        + ", ".join(f"{r[0] / args.sends * 1e6:.0f}" for r in runs)
        + f"), wall {wall / args.sends * 1e6:.0f} µs/send, gc-tracked objects after: {objects}"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _once(args)
        profiler.disable()
        stats = pstats.Stats(profiler)
        _counts(stats, args.sends)
        print()
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
