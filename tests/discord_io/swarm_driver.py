"""A swarm in a subprocess, driven over stdin: what the kill -9 test starts and kills.

    python -m tests.discord_io.swarm_driver --sandbox URL --data DIR --agent NAME=TOKEN ...

Prints ``ready`` once every agent is READY. Then reads commands, one per line, in order:

    send AGENT CHANNEL_ID TEXT...   accept a queued send; prints ``ack AGENT CHANNEL OUTBOX_ID
                                    NONCE`` once the row is durable (or ``error KIND MESSAGE``)
    stop                            the ordered shutdown, as on SIGTERM

SIGTERM (or ``stop``, or the end of stdin) runs :meth:`Swarm.stop` with ``--stop-timeout`` and
prints ``stopped PENDING`` (rows left for the next start); the process then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import anyio

from actors.agent import AgentOptions
from actors.discord_port import AgentCapabilities
from discord_io.swarm import AgentConfig, Swarm

OPTIONS = AgentOptions(base_backoff=0.05, max_backoff=0.5, ready_wait=0.5)


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def serve(swarm: Swarm, reader: asyncio.StreamReader) -> None:
    """Run the commands on stdin, one at a time (so acks come in acceptance order)."""
    while line := (await reader.readline()).decode():
        words = line.split(maxsplit=3)
        if words == ["stop"]:
            return
        if len(words) != 4 or words[0] != "send":
            emit(f"error usage {line.strip()!r}")
            continue
        _, agent, channel, text = words
        try:
            receipt = await swarm.agent(agent).send_message(
                int(channel), text.rstrip("\n"), delivery="queued"
            )
        except Exception as exc:  # the test reads it; the driver goes on
            emit(f"error {type(exc).__name__} {exc}")
        else:
            emit(f"ack {agent} {channel} {receipt.outbox_id} {receipt.nonce}")


async def main(args: argparse.Namespace) -> None:
    configs = []
    for spec in args.agent:
        name, _, token = spec.partition("=")
        capabilities = AgentCapabilities(message_content=True)
        configs.append(AgentConfig(name, token, capabilities=capabilities, options=OPTIONS))
    swarm = Swarm(
        configs,
        args.data,
        args.sandbox,
        store_options={"synchronous": "NORMAL", "prune_interval": None},
        stop_timeout=args.stop_timeout,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(swarm.run)
        await swarm.ready(30)
        reader = await stdin_lines()
        emit("ready")
        with anyio.open_signal_receiver(signal.SIGTERM) as signals, anyio.CancelScope() as intake:

            async def on_sigterm() -> None:
                async for _ in signals:
                    intake.cancel()
                    return

            tg.start_soon(on_sigterm)
            await serve(swarm, reader)
        report = await swarm.stop()
        emit(f"stopped {sum(report.pending.values())}")
        tg.cancel_scope.cancel()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="swarm_driver")
    parser.add_argument("--sandbox", required=True, help="the sandbox's REST base URL")
    parser.add_argument("--data", required=True, help="the data directory (the Store)")
    parser.add_argument("--agent", action="append", required=True, help="NAME=TOKEN")
    parser.add_argument("--stop-timeout", type=float, default=10.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main, parse(sys.argv[1:]), backend="asyncio")
