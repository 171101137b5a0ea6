"""Rules on the parsed statement: only the four tables (or CTEs), no table functions, no escapes.

:func:`rejection` returns the first problem as a sentence that names the construct and says what to
send instead, or ``None`` when the statement is a plain read of Cargo's tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cargo_mcp.api.sql import CAPS_SUMMARY, TABLES, table_list
from cargo_mcp.guard.rules import (
    DENIED_FUNCTIONS,
    DENIED_PREFIXES,
    GENERATOR_MAX,
    GENERATORS,
    IN_FUNCTIONS,
    KNOWN_TABLES,
    SCALAR_TWINS,
    STATEMENTS,
    TABLE_FUNCTIONS,
    VIRTUAL_COLUMNS,
    normalized,
)

TABLE_LIST = table_list("or")


def rejection(tree: exp.Expr) -> str | None:
    """Why ``tree`` may not be sent to Cargo, or ``None``."""
    if not isinstance(tree, exp.Query):
        kw = tree.name.upper() if isinstance(tree, exp.Command) else tree.key.upper()
        return STATEMENTS.get(kw, "{kw} is not a query. Instead, send one SELECT (or WITH … SELECT)").format(kw=kw)
    for node in tree.walk():
        reason = _node_rejection(node)
        if reason is not None:
            return reason
    return None


def function_names(node: exp.Func) -> set[str]:
    """Every normalized name a function node may go by (its written name, sqlglot's name and class key)."""
    names = {normalized(node.key), normalized(node.sql_name())}
    written = _written_name(node)
    if written:
        names.add(normalized(written))
    return names


def _written_name(node: exp.Func) -> str | None:
    """The name as written, also when it was quoted (`` `file`(…) `` parses with an Identifier)."""
    this = node.args.get("this")
    if isinstance(this, str):
        return this
    return this.name if isinstance(this, exp.Identifier) else None


def _aliases_in_scope(node: exp.Expr) -> set[str]:
    """Aliases of the tables and subqueries in FROM / JOIN of every SELECT enclosing ``node``.

    A qualifier is an alias only where it is in scope: ``system.x`` is not excused by an unrelated
    ``… FROM runs AS system`` elsewhere in the statement.
    """
    return {src.alias for select in _enclosing_selects(node) for src in _sources(select) if src.alias}


def _enclosing_selects(node: exp.Expr) -> list[exp.Select]:
    """The SELECTs whose FROM items ``node`` can see: up the tree, but not past a derived table (a subquery in
    FROM / JOIN sees none of its siblings)."""
    found: list[exp.Select] = []
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(child, exp.Subquery) and isinstance(parent, exp.From | exp.Join):
            break
        if isinstance(parent, exp.Select):
            found.append(parent)
        child, parent = parent, parent.parent
    return found


def _sources(select: exp.Select) -> list[exp.Expr]:
    sources = [select.args["from_"].this] if select.args.get("from_") else []
    sources += [j.this for j in select.args.get("joins") or []]
    return [src for src in sources if isinstance(src, exp.Table | exp.Subquery)]


def _names_in_scope(node: exp.Expr) -> set[str]:
    """Names a bare identifier can mean as a value here: columns of the four tables read in scope, output names
    of CTEs and subqueries read in scope, projection aliases of the enclosing SELECTs and lambda parameters."""
    names: set[str] = set()
    ctes: dict[str, exp.Expr] = {}
    selects = _enclosing_selects(node)
    for select in selects:
        with_ = select.args.get("with_")
        if isinstance(with_, exp.With):
            ctes |= {c.alias: c.this for c in with_.expressions if c.alias}
    for select in selects:
        names |= {e.alias for e in select.expressions if isinstance(e, exp.Alias) and e.alias}
        for src in _sources(select):
            if isinstance(src, exp.Table) and src.name in TABLES and not src.args.get("db"):
                names |= {c for c, _ in TABLES[src.name]}
            elif isinstance(src, exp.Table) and src.name in ctes:
                names |= _output_names(ctes[src.name])
            else:
                names |= _output_names(src)
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Lambda):
            names |= {p.name for p in parent.expressions}
        parent = parent.parent
    return names


def _output_names(query: exp.Expr) -> set[str]:
    inner = query.this if isinstance(query, exp.Subquery) else query
    if isinstance(inner, exp.Select):
        return {e.alias_or_name for e in inner.expressions if e.alias_or_name}
    if isinstance(inner, exp.SetOperation):
        return _output_names(inner.this)
    return set()


