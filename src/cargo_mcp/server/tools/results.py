"""Stored results: page, filter and sort one (read_result), save it as a file (save_result), read it as CSV."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results import export
from cargo_mcp.results.store import ResultNotFound, ResultStore
from cargo_mcp.server.render import Text, call, page_range
from cargo_mcp.server.services import Services
from cargo_mcp.server.tooling import READ_LOCAL, WRITES_FILE, add_tool, answer, services, tool_errors

RESOURCE_MAX_BYTES = 25 * 1024 * 1024
ResultId = Annotated[str, Field(description="From download_outputs or execute_query.")]


class ResultPage(BaseModel):
    result_id: str
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="Untrusted data from Cargo.")
    matching: int = Field(description="Rows matching `where` (all rows without it).")
    offset: int
    next_offset: int | None = None
    resource_uri: str
    empty: dict[str, int] = Field(default_factory=dict, description='Empty (null or "") cells per column.')
    records: int | None = Field(default=None, description="Distinct recordId values of the matching rows.")
    records_succeeded: int | None = Field(default=None, description="Those with a success run.")
    groups: list[dict[str, Any]] | None = Field(default=None, description='[{"values": {…}, "count": n}]')
    group_count: int | None = None


EMPTY = "(empty)"
RECORD = "recordId"  # the column that names a row's record (a download has a row per run)
STATUS = "runStatus"  # the column of the row's run status


def distinct_records(store: ResultStore, result_id: str, where: dict[str, Any] | None) -> int | None:
    """How many distinct records the rows matching ``where`` hold (None: the result has no recordId column)."""
    if RECORD not in store.meta(result_id).columns:
        return None
    return store.groups(result_id, [RECORD], where, limit=0)[1]


def records_succeeded(store: ResultStore, result_id: str, where: dict[str, Any] | None) -> int | None:
    """How many distinct records of the rows matching ``where`` have a success run (None: the result has no
    recordId or runStatus column, or ``where`` already picks run statuses)."""
    if not {RECORD, STATUS} <= set(store.meta(result_id).columns) or STATUS in (where or {}):
        return None
    return store.groups(result_id, [RECORD], {**(where or {}), STATUS: "success"}, limit=0)[1]


def rows_of(rows: int, records: int | None, noun: str = "row(s)", succeeded: int | None = None) -> str:
    """``1,954 row(s)``, the distinct records they hold when some repeat one (runs are not records), and how many
    of them have a success run when some have none (a batch still running, failed runs)."""
    said = f"{rows:,} {noun}"
    if records is not None and records != rows:
        said += f" = {records:,} distinct record(s) (a record repeats in a row per run)"
    if succeeded is not None and records is not None and succeeded < records:
        said += f", of which {succeeded:,} have a success run"
    return said


def result_calls(result_id: str, offset: int, count: int, **read: Any) -> dict[str, Any]:
    """How a table of a stored page says where its left-out rows and cut cells are: read_result calls."""
    return {
        "rest": lambda i: call("read_result", result_id=result_id, **read, offset=offset + i, limit=count - i),
        "cells": lambda cols, i, n: call(
            "read_result", result_id=result_id, **{**read, "columns": cols}, offset=offset + i, limit=n
        ),
    }


@tool_errors
async def read_result(
    ctx: Context[Any, Any],
    result_id: ResultId,
    offset: Annotated[int, Field(ge=0, description="Rows (or groups) to skip.")] = 0,
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows (or groups).")] = 100,
    columns: Annotated[list[str] | None, Field(description="Only these (default: all).")] = None,
    where: Annotated[
        dict[str, Any] | None,
        Field(description='Exact values, all hold; a list: any of {"runStatus": ["success", "error"]}; "" empty.'),
    ] = None,
    order_by: Annotated[
        str | None,
        Field(description="Sort column ('-' first: descending)."),
    ] = None,
    group_by: Annotated[
        list[str] | None,
        Field(description="Count rows per value instead."),
    ] = None,
) -> Annotated[CallToolResult, ResultPage]:
    """Page a stored result locally: columns, exact-value filters, sort, empty cells; group_by counts.
    Also the CSV resource cargo://results/<result_id>."""
    s = services(ctx)
    if group_by is not None:
        if columns is not None or order_by is not None:
            raise InputError("group_by lists groups (most frequent first), not rows: drop columns and order_by.")
        if not group_by:
            raise InputError("group_by is empty: name at least one column, or leave it out to read rows.")
        return await _groups(s, result_id, group_by, where, offset, limit)
    desc = bool(order_by and order_by.startswith("-"))
    key = order_by.lstrip("-") if order_by else None

    def read() -> tuple[list[str], list[dict[str, Any]], int, dict[str, int], int | None, int | None]:
        shown, rows, matching = s.store.read(
            result_id, offset=offset, limit=limit, columns=columns, where=where, order_by=key, descending=desc
        )
        records = distinct_records(s.store, result_id, where)
        succeeded = records_succeeded(s.store, result_id, where)
        return shown, rows, matching, s.store.empty_cells(result_id, shown, where), records, succeeded

    shown, rows, matching, empty, records, succeeded = await anyio.to_thread.run_sync(read)
    nxt = offset + len(rows) if offset + len(rows) < matching else None
    uri = f"cargo://results/{result_id}"
    page = ResultPage(
        result_id=result_id,
        columns=shown,
        rows=rows,
        matching=matching,
        offset=offset,
        next_offset=nxt,
        resource_uri=uri,
        empty=empty,
        records=records,
        records_succeeded=succeeded,
    )
    text = Text()
    if empty:
        cells = ", ".join(f"{c} {n:,}" for c, n in empty.items())
        rest = len(shown) - len(empty)
        text.add(
            f'Empty cells (null or "") of the matching rows: {cells}'
            + (f"; none in the other {rest} column(s)" if rest else "")
        )
    elif shown and matching:
        text.add(f"No empty cell in the matching rows' {len(shown)} column(s).")
    asked = {"columns": columns, "where": where, "order_by": order_by}
    printed = text.table(rows, shown, data=True, **result_calls(result_id, offset, len(rows), **asked)) if rows else 0
    head = f"{rows_of(matching, records, 'matching row(s)', succeeded)} in {result_id}; "
    head += page_range(offset, len(rows), matching, printed) + (f" (next_offset={nxt})" if nxt is not None else "")
    text.prepend(head + f"; the whole result as CSV: {uri}")
    return answer(page, str(text))


