"""Sandbox records → the wire models of :mod:`cargo_mcp.api.models`."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from cargo_mcp.api import models as m
from cargo_mcp.sandbox.workspace import (
    NODE_FIELDS,
    BatchRec,
    ReleaseRec,
    RunRec,
    SandboxWorkspace,
    WorkflowRec,
    context_of,
    record_status,
    s3,
)

T = TypeVar("T")


def known(value: T | None) -> T:
    """``value``, which the generator always sets for this kind of entity."""
    if value is None:
        raise ValueError("a field the sandbox always sets is missing")
    return value


def dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _owned(ws: SandboxWorkspace, workflow: WorkflowRec) -> dict[str, Any]:
    """The workspace, workflow and user fields of an entity of ``workflow``."""
    return {"workspace_uuid": ws.uuid, "workflow_uuid": workflow.uuid, "user_uuid": ws.user_uuid}


def execution(run: RunRec, i: int) -> m.Execution:
    e = run.executions[i]
    s, node = run.release.specs[e.node], run.release.nodes[e.node]
    return m.Execution(
        node_uuid=node.uuid,
        node_slug=s.slug,
        node_kind=s.kind,  # type: ignore[arg-type]
        node_child_index=e.child_index,
        next_node_uuid=run.release.nodes[e.next_node].uuid if e.next_node is not None else None,
        status=e.status,  # type: ignore[arg-type]
        error_message=e.error,
        title=e.title,
        credits_used_count=e.credits,
        started_at=dt(e.started_at),
        updated_at=dt(e.finished_at or e.started_at),
        finished_at=dt(e.finished_at),
        node_wait_until_finished=s.kind == "agent",
        **{f"node_{name}": getattr(node, name) for name in NODE_FIELDS},
    )


def run(ws: SandboxWorkspace, r: RunRec) -> m.Run:
    return m.Run(
        **_owned(ws, r.workflow),
        uuid=r.uuid,
        release_uuid=None if r.adhoc else r.release.uuid,
        nodes=r.release.nodes if r.adhoc else None,
        batch_uuid=r.batch.uuid if r.batch else None,
        trace_uuid=r.trace_uuid,
        temporal_workflow_id=f"run-{r.uuid}",
        record_id=r.record_id,
        record_title=r.record_title,
        context_s3_filename=s3(r, "context"),
        computed_configs_s3_filename=s3(r, "computed-configs"),
        status=r.status,  # type: ignore[arg-type]
        error_message=r.error_message,
        executions=[execution(r, i) for i in range(len(r.executions))],
        created_at=_dt(r.created_at),
        updated_at=_dt(r.updated_at),
        finished_at=dt(r.finished_at),
    )


def get_run(ws: SandboxWorkspace, r: RunRec) -> m.GetRunResult:
    ctx, cfg = context_of(r)
    return m.GetRunResult(run=run(ws, r), run_context=ctx, run_computed_configs=cfg)


def record(ws: SandboxWorkspace, r: RunRec) -> m.Record:
    """A record is its latest run under the record's own names."""
    latest = run(ws, r)
    return m.Record(
        **{name: getattr(latest, name) for name in m.Executed.model_fields},
        id=r.record_id,
        title=r.record_title,
        run_uuid=r.uuid,
        status=record_status(r.status),  # type: ignore[arg-type]
    )


def span(ws: SandboxWorkspace, r: RunRec, i: int) -> m.Span:
    e = execution(r, i)
    return m.Span(
        **{name: getattr(e, name) for name in m.NodeRef.model_fields},
        **{f"execution_{name}": getattr(e, name) for name in ("status", "error_message", "title", "icon_url")},
        **_owned(ws, r.workflow),
        batch_uuid=r.batch.uuid if r.batch else None,
        trace_uuid=r.trace_uuid,
        record_id=r.record_id,
        record_title=r.record_title,
        run_uuid=r.uuid,
        run_context_s3_filename=s3(r, "context"),
        run_computed_configs_s3_filename=s3(r, "computed-configs"),
        node_next_uuid=e.next_node_uuid,
        execution_index=i,
        execution_credits_used_count=e.credits_used_count,
        execution_started_at=known(e.started_at),
        execution_updated_at=known(e.updated_at),
        execution_finished_at=e.finished_at,
    )


def batch(ws: SandboxWorkspace, b: BatchRec) -> m.Batch:
    return m.Batch(
        **_owned(ws, b.workflow),
        uuid=b.uuid,
        created_at=_dt(b.created_at),
        updated_at=_dt(b.finished_at or b.created_at),
        finished_at=dt(b.finished_at),
        release_uuid=b.release.uuid,
        temporal_workflow_id=b.temporal_workflow_id,
        data=b.data,
        error_message=b.error_message,
        status=b.status,  # type: ignore[arg-type]
        runs_status=b.runs_status,  # type: ignore[arg-type]
        runs_count=b.runs_count,
        executed_runs_count=b.executed_runs_count,
        failed_runs_count=b.failed_runs_count,
        credits_used_count=b.credits_used_count,
    )