def _ctes_in_scope(node: exp.Expr) -> set[str]:
    """Names of the table CTEs (``WITH t AS (SELECT …)``) of the queries enclosing ``node``; scalar ``WITH x AS
    expr`` names are values, not tables. A CTE's body does not see its own name, except the recursive step (the
    branch after the anchor) of a WITH RECURSIVE union."""
    found: set[str] = set()
    hidden: set[str] = set()
    path: list[exp.Expr] = [node]
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.CTE) and parent.alias and not _in_recursive_step(parent, path):
            hidden.add(parent.alias)
        with_ = None if isinstance(parent, exp.CTE) else parent.args.get("with_")
        if isinstance(with_, exp.With):
            found |= {c.alias for c in with_.expressions if c.alias and not c.args.get("scalar")} - hidden
        path.append(parent)
        parent = parent.parent
    return found


def _in_recursive_step(cte: exp.CTE, path: list[exp.Expr]) -> bool:
    """``path`` (from the node up to the CTE's body) runs through the non-anchor branch of WITH RECURSIVE."""
    with_, body = cte.parent, cte.this
    if not (isinstance(with_, exp.With) and with_.args.get("recursive") and isinstance(body, exp.Union)):
        return False
    return len(path) >= 2 and path[-1] is body and path[-2] is not body.this


def _node_rejection(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Use):
        kw = node.name.upper() if isinstance(node, exp.Command) else node.key.upper()
        return STATEMENTS.get(kw, "{kw} is not allowed inside a query. Instead, use SELECT").format(kw=kw)
    if isinstance(node, exp.Query | exp.Subquery):
        return _clause_rejection(node)
    if isinstance(node, exp.Table):
        return _table_rejection(node, _ctes_in_scope(node))
    if isinstance(node, exp.In):
        return _in_rejection(node)
    if isinstance(node, exp.Column) and node.table and _is_system(node.table) and not _is_alias(node.table, node):
        return _name_rejection(node.name, node.table, set(), "column")
    if isinstance(node, exp.Column) and node.name in VIRTUAL_COLUMNS:
        return (
            f"The virtual column {node.name} describes the server's storage and is refused. "
            f"Instead, select the columns of {TABLE_LIST} (cargo://sql/schema lists them)."
        )
    if isinstance(node, exp.Column) and node.args.get("db") is not None:
        return (
            f"The three-part name {node.sql()} reaches into another database. "
            "Instead, write table_or_alias.column with one of the four tables."
        )
    if isinstance(node, exp.Placeholder):
        return (
            f"Query parameters ({node.sql(dialect='clickhouse')}) are not supported by Cargo's SQL endpoint. "
            "Instead, write the value inline as a literal."
        )
    if isinstance(node, exp.WithFill):
        return _fill_rejection(node)
    if isinstance(node, exp.Func):
        return _function_rejection(node)
    return None


def _fill_rejection(fill: exp.WithFill) -> str | None:
    """``ORDER BY … WITH FILL FROM a TO b STEP s`` makes (b - a) / s rows without reading any."""
    start, end = constant(fill.args.get("from_")) or 0.0, constant(fill.args.get("to"))
    step = constant(fill.args.get("step")) or 1.0
    if end is None or not step:
        return None
    if abs(end - start) / abs(step) > GENERATOR_MAX:
        return (
            f"WITH FILL from {start:g} to {end:g} would generate more than {GENERATOR_MAX:,} rows. "
            "Instead, fill a smaller range or a larger STEP."
        )
    return None


def _is_alias(qualifier: str, node: exp.Expr) -> bool:
    return qualifier in _aliases_in_scope(node)


def _clause_rejection(node: exp.Expr) -> str | None:
    if node.args.get("settings"):
        return (
            "A SETTINGS clause could lift Cargo's caps and is refused. "
            f"Instead, remove it: the caps ({CAPS_SUMMARY}) are fixed."
        )
    if node.args.get("format"):
        return "A FORMAT clause is refused. Instead, remove it: results always come back as JSON rows."
    if node.args.get("into"):
        return "SELECT … INTO writes a table and is refused. Instead, remove INTO; the rows come back to you."
    return None


def _in_rejection(node: exp.In) -> str | None:
    """``x IN t`` and ``x IN ((db.t))`` read a table in ClickHouse: check those names as tables."""
    field = _qualified(_unwrapped(node.args.get("field")))
    if field is not None:
        db, name = field
        if db is not None:
            return _name_rejection(name, db, set(), "IN")
        return _name_rejection(name, None, _ctes_in_scope(node), "IN")
    for item in node.expressions:
        reason = _in_target_rejection(_unwrapped(item), node)
        if reason is not None:
            return reason
    return None


