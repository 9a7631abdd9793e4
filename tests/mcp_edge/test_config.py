"""Configuration: precedence, file formats, tokens, and every validation message."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_edge.config import (
    AgentSettings,
    Config,
    ConfigError,
    config_from_data,
    is_loopback,
    load_config,
)
from mcp_edge.keys import KeyRecord, hash_key, save_keys_file

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.iEPR9w.H3fg6pfjyhPmAGXQe9CnV9QRf2w04xXULiln8F"
HASH = hash_key("mcpd_" + "a" * 43)


def _problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.key: f"{p.problem} — {p.fix}" for p in exc.value.problems}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment(tmp_path: Path, monkeypatch) -> None:
    """No file and no variables is a valid config: stdio, loopback, sandbox on, data dir in CWD."""
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.transport == "stdio"
    assert config.host == "127.0.0.1"
    assert config.port == 8765
    assert config.data_dir == tmp_path / ".mcp-discord"
    assert config.keys_path == tmp_path / ".mcp-discord" / "api-keys.json"
    assert config.sandbox_enabled
    assert config.default_agent is None
    assert config.source == "defaults"


def test_precedence_overrides_then_env_then_file(tmp_path: Path) -> None:
    """A CLI override beats the environment, which beats the file, which beats the default."""
    path = _write(tmp_path / "c.toml", 'port = 1000\nhost = "127.0.0.2"\nlog_level = "error"\n')
    env = {"MCP_DISCORD_PORT": "2000", "MCP_DISCORD_HOST": "127.0.0.3"}
    config = load_config(path, env, {"port": 3000})
    assert config.port == 3000
    assert config.host == "127.0.0.3"
    assert config.log_level == "error"
    assert config.tool_timeout == 30.0
    assert "file" in config.source
    assert "MCP_DISCORD_HOST" in config.source
    assert "--port" in config.source


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    """MCP_DISCORD_CONFIG names the file when no path is given."""
    path = _write(tmp_path / "c.json", '{"port": 4321}')
    assert load_config(environ={"MCP_DISCORD_CONFIG": str(path)}).port == 4321


def test_environment_lists_are_comma_separated() -> None:
    """MCP_DISCORD_ALLOWED_HOSTS splits on commas and drops blanks."""
    config = config_from_data({}, environ={"MCP_DISCORD_ALLOWED_HOSTS": "a.example, b.example,"})
    assert config.allowed_hosts == ("a.example", "b.example")


TOML = f"""
transport = "http"
port = 9000
[[agents]]
name = "scribe"
token_env = "SCRIBE_TOKEN"
api_keys = ["{HASH}"]
default = true
capabilities = {{members = true}}
budget = {{rate = 2.5}}
[[agents]]
name = "herald"
token_env = "HERALD_TOKEN"
"""

YAML = f"""
transport: http
port: 9000
agents:
  - name: scribe
    token_env: SCRIBE_TOKEN
    api_keys: ["{HASH}"]
    default: true
    capabilities: {{members: true}}
    budget: {{rate: 2.5}}
  - {{name: herald, token_env: HERALD_TOKEN}}
