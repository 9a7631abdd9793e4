"""Pacing without 429s: one agent's sends at the sandbox's message-create limit, 429s counted.

The target from the pacing issue: the ChannelActor predicts its Discord bucket from the
response headers and waits *before* sending, so the steady state never receives a 429, while
still using the rate Discord allows. Two scenarios, over real sockets, through the whole send
path (AgentHandle.send_message -> AgentActor -> ChannelActor -> Store -> AgentClient ->
discord.py -> the sandbox):

single
    ``--messages`` sends queued at once into one channel whose message-create limit is
    ``--limit N/SECONDS``. The sandbox's fixed windows allow N per window, so the *allowed
    rate* is N/SECONDS; the *achieved rate* is the steady state as the sandbox saw it
    (messages after the first window, divided by the time from the first to the last message
    by the sandbox's own timestamps). Pacing utilization = achieved / allowed; target >= 95 %
    with 0 429s.
fanout
    ``--channels`` x ``--per-channel`` sends queued at once, every channel concurrently. The
    bot's global limit (50 requests/s, not scaled) usually binds here, not the channels':
    the ideal wall time is the larger of the two; target 0 429s.

The sandbox runs in its own process (``python -m mcp_edge sandbox --port 0 --seed <generated>
--message-limit N/SECONDS``); this process runs one agent: an AgentClient (discord.py) with
its HTTP trace feeding the egress budget and the buckets, an AgentActor, and a Store in a
temporary directory. 429s are counted by the sandbox (its counters over the control API),
by scope; the agent's own count (the egress budget, fed by the trace) is shown beside it.

Discord's real limit is 5 per 5 s per channel, so 1000 messages take 1000 s: the default
``--limit 5/0.25`` scales the window 20x down (1000 messages in about 50 s). What is measured
is the ratio to the allowed rate, which does not depend on the scale as long as a window is
long against one request's round trip; ``--limit 5/5`` is the faithful long run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs

from bench import _report
from bench.sandbox import machine
from discord_io.sandbox import make_token

TARGET_UTILIZATION = 0.95
"""Achieved / allowed message rate in one channel the issue asks for (with 0 429s)."""
GLOBAL_LIMIT = 50
"""The sandbox's (and Discord's) requests per second per bot; not scaled by ``--limit``."""

_DISCORD_EPOCH_MS = 1_420_070_400_000
_ID_BASE = (1_704_067_200_000 - _DISCORD_EPOCH_MS) << 22
_STARTUP_TIMEOUT = 60.0
_BOT = "pacer"
_CREATE = "POST /channels/{channel_id}/messages"


@attrs.frozen
class PacingBenchConfig:
    """Sizes of one run; the defaults are the issue's, with the window scaled (see above)."""

    messages: int = 1000
    """Scenario single: messages into one channel."""
    channels: int = 100
    """Scenario fanout: channels written to concurrently."""
    per_channel: int = 10
    limit: int = 5
    """Message creates per channel per window (the sandbox's ``--message-limit``)."""
    window: float = 0.25
    scenarios: tuple[str, ...] = ("single", "fanout")

    @property
    def allowed_rate(self) -> float:
        return self.limit / self.window


@attrs.frozen
class ScenarioReport:
    """What one scenario measured."""

    name: str
    channels: int
    messages: int
    delivered: int
    """Messages the sandbox holds afterwards (each nonce once)."""
    duplicates: int
    elapsed: float
    """Wall seconds from queueing the first send to the last one delivered."""
    span: float
    """Seconds from the first to the last message, by the sandbox's timestamps."""
    ideal_span: float
    """The least ``span`` the limits allow: (windows - 1) x window, or the global limit's."""
    rate_limited: dict[str, int]
    """429s the sandbox answered, by scope."""
    statuses: dict[int, int]
    """The sandbox's answers to message creates, by status."""
    egress_counted: int
    """Invalid responses (401/403/429) the agent's trace counted in the egress budget."""
    steady_rate: float
    """Messages per second after the first window (scenario single); 0 otherwise."""

    @property
    def total_429s(self) -> int:
        return sum(self.rate_limited.values())

    @property
    def span_efficiency(self) -> float:
        """ideal / measured span: 1.0 is as fast as the limits allow."""
        return self.ideal_span / self.span if self.span > 0 else 1.0


@attrs.frozen
class PacingBenchReport:
    config: PacingBenchConfig
    machine: dict[str, str]
    scenarios: list[ScenarioReport]

    def utilization(self) -> float | None:
        single = self.scenario("single")
        return None if single is None else single.steady_rate / self.config.allowed_rate

    def scenario(self, name: str) -> ScenarioReport | None:
        return next((s for s in self.scenarios if s.name == name), None)

    @property
    def passed(self) -> bool:
        used = self.utilization()
        return all(
            s.total_429s == 0 and s.delivered == s.messages and s.duplicates == 0
            for s in self.scenarios
        ) and (used is None or used >= TARGET_UTILIZATION)