def release(ws: SandboxWorkspace, r: ReleaseRec) -> m.Release:
    return m.Release(
        uuid=r.uuid,
        parent_uuid=r.parent_uuid,
        workspace_uuid=ws.uuid,
        user_uuid=r.user_uuid,
        workflow_uuid=r.workflow_uuid,
        description=f"Version {r.version}",
        version=r.version,
        status=r.status,  # type: ignore[arg-type]
        nodes=r.nodes,
        form_fields=None,
        test_records=[],
        deployed_at=dt(r.deployed_at),
        created_at=_dt(r.created_at),
        updated_at=_dt(r.deployed_at or r.created_at),
    )


def workflow(ws: SandboxWorkspace, w: WorkflowRec) -> m.Workflow:
    dep = w.deployed
    last = max(w.batches, key=lambda b: b.created_at) if w.batches else None
    return m.Workflow(
        uuid=w.uuid,
        workspace_uuid=ws.uuid,
        created_at=_dt(w.created_at),
        updated_at=_dt(w.created_at),
        play_uuid=w.play_uuid,
        tool_uuid=w.tool_uuid,
        nodes=[m.WorkflowNode(uuid=n.uuid, slug=n.slug, kind=n.kind, name=n.name) for n in (dep.nodes if dep else [])],
        last_batch=m.BatchBrief(
            uuid=last.uuid,
            status=last.status,  # type: ignore[arg-type]
            runs_status=last.runs_status,  # type: ignore[arg-type]
            error_message=last.error_message,
            created_at=_dt(last.created_at),
            finished_at=dt(last.finished_at),
        )
        if last
        else None,
        deployed_release=m.ReleaseBrief(
            uuid=dep.uuid,
            user_uuid=dep.user_uuid,
            version=dep.version,
            nodes=dep.nodes,
            deployed_at=dt(dep.deployed_at),
            created_at=_dt(dep.created_at),
        )
        if dep
        else None,
    )


def tool(ws: SandboxWorkspace, w: WorkflowRec) -> m.Tool:
    return m.Tool(
        uuid=known(w.tool_uuid),
        icon={"kind": "emoji", "emojiSlug": "gear"},
        **_owned(ws, w),
        name=w.spec.name,
        description=w.spec.description,
        credits_cost={"kind": "minMax", "min": 0, "max": 10},
        created_at=_dt(w.created_at),
        updated_at=_dt(w.created_at),
    )


def play(ws: SandboxWorkspace, w: WorkflowRec) -> m.Play:
    return m.Play(
        uuid=known(w.play_uuid),
        **_owned(ws, w),
        model_uuid=known(w.model_uuid),
        segment_uuid=known(w.segment_uuid),
        change_kinds=["added", "updated"],
        name=w.spec.name,
        description=w.spec.description,
        schedule={"type": "cron", "cron": "0 6 * * *"},
        created_at=_dt(w.created_at),
        updated_at=_dt(w.created_at),
    )


def metrics(runs: list[RunRec]) -> list[m.RunMetric]:
    """Per-node execution counts and credits (keyed by node uuid, as the API does)."""
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for r in runs:
        for e in r.executions:
            a = acc[r.release.nodes[e.node].uuid]
            a["total_executions_count"] += 1
            a[f"{e.status}_executions_count"] += 1
            a["credits_used_count"] += e.credits
    return [
        m.RunMetric(
            node_uuid=uuid,
            **{k: (round(v, 2) if k == "credits_used_count" else int(v)) for k, v in a.items()},
        )
        for uuid, a in acc.items()
    ]


def workspace(ws: SandboxWorkspace) -> m.Workspace:
    return m.Workspace(
        uuid=ws.uuid,
        name=ws.name,
        created_at=_dt(ws.created_at),
        updated_at=_dt(ws.created_at),
        allowed_email_domains=[ws.user_email.split("@")[1]],
    )


def user(ws: SandboxWorkspace) -> m.User:
    return m.User(
        uuid=ws.user_uuid,
        email=ws.user_email,
        first_name="Sandbox",
        last_name="Operator",
        created_at=_dt(ws.created_at),
        updated_at=_dt(ws.created_at),
    )


def workspace_user(ws: SandboxWorkspace) -> m.WorkspaceUser:
    return m.WorkspaceUser(
        **user(ws).model_dump(),
        workspace_uuid=ws.uuid,
        permissions=["orchestration:read", "orchestration:workflow:read"],
    )
