"""Journey 2 in one call: grouped failure causes for a batch or a time window, and a run's trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.failures.queries import Scope
from cargo_mcp.failures.report import FailureReport
from cargo_mcp.failures.sweep import sweep
from cargo_mcp.server import graph
from cargo_mcp.server.render import clip, duration, pct
from cargo_mcp.server.runview import RunDetail, run_detail
from cargo_mcp.server.scope import FAILURES, ScopeArgs, resolve, scoped
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors

DEFAULT_WINDOW = timedelta(days=7)
TEXT_BUDGET = 6000


@tool_errors
@scoped(FAILURES)
async def inspect_failures(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    max_groups: Annotated[int, Field(ge=1, le=50, description="Most error groups to return.")] = 10,
) -> Annotated[CallToolResult, FailureReport]:
    """Why did runs fail? One call sweeps a batch, or a workflow over a time window (default: last 7 days),
    and returns: totals (runs, finished, failed, failure rate, credits spent on failed runs; for a batch
    the "success with failures" case); failures per node; error groups (node + normalized message) with
    count, share, first/last seen, a time profile, exemplar runs and records, a classification
    (rate_limit, credentials, agent_step_limit, provider, data) and the fix; errors absorbed by fallback
    edges and filter stops, reported apart because they are not failures; and a re-run recipe (data only:
    nothing is re-run). Next: trace_run(<exemplar run>) to see one failure end to end."""
    s = services(ctx)
    scope = await resolve(s, args)
    wf_uuid, batch, until = scope.workflow_uuid, scope.batch, scope.filters.created_before
    now = datetime.now(UTC)
    if batch:
        since = scope.filters.created_after or batch.created_at - timedelta(minutes=1)
        end = batch.finished_at or now
        notes = []
    else:
        since = scope.filters.created_after or now - DEFAULT_WINDOW
        end = until or now
        notes = [] if scope.filters.created_after else ["no created_after given: inspected the last 7 days"]
    entry = await s.catalog.resolve(wf_uuid)
    nodes = {uuid: node for uuid, (node, _) in (await s.releases.nodes_of_workflow(wf_uuid)).items()}
    report = await sweep(
        await s.cargo(),
        Scope(workflow_uuid=wf_uuid, since=since, until=until, batch_uuid=batch.uuid if batch else None),
        max_groups=max_groups,
        nodes=nodes,
        workflow_name=entry.name if entry else None,
        workflow_kind=entry.kind if entry else None,
        model_uuid=entry.model_uuid if entry else None,
        batch=batch,
        end=end,
    )
    report.notes += notes
    return answer(report, failure_text(report))


def failure_text(r: FailureReport) -> str:
    """The report as compact text, at most TEXT_BUDGET characters."""
    t = r.totals
    lines = [f"Failures of {r.scope} ({r.workflow_name or r.workflow_uuid}, {r.workflow_kind or 'workflow'})"]
    if r.batch:
        verdict = " — status success but runs failed" if r.batch.success_with_failures else ""
        lines.append(
            f"Batch {r.batch.status}{verdict}: {r.batch.executed_runs_count:,}/{r.batch.runs_count:,} executed, "
            f"{r.batch.failed_runs_count:,} failed"
        )
    for fb in r.failed_batches:
        lines += [
            f"Batch {fb.batch_uuid} ({fb.created_at}, {fb.runs_count:,} runs) failed as a whole "
            f"[{fb.classification}]: {clip(fb.error_message or 'no message', 240)}",
            f"   fix: {fb.fix}",
        ]
    cancelled = f" (of which {t.cancelled:,} cancelled)" if t.cancelled else ""
    lines.append(
        f"Runs {t.runs:,}, finished {t.finished:,}{cancelled}, failed {t.failed:,} "
        f"({pct(t.failed, t.finished - t.cancelled)} of executed); "
        f"credits on failed runs {t.failed_credits:g}"
    )
    if r.nodes:
        lines.append(
            "Errors by node: "
            + "; ".join(
                f"{n.slug} {n.errors:,}/{n.executions:,} ({pct(n.errors, n.executions)})"
                + (f", {n.absorbed:,} absorbed by fallback" if n.absorbed else "")
                for n in r.nodes[:8]
            )
        )
    for i, g in enumerate(r.error_groups, 1):
        lines += [
            f"{i}. [{g.classification}] {g.node_slug}: {g.count:,} errors ({g.share:.0%}) — {clip(g.pattern, 160)}",
            f"   seen {g.first_seen} → {g.last_seen}{' (clustered)' if g.clustered else ''} {g.time_profile}",
            f"   fix: {g.fix}",
            f"   exemplars: {', '.join(g.exemplar_runs[:2])} (records {', '.join(g.exemplar_records[:2])})",
        ]
    if r.more_groups:
        lines.append(f"… {r.more_groups} smaller group(s) left out (raise max_groups).")
    for g in r.absorbed_by_fallback:
        lines.append(f"Absorbed by fallback (not failures): {g.node_slug} {g.count:,} errors — {clip(g.pattern, 100)}")
    for s in r.filter_stops:
        lines.append(f"Filter stops (expected, not failures): {s.node_slug} stopped {s.stops:,} run(s)")
    if r.rerun:
        lines.append(f"Re-run recipe ({r.rerun.endpoint}): {r.rerun.note} Body in structured content `rerun`.")
    if not r.error_groups:
        lines.append(
            "No failed node executions in this scope"
            + (" (see the failed batches above)." if r.failed_batches else ".")
        )
    lines += [f"Note: {n}" for n in r.notes]
    text = "\n".join(lines)
    return (
        text if len(text) <= TEXT_BUDGET else text[: TEXT_BUDGET - 60] + "\n… (cut; full report in structured content)"
    )


UNFINISHED = ("idle", "pending", "running", "cancelling")


class RunTrace(BaseModel):
    run: RunDetail
    drawing: str = Field(description="The graph with each node's outcome in this run.")


@tool_errors
async def trace_run(
    ctx: Context[Any, Any],
    run_uuid: Annotated[Uuid, Field(description="The run's UUID (e.g. an exemplar from inspect_failures).")],
) -> Annotated[CallToolResult, RunTrace]:
    """Draw one run's execution over its workflow graph: every node with its outcome (✔ success, ✖ error,
    ↪ error handled by a fallback edge, ⏹ filter stop, · never ran), the branch child taken, duration and
    credits; then the failing node's error with its runContext and computed config excerpts."""
    detail, nodes = await run_detail(services(ctx), run_uuid, None, 3000)
    marks: dict[str, str] = {}
    for s in detail.path:
        if s.failing:
            sign = "✖ FAILED"
        elif s.status == "error":
            sign = "↪ error, fallback taken"
        elif s.status != "success":
            sign = f"… {s.status}"
        elif s.slug == detail.stopped_at:
            sign = "⏹ stopped (filter)"
        else:
            sign = "✔"
        marks[s.node_uuid] = f"{sign} {duration(s.duration_s)}" + (f", {s.credits:g} cr" if s.credits else "")
    unreached = "· not yet" if detail.status in UNFINISHED else "· not run"
    for n in nodes:
        marks.setdefault(n.uuid, unreached)
    drawing = graph.draw(nodes, marks)
    lines = [
        f"Run {detail.run_uuid} — {detail.status} — {detail.workflow_name or detail.workflow_uuid}, "
        f"record {detail.record_id}; took {duration(detail.duration_s)}; credits {detail.credits:g}",
        drawing,
    ]
    failing = next((s for s in detail.path if s.failing), None)
    if failing:
        lines.append(f"Failing node {failing.slug}: {clip(failing.error or detail.error_message or '', 400)}")
    for s in detail.path:
        if s.status == "error" and not s.failing:
            lines.append(f"Absorbed by the fallback at {s.slug}: {clip(s.error or '', 300)}")
    for slug, value in detail.context.items():
        lines.append(f"Context {slug} (untrusted data): {clip(value, 700)}")
    return answer(RunTrace(run=detail, drawing=drawing), "\n".join(lines))


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, inspect_failures, "Inspect failures (grouped causes)")
    add_tool(mcp, trace_run, "Trace one run")
