"""``mcp-discord config migrate``: the prototype's setup becomes a config file, no token leaked."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_edge import cli

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.iEPR9w.H3fg6pfjyhPmAGXQe9CnV9QRf2w04xXULiln8F"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token, config or timeout from the developer's shell; run in a scratch directory."""
    for var in ("DISCORD_TOKEN", "DISCORD_TIMEOUT", "MCP_DISCORD_CONFIG", "MCP_DISCORD_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _client_config(tmp_path: Path, env: dict[str, str]) -> Path:
    path = tmp_path / "claude_desktop_config.json"
    entry = {"command": "uv", "args": ["--directory", "/opt/mcp-discord", "run", "mcp-discord"]}
    path.write_text(json.dumps({"mcpServers": {"discord": {**entry, "env": env}}}))
    return path


def _agent(out: Path) -> dict[str, Any]:
    data = yaml.safe_load(out.read_text())
    assert len(data["agents"]) == 1
    return dict(data["agents"][0])


def test_from_the_environment(tmp_path: Path, monkeypatch, capsys) -> None:
    """DISCORD_TOKEN set: token_env, the prototype's intents, profile compat; a stdio entry."""
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    out = tmp_path / "conf" / "mcp-discord.yaml"
    code, stdout, stderr = _main(capsys, "config", "migrate", "--out", str(out))
    assert code == 0, stderr
    agent = _agent(out)
    assert agent["name"] == "discord"
    assert agent["token_env"] == "DISCORD_TOKEN"
    assert "token_file" not in agent
    assert agent["profile"] == "compat"
    assert agent["capabilities"] == {"message_content": True, "members": True, "presences": True}
    entry = json.loads(stdout)["mcpServers"]["discord"]
    assert entry["args"] == ["serve", "--config", str(out.resolve())]
    assert "env" not in entry
    assert "wrote" in stderr
    assert "must start the server with DISCORD_TOKEN set" in stderr
    assert TOKEN not in out.read_text() + stdout + stderr


def test_inline_token_goes_to_a_private_token_file(tmp_path: Path, capsys) -> None:
    """Token only in the client config: written 0600 to --token-file, never into the YAML."""
    client = _client_config(tmp_path, {"DISCORD_TOKEN": TOKEN, "DISCORD_TIMEOUT": "30"})
    out = tmp_path / "mcp-discord.yaml"
    token_file = tmp_path / "secrets" / "discord.token"
    code, stdout, stderr = _main(
        capsys,
        "config",
        "migrate",
        "--client-config",
        str(client),
        "--out",
        str(out),
        "--token-file",
        str(token_file),
    )
    assert code == 0, stderr
    assert token_file.read_text().strip() == TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    agent = _agent(out)
    assert agent["token_file"] == "secrets/discord.token"
    assert "token_env" not in agent
    assert TOKEN not in out.read_text() + stdout + stderr
    assert "DISCORD_TIMEOUT is not used" in stderr
    assert "uv --directory /opt/mcp-discord run mcp-discord" in stderr


def test_inline_token_without_token_file_is_not_copied(tmp_path: Path, capsys) -> None:
    """No --token-file: token_env and a placeholder in the entry; the token is nowhere."""
    client = _client_config(tmp_path, {"DISCORD_TOKEN": TOKEN})
    out = tmp_path / "mcp-discord.yaml"
    code, stdout, stderr = _main(
        capsys, "config", "migrate", "--client-config", str(client), "--out", str(out)
    )
    assert code == 0, stderr
    assert _agent(out)["token_env"] == "DISCORD_TOKEN"
    entry = json.loads(stdout)["mcpServers"]["discord"]
    assert entry["env"]["DISCORD_TOKEN"].startswith("<")
    assert "--token-file" in stderr
    assert TOKEN not in out.read_text() + stdout + stderr


def test_refuses_to_overwrite_without_force(tmp_path: Path, monkeypatch, capsys) -> None:
    """An existing --out is kept (exit 2) unless --force."""
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    out = tmp_path / "mcp-discord.yaml"
    out.write_text("# mine\n")
    code, stdout, stderr = _main(capsys, "config", "migrate", "--out", str(out))
    assert code == 2
    assert stdout == ""
    assert "--force" in stderr
    assert out.read_text() == "# mine\n"
    code, _, stderr = _main(capsys, "config", "migrate", "--out", str(out), "--force")
    assert code == 0, stderr
    assert _agent(out)["profile"] == "compat"


def test_no_token_anywhere(tmp_path: Path, capsys) -> None:
    """Neither the environment nor the client config has a token: exit 2, say what to do."""
    client = _client_config(tmp_path, {})
    code, stdout, stderr = _main(
        capsys, "config", "migrate", "--client-config", str(client), "--out", "x.yaml"
    )
    assert code == 2
    assert stdout == ""
    assert "export DISCORD_TOKEN" in stderr.replace("Export", "export")
    assert not (tmp_path / "x.yaml").exists()


def test_unknown_server_entry(tmp_path: Path, capsys) -> None:
    """--server-name that the client config lacks: the entries it has are named."""
    client = _client_config(tmp_path, {"DISCORD_TOKEN": TOKEN})
    code, _, stderr = _main(
        capsys, "config", "migrate", "--client-config", str(client), "--server-name", "disc"
    )
    assert code == 2
    assert "mcpServers.disc" in stderr
    assert "entries: discord" in stderr


def test_config_check_accepts_the_result(tmp_path: Path, monkeypatch, capsys) -> None:
    """`config check --config OUT` loads what migrate wrote (both token sources)."""
    client = _client_config(tmp_path, {"DISCORD_TOKEN": TOKEN})
    out = tmp_path / "from-file.yaml"
    args = ["--client-config", str(client), "--out", str(out)]
    code, _, stderr = _main(
        capsys, "config", "migrate", *args, "--token-file", str(tmp_path / "t.token")
    )
    assert code == 0, stderr
    code, stdout, stderr = _main(capsys, "config", "check", "--config", str(out))
    assert code == 0, stderr
    checked = json.loads(stdout)
    assert checked["agents"][0]["name"] == "discord"
    assert checked["transport"] == "stdio"
    assert checked["agents"][0]["profile"] == "compat"
    assert checked["data_dir"] == str((tmp_path / ".mcp-discord").resolve())
    assert TOKEN not in stdout + stderr
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    env_out = tmp_path / "from-env.yaml"
    code, _, stderr = _main(capsys, "config", "migrate", "--out", str(env_out))
    assert code == 0, stderr
    code, stdout, stderr = _main(capsys, "config", "check", "--config", str(env_out))
    assert code == 0, stderr
    assert json.loads(stdout)["agents"][0]["token_env"] == "DISCORD_TOKEN"
