"""Pydantic models of the Cargo orchestration wire types (docs/cargo-contract.md §3 to §5).

One source of truth: the client parses responses with these models and the sandbox serializes
its data through them. Python attributes are snake_case; the wire is camelCase. Nullable wire
fields are ``X | None`` and serialize as JSON ``null``; unknown fields from the API are kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer
from pydantic.alias_generators import to_camel

RunStatus = Literal["idle", "pending", "running", "success", "error", "cancelling", "cancelled", "skipped"]
BatchStatus = Literal[
    "pending", "syncing", "skipped", "querying", "running", "success", "cancelling", "error", "cancelled"
]
BatchRunsStatus = Literal["healthy", "unhealthy"]
ExecutionStatus = Literal["pending", "success", "error"]
RecordStatus = Literal["pending", "running", "success", "error", "cancelled", "cancelling"]
ReleaseStatus = Literal["draft", "deployed", "archived"]
NodeKind = Literal["native", "connector", "tool", "agent"]
NodeFilterStatus = Literal["absent", "pending", "success", "error"]
Conjonction = Literal["and", "or"]
OutputFormat = Literal["csv", "json"]

RUN_STATUSES: tuple[str, ...] = RunStatus.__args__  # type: ignore[attr-defined]
BATCH_STATUSES: tuple[str, ...] = BatchStatus.__args__  # type: ignore[attr-defined]
RECORD_STATUSES: tuple[str, ...] = RecordStatus.__args__  # type: ignore[attr-defined]
EXECUTION_STATUSES: tuple[str, ...] = ExecutionStatus.__args__  # type: ignore[attr-defined]
NODE_FILTER_STATUSES: tuple[str, ...] = NodeFilterStatus.__args__  # type: ignore[attr-defined]
# The statuses a run or a batch ends in (both enums have them; ``cancelling`` is transitional).
TERMINAL_STATUSES = frozenset({"success", "error", "cancelled", "skipped"})


class Wire(BaseModel):
    """Base: camelCase on the wire, snake_case in Python, unknown API fields preserved."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def wire(self) -> dict[str, Any]:
        """The JSON-ready wire form (camelCase keys, ISO-8601 dates, nulls kept)."""
        return self.model_dump(mode="json", by_alias=True)


# Fields that exist only for some node kinds (docs/cargo-contract.md §4.1 and §4.2).
_NODE_KIND_FIELDS: dict[str, frozenset[str]] = {
    "native": frozenset({"actionSlug"}),
    "connector": frozenset({"integrationSlug", "actionSlug", "connectorUuid"}),
    "tool": frozenset({"templateSlug", "toolUuid", "releaseUuid", "waitUntilFinished"}),
    "agent": frozenset({"templateSlug", "agentUuid", "releaseUuid", "waitUntilFinished"}),
}
_NODE_ALL_KIND_FIELDS = frozenset().union(*_NODE_KIND_FIELDS.values())
_EXEC_KIND_FIELDS: dict[str, frozenset[str]] = {
    "native": frozenset({"nodeActionSlug"}),
    "connector": frozenset({"nodeActionSlug", "nodeConnectorUuid", "nodeIntegrationSlug"}),
    "tool": frozenset({"nodeToolUuid", "nodeReleaseUuid"}),
    "agent": frozenset({"nodeAgentUuid", "nodeReleaseUuid"}),
}
_EXEC_ALL_KIND_FIELDS = frozenset().union(*_EXEC_KIND_FIELDS.values())


class Position(Wire):
    x: float = 0
    y: float = 0


class Retry(Wire):
    maximum_attempts: int | None = None
    initial_interval: int | None = None
    backoff_coefficient: float | None = None


class Node(Wire):
    """A workflow node. Slugs are not unique inside a release."""

    uuid: str
    slug: str
    kind: NodeKind
    name: str | None = None
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    children_uuids: list[str | None] = Field(default_factory=list)
    fallback_on_failure: bool = False
    fallback_child_uuid: str | None = None
    position: Position = Field(default_factory=Position)
    retry: Retry | None = None
    action_slug: str | None = None
    integration_slug: str | None = None
    connector_uuid: str | None = None
    template_slug: str | None = None
    tool_uuid: str | None = None
    agent_uuid: str | None = None
    release_uuid: str | None = None
    wait_until_finished: bool | None = None

    @model_serializer(mode="wrap")
    def _drop_foreign_kind_fields(self, handler: Any) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        own = _NODE_KIND_FIELDS.get(self.kind, frozenset())
        optional = ("name", "description", "fallbackChildUuid", "retry")
        return {
            k: v
            for k, v in data.items()
            if not ((k in _NODE_ALL_KIND_FIELDS and (k not in own or v is None)) or (k in optional and v is None))
        }


