"""The SQL of a failure sweep. Every query is bounded in time and read-only; scoped to one workflow (or to the
whole workspace when the scope names none)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cargo_mcp.analytics.sql import lit as _lit
from cargo_mcp.analytics.sql import ts as _ts


@dataclass(frozen=True)
class Scope:
    """Runs of one workflow (every workflow when ``None``), optionally of one batch, created in ``[since, until)``."""

    workflow_uuid: str | None
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


def _workflow(s: Scope) -> list[str]:
    return [f"workflow_uuid = {_lit(s.workflow_uuid)}"] if s.workflow_uuid else []


def run_scope(s: Scope) -> str:
    parts = [*_workflow(s), f"created_at >= {_ts(s.since)}"]
    if s.until is not None:
        parts.append(f"created_at < {_ts(s.until)}")
    if s.batch_uuid:
        parts.append(f"batch_uuid = {_lit(s.batch_uuid)}")
    return " AND ".join(parts)


def _span_bounds(s: Scope, table: str = "") -> str:
    """The predicates that bound a span scan (executions never start before their run is created)."""
    parts = [f"{table}execution_started_at >= {_ts(s.since)}"]
    if s.workflow_uuid:
        parts.insert(0, f"{table}workflow_uuid = {_lit(s.workflow_uuid)}")
    if s.batch_uuid:
        parts.append(f"{table}batch_uuid = {_lit(s.batch_uuid)}")
    return " AND ".join(parts)


def span_scope(s: Scope) -> str:
    """Spans of the scope's runs: the time predicate bounds the scan, the run filter keeps out runs created before
    the window that executed inside it."""
    return f"{_span_bounds(s)} AND run_uuid IN (SELECT uuid FROM runs WHERE {run_scope(s)})"


def totals(s: Scope) -> str:
    return (
        "SELECT count() AS runs, countIf(is_finished) AS finished, countIf(status = 'error') AS failed, "
        "countIf(status = 'cancelled') AS cancelled, "
        "sumIf(credits_used_count, status = 'error') AS failed_credits, "
        "toUnixTimestamp(min(created_at)) AS first_at, toUnixTimestamp(max(created_at)) AS last_at "
        f"FROM runs WHERE {run_scope(s)}"
    )


def workflow_totals(s: Scope, limit: int) -> str:
    """Per workflow of the scope (the whole workspace): run and failure counts, failed records, credits."""
    return (
        "SELECT workflow_uuid, count() AS runs, countIf(is_finished) AS finished, countIf(status = 'error') AS failed, "
        "countIf(status = 'cancelled') AS cancelled, uniqExactIf(record_id, status = 'error') AS failed_records, "
        "sumIf(credits_used_count, status = 'error') AS failed_credits "
        f"FROM runs WHERE {run_scope(s)} GROUP BY workflow_uuid ORDER BY failed DESC, runs DESC LIMIT {limit}"
    )


def records(s: Scope) -> str:
    """Runs are not records: distinct records (of each workflow), those run more than once, failed ones, and failed
    ones that succeeded in another run of the scope."""
    per_record = (
        "SELECT record_id, count() AS n, countIf(status = 'error') AS failed, countIf(status = 'success') AS ok "
        f"FROM runs WHERE {run_scope(s)} GROUP BY workflow_uuid, record_id"
    )
    return (
        "SELECT count() AS records, countIf(n > 1) AS duplicated, countIf(failed > 0) AS failed_records, "
        f"countIf(failed > 0 AND ok > 0) AS recovered FROM ({per_record})"
    )


def still_failing(s: Scope, limit: int) -> str:
    """Records with a failed run and no successful one in the scope, each with its latest failed run."""
    return (
        "SELECT record_id, argMax(uuid, created_at) AS run_uuid FROM runs "
        f"WHERE {run_scope(s)} AND status IN ('error', 'success') GROUP BY record_id "
        "HAVING countIf(status = 'success') = 0 "
        f"ORDER BY record_id LIMIT {limit}"
    )


def releases(s: Scope) -> str:
    """Runs and failures per release, with the window of runs each served in the scope, oldest first."""
    return (
        "SELECT release_uuid, count() AS runs, countIf(status = 'error') AS failed, "
        "toUnixTimestamp(min(created_at)) AS first_at, toUnixTimestamp(max(created_at)) AS last_at "
        f"FROM runs WHERE {run_scope(s)} GROUP BY release_uuid ORDER BY first_at LIMIT 50"
    )


_CONTINUED = "countIf(isNotNull(node_next_uuid) AND node_next_uuid != '')"


def error_groups(s: Scope, limit: int = 200) -> str:
    pattern = normalized("execution_error_message")
    return (
        f"SELECT workflow_uuid, node_slug, any(node_uuid) AS node_uuid, any(node_kind) AS node_kind, "
        f"any(node_integration_slug) AS integration, {pattern} AS pattern, count() AS errors, "
        "uniqExact(run_uuid) AS runs, "
        f"{_CONTINUED} AS continued, "
        "toUnixTimestamp(min(execution_started_at)) AS first_at, "
        "toUnixTimestamp(max(execution_started_at)) AS last_at, "
        "groupArray(3)(run_uuid) AS sample_runs, groupArray(3)(record_id) AS sample_records, "
        "any(execution_error_message) AS example, sum(execution_credits_used_count) AS credits, "
        # totals over every group, also those past the LIMIT: real = not every run continued through a fallback
        f"sumIf(1, {_CONTINUED} != count()) OVER () AS real_groups, "
        f"sumIf(count(), {_CONTINUED} != count()) OVER () AS real_errors, "
        f"sumIf(count(), {_CONTINUED} = count()) OVER () AS absorbed_errors "
        f"FROM spans WHERE {span_scope(s)} AND execution_status = 'error' "
        f"GROUP BY workflow_uuid, node_slug, pattern ORDER BY errors DESC LIMIT {limit}"
    )


def error_profile(s: Scope, start: int, width: int, buckets: int) -> str:
    """Errors per (workflow, node, pattern, time bucket) for the time profile."""
    bucket = f"least(intDiv(toUnixTimestamp(execution_started_at) - {start}, {width}), {buckets - 1})"
    pattern = normalized("execution_error_message")
    return (
        f"SELECT workflow_uuid, node_slug, {pattern} AS pattern, {bucket} AS bucket, count() AS n "
        f"FROM spans WHERE {span_scope(s)} AND execution_status = 'error' "
        "GROUP BY workflow_uuid, node_slug, pattern, bucket ORDER BY node_slug, pattern, bucket LIMIT 5000"
    )


def group_releases(s: Scope) -> str:
    """Errors per (release, node, pattern): which releases each error group's failures ran on."""
    pattern = normalized("s.execution_error_message")
    runs = f"SELECT uuid, release_uuid FROM runs WHERE {run_scope(s)}"
    return (
        f"SELECT r.release_uuid AS release_uuid, s.node_slug AS node_slug, {pattern} AS pattern, count() AS n "
        f"FROM spans AS s INNER JOIN ({runs}) AS r ON s.run_uuid = r.uuid "
        f"WHERE {_span_bounds(s, 's.')} AND s.execution_status = 'error' "
        "GROUP BY release_uuid, node_slug, pattern LIMIT 5000"
    )


