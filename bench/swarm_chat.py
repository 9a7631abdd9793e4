"""A chat room of agents: 20 agents in one guild, each seeing every message the others post.

A sandbox process (Discord's rate limits on unless ``--no-rate-limits``) seeded with one guild
of ``--channels`` text channels shared by ``--agents`` bots (every bot granted the privileged
intents, so it reads others' message content); ``mcp-discord serve`` with every bot as an
agent. Each agent has two MCP sessions over ``--transport``:

- a *watcher* that long-polls ``wait_for_events`` (``types: [message_created]``) back to back,
  always passing ``next_cursor``, and notes when (``trio.current_time()``) each message first
  reached it -- and whether it reached it more than once;
- a *sender*, driven by the swarm load generator (:mod:`bench._load`) open loop: ``--rate``
  ``send_message`` calls per second in total (``delivery: sync``), spread evenly over the
  agents, rotating over the shared channels, every content unique (``chat <agent> <n>``).

After the timed window the watchers keep polling up to ``--grace`` seconds, until every
acknowledged message has reached every other agent. Reports:

- *delivery to all*: from a send's scheduled start until the last of the other agents had it
  (p50/p90/p99/max over the messages every other agent saw);
- *after ack*: the same, less the sender's own ``send_message`` latency (p50/p99; negative
  when the others had it before the sender had its answer);
- observations/s, *missed* observations (an acknowledged message some other agent never saw)
  and *duplicate* observations (a message an agent was handed twice);
- the common figures: ``send_message`` latency, delivered messages/s, server CPU s per 1000
  messages (which here includes the fan-out: every message is logged and handed to N-1
  watchers), peak RSS, 429s, and lost/duplicated against the sandbox's delivered log.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from bench import _results
from bench._load import CallRecord, LoadConfig, LoadResult, Transport, connect, run_load
from bench._scenario import add_common_arguments, first_errors, load_figures, transports
from bench._serve import Swarm, start_server, write_config
from bench._world import (
    PRIVILEGED,
    BotRef,
    build_seed,
    control,
    delivered_contents,
    sandbox_process,
)
from bench.latency import send_plan

TAG = "chat"
POLL_TIMEOUT = 5.0
"""Seconds one ``wait_for_events`` call may park (well under the tool time limit)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, seconds=30.0, transports="http")
    parser.add_argument("--agents", type=int, default=20, metavar="N", help="default 20")
    parser.add_argument(
        "--channels",
        type=int,
        default=4,
        metavar="N",
        help="text channels of the guild, shared by all agents (default 4)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=20.0,
        metavar="N",
        help="send_message calls/s offered in total, over all agents (default 20)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds the watchers may keep polling after the window (default 10)",
    )
    parser.add_argument(
        "--no-rate-limits",
        dest="rate_limits",
        action="store_false",
        help="start the sandbox without Discord's rate limits (default: on)",
    )


def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 2.0), min(args.warmup, 0.5)
        args.agents, args.channels = min(args.agents, 3), min(args.channels, 2)
        args.rate = min(args.rate, 3.0)
        args.grace = min(args.grace, 5.0)
    out = args.out or _results.default_out("swarm-chat")
    summary = trio.run(_main, args, out)
    print(summary.read_text(), end="")
    print(f"written to {out}/", file=sys.stderr)
    return 0


def write_shared_seed(folder: Path, agents: int, channels: int) -> tuple[Path, list[BotRef]]:
    """``folder/seed.json``: one guild of ``channels`` text channels, ``agents`` bots in it."""
    folder.mkdir(parents=True, exist_ok=True)
    seed, refs = build_seed(agents, 1, channels, per_bot=False, privileged=PRIVILEGED)
    seed_file = folder / "seed.json"
    seed_file.write_text(json.dumps(seed))
    return seed_file, refs


@asynccontextmanager
async def chat_world(
    folder: Path, *, agents: int, channels: int, rate_limits: bool
) -> AsyncIterator[Swarm]:
    """Like :func:`bench._serve.swarm`, but one guild whose ``channels`` all agents share."""
    seed_file, refs = write_shared_seed(folder, agents, channels)
    async with sandbox_process(seed_file, folder / "sandbox.log", rate_limits=rate_limits) as sb:
        config, keys = write_config(folder / "server", refs, sb.api_url)
        server = await start_server(folder / "data", config)
        try:
            yield Swarm(sb, server, refs, keys)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(server.stop)


