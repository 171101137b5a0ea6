"""Journey 1 — find workflows and their node slugs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node
from cargo_mcp.api.requests import ListRuns
from cargo_mcp.api.vocabulary import InputError, text_arg, uuid_arg
from cargo_mcp.server import graph
from cargo_mcp.server.catalog import WorkflowEntry
from cargo_mcp.server.render import Text, call, when
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors


class WorkflowList(BaseModel):
    workflows: list[WorkflowEntry]
    total: int = Field(description="Workflows matching, before offset.")
    offset: int


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
    kind: Annotated[Literal["tool", "play", "all"], Field(description="tool, play or all.")] = "all",
    name_contains: Annotated[str | None, Field(description="Part of the name, any case.")] = None,
    offset: Annotated[int, Field(ge=0, description="Workflows to skip.")] = 0,
) -> Annotated[CallToolResult, WorkflowList]:
    """Tools and plays: name, kind, workflow/tool/play/model UUIDs, deployed release, last batch."""
    name_contains = text_arg(name_contains, "name_contains")
    matching = await services(ctx).catalog.entries()
    if kind != "all":
        matching = [e for e in matching if e.kind == kind]
    if name_contains:
        matching = [e for e in matching if name_contains.strip().lower() in e.name.lower()]
    entries = matching[offset:]
    rows = [
        {
            **e.model_dump(),
            "tool_or_play_uuid": e.tool_uuid or e.play_uuid,
            "last_batch": f"{e.last_batch_status} {e.last_batch_uuid} {when(e.last_batch_created_at)}"
            if e.last_batch_uuid
            else "",
        }
        for e in entries
    ]
    columns = ["name", "kind", "workflow_uuid", "tool_or_play_uuid", "model_uuid", "deployed_release_uuid"]
    text = Text(f"{len(matching)} workflow(s)" + (f"; from offset {offset:,}" if offset else ""))
    text.table(
        rows,
        [*columns, "last_batch"],
        data=False,
        path="workflows",
        rest=lambda i: call("list_workflows", kind=kind, name_contains=name_contains, offset=offset + i),
    )
    return answer(WorkflowList(workflows=entries, total=len(matching), offset=offset), str(text))


@tool_errors
async def get_workflow_nodes(
    ctx: Context[Any, Any],
    workflow: Annotated[str | None, Field(description="Tool/play name or workflow/tool/play UUID.")] = None,
    batch_uuid: Annotated[Uuid | None, Field(description="The release it ran.")] = None,
    run_uuid: Annotated[Uuid | None, Field(description="The graph it ran (ad-hoc too).")] = None,
    release_uuid: Annotated[Uuid | None, Field(description="A release.")] = None,
) -> Annotated[CallToolResult, WorkflowNodes]:
    """A workflow's node graph, drawn: each node's slug, UUID, name, kind, action, integration,
    children (yes/no, A/B, route N), fallback; terminal nodes, likeliest output first. One of: workflow (its
    deployed release), batch_uuid, run_uuid, release_uuid."""
    workflow = text_arg(workflow, "workflow")
    given = {
        k: v
        for k, v in dict(workflow=workflow, batch_uuid=batch_uuid, run_uuid=run_uuid, release_uuid=release_uuid).items()
        if v
    }
    if len(given) != 1:
        raise InputError(
            f"give exactly one of workflow, batch_uuid, run_uuid, release_uuid (got {', '.join(given) or 'none'})."
        )
    s = services(ctx)
    client = await s.cargo()
    nodes: list[Node]
    rel = None
    if workflow:
        wf_uuid, entry = await s.catalog.workflow_uuid(workflow)
        try:
            rel = await client.deployed_release(wf_uuid)
        except CargoApiError as e:
            if e.status != 404 or entry is not None:
                raise
            raise InputError(await _unlisted(client, wf_uuid)) from None
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
        rel = await s.releases.release(res.run.release_uuid) if res.run.release_uuid else None
        if rel is not None:
            nodes, how = rel.nodes, f"release {rel.uuid} that run {res.run.uuid} executed"
        else:
            nodes, how = res.run.nodes or [], f"the nodes carried by ad-hoc run {res.run.uuid}"
    else:
        rel = await client.get_release(uuid_arg(release_uuid or "", "release_uuid"))
        wf_uuid, nodes, how = rel.workflow_uuid, rel.nodes, f"release {rel.uuid}"
    entry = await s.catalog.resolve(wf_uuid)
    tool_names = {e.tool_uuid: e.name for e in await s.catalog.entries() if e.tool_uuid}
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
    name = f"{result.workflow_name} ({entry.kind}, workflow {wf_uuid})" if entry else f"Workflow {wf_uuid}"
    release = f"release {rel.uuid} v{rel.version} ({rel.status})" if rel else "no release (ad-hoc)"
    node_rows = [{"slug": n.slug, "uuid": n.uuid, "name": n.name, "tool": n.tool} for n in result.nodes]
    columns = ["slug", "uuid", "name"] + (["tool"] if any(n.tool for n in result.nodes) else [])
    candidates = ", ".join(result.output_candidates) or "none"
    text = Text(
        f"{name} — {release}; {len(nodes)} nodes ({how})",
        f"Output node candidates: {candidates} (the terminal nodes, likeliest first)",
    )
    text.block(result.drawing)
    text.table(node_rows, columns, data=False, path="nodes", width=80)
    text.add(*(f"Warning: {w}" for w in result.warnings))
    return answer(result, str(text))


async def _unlisted(client: CargoClient, wf_uuid: str) -> str:
    """Why a workflow that is no tool or play has no graph to show, and the call that shows the graph of a run."""
    runs, count = await client.list_runs(ListRuns(workflow_uuid=wf_uuid, limit=1))
    head = (
        f"workflow {wf_uuid} is not among the listed tools and plays (list_workflows) and has no deployed release: "
        "its runs are ad-hoc, each carrying its own nodes."
    )
    if not runs:
        return head + " It has no run either: check the UUID (list_workflows lists the tools and plays)."
    one = call("get_workflow_nodes", run_uuid=runs[0].uuid)
    return head + f" The graph one of its {count:,} runs ran: {one} (list_runs(workflow={wf_uuid!r}) lists them)."


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
