"""The MCP edge. The only package that imports ``mcp``."""
