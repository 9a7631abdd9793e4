"""The MCP conformance suite, run against our HTTP server on both protocol eras.

The referee is npm's ``@modelcontextprotocol/conformance``, pinned with the Node 22 that runs
it in ``conformance/package-lock.json`` (the machine's own node may be older: the suite needs
22, so we run ``conformance/node_modules/.bin/node`` on the CLI's script, never ``npx``). A
session fixture installs both with ``npm ci`` and remembers the lockfile it installed, so
only the first run on a clone pays for the download.

For each era, ``conformance server --requirements <era>`` runs exactly the scenarios that
revision requires, at its own wire (2025-11-25: initialize handshake and sessions;
2026-07-28: stateless, per-request ``_meta``), plus the ones it runs without scoring. The
suite's tool, prompt and resource scenarios drive the fixtures of its reference server
(``test_image_content`` and the like), so many cannot apply to a server with its own
tools. ``conformance/expected.json`` classifies every scenario, per era:

- ``applies``: every check must pass, except the ``excused`` ones (each with its reason);
  an excused check that starts passing fails the test, so the list cannot go stale;
- not applicable: run and reported, never judged; ``why`` says why.

A scenario the suite runs that the file does not classify (a new scenario in a newer
suite) fails the test until someone classifies it, and so does a classified one the
suite no longer runs.

What is under test is decided in one place, :func:`start_server`. The CLI cannot send
custom headers (it has no ``--header`` option), so the server must accept unauthenticated
requests on loopback; a preflight request says so plainly if it does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from bench._server_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "conformance"
EXPECTED = CONFORMANCE / "expected.json"
NODE = CONFORMANCE / "node_modules" / ".bin" / "node"
CLI = CONFORMANCE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
STAMP = CONFORMANCE / "node_modules" / ".installed"

ERAS = ("2025-11-25", "2026-07-28")
# Result directories are named server-<scenario>-<ISO timestamp with ':' and '.' as '-'>.
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
_SEVERITY = {"FAILURE": 3, "WARNING": 2, "INFO": 1, "SUCCESS": 1, "SKIPPED": 0}
_BAD = frozenset({"FAILURE", "WARNING"})


@attrs.frozen
class ServerUnderTest:
    """Where the conformance suite finds the server, and what every request must carry."""

    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Check:
    """One conformance check, as the suite writes it to ``checks.json``."""

    id: str
    status: str
    message: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Check:
        """Keep what a verdict needs: the id, the status and why."""
        message = raw.get("errorMessage") or raw.get("description") or ""
        return cls(id=str(raw["id"]), status=str(raw["status"]), message=str(message))


# --- installing the referee -------------------------------------------------------------


def _lock_digest() -> str:
    """What an install is of: the manifest and the lockfile, byte for byte."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((CONFORMANCE / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def conformance_cli() -> Path:
    """`npm ci` in conformance/ unless this lockfile is already installed; the CLI's script."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the MCP conformance suite is an npm package")
    digest = _lock_digest()
    if not (STAMP.is_file() and STAMP.read_text().strip() == digest and NODE.exists()):
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CONFORMANCE,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
        assert done.returncode == 0, f"npm ci in conformance/ failed:\n{done.stderr[-4000:]}"
        STAMP.write_text(digest + "\n")
    version = subprocess.run(
        [NODE, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    assert version.startswith("v22."), f"conformance/ should pin Node 22, got {version}"
    return CLI


# --- the server under test ----------------------------------------------------------------


@contextlib.contextmanager
def start_server() -> Iterator[ServerUnderTest]:
    """Run ``mcp-discord serve --transport http`` (embedded sandbox) on a free loopback port.

    Authentication is off (``MCP_DISCORD_AUTH=none``, allowed on loopback only) because the
    suite cannot send an API key; every call acts as the default agent. The URL is the one
    the server's banner prints.
    """
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess.start(Path(data), env={"MCP_DISCORD_AUTH": "none"})
        try:
            yield ServerUnderTest(url=server.url)
        finally:
            server.stop()


def _preflight(server: ServerUnderTest) -> None:
    """Fail early, and say why, if the server wants credentials the suite cannot send."""
    request = urllib.request.Request(
        server.url,
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return
    except urllib.error.HTTPError as err:
        with err:
            status = err.code
    if status in (401, 403):
        pytest.fail(
            f"{server.url} answered {status} to a request without credentials; the "
            "conformance CLI cannot send headers, so run the server with authentication "
            "off on loopback (MCP_DISCORD_AUTH=none)"
        )


@pytest.fixture(scope="module")
def server() -> Iterator[ServerUnderTest]:
    """One server process for both eras' runs."""
    with start_server() as under_test:
        assert not under_test.headers, "the conformance CLI cannot send custom headers"
        _preflight(under_test)
        yield under_test


# --- reading and judging the suite's results ----------------------------------------------


