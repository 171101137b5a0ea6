"""Accept exactly one read-only SELECT and bound its result rows (sqlglot, ClickHouse dialect)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cargo_mcp.guard.caps import MAX_ROWS

_READ_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


@dataclass
class Verdict:
    """The guard's answer: ``sql`` is what will be sent (with the LIMIT applied)."""

    allowed: bool
    reason: str | None
    sql: str
    limit_applied: int | None = None
    advice: list[str] = field(default_factory=list)


def check(sql: str, max_rows: int = 1000) -> Verdict:
    """Allow one read-only statement; add or clamp the outermost LIMIT to ``min(max_rows, 10000)``."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        return Verdict(False, "The SQL is empty. Send one SELECT statement.", sql)
    try:
        statements = [s for s in sqlglot.parse(text, read="clickhouse") if s is not None]
    except ParseError as e:
        first = str(e).splitlines()[0]
        return Verdict(False, f"The SQL does not parse as ClickHouse: {first}. Fix the syntax.", sql)
    if len(statements) != 1:
        return Verdict(
            False, f"Send exactly one statement; got {len(statements)}. Split them into separate calls.", sql
        )
    tree = statements[0]
    if not isinstance(tree, _READ_ROOTS):
        kind = tree.key.upper()
        return Verdict(False, f"Only SELECT (or WITH … SELECT) is allowed; got {kind}. Cargo SQL is read-only.", sql)
    cap = max(1, min(max_rows, MAX_ROWS))
    limit_applied = _clamp_limit(tree, cap)
    return Verdict(True, None, tree.sql(dialect="clickhouse"), limit_applied)


def _clamp_limit(tree: exp.Expression, cap: int) -> int | None:
    """Set the outermost LIMIT to ``cap`` when absent or larger; return the new limit or None."""
    limit = tree.args.get("limit")
    current = None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.is_int:
        current = int(limit.expression.this)
    if current is not None and current <= cap:
        return None
    tree.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
    return cap
