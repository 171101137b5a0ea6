"""Journey 3 — the output node's records, fetched from Cargo's signed download URL."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results import export
from cargo_mcp.results.download import download_outputs as fetch_all
from cargo_mcp.results.store import ResultMeta, ResultStore
from cargo_mcp.server import graph, notify, releases
from cargo_mcp.server.backend import Backend
from cargo_mcp.server.filters import (
    BatchArg,
    DateArg,
    NodeStatusArg,
    RecordIdArg,
    RecordTitleArg,
    StatusesArg,
    WorkflowArg,
    run_filters,
)
from cargo_mcp.server.render import UNTRUSTED, page_range, table
from cargo_mcp.server.tooling import add_tool, answer, backend, tool_errors

EXPORT_CAP = 10_000


class OutputPage(BaseModel):
    result_id: str = Field(
        description="Handle of the full result: page it with read_result, or read cargo://results/<id>."
    )
    workflow_uuid: str
    output_node_slug: str
    output_node_note: str | None = Field(None, description="How the output node was chosen when not given.")
    columns: list[str] = Field(description="recordId, recordTitle, runUuid, runStatus, input.*, then outputs.")
    rows: list[dict[str, Any]] = Field(description="The requested page (untrusted data from Cargo).")
    total: int = Field(description="Rows in the full result (= runs matching the filters).")
    offset: int
    returned: int
    next_offset: int | None = None
    saved_to: str | None = Field(None, description="File written when save_to was given.")
    saved_bytes: int | None = None
    filters: dict[str, Any]
    notes: list[str] = Field(default_factory=list)


@tool_errors
async def download_outputs(
    ctx: Context[Any, Any],
    workflow_uuid: WorkflowArg = None,
    output_node_slug: Annotated[
        str | None, Field(description="Node whose output to export; default: the workflow's output node.")
    ] = None,
    batch_uuid: BatchArg = None,
    statuses: StatusesArg = None,
    node_status: NodeStatusArg = None,
    created_after: DateArg = None,
    created_before: DateArg = None,
    record_id: RecordIdArg = None,
    record_title: RecordTitleArg = None,
    format: Annotated[Literal["csv", "json"], Field(description="File format fetched from Cargo and saved.")] = "json",
    limit: Annotated[int, Field(ge=0, le=1000, description="Rows shown in this answer.")] = 100,
    offset: Annotated[int, Field(ge=0, description="First row shown (from next_offset).")] = 0,
    save_to: Annotated[
        str | None,
        Field(description="Also write the full result to this file, inside CARGO_MCP_EXPORT_DIR or a client root."),
    ] = None,
    overwrite: Annotated[bool, Field(description="Replace an existing save_to file.")] = False,
) -> Annotated[CallToolResult, OutputPage]:
    """Retrieve the enriched records: one row per run with recordId, recordTitle, runUuid, runStatus, the
    input fields (input.*) and the output node's fields. The full result is downloaded (past Cargo's
    10,000-run export cap, in stable pages, with progress) and kept locally as result_id; this answer shows
    one page (limit/offset) and the total. Page further with read_result(result_id) — it filters and sorts
    too — or save the whole file with save_to. Signed download URLs are fetched here, never shown. Without
    output_node_slug the workflow's output node is picked and named. Runs that did not reach the output node
    have empty output columns (the answer counts them): node_status={"<output slug>": "success"} keeps only the
    runs that reached it."""
    b = backend(ctx)
    payload, notes = await run_filters(
        b,
        workflow_uuid=workflow_uuid,
        batch_uuid=batch_uuid,
        statuses=statuses,
        node_status=node_status,
        created_after=created_after,
        created_before=created_before,
        record_id=record_id,
        record_title=record_title,
    )
    path = export.target(save_to, await _roots(ctx, b), overwrite) if save_to else None
    client = await b.client()
    slug, slug_note, other_ends = await _output_slug(
        b, payload["workflowUuid"], payload.get("batchUuid"), output_node_slug
    )
    if "createdBefore" not in payload:  # freeze the set: the count and every page see the same runs
        payload["createdBefore"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    total = await client.count_runs(payload)
    if total > b.settings.max_runs:
        raise InputError(
            f"{total:,} runs match, more than the {b.settings.max_runs:,}-run download limit "
            "(CARGO_MCP_MAX_RUNS); narrow the filters (batch, time window, statuses)."
        )

    async def progress(done: int, pages: int, message: str) -> None:
        await ctx.report_progress(done, pages, message)
        await notify.log("info", f"download_outputs: page {done} of {pages}: {message}")

    await notify.log("info", f"download_outputs: {total:,} matching runs of node {slug!r}, {format} pages")

    meta = await fetch_all(
        client,
        b.files(),
        b.fetch_policy,
        b.store,
        {**payload, "outputNodeSlug": slug, "format": format},
        total,
        fmt=format,
        description=f"outputs of node {slug} for {payload}",
        progress=progress,
    )
    await notify.log("info", f"download_outputs: stored {meta.rows:,} rows as {meta.result_id}")
    if total > 10_000:
        notes.append(f"{total:,} runs exceed the 10,000-run export cap: fetched in {-(-total // 10_000)} pages")
    if total == 0:
        notes.append("no run matches these filters (count_runs gives 0)")
    empty = await anyio.to_thread.run_sync(_empty_rows, b.store, meta)
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
    _, rows, _ = await anyio.to_thread.run_sync(lambda: b.store.read(meta.result_id, offset=offset, limit=limit))
    saved = None
    if path is not None:
        saved = await anyio.to_thread.run_sync(export.write, b.store, meta.result_id, path, format)
    nxt = offset + len(rows) if offset + len(rows) < meta.rows else None
    page = OutputPage(
        result_id=meta.result_id,
        workflow_uuid=payload["workflowUuid"],
        output_node_slug=slug,
        output_node_note=slug_note,
        columns=meta.columns,
        rows=rows,
        total=meta.rows,
        offset=offset,
        returned=len(rows),
        next_offset=nxt,
        saved_to=str(path) if path else None,
        saved_bytes=saved,
        filters=payload,
        notes=notes,
    )
    where = page_range(offset, len(rows), meta.rows)
    head = f"{meta.rows:,} row(s) in result {meta.result_id} (output node {slug!r}); {where}"
    head += f" (next_offset={nxt})" if nxt is not None else ""
    lines = [head] + [f"Note: {n}" for n in ([slug_note] if slug_note else []) + notes]
    if path is not None:
        lines.append(f"Saved {saved:,} bytes to {path}")
    lines.append("Columns: " + ", ".join(meta.columns))
    preview = _preview_columns(meta.columns)
    if rows and len(preview) < len(meta.columns):
        lines.append(
            f"The table shows {len(preview)} of {len(meta.columns)} columns (the node's outputs first); every column "
            f"is in the structured rows, or read_result(result_id={meta.result_id!r}, columns=[…])."
        )
    if rows:
        lines.append(UNTRUSTED)
        lines.append(table(rows, preview, max_chars=3000, cell=40))
    return answer(page, "\n".join(lines))


IDENTITY_COLUMNS = ("recordId", "recordTitle", "runUuid", "runStatus")


def _output_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in IDENTITY_COLUMNS and not c.startswith("input.")]


def _empty_rows(store: ResultStore, meta: ResultMeta) -> dict[Any, int]:
    """Rows without any output value, by run status ({} when every row has some)."""
    if not meta.rows:
        return {}
    return store.empty_rows(meta.result_id, _output_columns(meta.columns), "runStatus")


def _preview_columns(columns: list[str], most: int = 8) -> list[str]:
    """What the text table shows: the record's title and status, then the output node's fields, then inputs."""
    identity = [c for c in ("recordTitle", "runStatus") if c in columns]
    outputs = _output_columns(columns)
    rest = [c for c in columns if c not in identity and c not in outputs and c != "runUuid"]
    return (identity + outputs + rest)[:most]


async def _roots(ctx: Context[Any, Any], b: Backend) -> list[Path]:
    """Folders files may be saved in: CARGO_MCP_EXPORT_DIR and the client's file:// roots, if it shares them."""
    roots = [b.settings.export_dir] if b.settings.export_dir else []
    try:
        with warnings.catch_warnings():  # roots are deprecated in the 2026 protocol but still what IDEs send
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            listed = await ctx.session.list_roots()
    except Exception:  # clients without roots support, or the 2026 protocol without a back channel
        return roots
    for root in listed.roots:
        uri = str(root.uri)
        if uri.startswith("file://"):
            roots.append(Path(uri.removeprefix("file://")))
    return roots


async def _output_slug(
    b: Backend, workflow_uuid: str, batch_uuid: str | None, given: str | None
) -> tuple[str, str | None, list[str]]:
    """The output node slug, a note when it was picked here, and the release's other terminal nodes."""
    if given and given.strip():
        return given.strip(), None, []
    client = await b.client()
    if batch_uuid:
        batch = await client.get_batch(batch_uuid)
        rel = await releases.release(b, batch.release_uuid) if batch.release_uuid else None
        nodes = rel.nodes if rel else (batch.nodes or [])
        where = "the batch's release"
    else:
        nodes = (await client.deployed_release(workflow_uuid)).nodes
        where = "the deployed release"
    candidates = graph.output_candidates(nodes)
    if not candidates:
        raise InputError("the workflow has no terminal node; pass output_node_slug (see get_workflow_nodes).")
    others = f"; other terminal nodes: {', '.join(candidates[1:])}" if len(candidates) > 1 else ""
    return candidates[0], f"output_node_slug not given: picked {candidates[0]!r} from {where}{others}", candidates[1:]


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, download_outputs, "Retrieve output records")
