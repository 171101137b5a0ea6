"""Pre-flight advice: queries that will pass the guard but are likely to hit one of Cargo's caps, or to pair every
row of one table with every row of another. Each piece is linear in the statement (memoised per SELECT)."""

from __future__ import annotations

from sqlglot import exp

from cargo_mcp.api.models import BATCH_STATUSES, EXECUTION_STATUSES, RECORD_STATUSES, RUN_STATUSES
from cargo_mcp.api.sql import MAX_COLUMNS_READ, MAX_ROWS_READ, TABLES
from cargo_mcp.api.vocabulary import RUN_STATUS_SYNONYMS
from cargo_mcp.guard.scope import Scopes

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


def advise(tree: exp.Expr, scopes: Scopes | None = None) -> list[str]:
    """Advice for ``tree`` (a query the guard allowed); empty when nothing stands out."""
    scopes = scopes or Scopes(tree)
    ctes = {cte.alias: cte.this for cte in scopes.of_type(exp.CTE) if cte.alias}
    advice: list[str] = []
    widths = _StarWidths(ctes)
    if any(widths.of(select) > MAX_COLUMNS_READ for select in _output_selects(tree)):
        advice.append(
            f"SELECT * on runs asks for all {len(TABLES['runs'])} columns, over Cargo's {MAX_COLUMNS_READ}-column cap "
            f"(Code 161, TOO_MANY_COLUMNS). List the columns you need instead, e.g. {RUNS_COLUMNS_HINT}."
        )
    advice += _status_word_advice(scopes)
    for table in sorted(_unbounded_tables(set(ctes), scopes)):
        first = TIME_COLUMNS[table][0]
        advice.append(
            f"No time predicate on {table}: Cargo stops a query after {MAX_ROWS_READ:,} rows read (Code 158). "
            f"Add one, e.g. WHERE {first} > now() - INTERVAL 7 DAY."
        )
    advice += _cross_join_advice(scopes)
    return list(dict.fromkeys(advice))


def _output_selects(query: exp.Expr) -> list[exp.Select]:
    """The SELECTs whose rows a query returns (every branch of a set operation, however long)."""
    found: list[exp.Select] = []
    pending = [query]
    while pending:
        node = pending.pop()
        if isinstance(node, exp.Select):
            found.append(node)
        elif isinstance(node, exp.SetOperation):
            pending += [node.expression, node.this]
        elif isinstance(node, exp.Subquery):
            pending.append(node.this)
    return found


class _StarWidths:
    """How many columns a star in a SELECT's projection reads (0 without a star), memoised per SELECT and CTE; a
    CTE that refers to itself (WITH RECURSIVE) counts 0 inside itself."""

    def __init__(self, ctes: dict[str, exp.Expr]) -> None:
        self._ctes = ctes
        self._selects: dict[int, int] = {}
        self._cte_widths: dict[str, int] = {}

    def of(self, select: exp.Select) -> int:
        if id(select) not in self._selects:
            self._selects[id(select)] = 0  # a cycle back here counts nothing
            self._selects[id(select)] = self._width(select)
        return self._selects[id(select)]

    def _query(self, query: exp.Expr) -> int:
        return max((self.of(s) for s in _output_selects(query)), default=0)

    def _cte(self, name: str) -> int:
        if name not in self._cte_widths:
            self._cte_widths[name] = 0
            self._cte_widths[name] = self._query(self._ctes[name])
        return self._cte_widths[name]

    def _width(self, select: exp.Select) -> int:
        stars = [e for e in select.expressions if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)]
        if not stars:
            return 0
        excepted = sum(len(s.args.get("except_") or []) for s in stars if isinstance(s, exp.Star))
        from_ = select.args.get("from_")
        sources = [from_.this] if isinstance(from_, exp.From) else []
        sources += [j.this for j in select.args.get("joins") or [] if j.args.get("kind") != "ARRAY"]
        width = 0
        for source in sources:
            if isinstance(source, exp.Table) and source.name in self._ctes:
                width += self._cte(source.name)
            elif isinstance(source, exp.Table) and source.name in TABLES and not source.args.get("db"):
                width += len(TABLES[source.name])
            elif isinstance(source, exp.Subquery):
                width += self._query(source)
        return width - excepted


