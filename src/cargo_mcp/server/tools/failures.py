"""Journey 2 in one call: grouped failure causes for a batch or a time window, and a run's trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from cargo_mcp.failures.inputs import Files
from cargo_mcp.failures.queries import Scope
from cargo_mcp.failures.releases import label
from cargo_mcp.failures.report import ErrorGroup, FailureReport, Rerun, Totals, iso
from cargo_mcp.failures.sweep import Target, sweep
from cargo_mcp.failures.workspace import UNLISTED, sweep_workspace
from cargo_mcp.server import graph
from cargo_mcp.server.render import Text, call, duration, num, pct, when
from cargo_mcp.server.runview import RunDetail, run_data, run_detail, run_head
from cargo_mcp.server.scope import FAILURES, ScopeArgs, resolve, scoped
from cargo_mcp.server.services import Services
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors

DEFAULT_WINDOW = timedelta(days=7)
MAX_GROUPS = 50
EXAMPLE_CHARS = 1000  # of a group's literal example message in the text
WORKSPACE_EXAMPLE_CHARS = 300  # the same across the workspace, where every workflow's groups share the text
RERUN_SHOWN = 1500  # characters of the re-run body in the text (a longer one's ids or records are also stored)
WORKFLOW_LINES = 15  # workspace sweep: workflows with a line each; the others share one line


@tool_errors
@scoped(FAILURES)
async def inspect_failures(
    ctx: Context[Any, Any],
    args: ScopeArgs,
    max_groups: Annotated[int, Field(ge=1, le=MAX_GROUPS, description="Most error groups.")] = 10,
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
    if report.rerun and report.rerun.body and len(_compact(report.rerun.body)) > RERUN_SHOWN:
        report.rerun.result_id = await _store_rerun(s, report.rerun.body, report.scope)
    return answer(report, failure_text(report, lambda n: call("inspect_failures", **args.given(), max_groups=n)))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _items(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """The list a re-run body sends: ``ids`` (plays) or ``records`` (tools), under ``data``."""
    data = body["data"]
    key = "ids" if "ids" in data else "records"
    return key, list(data[key])


async def _store_rerun(s: Services, body: dict[str, Any], scope: str) -> str:
    """Keep a re-run body's ids (a row each, column recordId) or records (a row each) as a stored result: the text
    shows only their start, read_result and save_result give them all."""
    key, items = _items(body)
    rows = [{"recordId": x} if key == "ids" or not isinstance(x, dict) else x for x in items]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    meta = await anyio.to_thread.run_sync(
        lambda: s.store.create(columns, rows, f"re-run {key} of {scope}", made_by="inspect_failures")
    )
    return meta.result_id


def _rerun(rr: Rerun, text: Text, data: list[str]) -> None:
    """The re-run request; its body (record data) with the data block. A long body shows its first ids or records,
    the rest are named by the stored result that holds them all."""
    text.add(f"Re-run request ({rr.endpoint}; shown as data, nothing is re-run): {rr.note}")
    if rr.body is None:
        return
    if rr.result_id is None:
        data.append(f"re-run body: {text.excerpt(_compact(rr.body), RERUN_SHOWN, 'rerun.body')}")
        return
    key, items = _items(rr.body)
    empty = _compact({**rr.body, "data": {**rr.body["data"], key: []}})
    head, _, tail = empty.rpartition(f'"{key}":[]')
    head += f'"{key}":'
    shown: list[str] = []
    used = len(head) + len(tail) + 3  # the brackets and the ellipsis
    for item in items:
        used += len(_compact(item)) + 1
        if used > RERUN_SHOWN:
            break
        shown.append(_compact(item))
    k, n, rid = len(shown), len(items), rr.result_id
    noun = "record ids" if key == "ids" else "records"
    data.append(f"re-run body: {head}[{','.join([*shown, '…'])}]{tail}")
    text.add(
        f"   The body (in the data block) lists {k:,} of its {n:,} {noun}; all {n:,} are stored as result {rid} "
        f"(a row each): save_result(result_id={rid!r}, path='rerun.csv') writes them to a file."
    )
    more = call("read_result", result_id=rid, offset=k, limit=n - k)
    text.leave_out([f"rerun.body.data.{key}[{k}:]"], f"{n - k:,} more of its {n:,} {noun}", f"call {more}")


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
    _failed_batches(r, text, data)
    text.add(f"Runs {t.runs:,}, {_outcome(t)}; credits on failed runs {num(t.failed_credits)}")
    text.add(*_records(r), *_releases(r))
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
    _groups(r, text, data, EXAMPLE_CHARS)
    if r.more_groups:
        more = again(min(MAX_GROUPS, len(r.error_groups) + r.more_groups))
        past = f"error_groups[{len(r.error_groups)}:]"
        text.leave_out([past], f"{r.more_groups:,} smaller group(s) past max_groups", f"call {more}")
    _absorbed(r, text, data, EXAMPLE_CHARS)
    for i, s in enumerate(r.filter_stops):
        text.add(
            f"Filter stops (expected, not failures): {s.node_slug} (node {s.node_uuid}) stopped {s.stops:,} run(s), "
            f"which had spent {num(s.credits)} credits; exemplar run {s.exemplar_run}"
        )
        data.append(
            f"filter {s.node_slug} condition: "
            f"{text.excerpt(s.condition or 'unknown', 1000, f'filter_stops[{i}].condition')}"
            + (f"; it read: {text.excerpt(_pairs(s.seen), 1000, f'filter_stops[{i}].seen')}" if s.seen else "")
        )
    if r.rerun:
        _rerun(r.rerun, text, data)
    if not r.error_groups:
        text.add(
            "No failed node executions in this scope"
            + (" (see the failed batches above)." if r.failed_batches else ".")
        )
    if data:
        text.data(data)
    text.add(*(f"Note: {n}" for n in r.notes))
    return str(text)


def workspace_text(r: FailureReport) -> str:
    """A workspace-wide report as compact text: workflows worst first, then the largest groups."""
    t, w = r.totals, r.window
    text = Text(
        f"Failures across the workspace, runs created {when(w['created_after'])} → "
        f"{when(w['created_before']) if w['created_before'] else 'now'}: {t.runs:,} runs, {_outcome(t)}; "
        f"credits on failed runs {num(t.failed_credits)}"
    )
    text.add(*_records(r))
    if r.workflows:
        text.add("Workflows with failures, worst first (failed runs, then failure rate):")
    for i, f in enumerate(r.workflows[:WORKFLOW_LINES], 1):
        rate = f"{f.failure_rate:.1%}" if f.failure_rate is not None else "n/a"
        text.add(
            f"{i}. {f'{f.name} ({f.kind} {f.workflow_uuid})' if f.name else f'workflow {f.workflow_uuid} ({UNLISTED})'}"
            f": {f.failed:,} failed of "
            f"{f.runs:,} runs ({rate}) = {f.failed_records:,} records → {f.next_call}"
        )
    rest = r.workflows[WORKFLOW_LINES:]
    if rest:
        text.add(
            f"… and {len(rest)} more (failed runs; next call inspect_failures(workflow=<name or UUID>) with the "
            "same window): " + ", ".join(f"{f.name or f.workflow_uuid} {f.failed:,}" for f in rest)
        )
    data: list[str] = []
    _failed_batches(r, text, data)
    if r.error_groups:
        text.add("Largest error groups, across workflows:")
    _groups(r, text, data, WORKSPACE_EXAMPLE_CHARS)
    if r.more_groups:
        text.leave_out(
            [f"error_groups[{len(r.error_groups)}:]"],
            f"{r.more_groups:,} smaller group(s) past max_groups",
            "call inspect_failures with a larger max_groups, or per workflow (its next call above)",
        )
    _absorbed(r, text, data, WORKSPACE_EXAMPLE_CHARS)
    if not r.workflows:
        text.add("No failed run in this window" + (" (see the failed batches above)." if r.failed_batches else "."))
    else:
        text.add("Per workflow (nodes, records, releases, filter stops, re-run): its next call above.")
    if data:
        text.data(data)
    text.add(*(f"Note: {n}" for n in r.notes))
    return str(text)


def _outcome(t: Totals) -> str:
    """Finished, cancelled and failed runs, and the failure rate with what it is a rate of."""
    cancelled = f" (of which {t.cancelled:,} cancelled)" if t.cancelled else ""
    executed = t.finished - t.cancelled
    return (
        f"finished {t.finished:,}{cancelled}, failed {t.failed:,} ({pct(t.failed, executed)} of the {executed:,} "
        "executed: finished, not cancelled)"
    )


def _failed_batches(r: FailureReport, text: Text, data: list[str]) -> None:
    """Batches that failed as a whole; across the workspace each names its workflow."""
    for i, fb in enumerate(r.failed_batches):
        where = f"of {_workflow_name(r, fb.workflow_uuid)} ({fb.workflow_uuid}; " if r.workflow_uuid is None else "("
        text.add(
            f"Batch {fb.batch_uuid} {where}created {when(fb.created_at)}, {fb.runs_count:,} runs) failed as a whole "
            f"[{fb.classification}] — fix: {fb.fix}"
        )
        if fb.error_message:
            data.append(
                f"batch {fb.batch_uuid}: {text.excerpt(fb.error_message, 2000, f'failed_batches[{i}].error_message')}"
            )


def _groups(r: FailureReport, text: Text, data: list[str], example: int) -> None:
    for i, g in enumerate(r.error_groups, 1):
        text.add(*_group(f"{i}.", g, r), f"   fix: {g.fix}")
        data.append(f"group {i} example: {text.excerpt(g.example, example, f'error_groups[{i - 1}].example')}")


def _absorbed(r: FailureReport, text: Text, data: list[str], example: int) -> None:
    for i, g in enumerate(r.absorbed_by_fallback):
        text.add(*_group("Absorbed by fallback (not failures):", g, r))
        path = f"absorbed_by_fallback[{i}].example"
        data.append(f"absorbed {i + 1} example: {text.excerpt(g.example, example, path)}")


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
        runs = f"runs {when(s.first_run)} → {when(s.last_run)}"
        if s.release_uuid is None:
            return [f"Release: none (ad-hoc runs carry their own nodes; {runs})"]
        return [
            f"Release: every run on {label(s)} ({s.release_uuid}, deployed {when(s.deployed_at)}; {runs})"
        ]
    lines = [f"Releases: this scope spans {len(r.releases)}, oldest first:"] if r.releases else []
    for s in r.releases:
        lines.append(
            f"  {label(s)} ({s.release_uuid or '-'}, deployed {when(s.deployed_at)}), runs {when(s.first_run)} → "
            f"{when(s.last_run)}: {s.runs:,} runs, {s.failed:,} failed ({pct(s.failed, s.runs)} of runs)"
        )
    return lines


def _pairs(seen: dict[str, Any]) -> str:
    return "; ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in seen.items())


def _group(head: str, g: ErrorGroup, r: FailureReport) -> list[str]:
    node = ", ".join(x for x in (g.node_uuid and f"node {g.node_uuid}", g.node_kind, g.integration) if x)
    where = f"{_workflow_name(r, g.workflow_uuid)} / " if r.workflow_uuid is None else ""
    lines = [
        f"{head} [{g.classification}] {where}{g.node_slug} ({node}): {g.count:,} errors in {g.runs:,} runs "
        f"({g.share:.1%}{' of the errors fallbacks absorbed' if g.classification == 'fallback' else ''}), "
        f"{num(g.credits)} credits — {g.pattern}",
        f"   cause: {g.cause}; seen {when(g.first_seen)} → {when(g.last_seen)}"
        f"{' (clustered)' if g.clustered else ''} {g.time_profile}",
        f"   exemplar runs: {', '.join(g.exemplar_runs)} (records {', '.join(g.exemplar_records)})",
    ]
    if g.by_release:
        names = {s.release_uuid or "": s for s in r.releases}
        split = ", ".join(f"{label(names[u]) if u in names else u} {n:,}" for u, n in g.by_release.items())
        began = names.get(g.began_with or "")
        start = f" — began with {label(began)}, right after its first run ({when(began.first_run)})" if began else ""
        lines.append(f"   by release: {split}{start}")
    return lines


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