@attrs.define
class Watcher:
    """One agent's view: when each message first reached it, and how often."""

    agent: int
    seen: dict[str, float] = attrs.field(factory=dict)
    """Content -> ``trio.current_time()`` of the page that first held it."""
    times: Counter[str] = attrs.field(factory=Counter)
    polls: int = 0
    errors: Counter[str] = attrs.field(factory=Counter)


def _page(result: Any) -> dict[str, Any]:
    """The structured ``EventPage`` of a ``wait_for_events`` result."""
    if result.is_error:
        texts = [getattr(block, "text", "") for block in result.content]
        raise RuntimeError(" ".join(texts)[:120] or "tool error")
    if result.structured_content is not None:
        page: dict[str, Any] = result.structured_content
        return page
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]


def _content(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    message = data.get("message", data)
    return str(message.get("content", ""))


async def watch(
    transport: Transport,
    base_url: str,
    key: str,
    watcher: Watcher,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Long-poll ``wait_for_events`` for ``watcher``'s agent until cancelled."""
    async with connect(transport, base_url, key) as client:
        arguments: dict[str, Any] = {"types": ["message_created"], "limit": 100, "timeout": 0}
        while True:  # skip what was logged before the run (the agent's history)
            page = _page(await client.call_tool("wait_for_events", arguments))
            arguments["cursor"] = page["next_cursor"]
            if not page["events"]:
                break
        arguments["timeout"] = POLL_TIMEOUT
        task_status.started()
        while True:
            try:
                page = _page(await client.call_tool("wait_for_events", arguments))
            except Exception as exc:  # one failed poll is a figure; the next one retries
                watcher.errors[type(exc).__name__] += 1
                await trio.sleep(0.1)
                continue
            now = trio.current_time()
            watcher.polls += 1
            arguments["cursor"] = page["next_cursor"]
            for event in page["events"]:
                content = _content(event)
                if content.startswith(TAG + " "):
                    watcher.times[content] += 1
                    watcher.seen.setdefault(content, now)


def delivery_to_all(
    result: LoadResult, watchers: list[Watcher]
) -> tuple[list[CallRecord], dict[str, Any]]:
    """Per acknowledged send: when the last other agent had it; the observation counts."""
    start = result.window[0]
    records: list[CallRecord] = []
    after_ack: list[float] = []
    expected = missed = 0
    for r in result.records:
        if not r.ok:
            continue
        tag = f"{TAG} {r.session} {r.n}"
        others = [w for w in watchers if w.agent != r.session]
        expected += len(others)
        sights = [w.seen[tag] for w in others if tag in w.seen]
        missed += len(others) - len(sights)
        if len(sights) == len(others):
            latency = max(sights, default=start + r.start) - (start + r.start)
            records.append(CallRecord(r.session, r.n, r.start, latency, None))
            after_ack.append(latency - r.latency)
        else:
            records.append(CallRecord(r.session, r.n, r.start, math.nan, "missed"))
    duplicates = sum(n - 1 for w in watchers for n in w.times.values() if n > 1)
    seconds = result.window[1] - result.window[0]
    figures = {f"to_all_{key}": value for key, value in _results.latency_ms(records).items()}
    after_ack.sort()
    figures.update(
        {
            "after_ack_p50_ms": _results.quantile(after_ack, 0.5) * 1000,
            "after_ack_p99_ms": _results.quantile(after_ack, 0.99) * 1000,
            "observations_expected": expected,
            "observations_per_s": (expected - missed) / seconds if seconds > 0 else math.nan,
            "observations_missed": missed,
            "observations_duplicated": duplicates,
            "watch_polls": sum(w.polls for w in watchers),
            "watch_errors": sum(sum(w.errors.values()) for w in watchers),
        }
    )
    return records, figures


async def total_429s(client: Any) -> int:
    """The 429s the sandbox has answered so far (a :func:`bench._world.control` call)."""
    return int((await client.counters()).total_429s)


def _all_seen(result_records: list[CallRecord], watchers: list[Watcher]) -> bool:
    for r in result_records:
        tag = f"{TAG} {r.session} {r.n}"
        if any(tag not in w.seen for w in watchers if w.agent != r.session):
            return False
    return True


async def _run(
    args: argparse.Namespace, world: Swarm, transport: Transport
) -> tuple[LoadResult, list[CallRecord], dict[str, Any]]:
    channels = world.bots[0].channel_ids  # one guild: every bot has the same ones
    plan = send_plan(channels, TAG)
    keys = [world.keys[bot.name] for bot in world.bots]
    watchers = [Watcher(s) for s in range(len(keys))]
    sampler = world.sampler()
    config = LoadConfig(
        transport=transport,
        base_url=world.server.base,
        keys=keys,
        seconds=args.seconds,
        warmup=args.warmup,
        rate=args.rate,
        label=f"swarm-chat {transport}",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        for watcher, key in zip(watchers, keys, strict=True):
            await nursery.start(partial(watch, transport, world.server.base, key, watcher))
        result = await run_load(config, plan)
        acked = [r for r in result.records if r.ok]
        with trio.move_on_after(args.grace):
            # a condition over every watcher's dict: polling it is simpler than an Event
            while not _all_seen(acked, watchers):  # noqa: ASYNC110
                await trio.sleep(0.1)
        await trio.sleep(sampler.interval)
        nursery.cancel_scope.cancel()
    figures = load_figures(result, sampler, server="server", per="message")
    to_all, observed = delivery_to_all(result, watchers)
    contents = await trio.to_thread.run_sync(
        control, world.sandbox.http_url, partial(delivered_contents, channels=list(channels))
    )
    counters = await trio.to_thread.run_sync(control, world.sandbox.http_url, total_429s)
    delivered = Counter(contents)
    sent = {f"{TAG} {r.session} {r.n}" for r in result.records}
    acked_tags = {f"{TAG} {r.session} {r.n}" for r in acked}
    delivered_in_window = sum(1 for tag in sent if tag in delivered)
    start, end = result.window
    seconds = end - start
    sandbox_cpu = sampler.cpu_between("sandbox", start, max(end, result.finished))
    figures.update(
        {
            "offered_per_s": args.rate,
            "delivered_per_s": delivered_in_window / seconds,
            **observed,
            "server_cpu_s_per_1000_msgs": figures["server_cpu_s"] / delivered_in_window * 1000
            if delivered_in_window
            else math.nan,
            "sandbox_cpu_s_per_1000_msgs": sandbox_cpu / delivered_in_window * 1000
            if delivered_in_window
            else math.nan,
            "http_429s": counters,
            "lost": len(acked_tags - delivered.keys()),
            "duplicated": sum(n - 1 for tag, n in delivered.items() if tag.startswith(TAG + " ")),
        }
    )
    return result, to_all, figures


async def _main(args: argparse.Namespace, out: Path) -> Path:
    runs: dict[str, dict[str, Any]] = {}
    records: dict[str, list[CallRecord]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-swarm-chat-") as tmp:
        for transport in transports(args.transport):
            async with chat_world(
                Path(tmp) / transport,
                agents=args.agents,
                channels=args.channels,
                rate_limits=args.rate_limits,
            ) as world:
                result, to_all, figures = await _run(args, world, transport)
            runs[transport] = figures
            records[f"{transport} send_message"] = result.records
            records[f"{transport} delivery to all"] = to_all
            notes += [f"{transport}: {e}" for e in first_errors(result)]
    config = {
        "agents": args.agents,
        "shared_channels": args.channels,
        "offered_per_s": args.rate,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "grace": args.grace,
        "sandbox_rate_limits": args.rate_limits,
    }
    notes.append(
        "to_all_*: from a send's scheduled start until every other agent's wait_for_events "
        "had returned it (latency.png: 'delivery to all' lines)."
    )
    return _results.write(
        out, "swarm-chat", runs, records, seconds=args.seconds, config=config, notes=notes
    )
