"""Journey 2 in one call: grouped failure causes for a batch or a time window, and a run's trace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.failures.inputs import Files
from cargo_mcp.failures.queries import Scope
from cargo_mcp.failures.releases import label
from cargo_mcp.failures.report import FailureReport, iso
from cargo_mcp.failures.sweep import Target, sweep
from cargo_mcp.failures.workspace import sweep_workspace
from cargo_mcp.server import graph
from cargo_mcp.server.render import clip, duration, pct
from cargo_mcp.server.runview import RunDetail, run_detail
from cargo_mcp.server.scope import FAILURES, ScopeArgs, resolve, scoped
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors

DEFAULT_WINDOW = timedelta(days=7)
TEXT_BUDGET = 6000
WORKFLOW_LINES = 15  # workspace sweep: workflows with a line each; the others share one line


@tool_errors
@scoped(FAILURES)
async def inspect_failures(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    max_groups: Annotated[int, Field(ge=1, le=50, description="Most error groups to return.")] = 10,
) -> Annotated[CallToolResult, FailureReport]:
    """Why did runs fail? One call sweeps a batch, or a workflow over a time window (default: last 7 days),
    or without either every workflow (worst first). Returns totals (failure rate, credits on failed runs,
    "success with failures"); runs vs distinct records; a split by release; failures per node; error
    groups (node + normalized message) with count, share, time profile, exemplar runs, a classification
    (rate_limit, credentials, agent_step_limit, provider, data), the fix and the release it began with;
    fallback-absorbed errors and filter stops (condition, credits) apart, as they are not failures; and a
    re-run request for the records still failing (data only). Next: trace_run(<exemplar run>)."""
    s = services(ctx)
    scope = await resolve(s, args, workspace=True)
    batch, until = scope.batch, scope.filters.created_before
    now = datetime.now(UTC)
    if batch:
        since = scope.filters.created_after or batch.created_at - timedelta(minutes=1)
        end = batch.finished_at or now
        notes = []
    else:
        since = scope.filters.created_after or now - DEFAULT_WINDOW
        end = until or now
        notes = [] if scope.filters.created_after else ["no created_after given: inspected the last 7 days"]
    client = await s.cargo()
    window = f"created_after={iso(since)!r}" + (f", created_before={iso(until)!r}" if until else "")
    if scope.filters.workflow_uuid is None:
        names = {e.workflow_uuid: (e.name, e.kind) for e in await s.catalog.entries()}
        report = await sweep_workspace(
            client,
            Scope(workflow_uuid=None, since=since, until=until),
            names,
            max_groups=max_groups,
            end=end,
            next_call=lambda wf: f"inspect_failures(workflow={wf!r}, {window})",
        )
        report.notes += notes
        return answer(report, workspace_text(report))
    wf_uuid = scope.workflow_uuid
    entry = await s.catalog.resolve(wf_uuid)
    releases, _ = await s.releases.of_workflow(wf_uuid)
    name = entry.name if entry else None
    target = Target(
        uuid=wf_uuid,
        name=name,
        kind=entry.kind if entry else None,
        model_uuid=entry.model_uuid if entry else None,
        nodes={n.uuid: n for r in releases for n in r.nodes},
        releases=releases,
    )
    report = await sweep(
        client,
        Files(s.files, s.fetch_policy),
        Scope(workflow_uuid=wf_uuid, since=since, until=until, batch_uuid=batch.uuid if batch else None),
        target,
        max_groups=max_groups,
        batch=batch,
        end=end,
        again=f"inspect_failures(workflow={name or wf_uuid!r}, created_after={iso(since)!r}) counts every run since "
        "(records that succeeded drop out)",
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
    lines += _failed_batches(r)
    cancelled = f" (of which {t.cancelled:,} cancelled)" if t.cancelled else ""
    lines.append(
        f"Runs {t.runs:,}, finished {t.finished:,}{cancelled}, failed {t.failed:,} "
        f"({pct(t.failed, t.finished - t.cancelled)} of executed); "
        f"credits on failed runs {t.failed_credits:g}"
    )
    lines += _records(r)
    lines += _releases(r)
    if r.nodes:
        lines.append(
            "Errors by node: "
            + "; ".join(
                f"{n.slug} {n.errors:,}/{n.executions:,} ({pct(n.errors, n.executions)})"
                + (f", {n.absorbed:,} absorbed by fallback" if n.absorbed else "")
                for n in r.nodes[:8]
            )
        )
    lines += _groups(r)
    for g in r.absorbed_by_fallback:
        lines.append(f"Absorbed by fallback (not failures): {g.node_slug} {g.count:,} errors — {clip(g.pattern, 100)}")
    for s in r.filter_stops:
        lines.append(
            f"Filter stops (expected, not failures): {s.node_slug} (node {s.node_uuid}) stopped {s.stops:,} run(s), "
            f"which had spent {s.credits:g} credits; condition: {clip(s.condition or 'unknown', 200)}"
            + (f"; run {s.exemplar_run} read (untrusted data): {clip(_pairs(s.seen), 300)}" if s.seen else "")
        )
    if r.rerun:
        body = " Body in structured content `rerun`." if r.rerun.body is not None else ""
        lines.append(f"Re-run request ({r.rerun.endpoint}): {r.rerun.note}{body}")
    if not r.error_groups:
        lines.append(
            "No failed node executions in this scope"
            + (" (see the failed batches above)." if r.failed_batches else ".")
        )
    lines += [f"Note: {n}" for n in r.notes]
    return _fit("\n".join(lines))


def workspace_text(r: FailureReport) -> str:
    """A workspace-wide report as compact text: workflows worst first, then the largest groups."""
    t, w = r.totals, r.window
    lines = [
        f"Failures across the workspace, runs created {w['created_after']} → {w['created_before'] or 'now'}: "
        f"{t.runs:,} runs, {t.failed:,} failed ({pct(t.failed, t.finished - t.cancelled)} of executed); "
        f"credits on failed runs {t.failed_credits:g}"
    ]
    lines += _records(r)
    if r.workflows:
        lines.append("Workflows with failures, worst first (failed runs, then failure rate):")
    for i, f in enumerate(r.workflows[:WORKFLOW_LINES], 1):
        rate = f"{f.failure_rate:.1%}" if f.failure_rate is not None else "n/a"
        lines.append(
            f"{i}. {f.name or '(ad-hoc)'} ({f.kind or 'workflow'} {f.workflow_uuid}): {f.failed:,} failed of "
            f"{f.runs:,} runs ({rate}) = {f.failed_records:,} records → {f.next_call}"
        )
    rest = r.workflows[WORKFLOW_LINES:]
    if rest:
        lines.append(
            f"… and {len(rest)} more (failed runs; next call inspect_failures(workflow=<name or UUID>) with the "
            "same window): " + ", ".join(f"{f.name or f.workflow_uuid} {f.failed:,}" for f in rest)
        )
    lines += _failed_batches(r)
    if r.error_groups:
        lines.append("Largest error groups, across workflows:")
    lines += _groups(r)
    for g in r.absorbed_by_fallback:
        lines.append(
            f"Absorbed by fallback (not failures): {_workflow_name(r, g.workflow_uuid)} / {g.node_slug} "
            f"{g.count:,} errors — {clip(g.pattern, 100)}"
        )
    if not r.workflows:
        lines.append("No failed run in this window" + (" (see the failed batches above)." if r.failed_batches else "."))
    else:
        lines.append("Per workflow (nodes, records, releases, filter stops, re-run): its next call above.")
    lines += [f"Note: {n}" for n in r.notes]
    return _fit("\n".join(lines))


def _fit(text: str) -> str:
    return (
        text if len(text) <= TEXT_BUDGET else text[: TEXT_BUDGET - 60] + "\n… (cut; full report in structured content)"
    )


def _failed_batches(r: FailureReport) -> list[str]:
    lines = []
    for fb in r.failed_batches:
        of = f" of {_workflow_name(r, fb.workflow_uuid)} ({fb.workflow_uuid})" if r.workflow_uuid is None else ""
        lines += [
            f"Batch {fb.batch_uuid}{of} ({fb.created_at}, {fb.runs_count:,} runs) failed as a whole "
            f"[{fb.classification}]: {clip(fb.error_message or 'no message', 240)}",
            f"   fix: {fb.fix}",
        ]
    return lines


def _workflow_name(r: FailureReport, uuid: str | None) -> str:
    """A workflow of a workspace sweep by name (its UUID is on its line above)."""
    f = next((f for f in r.workflows if f.workflow_uuid == uuid), None)
    return f.name if f and f.name else str(uuid)


def _records(r: FailureReport) -> list[str]:
    """Runs are not records: the counts behind the re-run."""
    x, t = r.records, r.totals
    if not t.runs:
        return []
    repeats = f"{x.duplicated:,} ran more than once: {t.runs - x.records:,} repeat run(s)"
    repeats = repeats if x.duplicated else "each once"
    line = f"Records: {t.runs:,} run(s) = {x.records:,} distinct record(s) ({repeats})"
    if t.failed:
        where = "this batch" if r.batch else "this window"
        line += (
            f"; {t.failed:,} failed run(s) = {x.failed_records:,} distinct record(s) ({t.failed - x.failed_records:,} "
            f"repeat(s)); {x.recovered:,} of them succeeded in another run of {where}; "
            f"{x.still_failing:,} still failing"
        )
    return [line]


def _releases(r: FailureReport) -> list[str]:
    """Which releases served the scope; the counts split by release when there are several."""
    if len(r.releases) == 1:
        s = r.releases[0]
        runs = f"runs {s.first_run} → {s.last_run}"
        if s.release_uuid is None:
            return [f"Release: none (ad-hoc runs carry their own nodes; {runs})"]
        return [f"Release: every run on {label(s)} ({s.release_uuid}, deployed {s.deployed_at or 'unknown'}; {runs})"]
    lines = [f"Releases: this scope spans {len(r.releases)}, oldest first:"] if r.releases else []
    for s in r.releases:
        lines.append(
            f"  {label(s)} ({s.release_uuid or '-'}, deployed {s.deployed_at or 'unknown'}), runs {s.first_run} → "
            f"{s.last_run}: {s.runs:,} runs, {s.failed:,} failed ({pct(s.failed, s.runs)} of runs)"
        )
    return lines


def _groups(r: FailureReport) -> list[str]:
    names = {s.release_uuid or "": s for s in r.releases}
    lines = []
    for i, g in enumerate(r.error_groups, 1):
        where = f"{_workflow_name(r, g.workflow_uuid)} / " if r.workflow_uuid is None else ""
        lines += [
            f"{i}. [{g.classification}] {where}{g.node_slug}: {g.count:,} errors ({g.share:.0%}) — "
            f"{clip(g.pattern, 160)}",
            f"   seen {g.first_seen} → {g.last_seen}{' (clustered)' if g.clustered else ''} {g.time_profile}",
            f"   fix: {g.fix}",
            f"   exemplars: {', '.join(g.exemplar_runs[:2])} (records {', '.join(g.exemplar_records[:2])})",
        ]
        if g.by_release:
            split = ", ".join(f"{label(names[u]) if u in names else u} {n:,}" for u, n in g.by_release.items())
            began = names.get(g.began_with or "")
            start = f" — began with {label(began)}, right after its first run ({began.first_run})" if began else ""
            lines.append(f"   by release: {split}{start}")
    if r.more_groups:
        lines.append(f"… {r.more_groups} smaller group(s) left out (raise max_groups).")
    return lines


def _pairs(seen: dict[str, Any]) -> str:
    return "; ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in seen.items())


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
    if detail.stop_condition:
        lines.append(f"Stopped by {detail.stopped_at}: {clip(detail.stop_condition, 400)}")
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
