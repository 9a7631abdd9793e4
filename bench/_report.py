"""What every scenario reports the same way: the machine it ran on and its JSON file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def machine(packages: Iterable[str]) -> dict[str, str]:
    """Where the figures came from: CPUs, OS, Python and the given packages' versions."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info = {
        "cpus": str(os.cpu_count()),
        "usable_cpus": str(usable if usable is not None else os.cpu_count()),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for package in packages:
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = "not installed"
    return info


def write_json(path: Path | None, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON to ``path`` (its folder made), or nothing without one."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
