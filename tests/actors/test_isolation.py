"""The actors package stays free of the libraries at the edges."""

from __future__ import annotations

import subprocess
import sys


def test_import_actors_loads_neither_discord_nor_mcp() -> None:
    """`import actors` (and its submodules) never pulls in discord or mcp."""
    code = (
        "import pkgutil, importlib, sys, actors\n"
        "for m in pkgutil.walk_packages(actors.__path__, 'actors.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'discord', 'mcp'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == ""
