"""Shared plumbing for tools: annotations, error translation, the services, structured answers."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results.store import ResultStoreUnavailable
from cargo_mcp.server.services import Services

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]

log = logging.getLogger("cargo_mcp")
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
KNOWN = (InputError, CargoError, ResultStoreUnavailable)


def services(ctx: Context[Any, Any]) -> Services:
    state: Services = ctx.request_context.lifespan_context
    return state


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn input and Cargo errors (also inside exception groups) into tool errors the model can act on; any other
    exception is a bug of cargo-mcp: logged with its traceback, reported to the model as an internal error."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as e:
            raise _tool_error(e, fn.__name__) from None

    return wrapper


def _tool_error(e: Exception, tool: str) -> ToolError:
    leaves = list(_leaves(e))
    known = next((x for x in leaves if isinstance(x, KNOWN)), None)
    if known is not None:
        if len(leaves) > 1 and any(not isinstance(x, KNOWN) for x in leaves):
            log.error("cargo-mcp tool %s: errors beside the one reported", tool, exc_info=e)
        return ToolError(f"Invalid input: {known}" if isinstance(known, InputError) else str(known))
    log.error("cargo-mcp tool %s: internal error", tool, exc_info=e)
    return ToolError(
        f"internal error in cargo-mcp ({type(e).__name__}), reported in the server log: a bug of cargo-mcp, not of "
        "the arguments. Report it to the cargo-mcp maintainers; the other tools may still work."
    )


def _leaves(e: BaseException) -> list[BaseException]:
    """The exceptions inside a (nested) exception group, in order; ``[e]`` for any other exception."""
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in _leaves(sub)]
    return [e]


def answer(model: BaseModel, text: str) -> CallToolResult:
    """A result with a short human-readable text and the model as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def doc(**fields: object) -> Callable[[F], F]:
    """Fill the ``{name}`` fields of a tool's docstring with contract constants (apply below ``tool_errors``)."""

    def fill(fn: F) -> F:
        fn.__doc__ = (fn.__doc__ or "").format(**fields)
        return fn

    return fill


def add_tool(mcp: MCPServer[Any], fn: Callable[..., Any], title: str) -> None:
    """Register a read-only tool; its docstring (dedented) is the model's manual."""
    mcp.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=READ_ONLY)
