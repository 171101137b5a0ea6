"""The answer of a failure sweep (structured; rendered to text by the MCP layer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


def iso(d: datetime) -> str:
    """The report's time format: UTC, seconds, ``Z``."""
    return d.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Totals(BaseModel):
    runs: int
    finished: int
    failed: int = Field(description="Runs with status error.")
    cancelled: int
    failure_rate: float | None = Field(
        description="failed / executed (finished but not cancelled), 0..1, as get_batch; null when none executed."
    )
    failed_credits: float = Field(description="Credits spent on the failed runs.")


class BatchFacts(BaseModel):
    batch_uuid: str
    status: str
    runs_count: int
    executed_runs_count: int
    failed_runs_count: int
    success_with_failures: bool = Field(description="Status success although runs failed.")
    error_message: str | None = Field(None, description="Why the batch itself failed (untrusted text).")


class FailedBatch(BaseModel):
    """A batch that failed as a whole (status error), often before any run started."""

    batch_uuid: str
    workflow_uuid: str
    created_at: str
    runs_count: int
    error_message: str | None = Field(description="Cargo's message (untrusted text).")
    classification: str
    fix: str


class NodeFailures(BaseModel):
    """One node slug's errors in the scope (its releases added up)."""

    slug: str
    name: str | None = None
    kind: str | None = None
    integration: str | None = None
    executions: int
    errors: int = Field(description="Failed executions, absorbed ones included.")
    absorbed: int = Field(0, description="Errors a fallback edge handled (the run went on): not run failures.")
    error_rate: float = Field(description="errors / executions, 0..1.")


class Records(BaseModel):
    """Runs are not records: distinct records, those with several runs, failed ones, failed ones that succeeded
    in another run of the scope, and the still failing rest (what the re-run covers)."""

    records: int
    duplicated: int
    failed_records: int
    recovered: int
    still_failing: int


class ReleaseShare(BaseModel):
    """A release that served the scope (oldest first; no UUID: ad-hoc runs), with the window of its runs."""

    release_uuid: str | None
    version: str | None = None
    deployed_at: str | None = None
    runs: int
    failed: int
    first_run: str
    last_run: str


class ErrorGroup(BaseModel):
    workflow_uuid: str
    node_slug: str
    node_uuid: str | None = None
    node_kind: str | None = None
    integration: str | None = None
    pattern: str = Field(description="The error message with ids, numbers, emails, domains and times stripped.")
    example: str = Field(description="One raw message (untrusted text from the provider).")
    classification: str = Field(
        description="rate_limit | credentials | agent_step_limit | provider | data | fallback | unknown"
    )
    cause: str
    fix: str
    count: int = Field(description="Failed executions in this group.")
    runs: int
    share: float = Field(
        description="count / all failed executions of the scope (0..1); absorbed: / all errors fallbacks absorbed."
    )
    first_seen: str
    last_seen: str
    clustered: bool = Field(description="Most errors fell in a small part of the scope's time span.")
    time_profile: str = Field(description="Errors per time bucket across the scope, oldest first (▁…█).")
    exemplar_runs: list[str]
    exemplar_records: list[str]
    credits: float
    by_release: dict[str, int] = Field(default_factory=dict, description="Errors per release UUID.")
    began_with: str | None = Field(default=None, description="The release it began with.")


class FilterStop(BaseModel):
    node_slug: str
    node_uuid: str
    stops: int
    credits: float = Field(description="Spent by the stopped runs.")
    condition: str | None = None
    seen: dict[str, Any] = Field(default_factory=dict, description="What it read in exemplar_run.")
    exemplar_run: str


class Rerun(BaseModel):
    """A batch the user can create to re-run the records still failing; data only, never executed here."""

    endpoint: str = "POST /v1/orchestration/batches"
    records: int
    body: dict[str, Any] | None
    note: str
    result_id: str | None = Field(
        default=None, description="The body's ids (or records), stored for read_result and save_result when long."
    )


class WorkflowFailures(BaseModel):
    workflow_uuid: str
    name: str | None = None
    kind: str | None = None
    runs: int
    failed: int
    failed_records: int
    failure_rate: float | None
    next_call: str


class FailureReport(BaseModel):
    scope: str
    workflow_uuid: str | None = Field(description="null: the whole workspace.")
    workflow_name: str | None = None
    workflow_kind: str | None = None
    window: dict[str, str | None]
    totals: Totals
    records: Records
    releases: list[ReleaseShare] = Field(default_factory=list)
    workflows: list[WorkflowFailures] = Field(default_factory=list, description="Worst first.")
    batch: BatchFacts | None = None
    nodes: list[NodeFailures] = Field(description="Nodes with errors, worst first.")
    error_groups: list[ErrorGroup] = Field(description="Real failures, largest first.")
    more_groups: int = Field(default=0, description="Groups left out by max_groups.")
    absorbed_by_fallback: list[ErrorGroup] = Field(description="Errors a fallback edge handled (runs continued).")
    filter_stops: list[FilterStop] = Field(description="Runs a filter node stopped: expected, not failures.")
    failed_batches: list[FailedBatch] = Field(
        default_factory=list, description="Batches of the scope that failed as a whole (status error)."
    )
    rerun: Rerun | None = None
    notes: list[str] = Field(default_factory=list)
