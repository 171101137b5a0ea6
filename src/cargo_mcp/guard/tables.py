"""Cargo's four orchestration SQL tables: columns and ClickHouse types (cargo-api.md §7.3).

Production publishes no DDL; this is the best-known schema (confirmed columns plus those inferred from the
API types). The guard, the schema resource and the sandbox engine all read it from here.
"""

from __future__ import annotations

S = "String"
NS = "Nullable(String)"
LC = "LowCardinality(String)"
NLC = "LowCardinality(Nullable(String))"
TS = "DateTime64(3, 'UTC')"
NTS = "Nullable(DateTime64(3, 'UTC'))"
NBOOL = "Nullable(Bool)"

_PARENTS = [
    ("parent_node_uuid", NS),
    ("parent_batch_uuid", NS),
    ("parent_agent_uuid", NS),
    ("parent_chat_uuid", NS),
    ("parent_message_uuid", NS),
    ("is_group_parent", NBOOL),
]

SPANS: list[tuple[str, str]] = [
    ("workspace_uuid", S),
    ("workflow_uuid", S),
    ("user_uuid", NS),
    ("batch_uuid", NS),
    ("trace_uuid", S),
    ("record_id", S),
    ("record_title", S),
    ("run_uuid", S),
    ("run_context_s3_filename", S),
    ("run_computed_configs_s3_filename", S),
    ("parent_run_uuid", NS),
    *_PARENTS,
    ("node_uuid", S),
    ("node_kind", LC),
    ("node_slug", LC),
    ("node_action_slug", NLC),
    ("node_connector_uuid", NS),
    ("node_integration_slug", NLC),
    ("node_tool_uuid", NS),
    ("node_agent_uuid", NS),
    ("node_release_uuid", NS),
    ("node_batch_uuid", NS),
    ("node_run_uuid", NS),
    ("node_message_uuid", NS),
    ("node_child_index", "Nullable(Int32)"),
    ("node_wait_until_finished", "Bool"),
    ("node_next_uuid", NS),
    ("execution_index", "UInt32"),
    ("execution_status", LC),
    ("execution_error_message", NS),
    ("execution_title", NS),
    ("execution_icon_url", NS),
    ("execution_credits_used_count", "Float64"),
    ("execution_started_at", TS),
    ("execution_updated_at", TS),
    ("execution_finished_at", NTS),
]

RUNS: list[tuple[str, str]] = [
    ("uuid", S),
    ("workspace_uuid", S),
    ("workflow_uuid", S),
    ("user_uuid", NS),
    ("release_uuid", NS),
    ("batch_uuid", NS),
    ("trace_uuid", S),
    ("temporal_workflow_id", S),
    ("record_id", S),
    ("record_title", S),
    ("context_s3_filename", S),
    ("computed_configs_s3_filename", S),
    ("parent_uuid", NS),
    *_PARENTS,
    ("status", LC),
    ("error_message", NS),
    ("credits_used_count", "Float64"),
    ("created_at", TS),
    ("updated_at", TS),
    ("finished_at", NTS),
    ("deleted_at", NTS),
    ("nodes", S),
    ("is_finished", "Bool"),
    ("executions_count", "UInt32"),
    ("executions_node_uuid", "Array(String)"),
    ("executions_node_slug", "Array(LowCardinality(String))"),
    ("executions_node_kind", "Array(LowCardinality(String))"),
    ("executions_node_action_slug", "Array(Nullable(String))"),
    ("executions_node_integration_slug", "Array(Nullable(String))"),
    ("executions_node_connector_uuid", "Array(Nullable(String))"),
    ("executions_node_tool_uuid", "Array(Nullable(String))"),
    ("executions_node_agent_uuid", "Array(Nullable(String))"),
    ("executions_node_release_uuid", "Array(Nullable(String))"),
    ("executions_node_batch_uuid", "Array(Nullable(String))"),
    ("executions_node_run_uuid", "Array(Nullable(String))"),
    ("executions_node_message_uuid", "Array(Nullable(String))"),
    ("executions_node_child_index", "Array(Nullable(Int32))"),
    ("executions_next_node_uuid", "Array(Nullable(String))"),
    ("executions_status", "Array(LowCardinality(String))"),
    ("executions_error_message", "Array(Nullable(String))"),
    ("executions_title", "Array(Nullable(String))"),
    ("executions_icon_url", "Array(Nullable(String))"),
    ("executions_credits_used_count", "Array(Float64)"),
    ("executions_started_at", f"Array({TS})"),
    ("executions_updated_at", f"Array({TS})"),
    ("executions_finished_at", f"Array({NTS})"),
    ("executions_node_wait_until_finished", "Array(Bool)"),
]

BATCHES: list[tuple[str, str]] = [
    ("uuid", S),
    ("workspace_uuid", S),
    ("workflow_uuid", S),
    ("user_uuid", NS),
    ("release_uuid", NS),
    ("trace_uuid", NS),
    ("temporal_workflow_id", S),
    ("data_kind", LC),
    ("data", S),
    ("error_message", NS),
    ("status", LC),
    ("runs_status", NLC),
    ("runs_count", "UInt32"),
    ("executed_runs_count", "UInt32"),
    ("failed_runs_count", "UInt32"),
    ("credits_used_count", "Float64"),
    ("created_at", TS),
    ("updated_at", TS),
    ("finished_at", NTS),
]

RECORDS: list[tuple[str, str]] = [
    ("id", S),
    ("title", S),
    ("run_uuid", S),
    ("trace_uuid", S),
    ("workspace_uuid", S),
    ("workflow_uuid", S),
    ("user_uuid", NS),
    ("release_uuid", NS),
    ("batch_uuid", NS),
    ("temporal_workflow_id", S),
    ("context_s3_filename", S),
    ("computed_configs_s3_filename", S),
    ("parent_run_uuid", NS),
    *_PARENTS,
    ("status", LC),
    ("error_message", NS),
    ("created_at", TS),
    ("updated_at", TS),
    ("finished_at", NTS),
]

TABLES: dict[str, list[tuple[str, str]]] = {
    "spans": SPANS,
    "runs": RUNS,
    "batches": BATCHES,
    "records": RECORDS,
}
