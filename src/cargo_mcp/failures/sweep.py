"""Run a failure sweep: a handful of concurrent, capped queries, then grouping and classification."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, TypeAdapter

from cargo_mcp.analytics.sql import sql
from cargo_mcp.api.client import Answer, CargoClient
from cargo_mcp.api.errors import CargoShapeError
from cargo_mcp.api.models import Batch, Node, Release
from cargo_mcp.api.requests import RunMetrics
from cargo_mcp.failures import queries as q
from cargo_mcp.failures import releases as rel
from cargo_mcp.failures.classify import BATCH_FIX_DEFAULT, BATCH_FIXES, classify
from cargo_mcp.failures.inputs import Files
from cargo_mcp.failures.report import (
    BatchFacts,
    ErrorGroup,
    FailedBatch,
    FailureReport,
    FilterStop,
    NodeFailures,
    Records,
    ReleaseShare,
    Rerun,
    Totals,
    iso,
)
from cargo_mcp.failures.rerun import RERUN_CAP, rerun
from cargo_mcp.failures.stops import filter_stops

BUCKETS = 24
# "Clustered": 80% of the errors fall within a quarter of the time span (10 uniform errors do so 0.5% of the time).
CLUSTER_SPAN = 0.25
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Target:
    """The workflow a sweep inspects: its catalog facts, and every node of its releases by UUID."""

    uuid: str
    name: str | None
    kind: str | None
    model_uuid: str | None
    nodes: dict[str, Node]
    releases: tuple[Release, ...]


async def gather(calls: dict[str, Awaitable[Any]]) -> dict[str, Any]:
    """Await every call concurrently; the answers by key."""
    got: dict[str, Any] = {}

    async def one(key: str, call: Awaitable[Any]) -> None:
        got[key] = await call

    async with anyio.create_task_group() as tg:
        for key, call in calls.items():
            tg.start_soon(one, key, call)
    return got


async def sweep(
    client: CargoClient,
    files: Files,
    scope: q.Scope,
    target: Target,
    *,
    max_groups: int,
    batch: Batch | None,
    end: datetime,
    again: str,
) -> FailureReport:
    """Inspect the failures of ``scope`` (one workflow). ``again``: the call that continues a capped re-run."""
    start_ts, end_ts = int(scope.since.timestamp()), int(end.timestamp()) + 1
    width = max(1, -(-(end_ts - start_ts) // BUCKETS))
    metrics = RunMetrics(workflow_uuid=target.uuid, batch_uuid=scope.batch_uuid)
    if scope.batch_uuid is None:
        metrics = RunMetrics(workflow_uuid=target.uuid, created_after=scope.since, created_before=scope.until)

    async def stops() -> list[FilterStop]:
        return await filter_stops(client, await sql(client, q.filter_stops(scope)), target.nodes)

    async def records_and_rerun() -> tuple[Records, Rerun | None]:
        got = await gather(
            {"records": sql(client, q.records(scope)), "failing": sql(client, q.still_failing(scope, RERUN_CAP))}
        )
        records = records_of(got["records"][0] if got["records"] else {})
        request = await rerun(
            client,
            files,
            workflow_uuid=target.uuid,
            kind=target.kind,
            model_uuid=target.model_uuid,
            failing=got["failing"],
            still_failing=records.still_failing,
            again=again,
        )
        return records, request

    async def releases() -> tuple[list[ReleaseShare], list[dict[str, Any]]]:
        split = rel.shares(await sql(client, q.releases(scope)), target.releases)
        return split, await sql(client, q.group_releases(scope)) if len(split) > 1 else []

    # independent chains run concurrently: each one's second step waits only for its own first
    got = await gather(
        {
            "totals": sql(client, q.totals(scope)),
            "groups": sql(client, q.error_groups(scope)),
            "profile": sql(client, q.error_profile(scope, start_ts, width, BUCKETS)),
            "batches": sql(client, q.failed_batches(scope)),
            "metrics": client.run_metrics(metrics),
            "stops": stops(),
            "records": records_and_rerun(),
            "releases": releases(),
        }
    )
    groups = groups_of(got["groups"], got["profile"])
    real = [g for g in groups if g.classification != "fallback"]
    absorbed = [g for g in groups if g.classification == "fallback"]
    split, by_release = got["releases"]
    if by_release:
        rel.attribute(groups, by_release, split)
    records, request = got["records"]
    first = got["groups"][0] if got["groups"] else {}
    report = FailureReport(
        scope=f"batch {scope.batch_uuid}" if scope.batch_uuid else f"workflow {target.name or target.uuid}",
        workflow_uuid=target.uuid,
        workflow_name=target.name,
        workflow_kind=target.kind,
        window=window(scope),
        totals=totals_of(_totals_row(got["totals"]).model_dump()),
        records=records,
        releases=split,
        batch=_batch_facts(batch),
        nodes=_nodes(got["metrics"], target.nodes, absorbed),
        error_groups=real[:max_groups],
        more_groups=max(0, int(first.get("real_groups") or 0) - max_groups),
        absorbed_by_fallback=absorbed,
        filter_stops=got["stops"],
        failed_batches=[failed_batch(r) for r in got["batches"]],
        rerun=request,
    )
    return report


def window(scope: q.Scope) -> dict[str, str | None]:
    return {"created_after": iso(scope.since), "created_before": iso(scope.until) if scope.until else None}


def totals_of(t: dict[str, Any]) -> Totals:
    finished, failed, cancelled = int(t.get("finished", 0)), int(t.get("failed", 0)), int(t.get("cancelled", 0))
    executed = finished - cancelled
    return Totals(
        runs=int(t.get("runs", 0)),
        finished=finished,
        failed=failed,
        cancelled=cancelled,
        failure_rate=round(failed / executed, 4) if executed else None,
        failed_credits=round(float(t.get("failed_credits") or 0), 4),
    )


def records_of(row: dict[str, Any]) -> Records:
    n, failed, recovered = int(row.get("records", 0)), int(row.get("failed_records", 0)), int(row.get("recovered", 0))
    return Records(
        records=n,
        duplicated=int(row.get("duplicated", 0)),
        failed_records=failed,
        recovered=recovered,
        still_failing=failed - recovered,
    )


def groups_of(rows: list[dict[str, Any]], profile_rows: list[dict[str, Any]]) -> list[ErrorGroup]:
    """Error groups from the group and profile rows; shares over every group, also those past the query's LIMIT: a
    real failure's of all real failures, an absorbed error's of all absorbed errors."""
    profiles: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * BUCKETS)
    for row in profile_rows:
        profiles[(row["workflow_uuid"], row["node_slug"], row["pattern"])][int(row["bucket"])] += int(row["n"])
    groups = [_group(row, profiles[(row["workflow_uuid"], row["node_slug"], row["pattern"])]) for row in rows]
    first = rows[0] if rows else {}
    all_real, all_absorbed = int(first.get("real_errors") or 0), int(first.get("absorbed_errors") or 0)
    for g in groups:
        whole = all_absorbed if g.classification == "fallback" else all_real
        g.share = round(g.count / whole, 4) if whole else 0.0
    return groups


class TotalsRow(BaseModel):
    """The columns of the totals query the report reads (others are kept)."""

    model_config = ConfigDict(extra="allow")
    runs: int
    finished: int
    failed: int
    cancelled: int
    failed_credits: float | None


_TOTALS = TypeAdapter(TotalsRow)


def _totals_row(rows: list[dict[str, Any]]) -> TotalsRow:
    """The one row of the totals query (an aggregate without GROUP BY always has one): any other answer is
    Cargo's malformed answer, never totals of zero beside the error groups."""
    endpoint = "POST /orchestration/query, the run totals"
    if len(rows) != 1:
        raise CargoShapeError(f"{len(rows)} rows where an aggregate has exactly one", endpoint)
    return Answer(rows[0], endpoint).whole(_TOTALS)


def _group(row: dict[str, Any], profile: list[int]) -> ErrorGroup:
    count, continued = int(row["errors"]), int(row["continued"])
    cause = classify(str(row["pattern"]), absorbed=continued == count)
    return ErrorGroup(
        workflow_uuid=row["workflow_uuid"],
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
        first_seen=iso(datetime.fromtimestamp(int(row["first_at"]), UTC)),
        last_seen=iso(datetime.fromtimestamp(int(row["last_at"]), UTC)),
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


def failed_batch(row: dict[str, Any]) -> FailedBatch:
    message = row.get("error_message") or None
    cause = classify(message or "", absorbed=False)
    return FailedBatch(
        batch_uuid=row["uuid"],
        workflow_uuid=row["workflow_uuid"],
        created_at=iso(datetime.fromtimestamp(int(row["created_at"]), UTC)),
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
