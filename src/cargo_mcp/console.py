"""What cargo-ai-mcp tells the person who started it: one stderr line each, prefixed with the command's name."""

from __future__ import annotations

import sys

COMMAND = "cargo-ai-mcp"  # the command users type (`cargo-mcp` is an alias); the import package stays cargo_mcp


def say(message: str) -> None:
    """Print ``message`` on stderr as ``cargo-ai-mcp: message``."""
    print(f"{COMMAND}: {message}", file=sys.stderr)
