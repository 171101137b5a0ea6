"""Shared plumbing for tools: annotations, error translation, the backend, structured answers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.server.backend import Backend
from cargo_mcp.server.health import announced

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

P = ParamSpec("P")
R = TypeVar("R")


def backend(ctx: Context[Any, Any]) -> Backend:
    state: Backend = ctx.request_context.lifespan_context
    return state


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn Cargo and input errors into tool errors the model can read and act on."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (InputError, CargoError) as e:
            raise _tool_error(e) from None
        except (ValidationError, KeyError) as e:  # an answer whose shape the wire models do not expect
            raise ToolError(_unreadable(e)) from None
        except BaseExceptionGroup as group:  # concurrent calls (task groups) wrap their errors
            known = _first_known(group)
            if known is None:
                raise
            raise _tool_error(known) from None

    return announced(wrapper)  # the setup banner and the request's notifications


def _tool_error(e: Exception) -> ToolError:
    return ToolError(f"Invalid input: {e}" if isinstance(e, InputError) else str(e))


def _unreadable(e: ValidationError | KeyError) -> str:
    if isinstance(e, ValidationError):
        first = e.errors(include_url=False, include_input=False)[0]
        where = f"{e.title}.{'.'.join(map(str, first['loc']))}: {first['msg']}"
    else:
        where = f"missing key {e.args[0]!r}"
    return (
        f"Cargo answered in a shape cargo-mcp does not understand ({where}). The API may have changed: "
        "report this to the cargo-mcp maintainers; execute_query and the other tools may still work."
    )


def _first_known(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    for e in group.exceptions:
        if isinstance(e, InputError | CargoError):
            return e
        if isinstance(e, BaseExceptionGroup):
            found = _first_known(e)
            if found is not None:
                return found
    return None


def answer(model: BaseModel, text: str) -> CallToolResult:
    """A result with a short human-readable text and the model as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def add_tool(mcp: MCPServer[Any], fn: Callable[..., Any], title: str) -> None:
    """Register a read-only tool; its docstring (dedented) is the model's manual."""
    mcp.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=READ_ONLY)
