"""A bad setup looks bad: every tool answer starts with the sandbox marker, or with the start-up check's finding.

``serve`` checks the token once in the background (one current-workspace call; the handshake does not
wait for it). A refused token, a forbidden workspace, an unreachable or non-Cargo base URL becomes one
line — the reason and the fix — in front of every tool answer, and on stderr.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from cargo_mcp.api.probe import probe
from cargo_mcp.console import say
from cargo_mcp.settings import Settings

SANDBOX_MARK = "[sandbox: synthetic demo data — set CARGO_API_TOKEN for your workspace]"
SETUP_PROBLEMS = ("bad_token", "forbidden", "unreachable", "not_cargo")


class Health:
    """What every tool answer should say first (None: nothing)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.problem: str | None = None
        self._transient = False  # an unreachable Cargo may come back: a later success clears the line
        self.checked = anyio.Event()

    def banner(self) -> str | None:
        return SANDBOX_MARK if self.settings.sandbox else self.problem

    async def check(self) -> None:
        """The start-up check (with the server's own token only): one current-workspace call."""
        try:
            if not self.settings.sandbox and self.settings.token:
                found = await probe(self.settings.base_url, self.settings.token, self.settings.workspace_uuid)
                if found.verdict in SETUP_PROBLEMS:
                    self.problem = (
                        f"[setup problem: {found.reason} Fix: {found.fix} `cargo-ai-mcp doctor` checks it all.]"
                    )
                    self._transient = found.verdict == "unreachable"
                    say(self.problem[1:-1])
        finally:
            self.checked.set()

    def succeeded(self) -> None:
        """A tool call went through: a transient finding (Cargo unreachable at start) no longer holds."""
        if self._transient:
            self.problem, self._transient = None, False


async def banners(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """MCP middleware: every ``tools/call`` answer — errors, unknown tools and bad arguments included — starts with
    the health banner (the sandbox marker, or the start-up check's finding)."""
    result = await call_next(ctx)  # the answer in its wire shape
    health = getattr(ctx.lifespan_context, "health", None)
    if ctx.method != "tools/call" or not isinstance(health, Health) or not isinstance(result, dict):
        return result
    if not result.get("isError"):
        health.succeeded()
    banner = health.banner()
    content = result.get("content")
    if banner is None or not isinstance(content, list):
        return result
    first = content[0] if content else None
    if isinstance(first, dict) and first.get("type") == "text":
        content[0] = {**first, "text": f"{banner}\n{first.get('text', '')}"}
    else:
        content.insert(0, {"type": "text", "text": banner})
    return result