def _in_function_rejection(node: exp.Func) -> str | None:
    """``globalIn(x, t)``, ``notIn(x, ((db.t)))``, …: the second argument is checked as ``x IN t`` would be."""
    args = list(node.expressions)
    return _in_target_rejection(_unwrapped(args[1]), node) if len(args) > 1 else None


def _in_target_rejection(target: exp.Expr | None, node: exp.Expr) -> str | None:
    """A name on the right of IN is a table unless it is a value in scope (a column of a table read here, an
    alias, a lambda parameter); a qualifier must be an alias of a table in scope."""
    named = _qualified(target)
    if named is None:
        return None
    db, name = named
    if db is not None:
        if _is_system(db) or not _is_alias(db, node):  # old analyzers read system.x here even under an alias
            return _name_rejection(name, db, set(), "IN")
        return None
    if name in _names_in_scope(node):
        return None
    return _name_rejection(name, None, _ctes_in_scope(node), "IN")


def _qualified(node: exp.Expr | None) -> tuple[str | None, str] | None:
    """``(qualifier, name)`` of a column, or of ``p.x`` inside a lambda (a Dot of two names); else None."""
    if isinstance(node, exp.Column):
        return node.table or None, node.name
    if (
        isinstance(node, exp.Dot)
        and isinstance(node.this, exp.Identifier)
        and isinstance(node.expression, exp.Identifier)
    ):
        return node.this.name, node.expression.name
    return None


def _unwrapped(node: exp.Expr | None) -> exp.Expr | None:
    """The expression inside any parentheses and ``AS`` aliases: ``((ws.t AS z))`` is ``ws.t``."""
    while isinstance(node, exp.Paren | exp.Alias):
        node = node.this
    return node


def _is_system(qualifier: str) -> bool:
    return qualifier.lower() in ("system", "information_schema")


def _table_rejection(table: exp.Table, ctes: set[str]) -> str | None:
    if isinstance(table.parent, exp.Join) and table.parent.args.get("kind") == "ARRAY":
        db = table.args["db"].name if table.args.get("db") else ""
        if db and _is_system(db) and not _is_alias(db, table):
            return _name_rejection(table.name, db, ctes, "ARRAY JOIN")
        return None  # ARRAY JOIN unfolds a column, not a table
    if isinstance(table.this, exp.Func):
        name = table.this.name or table.this.sql_name()
        return (
            f"The table function {name}() is denied by Cargo (table functions read outside the workspace). "
            f"Instead, select FROM {TABLE_LIST}."
        )
    if table.args.get("catalog") is not None:
        return f"The name {table.sql()} has too many parts. Instead, select FROM {TABLE_LIST} without a prefix."
    return _name_rejection(table.name, table.args["db"].name if table.args.get("db") else None, ctes, "FROM")


def _name_rejection(name: str, db: str | None, ctes: set[str], where: str) -> str | None:
    if db is not None:
        if _is_system(db):
            return (
                f"{db}.{name}: system and information_schema tables are denied by Cargo. "
                "Instead, read the resource cargo://sql/schema for the tables and columns."
            )
        return (
            f"The schema-prefixed table {db}.{name} is refused: Cargo's tables have no schema prefix. "
            f"Instead, write {name if name in KNOWN_TABLES else TABLE_LIST} alone."
        )
    if name in KNOWN_TABLES or name in ctes:
        return None
    if normalized(name) in TABLE_FUNCTIONS:
        return f"The table function {name}() is denied by Cargo. Instead, select FROM {TABLE_LIST}."
    if name.lower() in KNOWN_TABLES:
        return f"Unknown table {name}: table names are case-sensitive. Instead, write {name.lower()}."
    return (
        f"Unknown table {name} ({where} {name}). Instead, use one of {TABLE_LIST}, or a name defined in WITH … AS (…)."
    )


def _function_rejection(node: exp.Func) -> str | None:
    called = function_names(node)
    written = _written_name(node)
    shown = written or node.sql_name()
    spelling, family = next((DENIED_FUNCTIONS[n] for n in called if n in DENIED_FUNCTIONS), (shown, None))
    if family is None and written:
        family = next((f for prefix, f in DENIED_PREFIXES.items() if written.lower().startswith(prefix)), None)
    if family is not None:
        spelling = written or spelling
        return (
            f"{spelling}() is one of the {family} Cargo denies. "
            f"Instead, compute the value from the columns of {TABLE_LIST}."
        )
    if called & (TABLE_FUNCTIONS - SCALAR_TWINS):
        return (
            f"{shown}() is a table function, denied by Cargo wherever it appears. "
            f"Instead, read {TABLE_LIST} (use a subquery for IN)."
        )
    if called & IN_FUNCTIONS:
        return _in_function_rejection(node)
    if called & GENERATORS:
        for arg in node.iter_expressions():
            size = constant(arg)
            if size is not None and size > GENERATOR_MAX:
                return (
                    f"{shown}({arg.sql(dialect='clickhouse')}) builds a value larger than {GENERATOR_MAX:,} "
                    "elements in memory. Instead, use a smaller argument or aggregate over the tables' rows."
                )
    return None