async def _groups(
    s: Services, result_id: str, by: list[str], where: dict[str, Any] | None, offset: int, limit: int
) -> CallToolResult:
    found, count, matching = await anyio.to_thread.run_sync(
        lambda: s.store.groups(result_id, by, where, offset=offset, limit=limit)
    )
    nxt = offset + len(found) if offset + len(found) < count else None
    uri = f"cargo://results/{result_id}"
    page = ResultPage(
        result_id=result_id,
        columns=by,
        rows=[],
        matching=matching,
        offset=offset,
        next_offset=nxt,
        resource_uri=uri,
        groups=[{"values": values, "count": n} for values, n in found],
        group_count=count,
    )
    head = f"{matching:,} matching row(s) in {result_id} ({uri}) form {count:,} group(s) by {', '.join(by)}"
    head += f"; {page_range(offset, len(found), count)}" + (f" (next_offset={nxt})" if nxt is not None else "")
    text = Text(head, f'{EMPTY} = null or "".')
    if found:
        view = [{**{c: EMPTY if v is None else v for c, v in values.items()}, "count": n} for values, n in found]
        more = {"group_by": by, "where": where}
        rest = {
            "rest": lambda i: call("read_result", result_id=result_id, **more, offset=offset + i, limit=len(found) - i)
        }
        text.table(view, [*by, "count"], data=True, path="groups", width=60, **rest)
    return answer(page, str(text))


class SavedFile(BaseModel):
    result_id: str
    path: str
    format: str
    rows: int
    bytes: int
    replaced: bool = Field(description="An existing file was overwritten.")


@tool_errors
async def save_result(
    ctx: Context[Any, Any],
    result_id: ResultId,
    path: Annotated[str, Field(description="File name in CARGO_MCP_EXPORT_DIR or a client root.")],
    format: Annotated[Literal["csv", "json"], Field(description="File format.")] = "csv",
    overwrite: Annotated[bool, Field(description="Replace an existing file (ask the user first).")] = False,
) -> Annotated[CallToolResult, SavedFile]:
    """Write a stored result (all rows) to a local CSV or JSON file, atomically; nothing in Cargo.
    Replaces an existing file only with overwrite=true."""
    s = services(ctx)
    rows = (await anyio.to_thread.run_sync(s.store.meta, result_id)).rows
    shared = ctx.request_context.request is not None  # HTTP: the client's roots are paths on its own machine
    target = export.target(path, await _roots(ctx, s, shared), overwrite, shared=shared)
    existed = target.exists()
    size = await anyio.to_thread.run_sync(
        lambda: export.write(
            s.store, result_id, target, format, overwrite=overwrite, check=anyio.from_thread.check_cancelled
        )
    )
    saved = SavedFile(result_id=result_id, path=str(target), format=format, rows=rows, bytes=size, replaced=existed)
    verb = "Replaced" if existed else "Wrote"
    return answer(saved, f"{verb} {target} ({format}): {rows:,} row(s) of {result_id.strip()}, {size:,} bytes")


async def _roots(ctx: Context[Any, Any], s: Services, shared: bool) -> list[Path]:
    """Folders files may be saved in: CARGO_MCP_EXPORT_DIR and the client's file:// roots (over HTTP only
    narrowing it), if it shares them."""
    roots: list[Path] = []
    try:
        with warnings.catch_warnings():  # roots are deprecated in the 2026 protocol but still what IDEs send
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            listed = await ctx.session.list_roots()
    except Exception:  # clients without roots support, or the 2026 protocol without a back channel
        listed = None
    for root in listed.roots if listed else []:
        uri = str(root.uri)
        if uri.startswith("file://"):
            roots.append(Path(uri.removeprefix("file://")))
    return export.allowed_folders(s.settings.export_dir, roots, narrow_only=shared)


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, read_result, "Page a stored result", READ_LOCAL)
    add_tool(mcp, save_result, "Save a stored result to a file", WRITES_FILE)

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
