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
from cargo_mcp.server.services import Services
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
    empty: dict[str, int] = Field(default_factory=dict, description='Empty (null or "") cells per column.')
    groups: list[dict[str, Any]] | None = Field(default=None, description='[{"values": {…}, "count": n}]')
    group_count: int | None = None


PREVIEW_COLUMNS = 8
EMPTY = "(empty)"


@tool_errors
async def read_result(
    ctx: Context[Any, Any],
    result_id: Annotated[str, Field(description="From download_outputs.")],
    offset: Annotated[int, Field(ge=0, description="Rows (or groups) to skip.")] = 0,
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows (or groups) to return.")] = 100,
    columns: Annotated[list[str] | None, Field(description="Only these columns (default: all).")] = None,
    where: Annotated[
        dict[str, Any] | None,
        Field(
            description='Exact matches, all must hold; a list means any of: {"runStatus": ["success", "error"]}; '
            '"" matches empty (null or "").'
        ),
    ] = None,
    order_by: Annotated[
        str | None,
        Field(description="Sort by this column (numerically when all its values are numbers); '-' for descending."),
    ] = None,
    group_by: Annotated[
        list[str] | None,
        Field(description="Count rows per distinct value(s) of these columns instead."),
    ] = None,
) -> Annotated[CallToolResult, ResultPage]:
    """Page through a stored download (from download_outputs) without calling Cargo again: choose columns,
    filter rows by exact values, sort by a column; counts matching rows and empty cells per column; group_by
    counts rows per value. Also the CSV resource cargo://results/<result_id>."""
    s = services(ctx)
    if group_by is not None:
        if columns is not None or order_by is not None:
            raise InputError("group_by lists groups (most frequent first), not rows: drop columns and order_by.")
        if not group_by:
            raise InputError("group_by is empty: name at least one column, or leave it out to read rows.")
        return await _groups(s, result_id, group_by, where, offset, limit)
    desc = bool(order_by and order_by.startswith("-"))
    key = order_by.lstrip("-") if order_by else None

    def read() -> tuple[list[str], list[dict[str, Any]], int, dict[str, int]]:
        shown, rows, matching = s.store.read(
            result_id, offset=offset, limit=limit, columns=columns, where=where, order_by=key, descending=desc
        )
        return shown, rows, matching, s.store.empty_cells(result_id, shown, where)

    shown, rows, matching, empty = await anyio.to_thread.run_sync(read)
    nxt = offset + len(rows) if offset + len(rows) < matching else None
    page = ResultPage(
        result_id=result_id,
        columns=shown,
        rows=rows,
        matching=matching,
        offset=offset,
        next_offset=nxt,
        resource_uri=f"cargo://results/{result_id}",
        empty=empty,
    )
    lines = [
        f"{matching:,} matching row(s) in {result_id} ({page.resource_uri}); {page_range(offset, len(rows), matching)}"
    ]
    lines[0] += f" (next_offset={nxt})" if nxt is not None else ""
    if empty:
        cells = ", ".join(f"{c} {n:,}" for c, n in empty.items())
        rest = len(shown) - len(empty)
        lines.append(
            f'Empty cells (null or "") of the matching rows: {cells}'
            + (f"; none in the other {rest} column(s)" if rest else "")
        )
    elif shown and matching:
        lines.append(f"No empty cell in the matching rows' {len(shown)} column(s).")
    preview = shown if columns else shown[:PREVIEW_COLUMNS]
    if rows:
        if len(preview) < len(shown):
            others = ", ".join(shown[len(preview) :])
            lines.append(
                f"The table shows {len(preview)} of {len(shown)} columns; the others ({others}) are in the "
                "structured rows, or name them in columns=[…]."
            )
        lines += [UNTRUSTED, table(rows, preview, max_chars=4000, cell=40)]
    return answer(page, "\n".join(lines))


async def _groups(
    s: Services, result_id: str, by: list[str], where: dict[str, Any] | None, offset: int, limit: int
) -> CallToolResult:
    found, count, matching = await anyio.to_thread.run_sync(
        lambda: s.store.groups(result_id, by, where, offset=offset, limit=limit)
    )
    nxt = offset + len(found) if offset + len(found) < count else None
    page = ResultPage(
        result_id=result_id,
        columns=by,
        rows=[],
        matching=matching,
        offset=offset,
        next_offset=nxt,
        resource_uri=f"cargo://results/{result_id}",
        groups=[{"values": values, "count": n} for values, n in found],
        group_count=count,
    )
    head = (
        f"{matching:,} matching row(s) in {result_id} ({page.resource_uri}) form {count:,} group(s) by {', '.join(by)}"
    )
    head += f"; {page_range(offset, len(found), count)}" + (f" (next_offset={nxt})" if nxt is not None else "")
    lines = [head, f'{EMPTY} = null or "".']
    if found:
        view = [{**{c: EMPTY if v is None else v for c, v in values.items()}, "count": n} for values, n in found]
        lines += [UNTRUSTED, table(view, [*by, "count"], max_chars=4000, cell=60)]
    return answer(page, "\n".join(lines))


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