"""

JSON = json.dumps(
    {
        "transport": "http",
        "port": 9000,
        "agents": [
            {
                "name": "scribe",
                "token_env": "SCRIBE_TOKEN",
                "api_keys": [HASH],
                "default": True,
                "capabilities": {"members": True},
                "budget": {"rate": 2.5},
            },
            {"name": "herald", "token_env": "HERALD_TOKEN"},
        ],
    }
)


def test_toml_yaml_and_json_mean_the_same(tmp_path: Path) -> None:
    """The same settings in TOML, YAML and JSON load to equal configs (but for their source)."""
    env = {"SCRIBE_TOKEN": SECRET, "HERALD_TOKEN": SECRET + "x"}
    configs = [
        load_config(_write(tmp_path / name, text), env)
        for name, text in (("c.toml", TOML), ("c.yaml", YAML), ("c.json", JSON))
    ]
    stripped = [c.redacted() | {"source": ""} for c in configs]
    assert stripped[0] == stripped[1] == stripped[2]
    scribe = configs[0].agents[0]
    assert scribe == AgentSettings(
        name="scribe",
        token=SECRET,
        token_env="SCRIBE_TOKEN",
        api_key_hashes=(HASH,),
        members=True,
        budget_rate=2.5,
        default=True,
    )
    assert configs[0].default_agent == "scribe"
    assert not configs[0].sandbox_enabled


def test_single_agent_shortcut_from_environment() -> None:
    """MCP_DISCORD_TOKEN alone defines one agent, named by MCP_DISCORD_AGENT or 'default'."""
    config = config_from_data({}, environ={"MCP_DISCORD_TOKEN": SECRET})
    assert [a.name for a in config.agents] == ["default"]
    assert config.agents[0].token == SECRET
    assert config.agents[0].token_env == "MCP_DISCORD_TOKEN"
    assert not config.sandbox_enabled
    named = config_from_data(
        {}, environ={"MCP_DISCORD_TOKEN": SECRET, "MCP_DISCORD_AGENT": "scout"}
    )
    assert named.default_agent == "scout"


def test_token_file_is_read_and_relative_to_the_config_file(tmp_path: Path) -> None:
    """token_file resolves against the config file's directory; its content is the token."""
    (tmp_path / "secrets").mkdir()
    token_file = _write(tmp_path / "secrets" / "scribe.token", SECRET + "\n")
    token_file.chmod(0o600)
    path = _write(tmp_path / "c.yaml", "agents: [{name: scribe, token_file: secrets/scribe.token}]")
    config = load_config(path, {})
    assert config.agents[0].token == SECRET
    assert config.agents[0].token_file == token_file
    assert config.warnings == ()


def test_token_file_readable_by_others_warns(tmp_path: Path) -> None:
    """A group- or world-readable token file loads, with a warning that says chmod 600."""
    token_file = _write(tmp_path / "t", SECRET)
    token_file.chmod(0o644)
    config = config_from_data(
        {"agents": [{"name": "a", "token_file": str(token_file)}]}, environ={}
    )
    assert config.agents[0].token == SECRET
    assert any("chmod 600" in w for w in config.warnings)


def test_token_file_empty_or_missing_is_a_problem(tmp_path: Path) -> None:
    """An empty or missing token file is refused, naming the key and the fix."""
    empty = _write(tmp_path / "empty", "  \n")
    data = {
        "agents": [
            {"name": "a", "token_file": str(empty)},
            {"name": "b", "token_file": str(tmp_path / "nope")},
        ]
    }
    with pytest.raises(ConfigError) as exc:
        config_from_data(data, environ={})
    problems = _problems(exc)
    assert "is empty — write the bot token into it" in problems["agents[0].token_file"]
    assert "does not exist" in problems["agents[1].token_file"]


def test_secrets_never_appear_in_repr_errors_or_redacted(tmp_path: Path) -> None:
    """The token is in no repr, and redacted() shows *** for it and ids for key hashes."""
    config = config_from_data(
        {"agents": [{"name": "a", "token_env": "T", "api_keys": [HASH]}]}, environ={"T": SECRET}
    )
    assert SECRET not in repr(config)
    shown = json.dumps(config.redacted())
    assert SECRET not in shown
    assert HASH not in shown
    agent = config.redacted()["agents"][0]
    assert agent["token"] == "***"
    assert agent["api_keys"] == [f"id:{HASH[7:15]}"]


def test_inline_token_is_refused_without_echoing_it() -> None:
    """token: in the file is refused, pointing at token_env/token_file, never printing it."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"agents": [{"name": "a", "token": SECRET}]}, environ={})
    assert SECRET not in str(exc.value)
    assert "agents[0].token" in str(exc.value)
    assert "token_env" in str(exc.value)
    assert "token_file" in str(exc.value)


def test_token_pasted_into_token_env_is_refused_without_echoing_it() -> None:
    """A token written where the variable's name belongs is caught and never printed."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"agents": [{"name": "a", "token_env": SECRET}]}, environ={})
    assert SECRET[:20] not in str(exc.value)
    assert "takes the NAME of a variable" in _problems(exc)["agents[0].token_env"]


