"""Journey 2 — runs: count, list, one run's path and context, per-node metrics."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.analytics.durations import Durations, node_durations
from cargo_mcp.api import requests as rq
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Execution, Run
from cargo_mcp.server.render import Text, call, clip, is_cut, num, page_range, pct, when
from cargo_mcp.server.runview import MAX_CONTEXT, MIN_CONTEXT, RunDetail, run_detail, run_facts, run_text
from cargo_mcp.server.scope import METRICS, RUNS, Scope, ScopeArgs, resolve, scoped
from cargo_mcp.server.services import Services
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors


class RunCount(BaseModel):
    count: int
    workflow_uuid: str
    filters: dict[str, Any] = Field(description="The exact filters sent to Cargo (camelCase wire form).")
    notes: list[str] = Field(default_factory=list, description="How the inputs were normalized.")


class RunRow(BaseModel):
    uuid: str
    status: str
    record_id: str
    record_title: str
    created_at: str
    finished_at: str | None = None
    failed_node: str | None = Field(None, description="Slug of the first node that errored.")
    error: str | None = Field(None, description="Run error message (clipped to 200 characters).")


ERROR_CHARS = 200


class RunPage(BaseModel):
    runs: list[RunRow]
    total: int = Field(description="Runs matching the filters.")
    offset: int
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null at the end.")
    filters: dict[str, Any]
    notes: list[str] = Field(default_factory=list)


class NodeMetric(BaseModel):
    slug: str
    name: str | None = None
    kind: str | None = None
    node_uuid: str
    release_uuid: str | None = None
    executions: int
    success: int
    errors: int
    pending: int
    error_rate: float = Field(description="errors / executions, 0..1.")
    credits: float
    has_fallback: bool = Field(False, description="A fallback edge may have absorbed these errors (runs went on).")
    p50_ms: int | None = Field(None, description="Finished executions' duration (also p95_ms, max_ms).")
    p95_ms: int | None = None
    max_ms: int | None = None


METRIC_ORDER = "sorted worst first: most errors, then error rate, then slowest p95"
SLOWEST = 3  # nodes the slowest-steps line names


class RunMetrics(BaseModel):
    workflow_uuid: str
    workflow_name: str | None = None
    scope: str = Field(description="The runs measured: a batch, a release, a creation window (UTC) or all runs.")
    nodes: list[NodeMetric] = Field(description=f"One row per node UUID; {METRIC_ORDER}.")
    slowest: list[str] = Field(default_factory=list, description=f"The {SLOWEST} slowest nodes by p95 (node UUIDs).")
    total_errors: int
    total_credits: float
    durations_note: str | None = None
    notes: list[str] = Field(default_factory=list, description="How the inputs were read (relative dates too).")


@tool_errors
@scoped(RUNS)
async def count_runs(ctx: Context[Any, Any], args: ScopeArgs) -> Annotated[CallToolResult, RunCount]:
    """How many runs match: cheap, to size a list or download first. Returns the filters sent."""
    s = services(ctx)
    scope = await resolve(s, args)
    count = await (await s.cargo()).count_runs(scope.filters)
    wire = scope.filters.wire()
    result = RunCount(count=count, workflow_uuid=scope.workflow_uuid, filters=wire, notes=scope.notes)
    return answer(result, str(Text(f"{count:,} run(s) match {json.dumps(wire)}", *_notes(scope.notes))))


@tool_errors
@scoped(RUNS)
async def list_runs(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    limit: Annotated[int, Field(ge=1, le=200, description="Runs per page.")] = 20,
    offset: Annotated[int, Field(ge=0, description="Runs to skip.")] = 0,
) -> Annotated[CallToolResult, RunPage]:
    """Runs matching, newest first: uuid, status, record, times, first failing node, error; total
    and next_offset. One node's failures: node_status={"<slug>": "error"}."""
    s = services(ctx)
    scope = await resolve(s, args)
    page_of = scope.request(rq.ListRuns, limit=limit, offset=min(offset, rq.MAX_OFFSET))
    runs, total = await (await s.cargo()).list_runs(page_of)
    rows = [_row(r) for r in runs]
    nxt = offset + len(rows) if offset + len(rows) < total else None
    page = RunPage(
        runs=rows, total=total, offset=offset, next_offset=nxt, filters=scope.filters.wire(), notes=scope.notes
    )
    text = Text(*_notes(scope.notes), f"Filters sent: {json.dumps(page.filters)}")
    view = [{**r.model_dump(), "created_at": when(r.created_at), "finished_at": when(r.finished_at)} for r in rows]
    columns = ["uuid", "status", "record_id", "record_title", "created_at", "finished_at", "failed_node", "error"]
    given = args.given()
    printed = text.table(
        view,
        columns,
        data=True,
        path="runs",
        width=ERROR_CHARS,
        rest=lambda i: call("list_runs", **given, limit=len(rows) - i, offset=offset + i),
        cells=lambda _, i, n: call("get_run", run_uuid=rows[i].uuid),
    )
    head = f"{total:,} run(s) match; {page_range(offset, len(rows), total, printed)}"
    text.prepend(head + (f" (next_offset={nxt})" if nxt is not None else ""))
    for i, r in enumerate(runs):
        if is_cut(_error(r), ERROR_CHARS):
            text.leave_out(
                [f"runs[{i}].error"], f"cut at {ERROR_CHARS} characters", "call " + call("get_run", run_uuid=r.uuid)
            )
    return answer(page, str(text))