class _Parents(Wire):
    """The lineage links a run-like row carries after its own parent field (``parentUuid``/``parentRunUuid``)."""

    parent_node_uuid: str | None = None
    parent_batch_uuid: str | None = None
    parent_agent_uuid: str | None = None
    parent_chat_uuid: str | None = None
    parent_message_uuid: str | None = None
    is_group_parent: bool | None = None


class NodeRef(Wire):
    """The executed node, as an execution and a span name it."""

    node_uuid: str
    node_slug: str
    node_kind: NodeKind
    node_batch_uuid: str | None = None
    node_run_uuid: str | None = None
    node_message_uuid: str | None = None
    node_child_index: int | None = None
    node_wait_until_finished: bool = False
    node_action_slug: str | None = None
    node_connector_uuid: str | None = None
    node_integration_slug: str | None = None
    node_tool_uuid: str | None = None
    node_agent_uuid: str | None = None
    node_release_uuid: str | None = None


class Execution(NodeRef):
    """One node execution inside a run (``run.executions[]``)."""

    next_node_uuid: str | None = None
    status: ExecutionStatus
    error_message: str | None = None
    title: str | None = None
    icon_url: str | None = None
    credits_used_count: float = 0
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    @model_serializer(mode="wrap")
    def _drop_foreign_kind_fields(self, handler: Any) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        own = _EXEC_KIND_FIELDS.get(self.node_kind, frozenset())
        return {k: v for k, v in data.items() if k not in _EXEC_ALL_KIND_FIELDS or k in own}


class Executed(_Parents):
    """What a run and a record share (a record is the latest run of a record id)."""

    workspace_uuid: str
    workflow_uuid: str
    user_uuid: str | None = None
    release_uuid: str | None = None
    nodes: list[Node] | None = None
    batch_uuid: str | None = None
    trace_uuid: str
    temporal_workflow_id: str
    context_s3_filename: str
    computed_configs_s3_filename: str
    error_message: str | None = None
    executions: list[Execution] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class Run(Executed):
    uuid: str
    record_id: str
    record_title: str
    parent_uuid: str | None = None
    status: RunStatus
    deleted_at: datetime | None = None


class GetRunResult(Wire):
    run: Run
    run_computed_configs: dict[str, Any]
    run_context: dict[str, Any]


class BatchBrief(Wire):
    """A batch as ``workflow.lastBatch`` carries it."""

    uuid: str
    status: BatchStatus
    runs_status: BatchRunsStatus | None = None
    error_message: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


class Batch(BatchBrief):
    workspace_uuid: str
    workflow_uuid: str
    user_uuid: str | None = None
    release_uuid: str | None = None
    nodes: list[Node] | None = None
    temporal_workflow_id: str
    trace_uuid: str | None = None
    data: dict[str, Any]
    runs_count: int
    executed_runs_count: int
    failed_runs_count: int
    credits_used_count: float
    updated_at: datetime


class Record(Executed):
    id: str
    title: str
    run_uuid: str
    parent_run_uuid: str | None = None
    status: RecordStatus


class Span(_Parents, NodeRef):
    """One row per node execution: the run's identity, the node and the execution, flattened."""

    workspace_uuid: str
    workflow_uuid: str
    user_uuid: str | None = None
    batch_uuid: str | None = None
    trace_uuid: str
    record_id: str
    record_title: str
    run_uuid: str
    run_context_s3_filename: str
    run_computed_configs_s3_filename: str
    parent_run_uuid: str | None = None
    node_next_uuid: str | None = None
    execution_index: int
    execution_status: ExecutionStatus
    execution_error_message: str | None = None
    execution_title: str | None = None
    execution_icon_url: str | None = None
    execution_credits_used_count: float = 0
    execution_started_at: datetime
    execution_updated_at: datetime
    execution_finished_at: datetime | None = None


