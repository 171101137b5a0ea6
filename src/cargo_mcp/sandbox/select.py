"""Filtering of sandbox runs, records, spans and batches by the API's payload fields."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cargo_mcp.api import requests as p
from cargo_mcp.api.models import TERMINAL_STATUSES, ExecutionsFilter
from cargo_mcp.sandbox.workspace import BatchRec, ExecRec, RunRec, SandboxWorkspace, record_status


def _ts(d: Any) -> float | None:
    return None if d is None else d.timestamp()


def _node_matches(run: RunRec, cond: Any) -> bool:
    execs = [e for e in run.executions if run.release.specs[e.node].slug == cond.node_slug]
    if cond.status == "absent":
        return not execs
    value = (cond.value or "").lower()
    for e in execs:
        if e.status != cond.status:
            continue
        text = (e.error if cond.status == "error" else e.title) or ""
        if not value or value in text.lower():
            return True
    return False


def executions_match(run: RunRec, f: ExecutionsFilter) -> bool:
    """Evaluate Cargo's executions filter (conditions by group conjonction, groups by the top one)."""
    results = []
    for g in f.groups:
        hits = [_node_matches(run, c) for c in g.conditions]
        results.append(all(hits) if g.conjonction == "and" else any(hits))
    if not results:
        return True
    return all(results) if f.conjonction == "and" else any(results)


def _candidates(ws: SandboxWorkspace, q: Any) -> Iterable[RunRec]:
    batch = getattr(q, "batch_uuid", None)
    if batch:
        b = ws.batches_by_uuid.get(batch)
        return [r for r in ws.runs_of_batch.get(batch, [])] if b else []
    wf = getattr(q, "workflow_uuid", None)
    if wf:
        return ws.runs_of_workflow.get(wf, [])
    return ws.runs


def _shared(q: Any, title: str | None, title_or_id: str | None) -> Callable[[RunRec], bool]:
    """The filters runs and records have in common (their title fields are named differently)."""
    after, before = _ts(q.created_after), _ts(q.created_before)
    u_after, u_before = _ts(getattr(q, "updated_after", None)), _ts(getattr(q, "updated_before", None))
    title, title_or_id = (title or "").lower(), (title_or_id or "").lower()

    def matches(r: RunRec) -> bool:
        if q.workflow_uuid and r.workflow.uuid != q.workflow_uuid:
            return False
        if q.release_uuid and (r.adhoc or r.release.uuid != q.release_uuid):
            return False
        if title and title not in r.record_title.lower():
            return False
        if title_or_id and not (title_or_id in r.record_title.lower() or r.record_id.lower() == title_or_id):
            return False
        if (after is not None and r.created_at < after) or (before is not None and r.created_at >= before):
            return False
        if (u_after is not None and r.updated_at < u_after) or (u_before is not None and r.updated_at >= u_before):
            return False
        return not q.executions_filter or executions_match(r, q.executions_filter)

    return matches


def _newest_first(runs: list[RunRec]) -> list[RunRec]:
    """Newest first, ties broken by uuid, so pages are stable."""
    return sorted(runs, key=lambda r: (-r.created_at, r.uuid))


def match_runs(ws: SandboxWorkspace, q: p.RunSelection) -> list[RunRec]:
    """Runs matching the filters, newest first."""
    if q.parent_batch_uuid or q.parent_uuid or q.parent_node_uuid or q.is_group_parent:
        return []  # the sandbox has no child runs
    if getattr(q, "user_uuid", None) not in (None, ws.user_uuid):
        return []
    statuses = set(q.statuses) if q.statuses else None
    uuids = set(getattr(q, "uuids", None) or []) or None
    finished = getattr(q, "is_finished", None)
    shared = _shared(q, q.record_title, q.record_title_or_id)
    out = []
    for r in _candidates(ws, q):
        if statuses and r.status not in statuses:
            continue
        if uuids and r.uuid not in uuids:
            continue
        if finished is not None and (r.status in TERMINAL_STATUSES) != finished:
            continue
        if q.record_id and r.record_id != q.record_id:
            continue
        if shared(r):
            out.append(r)
    return _newest_first(out)


