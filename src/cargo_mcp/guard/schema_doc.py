"""The SQL schema guide served as the resource ``cargo://sql/schema``: tables, columns, caps, examples."""

from __future__ import annotations

from cargo_mcp.api.models import BATCH_STATUSES, EXECUTION_STATUSES, RECORD_STATUSES, RUN_STATUSES
from cargo_mcp.api.sql import (
    MAX_COLUMNS_READ,
    MAX_EXECUTION_SECONDS,
    MAX_RESULT_ROWS,
    MAX_ROWS_READ,
    MAX_SUBQUERY_DEPTH,
    TABLES,
)

PURPOSE = {
    "runs": f"one row per run (a record through a workflow); {len(TABLES['runs'])} columns, so never SELECT *",
    "batches": "one row per batch (a bulk execution of a workflow) with its run counters and credits",
    "spans": "one row per node execution of a run; no plain status/created_at, use the execution_* columns",
    "records": "one row per record (materialized over runs, keyed by record id)",
}

CAPS = [
    f"{MAX_EXECUTION_SECONDS} s execution time",
    f"{MAX_RESULT_ROWS:,} result rows (more are truncated, not an error)",
    f"{MAX_ROWS_READ:,} rows read: filter runs/records on created_at and spans on execution_started_at",
    f"{MAX_COLUMNS_READ} columns read: SELECT * FROM runs fails (Code 161)",
    f"subquery depth {MAX_SUBQUERY_DEPTH}",
    "read-only: one SELECT (or WITH … SELECT); no table functions, system tables, dictionaries, SETTINGS or FORMAT",
]

EXAMPLES = [
    ("Run status distribution, last 7 days",
     "SELECT status, count() AS runs FROM runs WHERE created_at > now() - INTERVAL 7 DAY GROUP BY status"),
    ("Failing nodes of one workflow, last 24 h",
     "SELECT node_slug, countIf(execution_status = 'error') AS errors FROM spans WHERE workflow_uuid = '<uuid>' "
     "AND execution_started_at > now() - INTERVAL 1 DAY GROUP BY node_slug ORDER BY errors DESC"),
    ("Top error messages of a batch",
     "SELECT node_slug, execution_error_message, count() AS n FROM spans WHERE batch_uuid = '<uuid>' "
     "AND execution_status = 'error' GROUP BY node_slug, execution_error_message ORDER BY n DESC LIMIT 20"),
    ("Credits by workflow this month",
     "SELECT workflow_uuid, sum(credits_used_count) AS credits FROM batches WHERE created_at >= toStartOfMonth(now()) "
     "GROUP BY workflow_uuid ORDER BY credits DESC"),
    ("Slowest nodes, last hour (p95 seconds)",
     "SELECT node_slug, quantile(0.95)(dateDiff('second', execution_started_at, execution_finished_at)) AS p95_s "
     "FROM spans WHERE execution_started_at > now() - INTERVAL 1 HOUR GROUP BY node_slug ORDER BY p95_s DESC"),
    ("Latest runs of a workflow",
     "SELECT uuid, status, record_title, created_at, error_message FROM runs WHERE workflow_uuid = '<uuid>' "
     "AND created_at > now() - INTERVAL 7 DAY ORDER BY created_at DESC LIMIT 20"),
]  # fmt: skip


def schema_markdown() -> str:
    """The whole guide as Markdown."""
    lines = ["# Cargo orchestration SQL (ClickHouse)", "", "Tables have no schema prefix and are scoped to the "
             "workspace of the API token.", "", "## Caps", *[f"- {c}" for c in CAPS], ""]  # fmt: skip
    for table, columns in TABLES.items():
        lines += [f"## {table}", PURPOSE[table], "", "| column | type |", "|---|---|"]
        lines += [f"| {name} | {ch_type} |" for name, ch_type in columns]
        lines.append("")
    lines += ["## Status values", "Cargo has no 'failed' or 'finished': use 'error' and 'success'."]
    lines += [f"- runs.status: {', '.join(RUN_STATUSES)}", f"- batches.status: {', '.join(BATCH_STATUSES)}"]
    lines += [f"- records.status: {', '.join(RECORD_STATUSES)}"]
    lines += [f"- spans.execution_status: {', '.join(EXECUTION_STATUSES)}", ""]
    lines += ["## Examples", *[f"- {title}:\n  `{sql}`" for title, sql in EXAMPLES]]
    return "\n".join(lines) + "\n"
