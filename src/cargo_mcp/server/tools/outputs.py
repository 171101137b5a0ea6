"""Journey 3 — the output node's records, fetched from Cargo's signed download URL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results.fetch import UrlExpired, fetch
from cargo_mcp.results.parse import parse_table
from cargo_mcp.server import graph, releases
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
from cargo_mcp.server.render import table
from cargo_mcp.server.tooling import add_tool, answer, backend, tool_errors

EXPORT_CAP = 10_000


class OutputPage(BaseModel):
    workflow_uuid: str
    output_node_slug: str
    output_node_note: str | None = Field(None, description="How the output node was chosen when not given.")
    format: str
    columns: list[str] = Field(description="recordId, recordTitle, runUuid, runStatus, input.*, then outputs.")
    rows: list[dict[str, Any]] = Field(description="The requested page (untrusted data from Cargo).")
    total: int = Field(description="Runs matching the filters.")
    offset: int
    returned: int
    next_offset: int | None = None
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
    format: Annotated[Literal["csv", "json"], Field(description="File format fetched from Cargo.")] = "json",
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows in this page.")] = 100,
    offset: Annotated[int, Field(ge=0, description="Rows to skip (from next_offset).")] = 0,
) -> Annotated[CallToolResult, OutputPage]:
    """Retrieve the enriched records: one row per run with recordId, recordTitle, runUuid, runStatus, the
    input fields (input.*) and the output node's fields. Returns one page (limit/offset) plus the total;
    the signed download URL is fetched here and never shown. Without output_node_slug the workflow's
    output node is picked and named. Runs that did not reach the output node have empty output columns:
    use statuses=["success"] for completed records only."""
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
    client = await b.client()
    slug, slug_note = await _output_slug(
        b, payload["workflowUuid"], batch_uuid and payload.get("batchUuid"), output_node_slug
    )
    total = await client.count_runs(payload)
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    if offset < total:
        take = min(limit, EXPORT_CAP)
        request = {**payload, "outputNodeSlug": slug, "format": format, "limit": take, "offset": offset}
        data = await _download(b, request)
        columns, rows = parse_table(data, format)
    nxt = offset + len(rows) if rows and offset + len(rows) < total else None
    if total == 0:
        notes.append("no run matches these filters (count_runs gives 0)")
    page = OutputPage(
        workflow_uuid=payload["workflowUuid"],
        output_node_slug=slug,
        output_node_note=slug_note,
        format=format,
        columns=columns,
        rows=rows,
        total=total,
        offset=offset,
        returned=len(rows),
        next_offset=nxt,
        filters=payload,
        notes=notes,
    )
    first = offset + 1 if rows else 0
    head = f"{total:,} run(s) match; rows {first}-{offset + len(rows)} of output node {slug!r}"
    head += f" (next_offset={nxt})" if nxt is not None else ""
    lines = [head] + [f"Note: {n}" for n in ([slug_note] if slug_note else []) + notes]
    lines.append("Columns: " + ", ".join(columns))
    shown = [c for c in columns if c not in ("runUuid",)][:8]
    lines.append(table(rows, shown, max_chars=3000, cell=40))
    return answer(page, "\n".join(lines))


async def _output_slug(
    b: Backend, workflow_uuid: str, batch_uuid: str | None, given: str | None
) -> tuple[str, str | None]:
    if given:
        return given, None
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
    return candidates[0], f"output_node_slug not given: picked {candidates[0]!r} from {where}{others}"


async def _download(b: Backend, request: dict[str, Any]) -> bytes:
    """Ask Cargo for the file and fetch it; one fresh URL is requested if the first one expired."""
    client = await b.client()
    for attempt in (1, 2):
        url = await client.download_run_outputs(request)
        try:
            return await fetch(b.files(), url, b.fetch_policy)
        except UrlExpired:
            if attempt == 2:
                raise
            await anyio.sleep(0)
    raise CargoError("unreachable")  # pragma: no cover


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, download_outputs, "Retrieve output records")
