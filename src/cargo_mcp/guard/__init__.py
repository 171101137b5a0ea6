"""Client-side read-only SQL guard for Cargo's orchestration query endpoint."""

from cargo_mcp.guard.sql import MAX_ROWS, Verdict, check

__all__ = ["MAX_ROWS", "Verdict", "check"]
