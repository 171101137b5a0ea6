"""Run a failure sweep: a handful of concurrent, capped queries, then grouping and classification."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import anyio

from cargo_mcp.analytics.sql import sql
from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.models import Batch, Node
from cargo_mcp.api.requests import RunMetrics
from cargo_mcp.failures import queries as q
from cargo_mcp.failures.classify import BATCH_FIX_DEFAULT, BATCH_FIXES, classify
from cargo_mcp.failures.report import (
    BatchFacts,
    ErrorGroup,
    FailedBatch,
    FailureReport,
    FilterStop,
    NodeFailures,
    Rerun,
    Totals,
)

BUCKETS = 24
# "Clustered": 80% of the errors fall within a quarter of the time span (10 uniform errors do so 0.5% of the time).
CLUSTER_SPAN = 0.25
RERUN_IDS_CAP = 1000
_BARS = "▁▂▃▄▅▆▇█"


async def sweep(
    client: CargoClient,
    scope: q.Scope,
    *,
    max_groups: int,
    nodes: dict[str, Node],
    workflow_name: str | None,
    workflow_kind: str | None,
    model_uuid: str | None,
    batch: Batch | None,
    end: datetime,
) -> FailureReport:
    """Inspect the failures of ``scope``; ``nodes`` maps node UUIDs of the workflow's releases."""
    start_ts, end_ts = int(scope.since.timestamp()), int(end.timestamp()) + 1
    width = max(1, -(-(end_ts - start_ts) // BUCKETS))
    got: dict[str, Any] = {}

    async def fetch(key: str, coro: Any) -> None:
        got[key] = await coro

    metrics = RunMetrics(workflow_uuid=scope.workflow_uuid, batch_uuid=scope.batch_uuid)
    if scope.batch_uuid is None:
        metrics = RunMetrics(workflow_uuid=scope.workflow_uuid, created_after=scope.since, created_before=scope.until)
    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, "totals", sql(client, q.totals(scope)))
        tg.start_soon(fetch, "groups", sql(client, q.error_groups(scope)))
        tg.start_soon(fetch, "profile", sql(client, q.error_profile(scope, start_ts, width, BUCKETS)))
        tg.start_soon(fetch, "stops", sql(client, q.filter_stops(scope)))
        tg.start_soon(fetch, "batches", sql(client, q.failed_batches(scope)))
        tg.start_soon(fetch, "metrics", client.run_metrics(metrics))
        if workflow_kind == "play":
            tg.start_soon(fetch, "ids", sql(client, q.failed_record_ids(scope, RERUN_IDS_CAP + 1)))

    t = got["totals"][0] if got["totals"] else {}
    finished, failed = int(t.get("finished", 0)), int(t.get("failed", 0))
    executed = finished - int(t.get("cancelled", 0))
    totals = Totals(
        runs=int(t.get("runs", 0)),
        finished=finished,
        failed=failed,
        cancelled=int(t.get("cancelled", 0)),
        failure_rate=round(failed / executed, 4) if executed else None,
        failed_credits=round(float(t.get("failed_credits") or 0), 4),
    )
    profiles: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * BUCKETS)
    for row in got["profile"]:
        profiles[(row["node_slug"], row["pattern"])][int(row["bucket"])] += int(row["n"])
    groups = [_group(row, profiles[(row["node_slug"], row["pattern"])]) for row in got["groups"]]
    real = [g for g in groups if g.classification != "fallback"]
    absorbed = [g for g in groups if g.classification == "fallback"]
    first = got["groups"][0] if got["groups"] else {}
    all_real = int(first.get("real_errors") or 0)  # over every group, not only the ones fetched
    for g in real:
        g.share = round(g.count / all_real, 4) if all_real else 0.0
    report = FailureReport(
        scope=f"batch {scope.batch_uuid}" if scope.batch_uuid else f"workflow {workflow_name or scope.workflow_uuid}",
        workflow_uuid=scope.workflow_uuid,
        workflow_name=workflow_name,
        workflow_kind=workflow_kind,
        window={
            "created_after": _iso(scope.since),
            "created_before": _iso(scope.until) if scope.until else None,
        },
        totals=totals,
        batch=_batch_facts(batch),
        nodes=_nodes(got["metrics"], nodes, absorbed),
        error_groups=real[:max_groups],
        more_groups=max(0, int(first.get("real_groups") or 0) - max_groups),
        absorbed_by_fallback=absorbed,
        filter_stops=[FilterStop(node_slug=r["node_slug"], stops=int(r["stops"])) for r in got["stops"]],
        failed_batches=[_failed_batch(r) for r in got["batches"]],
    )
    report.rerun = _rerun(scope, workflow_kind, model_uuid, real, got.get("ids"), failed)
    return report


def _group(row: dict[str, Any], profile: list[int]) -> ErrorGroup:
    count, continued = int(row["errors"]), int(row["continued"])
    cause = classify(str(row["pattern"]), absorbed=continued == count)
    return ErrorGroup(
        node_slug=row["node_slug"],
        node_uuid=row.get("node_uuid"),
        node_kind=row.get("node_kind"),
        integration=row.get("integration") or None,
        pattern=row["pattern"],
        example=str(row.get("example") or "")[:300],
        classification=cause.classification,
        cause=cause.label,
        fix=cause.fix,
        count=count,
        runs=int(row["runs"]),
        share=0.0,
        first_seen=_iso(datetime.fromtimestamp(int(row["first_at"]), UTC)),
        last_seen=_iso(datetime.fromtimestamp(int(row["last_at"]), UTC)),
        clustered=count >= 10 and _span_of(profile, 0.8) <= BUCKETS * CLUSTER_SPAN,
        time_profile=_bars(profile),
        exemplar_runs=list(row["sample_runs"]),
        exemplar_records=list(row["sample_records"]),
        credits=round(float(row.get("credits") or 0), 4),
    )