def _unbounded_tables(ctes: set[str], scopes: Scopes) -> set[str]:
    """Tables among runs/spans/records read with no time predicate in their query or an enclosing one."""
    unbounded: set[str] = set()
    compared = _compared_time_columns(scopes)
    for table in scopes.of_type(exp.Table):
        name = table.name
        if name not in TIME_COLUMNS or name in ctes or table.args.get("db") or name in unbounded:
            continue
        columns = set(TIME_COLUMNS[name])
        if not any(compared.get(id(select), set()) & columns for select in scopes.selects_above(table)):
            unbounded.add(name)
    return unbounded


def _compared_time_columns(scopes: Scopes) -> dict[int, set[str]]:
    """Per SELECT (by id), the time columns compared (``created_at > …``, ``BETWEEN``, ``toDate(x) = …``) in its
    WHERE, PREWHERE or JOIN … ON, subqueries there included; under an IS (``finished_at IS NULL``) nothing is.
    One pass: a node is compared when its nearest comparison-or-IS (within its condition) is a comparison."""
    compared: dict[int, bool] = {}
    found: dict[int, set[str]] = {}
    for node in scopes.nodes:
        inherited = False if _condition_of(node) is not None else compared.get(id(node.parent), False)
        flag = isinstance(node, _COMPARISONS) or (inherited and not isinstance(node, exp.Is))
        compared[id(node)] = flag
        if flag and isinstance(node, exp.Column) and node.name in _TIME_NAMES:
            for scope in scopes.chain(node):
                select = _condition_of(scope)
                if select is not None:
                    found.setdefault(id(select), set()).add(node.name)
    return found


def _condition_of(node: exp.Expr) -> exp.Select | None:
    """The SELECT whose WHERE, PREWHERE or JOIN … ON ``node`` is."""
    parent = node.parent
    if isinstance(parent, exp.Select) and node.arg_key in ("where", "prewhere"):
        return parent
    if isinstance(parent, exp.Join) and node.arg_key == "on" and isinstance(parent.parent, exp.Select):
        return parent.parent
    return None


_COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.Between)
_TIME_NAMES = frozenset(c for columns in TIME_COLUMNS.values() for c in columns)


def _cross_join_advice(scopes: Scopes) -> list[str]:
    """``FROM a, b``, ``CROSS JOIN`` or a JOIN without ON / USING, with no WHERE comparison tying the two sides,
    pairs every row of one with every row of the other."""
    advice: list[str] = []
    for select in scopes.of_type(exp.Select):
        from_ = select.args.get("from_")
        if not isinstance(from_, exp.From):
            continue
        joins = [j for j in select.args.get("joins") or [] if j.args.get("kind") != "ARRAY"]
        tied: set[str] | None = None
        left = _source_name(from_.this)
        for join in joins:
            if join.args.get("on") is not None or join.args.get("using") or _one_row(join.this):
                left = _source_name(join.this)
                continue
            right = _source_name(join.this)
            tied = _tied_names(select.args.get("where")) if tied is None else tied
            if not (right in tied or "" in tied):
                advice.append(
                    f"{left} and {right} are joined with no ON, USING or WHERE condition tying them: ClickHouse pairs "
                    f"every row of one with every row of the other (rows times rows). Add JOIN … ON, e.g. "
                    "JOIN spans AS s ON s.run_uuid = r.uuid, or a WHERE comparison between the two."
                )
            left = right
    return advice


def _source_name(source: exp.Expr) -> str:
    return source.alias_or_name or f"({source.key})"


def _one_row(source: exp.Expr) -> bool:
    """A derived table that aggregates without GROUP BY returns one row: joining it multiplies nothing."""
    select = source.this if isinstance(source, exp.Subquery) else None
    return (
        isinstance(select, exp.Select)
        and not select.args.get("group")
        and any(e.find(exp.AggFunc) for e in select.expressions)
    )


def _tied_names(where: exp.Expr | None) -> set[str]:
    """Qualifiers ("" for a bare column) of the columns on either side of a WHERE equality between two columns."""
    tied: set[str] = set()
    for eq in where.find_all(exp.EQ) if where is not None else []:
        left, right = list(eq.this.find_all(exp.Column)), list(eq.expression.find_all(exp.Column))
        if left and right:
            tied |= {c.table for c in left + right}
    return tied


def _status_word_advice(scopes: Scopes) -> list[str]:
    """``status = 'failed'`` matches nothing: Cargo's words are error/success/…; say which one was meant."""
    advice: list[str] = []
    for node in scopes.of_type(exp.EQ, exp.NEQ, exp.In):
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
