"""Every tool's annotations, exactly: what a client may assume before calling it."""

from __future__ import annotations

import pytest
from tests.mcp_edge.tools.conftest import Edge

pytestmark = [pytest.mark.anyio]

# tool: (read_only, destructive, idempotent, open_world)
TABLE = {
    "list_guilds": (True, False, True, True),
    "get_guild": (True, False, True, True),
    "list_channels": (True, False, True, True),
    "get_channel": (True, False, True, True),
    "list_members": (True, False, True, True),
    "get_member": (True, False, True, True),
    "read_messages": (True, False, True, True),
    "wait_for_events": (True, False, True, True),
    "server_status": (True, False, True, False),
    "send_message": (False, False, False, True),
    "edit_message": (False, False, True, True),
    "delete_message": (False, True, True, True),
    "add_reaction": (False, False, True, True),
    "remove_reaction": (False, True, True, True),
}


async def test_annotations_table(edge: Edge) -> None:
    """Each core tool's hints are exactly as the table says, and each has a title."""
    listed = await edge.client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(TABLE) <= set(tools)
    for name, (read_only, destructive, idempotent, open_world) in TABLE.items():
        hints = tools[name].annotations
        assert hints is not None, name
        got = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert got == (read_only, destructive, idempotent, open_world), name
        assert hints.title, name
        assert tools[name].description, name