def test_token_env_naming_an_unset_variable() -> None:
    """token_env naming an unset variable says which variable to export."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"agents": [{"name": "a", "token_env": "A_TOKEN"}]}, environ={})
    assert (
        "A_TOKEN is not set — export A_TOKEN=<bot token>" in _problems(exc)["agents[0].token_env"]
    )


def test_forced_sandbox_does_not_need_tokens() -> None:
    """With sandbox on (serve --sandbox), configured token sources are not read."""
    config = config_from_data(
        {"agents": [{"name": "a", "token_env": "A_TOKEN"}]},
        environ={},
        overrides={"sandbox": "on"},
    )
    assert config.sandbox_enabled
    assert config.agents[0].token is None


def test_yaml_on_off_means_sandbox_on_off(tmp_path: Path) -> None:
    """YAML reads unquoted on/off as booleans; sandbox accepts them as meant."""
    assert load_config(_write(tmp_path / "c.yaml", "sandbox: on\n"), {}).sandbox == "on"
    assert load_config(_write(tmp_path / "d.yaml", "sandbox: off\n"), {}).sandbox == "off"


def test_unknown_keys_suggest_the_closest() -> None:
    """A mistyped key is refused with the closest known key suggested."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"prot": 1, "agents": [{"name": "a", "tokn_env": "X"}]}, environ={})
    problems = _problems(exc)
    assert "did you mean port?" in problems["prot"]
    assert "did you mean token_env?" in problems["agents[0].tokn_env"]


def test_all_problems_are_reported_at_once() -> None:
    """Several mistakes come back together, each as 'key: problem — fix'."""
    data: dict[str, Any] = {
        "port": 70000,
        "transport": "carrier-pigeon",
        "tool_timeout": -1,
        "log_level": 3,
        "agents": [
            {"name": "a", "default": True, "api_keys": ["md5:abc"]},
            {"name": "a"},
            {"name": "Bad Name!", "default": True},
            {"name": "c", "default": True, "capabilities": {"members": "yes"}},
        ],
    }
    with pytest.raises(ConfigError) as exc:
        config_from_data(data, environ={}, overrides={"sandbox": "on"})
    problems = _problems(exc)
    assert "70000 is out of range — give a number from 0 to 65535" in problems["port"]
    assert "set it to one of: stdio, http" in problems["transport"]
    assert "give a number above 0" in problems["tool_timeout"]
    assert "debug, info, warning, error" in problems["log_level"]
    assert (
        'write "sha256:" followed by 64 lowercase hex digits' in problems["agents[0].api_keys[0]"]
    )
    assert "another agent is already called a" in problems["agents[1].name"]
    assert "a-z, 0-9" in problems["agents[2].name"]
    assert "expected true or false" in problems["agents[3].capabilities.members"]
    text = str(exc.value)
    assert text.startswith(f"config has {len(exc.value.problems)} problems:")
    assert all(" — " in line for line in text.splitlines()[1:])


def test_more_than_one_default_agent() -> None:
    """Two default agents are refused: one agent only may be the stdio agent."""
    with pytest.raises(ConfigError) as exc:
        config_from_data(
            {"agents": [{"name": "a", "default": True}, {"name": "b", "default": True}]},
            environ={},
        )
    assert "set default: true on one agent only" in _problems(exc)["agents.default"]


def test_environment_values_are_checked_by_variable_name() -> None:
    """A bad environment value names its variable."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({}, environ={"MCP_DISCORD_PORT": "eighty"})
    assert "expected a whole number" in _problems(exc)["MCP_DISCORD_PORT"]


def test_mistyped_environment_variable_warns() -> None:
    """MCP_DISCORD_PROT is not a setting: a warning suggests MCP_DISCORD_PORT."""
    config = config_from_data({}, environ={"MCP_DISCORD_PROT": "1"})
    assert any("did you mean MCP_DISCORD_PORT" in w for w in config.warnings)


def test_no_token_source_with_sandbox_off() -> None:
    """An agent without token_env or token_file cannot run with the sandbox off."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"sandbox": "off", "agents": [{"name": "a"}]}, environ={})
    assert "add token_env or token_file" in _problems(exc)["agent a"]


def test_auth_none_beyond_loopback_is_refused() -> None:
    """auth: none on a non-loopback address refuses, offering api_key or a loopback bind."""
    with pytest.raises(ConfigError) as exc:
        config_from_data({"transport": "http", "host": "0.0.0.0", "auth": "none"}, environ={})
    assert "use auth: api_key, or bind host: 127.0.0.1" in _problems(exc)["auth"]
    ok = config_from_data({"transport": "http", "host": "::1", "auth": "none"}, environ={})
    assert ok.auth == "none"


