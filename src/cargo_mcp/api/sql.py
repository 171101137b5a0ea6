"""Cargo's orchestration SQL contract: the four tables, their columns and ClickHouse types, and every cap.

The guard's texts, the schema resource, the sandbox engine's settings, the export pager and the tool
descriptions are all rendered from here (docs/cargo-contract.md §7 and §8). Production publishes no DDL:
the columns are the confirmed ones plus those inferred from the API types.
"""

from __future__ import annotations

MAX_EXECUTION_SECONDS = 30  # max_execution_time (Code 159 past it)
MAX_RESULT_ROWS = 10_000  # max_result_rows: longer results are truncated, not an error
MAX_ROWS_READ = 10_000_000  # max_rows_to_read (Code 158 past it)
MAX_COLUMNS_READ = 50  # max_columns_to_read (Code 161 past it): SELECT * FROM runs fails
MAX_SUBQUERY_DEPTH = 5  # max_subquery_depth (Code 167 past it)
EXPORT_CAP = 10_000  # runs (or records) one download-outputs export may hold; larger sets are paged by it

CAPS_SUMMARY = f"{MAX_EXECUTION_SECONDS} s, {MAX_RESULT_ROWS:,} result rows, {MAX_ROWS_READ:,} rows read"

Columns = list[tuple[str, str]]  # (column, ClickHouse type), in DDL order

S = "String"
NS = "Nullable(String)"
LC = "LowCardinality(String)"
NLC = "LowCardinality(Nullable(String))"
TS = "DateTime64(3, 'UTC')"
NTS = "Nullable(DateTime64(3, 'UTC'))"
NBOOL = "Nullable(Bool)"

# The lineage columns every run-like row carries after its own parent column (parent_uuid / parent_run_uuid).
PARENTS: Columns = [
    ("parent_node_uuid", NS),
    ("parent_batch_uuid", NS),
    ("parent_agent_uuid", NS),
    ("parent_chat_uuid", NS),
    ("parent_message_uuid", NS),
    ("is_group_parent", NBOOL),
]

RUNS: Columns = [
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
    *PARENTS,
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

BATCHES: Columns = [
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

SPANS: Columns = [
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
    *PARENTS,
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

RECORDS: Columns = [
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
    *PARENTS,
    ("status", LC),
    ("error_message", NS),
    ("created_at", TS),
    ("updated_at", TS),
    ("finished_at", NTS),
]

# The tables a query may read, without a schema prefix; this order is the order every text lists them in.
TABLES: dict[str, Columns] = {
    "runs": RUNS,
    "batches": BATCHES,
    "spans": SPANS,
    "records": RECORDS,
}


def table_list(last: str = "or") -> str:
    """The table names as a phrase: ``runs, batches, spans or records``."""
    *head, tail = TABLES
    return f"{', '.join(head)} {last} {tail}"