def _span_of(counts: list[int], share: float) -> int:
    """The fewest consecutive buckets holding ``share`` of the errors."""
    need = share * sum(counts)
    best = len(counts)
    for i in range(len(counts)):
        total = 0
        for j in range(i, len(counts)):
            total += counts[j]
            if total >= need:
                best = min(best, j - i + 1)
                break
    return best


def _bars(counts: list[int]) -> str:
    top = max(counts) or 1
    return "".join("·" if c == 0 else _BARS[min(7, (c * 8 - 1) // top)] for c in counts)


def _nodes(metrics: list[Any], nodes: dict[str, Node], absorbed: list[ErrorGroup]) -> list[NodeFailures]:
    """Errors per node slug, real failures first: errors a fallback absorbed rank below them."""
    by_slug: dict[str, NodeFailures] = {}
    for m in metrics:
        node = nodes.get(m.node_uuid)
        slug = node.slug if node else m.node_uuid
        entry = by_slug.setdefault(
            slug,
            NodeFailures(
                slug=slug,
                name=node.name if node else None,
                kind=node.kind if node else None,
                integration=node.integration_slug if node else None,
                executions=0,
                errors=0,
                absorbed=0,
                error_rate=0.0,
            ),
        )
        entry.executions += m.total_executions_count
        entry.errors += m.error_executions_count
    for g in absorbed:
        if g.node_slug in by_slug:
            by_slug[g.node_slug].absorbed += g.count
    out = [n for n in by_slug.values() if n.errors]
    for n in out:
        n.absorbed = min(n.absorbed, n.errors)
        n.error_rate = round(n.errors / n.executions, 4) if n.executions else 0.0
    return sorted(out, key=lambda n: (-(n.errors - n.absorbed), -n.errors, n.slug))


def _failed_batch(row: dict[str, Any]) -> FailedBatch:
    message = row.get("error_message") or None
    cause = classify(message or "", absorbed=False)
    return FailedBatch(
        batch_uuid=row["uuid"],
        created_at=_iso(datetime.fromtimestamp(int(row["created_at"]), UTC)),
        runs_count=int(row["runs_count"]),
        error_message=message,
        classification=cause.classification,
        fix=BATCH_FIXES.get(cause.classification, BATCH_FIX_DEFAULT),
    )


def _batch_facts(b: Batch | None) -> BatchFacts | None:
    if b is None:
        return None
    return BatchFacts(
        batch_uuid=b.uuid,
        status=b.status,
        runs_count=b.runs_count,
        executed_runs_count=b.executed_runs_count,
        failed_runs_count=b.failed_runs_count,
        success_with_failures=b.status == "success" and b.failed_runs_count > 0,
        error_message=b.error_message,
    )


def _rerun(
    scope: q.Scope,
    kind: str | None,
    model_uuid: str | None,
    real: list[ErrorGroup],
    ids_rows: list[dict[str, Any]] | None,
    failed: int,
) -> Rerun | None:
    if not failed:
        return None
    if kind == "play" and model_uuid:
        ids = [str(r["record_id"]) for r in (ids_rows or [])][:RERUN_IDS_CAP]
        capped = len(ids_rows or []) > RERUN_IDS_CAP
        note = f"Re-runs the {len(ids)} failed record(s) of this play"
        note += f" (first {RERUN_IDS_CAP}; send several batches for the rest)" if capped else ""
        body = {
            "workflowUuid": scope.workflow_uuid,
            "data": {"kind": "recordIds", "modelUuid": model_uuid, "ids": ids},
        }
        return Rerun(body=body, note=note + ". Fix the cause first; this costs credits.")
    run_filter: dict[str, Any] = {"kind": "runs", "statuses": ["error"]}
    if scope.batch_uuid:
        run_filter["batchUuid"] = scope.batch_uuid
    else:
        run_filter["createdAfter"] = _iso(scope.since)
        if scope.until:
            run_filter["createdBefore"] = _iso(scope.until)
    failing_nodes = {g.node_slug for g in real}
    reset: dict[str, Any] = {"from": "firstNode"}
    note = f"Re-runs the {failed} failed run(s) from the first node"
    if len(failing_nodes) == 1 and real and real[0].node_uuid:
        reset = {"from": "node", "nodeUuid": real[0].node_uuid}
        note = f"Re-runs the {failed} failed run(s) from node {real[0].node_slug} (earlier outputs are kept)"
    body = {
        "workflowUuid": scope.workflow_uuid,
        "data": {"kind": "runs", "filter": run_filter, "reset": reset},
    }
    fallback = (
        " If Cargo answers invalidDataKind, send the failed records instead as "
        '{"kind": "records", "records": [...]} (their inputs: download_outputs(statuses=["error"]))'
    )
    return Rerun(body=body, note=note + ". Fix the cause first; this costs credits." + fallback)


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
