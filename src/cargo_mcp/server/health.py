"""A bad setup looks bad: every tool answer starts with the sandbox marker, or with the start-up check's finding.

``serve`` checks the token once in the background (one current-workspace call; the handshake does not
wait for it). A refused token, a forbidden workspace, an unreachable or non-Cargo base URL becomes one
line — the reason and the fix — in front of every tool answer, and on stderr.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from cargo_mcp.api.probe import probe
from cargo_mcp.server import notify
from cargo_mcp.settings import Settings

SANDBOX_MARK = "[sandbox: synthetic demo data — set CARGO_API_TOKEN for your workspace]"
SETUP_PROBLEMS = ("bad_token", "forbidden", "unreachable", "not_cargo")

P = ParamSpec("P")
R = TypeVar("R")


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
        """The start-up check (Cargo mode only): one current-workspace call."""
        try:
            if not self.settings.sandbox:
                found = await probe(self.settings.base_url, self.settings.token or "", self.settings.workspace_uuid)
                if found.verdict in SETUP_PROBLEMS:
                    self.problem = f"[setup problem: {found.reason} Fix: {found.fix} `cargo-mcp doctor` checks it all.]"
                    self._transient = found.verdict == "unreachable"
                    print(f"cargo-mcp: {self.problem[1:-1]}", file=sys.stderr)
        finally:
            self.checked.set()

    def succeeded(self) -> None:
        """A tool call went through: a transient finding (Cargo unreachable at start) no longer holds."""
        if self._transient:
            self.problem, self._transient = None, False


def announced(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a tool: bind its request for notifications; put the health banner in front of its answer."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = next((a for a in (*args, *kwargs.values()) if isinstance(a, Context)), None)
        health = getattr(ctx.request_context.lifespan_context, "health", None) if ctx is not None else None
        with notify.serving(ctx):
            try:
                result = await fn(*args, **kwargs)
            except ToolError as e:
                banner = health.banner() if isinstance(health, Health) else None
                if banner is None:
                    raise
                # Returned rather than raised, so that the banner is the answer's first line.
                text = f"{banner}\nError executing tool {fn.__name__}: {e}"
                return cast(R, CallToolResult(content=[TextContent(type="text", text=text)], is_error=True))
        if isinstance(health, Health):
            health.succeeded()
            banner = health.banner()
            if banner and isinstance(result, CallToolResult) and result.content:
                first = result.content[0]
                if isinstance(first, TextContent):
                    result.content[0] = TextContent(type="text", text=f"{banner}\n{first.text}")
        return result

    return wrapper
