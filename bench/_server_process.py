"""Run the real ``mcp-discord serve`` as a subprocess and read what its banner says (tests, bench).

``ServerProcess.start(tmp_path)`` launches ``python -m mcp_edge serve --transport http --port 0``
with the embedded sandbox (no token in its environment) and its data in ``tmp_path``, waits for
the banner on stdout and returns the MCP URL and the demo agents' API keys. ``stop()`` sends
SIGTERM and returns the exit code; stderr (JSON log lines) is kept for assertions.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

_URL = re.compile(r"MCP endpoint:\s+(http://\S+/mcp)")
_SANDBOX = re.compile(r"sandbox:\s+(http://\S+)")
_KEY = re.compile(r"^\s{4}(\w+)\s+(mcpd_\S+)$")


@attrs.define
class ServerProcess:
    process: subprocess.Popen[str]
    url: str
    keys: dict[str, str]
    stdout: list[str]
    stderr: list[str]
    pumps: list[threading.Thread] = attrs.field(factory=list)

    @property
    def sandbox_url(self) -> str:
        """The embedded sandbox's REST base, as the banner gives it."""
        match = _SANDBOX.search("".join(self.stdout))
        assert match, "no sandbox in the banner"
        return match.group(1)

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> ServerProcess:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MCP_DISCORD_")}
        environ.update(env or {})
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcp_edge",
                "serve",
                "--transport",
                "http",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        stdout: list[str] = []
        stderr: list[str] = []
        ready = threading.Event()
        pumps = [
            threading.Thread(target=_pump, args=(process.stdout, stdout, ready), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, stderr, None), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                _close(process, pumps)
                raise RuntimeError("the server did not print its banner:\n" + "".join(stderr[-30:]))
        text = "".join(stdout)
        match = _URL.search(text)
        assert match, text
        keys = {}
        for line in text.splitlines():
            found = _KEY.match(line)
            if found:
                keys[found.group(1)] = found.group(2)
        return cls(process, match.group(1), keys, stdout, stderr, pumps)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            _close(self.process, self.pumps)

    def log(self) -> str:
        return "".join(self.stderr)


def _pump(stream: object, into: list[str], ready: threading.Event | None) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)
        if ready is not None and line.startswith("Serving until"):
            ready.set()


def _close(process: subprocess.Popen[str], pumps: list[threading.Thread]) -> None:
    for pump in pumps:
        pump.join(10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
