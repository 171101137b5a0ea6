"""Cargo's orchestration SQL caps (cargo-api.md §7.2)."""

MAX_ROWS = 10_000  # result rows; more are truncated, not an error