def test_beyond_loopback_needs_a_key(tmp_path: Path) -> None:
    """Binding beyond loopback with api_key auth but no key refuses; a keys-file key suffices."""
    data = {
        "transport": "http",
        "host": "0.0.0.0",
        "data_dir": str(tmp_path),
        "agents": [{"name": "a"}],
    }
    with pytest.raises(ConfigError) as exc:
        config_from_data(data, environ={})
    assert "no auth configured refuses to start" in _problems(exc)["auth"]
    assert "keys create" in _problems(exc)["auth"]
    save_keys_file(tmp_path / "api-keys.json", [KeyRecord("a", HASH, 1.0)])
    assert config_from_data(data, environ={}).host == "0.0.0.0"


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    """Missing, unparsable and wrongly-shaped files are ConfigErrors naming the file."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml", {})
    with pytest.raises(ConfigError, match=r"c\.toml: is not valid TOML"):
        load_config(_write(tmp_path / "c.toml", "port = = 1"), {})
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(_write(tmp_path / "c.json", "[1, 2]"), {})
    with pytest.raises(ConfigError, match=r"name it \.toml"):
        load_config(_write(tmp_path / "c.ini", "port=1"), {})


def test_parse_error_never_echoes_a_token(tmp_path: Path) -> None:
    """A syntax error on a line holding a token does not print the token."""
    path = _write(tmp_path / "c.yaml", f"agents:\n  - token: {SECRET}\n   bad: [\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, {})
    assert SECRET not in str(exc.value)


def test_loopback_detection() -> None:
    """localhost, 127/8 and ::1 are loopback; 0.0.0.0 and names are not."""
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "example.com", "10.0.0.1"))


def test_defaults_match_the_dataclass() -> None:
    """Loading nothing gives Config's own defaults but for the resolved data dir."""
    loaded = config_from_data({}, environ={}, base_dir=Path("/srv"))
    assert loaded == Config(data_dir=Path("/srv/.mcp-discord"), source="defaults")


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "transport", "host", "port", "data_dir", "log_level", "sandbox", "sandbox_seed",
        "sandbox_port", "auth", "allowed_hosts", "allowed_origins", "keys_file", "tool_timeout",
        "send_timeout", "max_request_body", "stop_timeout", "agents", "bogus",
    ]
)  # fmt: skip
_agent_keys = st.sampled_from(
    ["name", "token_env", "token_file", "sandbox_bot", "api_keys", "capabilities", "budget",
     "default", "token", "nmae"]
)  # fmt: skip
_agents = st.lists(st.dictionaries(_agent_keys, _values, max_size=6) | _values, max_size=3)
_configs = st.dictionaries(_keys, _values, max_size=8) | st.fixed_dictionaries(
    {"agents": _agents}, optional={"transport": st.sampled_from(["stdio", "http"])}
)
_environs = st.dictionaries(
    st.sampled_from(
        ["MCP_DISCORD_PORT", "MCP_DISCORD_HOST", "MCP_DISCORD_TRANSPORT", "MCP_DISCORD_SANDBOX",
         "MCP_DISCORD_TOKEN", "MCP_DISCORD_AGENT", "MCP_DISCORD_TOOL_TIMEOUT", "T",
         "MCP_DISCORD_ALLOWED_HOSTS", "MCP_DISCORD_KEYS_FILE", "MCP_DISCORD_PROT"]
    ),
    st.text(max_size=10),
    max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_configs, environ=_environs)
def test_random_configs_raise_only_config_error(
    data: dict[str, Any], environ: dict[str, str]
) -> None:
    """Any mapping and environment either loads or raises ConfigError, never anything else."""
    environ = {k: v.replace("\0", "") for k, v in environ.items()}
    try:
        config = config_from_data(data, environ=environ, base_dir=Path("/nonexistent-h1"))
    except ConfigError as exc:
        problems = exc.problems
        assert problems
        assert all(p.key and p.problem and p.fix for p in problems)
    else:
        json.dumps(config.redacted())
        assert config.sandbox in ("auto", "on", "off")
        assert os.fspath(config.data_dir)
