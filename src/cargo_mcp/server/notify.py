"""What the server tells the client while a tool works: log notifications and progress.

A tool call binds its request (:func:`serving`); code below it — the Cargo client's retries, the sandbox
start-up, downloads — calls :func:`log` or :func:`progress` without knowing about MCP requests. Log
notifications (``notifications/message``) honour the level a client set with ``logging/setLevel``
(per HTTP session; ``info`` until set). The SDK marks logging deprecated for the 2026-07-28 protocol,
where a client opts in per request instead; the SDK applies that opt-in itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, get_args
from weakref import WeakKeyDictionary

import anyio
from mcp import MCPDeprecationWarning
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams

# Logging is used knowingly (clients of the 2025 protocol read it); the SDK's deprecation note is for us, not users.
DEPRECATION = "The logging capability is deprecated"
warnings.filterwarnings("ignore", DEPRECATION, MCPDeprecationWarning)

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # debug … emergency, by severity
DEFAULT_LEVEL: LoggingLevel = "info"
LOGGER = "cargo-mcp"

_request: ContextVar[Context[Any, Any] | None] = ContextVar("cargo_mcp_request", default=None)
# server -> HTTP session id (None on stdio) -> the level the client set
_levels: WeakKeyDictionary[MCPServer[Any], dict[str | None, LoggingLevel]] = WeakKeyDictionary()


@contextmanager
def serving(ctx: Context[Any, Any] | None) -> Iterator[None]:
    """Route :func:`log` and :func:`progress` to this request while the block runs."""
    token = _request.set(ctx)
    try:
        yield
    finally:
        _request.reset(token)


async def log(level: LoggingLevel, message: str) -> None:
    """Send a log notification to the client of the current request, if its level lets it through."""
    ctx = _request.get()
    if ctx is None:
        return
    levels = _levels.get(ctx.mcp_server, {})
    if LEVELS.index(level) < LEVELS.index(levels.get(_session(ctx.headers), DEFAULT_LEVEL)):
        return
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):  # the client left: nobody to tell
        await ctx.log(level, message, logger_name=LOGGER)


async def progress(done: float, total: float | None, message: str) -> None:
    """Report progress on the current request (sent only if the client gave a progress token)."""
    ctx = _request.get()
    if ctx is not None:
        await ctx.report_progress(done, total, message)


def register(mcp: MCPServer[Any]) -> None:
    """Declare the logging capability: answer ``logging/setLevel``."""
    levels = _levels.setdefault(mcp, {})

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        levels[_session(getattr(ctx.request, "headers", None))] = params.level
        return EmptyResult()

    # MCPServer has no public hook for this method; the lowlevel server is its documented extension point.
    mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


def _session(headers: Any) -> str | None:
    return headers.get("mcp-session-id") if headers is not None else None
