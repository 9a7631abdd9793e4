"""``python -m mcp_edge`` runs the ``mcp-discord`` command line."""

from mcp_edge.cli import run

run()