# -- the world ---------------------------------------------------------------------------------


def build_seed(channels: int) -> tuple[dict[str, Any], str, list[int]]:
    """A seed with one bot in one guild of ``channels`` text channels; its token, the ids."""
    bot_id, owner_id, guild_id = _ID_BASE + 1, _ID_BASE + 2, _ID_BASE + 3
    channel_ids = [_ID_BASE + 100 + i for i in range(channels)]
    token = make_token(bot_id, _BOT)
    seed = {
        "users": [{"name": "owner", "id": str(owner_id), "status": "online"}],
        "bots": [{"name": _BOT, "id": str(bot_id), "token": token}],
        "guilds": [
            {
                "name": "pacing",
                "id": str(guild_id),
                "owner": "owner",
                "members": [{"user": "owner"}, {"user": _BOT}],
                "channels": [
                    {"name": f"lane-{i}", "id": str(cid), "type": "text"}
                    for i, cid in enumerate(channel_ids)
                ],
            }
        ],
    }
    return seed, token, channel_ids


@contextlib.asynccontextmanager
async def _sandbox_process(
    seed_file: Path, log_file: Path, config: PacingBenchConfig
) -> AsyncIterator[str]:
    """Start ``python -m mcp_edge sandbox``; yield its HTTP URL (REST under /api/v10)."""
    command = [
        sys.executable,
        "-m",
        "mcp_edge",
        "sandbox",
        "--port",
        "0",
        "--seed",
        str(seed_file),
        "--message-limit",
        f"{config.limit}/{config.window:g}",
    ]
    with log_file.open("wb") as log:
        process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=log)
    try:
        yield await _read_base_url(process, log_file)
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()


async def _read_base_url(process: anyio.abc.Process, log_file: Path) -> str:
    assert process.stdout is not None
    buffer = ""
    with anyio.move_on_after(_STARTUP_TIMEOUT):
        async for chunk in process.stdout:
            buffer += chunk.decode(errors="replace")
            for line in buffer.splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "base URL" and value.strip().endswith("/api/v10"):
                    return value.strip().removesuffix("/api/v10")
    log = anyio.Path(log_file)
    tail = (await log.read_text(errors="replace"))[-2000:] if await log.exists() else ""
    raise RuntimeError(f"the sandbox did not start (no base URL on stdout); its log:\n{tail}")


# -- the measurement ---------------------------------------------------------------------------


async def _measure(config: PacingBenchConfig, say: Callable[[str], None]) -> PacingBenchReport:
    from actors import open_store
    from actors.agent import AgentActor, AgentOptions
    from actors.discord_port import AgentCapabilities
    from actors.egress import EgressBudget
    from discord_io._endpoint import point_discord_py_at
    from discord_io.agent_client import AgentClient
    from discord_io.sandbox.control_client import SandboxControl

    channels = max(1, config.channels if "fanout" in config.scenarios else 1)
    seed, token, channel_ids = build_seed(channels)
    most = max(config.messages, config.per_channel)
    options = AgentOptions(
        channel_capacity=256,
        max_backlog=most + 1,
        idle_timeout=3600.0,
        default_timeout=3600.0,
        sweep_interval=3600.0,
        base_backoff=0.05,
        max_backoff=1.0,
        ready_wait=5.0,
    )
    reports: list[ScenarioReport] = []
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(seed))
        say(f"pacing: starting the sandbox (message create {config.limit}/{config.window:g} s)")
        async with _sandbox_process(seed_file, Path(tmp) / "sandbox.log", config) as http_url:
            point_discord_py_at(http_url + "/api/v10")
            egress = EgressBudget()
            client = AgentClient(
                _BOT,
                token,
                AgentCapabilities(),
                identify_delay=0.0,
                guild_ready_timeout=0.1,
                egress=egress,
            )
            async with (
                SandboxControl(http_url) as control,
                open_store(Path(tmp) / "outbox.db", synchronous="NORMAL") as store,
                anyio.create_task_group() as tg,
            ):
                await tg.start(client.run)
                await client.wait_ready(30)
                actor = AgentActor(client, store, egress, options)
                await tg.start(actor.run)
                try:
                    if "single" in config.scenarios:
                        say(f"pacing: single: {config.messages} messages into one channel ...")
                        plan = {channel_ids[0]: config.messages}
                        reports.append(
                            await _scenario("single", plan, config, actor, control, egress, say)
                        )
                    if "fanout" in config.scenarios:
                        say(
                            f"pacing: fanout: {config.channels} channels x "
                            f"{config.per_channel} messages ..."
                        )
                        plan = dict.fromkeys(channel_ids[: config.channels], config.per_channel)
                        reports.append(
                            await _scenario("fanout", plan, config, actor, control, egress, say)
                        )
                finally:
                    actor.stop()
                    client.stop()
    return PacingBenchReport(config=config, machine=machine(), scenarios=reports)


