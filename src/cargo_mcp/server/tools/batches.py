"""Journey 2 — batches: a list of them, and one batch with what its counters mean."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.models import TERMINAL_STATUSES, Batch
from cargo_mcp.api.requests import ListBatches, iso
from cargo_mcp.api.vocabulary import batch_statuses, text_arg, uuid_arg
from cargo_mcp.server.render import Text, clip, duration, num, page_range, pct, when
from cargo_mcp.server.scope import window, workflow_named
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


BATCH_PAGE = 100  # batches per Cargo call
BATCH_PAGES_MOST = 20  # calls per list_batches: the newest 2,000 batches of the filters


class BatchRow(BaseModel):
    batch_uuid: str
    workflow_uuid: str
    workflow_name: str | None = None
    status: str
    created_at: str
    finished_at: str | None = None
    runs_count: int
    executed_runs_count: int
    failed_runs_count: int
    progress: float | None = Field(description="executed / runs, 0..1.")


class BatchList(BaseModel):
    batches: list[BatchRow]
    total: int | None = Field(description="null: not counted to the end (see notes).")
    offset: int
    next_offset: int | None = None
    notes: list[str] = Field(default_factory=list)


@tool_errors
async def list_batches(
    ctx: Context[Any, Any],
    workflow: Annotated[str | None, Field(description="Tool/play name or UUID.")] = None,
    statuses: Annotated[list[str] | None, Field(description="e.g. error, running, success.")] = None,
    created_after: Annotated[str | None, Field(description="ISO-8601 UTC, 24h, 7d, yesterday.")] = None,
    created_before: Annotated[str | None, Field(description="Same forms.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Rows.")] = 20,
    offset: Annotated[int, Field(ge=0, description="Rows to skip.")] = 0,
) -> Annotated[CallToolResult, BatchList]:
    """Batches, newest first: status, times, runs executed and failed. Last night's: created_after=yesterday."""
    s = services(ctx)
    wire, notes = batch_statuses(statuses)
    after, before = window(created_after, created_before, "batch", notes)
    query = ListBatches.model_validate({"statuses": wire, "limit": BATCH_PAGE})
    named_wf = text_arg(workflow, "workflow")
    if named_wf is not None:
        wf = await workflow_named(s, named_wf, "workflow", notes)
        query = query.model_copy(update={"workflow_uuids": [wf]})
    start = datetime.fromisoformat(after) if after else None
    end = datetime.fromisoformat(before) if before else None
    found, complete = await _scan(await s.cargo(), query, start, end, need=offset + limit)
    page = found[offset : offset + limit]
    names = {e.workflow_uuid: e.name for e in await s.catalog.entries()}
    rows = [_batch_row(b, names.get(b.workflow_uuid)) for b in page]
    total = len(found) if complete else None
    more = offset + len(rows) < len(found)
    nxt = offset + len(rows) if more else None
    if not complete and not more:
        notes.append(
            f"only the newest {BATCH_PAGE * BATCH_PAGES_MOST:,} batches of these filters were read; narrow them "
            "(workflow, statuses, created_after) to see older ones"
        )
    elif not complete:
        notes.append("not counted to the end (Cargo gives no total): created_after bounds the count")
    result = BatchList(batches=rows, total=total, offset=offset, next_offset=nxt, notes=notes)
    span = f" created {when(after)} → {when(before) if before else 'now'}" if after else ""
    span = span or (f" created before {when(before)}" if before else "")
    head = f"{total:,} batch(es)" if total is not None else f"at least {len(found):,} batches"
    head += f"{span} match"
    head += f"; {page_range(offset, len(rows), len(found))}" + (f" (next_offset={nxt})" if nxt is not None else "")
    text = Text(head, *(f"Note: {n}" for n in notes))
    view = [r.model_dump() for r in rows]
    columns = ["batch_uuid", "workflow_uuid", "workflow_name", "status", "created_at", "finished_at", "runs_count"]
    columns += ["executed_runs_count", "failed_runs_count", "progress"]
    if rows:
        text.table(view, columns, data=False, path="batches", width=60)
    return answer(result, str(text))


async def _scan(
    client: CargoClient, query: ListBatches, after: datetime | None, before: datetime | None, need: int
) -> tuple[list[Batch], bool]:
    """The batches of ``query`` created in [after, before), and whether all of them were read. Cargo has no date
    filter: pages are read newest first until one is older than ``after`` (when the pages come newest first), or,
    without ``after``, until more than ``need`` match."""
    found: list[Batch] = []
    newest_first, last = True, None
    for page in range(BATCH_PAGES_MOST):
        got = await client.list_batches(query.model_copy(update={"offset": page * BATCH_PAGE}))
        for b in got:
            newest_first = newest_first and (last is None or b.created_at <= last)
            last = b.created_at
            if (after is None or b.created_at >= after) and (before is None or b.created_at < before):
                found.append(b)
        if len(got) < BATCH_PAGE or (after is not None and newest_first and last is not None and last < after):
            return found, True
        if after is None and len(found) > need:
            return found, False
    return found, False


def _batch_row(b: Batch, name: str | None) -> BatchRow:
    return BatchRow(
        batch_uuid=b.uuid,
        workflow_uuid=b.workflow_uuid,
        workflow_name=name,
        status=b.status,
        created_at=iso(b.created_at),
        finished_at=iso(b.finished_at) if b.finished_at else None,
        runs_count=b.runs_count,
        executed_runs_count=b.executed_runs_count,
        failed_runs_count=b.failed_runs_count,
        progress=round(b.executed_runs_count / b.runs_count, 4) if b.runs_count else None,
    )


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, list_batches, "List batches")
    add_tool(mcp, get_batch, "Inspect a batch")
