"""Profiles of the server's per-call overhead (not benchmarks: tools to find where time goes)."""
