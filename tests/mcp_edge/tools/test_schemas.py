"""Every tool's schemas: ids are strings, outputs are described, and no input breaks a tool.

The fuzz test builds ONE edge (sandbox, swarm, server, client), lists the tools, derives a
hypothesis strategy from each tool's ``inputSchema`` (right shapes with some wrong types, huge
numbers, non-digit ids, unicode, real sandbox ids so calls reach Discord's own errors) plus
arbitrary JSON objects, draws the argument dicts up front with a collecting ``@given``, and then
calls every tool with each of them. Each call must come back as a ``CallToolResult`` -- never a
protocol error, an exception or a hang -- and an error result must carry a non-empty text with
no traceback; the server must keep answering ``server_status`` throughout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mcp.types import CallToolResult, Tool
from tests.mcp_edge.tools.conftest import Edge, running_edge

pytestmark = [pytest.mark.anyio]

JSON = dict[str, Any]
Ids = Callable[[str], "st.SearchStrategy[str]"]
"""Snowflake strings for an argument, by the argument's name."""
ID_NAME = re.compile(r"(^id$|_id$|_ids$)")
NOT_SNOWFLAKES = frozenset({"outbox_id"})
"""The server's own small row numbers (safe as JSON numbers), not Discord ids."""
SCHEMA_SHAPED = 30
ARBITRARY = 6
"""Argument dicts drawn per tool: from its input schema, and arbitrary JSON objects."""
AGENTS = ("scribe", "sentinel", "courier")
"""Who the fuzz calls as, in turn: all intents, none, members only."""

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


# --------------------------------------------------------------------------- the schema walk


def _resolve(schema: JSON, defs: Mapping[str, JSON]) -> JSON:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(defs[ref.rsplit("/", 1)[-1]], defs)
    return schema


def _alternatives(schema: JSON, defs: Mapping[str, JSON]) -> list[JSON]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return [alt for sub in schema["anyOf"] for alt in _alternatives(sub, defs)]
    return [schema]


def _is_string_like(schema: JSON, defs: Mapping[str, JSON]) -> bool:
    for alt in _alternatives(schema, defs):
        kind = alt.get("type")
        if kind == "null":
            continue
        if kind == "array":
            if not _is_string_like(alt.get("items", {}), defs):
                return False
        elif kind != "string":
            return False
    return True


def _id_violations(schema: JSON, defs: Mapping[str, JSON], path: str) -> list[str]:
    """Properties named like ids (``id``, ``*_id``, ``*_ids``) that are not strings."""
    found: list[str] = []
    for alt in _alternatives(schema, defs):
        for name, sub in alt.get("properties", {}).items():
            where = f"{path}.{name}"
            if (
                ID_NAME.search(name)
                and name not in NOT_SNOWFLAKES
                and not _is_string_like(sub, defs)
            ):
                found.append(where)
            found.extend(_id_violations(sub, defs, where))
        if alt.get("type") == "array":
            found.extend(_id_violations(alt.get("items", {}), defs, f"{path}[]"))
    return found


async def _tools(edge: Edge) -> list[Tool]:
    listed = await edge.client.list_tools()
    return list(listed.tools)


def test_the_walk_finds_numeric_ids() -> None:
    """The schema walk flags integer ids at any depth, through $ref and anyOf."""
    defs = {"Inner": {"properties": {"role_ids": {"type": "array", "items": {"type": "integer"}}}}}
    schema = {
        "properties": {
            "user_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "channel_id": {"type": "string"},
            "inner": {"$ref": "#/$defs/Inner"},
            "outbox_id": {"type": "integer"},
        }
    }
    assert _id_violations(schema, defs, "t") == ["t.user_id", "t.inner.role_ids"]


async def test_ids_are_strings_in_every_schema(edge: Edge) -> None:
    """Every id-named property of every input and output schema is a string (or list of)."""
    tools = await _tools(edge)
    assert len(tools) >= 14
    problems: list[str] = []
    for tool in tools:
        for side, schema in (("in", tool.input_schema), ("out", tool.output_schema or {})):
            problems += _id_violations(schema, schema.get("$defs", {}), f"{tool.name}:{side}")
    assert problems == []


async def test_every_tool_has_an_output_schema(edge: Edge) -> None:
    """Each tool publishes an output schema of an object, so results are structured."""
    for tool in await _tools(edge):
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema.get("type") == "object", tool.name


# --------------------------------------------------------------------------- strategies


