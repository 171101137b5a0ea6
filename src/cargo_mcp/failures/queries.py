"""The SQL of a failure sweep. Every query is scoped to one workflow, bounded in time, and read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cargo_mcp.analytics.sql import lit as _lit
from cargo_mcp.analytics.sql import ts as _ts


@dataclass(frozen=True)
class Scope:
    """Runs of one workflow, optionally of one batch, created in ``[since, until)``."""

    workflow_uuid: str
    since: datetime
    until: datetime | None = None
    batch_uuid: str | None = None


# Strip what varies inside one cause (ids, numbers, emails, domains, times) so one cause = one group.
_REPLACEMENTS = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", "<email>"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?", "<time>"),
    (
        r"(?i)\b[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*\.(com|io|ai|co|net|org|dev|app|so|fr|de|uk|us|eu|me|tech)\b",
        "<domain>",
    ),
    (r"\d+(\.\d+)?", "<n>"),
]


# An HTTP status code is part of the cause (429 and 500 are different causes): it is kept as a suffix.
_STATUS_CODE = r"(?i)(?:^|status(?: code)?|http|code|\()[\s:=/]*([1-5][0-9][0-9])\b"


def normalized(column: str) -> str:
    """A ClickHouse expression that normalizes an error message column (``… <n> … [HTTP 429]``)."""
    raw = f"ifNull({column}, '')"
    expr = raw
    for pattern, token in _REPLACEMENTS:
        expr = f"replaceRegexpAll({expr}, {_lit(pattern)}, {_lit(token)})"
    code = f"extract({raw}, {_lit(_STATUS_CODE)})"
    return f"concat({expr}, if({code} = '', '', concat(' [HTTP ', {code}, ']')))"


def run_scope(s: Scope) -> str:
    parts = [f"workflow_uuid = {_lit(s.workflow_uuid)}", f"created_at >= {_ts(s.since)}"]
    if s.until is not None:
        parts.append(f"created_at < {_ts(s.until)}")
    if s.batch_uuid:
        parts.append(f"batch_uuid = {_lit(s.batch_uuid)}")
    return " AND ".join(parts)


def span_scope(s: Scope) -> str:
    """Spans of the scope's runs: the time predicate bounds the scan (executions never start before their run
    is created), the run filter keeps out runs created before the window that executed inside it."""
    parts = [f"workflow_uuid = {_lit(s.workflow_uuid)}", f"execution_started_at >= {_ts(s.since)}"]
    if s.batch_uuid:
        parts.append(f"batch_uuid = {_lit(s.batch_uuid)}")
    parts.append(f"run_uuid IN (SELECT uuid FROM runs WHERE {run_scope(s)})")
    return " AND ".join(parts)


def totals(s: Scope) -> str:
    return (
        "SELECT count() AS runs, countIf(is_finished) AS finished, countIf(status = 'error') AS failed, "
        "countIf(status = 'cancelled') AS cancelled, "
        "sumIf(credits_used_count, status = 'error') AS failed_credits, "
        "toUnixTimestamp(min(created_at)) AS first_at, toUnixTimestamp(max(created_at)) AS last_at "
        f"FROM runs WHERE {run_scope(s)}"
    )


_CONTINUED = "countIf(isNotNull(node_next_uuid) AND node_next_uuid != '')"


def error_groups(s: Scope, limit: int = 200) -> str:
    pattern = normalized("execution_error_message")
    return (
        f"SELECT node_slug, any(node_uuid) AS node_uuid, any(node_kind) AS node_kind, "
        f"any(node_integration_slug) AS integration, {pattern} AS pattern, count() AS errors, "
        "uniqExact(run_uuid) AS runs, "
        f"{_CONTINUED} AS continued, "
        "toUnixTimestamp(min(execution_started_at)) AS first_at, "
        "toUnixTimestamp(max(execution_started_at)) AS last_at, "
        "groupArray(3)(run_uuid) AS sample_runs, groupArray(3)(record_id) AS sample_records, "
        "any(execution_error_message) AS example, sum(execution_credits_used_count) AS credits, "
        # totals over every group, also those past the LIMIT: real = not every run continued through a fallback
        f"sumIf(1, {_CONTINUED} != count()) OVER () AS real_groups, "
        f"sumIf(count(), {_CONTINUED} != count()) OVER () AS real_errors "
        f"FROM spans WHERE {span_scope(s)} AND execution_status = 'error' "
        f"GROUP BY node_slug, pattern ORDER BY errors DESC LIMIT {limit}"
    )


def error_profile(s: Scope, start: int, width: int, buckets: int) -> str:
    """Errors per (node, pattern, time bucket) for the time profile."""
    bucket = f"least(intDiv(toUnixTimestamp(execution_started_at) - {start}, {width}), {buckets - 1})"
    pattern = normalized("execution_error_message")
    return (
        f"SELECT node_slug, {pattern} AS pattern, {bucket} AS bucket, count() AS n "
        f"FROM spans WHERE {span_scope(s)} AND execution_status = 'error' "
        "GROUP BY node_slug, pattern, bucket ORDER BY node_slug, pattern, bucket LIMIT 5000"
    )


def filter_stops(s: Scope) -> str:
    return (
        "SELECT node_slug, count() AS stops FROM spans "
        f"WHERE {span_scope(s)} AND node_action_slug = 'filter' AND execution_status = 'success' "
        "AND (isNull(node_next_uuid) OR node_next_uuid = '') GROUP BY node_slug ORDER BY stops DESC"
    )


def failed_record_ids(s: Scope, limit: int) -> str:
    return (
        f"SELECT DISTINCT record_id FROM runs WHERE {run_scope(s)} AND status = 'error' "
        f"ORDER BY record_id LIMIT {limit}"
    )


def failed_batches(s: Scope, limit: int = 20) -> str:
    """Batches that failed as a whole: with a batch scope that batch, else the workflow's in the window."""
    where = [f"workflow_uuid = {_lit(s.workflow_uuid)}", "status = 'error'"]
    if s.batch_uuid:
        where.append(f"uuid = {_lit(s.batch_uuid)}")
    else:
        where.append(f"created_at >= {_ts(s.since)}")
        if s.until is not None:
            where.append(f"created_at < {_ts(s.until)}")
    return (
        "SELECT uuid, toUnixTimestamp(created_at) AS created_at, runs_count, error_message FROM batches "
        f"WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT {limit}"
    )
