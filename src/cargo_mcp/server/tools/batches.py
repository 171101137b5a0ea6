"""Journey 2 — a batch and what its counters mean."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.models import TERMINAL_STATUSES
from cargo_mcp.api.vocabulary import uuid_arg
from cargo_mcp.server.render import Text, clip, duration, num, pct, when
from cargo_mcp.server.tooling import Uuid, add_tool, answer, services, tool_errors


class BatchSummary(BaseModel):
    batch_uuid: str
    workflow_uuid: str
    workflow_name: str | None = None
    workflow_kind: str | None = None
    release_uuid: str | None = None
    status: str
    runs_status: str | None = Field(None, description="Cargo's health flag of the batch's runs: healthy or unhealthy.")
    finished: bool
    headline: str = Field(description="One-line verdict, e.g. 'success — finished with 212 failed runs'.")
    runs_count: int
    executed_runs_count: int
    failed_runs_count: int
    progress: float | None = Field(description="executed / total, 0..1; null when the batch has no runs.")
    failure_rate: float | None = Field(description="failed / executed, 0..1; null when no run was executed.")
    finished_with_failures: bool = Field(description="True when the batch finished but some runs failed.")
    credits_used: float
    error_message: str | None = None
    data_kind: str | None = Field(None, description="What the batch ran on: segment, file, filter, recordIds, runs, …")
    created_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    next_calls: list[str] = Field(description="Useful follow-up tool calls.")


@tool_errors
async def get_batch(
    ctx: Context[Any, Any],
    batch_uuid: Annotated[Uuid, Field(description="The batch's UUID.")],
) -> Annotated[CallToolResult, BatchSummary]:
    """A batch: workflow, release, status, progress, failure rate, credits, duration; its headline
    says "finished with N failed runs" even when the status is success. Next calls."""
    s = services(ctx)
    batch = await (await s.cargo()).get_batch(uuid_arg(batch_uuid, "batch_uuid"))
    entry = await s.catalog.resolve(batch.workflow_uuid)
    done = batch.status in TERMINAL_STATUSES
    total, executed, failed = batch.runs_count, batch.executed_runs_count, batch.failed_runs_count
    with_failures = done and failed > 0
    if batch.status == "success" and failed:
        headline = f"success — finished with {failed:,} failed run(s) of {total:,} ({pct(failed, executed)})"
    elif done:
        headline = f"{batch.status} — {executed:,}/{total:,} runs executed, {failed:,} failed"
        if batch.error_message:
            headline += f"; batch error: {clip(batch.error_message, 300)}"  # longer: whole on its own line
    else:
        so_far = f"{executed:,}/{total:,} runs executed so far ({pct(executed, total)})"
        headline = f"{batch.status} — {so_far}, {failed:,} failed"
    wf = batch.workflow_uuid
    calls = []
    if failed or batch.status == "error":
        calls.append(f"inspect_failures(batch_uuid='{batch.uuid}')")
    calls.append(f"get_workflow_nodes(batch_uuid='{batch.uuid}')")
    if failed:
        calls.append(f"list_runs(batch_uuid='{batch.uuid}', statuses=['error'])")
    if executed:
        calls.append(f"download_outputs(batch_uuid='{batch.uuid}')")
    took = (batch.finished_at - batch.created_at).total_seconds() if batch.finished_at else None
    summary = BatchSummary(
        batch_uuid=batch.uuid,
        workflow_uuid=wf,
        workflow_name=entry.name if entry else None,
        workflow_kind=entry.kind if entry else None,
        release_uuid=batch.release_uuid,
        status=batch.status,
        runs_status=batch.runs_status,
        finished=done,
        headline=headline,
        runs_count=total,
        executed_runs_count=executed,
        failed_runs_count=failed,
        progress=round(executed / total, 4) if total else None,
        failure_rate=round(failed / executed, 4) if executed else None,
        finished_with_failures=with_failures,
        credits_used=round(batch.credits_used_count, 4),
        error_message=batch.error_message,
        data_kind=str(batch.data.get("kind")) if batch.data.get("kind") else None,
        created_at=batch.created_at.isoformat(),
        finished_at=batch.finished_at.isoformat() if batch.finished_at else None,
        duration_s=took,
        next_calls=calls,
    )
    of = f"{summary.workflow_name} ({summary.workflow_kind}, workflow {wf})" if entry else f"workflow {wf}"
    state = f"status {batch.status} ({'finished' if done else 'not finished'}"
    state += f"; runs {batch.runs_status})" if batch.runs_status else ")"
    rates = f"progress {pct(executed, total)}, failure rate {pct(failed, executed)}"
    text = Text(
        f"Batch {batch.uuid} of {of}, release {batch.release_uuid or 'none'}: {headline}",
        f"{state}; data kind {summary.data_kind or 'unknown'}; {executed:,}/{total:,} executed, {failed:,} failed "
        f"({rates})" + ("; finished with failures" if with_failures else ""),
        f"Credits {num(summary.credits_used)}; created {when(batch.created_at)}, finished {when(batch.finished_at)}; "
        f"took {duration(took)}",
    )
    if batch.error_message and batch.error_message not in headline:
        text.add(f"Batch error: {text.excerpt(batch.error_message, 2000, 'error_message')}")
    text.add("Next: " + "; ".join(calls))
    return answer(summary, str(text))


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, get_batch, "Inspect a batch")
