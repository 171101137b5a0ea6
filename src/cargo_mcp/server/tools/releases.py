"""A workflow's releases in deploy order: what each changed and the window of runs it served."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.analytics.releases import Window, windows
from cargo_mcp.api.models import Release
from cargo_mcp.api.requests import RunFilters, iso
from cargo_mcp.server.render import table
from cargo_mcp.server.scope import WORKFLOW
from cargo_mcp.server.tooling import add_tool, answer, services, tool_errors


class ReleaseWindow(BaseModel):
    release_uuid: str
    version: str | None = None
    status: str
    created_at: str
    deployed_at: str | None = None
    nodes: int
    runs: int
    failed_runs: int
    first_run_at: str | None = None
    last_run_at: str | None = None
    slugs_added: list[str] = Field(description="Node slugs the previous release (deploy order) did not have.")
    slugs_removed: list[str]


class ReleaseList(BaseModel):
    workflow_uuid: str
    workflow_name: str | None = None
    releases: list[ReleaseWindow] = Field(description="Deploy order, oldest first; never-deployed drafts last.")
    complete: bool = Field(description="False when the workflow has more releases than were read.")
    unlisted_runs: dict[str, int] = Field(
        description='Runs of releases not listed, by release UUID ("none": runs without a release).'
    )
    columns_call: str | None = Field(
        None, description="The call that names the output columns the last deploy changed."
    )


@tool_errors
async def list_releases(
    ctx: Context[Any, Any], workflow: Annotated[str, WORKFLOW.annotation]
) -> Annotated[CallToolResult, ReleaseList]:
    """A workflow's releases in deploy order: status, deployed time, node count, the runs each served (count,
    failed, first and last run) and the node slugs added/removed since the previous release — to see whether a
    failure or a change follows a deploy."""
    s = services(ctx)
    wf, entry = await s.catalog.workflow_uuid(workflow)
    rels, complete = await s.releases.of_workflow(wf)
    ordered = sorted(rels, key=_deploy_order)
    served = await windows(await s.cargo(), RunFilters(workflow_uuid=wf))
    rows = []
    for i, rel in enumerate(ordered):
        w = served.get(rel.uuid)
        before = {n.slug for n in ordered[i - 1].nodes} if i else None
        now = {n.slug for n in rel.nodes}
        rows.append(
            ReleaseWindow(
                release_uuid=rel.uuid,
                version=rel.version,
                status=rel.status,
                created_at=iso(rel.created_at),
                deployed_at=iso(rel.deployed_at) if rel.deployed_at else None,
                nodes=len(rel.nodes),
                runs=w.runs if w else 0,
                failed_runs=w.failed if w else 0,
                first_run_at=_at(w.first_ms) if w else None,
                last_run_at=_at(w.last_ms) if w else None,
                slugs_added=sorted(now - before) if before is not None else [],
                slugs_removed=sorted(before - now) if before is not None else [],
            )
        )
    listed = {r.uuid for r in rels}
    result = ReleaseList(
        workflow_uuid=wf,
        workflow_name=entry.name if entry else None,
        releases=rows,
        complete=complete,
        unlisted_runs={(u or "none"): w.runs for u, w in served.items() if u not in listed},
        columns_call=_columns_call(wf, [(r, served[r.uuid]) for r in ordered if r.uuid in served]),
    )
    return answer(result, _text(result))


def _deploy_order(r: Release) -> tuple[bool, datetime, datetime]:
    return r.deployed_at is None, r.deployed_at or r.created_at, r.created_at


def _at(epoch_ms: int) -> str:
    return iso(datetime.fromtimestamp(epoch_ms / 1000, UTC))


def _columns_call(wf: str, served: Sequence[tuple[Release, Window]]) -> str | None:
    """A download spanning the last change of release (a day either side): it names the output columns that
    differ."""
    if len(served) < 2:
        return None
    (_, prev), (_, last) = served[-2], served[-1]
    start = datetime.fromtimestamp(min(prev.last_ms, last.first_ms) / 1000, UTC) - timedelta(days=1)
    end = datetime.fromtimestamp(max(prev.last_ms, last.first_ms) / 1000, UTC) + timedelta(days=1)
    return f"download_outputs(workflow_uuid='{wf}', created_after='{iso(start)}', created_before='{iso(end)}', limit=0)"


def _text(r: ReleaseList) -> str:
    name = f"{r.workflow_name} (workflow {r.workflow_uuid})" if r.workflow_name else f"workflow {r.workflow_uuid}"
    lines = [f"{name}: {len(r.releases)} release(s), in deploy order (oldest first)"]
    if not r.complete:
        lines[0] += f"; only the first {len(r.releases)} were read: the workflow has more"
    view = [
        {
            **x.model_dump(),
            "changes": "(first)"
            if i == 0
            else " ".join([*(f"+{s}" for s in x.slugs_added), *(f"-{s}" for s in x.slugs_removed)]) or "same slugs",
        }
        for i, x in enumerate(r.releases)
    ]
    columns = ["release_uuid", "version", "status", "created_at", "deployed_at", "nodes", "runs", "failed_runs"]
    columns += ["first_run_at", "last_run_at", "changes"]
    lines.append(table(view, columns, max_chars=8000, cell=1000, more="they are in the structured releases"))
    if r.unlisted_runs:
        lines.append("Runs of releases not listed: " + ", ".join(f"{u} {n:,}" for u, n in r.unlisted_runs.items()))
    if r.columns_call:
        lines.append(f"Output columns the last deploy changed: {r.columns_call} names them.")
    return "\n".join(lines)


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, list_releases, "List a workflow's releases")