def _failed(r: Run) -> Execution | None:
    return next((e for e in r.executions if e.status == "error"), None)


def _error(r: Run) -> str:
    failed = _failed(r)
    return r.error_message or (failed.error_message if failed else None) or ""


def _row(r: Run) -> RunRow:
    failed = _failed(r)
    return RunRow(
        uuid=r.uuid,
        **run_facts(r),
        failed_node=failed.node_slug if failed else None,
        error=clip(_error(r), ERROR_CHARS) or None,
    )


@tool_errors
async def get_run(
    ctx: Context[Any, Any],
    run_uuid: Annotated[Uuid, Field(description="The run's UUID.")],
    context_nodes: Annotated[
        list[str] | Literal["all", "failed"] | None,
        Field(description='Slugs whose runContext to show, "all" or "failed"; default: failing, output, stop.'),
    ] = None,
    max_chars: Annotated[int, Field(ge=MIN_CONTEXT, le=MAX_CONTEXT, description="Characters of runContext.")] = 8000,
) -> Annotated[CallToolResult, RunDetail]:
    """One run: status, error, record, batch, release, times, credits; each node on its path
    (status, branch, fallback, error, credits, duration; the failing one marked); nodes never run; chosen
    nodes' runContext output and config (agent output: .answer)."""
    detail, _ = await run_detail(services(ctx), run_uuid, context_nodes, max_chars)
    return answer(detail, run_text(detail))


METRIC_COLUMNS = (
    *("slug", "name", "kind", "node_uuid", "release_uuid", "executions", "success", "errors", "pending"),
    *("error_rate", "credits", "p50_ms", "p95_ms", "max_ms"),
)


