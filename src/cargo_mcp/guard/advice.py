"""Pre-flight advice: queries that will pass the guard but are likely to hit one of Cargo's caps."""

from __future__ import annotations

from sqlglot import exp

from cargo_mcp.api.models import BATCH_STATUSES, EXECUTION_STATUSES, RECORD_STATUSES, RUN_STATUSES
from cargo_mcp.api.sql import MAX_COLUMNS_READ, MAX_ROWS_READ, TABLES
from cargo_mcp.api.vocabulary import RUN_STATUS_SYNONYMS

TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("created_at", "updated_at", "finished_at"),
    "records": ("created_at", "updated_at", "finished_at"),
    "spans": ("execution_started_at", "execution_finished_at", "execution_updated_at"),
}
# The values a status column can hold ("status" is on runs, batches and records).
STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "status": tuple(dict.fromkeys((*RUN_STATUSES, *BATCH_STATUSES, *RECORD_STATUSES))),
    "execution_status": EXECUTION_STATUSES,
}
RUNS_COLUMNS_HINT = "uuid, status, record_id, record_title, error_message, created_at, finished_at, credits_used_count"


def advise(tree: exp.Expr) -> list[str]:
    """Advice for ``tree`` (a query the guard allowed); empty when nothing stands out."""
    ctes = {cte.alias: cte.this for cte in tree.find_all(exp.CTE) if cte.alias}
    advice: list[str] = []
    if any(_star_width(select, ctes) > MAX_COLUMNS_READ for select in _output_selects(tree)):
        advice.append(
            f"SELECT * on runs asks for all {len(TABLES['runs'])} columns, over Cargo's {MAX_COLUMNS_READ}-column cap "
            f"(Code 161, TOO_MANY_COLUMNS). List the columns you need instead, e.g. {RUNS_COLUMNS_HINT}."
        )
    advice += _status_word_advice(tree)
    for table in sorted(_unbounded_tables(tree, set(ctes))):
        first = TIME_COLUMNS[table][0]
        advice.append(
            f"No time predicate on {table}: Cargo stops a query after {MAX_ROWS_READ:,} rows read (Code 158). "
            f"Add one, e.g. WHERE {first} > now() - INTERVAL 7 DAY."
        )
    return advice


def _output_selects(query: exp.Expr) -> list[exp.Select]:
    if isinstance(query, exp.Select):
        return [query]
    if isinstance(query, exp.SetOperation):
        return _output_selects(query.this) + _output_selects(query.expression)
    if isinstance(query, exp.Subquery):
        return _output_selects(query.this)
    return []


def _star_width(select: exp.Select, ctes: dict[str, exp.Expr], seen: frozenset[str] = frozenset()) -> int:
    """How many columns a star in ``select``'s projection reads (0 without a star); ``seen`` stops CTEs that
    refer to themselves (WITH RECURSIVE) from recursing."""
    stars = [e for e in select.expressions if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)]
    if not stars:
        return 0
    excepted = sum(len(s.args.get("except_") or []) for s in stars if isinstance(s, exp.Star))
    from_ = select.args.get("from_")
    sources = [from_.this] if isinstance(from_, exp.From) else []
    sources += [j.this for j in select.args.get("joins") or [] if j.args.get("kind") != "ARRAY"]
    width = 0
    for source in sources:
        if isinstance(source, exp.Table) and source.name in ctes:
            if source.name not in seen:
                inner = _output_selects(ctes[source.name])
                width += max((_star_width(s, ctes, seen | {source.name}) for s in inner), default=0)
        elif isinstance(source, exp.Table) and source.name in TABLES and not source.args.get("db"):
            width += len(TABLES[source.name])
        elif isinstance(source, exp.Subquery):
            width += max((_star_width(s, ctes, seen) for s in _output_selects(source)), default=0)
    return width - excepted


def _unbounded_tables(tree: exp.Expr, ctes: set[str]) -> set[str]:
    """Tables among runs/spans/records read with no time predicate in their query or an enclosing one."""
    unbounded: set[str] = set()
    for table in tree.find_all(exp.Table):
        name = table.name
        if name not in TIME_COLUMNS or name in ctes or table.args.get("db"):
            continue
        if not _has_time_predicate(table, TIME_COLUMNS[name]):
            unbounded.add(name)
    return unbounded


def _has_time_predicate(table: exp.Table, columns: tuple[str, ...]) -> bool:
    """A comparison on a time column (``created_at > …``, ``BETWEEN``, ``toDate(x) = …``) in the WHERE, PREWHERE or
    JOIN … ON of the table's query or an enclosing one; ``finished_at IS NULL`` bounds nothing."""
    select = table.find_ancestor(exp.Select)
    while select is not None:
        conditions = [select.args.get("where"), select.args.get("prewhere")]
        conditions += [j.args.get("on") for j in select.args.get("joins") or []]
        for condition in filter(None, conditions):
            for column in condition.find_all(exp.Column):
                if column.name in columns and isinstance(column.find_ancestor(*_COMPARISONS, exp.Is), _COMPARISONS):
                    return True
        select = select.find_ancestor(exp.Select)
    return False


_COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.Between)


def _status_word_advice(tree: exp.Expr) -> list[str]:
    """``status = 'failed'`` matches nothing: Cargo's words are error/success/…; say which one was meant."""
    advice: list[str] = []
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else node.expression
        if not isinstance(column, exp.Column) or column.name not in STATUS_VALUES:
            continue
        values = node.expressions if isinstance(node, exp.In) else [node.this, node.expression]
        valid = STATUS_VALUES[column.name]
        for literal in values:
            if isinstance(literal, exp.Literal) and literal.is_string and literal.this not in valid:
                meant = RUN_STATUS_SYNONYMS.get(literal.this.strip().lower())
                instead = f"'{meant}'" if meant in valid else f"one of {', '.join(valid)}"
                advice.append(
                    f"{column.name} is never {literal.this!r}, so that comparison matches no row: write {instead}."
                )
    return list(dict.fromkeys(advice))
