"""A workspace-wide failure sweep: every workflow's failures in a window, worst first, and the largest error groups
across them, each tagged with its workflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cargo_mcp.analytics.sql import sql
from cargo_mcp.api.client import CargoClient
from cargo_mcp.failures import queries as q
from cargo_mcp.failures.report import FailureReport, Totals, WorkflowFailures
from cargo_mcp.failures.sweep import BUCKETS, failed_batch, gather, groups_of, records_of, totals_of, window

MAX_WORKFLOWS = 500  # workflows read (those with the most failed runs)
CLEAN_NAMED = 15  # workflows without a failure named in the note
UNLISTED = "not a listed tool or play: list_workflows does not show it"


async def sweep_workspace(
    client: CargoClient,
    scope: q.Scope,
    names: dict[str, tuple[str, str]],
    *,
    max_groups: int,
    end: datetime,
    next_call: Callable[[str], str],
) -> FailureReport:
    """``names``: workflow UUID -> (name, kind) of the tools and plays; ``next_call(workflow)``: the call that
    inspects one workflow over the same window."""
    start_ts, end_ts = int(scope.since.timestamp()), int(end.timestamp()) + 1
    width = max(1, -(-(end_ts - start_ts) // BUCKETS))
    got = await gather(
        {
            "workflows": sql(client, q.workflow_totals(scope, MAX_WORKFLOWS)),
            "groups": sql(client, q.error_groups(scope)),
            "profile": sql(client, q.error_profile(scope, start_ts, width, BUCKETS)),
            "batches": sql(client, q.failed_batches(scope)),
            "records": sql(client, q.records(scope)),
        }
    )
    rows: list[dict[str, Any]] = got["workflows"]
    workflows = sorted(
        (_workflow(r, names, next_call) for r in rows if int(r["failed"])),
        key=lambda w: (-w.failed, -(w.failure_rate or 0), w.name or w.workflow_uuid),
    )
    groups = groups_of(got["groups"], got["profile"])
    real = [g for g in groups if g.classification != "fallback"]
    first = got["groups"][0] if got["groups"] else {}
    sums = {k: sum(float(r[k] or 0) for r in rows) for k in ("runs", "finished", "failed", "cancelled")}
    totals = totals_of({**sums, "failed_credits": sum(float(r["failed_credits"] or 0) for r in rows)})
    report = FailureReport(
        scope="workspace",
        workflow_uuid=None,
        window=window(scope),
        totals=totals,
        records=records_of(got["records"][0] if got["records"] else {}),
        workflows=workflows,
        nodes=[],
        error_groups=real[:max_groups],
        more_groups=max(0, int(first.get("real_groups") or 0) - max_groups),
        absorbed_by_fallback=[g for g in groups if g.classification == "fallback"],
        filter_stops=[],
        failed_batches=[failed_batch(r) for r in got["batches"]],
    )
    clean = [r for r in rows if not int(r["failed"])]
    if clean:
        report.notes.append(_clean(clean, names))
    if len(rows) >= MAX_WORKFLOWS:
        report.notes.append(f"only the {MAX_WORKFLOWS} workflows with the most failed runs were read")
    return report


def _clean(rows: list[dict[str, Any]], names: dict[str, tuple[str, str]]) -> str:
    """The workflows that ran without a failure, each by name — or by UUID, saying it is no listed tool or play."""

    def one(r: dict[str, Any]) -> str:
        uuid = str(r["workflow_uuid"])
        if uuid in names:
            return f"{names[uuid][0]} ({int(r['runs']):,} runs)"
        return f"workflow {uuid} ({int(r['runs']):,} runs; {UNLISTED})"

    named = ", ".join(one(r) for r in rows[:CLEAN_NAMED])
    more = f" and {len(rows) - CLEAN_NAMED:,} more" if len(rows) > CLEAN_NAMED else ""
    runs = sum(int(r["runs"]) for r in rows)
    return f"{len(rows)} other workflow(s) ran {runs:,} run(s) without a failure: {named}{more}"


def _workflow(
    row: dict[str, Any], names: dict[str, tuple[str, str]], next_call: Callable[[str], str]
) -> WorkflowFailures:
    uuid = str(row["workflow_uuid"])
    name, kind = names.get(uuid, (None, None))
    t: Totals = totals_of(row)
    return WorkflowFailures(
        workflow_uuid=uuid,
        name=name,
        kind=kind,
        runs=t.runs,
        failed=t.failed,
        failed_records=int(row["failed_records"]),
        failure_rate=t.failure_rate,
        next_call=next_call(name or uuid),
    )
