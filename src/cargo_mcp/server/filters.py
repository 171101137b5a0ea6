"""Run filters shared by count_runs, list_runs and download_outputs: user words → Cargo's payload."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from cargo_mcp.api import vocabulary as v
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.server import catalog, releases
from cargo_mcp.server.backend import Backend

WorkflowArg = Annotated[
    str | None,
    Field(description="Workflow UUID (or a tool/play name or UUID). Optional when batch_uuid is given."),
]
StatusesArg = Annotated[
    list[str] | None,
    Field(
        description="Run statuses: idle, pending, running, success, error, cancelling, cancelled, skipped. "
        "Synonyms accepted: failed→error, finished/completed→success."
    ),
]
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
BatchArg = Annotated[Uuid | None, Field(description="Only runs of this batch (UUID).")]
ReleaseArg = Annotated[Uuid | None, Field(description="Only runs of this release (UUID).")]
FinishedArg = Annotated[bool | None, Field(description="true: only finished runs; false: only unfinished.")]
DateArg = Annotated[
    str | None,
    Field(
        description="UTC. ISO-8601 (2026-11-24T08:00:00Z, 2026-11-24) or relative: 30m, 24h, 7d, today, "
        "yesterday. A whole day as created_before includes that day."
    ),
]
RecordIdArg = Annotated[str | None, Field(description="Exact record id.")]
RecordTitleArg = Annotated[str | None, Field(description="Record title.")]
NodeStatusArg = Annotated[
    dict[str, Any] | None,
    Field(
        description='Per-node execution status, all must hold: {"enrich": "error", "score": "absent"}. '
        "Statuses: success, error, pending, absent (never ran). A value may be "
        '{"status": "error", "contains": "429"} to match the error message (or the title on success). '
        'Cargo\'s own executionsFilter ({"conjonction", "groups"}) is also accepted as is.'
    ),
]


async def run_filters(
    b: Backend,
    *,
    workflow_uuid: str | None,
    batch_uuid: str | None = None,
    statuses: list[str] | None = None,
    release_uuid: str | None = None,
    is_finished: bool | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    record_id: str | None = None,
    record_title: str | None = None,
    node_status: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The camelCase payload and the notes on what was normalized. Validates before any list call."""
    notes: list[str] = []
    workflow_uuid, record_id, record_title = (_text(x) for x in (workflow_uuid, record_id, record_title))
    batch = v.uuid_arg(batch_uuid, "batch_uuid") if batch_uuid else None
    release = v.uuid_arg(release_uuid, "release_uuid") if release_uuid else None
    wire_statuses, n1 = v.run_statuses(statuses)
    exec_filter, n2 = v.executions_filter(node_status)
    after = v.when(created_after, "created_after") if created_after else None
    before = v.when(created_before, "created_before") if created_before else None
    notes += n1 + n2
    if after and before and after >= before:
        raise InputError(
            f"created_after ({after}) is not before created_before ({before}): no run can match. "
            "Swap them, or widen the window."
        )
    if workflow_uuid:
        wf, entry = await catalog.workflow_uuid(b, workflow_uuid)
        if entry is not None and workflow_uuid.strip().lower() != wf:
            notes.append(f"workflow {workflow_uuid!r} is {entry.kind} {entry.name!r} (workflow_uuid {wf})")
        elif entry is None and not v.is_uuid(wf):
            raise InputError(f"workflow_uuid must be a UUID or a tool/play name, got {workflow_uuid!r}.")
        if batch:  # a batch of another workflow would silently match no run
            owner = (await (await b.client()).get_batch(batch)).workflow_uuid
            if owner != wf:
                raise InputError(
                    f"batch {batch} belongs to workflow {owner}, not {workflow_uuid!r}: drop workflow_uuid "
                    "(the batch implies it) or give that batch's workflow."
                )
    elif batch:
        client = await b.client()
        wf = (await client.get_batch(batch)).workflow_uuid
        notes.append(f"workflow_uuid {wf} taken from batch {batch}")
    else:
        raise InputError("give workflow_uuid (or a tool/play name), or batch_uuid.")
    if exec_filter:
        await releases.check_slugs(b, wf, v.filter_slugs(exec_filter), "node_status")
    payload = {
        "workflowUuid": wf,
        "batchUuid": batch,
        "releaseUuid": release,
        "statuses": wire_statuses,
        "isFinished": is_finished,
        "createdAfter": after,
        "createdBefore": before,
        "recordId": record_id,
        "recordTitle": record_title,
        "executionsFilter": exec_filter,
    }
    return {k: val for k, val in payload.items() if val is not None}, notes


def _text(value: str | None) -> str | None:
    """A text argument without surrounding spaces; an empty one means not given."""
    return value.strip() or None if value is not None else None
