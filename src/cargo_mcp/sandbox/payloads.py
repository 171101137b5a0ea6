"""Strict request payloads of the sandbox API (unknown keys, bad UUIDs, enums and dates → 400).

Field sets follow the official client's payload types (docs/cargo-contract.md §6). Validation errors are
turned into one readable message naming each field and what was wrong with it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from cargo_mcp.api.models import (
    BatchStatus,
    ExecutionsFilter,
    ExecutionStatus,
    NodeKind,
    OutputFormat,
    RecordStatus,
    ReleaseStatus,
    RunStatus,
)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _uuid(v: str) -> str:
    if not _UUID_RE.match(v):
        raise ValueError(f"must be a UUID like 3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f, got {v!r}")
    return v.lower()


def _date(v: Any) -> datetime:
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be an ISO-8601 date such as 2026-11-24T08:00:00Z, got {v!r}") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


Uuid = Annotated[str, AfterValidator(_uuid)]
Date = Annotated[datetime, BeforeValidator(_date)]
Limit = Annotated[int, Field(ge=0)]


class Payload(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")


class RunFilterCore(Payload):
    workflow_uuid: Uuid | None = None
    user_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    release_uuid: Uuid | None = None
    statuses: list[RunStatus] | None = None
    parent_batch_uuid: Uuid | None = None
    parent_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    is_group_parent: bool | None = None
    record_id: str | None = None
    record_title: str | None = None
    record_title_or_id: str | None = None
    executions_filter: ExecutionsFilter | None = None
    created_after: Date | None = None
    created_before: Date | None = None
    updated_after: Date | None = None
    updated_before: Date | None = None


class RunFilters(RunFilterCore):
    is_finished: bool | None = None


class ListRuns(RunFilters):
    limit: Limit | None = None
    offset: Limit | None = None


class CountRuns(RunFilters):
    pass


class DownloadRuns(RunFilterCore):
    """No ``isFinished`` here: production rejects it as an unrecognized key (docs/cargo-contract.md §6.3)."""

    workflow_uuid: Uuid
    uuids: list[Uuid] | None = None


class DownloadRunOutputs(Payload):
    workflow_uuid: Uuid
    output_node_slug: str | None = None
    format: OutputFormat = "csv"
    batch_uuid: Uuid | None = None
    release_uuid: Uuid | None = None
    statuses: list[RunStatus] | None = None
    parent_batch_uuid: Uuid | None = None
    parent_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    is_group_parent: bool | None = None
    record_id: str | None = None
    record_title: str | None = None
    record_title_or_id: str | None = None
    is_finished: bool | None = None
    executions_filter: ExecutionsFilter | None = None
    created_after: Date | None = None
    created_before: Date | None = None
    limit: Limit | None = None
    offset: Limit | None = None


class RunMetrics(Payload):
    workflow_uuid: Uuid
    release_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    created_after: Date | None = None
    created_before: Date | None = None


class BatchDownload(Payload):
    """``{outputNodeSlug?}`` only (docs/cargo-contract.md §6.5): the file is CSV."""

    output_node_slug: str | None = None


class Query(Payload):
    query: str = Field(min_length=1)


class SpanFilters(Payload):
    workflow_uuid: Uuid | None = None
    user_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    trace_uuid: Uuid | None = None
    run_uuid: Uuid | None = None
    record_id: str | None = None
    record_title: str | None = None
    record_title_or_id: str | None = None
    parent_run_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    parent_agent_uuid: Uuid | None = None
    node_uuid: Uuid | None = None
    node_kind: NodeKind | None = None
    node_slug: str | None = None
    node_integration_slug: str | None = None
    node_connector_uuid: Uuid | None = None
    node_action_slug: str | None = None
    node_tool_uuid: Uuid | None = None
    node_agent_uuid: Uuid | None = None
    node_release_uuid: Uuid | None = None
    execution_title: str | None = None
    execution_title_or_error_message: str | None = None
    execution_statuses: list[ExecutionStatus] | None = None
    execution_started_after: Date
    execution_started_before: Date | None = None


class ListSpans(SpanFilters):
    limit: Limit | None = None
    offset: Limit | None = None


class RecordFilters(Payload):
    workflow_uuid: Uuid | None = None
    user_uuid: Uuid | None = None
    ids: list[str] | None = None
    title: str | None = None
    title_or_id: str | None = None
    release_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    statuses: list[RecordStatus] | None = None
    parent_batch_uuid: Uuid | None = None
    parent_run_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    is_group_parent: bool | None = None
    executions_filter: ExecutionsFilter | None = None
    created_after: Date | None = None
    created_before: Date | None = None
    updated_after: Date | None = None
    updated_before: Date | None = None


class ListRecords(RecordFilters):
    limit: Limit | None = None
    offset: Limit | None = None


class DownloadRecordOutputs(Payload):
    workflow_uuid: Uuid
    output_node_slug: str | None = None
    format: OutputFormat = "csv"
    ids: list[str] | None = None
    run_uuids: list[Uuid] | None = None
    title: str | None = None
    title_or_id: str | None = None
    release_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    statuses: list[RunStatus] | None = None  # sic: RunStatus in the official client
    parent_batch_uuid: Uuid | None = None
    parent_run_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    is_group_parent: bool | None = None
    executions_filter: ExecutionsFilter | None = None
    created_after: Date | None = None
    created_before: Date | None = None


class ListBatches(Payload):
    workflow_uuids: list[Uuid] | None = None
    release_uuid: Uuid | None = None
    parent_batch_uuid: Uuid | None = None
    parent_run_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    statuses: list[BatchStatus] | None = None
    has_runs: bool | None = None
    is_skipped: bool | None = None
    is_finished: bool | None = None
    included_data_kinds: list[str] | None = None
    excluded_data_kinds: list[str] | None = None
    limit: Limit | None = None
    offset: Limit | None = None


class ListReleases(Payload):
    workflow_uuid: Uuid | None = None
    user_uuid: Uuid | None = None
    statuses: list[ReleaseStatus] | None = None
    limit: Limit | None = None
    offset: Limit | None = None


class DeployedRelease(Payload):
    workflow_uuid: Uuid


class ListPlays(Payload):
    is_enabled: bool | None = None
    model_uuid: Uuid | None = None
    segment_uuid: Uuid | None = None
    schedule_type: Literal["cron", "dbt", "realtime", "dependency", "watch"] | None = None


class Empty(Payload):
    pass


P = TypeVar("P", bound=Payload)


class PayloadError(ValueError):
    """A request body or query string that does not match the endpoint's payload type."""


def parse(model: type[P], data: Any) -> P:
    """Validate ``data`` against ``model``; raise :class:`PayloadError` with a readable message."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PayloadError(f"Invalid body: expected a JSON object, got {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise PayloadError(describe(e, model)) from None


def describe(e: ValidationError, model: type[Payload]) -> str:
    unknown = [".".join(map(str, err["loc"])) for err in e.errors() if err["type"] == "extra_forbidden"]
    parts = []
    if unknown:
        allowed = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
        parts.append(f"unrecognized_keys: {', '.join(unknown)} (allowed keys: {allowed})")
    for err in e.errors():
        if err["type"] == "extra_forbidden":
            continue
        field = ".".join(map(str, err["loc"])) or "body"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required"
        parts.append(f"{field}: {msg}")
    return "Invalid request: " + "; ".join(parts) + "."