async def _scenario(
    name: str,
    plan: dict[int, int],
    config: PacingBenchConfig,
    actor: Any,
    control: Any,
    egress: Any,
    say: Callable[[str], None],
) -> ScenarioReport:
    """Queue every send of ``plan`` (channel -> messages) at once; wait until all are out."""
    total = sum(plan.values())
    await control.reset_counters()  # also forgets the sandbox's windows: a clean start
    counted_before = egress.statistics().recorded
    handle = actor.handle

    def settled() -> int:
        """Sends settled (delivered or failed) so far, over the plan's channels."""
        return sum(
            stats.delivered + stats.failed
            for cid in plan
            if (ch := actor.channel_actor(cid)) is not None and (stats := ch.statistics())
        )

    already = settled()  # earlier scenarios' sends, in channels reused here
    ideal = _ideal_span(plan, config)
    started = time.perf_counter()
    with anyio.fail_after(max(120.0, 4 * ideal + 60), reason=f"{name}: sends not delivered"):
        async with anyio.create_task_group() as tg:

            async def queue(channel_id: int, count: int) -> None:
                for i in range(count):
                    await handle.send_message(
                        channel_id, f"{name} {channel_id} #{i}", delivery="queued"
                    )

            for channel_id, count in plan.items():
                tg.start_soon(queue, channel_id, count)
        next_report = time.perf_counter() + 10
        while settled() - already < total:
            await anyio.sleep(0.01)
            if time.perf_counter() >= next_report:
                next_report += 10
                say(f"pacing: {name}: {settled() - already} of {total} settled ...")
    elapsed = time.perf_counter() - started
    counters = await control.counters()
    held: list[Any] = []
    duplicates = 0
    for channel_id in plan:
        messages = [m for m in await control.delivered(channel_id) if m.content.startswith(name)]
        nonces = [m.nonce for m in messages]
        duplicates += len(nonces) - len(set(nonces))
        held += messages
    stamps = sorted(m.timestamp.timestamp() for m in held)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    steady = 0.0
    if name == "single" and len(stamps) > config.limit and span > 0:
        steady = (len(stamps) - config.limit) / span
    return ScenarioReport(
        name=name,
        channels=len(plan),
        messages=total,
        delivered=len({m.nonce for m in held}),
        duplicates=duplicates,
        elapsed=elapsed,
        span=span,
        ideal_span=ideal,
        rate_limited=dict(counters.rate_limited),
        statuses=dict(sorted(counters.requests.get(_CREATE, {}).items())),
        egress_counted=egress.statistics().recorded - counted_before,
        steady_rate=steady,
    )


def _ideal_span(plan: dict[int, int], config: PacingBenchConfig) -> float:
    """First to last message at best: every window full, the global limit's windows too."""
    per_channel = max((math.ceil(n / config.limit) - 1) * config.window for n in plan.values())
    total = sum(plan.values())
    global_bound = (math.ceil(total / GLOBAL_LIMIT) - 1) * 1.0
    return max(per_channel, global_bound)


def run(
    config: PacingBenchConfig, *, progress: Callable[[str], None] | None = None
) -> PacingBenchReport:
    """Run the scenarios (blocking), on uvloop when it is installed."""
    say = progress or (lambda _line: None)
    if importlib.util.find_spec("uvloop") is not None:
        return anyio.run(_measure, config, say, backend_options={"use_uvloop": True})
    return anyio.run(_measure, config, say)


# -- reporting ---------------------------------------------------------------------------------


