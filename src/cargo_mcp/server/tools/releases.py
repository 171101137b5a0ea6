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
from cargo_mcp.api.vocabulary import InputError, text_arg
from cargo_mcp.server.render import Text
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
    slugs_added: list[str] = Field(description="vs the previous release")
    slugs_removed: list[str]


class ReleaseList(BaseModel):
    workflow_uuid: str
    workflow_name: str | None = None
    releases: list[ReleaseWindow] = Field(description="Deploy order (drafts last).")
    columns_call: str | None = Field(None, description="Names the output columns the last deploy changed.")
    notes: list[str] = Field(default_factory=list)


@tool_errors
async def list_releases(
    ctx: Context[Any, Any], workflow: Annotated[str, Field(description="Tool/play name or workflow UUID.")]
) -> Annotated[CallToolResult, ReleaseList]:
    """A workflow's releases in deploy order: the runs each served and node slugs added/removed."""
    s = services(ctx)
    named = text_arg(workflow, "workflow")
    if named is None:
        raise InputError("workflow is empty: send a tool/play name or workflow UUID (list_workflows shows them).")
    wf, entry = await s.catalog.workflow_uuid(named)
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
    notes = [] if complete else [f"only the first {len(rels)} releases were read: the workflow has more"]
    listed = {r.uuid for r in rels}
    unlisted = [f"{u or 'no release'} {w.runs:,}" for u, w in served.items() if u not in listed]
    if unlisted:
        notes.append("runs of releases not listed: " + ", ".join(unlisted))
    result = ReleaseList(
        workflow_uuid=wf,
        workflow_name=entry.name if entry else None,
        releases=rows,
        columns_call=_columns_call(wf, [(r, served[r.uuid]) for r in ordered if r.uuid in served]),
        notes=notes,
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
    return f"download_outputs(workflow='{wf}', created_after='{iso(start)}', created_before='{iso(end)}', limit=0)"


def _text(r: ReleaseList) -> str:
    name = f"{r.workflow_name} (workflow {r.workflow_uuid})" if r.workflow_name else f"workflow {r.workflow_uuid}"
    text = Text(f"{name}: {len(r.releases)} release(s), in deploy order (oldest first)")
    text.add(*(f"Note: {n}" for n in r.notes))
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
    text.table(view, columns, data=False, path="releases", width=1000)
    if r.columns_call:
        text.add(f"Output columns the last deploy changed: {r.columns_call} names them.")
    return str(text)


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, list_releases, "List a workflow's releases")