@tool_errors
@scoped(METRICS)
async def get_run_metrics(ctx: Context[Any, Any], args: ScopeArgs) -> Annotated[CallToolResult, RunMetrics]:
    """Per node, worst first: executions, errors, error rate, credits, p50/p95/max ms, with slug, name, UUID,
    release; over a workflow, batch, release or window."""
    s = services(ctx)
    scope = await resolve(s, args)
    wf = scope.workflow_uuid
    client = await s.cargo()
    got: dict[str, Any] = {}

    async def fetch(key: str, coro: Awaitable[Any]) -> None:
        got[key] = await coro

    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, "metrics", client.run_metrics(scope.request(rq.RunMetrics)))
        tg.start_soon(fetch, "durations", _durations(s, scope))
        tg.start_soon(fetch, "nodes", s.releases.nodes_of_workflow(wf))
    durations, durations_note = got["durations"]
    nodes = got["nodes"]
    rows = []
    for m in got["metrics"]:
        node, rel = nodes.get(m.node_uuid, (None, None))
        total = m.total_executions_count
        took = durations.get(m.node_uuid) if durations is not None else None
        rows.append(
            NodeMetric(
                slug=node.slug if node else "?",
                name=node.name if node else None,
                kind=node.kind if node else None,
                node_uuid=m.node_uuid,
                release_uuid=rel,
                executions=total,
                success=m.success_executions_count,
                errors=m.error_executions_count,
                pending=m.pending_executions_count + m.running_executions_count + m.idle_executions_count,
                error_rate=round(m.error_executions_count / total, 4) if total else 0.0,
                credits=round(m.credits_used_count, 4),
                has_fallback=bool(node and node.fallback_child_uuid),
                p50_ms=took.p50_ms if took else None,
                p95_ms=took.p95_ms if took else None,
                max_ms=took.max_ms if took else None,
            )
        )
    rows.sort(key=lambda r: (-r.errors, -r.error_rate, -(r.p95_ms or -1), r.slug, r.release_uuid or ""))
    timed = sorted((r for r in rows if r.p95_ms is not None), key=lambda r: -(r.p95_ms or 0))[:SLOWEST]
    entry = await s.catalog.resolve(wf)
    result = RunMetrics(
        workflow_uuid=wf,
        workflow_name=entry.name if entry else None,
        scope=_measured(scope),
        nodes=rows,
        slowest=[r.node_uuid for r in timed],
        total_errors=sum(r.errors for r in rows),
        total_credits=round(sum(r.credits for r in rows), 4),
        durations_note=durations_note,
        notes=scope.notes,
    )
    name = result.workflow_name or result.workflow_uuid
    text = Text(
        f"{name} (workflow {wf}), {result.scope}: {result.total_errors:,} node errors, "
        f"{num(result.total_credits)} credits",
        *_notes(scope.notes),
    )
    if timed:
        text.add(
            "Slowest by p95: "
            + "; ".join(
                f"{r.slug} ({r.name or '?'}, node {r.node_uuid}, release {r.release_uuid}) {r.p95_ms:,} ms"
                for r in timed
            )
        )
    text.add(f"Rows: one per node UUID (a slug repeated across releases has a row each), {METRIC_ORDER}.")
    view = [
        {
            **r.model_dump(),
            "errors": f"{r.errors:,}" + (" ↪" if r.has_fallback and r.errors else ""),
            "error_rate": pct(r.errors, r.executions),
        }
        for r in rows
    ]
    text.table(view, METRIC_COLUMNS, data=False, path="nodes", width=60)
    if durations_note:
        text.add(f"Durations: {durations_note}")
    else:
        text.add("p50/p95/max_ms: duration of the node's finished executions.")
    if any(r.has_fallback and r.errors for r in rows):
        text.add(
            "↪ has_fallback: the node has a fallback edge, its errors may have been absorbed (the run went on). "
            "inspect_failures tells real failures from absorbed errors."
        )
    return answer(result, str(text))


def _measured(scope: Scope) -> str:
    """The runs the metrics cover, as the head states them."""
    f = scope.filters
    parts = [f"batch {f.batch_uuid}"] if f.batch_uuid else []
    parts += [f"release {f.release_uuid}"] if f.release_uuid else []
    if f.created_after or f.created_before:
        start = when(f.created_after) if f.created_after else "the first run"
        parts.append(f"runs created {start} → {when(f.created_before) if f.created_before else 'now'}")
    return ", ".join(parts) or "all runs (no batch, release or window)"


async def _durations(s: Services, scope: Scope) -> tuple[dict[str, Durations] | None, str | None]:
    """Durations by node UUID, or None and why (Cargo may refuse a scan too large for its SQL caps)."""
    try:
        return await node_durations(await s.cargo(), scope.filters, await _runs_since(s, scope)), None
    except CargoApiError as e:
        return None, f"not available ({e}); narrow the scope (created_after, batch_uuid) and call again."


async def _runs_since(s: Services, scope: Scope) -> datetime | None:
    """A lower bound of the creation time of the scope's runs: the window's start, the batch's or the release's
    creation, else the workflow's oldest release (runs need a release; ad-hoc workflows have none listed)."""
    f = scope.filters
    if f.created_after is not None:
        return f.created_after
    if scope.batch is not None:
        return scope.batch.created_at
    rels, complete = await s.releases.of_workflow(scope.workflow_uuid)
    if f.release_uuid is not None:
        return next((r.created_at for r in rels if r.uuid == f.release_uuid), None)
    return min((r.created_at for r in rels), default=None) if complete else None


def _notes(notes: list[str]) -> list[str]:
    return ["Note: " + "; ".join(notes)] if notes else []


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, count_runs, "Count runs")
    add_tool(mcp, list_runs, "List runs")
    add_tool(mcp, get_run, "Inspect one run")
    add_tool(mcp, get_run_metrics, "Per-node run metrics")