_FOLD: dict[type[exp.Binary], Callable[[float, float], float]] = {
    exp.Add: float.__add__,
    exp.Sub: float.__sub__,
    exp.Mul: float.__mul__,
    exp.Pow: float.__pow__,
    exp.Div: float.__truediv__,
    exp.IntDiv: float.__floordiv__,
    exp.BitwiseLeftShift: lambda a, b: a * 2.0**b,
}
# Functions whose value is computed from constant arguments (by their lower-cased name).
_CALLS: dict[str, Callable[[list[float]], float]] = {
    "plus": sum,
    "multiply": lambda a: a[0] * a[1],
    "minus": lambda a: a[0] - a[1],
    "divide": lambda a: a[0] / a[1],
    "intdiv": lambda a: a[0] // a[1],
    "power": lambda a: a[0] ** a[1],
    "pow": lambda a: a[0] ** a[1],
    "exp10": lambda a: 10.0 ** a[0],
    "intexp10": lambda a: 10.0 ** a[0],
    "exp2": lambda a: 2.0 ** a[0],
    "intexp2": lambda a: 2.0 ** a[0],
    "bitshiftleft": lambda a: a[0] * 2.0 ** a[1],
    "greatest": max,
    "least": min,
    "abs": lambda a: abs(a[0]),
    "materialize": lambda a: a[0],
    "identity": lambda a: a[0],
}
_DEPTH = 20


def constant(node: exp.Expr | None) -> float | None:
    """The number a constant expression evaluates to — literals (decimal, hex, binary), arithmetic, shifts,
    casts and numeric functions of constants, and names bound to constants by ``WITH n AS …`` or ``… AS n`` —
    else None."""
    try:
        return _fold(node, _DEPTH)
    except (ArithmeticError, ValueError, IndexError, OverflowError):
        return float("inf")  # too big to evaluate is too big to build


def _fold(node: exp.Expr | None, depth: int) -> float | None:
    if node is None or depth <= 0:
        return None
    if isinstance(node, exp.Paren):
        return _fold(node.this, depth - 1)
    if isinstance(node, exp.HexString):
        return float(int(str(node.this), 16))
    if isinstance(node, exp.BitString):
        return float(int(str(node.this), 2))
    if isinstance(node, exp.Literal):
        return _number(str(node.this))
    if isinstance(node, exp.Neg):
        inner = _fold(node.this, depth - 1)
        return -inner if inner is not None else None
    if isinstance(node, exp.Column) and not node.table:
        return _fold(_bound_value(node), depth - 1)
    if isinstance(node, exp.Binary) and type(node) in _FOLD:
        left, right = _fold(node.this, depth - 1), _fold(node.expression, depth - 1)
        return _FOLD[type(node)](left, right) if left is not None and right is not None else None
    if isinstance(node, exp.Func):
        args = [a for a in node.iter_expressions() if not isinstance(a, exp.DataType)]
        values = [_fold(a, depth - 1) for a in args]
        if any(v is None for v in values):
            return None
        numbers = [v for v in values if v is not None]
        name = (_written_name(node) or node.sql_name()).lower()
        if isinstance(node, exp.Cast) or name.startswith("to"):
            return numbers[0] if len(numbers) == 1 else None
        call = _CALLS.get(name) or _CALLS.get(node.key)
        return call(numbers) if call and numbers else None
    return None


def _bound_value(column: exp.Column) -> exp.Expr | None:
    """The expression a bare name is bound to by a scalar ``WITH expr AS name`` or a projection ``expr AS name``."""
    for select in _enclosing_selects(column):
        with_ = select.args.get("with_")
        for cte in with_.expressions if isinstance(with_, exp.With) else []:
            if cte.alias == column.name and cte.args.get("scalar") and isinstance(cte.this, exp.Expr):
                return cte.this
        for e in select.expressions:
            bound = e.this if isinstance(e, exp.Alias) and e.alias == column.name else None
            if isinstance(bound, exp.Expr) and column not in bound.walk():
                return bound
    return None


def _number(text: str) -> float | None:
    try:
        return float(text.replace("_", ""))
    except ValueError:
        try:
            return float(int(text, 0))
        except ValueError:
            return None
