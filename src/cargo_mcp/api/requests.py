"""The request side of the Cargo contract: one strict model per endpoint body or query string.

The client takes these models as arguments and sends :meth:`Request.wire` (camelCase keys, ISO-8601 dates as the
official client writes them, no nulls); the sandbox validates what it receives with the same classes, so an unknown
key, a bad UUID, enum or date is refused on both sides (:func:`parse` words the refusal). Field sets follow the
official client's payload types (docs/cargo-contract.md §6); endpoints that share filters share a base class.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError
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
from cargo_mcp.clip import echo

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def check_uuid(v: str) -> str:
    """``v`` lower-cased if it is a UUID; ``ValueError`` saying what a UUID looks like otherwise."""
    if not UUID_RE.match(v):
        raise ValueError(f"must be a UUID like 3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f, got {echo(v)}")
    return v.lower()


def _date(v: Any) -> datetime:
    if isinstance(v, datetime):
        d = v
    else:
        try:
            d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"must be an ISO-8601 date such as 2026-11-24T08:00:00Z, got {echo(str(v))}") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def iso(d: datetime) -> str:
    """A date as the official client sends it (``Date.toISOString()``): UTC, milliseconds, ``Z``."""
    return d.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Uuid = Annotated[str, AfterValidator(check_uuid)]
Date = Annotated[datetime, BeforeValidator(_date), PlainSerializer(iso, return_type=str, when_used="json")]
Limit = Annotated[int, Field(ge=0)]
# The largest offset worth sending: every JSON reader keeps it exact, and no list is longer.
MAX_OFFSET = 2**53 - 1


class Request(BaseModel):
    """Base: camelCase on the wire, snake_case in Python, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        """The JSON-ready body or query: camelCase keys, ISO-8601 dates, fields not given left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Page(Request):
    limit: Limit | None = None
    offset: Limit | None = None


class OutputNode(Request):
    """Whose output a file holds (the workflow's output node when absent). Alone: the batch download (CSV,
    docs/cargo-contract.md §6.5)."""

    output_node_slug: str | None = None


class OutputFile(OutputNode):
    format: OutputFormat = "csv"


class OwnerAndUpdate(Request):
    """What the list and count endpoints filter on beyond the exports: the creating user, the update time."""

    user_uuid: Uuid | None = None
    updated_after: Date | None = None
    updated_before: Date | None = None


# --- runs ------------------------------------------------------------------------------------
class RunsOf(Request):
    """Which runs of a workflow: the filters of the run, record and metrics endpoints."""

    workflow_uuid: Uuid | None = None
    batch_uuid: Uuid | None = None
    release_uuid: Uuid | None = None
    created_after: Date | None = None
    created_before: Date | None = None


class Selection(RunsOf):
    """What the run and record lists, counts and downloads add: the executions filter and the lineage."""

    executions_filter: ExecutionsFilter | None = None
    parent_batch_uuid: Uuid | None = None
    parent_node_uuid: Uuid | None = None
    is_group_parent: bool | None = None


class RunSelection(Selection):
    """The run filters every run endpoint accepts (list, count, download, download-outputs)."""

    statuses: list[RunStatus] | None = None
    record_id: str | None = None
    record_title: str | None = None
    record_title_or_id: str | None = None
    parent_uuid: Uuid | None = None


class RunFilters(OwnerAndUpdate, RunSelection):
    """``runs/count``; with paging, ``runs/list``."""

    is_finished: bool | None = None


class ListRuns(Page, RunFilters):
    pass


class DownloadRuns(OwnerAndUpdate, RunSelection):
    """``runs/download``: no ``isFinished`` (production refuses it as an unrecognized key, docs/cargo-contract.md
    §6.3)."""

    workflow_uuid: Uuid
    uuids: list[Uuid] | None = None


class DownloadRunOutputs(Page, OutputFile, RunSelection):
    """``runs/download-outputs``: one node's output of at most ``EXPORT_CAP`` runs a call."""

    workflow_uuid: Uuid
    is_finished: bool | None = None


class RunMetrics(RunsOf):
    workflow_uuid: Uuid


# --- records ---------------------------------------------------------------------------------
class RecordSelection(Selection):
    """The record filters of list, count and download-outputs (their ``statuses`` differ in type)."""

    ids: list[str] | None = None
    title: str | None = None
    title_or_id: str | None = None
    parent_run_uuid: Uuid | None = None


class RecordFilters(OwnerAndUpdate, RecordSelection):
    statuses: list[RecordStatus] | None = None


class ListRecords(Page, RecordFilters):
    pass


class DownloadRecordOutputs(OutputFile, RecordSelection):
    workflow_uuid: Uuid
    run_uuids: list[Uuid] | None = None
    statuses: list[RunStatus] | None = None  # sic: RunStatus in the official client


# --- spans, SQL --------------------------------------------------------------------------------
class SpanFilters(Request):
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


class ListSpans(Page, SpanFilters):
    pass


class Query(Request):
    query: str = Field(min_length=1)


# --- batches, releases, plays (query strings) ----------------------------------------------------
class ListBatches(Page):
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


class ListReleases(Page):
    workflow_uuid: Uuid | None = None
    user_uuid: Uuid | None = None
    statuses: list[ReleaseStatus] | None = None


class DeployedRelease(Request):
    workflow_uuid: Uuid


class ListPlays(Request):
    is_enabled: bool | None = None
    model_uuid: Uuid | None = None
    segment_uuid: Uuid | None = None
    schedule_type: Literal["cron", "dbt", "realtime", "dependency", "watch"] | None = None


class Empty(Request):
    """Endpoints without parameters (workflows/list, tools/list)."""


R = TypeVar("R", bound=Request)


class PayloadError(ValueError):
    """A request body or query string that does not match the endpoint's payload type."""


def parse(model: type[R], data: Any) -> R:
    """Validate received ``data`` (camelCase keys only) against ``model``; :class:`PayloadError` says what is wrong."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PayloadError(f"Invalid body: expected a JSON object, got {type(data).__name__}.")
    try:
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as e:
        raise PayloadError(describe(e, model)) from None


def describe(e: ValidationError, model: type[Request]) -> str:
    """One readable message naming each refused field and why."""
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
