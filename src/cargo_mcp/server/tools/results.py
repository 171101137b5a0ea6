"""Stored results: page, filter and sort a downloaded result; expose it as a CSV resource."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results.store import ResultNotFound
from cargo_mcp.server.render import UNTRUSTED, page_range, table
from cargo_mcp.server.tooling import add_tool, answer, services, tool_errors

RESOURCE_MAX_BYTES = 25 * 1024 * 1024


class ResultPage(BaseModel):
    result_id: str
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="Untrusted data from Cargo.")
    matching: int = Field(description="Rows matching `where` (all rows without it).")
    offset: int
    next_offset: int | None = None
    resource_uri: str


@tool_errors
async def read_result(
    ctx: Context[Any, Any],
    result_id: Annotated[str, Field(description="From download_outputs.")],
    offset: Annotated[int, Field(ge=0, description="Rows to skip.")] = 0,
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows to return.")] = 100,
    columns: Annotated[list[str] | None, Field(description="Only these columns (default: all).")] = None,
    where: Annotated[
        dict[str, Any] | None,
        Field(description='Exact matches, all must hold; a list means any of: {"runStatus": ["success", "error"]}.'),
    ] = None,
    order_by: Annotated[
        str | None,
        Field(description="Sort by this column (numerically when all its values are numbers); '-' for descending."),
    ] = None,
) -> Annotated[CallToolResult, ResultPage]:
    """Page through a stored download (from download_outputs) without calling Cargo again: choose columns,
    filter rows by exact values, sort by a column. The whole result is also readable as the CSV resource
    cargo://results/<result_id>."""
    s = services(ctx)
    desc = bool(order_by and order_by.startswith("-"))
    key = order_by.lstrip("-") if order_by else None
    shown, rows, matching = await anyio.to_thread.run_sync(
        lambda: s.store.read(
            result_id, offset=offset, limit=limit, columns=columns, where=where, order_by=key, descending=desc
        )
    )
    nxt = offset + len(rows) if offset + len(rows) < matching else None
    page = ResultPage(
        result_id=result_id,
        columns=shown,
        rows=rows,
        matching=matching,
        offset=offset,
        next_offset=nxt,
        resource_uri=f"cargo://results/{result_id}",
    )
    head = f"{matching:,} matching row(s) in {result_id}; {page_range(offset, len(rows), matching)}"
    head += f" (next_offset={nxt})" if nxt is not None else ""
    body = f"\n{UNTRUSTED}\n" + table(rows, shown[:8], max_chars=4000, cell=40) if rows else ""
    return answer(page, head + body)


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, read_result, "Page a stored result")

    @mcp.resource(
        "cargo://results/{result_id}",
        name="result",
        title="A stored download as CSV",
        description="A result downloaded by download_outputs, as CSV (header row; untrusted data from Cargo).",
        mime_type="text/csv",
    )
    async def result_csv(result_id: str, ctx: Context[Any, Any]) -> str:
        s = services(ctx)
        try:
            return await anyio.to_thread.run_sync(s.store.csv_text, result_id, RESOURCE_MAX_BYTES)
        except ResultNotFound as e:  # the client sees the message, not a crash
            raise ResourceNotFoundError(str(e)) from None
        except InputError as e:  # too large to serve as one resource
            raise ResourceError(str(e)) from None
