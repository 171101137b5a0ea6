"""Journey 1 — find workflows and their node slugs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node
from cargo_mcp.api.vocabulary import InputError, uuid_arg
from cargo_mcp.server import catalog, graph
from cargo_mcp.server.catalog import WorkflowEntry
from cargo_mcp.server.filters import Uuid
from cargo_mcp.server.render import table
from cargo_mcp.server.tooling import add_tool, answer, backend, tool_errors


class WorkflowList(BaseModel):
    workflows: list[WorkflowEntry]
    total: int = Field(description="Number of workflows returned.")


class WorkflowNodes(BaseModel):
    workflow_name: str | None = None
    workflow_uuid: str
    release_uuid: str | None = Field(None, description="None for ad-hoc runs, which carry their own nodes.")
    release_version: str | None = None
    release_status: str | None = None
    located_by: str = Field(description="Which locator was used and how the release was found.")
    nodes: list[graph.NodeView]
    output_candidates: list[str] = Field(description="Terminal node slugs, the likely output node first.")
    warnings: list[str] = Field(default_factory=list)
    drawing: str = Field(description="The graph as an indented tree; [yes]/[no] label branch edges.")


@tool_errors
async def list_workflows(
    ctx: Context[Any, Any],
    kind: Annotated[Literal["tool", "play", "all"], Field(description="Only tools, only plays, or both.")] = "all",
    name_contains: Annotated[str | None, Field(description="Case-insensitive part of the name.")] = None,
) -> Annotated[CallToolResult, WorkflowList]:
    """List the workspace's tools and plays: name, kind, workflow_uuid, tool/play uuid, deployed release and
    last batch (uuid, status). Start here to turn a workflow name into the workflow_uuid other tools take.
    Next: get_workflow_nodes(workflow=<name or uuid>) for node slugs; get_batch(last_batch_uuid) for the
    latest batch."""
    entries = await catalog.load(backend(ctx))
    if kind != "all":
        entries = [e for e in entries if e.kind == kind]
    if name_contains:
        entries = [e for e in entries if name_contains.strip().lower() in e.name.lower()]
    rows = [e.model_dump() for e in entries]
    text = f"{len(entries)} workflow(s)\n" + table(
        rows, ["name", "kind", "workflow_uuid", "last_batch_status", "last_batch_uuid"], cell=40
    )
    return answer(WorkflowList(workflows=entries, total=len(entries)), text)


@tool_errors
async def get_workflow_nodes(
    ctx: Context[Any, Any],
    workflow: Annotated[str | None, Field(description="Tool/play name, or workflow/tool/play UUID.")] = None,
    batch_uuid: Annotated[Uuid | None, Field(description="Graph of the release this batch ran.")] = None,
    run_uuid: Annotated[Uuid | None, Field(description="Graph this run executed (ad-hoc runs too).")] = None,
    release_uuid: Annotated[Uuid | None, Field(description="A specific release.")] = None,
) -> Annotated[CallToolResult, WorkflowNodes]:
    """Show a workflow's node graph: every node's slug, name, kind, action/integration, children (with
    branch labels yes/no) and fallback child; the output node candidates (terminal nodes, `output`/`end`
    first) to use as output_node_slug; warnings for repeated slugs; and a text drawing.
    Give exactly one locator: workflow (deployed release), batch_uuid, run_uuid or release_uuid.
    Use the slugs with list_runs/count_runs node_status, download_outputs output_node_slug, get_run."""
    given = {
        k: v
        for k, v in dict(workflow=workflow, batch_uuid=batch_uuid, run_uuid=run_uuid, release_uuid=release_uuid).items()
        if v
    }
    if len(given) != 1:
        raise InputError(
            f"give exactly one of workflow, batch_uuid, run_uuid, release_uuid (got {', '.join(given) or 'none'})."
        )
    b = backend(ctx)
    client = await b.client()
    nodes: list[Node]
    rel = None
    if workflow:
        wf_uuid, entry = await catalog.workflow_uuid(b, workflow)
        rel = await client.deployed_release(wf_uuid)
        nodes, how = rel.nodes, f"deployed release of workflow {entry.name if entry else wf_uuid}"
    elif batch_uuid:
        batch = await client.get_batch(uuid_arg(batch_uuid, "batch_uuid"))
        wf_uuid = batch.workflow_uuid
        if batch.release_uuid:
            rel = await client.get_release(batch.release_uuid)
            nodes, how = rel.nodes, f"release {rel.uuid} that batch {batch.uuid} ran"
        else:
            nodes, how = batch.nodes or [], f"the nodes carried by batch {batch.uuid}"
    elif run_uuid:
        res = await client.get_run(uuid_arg(run_uuid, "run_uuid"))
        wf_uuid = res.run.workflow_uuid
        rel = await _release_or_none(client, res.run.release_uuid)
        if rel is not None:
            nodes, how = rel.nodes, f"release {rel.uuid} that run {res.run.uuid} executed"
        else:
            nodes, how = res.run.nodes or [], f"the nodes carried by ad-hoc run {res.run.uuid}"
    else:
        rel = await client.get_release(uuid_arg(release_uuid or "", "release_uuid"))
        wf_uuid, nodes, how = rel.workflow_uuid, rel.nodes, f"release {rel.uuid}"
    entry = await catalog.resolve(b, wf_uuid)
    tool_names = {e.tool_uuid: e.name for e in await catalog.load(b) if e.tool_uuid}
    result = WorkflowNodes(
        workflow_name=entry.name if entry else None,
        workflow_uuid=wf_uuid,
        release_uuid=rel.uuid if rel else None,
        release_version=rel.version if rel else None,
        release_status=rel.status if rel else None,
        located_by=how,
        nodes=graph.views(nodes, tool_names),
        output_candidates=graph.output_candidates(nodes),
        warnings=graph.repeated_slug_warnings(nodes),
        drawing=graph.draw(nodes, tool_names=tool_names),
    )
    head = f"{result.workflow_name or 'Workflow ' + wf_uuid} — {len(nodes)} nodes ({how})"
    text = "\n".join(
        [head, result.drawing, f"Output node candidates: {', '.join(result.output_candidates) or 'none'}"]
        + [f"Warning: {w}" for w in result.warnings]
    )
    return answer(result, text)


async def _release_or_none(client: Any, uuid: str | None) -> Any:
    if not uuid:
        return None
    try:
        return await client.get_release(uuid)
    except CargoApiError as e:
        if e.status == 404:
            return None
        raise


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, list_workflows, "List tools and plays")
    add_tool(mcp, get_workflow_nodes, "Show a workflow's node graph and slugs")

    @mcp.resource(
        "cargo://workflows/{workflow}",
        name="workflow",
        title="A workflow's node graph",
        description="The deployed node graph of a tool or play (name or UUID), as get_workflow_nodes draws it.",
        mime_type="text/plain",
    )
    async def workflow_graph(workflow: str, ctx: Context[Any, Any]) -> str:
        try:
            result = await get_workflow_nodes(ctx, workflow=workflow)
        except ToolError as e:
            raise ResourceError(str(e)) from None
        return "\n".join(c.text for c in result.content if isinstance(c, TextContent))
