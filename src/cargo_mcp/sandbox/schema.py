"""ClickHouse DDL and matching Arrow schemas for the sandbox's four SQL tables.

``TABLES`` maps each table to its ordered ``(column, ClickHouse type)`` pairs; ``ORDER_BY`` gives the
MergeTree sorting key. :func:`arrow_schema` returns the Arrow schema in the same column order, which
``INSERT INTO t SELECT * FROM Python(tbl)`` requires (``SELECT *`` maps columns by position).

Arrow conventions: UUIDs are strings; timestamps are ``pa.timestamp("ms", tz="UTC")``, so a column
may hold tz-aware UTC ``datetime`` values or integer epoch milliseconds; JSON columns are strings.
"""

from __future__ import annotations

import pyarrow as pa

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
    ("executions_node_action_slug", "Array(String)"),
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

ORDER_BY: dict[str, str] = {
    "spans": "(workspace_uuid, execution_started_at)",
    "runs": "(workspace_uuid, created_at)",
    "batches": "(workspace_uuid, created_at)",
    "records": "(workspace_uuid, created_at)",
}


def _unwrap(ch_type: str, wrapper: str) -> str | None:
    prefix = wrapper + "("
    if ch_type.startswith(prefix) and ch_type.endswith(")"):
        return ch_type[len(prefix) : -1]
    return None


def _arrow_type(ch_type: str) -> tuple[pa.DataType, bool]:
    """Arrow type for a ClickHouse type, and whether its values may be null."""
    for wrapper in ("LowCardinality", "Nullable"):
        inner = _unwrap(ch_type, wrapper)
        if inner is not None:
            t, nullable = _arrow_type(inner)
            return t, nullable or wrapper == "Nullable"
    inner = _unwrap(ch_type, "Array")
    if inner is not None:
        t, nullable = _arrow_type(inner)
        return pa.list_(pa.field("item", t, nullable=nullable)), False
    if ch_type.startswith("DateTime64("):
        return pa.timestamp("ms", tz="UTC"), False
    simple = {
        "String": pa.string(),
        "Float64": pa.float64(),
        "UInt32": pa.uint32(),
        "Int32": pa.int32(),
        "Bool": pa.bool_(),
    }
    return simple[ch_type], False


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table``, in DDL column order."""
    fields = []
    for name, ch_type in TABLES[table]:
        t, nullable = _arrow_type(ch_type)
        fields.append(pa.field(name, t, nullable=nullable))
    return pa.schema(fields)


def create_table_sql(database: str, table: str) -> str:
    """``CREATE TABLE`` statement for ``database.table``."""
    cols = ",\n    ".join(f"`{name}` {ch_type}" for name, ch_type in TABLES[table])
    return f"CREATE TABLE `{database}`.`{table}` (\n    {cols}\n)\nENGINE = MergeTree ORDER BY {ORDER_BY[table]}"
