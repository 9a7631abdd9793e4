"""Load benchmarks for mcp-discord, run as ``python -m bench <scenario> [options]``.

Each scenario is one module with ``add_arguments(parser)`` and ``main(args) -> int``; the
dispatcher in :mod:`bench.__main__` lists them. A scenario prints a Markdown report to stdout
(figures, the machine they came from, and PASS/FAIL against the target its issue set) and can
also write the same figures as JSON.

Benchmarks measure wall time with :func:`time.perf_counter`: unlike runtime code, they must
see the real clock, never a test clock.
"""