class RunMetric(Wire):
    node_uuid: str
    total_executions_count: int = 0
    idle_executions_count: int = 0
    pending_executions_count: int = 0
    running_executions_count: int = 0
    success_executions_count: int = 0
    error_executions_count: int = 0
    cancelling_executions_count: int = 0
    cancelled_executions_count: int = 0
    skipped_executions_count: int = 0
    credits_used_count: float = 0


class FormField(Wire):
    slug: str
    kind: Literal["string", "number", "boolean", "any", "date", "enum", "array"]
    name: str | None = None


class ReleaseBrief(Wire):
    """A release as ``workflow.deployedRelease`` carries it."""

    uuid: str
    user_uuid: str
    description: str | None = None
    version: str | None = None
    nodes: list[Node]
    form_fields: list[FormField] | None = None
    template_slug: str | None = None
    deployed_at: datetime | None = None
    created_at: datetime


class Release(ReleaseBrief):
    parent_uuid: str | None = None
    workspace_uuid: str
    workflow_uuid: str
    status: ReleaseStatus
    test_records: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: datetime
    deleted_at: datetime | None = None


class WorkflowNode(Wire):
    uuid: str
    slug: str
    kind: NodeKind
    name: str | None = None
    is_archived: bool = False
    nodes: list[WorkflowNode] = Field(default_factory=list)


class Workflow(Wire):
    """A workflow. It has no name: names come from the tool or play that owns it."""

    uuid: str
    workspace_uuid: str
    nodes: list[WorkflowNode] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    play_uuid: str | None = None
    tool_uuid: str | None = None
    folder_uuid: str | None = None
    template: dict[str, Any] | None = None
    last_batch: BatchBrief | None = None
    deployed_release: ReleaseBrief | None = None


class Tool(Wire):
    uuid: str
    icon: dict[str, Any]
    workspace_uuid: str
    workflow_uuid: str
    user_uuid: str
    name: str
    folder_uuid: str | None = None
    credits_cost: dict[str, Any] | None = None
    description: str | None = None
    is_read_only: bool = False
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    public_form: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class Play(Wire):
    uuid: str
    workspace_uuid: str
    workflow_uuid: str
    user_uuid: str
    model_uuid: str
    segment_uuid: str
    change_kinds: list[str] = Field(default_factory=list)
    run_creation_rule: Literal["always", "once", "noConcurrency"] = "always"
    name: str
    description: str | None = None
    schedule: dict[str, Any] | None = None
    is_enabled: bool = True
    health_threshold: float = 0.1
    health_alert_actions: list[dict[str, Any]] = Field(default_factory=list)
    folder_uuid: str | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class Workspace(Wire):
    uuid: str
    name: str
    allowed_email_domains: list[str] = Field(default_factory=list)
    syncs: list[Any] = Field(default_factory=list)
    temporal_namespace: str = "default"
    temporal_task_queue_prefix: str | None = None
    max_concurrent_runs: int = 50
    open_ai_vector_store_id: str | None = None
    created_at: datetime
    updated_at: datetime
    logo_url: str | None = None
    metadata: dict[str, Any] | None = None
    chrome_extension_master_agent_uuid: str | None = None
    chrome_extension_available_agent_uuids: list[str] | None = None
    default_role_uuid: str | None = None
    allowed_login_providers: list[str] | None = None
    sso_identifier: str | None = None
    quota_buckets: dict[str, float] = Field(default_factory=dict)


class User(Wire):
    uuid: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None
    last_sign_in_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    web_extension_data: dict[str, Any] | None = None


class WorkspaceUser(User):
    workspace_uuid: str
    permissions: list[str] = Field(default_factory=list)
    role: dict[str, Any] | None = None


class ExecutionsFilterCondition(Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    kind: Literal["node"] = "node"
    node_slug: str
    status: NodeFilterStatus
    value: str | None = None


class ExecutionsFilterGroup(Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    conjonction: Conjonction = "and"
    conditions: list[ExecutionsFilterCondition]


class ExecutionsFilter(Wire):
    """Cargo's executions filter (note the API's spelling ``conjonction``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    conjonction: Conjonction = "and"
    groups: list[ExecutionsFilterGroup]