_STOP = (
    "node_action_slug = 'filter' AND execution_status = 'success' AND (isNull(node_next_uuid) OR node_next_uuid = '')"
)


def filter_stops(s: Scope) -> str:
    """Runs a filter node ended (success, no next node), per node UUID, with the credits those runs had spent."""
    stops = f"SELECT run_uuid, node_uuid, node_slug FROM spans WHERE {span_scope(s)} AND {_STOP}"
    runs = f"SELECT uuid, credits_used_count FROM runs WHERE {run_scope(s)}"
    return (
        "SELECT f.node_uuid AS node_uuid, any(f.node_slug) AS node_slug, count() AS stops, "
        "sum(r.credits_used_count) AS credits, groupArray(2)(f.run_uuid) AS sample_runs "
        f"FROM ({stops}) AS f INNER JOIN ({runs}) AS r ON f.run_uuid = r.uuid "
        "GROUP BY node_uuid ORDER BY stops DESC LIMIT 20"
    )


def failed_batches(s: Scope, limit: int = 20) -> str:
    """Batches that failed as a whole: with a batch scope that batch, else the scope's in the window."""
    where = [*_workflow(s), "status = 'error'"]
    if s.batch_uuid:
        where.append(f"uuid = {_lit(s.batch_uuid)}")
    else:
        where.append(f"created_at >= {_ts(s.since)}")
        if s.until is not None:
            where.append(f"created_at < {_ts(s.until)}")
    return (
        "SELECT uuid, workflow_uuid, toUnixTimestamp(created_at) AS created_at, runs_count, error_message "
        f"FROM batches WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT {limit}"
    )