def read_results(out_dir: Path) -> dict[str, list[Check]]:
    """Each scenario the suite ran, with its checks, from ``-o`` result directories."""
    results: dict[str, list[Check]] = {}
    for entry in sorted(out_dir.iterdir()):
        match = _RESULT_DIR.match(entry.name)
        assert match, f"unexpected entry in the suite's output: {entry.name}"
        scenario = match.group("scenario")
        assert scenario not in results, f"the suite ran {scenario} twice"
        raw = json.loads((entry / "checks.json").read_text())
        results[scenario] = [Check.from_json(check) for check in raw]
    return results


def judge(expected: Mapping[str, Any], results: Mapping[str, list[Check]]) -> list[str]:
    """Every way ``results`` disagrees with one era of expected.json, as readable lines."""
    problems = [
        f"{name}: the suite ran it but expected.json does not classify it (applies or why not)"
        for name in sorted(results.keys() - expected.keys())
    ]
    problems += [
        f"{name}: classified in expected.json but the suite no longer runs it"
        for name in sorted(expected.keys() - results.keys())
    ]
    for name in sorted(results.keys() & expected.keys()):
        entry = expected[name]
        if not entry["applies"]:
            continue
        excused: Mapping[str, str] = entry.get("excused", {})
        worst: dict[str, Check] = {}
        for check in results[name]:
            held = worst.get(check.id)
            if held is None or _SEVERITY.get(check.status, 3) > _SEVERITY.get(held.status, 3):
                worst[check.id] = check
        if all(check.status == "SKIPPED" for check in worst.values()):
            problems.append(f"{name}: applies, but the suite ran none of its checks")
        for check in worst.values():
            if check.status in _BAD and check.id not in excused:
                problems.append(f"{name}: {check.id} {check.status}: {check.message}")
            elif check.status not in _BAD and check.status != "SKIPPED" and check.id in excused:
                problems.append(
                    f"{name}: {check.id} now passes; remove its excuse from expected.json"
                )
    return problems


def _expected(era: str) -> dict[str, Any]:
    eras: dict[str, dict[str, Any]] = json.loads(EXPECTED.read_text())["eras"]
    return eras[era]


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.timeout(600)  # a cold `npm ci` downloads Node 22; the suite itself takes ~10 s
@pytest.mark.parametrize("era", ERAS)
def test_server_passes_every_applicable_scenario(
    era: str, conformance_cli: Path, server: ServerUnderTest, tmp_path: Path
) -> None:
    """Every scenario the era requires is classified, and every applicable one passes."""
    out_dir = tmp_path / "results"
    command: list[str | Path] = [NODE, conformance_cli, "server", "--url", server.url]
    command += ["--requirements", era]
    done = subprocess.run(
        [*command, "-o", out_dir],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    (tmp_path / "stdout.txt").write_text(done.stdout)
    (tmp_path / "stderr.txt").write_text(done.stderr)
    # The suite exits 1 whenever any scenario fails, applicable or not: judge its checks.
    assert done.returncode in (0, 1), f"the suite crashed:\n{done.stderr[-4000:]}"
    assert out_dir.is_dir(), f"the suite wrote no results:\n{done.stderr[-4000:]}"
    problems = judge(_expected(era), read_results(out_dir))
    assert not problems, f"conformance {era} (full log in {tmp_path}):\n" + "\n".join(problems)


def test_judge_flags_new_missing_failing_and_stale() -> None:
    """judge() reports unclassified and vanished scenarios, failures and stale excuses."""
    expected = {
        "ping": {"applies": True},
        "gone": {"applies": True},
        "fixture": {"applies": False, "why": "fixture tool"},
        "stateless": {"applies": True, "excused": {"a": "fixture", "b": "fixture"}},
    }
    results = {
        "ping": [Check("ping", "SUCCESS", ""), Check("ping", "WARNING", "slow")],
        "fixture": [Check("x", "FAILURE", "no such tool")],
        "stateless": [Check("a", "FAILURE", "x"), Check("b", "SUCCESS", "")],
        "brand-new": [Check("y", "SUCCESS", "")],
    }
    assert judge(expected, results) == [
        "brand-new: the suite ran it but expected.json does not classify it (applies or why not)",
        "gone: classified in expected.json but the suite no longer runs it",
        "ping: ping WARNING: slow",
        "stateless: b now passes; remove its excuse from expected.json",
    ]


def test_judge_accepts_an_applicable_scenario_that_passes() -> None:
    """All checks passing (INFO counts as a pass) gives no problems."""
    expected = {"tools-list": {"applies": True}}
    results = {"tools-list": [Check("tools-list", "SUCCESS", ""), Check("order", "INFO", "")]}
    assert judge(expected, results) == []


def test_expected_json_gives_every_scenario_a_reason() -> None:
    """Each classified scenario says why, only applicable ones excuse checks, for this suite."""
    pinned = json.loads((CONFORMANCE / "package.json").read_text())["dependencies"]
    suite = "@modelcontextprotocol/conformance"
    assert json.loads(EXPECTED.read_text())["suite"] == f"{suite}@{pinned[suite]}"
    for era in ERAS:
        for name, entry in _expected(era).items():
            assert isinstance(entry["applies"], bool), (era, name)
            assert entry["why"].strip(), (era, name)
            assert entry["applies"] or "excused" not in entry, (era, name)
            for check, reason in entry.get("excused", {}).items():
                assert reason.strip(), (era, name, check)
