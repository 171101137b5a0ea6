"""Journey 3 — the output node's records, fetched from Cargo's signed download URL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api import requests as rq
from cargo_mcp.api.models import Batch
from cargo_mcp.api.sql import EXPORT_CAP
from cargo_mcp.api.vocabulary import InputError, text_arg, unknown_names
from cargo_mcp.results.download import download_outputs as fetch_all
from cargo_mcp.results.store import ResultMeta, ResultStore
from cargo_mcp.server import graph, notify
from cargo_mcp.server.release_split import release_note
from cargo_mcp.server.render import Text, call, page_range
from cargo_mcp.server.scope import DOWNLOADS, ScopeArgs, resolve, scoped
from cargo_mcp.server.services import Services
from cargo_mcp.server.tooling import add_tool, answer, doc, services, tool_errors
from cargo_mcp.server.tools.results import distinct_records, records_succeeded, result_calls, rows_of


class OutputPage(BaseModel):
    result_id: str = Field(description="The full result: read_result, save_result, or cargo://results/<id>.")
    workflow_uuid: str
    output_node_slug: str
    output_node_note: str | None = None
    columns: list[str] = Field(description="recordId, recordTitle, runUuid, runStatus, input.*, then outputs.")
    rows: list[dict[str, Any]] = Field(description="The requested page (untrusted data from Cargo).")
    total: int = Field(description="Rows in the full result (= runs matching the filters).")
    offset: int
    returned: int
    next_offset: int | None = None
    records: int | None = Field(default=None, description="Distinct recordId values of the rows (a row is a run).")
    records_succeeded: int | None = Field(default=None, description="Those with a success run.")
    filters: dict[str, Any]
    notes: list[str] = Field(default_factory=list)


@tool_errors
@doc(export_cap=f"{EXPORT_CAP:,}")
@scoped(DOWNLOADS)
async def download_outputs(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    output_node_slug: Annotated[str | None, Field(description="Default: the graph's output node.")] = None,
    format: Annotated[Literal["csv", "json"], Field(description="File format fetched.")] = "json",
    limit: Annotated[int, Field(ge=0, le=1000, description="Rows in this answer.")] = 20,
    offset: Annotated[int, Field(ge=0, description="First row of this answer.")] = 0,
    columns: Annotated[
        list[str] | None, Field(description="Columns in the text; default: title, status, outputs.")
    ] = None,
) -> Annotated[CallToolResult, OutputPage]:
    """The output node's records, a row per run (recordId, recordTitle, runUuid, runStatus, input.*,
    the node's fields), all fetched (past the {export_cap}-run export cap) as result_id for read_result and
    save_result; one page answered. Runs that never reached the node have empty outputs (counted)."""
    s = services(ctx)
    scope = await resolve(s, args)
    notes = scope.notes
    client = await s.cargo()
    slug, slug_note, other_ends = await _output_slug(s, scope.workflow_uuid, scope.batch, output_node_slug)
    if scope.filters.created_before is None:  # freeze the set: the count and every page see the same runs
        scope = replace(scope, filters=scope.filters.model_copy(update={"created_before": datetime.now(UTC)}))
    total = await client.count_runs(scope.filters)
    if total > s.settings.max_runs:
        raise InputError(
            f"{total:,} runs match, more than the {s.settings.max_runs:,}-run download limit "
            "(CARGO_MCP_MAX_RUNS); narrow the filters (batch, time window, statuses)."
        )
    filters = scope.filters.wire()

    async def progress(done: int, pages: int, message: str) -> None:
        await ctx.report_progress(done, pages, message)
        await notify.log("info", f"download_outputs: page {done} of {pages}: {message}")

    await notify.log("info", f"download_outputs: {total:,} matching runs of node {slug!r}, {format} pages")

    async with fetch_all(
        client,
        s.files,
        s.fetch_policy,
        s.store,
        scope.request(rq.DownloadRunOutputs, output_node_slug=slug, format=format),
        total,
        fmt=format,
        description=f"outputs of node {slug} for {filters}",
        progress=progress,
    ) as meta:
        await notify.log("info", f"download_outputs: stored {meta.rows:,} rows as {meta.result_id}")
        if total > EXPORT_CAP:
            pages = -(-total // EXPORT_CAP)
            notes.append(f"{total:,} runs exceed the {EXPORT_CAP:,}-run export cap: fetched in {pages} pages")
        if total == 0:
            notes.append("no run matches these filters (count_runs gives 0)")
        empty = await anyio.to_thread.run_sync(_empty_rows, s.store, meta)
        if empty:
            by_status = ", ".join(f"{status} {n:,}" for status, n in empty.items() if status is not None)
            notes.append(
                f"{sum(empty.values()):,} of {meta.rows:,} row(s) have no output from {slug!r}"
                + (f" (runStatus: {by_status})" if by_status else "")
                + ": those runs never reached it (another end node, a filter stop, an error, a cancel, or not finished"
                f" yet). Only runs that reached it: node_status={{{slug!r}: 'success'}}"
                + (f"; or output_node_slug= one of the other end nodes: {', '.join(other_ends)}" if other_ends else "")
                + "."
            )
        split = await release_note(s, meta, scope.filters, _output_columns(meta.columns))
        if split:
            notes.append(split)
        shown = _shown(meta.result_id, meta.columns, columns)
        _, rows, _ = await anyio.to_thread.run_sync(lambda: s.store.read(meta.result_id, offset=offset, limit=limit))
        nxt = offset + len(rows) if offset + len(rows) < meta.rows else None
        page = OutputPage(
            result_id=meta.result_id,
            workflow_uuid=scope.workflow_uuid,
            output_node_slug=slug,
            output_node_note=slug_note,
            columns=meta.columns,
            rows=rows,
            total=meta.rows,
            offset=offset,
            returned=len(rows),
            next_offset=nxt,
            records=await anyio.to_thread.run_sync(distinct_records, s.store, meta.result_id, None),
            records_succeeded=await anyio.to_thread.run_sync(records_succeeded, s.store, meta.result_id, None),
            filters=filters,
            notes=notes,
        )
        rid = meta.result_id
        text = Text(f"Filters sent: {json.dumps(filters)}")
        text.add(*(f"Note: {n}" for n in ([slug_note] if slug_note else []) + notes))
        text.add("Columns: " + ", ".join(meta.columns))
        printed = text.table(rows, shown, data=True, **result_calls(rid, offset, len(rows))) if rows else 0
        where = page_range(offset, len(rows), meta.rows, printed)
        head = rows_of(meta.rows, page.records, succeeded=page.records_succeeded)
        head += f" in result {rid} (output node {slug!r}, workflow "
        head += f"{scope.workflow_uuid}); {where}" + (f" (next_offset={nxt})" if nxt is not None else "")
        text.prepend(head)
        if rows:
            hidden = [c for c in meta.columns if c not in shown]
            if hidden:
                more = call("read_result", result_id=rid, columns=hidden, offset=offset, limit=len(rows))
                text.leave_out([f"rows[*].{{{','.join(hidden)}}}"], "columns not shown", f"call {more}")
        text.add(f"The whole result: read_result(result_id={rid!r}) pages, filters and sorts it; save_result saves it.")
        return answer(page, str(text))


IDENTITY_COLUMNS = ("recordId", "recordTitle", "runUuid", "runStatus")


def _output_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in IDENTITY_COLUMNS and not c.startswith("input.")]


def _empty_rows(store: ResultStore, meta: ResultMeta) -> dict[Any, int]:
    """Rows without any output value, by run status ({} when every row has some)."""
    if not meta.rows:
        return {}
    return store.empty_rows(meta.result_id, _output_columns(meta.columns), "runStatus")


def _shown(result_id: str, columns: list[str], asked: list[str] | None) -> list[str]:
    """The columns the text shows: those asked for, else the record's title and status and the output fields."""
    if asked:
        unknown = list(dict.fromkeys(c for c in asked if c not in columns))
        if unknown:
            raise InputError(
                f"unknown column(s) [{unknown_names(unknown, columns)}]; the columns of result {result_id} "
                f"(downloaded) are {columns}: read_result(result_id={result_id!r}, columns=[…]) shows them."
            )
        return list(dict.fromkeys(asked))
    identity = [c for c in ("recordTitle", "runStatus") if c in columns]
    return identity + _output_columns(columns)


async def _output_slug(
    s: Services, workflow_uuid: str, batch: Batch | None, given: str | None
) -> tuple[str, str | None, list[str]]:
    """The output node slug, a note when it was picked here, and the release's other terminal nodes."""
    if slug := text_arg(given, "output_node_slug"):
        return slug, None, []
    if batch:
        rel = await s.releases.release(batch.release_uuid) if batch.release_uuid else None
        nodes = rel.nodes if rel else (batch.nodes or [])
        where = "the batch's release"
    else:
        nodes = (await (await s.cargo()).deployed_release(workflow_uuid)).nodes
        where = "the deployed release"
    candidates = graph.output_candidates(nodes)
    if not candidates:
        raise InputError("the workflow has no terminal node; pass output_node_slug (see get_workflow_nodes).")
    others = f"; other terminal nodes: {', '.join(candidates[1:])}" if len(candidates) > 1 else ""
    return candidates[0], f"output_node_slug not given: picked {candidates[0]!r} from {where}{others}", candidates[1:]


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, download_outputs, "Retrieve output records")