def render_markdown(report: PacingBenchReport) -> str:
    """The report as Markdown: setup, one row per scenario, the verdict."""
    config, info = report.config, report.machine
    scaled = config.window != 5.0 or config.limit != 5
    lines = [
        "## pacing: sends at the sandbox's message-create limit, 429s counted",
        "",
        f"- machine: {info['cpus']} CPUs ({info['usable_cpus']} usable), {info['machine']}, "
        f"{info['python']}; machine speed {info['reference_us']} µs per reference JSON encode",
        f"- sandbox: `python -m mcp_edge sandbox --port 0 --seed <generated> --message-limit "
        f"{config.limit}/{config.window:g}` in its own process; global limit "
        f"{GLOBAL_LIMIT} requests/s per bot (not scaled)",
        f"- allowed rate in one channel: {config.limit}/{config.window:g} s = "
        f"{config.allowed_rate:g} messages/s"
        + (
            " (Discord's 5/5 s scaled down in time: the ratio to the allowed rate is what "
            "counts; `--limit 5/5` is the faithful long run)"
            if scaled
            else " (Discord's observed figure)"
        ),
        "- one agent: AgentClient (discord.py, HTTP trace) + AgentActor + Store (SQLite, "
        'NORMAL), every send queued at once with `delivery="queued"`',
        "",
        "| scenario | messages | delivered | 429s (user / global / shared) | 429s counted by "
        "agent | span s (ideal) | span efficiency | steady msg/s | total s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in report.scenarios:
        scopes = " / ".join(str(s.rate_limited.get(k, 0)) for k in ("user", "global", "shared"))
        where = "1 channel" if s.channels == 1 else f"{s.channels} channels"
        steady = f"{s.steady_rate:.2f}" if s.steady_rate else "-"
        lines.append(
            f"| {s.name} ({where}) | {s.messages:,} | {s.delivered:,} | {scopes} | "
            f"{s.egress_counted} | {s.span:.2f} ({s.ideal_span:.2f}) | "
            f"{s.span_efficiency:.1%} | {steady} | {s.elapsed:.2f} |"
        )
    used = report.utilization()
    lines.append("")
    if used is not None:
        lines.append(
            f"**pacing utilization (single): {used:.1%}** of the allowed "
            f"{config.allowed_rate:g} messages/s (achieved = messages after the first window / "
            "first-to-last span, by the sandbox's timestamps)"
        )
        lines.append("")
    verdict = "PASS" if report.passed else "FAIL"
    lines.append(
        f"**{verdict}**: target 0 429s in every scenario, every message delivered once, and "
        f"utilization >= {TARGET_UTILIZATION:.0%} in one channel."
    )
    return "\n".join(lines) + "\n"


def report_json(report: PacingBenchReport) -> dict[str, Any]:
    """The report as plain data."""
    return {
        "scenario": "pacing",
        "config": attrs.asdict(report.config),
        "machine": report.machine,
        "target": {"utilization_at_least": TARGET_UTILIZATION, "429s": 0},
        "passed": report.passed,
        "utilization": report.utilization(),
        "scenarios": [
            {
                **attrs.asdict(s),
                "statuses": {str(k): v for k, v in s.statuses.items()},
                "total_429s": s.total_429s,
                "span_efficiency": s.span_efficiency,
            }
            for s in report.scenarios
        ],
    }


# -- the command line --------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _limit(text: str) -> tuple[int, float]:
    count, _, seconds = text.partition("/")
    try:
        limit, window = int(count), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants N/SECONDS such as 5/5, not {text!r}") from None
    if limit < 1 or not (window > 0 and math.isfinite(window)):
        raise argparse.ArgumentTypeError(f"wants N >= 1 and SECONDS > 0, not {text!r}")
    return limit, window


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PacingBenchConfig()
    parser.add_argument(
        "--messages",
        type=_positive,
        default=defaults.messages,
        metavar="N",
        help=f"scenario single: messages into one channel (default {defaults.messages})",
    )
    parser.add_argument(
        "--channels",
        type=_positive,
        default=defaults.channels,
        metavar="N",
        help=f"scenario fanout: channels at once (default {defaults.channels})",
    )
    parser.add_argument(
        "--per-channel",
        type=_positive,
        default=defaults.per_channel,
        metavar="N",
        help=f"scenario fanout: messages per channel (default {defaults.per_channel})",
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        default=(defaults.limit, defaults.window),
        metavar="N/SECONDS",
        help=f"the sandbox's message creates per channel per window (default "
        f"{defaults.limit}/{defaults.window:g}: Discord's 5/5 scaled 20x; 5/5 is faithful)",
    )
    parser.add_argument(
        "--only",
        choices=("single", "fanout"),
        default=None,
        help="run only this scenario (default: both)",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the figures as JSON to PATH"
    )


def main(args: argparse.Namespace) -> int:
    """Run, print the Markdown report; 0 even when the target is missed."""
    limit, window = args.limit
    scenarios = ("single", "fanout") if args.only is None else (args.only,)
    config = PacingBenchConfig(
        messages=args.messages,
        channels=args.channels,
        per_channel=args.per_channel,
        limit=limit,
        window=window,
        scenarios=scenarios,
    )
    report = run(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(render_markdown(report), end="")
    _report.write_json(args.json, report_json(report))
    return 0


__all__ = [
    "TARGET_UTILIZATION",
    "PacingBenchConfig",
    "PacingBenchReport",
    "ScenarioReport",
    "add_arguments",
    "build_seed",
    "main",
    "render_markdown",
    "report_json",
    "run",
]
