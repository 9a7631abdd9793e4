"""The sandbox's CPU per message create, as the swarm benchmark loads it.

``python -m bench.profiles.sandbox_cost [--bots 20] [--guilds 2] [--channels 10] [--rate 150]
[--seconds 20] [--no-rate-limits] [--cprofile FILE] [--top K] [--micro]`` seeds ``--bots``
bots with ``--channels`` private channels each, dealt over ``--guilds`` guilds
(:func:`bench._world.build_seed` with ``per_bot`` and the privileged intents: the benchmark's
seed, 10 bots a guild as there), starts ``mcp-discord sandbox`` as a subprocess
(:func:`sandbox_process`, under cProfile with ``--cprofile``), connects one real discord.py
client per bot over the gateway (zlib-stream, discord.py's default) and posts messages at a
fixed ``--rate`` per second, round robin over every channel, through those clients
(``PartialMessageable.send`` with a nonce: a JSON body with ``content``, ``nonce`` and
``enforce_nonce``, as the server's agents send).

Each message is one ``POST /channels/{id}/messages`` (auth, permissions, rate limits, create,
answer) and one ``MESSAGE_CREATE`` dispatch to its bot's gateway. After a warm-up it reads the
sandbox's process CPU (``/proc``, :func:`process_cpu_seconds`) around ``--seconds`` of load and
prints the sandbox's CPU in ms per message, checks every message came back over the gateway,
and with ``--cprofile`` prints the sandbox's top entries (the whole run, warm-up included).

With rate limits (the default, as the benchmark), keep ``--rate`` at most about one message per
second per channel (Discord's 5 per 5 s): 200 channels, so 150/s leaves headroom.

``--micro`` instead times, in this process and best of 15 (``timeit``), the sandbox's own work
per message over the same seed, without sockets, HTTP or the event loop: the create
(``SandboxState.create_message``: access and permission checks, the nonce, the message), the
fan-out (``SessionHub.publish`` over one gateway session per bot, to links that keep nothing)
and the REST answer's body (``message_json`` and its encoding). It is the part this package's
code decides, measured without the noise of a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import pstats
import tempfile
import time
from pathlib import Path

import discord

from bench._world import PRIVILEGED, BotRef, build_seed, process_cpu_seconds, sandbox_process
from discord_io._endpoint import point_discord_py_at


class _Tally:
    """MESSAGE_CREATE dispatches received by every bot, and a wait for a total."""

    def __init__(self) -> None:
        self.count = 0
        self._target = 0
        self._reached = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count >= self._target:
            self._reached.set()

    async def wait_for(self, total: int, timeout: float) -> None:
        self._target = total
        self._reached.clear()
        if self.count < total:
            with contextlib.suppress(TimeoutError):  # the caller compares the counts
                await asyncio.wait_for(self._reached.wait(), timeout)


class _Bot(discord.Client):
    """A bot that counts the MESSAGE_CREATE dispatches it receives."""

    def __init__(self, tally: _Tally) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.1)
        self.tally = tally
        self.ready = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.tally.add()


async def _drive(
    clients: list[_Bot], refs: list[BotRef], rate: float, seconds: float, start: int
) -> int:
    """Post ``rate`` messages per second for ``seconds``; returns how many were posted."""
    targets = [
        (clients[b].get_partial_messageable(channel), ref.name)
        for c in range(len(refs[0].channel_ids))
        for b, ref in enumerate(refs)
        for channel in (ref.channel_ids[c],)
    ]
    total = int(rate * seconds)
    failures: list[BaseException] = []
    pending: set[asyncio.Task[None]] = set()

    async def post(i: int) -> None:
        channel, name = targets[i % len(targets)]
        try:
            await channel.send(f"sandbox cost {name} {i}", nonce=f"{i:x}")
        except Exception as exc:  # reported below, all at once
            failures.append(exc)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(total):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(post(start + i))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    if failures:
        raise RuntimeError(f"{len(failures)} sends failed; first: {failures[0]!r}")
    return total


async def _run(args: argparse.Namespace) -> None:
    seed, refs = build_seed(
        args.bots, args.guilds, args.channels, per_bot=True, privileged=PRIVILEGED, prefix="cost"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed_file = folder / "seed.json"
        seed_file.write_text(json.dumps(seed))
        async with sandbox_process(
            seed_file,
            folder / "sandbox.log",
            rate_limits=args.rate_limits,
            profile=args.cprofile,
        ) as sb:
            point_discord_py_at(sb.api_url)
            tally = _Tally()
            clients = [_Bot(tally) for _ in refs]
            runners = [
                asyncio.create_task(c.start(r.token)) for c, r in zip(clients, refs, strict=True)
            ]
            try:
                await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
                warm = await _drive(clients, refs, args.rate, 2.0, 0)
                await tally.wait_for(warm, 10)
                cpu0, wall0 = process_cpu_seconds(sb.pid), time.perf_counter()
                sent = await _drive(clients, refs, args.rate, args.seconds, warm)
                await tally.wait_for(warm + sent, 10)
                cpu = process_cpu_seconds(sb.pid) - cpu0
                wall = time.perf_counter() - wall0
                seen = tally.count - warm
            finally:
                for c in clients:
                    await c.close()
                await asyncio.gather(*runners, return_exceptions=True)
    print(
        f"{sent} messages in {wall:.1f} s ({sent / wall:.0f}/s) over {args.bots} bots x "
        f"{args.channels} channels, rate limits {'on' if args.rate_limits else 'off'}; "
        f"{seen} MESSAGE_CREATE received"
    )
    print(f"sandbox CPU: {cpu:.2f} s = {cpu / sent * 1000:.3f} ms per message")
    if seen != sent:
        raise SystemExit(f"lost dispatches: sent {sent}, received {seen}")
    if args.cprofile is not None:
        stats = pstats.Stats(str(args.cprofile))
        for order in ("tottime", "cumulative"):
            print(f"--- sandbox cProfile (whole run), by {order}")
            stats.sort_stats(order).print_stats(args.top)


def _micro(args: argparse.Namespace) -> None:
    """Time the sandbox's own per-message work in-process (see the module docstring)."""
    import collections
    import itertools
    import timeit

    from discord_io.sandbox import Seed
    from discord_io.sandbox._app import encode
    from discord_io.sandbox._config import GatewayConfig
    from discord_io.sandbox._intents import Intent
    from discord_io.sandbox._serialize import message_json
    from discord_io.sandbox._sessions import Session, SessionHub

    class _Link:
        def send_text(self, text: str) -> None:
            pass

        def close(self, code: int, reason: str = "") -> None:
            pass

        def drop(self) -> None:
            pass

    seed, refs = build_seed(
        args.bots, args.guilds, args.channels, per_bot=True, privileged=PRIVILEGED, prefix="cost"
    )
    state = Seed.from_mapping(seed).build()
    hub = SessionHub(state, GatewayConfig())
    state.publish = hub.publish
    intents = int(Intent.GUILDS | Intent.GUILD_MESSAGES | Intent.MESSAGE_CONTENT)
    for ref in refs:
        session = Session(
            f"s{ref.id}", state.bots[ref.id], intents, None, 50, "", collections.deque(maxlen=2000)
        )
        session.link = _Link()
        hub.open(session)
    targets = itertools.cycle([(ref.id, c) for c in range(args.channels) for ref in refs])
    by_id = {ref.id: ref for ref in refs}
    counter = itertools.count()

    def one() -> None:
        bot_id, c = next(targets)
        i = next(counter)
        message, _ = state.create_message(
            bot_id,
            by_id[bot_id].channel_ids[c],
            content=f"sandbox cost {i}",
            nonce=f"{i:x}",
            enforce_nonce=True,
        )
        encode(message_json(state, message, viewer_id=bot_id, nonce=True))

    n, rounds = 5_000, 15
    best = min(timeit.repeat(one, number=n, repeat=rounds)) / n
    print(
        f"sandbox's own work per message (create + fan-out to {args.bots // args.guilds} bots "
        f"of a guild + REST body), best of {rounds} x {n}: {best * 1e6:.1f} us"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--guilds", type=int, default=2, help="guilds the bots are dealt over")
    parser.add_argument("--channels", type=int, default=10, help="private channels per bot")
    parser.add_argument("--rate", type=float, default=150.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--no-rate-limits", dest="rate_limits", action="store_false", help="as --no-rate-limits"
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--cprofile", type=Path, default=None, help="profile the sandbox here")
    parser.add_argument("--micro", action="store_true", help="time the sandbox's code alone")
    args = parser.parse_args()
    if args.micro:
        _micro(args)
        return 0
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