def _strategy(
    schema: JSON, defs: Mapping[str, JSON], ids: Ids, field: str, depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema``, sometimes (one time in eight) of a wrong type."""
    right = _shaped(schema, defs, ids, field, depth)
    return st.integers(0, 7).flatmap(lambda roll: json_value if roll == 7 else right)


def _shaped(
    schema: JSON, defs: Mapping[str, JSON], ids: Ids, field: str, depth: int
) -> st.SearchStrategy[Any]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return st.one_of([_shaped(s, defs, ids, field, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.text(max_size=12)
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if depth > 3:
        return json_leaf
    if kind == "string":
        if schema.get("pattern") == r"^[0-9]{1,20}$":
            return ids(field)
        text = st.text(max_size=int(schema.get("maxLength", 40)) + 2)
        pattern = schema.get("pattern")
        return text | st.from_regex(pattern, fullmatch=True) if pattern else text
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        near = st.integers(
            None if low is None else int(low) - 1, None if high is None else int(high) + 1
        )
        return near | st.integers(min_value=-(2**70), max_value=2**70)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.floats(-2, 40)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = _strategy(schema.get("items", {}), defs, ids, field, depth + 1)
        return st.lists(items, max_size=min(int(schema.get("maxItems", 4)) + 1, 4))
    if kind == "object" or "properties" in schema:
        props = {
            name: _strategy(sub, defs, ids, name, depth + 1)
            for name, sub in schema.get("properties", {}).items()
        }
        required = [p for p in schema.get("required", []) if p in props]
        return st.fixed_dictionaries(
            {p: props[p] for p in required},
            optional={p: s for p, s in props.items() if p not in required},
        )
    return json_value


def _arguments(tool: Tool, ids: Ids) -> st.SearchStrategy[JSON]:
    schema = tool.input_schema
    shaped = _shaped(schema, schema.get("$defs", {}), ids, "", 0)
    return shaped.filter(lambda v: isinstance(v, dict))


arbitrary_objects = st.dictionaries(
    st.sampled_from(["channel_id", "cursor", "ctx", "limit", "types", "emoji"])
    | st.text(max_size=8),
    json_value,
    max_size=5,
)


def _collect(strategy: st.SearchStrategy[JSON], count: int) -> list[JSON]:
    """Up to ``count`` values drawn by hypothesis (no database: the sandbox ids change)."""
    drawn: list[JSON] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def grab(value: JSON) -> None:
        drawn.append(value)

    grab()
    return drawn


KINDS = {
    "guild": ("guild",),
    "channel": ("channel",),
    "message": ("message", "reply_to", "before", "after", "around"),
    "user": ("user", "author", "users", "roles"),
}


def _real_ids(edge: Edge) -> dict[str, list[str]]:
    """The sandbox's ids by kind (messages: those in #general now)."""
    sandbox = edge.sandbox
    general = int(edge.channel("general"))
    return {
        "guild": [str(g) for g in sandbox.state.guilds],
        "channel": [edge.channel(n) for n in ("general", "bot-lab", "staff", "welcome-thread")],
        "message": [str(m.id) for m in sandbox.delivered(general)],
        "user": [str(edge.user_id(n)) for n in ("alice", "scribe", "sentinel")],
    }


def _ids(edge: Edge) -> Ids:
    """For a field: mostly real ids of its kind (so calls reach Discord), else any digits or
    any text."""
    real = _real_ids(edge)
    everything = [i for kind in real.values() for i in kind]
    other = st.from_regex(r"[0-9]{1,22}", fullmatch=True) | st.text(max_size=22)

    def for_field(field: str) -> st.SearchStrategy[str]:
        kind = next((k for k, words in KINDS.items() if any(w in field for w in words)), None)
        good = st.sampled_from(real[kind] if kind else everything)
        return st.integers(0, 3).flatmap(lambda roll: other if roll == 3 else good)

    return for_field


# --------------------------------------------------------------------------- the fuzz


def _check(result: object, label: str) -> None:
    assert isinstance(result, CallToolResult), label
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert text.strip(), label
        assert "Traceback" not in text, label
        assert 'File "' not in text, label
        assert "internal error" not in text, label


async def test_no_input_breaks_a_tool(tmp_path: Path) -> None:
    """Hundreds of random argument objects: always a result, errors explained, server alive."""
    with anyio.fail_after(240, reason="the fuzz hung"):
        async with running_edge(tmp_path, tool_timeout=3.0, send_timeout=2.0) as edge:
            tools = await _tools(edge)
            general = edge.channel("general")
            for text in ("first", "second", "third"):
                await edge.ok("send_message", {"channel_id": general, "content": text})
            ids = _ids(edge)
            cases: list[tuple[str, JSON]] = []
            for tool in tools:
                cases += [(tool.name, a) for a in _collect(_arguments(tool, ids), SCHEMA_SHAPED)]
                cases += [(tool.name, a) for a in _collect(arbitrary_objects, ARBITRARY)]
            assert len(cases) >= 200
            errors = 0
            for i, (name, arguments) in enumerate(cases):
                agent = AGENTS[i % len(AGENTS)]
                label = f"{agent}: {name}({arguments!r})"
                async with edge.as_agent(agent):
                    with anyio.fail_after(10, reason=f"{label} hung"):
                        result = await edge.client.call_tool(name, arguments)
                _check(result, label)
                errors += bool(result.is_error)
                if i % 50 == 49:
                    await edge.ok("server_status")
            status = await edge.ok("server_status")
            assert {a["state"] for a in status["agents"]} == {"ready"}
            assert 0 < errors < len(cases)
