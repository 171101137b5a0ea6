"""The sandbox SQL engine: caps, truncation, the validator and workspace isolation.

chdb allows one engine per process, so this module shares one ``Engine`` (module-scoped fixture,
closed when the module's tests end, so other modules may create their own afterwards).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cargo_mcp.api.sql import TABLES
from cargo_mcp.sandbox.engine import Engine, QueryError, QueryResult
from cargo_mcp.sandbox.schema import arrow_schema

WS_A = "aaaaaaaa-0000-4000-8000-00000000000a"
WS_B = "bbbbbbbb-0000-4000-8000-00000000000b"
BASE_MS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
STATUSES = ("success", "error", "running", "cancelled")


def _uuids(rnd: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(n)]


def _default(ch_type: str, n: int, i0: int = 0) -> list[Any]:
    """Plain values of the given ClickHouse type, one per row."""
    if ch_type.startswith("Array("):
        inner = ch_type[len("Array(") : -1]
        return [_default(inner, 2, i) for i in range(n)]
    nullable = "Nullable" in ch_type
    if "DateTime64" in ch_type:
        return [BASE_MS + (i0 + i) * 60_000 for i in range(n)]
    if "Float64" in ch_type:
        return [0.01 * (i % 7) for i in range(n)]
    if "Int32" in ch_type:
        return [None if nullable else i % 5 for i in range(n)]
    if "Bool" in ch_type:
        return [None if nullable else i % 2 == 0 for i in range(n)]
    return [None if nullable else f"v{(i0 + i) % 13}" for i in range(n)]


def make_columns(table: str, n: int, workspace: str, seed: int) -> dict[str, list[Any]]:
    rnd = random.Random(seed)
    cols = {name: _default(t, n) for name, t in TABLES[table]}
    cols["workspace_uuid"] = [workspace] * n
    ids = _uuids(rnd, n)
    for key in ("uuid", "run_uuid", "id", "trace_uuid"):
        if key in cols:
            cols[key] = ids
    for key in ("status", "execution_status"):
        if key in cols:
            cols[key] = [STATUSES[i % len(STATUSES)] for i in range(n)]
    return cols


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    try:
        eng.add_workspace(WS_A)
        eng.add_workspace(WS_B)
        eng.load(WS_A, "spans", make_columns("spans", 12_000, WS_A, 1))
        eng.load(WS_A, "runs", make_columns("runs", 600, WS_A, 2))
        eng.load(WS_A, "batches", make_columns("batches", 20, WS_A, 3))
        eng.load(WS_A, "records", make_columns("records", 600, WS_A, 4))
        eng.load(WS_B, "spans", make_columns("spans", 500, WS_B, 5))
        eng.load(WS_B, "runs", make_columns("runs", 50, WS_B, 6))
        eng.load(WS_B, "batches", make_columns("batches", 5, WS_B, 7))
        eng.load(WS_B, "records", make_columns("records", 50, WS_B, 8))
        yield eng
    finally:
        eng.close()


@pytest.fixture(scope="module")
def b_secrets(engine: Engine) -> list[str]:
    """Strings that must never reach a caller acting as workspace A."""
    run_ids = [r["uuid"] for r in engine.internal_query(WS_B, "SELECT uuid FROM runs")]
    assert len(run_ids) == 50
    return [WS_B, engine._databases[WS_B], *run_ids]


def _error(engine: Engine, sql: str, ws: str = WS_A) -> QueryError:
    with pytest.raises(QueryError) as info:
        engine.query(ws, sql)
    err = info.value
    assert err.message.startswith(f"Code: {err.code}. DB::Exception: "), err.message
    return err


# -- loading and schema ----------------------------------------------------------------------


def test_schema_column_counts() -> None:
    assert {t: len(c) for t, c in TABLES.items()} == {"spans": 41, "runs": 52, "batches": 19, "records": 24}
    for table, cols in TABLES.items():
        assert arrow_schema(table).names == [name for name, _ in cols]


def test_loaded_counts_and_types(engine: Engine) -> None:
    rows = engine.internal_query(WS_A, "SELECT count() AS n, min(created_at) AS t FROM runs")
    assert rows == [{"n": 600, "t": "2026-01-01 00:00:00.000"}]
    row = engine.internal_query(
        WS_A,
        "SELECT toTypeName(executions_finished_at) AS t, executions_node_child_index AS c, "
        "executions_node_tool_uuid AS u FROM runs LIMIT 1",
    )[0]
    assert row["t"] == "Array(Nullable(DateTime64(3, 'UTC')))"
    assert row["c"] == [None, None]
    assert row["u"] == [None, None]
    assert engine.internal_query(WS_B, "SELECT count() AS n FROM spans") == [{"n": 500}]


def test_internal_query_params(engine: Engine) -> None:
    rows = engine.internal_query(WS_A, "SELECT count() AS n FROM runs WHERE status = {s:String}", {"s": "error"})
    assert rows == [{"n": 150}]


def test_load_accepts_datetimes_and_rejects_bad_columns(engine: Engine) -> None:
    cols = make_columns("batches", 1, WS_B, 99)
    cols["created_at"] = [datetime(2025, 6, 1, 12, 30, 45, 123000, tzinfo=UTC)]
    engine.load(WS_B, "batches", cols)
    rows = engine.internal_query(WS_B, "SELECT created_at FROM batches WHERE uuid = {u:String}", {"u": cols["uuid"][0]})
    assert rows == [{"created_at": "2025-06-01 12:30:45.123"}]
    missing = dict(cols)
    del missing["status"]
    with pytest.raises(ValueError, match="status"):
        engine.load(WS_B, "batches", missing)
    with pytest.raises(ValueError, match="bogus"):
        engine.load(WS_B, "batches", {**cols, "bogus": [1]})
    with pytest.raises(ValueError):
        engine.load(WS_B, "nope", cols)


# -- caps and truncation ---------------------------------------------------------------------


def test_select_star_runs_hits_column_cap(engine: Engine) -> None:
    err = _error(engine, "SELECT * FROM runs")
    assert err.code == 161
    assert "Limit for number of columns to read exceeded. Requested: 52, maximum: 50." in err.message
    assert "(TOO_MANY_COLUMNS)" in err.message


def test_select_star_spans_allowed(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT * FROM spans LIMIT 10")
    assert len(res.columns) == 41 and len(res.rows) == 10 and res.truncated is False


def test_truncates_at_exactly_10000(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT run_uuid, execution_started_at FROM spans ORDER BY execution_started_at DESC")
    assert isinstance(res, QueryResult)
    assert len(res.rows) == 10_000
    assert res.truncated is True
    assert res.columns == ["run_uuid", "execution_started_at"]
    assert res.types == ["String", "DateTime64(3, 'UTC')"]
    # ORDER BY survives the wrapper; DateTime64 keeps ClickHouse's text format.
    assert res.rows[0]["execution_started_at"] == "2026-01-09 07:59:00.000"
    assert res.rows[-1]["execution_started_at"] == "2026-01-02 09:20:00.000"
    assert res.elapsed_ms > 0


def test_exactly_10000_rows_is_not_truncated(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT execution_index FROM spans LIMIT 10000")
    assert len(res.rows) == 10_000 and res.truncated is False


def test_small_result_not_truncated(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT uuid, status FROM runs ORDER BY created_at LIMIT 10")
    assert len(res.rows) == 10 and res.truncated is False


def test_group_by_count_key_and_int(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT status, count() FROM runs GROUP BY status ORDER BY status")
    assert res.columns == ["status", "count()"]
    assert res.rows == [{"status": s, "count()": 150} for s in sorted(STATUSES)]
    assert all(type(r["count()"]) is int for r in res.rows)


def test_subquery_depth_5_passes_6_fails(engine: Engine) -> None:
    def nested(depth: int) -> str:
        return "SELECT * FROM (" * depth + "SELECT count() FROM runs" + ")" * depth

    assert engine.query(WS_A, nested(5)).rows == [{"count()": 600}]
    err = _error(engine, nested(6))
    assert err.code == 162
    assert "Too deep subqueries. Maximum: 5." in err.message
    assert "Maximum: 6" not in err.message


def test_unknown_column(engine: Engine) -> None:
    err = _error(engine, "SELECT play_uuid FROM runs")
    assert err.code == 47
    assert "Unknown expression identifier `play_uuid`" in err.message
    assert "sbx:" not in err.message and "LIMIT 10001" not in err.message


def test_unknown_table_suggestion_names_orchestration(engine: Engine) -> None:
    err = _error(engine, "SELECT count() FROM runz")
    assert err.code == 60
    assert "orchestration.runs" in err.message
    assert "ws_" not in err.message


def test_syntax_error_hides_validator(engine: Engine) -> None:
    err = _error(engine, "SELEC 1")
    assert err.code == 62 and "(SYNTAX_ERROR)" in err.message
    assert "parseQueryToJSON" not in err.message


# -- the validator ---------------------------------------------------------------------------

DENIED = [
    ("SELECT * FROM url('http://x','CSV','a String')", 497, "url"),
    ("SELECT * FROM system.tables", 497, "system.tables"),
    ("SELECT * FROM `system`.`databases`", 497, "system.databases"),
    ("SELECT * FROM information_schema.tables", 497, "information_schema.tables"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", 497, "INFORMATION_SCHEMA.TABLES"),
    ("SELECT dummy FROM system.one", 497, "system.one"),
    ("INSERT INTO runs (uuid) VALUES ('x')", 497, "INSERT"),
    ("INSERT INTO runs (uuid) SELECT 'x'", 497, "INSERT"),
    ("SELECT 1; SELECT 2", 62, "Multi-statements are not allowed"),
    ("SELECT 1 INTO OUTFILE '/tmp/cargo-sandbox-test-outfile'", 497, "INTO OUTFILE"),
    ("SELECT 1 FORMAT TSV", 497, "FORMAT"),
    ("SELECT 1 SETTINGS max_rows_to_read=0", 497, "SETTINGS"),
    ("SELECT count() FROM (SELECT 1 SETTINGS readonly=0)", 497, "SETTINGS"),
    ("SELECT * FROM merge('orchestration', '^runs$')", 497, "merge"),
    ("SELECT * FROM merge(REGEXP('^ws_'), '^runs$')", 497, "merge"),
    ("SELECT * FROM mergeTreeIndex('default', 'runs')", 497, "mergeTreeIndex"),
    ("SELECT * FROM numbers(10)", 497, "numbers"),
    ("SELECT * FROM view(SELECT 1)", 497, "view"),
    ("SELECT * FROM Python(tbl)", 497, "Python"),
    ("SELECT 1 WHERE 1 IN merge('x', 'runs')", 497, "merge"),
    ("SELECT file('/etc/passwd')", 497, "file"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", 497, "file"),
    ("SELECT getServerSetting('path')", 497, "getServerSetting"),
    ("SELECT hostName()", 497, "hostName"),
    ("SELECT currentDatabase()", 497, "currentDatabase"),
    ("SELECT DATABASE()", 497, "DATABASE"),
    ("SELECT joinGet('j', 'v', 1)", 497, "joinGet"),
    ("SELECT dictGetString('d', 'v', toUInt64(1))", 497, "dictGetString"),
    ("SELECT demangle('x')", 497, "demangle"),
    ("SELECT hasColumnInTable('default', 'runs', 'uuid')", 497, "hasColumnInTable"),
    ("SHOW TABLES", 497, "SHOW"),
    ("DESCRIBE runs", 497, "DESCRIBE"),
    ("EXPLAIN SELECT 1", 497, "EXPLAIN"),
    ("KILL QUERY WHERE 1", 497, "KILL"),
    ("DROP TABLE runs", 497, "DROP"),
    ("SET max_rows_to_read = 0", 497, "SET"),
    ("SELECT * FROM orchestration.runs", 60, "Table orchestration.runs doesn't exist"),
    ("SELECT count() FROM orchestration.spans", 60, "Table orchestration.spans doesn't exist"),
    ("SELECT * FROM default.runs", 60, "default.runs"),
    (
        "SELECT 'x') LIMIT 1; SELECT * FROM file('/etc/hostname','LineAsString'); SELECT (1",
        62,
        "Syntax error",
    ),
    ("SELECT 1 /* unterminated", 62, "Multiline comment is not closed"),
]


@pytest.mark.parametrize(("sql", "code", "needle"), DENIED, ids=[d[0][:48] for d in DENIED])
def test_denied(engine: Engine, sql: str, code: int, needle: str) -> None:
    err = _error(engine, sql)
    assert err.code == code, err.message
    assert needle in err.message
    if code == 497:
        assert "Not enough privileges" in err.message and err.message.endswith("(ACCESS_DENIED)")
    assert not os.path.exists("/tmp/cargo-sandbox-test-outfile")


ALLOWED = [
    "SELECT status, count() FROM runs GROUP BY status",
    "SELECT count() FROM runs WHERE status = 'error'",
    "SELECT countIf(status='error') / count() AS error_rate FROM runs WHERE created_at > now() - INTERVAL 1 DAY",
    "SELECT workflow_uuid, count() AS errors FROM runs WHERE status='error' "
    "AND created_at > now() - INTERVAL 7 DAY GROUP BY workflow_uuid ORDER BY errors DESC",
    "SELECT node_slug, count() AS failures FROM spans WHERE execution_status='error' "
    "AND execution_started_at > now() - INTERVAL 1 DAY GROUP BY node_slug ORDER BY failures DESC",
    "SELECT workflow_uuid, sum(credits_used_count) AS credits FROM batches "
    "WHERE created_at >= toStartOfMonth(now()) GROUP BY workflow_uuid ORDER BY credits DESC",
    "SELECT node_slug, node_kind, "
    "dateDiff('second', execution_started_at, execution_finished_at) AS duration_s FROM spans "
    "WHERE execution_finished_at > now() - INTERVAL 1 HOUR ORDER BY duration_s DESC LIMIT 20",
    "WITH recent AS (SELECT * FROM runs WHERE created_at > now() - INTERVAL 1 DAY) "
    "SELECT status, count() FROM recent GROUP BY status",
    "SELECT uuid, workflow_uuid, record_title, status, created_at FROM runs ORDER BY created_at DESC LIMIT 10",
    "SELECT uuid FROM runs WHERE record_title ILIKE '%acme.com%' ORDER BY created_at DESC LIMIT 10",
    "select countIf(status = 'error') * 100 / count() from runs where created_at > now() - interval 1 hour",
    "SELECT r.status, count() FROM spans AS s JOIN runs AS r ON s.run_uuid = r.uuid GROUP BY r.status",
    "SELECT uuid, n FROM runs ARRAY JOIN executions_node_slug AS n LIMIT 5",
    "SELECT uuid, row_number() OVER (PARTITION BY status ORDER BY created_at) AS rn FROM runs LIMIT 5",
    "SELECT * EXCEPT (data) FROM batches LIMIT 1",
    "WITH runs AS (SELECT 1 AS uuid) SELECT * FROM runs",
    "SELECT count() FROM runs WHERE uuid IN (SELECT run_uuid FROM spans)",
    "SELECT 1 INTERSECT SELECT 1",
    "SELECT 'a;b -- c', format('{}-{}', 'x', 'y');",
]


@pytest.mark.parametrize("sql", ALLOWED, ids=[a[:48] for a in ALLOWED])
def test_allowed(engine: Engine, sql: str) -> None:
    res = engine.query(WS_A, sql)
    assert res.truncated is False
    assert isinstance(res.rows, list)


def test_semicolon_and_comment_text_survive(engine: Engine) -> None:
    res = engine.query(WS_A, "SELECT 'a;b -- c\\n' AS s, '\\\\N' AS n -- trailing comment")
    assert res.rows == [{"s": "a;b -- c\n", "n": "\\N"}]


# -- workspace isolation ---------------------------------------------------------------------


def test_workspace_scoping(engine: Engine) -> None:
    for ws, n in ((WS_A, 600), (WS_B, 50)):
        res = engine.query(ws, "SELECT count(), uniqExact(workspace_uuid), any(workspace_uuid) FROM runs")
        assert list(res.rows[0].values()) == [n, 1, ws]


def _attacks(b_db: str) -> list[str]:
    return [
        f"SELECT * FROM {b_db}.runs",
        f"SELECT uuid FROM {b_db}.runs",
        f"SELECT uuid FROM `{b_db}`.`runs`",
        f'SELECT uuid FROM "{b_db}"."runs"',
        f"SELECT uuid FROM {b_db} /**/ . runs",
        f"SELECT r.uuid FROM runs AS r JOIN {b_db}.runs AS b ON r.uuid = b.uuid",
        f"SELECT uuid FROM runs WHERE uuid IN (SELECT uuid FROM {b_db}.runs)",
        f"SELECT uuid FROM runs WHERE uuid IN {b_db}.runs",
        f"SELECT count() FROM runs WHERE uuid IN {b_db}.records",
        f"WITH x AS (SELECT uuid FROM {b_db}.runs) SELECT * FROM x",
        f"SELECT uuid FROM runs UNION ALL SELECT uuid FROM {b_db}.runs",
        f"SELECT {b_db}.runs.uuid FROM runs",
        f"SELECT * FROM merge('{b_db}', '^runs$')",
        "SELECT uuid FROM merge(REGEXP('^ws_'), '^runs$')",
        f"SELECT * FROM mergeTreeIndex('{b_db}', 'runs')",
        f"SELECT * FROM view(SELECT uuid FROM {b_db}.runs)",
        "SELECT name FROM system.databases",
        "SELECT database, name FROM system.tables",
        "SELECT * FROM information_schema.tables",
        f"SHOW TABLES FROM {b_db}",
        f"DESCRIBE TABLE {b_db}.runs",
        f"EXISTS TABLE {b_db}.runs",
        f"SELECT hasColumnInTable('{b_db}', 'runs', 'uuid')",
        f"SELECT joinGet('{b_db}.j', 'v', 1)",
        "SELECT currentDatabase()",
        "SELECT getSetting('max_rows_to_read')",
        "SELECT * FROM runz",
        "SELECT * FROM runs_b",
        f"SELECT * FROM {b_db}.runz",
    ]


def test_isolation_attacks_fail_without_leaks(engine: Engine, b_secrets: list[str]) -> None:
    b_db = engine._databases[WS_B]
    for sql in _attacks(b_db):
        try:
            res = engine.query(WS_A, sql)
        except QueryError as e:
            text = e.message
        else:
            pytest.fail(f"attack returned rows: {sql!r} -> {res.rows[:3]}")
        leaked = [s for s in b_secrets if s in text]
        assert not leaked, (sql, text)
        assert engine._databases[WS_A] not in text, (sql, text)


def test_cross_workspace_union_only_sees_own(engine: Engine, b_secrets: list[str]) -> None:
    sql = "SELECT uuid, workspace_uuid FROM runs UNION ALL SELECT run_uuid, workspace_uuid FROM spans"
    res = engine.query(WS_A, sql)
    text = repr(res.rows)
    assert not [s for s in b_secrets if s in text]
    assert {r["workspace_uuid"] for r in res.rows} == {WS_A}


# -- cancellation and threads ----------------------------------------------------------------


def test_cancel_and_parallel_queries(engine: Engine) -> None:
    slow = (
        "SELECT count() FROM spans AS a CROSS JOIN spans AS b "
        "CROSS JOIN (SELECT execution_index FROM spans LIMIT 100) AS c "
        "WHERE a.execution_index + b.execution_index + c.execution_index = 1000000"
    )
    out: dict[str, Any] = {}

    def run() -> None:
        t0 = time.perf_counter()
        try:
            out["res"] = engine.query(WS_A, slow, query_id="test-slow-1")
        except QueryError as e:
            out["err"] = e
        out["secs"] = time.perf_counter() - t0

    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.3)
    # Other queries are not blocked by the slow one.
    assert engine.query(WS_B, "SELECT count() FROM runs").rows == [{"count()": 50}]
    engine.cancel("test-slow-1")
    th.join(timeout=20)
    assert not th.is_alive()
    assert "err" in out, out
    assert out["err"].code == 394
    assert out["secs"] < 10
    # The connection-per-query design: nothing from the killed query leaks into the next one.
    assert engine.query(WS_A, "SELECT 1 AS x").rows == [{"x": 1}]


def test_unknown_workspace(engine: Engine) -> None:
    with pytest.raises(KeyError):
        engine.query("no-such-workspace", "SELECT 1")