def match_records(ws: SandboxWorkspace, q: p.RecordFilters | p.DownloadRecordOutputs) -> list[RunRec]:
    """Records (latest run per workflow and record id) matching the filters, newest first."""
    if q.parent_batch_uuid or q.parent_run_uuid or q.parent_node_uuid or q.is_group_parent:
        return []
    ids = set(q.ids) if q.ids else None
    run_uuids = set(getattr(q, "run_uuids", None) or []) or None
    statuses = set(q.statuses) if q.statuses else None
    shared = _shared(q, q.title, q.title_or_id)
    out = []
    for r in ws.records:
        if q.batch_uuid and (r.batch is None or r.batch.uuid != q.batch_uuid):
            continue
        if ids and r.record_id not in ids:
            continue
        if run_uuids and r.uuid not in run_uuids:
            continue
        if statuses and record_status(r.status) not in statuses:
            continue
        if shared(r):
            out.append(r)
    return _newest_first(out)


def match_spans(ws: SandboxWorkspace, q: p.SpanFilters) -> Iterator[tuple[RunRec, int, ExecRec]]:
    """(run, execution index, execution) for every span matching the filters, newest first."""
    after = q.execution_started_after.timestamp()
    before = _ts(q.execution_started_before)
    # Executions start after their run is created and runs last far less than a day.
    lo = bisect.bisect_left(ws.run_created, after - 86400)
    hi = len(ws.runs) if before is None else bisect.bisect_right(ws.run_created, before)
    statuses = set(q.execution_statuses) if q.execution_statuses else None
    title = (q.execution_title or "").lower()
    title_or_err = (q.execution_title_or_error_message or "").lower()
    rec_title = (q.record_title or "").lower()
    hits = []
    for r in ws.runs[lo:hi]:
        if (q.workflow_uuid and r.workflow.uuid != q.workflow_uuid) or (q.run_uuid and r.uuid != q.run_uuid):
            continue
        if q.batch_uuid and (r.batch is None or r.batch.uuid != q.batch_uuid):
            continue
        if (q.trace_uuid and r.trace_uuid != q.trace_uuid) or (q.record_id and r.record_id != q.record_id):
            continue
        if rec_title and rec_title not in r.record_title.lower():
            continue
        if q.parent_run_uuid or q.parent_node_uuid or q.parent_agent_uuid:
            continue
        for i, e in enumerate(r.executions):
            s, node = r.release.specs[e.node], r.release.nodes[e.node]
            if e.started_at < after or (before is not None and e.started_at >= before):
                continue
            if statuses and e.status not in statuses:
                continue
            if (q.node_slug and s.slug != q.node_slug) or (q.node_kind and s.kind != q.node_kind):
                continue
            if (q.node_uuid and node.uuid != q.node_uuid) or (
                q.node_action_slug and node.action_slug != q.node_action_slug
            ):
                continue
            if q.node_integration_slug and s.integration != q.node_integration_slug:
                continue
            if q.node_connector_uuid and node.connector_uuid != q.node_connector_uuid:
                continue
            if q.node_agent_uuid and node.agent_uuid != q.node_agent_uuid:
                continue
            if (q.node_tool_uuid and node.tool_uuid != q.node_tool_uuid) or q.node_release_uuid:
                continue
            if title and title not in (e.title or "").lower():
                continue
            if title_or_err and title_or_err not in f"{e.title or ''}\n{e.error or ''}".lower():
                continue
            hits.append((r, i, e))
    hits.sort(key=lambda h: (-h[2].started_at, h[0].uuid, h[1]))
    return iter(hits)


def match_batches(ws: SandboxWorkspace, q: p.ListBatches) -> list[BatchRec]:
    out = []
    for b in ws.batches:
        if q.workflow_uuids and b.workflow.uuid not in q.workflow_uuids:
            continue
        if q.release_uuid and b.release.uuid != q.release_uuid:
            continue
        if q.statuses and b.status not in q.statuses:
            continue
        if q.has_runs is not None and (b.runs_count > 0) != q.has_runs:
            continue
        if q.is_skipped is not None and (b.status == "skipped") != q.is_skipped:
            continue
        if q.is_finished is not None and (b.status in TERMINAL_STATUSES) != q.is_finished:
            continue
        if q.included_data_kinds and b.data["kind"] not in q.included_data_kinds:
            continue
        if q.excluded_data_kinds and b.data["kind"] in q.excluded_data_kinds:
            continue
        if q.parent_batch_uuid or q.parent_run_uuid or q.parent_node_uuid:
            continue
        out.append(b)
    out.sort(key=lambda b: -b.created_at)
    return out


def page(items: list[Any], limit: int | None, offset: int | None, default: int, maximum: int) -> list[Any]:
    start = offset or 0
    n = min(limit if limit is not None else default, maximum)
    return items[start : start + n]
