"""The SQL guard on its own: corpora, messages, limits, rendering, advice, error translation, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from cargo_mcp.cli import main
from cargo_mcp.guard.explain import next_step
from cargo_mcp.guard.sql import check
from tests.guard_corpus import ADVERSARIAL, LARGE_ADVERSARIAL, LARGE_LEGIT, LEGIT


def fill(sql: str) -> str:
    ids = {"{workflow_uuid}": "w", "{batch_uuid}": "b", "{run_uuid}": "r"}
    for key, value in ids.items():
        sql = sql.replace(key, value)
    return sql


def test_corpora_are_large_enough() -> None:
    assert len(ADVERSARIAL) >= 100 and len({sql for sql, _ in ADVERSARIAL}) == len(ADVERSARIAL)
    assert len(LEGIT) >= 50 and len(set(LEGIT)) == len(LEGIT)


@pytest.mark.parametrize(("sql", "construct"), ADVERSARIAL, ids=[s[:60] for s, _ in ADVERSARIAL])
def test_adversarial_statement_is_refused_naming_the_construct(sql: str, construct: str) -> None:
    verdict = check(sql)
    assert not verdict.allowed, f"false accept; would send: {verdict.sql}"
    assert verdict.reason is not None
    assert construct.lower() in verdict.reason.lower()
    assert "Instead" in verdict.reason, "every refusal says what to send instead"
    assert verdict.limit_applied is None


@pytest.mark.parametrize("sql", LEGIT, ids=[s[:60] for s in LEGIT])
def test_legitimate_query_is_accepted(sql: str) -> None:
    verdict = check(fill(sql))
    assert verdict.allowed, verdict.reason
    assert verdict.reason is None


@pytest.mark.parametrize(("sql", "construct"), LARGE_ADVERSARIAL, ids=[c for _, c in LARGE_ADVERSARIAL])
def test_statements_over_the_size_limits_are_refused_before_parsing(sql: str, construct: str) -> None:
    verdict = check(sql)
    assert not verdict.allowed and verdict.reason is not None
    assert construct in verdict.reason and "Instead" in verdict.reason and "subquery" in verdict.reason


@pytest.mark.parametrize("sql", LARGE_LEGIT, ids=["long string literal", "6,000 uuids in IN"])
def test_statements_just_under_the_limits_are_checked_in_full(sql: str) -> None:
    verdict = check(sql)
    assert verdict.allowed, verdict.reason
    assert len(verdict.sql.encode()) <= 262_144


def test_a_check_past_its_deadline_is_a_refusal() -> None:
    v = check("SELECT count() FROM runs WHERE created_at > now() - INTERVAL 1 DAY", deadline=time.monotonic() - 1)
    assert not v.allowed and v.reason is not None
    assert "could not check this statement within 5 s" in v.reason and "simplify" in v.reason


def test_hex_strings_and_byte_escapes_are_sent_as_the_same_bytes() -> None:
    assert check("SELECT x'41FF' AS b, X'e282ac' AS euro").sql == "SELECT 'A\\xFF' AS b, '€' AS euro LIMIT 1000"
    assert check("SELECT 'caf\\xC3\\xA9', '\\xff', 'ÿ', x''").sql == "SELECT 'café', '\\xFF', 'ÿ', '' LIMIT 1000"


def test_generator_sizes_fold_through_bounds_not_only_constants() -> None:
    assert check("SELECT length(range(toUInt64(least(executions_count, 20)))) FROM runs").allowed
    assert check("SELECT length(range(executions_count % 1000)) FROM runs").allowed
    v = check("SELECT length(range(executions_count)) FROM runs")
    assert not v.allowed and "it can reach 4,294,967,295" in (v.reason or "")
    v = check("SELECT arrayJoin(range(if(rand() > 0, 2000000, 1)))")
    assert not v.allowed and "it can reach 2,000,000" in (v.reason or "")


def test_fill_rows_are_bounded_by_from_to_or_the_key_type() -> None:
    date_fill = "SELECT toDate(created_at) AS d FROM runs GROUP BY d ORDER BY d WITH FILL"
    assert check(date_fill).allowed  # a Date spans 65,536 days at most
    v = check(date_fill.replace("toDate(created_at)", "toStartOfHour(created_at)"))
    assert not v.allowed and "without FROM and TO" in (v.reason or "")
    now_fill = "SELECT h FROM (SELECT 1 AS h) ORDER BY h WITH FILL FROM now() - INTERVAL 2 HOUR TO now() STEP {}"
    assert check(now_fill.format("INTERVAL 1 MINUTE")).allowed
    v = check(now_fill.format("INTERVAL 1 MILLISECOND"))
    assert not v.allowed and "WITH FILL would generate up to" in (v.reason or "")


def test_advice_for_unfiltered_cross_joins() -> None:
    def cross(sql: str) -> list[str]:
        return [a for a in check(sql).advice if "rows times rows" in a]

    time_bound = " r.created_at > now() - INTERVAL 1 DAY AND s.execution_started_at > now() - INTERVAL 1 DAY"
    assert len(cross("SELECT count() FROM runs AS r, spans AS s WHERE" + time_bound)) == 1
    assert "r and s are joined" in cross("SELECT count() FROM runs AS r CROSS JOIN spans AS s WHERE" + time_bound)[0]
    assert cross("SELECT count() FROM runs AS r, spans AS s WHERE s.run_uuid = r.uuid AND" + time_bound) == []
    assert cross("SELECT count() FROM runs AS r JOIN spans AS s ON s.run_uuid = r.uuid WHERE" + time_bound) == []
    assert cross("SELECT count() FROM runs AS r, (SELECT max(created_at) AS m FROM runs) AS x WHERE r.created_at > x.m") == []
    assert cross("SELECT count() FROM runs AS r ARRAY JOIN r.executions_status AS st WHERE r.created_at > now()") == []


def test_a_table_alias_may_be_called_system() -> None:
    v = check("SELECT system.uuid FROM runs AS system WHERE system.created_at > now() - INTERVAL 1 HOUR")
    assert v.allowed, v.reason


def test_limit_is_added_when_missing() -> None:
    v = check("SELECT uuid FROM runs WHERE created_at > now() - INTERVAL 1 DAY", max_rows=50)
    assert v.sql.endswith(" LIMIT 50") and v.limit_applied == 50


def test_small_limit_is_kept() -> None:
    v = check("SELECT uuid FROM runs LIMIT 5", max_rows=50)
    assert v.sql == "SELECT uuid FROM runs LIMIT 5" and v.limit_applied is None


def test_large_limit_is_clamped_and_max_rows_never_exceeds_the_cap() -> None:
    v = check("SELECT uuid FROM runs LIMIT 50000", max_rows=1_000_000)
    assert v.sql == "SELECT * FROM (SELECT uuid FROM runs LIMIT 50000) LIMIT 10000" and v.limit_applied == 10_000


def test_union_is_bounded_as_a_whole() -> None:
    v = check("SELECT 1 AS x UNION ALL SELECT 2 AS x LIMIT 1", max_rows=10)
    assert v.sql == "SELECT * FROM (SELECT 1 AS x UNION ALL SELECT 2 AS x LIMIT 1) LIMIT 10"


def test_limit_by_is_not_mistaken_for_the_row_limit() -> None:
    v = check("SELECT workflow_uuid, uuid FROM runs ORDER BY created_at LIMIT 2 BY workflow_uuid", max_rows=7)
    assert v.sql.endswith("LIMIT 2 BY workflow_uuid LIMIT 7") and v.limit_applied == 7
    v = check("SELECT workflow_uuid, uuid FROM runs ORDER BY created_at LIMIT 2 OFFSET 1 BY workflow_uuid", max_rows=7)
    assert v.sql.endswith("LIMIT 2 OFFSET 1 BY workflow_uuid LIMIT 7") and v.limit_applied == 7
    v = check("SELECT uuid FROM runs ORDER BY created_at LIMIT 2 OFFSET 1 BY workflow_uuid LIMIT 50000", max_rows=7)
    assert v.allowed and v.limit_applied == 7 and v.sql.endswith(") LIMIT 7")


def test_with_ties_is_wrapped_because_it_may_return_more_rows() -> None:
    v = check("SELECT status FROM runs ORDER BY status LIMIT 1 WITH TIES", max_rows=5)
    assert v.allowed and v.limit_applied == 5 and v.sql.startswith("SELECT * FROM (") and v.sql.endswith(") LIMIT 5")


def test_an_alias_excuses_a_qualifier_only_in_its_own_scope() -> None:
    assert check("SELECT system.uuid FROM runs AS system").allowed
    assert check("SELECT uuid FROM runs AS r WHERE exists(SELECT 1 FROM spans WHERE spans.run_uuid = r.uuid)").allowed
    assert not check("SELECT system.name FROM runs WHERE uuid IN (SELECT uuid FROM runs AS system)").allowed


def test_offset_without_limit_is_wrapped() -> None:
    v = check("SELECT uuid FROM runs ORDER BY created_at OFFSET 10", max_rows=5)
    assert v.sql.startswith("SELECT * FROM (") and v.sql.endswith(") LIMIT 5")


def test_sent_sql_drops_comments_and_requotes_literals() -> None:
    v = check("SELECT 'it''s -- here' AS a, /* c; DROP */ `status` FROM runs -- tail\n LIMIT 3")
    assert v.allowed
    assert v.sql == "SELECT 'it\\'s -- here' AS a, `status` FROM runs LIMIT 3"


def test_control_characters_in_strings_are_escaped() -> None:
    v = check("SELECT 'a\\nb\\0c' AS s")
    assert v.allowed and v.sql.startswith("SELECT 'a\\x0Ab\\x00c' AS s")


def test_user_spelling_of_functions_is_kept() -> None:
    v = check("SELECT toStartOfMonth(created_at) AS m, if(status = 'error', 1, 0) AS e FROM runs LIMIT 1")
    assert "toStartOfMonth(created_at)" in v.sql and "if(status = 'error', 1, 0)" in v.sql


def test_advice_for_select_star_on_runs() -> None:
    v = check("SELECT * FROM runs WHERE created_at > now() - INTERVAL 1 DAY")
    assert v.allowed and len(v.advice) == 1
    assert "50-column cap" in v.advice[0] and "uuid, status" in v.advice[0]


def test_no_star_advice_when_the_star_stays_inside_a_cte() -> None:
    v = check(LEGIT[8])  # WITH recent AS (SELECT * FROM runs …) SELECT status, count() FROM recent …
    assert v.allowed and v.advice == []


def test_star_advice_follows_ctes_and_subqueries() -> None:
    v = check("WITH r AS (SELECT * FROM runs WHERE created_at > now() - INTERVAL 1 DAY) SELECT * FROM r")
    assert any("50-column cap" in a for a in v.advice)
    v = check("SELECT * EXCEPT (nodes, deleted_at) FROM runs WHERE created_at > now() - INTERVAL 1 DAY")
    assert v.advice == []


def test_advice_for_status_words_cargo_does_not_use() -> None:
    v = check("SELECT count() FROM runs WHERE status = 'failed' AND created_at > now() - INTERVAL 1 DAY")
    assert v.allowed and v.advice == ["status is never 'failed', so that comparison matches no row: write 'error'."]
    v = check(
        "SELECT count() FROM spans WHERE execution_status IN ('error', 'finished') AND execution_started_at > now() - INTERVAL 1 DAY"
    )
    assert v.advice == ["execution_status is never 'finished', so that comparison matches no row: write 'success'."]
    assert check("SELECT count() FROM batches WHERE status IN ('querying', 'error')").advice == []


def test_advice_for_a_missing_time_predicate() -> None:
    v = check("SELECT node_slug, count() FROM spans GROUP BY node_slug")
    assert v.allowed and len(v.advice) == 1
    assert "spans" in v.advice[0] and "execution_started_at" in v.advice[0]
    assert check("SELECT count() FROM spans WHERE execution_started_at > now() - INTERVAL 1 DAY").advice == []
    assert check("SELECT count() FROM batches").advice == []
    assert check("SELECT count() FROM runs WHERE toDate(created_at) = today()").advice == []
    joined = "SELECT count() FROM runs AS r JOIN spans AS s ON s.run_uuid = r.uuid AND s.execution_started_at > now() - INTERVAL 1 DAY WHERE r.created_at > now() - INTERVAL 1 DAY"
    assert check(joined).advice == []  # a bound in JOIN … ON counts
    assert "No time predicate on runs" in check("SELECT count() FROM runs WHERE finished_at IS NULL").advice[0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "Code: 60. DB::Exception: Table orchestration.unknown doesn't exist. (UNKNOWN_TABLE)",
            "runs, batches, spans and records",
        ),
        (
            "Code: 47. DB::Exception: Unknown expression identifier 'created_att' in scope SELECT. (UNKNOWN_IDENTIFIER)",
            "created_at",
        ),
        (
            "Code: 161. DB::Exception: Limit for number of columns to read exceeded. Requested: 52, maximum: 50. (TOO_MANY_COLUMNS)",
            "instead of SELECT *",
        ),
        (
            "Code: 158. DB::Exception: Limit for rows (controlled by 'max_rows_to_read' setting) exceeded. (TOO_MANY_ROWS)",
            "execution_started_at",
        ),
        ("Code: 159. DB::Exception: Timeout exceeded: elapsed 30.1 seconds. (TIMEOUT_EXCEEDED)", "30 s"),
        ("Code: 497. DB::Exception: default: Not enough privileges. (ACCESS_DENIED)", "read-only"),
        ("Code: 167. DB::Exception: Too deep subqueries. Maximum: 5. (TOO_DEEP_SUBQUERIES)", "WITH"),
        ("Code: 46. DB::Exception: Unknown function countif. (UNKNOWN_FUNCTION)", "case-sensitive"),
    ],
)
def test_clickhouse_errors_become_next_steps(error: str, expected: str) -> None:
    sql = "SELECT created_att FROM spans WHERE execution_started_at > now() - INTERVAL 1 DAY"
    assert expected in next_step(error, sql)


def test_unknown_identifier_lists_the_columns_of_the_tables_queried() -> None:
    hint = next_step(
        "Code: 47. Unknown expression identifier `stauts`. (UNKNOWN_IDENTIFIER)", "SELECT stauts FROM batches"
    )
    assert "Did you mean status" in hint and "batches: uuid" in hint and "spans:" not in hint
    hint = next_step("Code: 47. Unknown expression identifier `foo`. (UNKNOWN_IDENTIFIER)", "SELECT foo FROM runs")
    assert "Did you mean" not in hint and "'foo' is not a column here" in hint and "runs: uuid" in hint


def test_check_sql_cli_prints_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-sql", "SELECT count() FROM batches", "--max-rows", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "allowed": True,
        "reason": None,
        "sql": "SELECT count() FROM batches LIMIT 10",
        "limit_applied": 10,
        "advice": [],
    }


def test_check_sql_cli_exits_1_on_refusal() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cargo_mcp.cli", "check-sql", "-"],
        input="SELECT * FROM system.tables",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["allowed"] is False and "system.tables" in out["reason"] and out["limit_applied"] is None


def test_refusals_quote_at_most_a_clipped_piece_of_a_huge_input() -> None:
    for sql in ("SELECT * FROM " + "t" * 100_000, "SELECT dict" + "x" * 100_000 + "(1)", "Z" * 100_000 + " 1"):
        reason = check(sql).reason
        assert reason is not None and len(reason) < 600 and "…" in reason
