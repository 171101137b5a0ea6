"""Journey 2 in one call: grouped failure causes for a batch or a time window, and a run's trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from cargo_mcp.failures.queries import Scope
from cargo_mcp.failures.report import ErrorGroup, FailureReport
from cargo_mcp.failures.sweep import sweep
from cargo_mcp.server import graph
from cargo_mcp.server.render import Text, call, duration, num, pct, when
from cargo_mcp.server.runview import RunDetail, run_data, run_detail, run_head
from cargo_mcp.server.scope import FAILURES, ScopeArgs, resolve, scoped
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors

DEFAULT_WINDOW = timedelta(days=7)
MAX_GROUPS = 50


@tool_errors
@scoped(FAILURES)
async def inspect_failures(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    max_groups: Annotated[int, Field(ge=1, le=MAX_GROUPS, description="Most error groups.")] = 10,
) -> Annotated[CallToolResult, FailureReport]:
    """Why runs failed, for a batch or a workflow's window (default 7 days): totals (failed, rate,
    credits lost), errors per node, error groups (node + normalized message: count, share, time profile,
    exemplar runs and records, example, classification, fix), fallback-absorbed errors and filter stops
    (not failures), batches failed whole, a re-run request body (not sent)."""
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
    return answer(report, failure_text(report, lambda n: call("inspect_failures", **args.given(), max_groups=n)))


def failure_text(r: FailureReport, again: Callable[[int], str]) -> str:
    """The report as compact text; ``again(max_groups)`` is the call that made it, asking for more groups."""
    t = r.totals
    text = Text(
        f"Failures of {r.scope} — {r.workflow_name or r.workflow_uuid} ({r.workflow_kind or 'workflow'}, "
        f"workflow {r.workflow_uuid}); created {when(r.window.get('created_after'))} → "
        f"{when(r.window.get('created_before')) if r.window.get('created_before') else 'now'}"
    )
    data: list[str] = []  # provider messages: shown apart, as untrusted data
    if r.batch:
        b = r.batch
        verdict = " — status success but runs failed (success_with_failures)" if b.success_with_failures else ""
        text.add(
            f"Batch {b.batch_uuid} {b.status}{verdict}: {b.executed_runs_count:,}/{b.runs_count:,} executed, "
            f"{b.failed_runs_count:,} failed"
        )
        if b.error_message:
            data.append(f"batch error: {text.excerpt(b.error_message, 2000, 'batch.error_message')}")
    for i, fb in enumerate(r.failed_batches):
        text.add(
            f"Batch {fb.batch_uuid} (created {when(fb.created_at)}, {fb.runs_count:,} runs) failed as a whole "
            f"[{fb.classification}] — fix: {fb.fix}"
        )
        if fb.error_message:
            data.append(
                f"batch {fb.batch_uuid}: {text.excerpt(fb.error_message, 2000, f'failed_batches[{i}].error_message')}"
            )
    cancelled = f" (of which {t.cancelled:,} cancelled)" if t.cancelled else ""
    text.add(
        f"Runs {t.runs:,}, finished {t.finished:,}{cancelled}, failed {t.failed:,} "
        f"({pct(t.failed, t.finished - t.cancelled)} of executed); credits on failed runs {num(t.failed_credits)}"
    )
    if r.nodes:
        text.add(
            "Errors by node: "
            + "; ".join(
                f"{n.slug}{f' {n.name!r}' if n.name and n.name != n.slug else ''} "
                f"({n.kind or '?'}{f', {n.integration}' if n.integration else ''}) "
                f"{n.errors:,}/{n.executions:,} ({pct(n.errors, n.executions)})"
                + (f", {n.absorbed:,} absorbed by fallback" if n.absorbed else "")
                for n in r.nodes
            )
        )
    for i, g in enumerate(r.error_groups, 1):
        text.add(*_group(f"{i}.", g), f"   fix: {g.fix}")
        data.append(f"group {i} example: {text.excerpt(g.example, 1000, f'error_groups[{i - 1}].example')}")
    if r.more_groups:
        more = again(min(MAX_GROUPS, len(r.error_groups) + r.more_groups))
        past = f"error_groups[{len(r.error_groups)}:]"
        text.leave_out([past], f"{r.more_groups:,} smaller group(s) past max_groups", f"call {more}")
    for i, g in enumerate(r.absorbed_by_fallback):
        text.add(*_group("Absorbed by fallback (not failures):", g))
        data.append(f"absorbed {i + 1} example: {text.excerpt(g.example, 1000, f'absorbed_by_fallback[{i}].example')}")
    for s in r.filter_stops:
        text.add(f"Filter stops (expected, not failures): {s.node_slug} stopped {s.stops:,} run(s)")
    if r.rerun:
        body = text.excerpt(json.dumps(r.rerun.body, separators=(",", ":")), 4000, "rerun.body")
        text.add(
            f"Re-run recipe ({r.rerun.endpoint}; shown as data, nothing is re-run): {r.rerun.note}", f"   body: {body}"
        )
    if not r.error_groups:
        text.add(
            "No failed node executions in this scope"
            + (" (see the failed batches above)." if r.failed_batches else ".")
        )
    if data:
        text.data(data)
    text.add(*(f"Note: {n}" for n in r.notes))
    return str(text)


def _group(head: str, g: ErrorGroup) -> list[str]:
    node = ", ".join(x for x in (g.node_uuid and f"node {g.node_uuid}", g.node_kind, g.integration) if x)
    return [
        f"{head} [{g.classification}] {g.node_slug} ({node}): {g.count:,} errors in {g.runs:,} runs ({g.share:.1%}), "
        f"{num(g.credits)} credits — {g.pattern}",
        f"   cause: {g.cause}; seen {when(g.first_seen)} → {when(g.last_seen)}"
        f"{' (clustered)' if g.clustered else ''} {g.time_profile}",
        f"   exemplar runs: {', '.join(g.exemplar_runs)} (records {', '.join(g.exemplar_records)})",
    ]


UNFINISHED = ("idle", "pending", "running", "cancelling")
LEGEND = "Marks: ✔ success, ✖ FAILED (error), ↪ error handled by a fallback edge, ⏹ filter stop (success), · never ran"


class RunTrace(RunDetail):
    drawing: str = Field(description="The graph with each node's outcome in this run.")


@tool_errors
async def trace_run(
    ctx: Context[Any, Any],
    run_uuid: Annotated[Uuid, Field(description="The run's UUID.")],
) -> Annotated[CallToolResult, RunTrace]:
    """One run drawn over its graph: each node's outcome (✔ success, ✖ failed, ↪ error taken by a
    fallback, ⏹ filter stop, · never ran), branch, duration, credits; errors; the failing node's runContext."""
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
        marks[s.node_uuid] = f"{sign} {duration(s.duration_s)}" + (f", {num(s.credits)} cr" if s.credits else "")
    unreached = "· not yet" if detail.status in UNFINISHED else "· not run"
    for n in nodes:
        marks.setdefault(n.uuid, unreached)
    trace = RunTrace(**detail.model_dump(), drawing=graph.draw(nodes, marks))
    text = Text()
    run_head(trace, text)
    text.block(trace.drawing)
    text.add(LEGEND)
    nodes_call = "call " + call("get_workflow_nodes", run_uuid=trace.run_uuid)
    text.leave_out(["path[*].{node_uuid,name}"], "the nodes' UUIDs and names", nodes_call)
    run_data(trace, text)
    return answer(trace, str(text))


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, inspect_failures, "Inspect failures (grouped causes)")
    add_tool(mcp, trace_run, "Trace one run")
