"""Rules on the parsed statement: only the four tables (or CTEs), no table functions, no escapes.

:func:`rejection` returns the first problem as a sentence that names the construct and says what to
send instead, or ``None`` when the statement is a plain read of Cargo's tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cargo_mcp.guard.rules import (
    ALL_COLUMNS,
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

TABLE_LIST = "runs, batches, spans or records"


def rejection(tree: exp.Expr) -> str | None:
    """Why ``tree`` may not be sent to Cargo, or ``None``."""
    if not isinstance(tree, exp.Query):
        kw = tree.name.upper() if isinstance(tree, exp.Command) else tree.key.upper()
        return STATEMENTS.get(kw, "{kw} is not a query. Instead, send one SELECT (or WITH … SELECT)").format(kw=kw)
    names = {a.alias for a in tree.find_all(exp.Alias) if a.alias} | ALL_COLUMNS
    for node in tree.walk():
        reason = _node_rejection(node, names)
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
    found: set[str] = set()
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Select):
            sources = [parent.args["from_"].this] if parent.args.get("from_") else []
            sources += [j.this for j in parent.args.get("joins") or []]
            found |= {src.alias for src in sources if isinstance(src, exp.Table | exp.Subquery) and src.alias}
        parent = parent.parent
    return found


def _ctes_in_scope(node: exp.Expr) -> set[str]:
    """Names of the table CTEs (``WITH t AS (SELECT …)``) of the queries enclosing ``node``; scalar ``WITH x AS
    expr`` names are values, not tables."""
    found: set[str] = set()
    defining: set[str] = set()  # a CTE's own body does not see its name, unless WITH RECURSIVE
    parent: exp.Expr | None = node
    while parent is not None:
        if isinstance(parent, exp.CTE) and parent.alias:
            defining.add(parent.alias)
        with_ = parent.args.get("with_")
        if isinstance(with_, exp.With):
            hidden = set() if with_.args.get("recursive") else defining
            found |= {c.alias for c in with_.expressions if c.alias and not c.args.get("scalar")} - hidden
        parent = parent.parent
    return found


def _node_rejection(node: exp.Expr, names: set[str]) -> str | None:
    if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Use):
        kw = node.name.upper() if isinstance(node, exp.Command) else node.key.upper()
        return STATEMENTS.get(kw, "{kw} is not allowed inside a query. Instead, use SELECT").format(kw=kw)
    if isinstance(node, exp.Query | exp.Subquery):
        return _clause_rejection(node)
    if isinstance(node, exp.Table):
        return _table_rejection(node, _ctes_in_scope(node))
    if isinstance(node, exp.In):
        return _in_rejection(node, names)
    if isinstance(node, exp.Column) and node.table and _is_system(node.table) and not _is_alias(node.table, node):
        return _name_rejection(node.name, node.table, set(), "column")
    if isinstance(node, exp.Column) and not node.table and node.name in VIRTUAL_COLUMNS:
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
    if isinstance(node, exp.Func):
        return _function_rejection(node, names)
    return None


def _is_alias(qualifier: str, node: exp.Expr) -> bool:
    return qualifier in _aliases_in_scope(node)


def _clause_rejection(node: exp.Expr) -> str | None:
    if node.args.get("settings"):
        return (
            "A SETTINGS clause could lift Cargo's caps and is refused. "
            "Instead, remove it: the caps (30 s, 10,000 result rows, 10,000,000 rows read) are fixed."
        )
    if node.args.get("format"):
        return "A FORMAT clause is refused. Instead, remove it: results always come back as JSON rows."
    if node.args.get("into"):
        return "SELECT … INTO writes a table and is refused. Instead, remove INTO; the rows come back to you."
    return None


def _in_rejection(node: exp.In, names: set[str]) -> str | None:
    """``x IN t`` and ``x IN ((db.t))`` read a table in ClickHouse: check those names as tables."""
    field = _unwrapped(node.args.get("field"))
    if isinstance(field, exp.Column):
        return _name_rejection(field.name, field.table or None, _ctes_in_scope(node), "IN")
    for item in node.expressions:
        reason = _in_target_rejection(_unwrapped(item), node, names)
        if reason is not None:
            return reason
    return None


def _in_function_rejection(node: exp.Func, names: set[str]) -> str | None:
    """``globalIn(x, t)``, ``notIn(x, ((db.t)))``, …: the second argument is checked as ``x IN t`` would be."""
    args = list(node.expressions)
    return _in_target_rejection(_unwrapped(args[1]), node, names) if len(args) > 1 else None


def _in_target_rejection(target: exp.Expr | None, node: exp.Expr, names: set[str]) -> str | None:
    """A bare name on the right of IN is a table unless it is a column or an alias of the query."""
    if not isinstance(target, exp.Column):
        return None
    if target.table:
        if _is_system(target.table) or not _is_alias(target.table, node):  # old analyzers read system.x here
            return _name_rejection(target.name, target.table, set(), "IN")
        return None
    if target.name in names:
        return None
    return _name_rejection(target.name, None, _ctes_in_scope(node), "IN")


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
            f"Instead, write {name if name in KNOWN_TABLES else 'runs, batches, spans or records'} alone."
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


def _function_rejection(node: exp.Func, names: set[str]) -> str | None:
    called = function_names(node)
    written = _written_name(node)
    shown = written or node.sql_name()
    denied = next((DENIED_FUNCTIONS[n] for n in called if n in DENIED_FUNCTIONS), None)
    if denied is None and written:
        lower = written.lower()
        denied = next((v for prefix, v in DENIED_PREFIXES.items() if lower.startswith(prefix)), None)
        denied = (written, denied[1]) if denied else None
    if denied is not None:
        spelling, family = written or denied[0], denied[1]
        return (
            f"{spelling}() is one of the {family} Cargo denies. "
            "Instead, compute the value from the columns of runs, batches, spans or records."
        )
    if called & (TABLE_FUNCTIONS - SCALAR_TWINS):
        return (
            f"{shown}() is a table function, denied by Cargo wherever it appears. "
            f"Instead, read {TABLE_LIST} (use a subquery for IN)."
        )
    if called & IN_FUNCTIONS:
        return _in_function_rejection(node, names)
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
}


def constant(node: exp.Expr | None) -> float | None:
    """The number a constant expression evaluates to (literals, hex, arithmetic, casts of literals), else None."""
    try:
        return _fold(node)
    except (ArithmeticError, ValueError):
        return float("inf")  # too big to evaluate is too big to build


def _fold(node: exp.Expr | None) -> float | None:
    if isinstance(node, exp.Paren):
        return _fold(node.this)
    if isinstance(node, exp.HexString):
        return float(int(str(node.this), 16))
    if isinstance(node, exp.Literal):
        return _number(str(node.this))
    if isinstance(node, exp.Neg):
        inner = _fold(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Cast) or (isinstance(node, exp.Anonymous) and node.name.lower().startswith("to")):
        args = [node.this] if isinstance(node, exp.Cast) else list(node.expressions)
        return _fold(args[0]) if len(args) == 1 else None
    if isinstance(node, exp.Binary) and type(node) in _FOLD:
        left, right = _fold(node.this), _fold(node.expression)
        return _FOLD[type(node)](left, right) if left is not None and right is not None else None
    return None


def _number(text: str) -> float | None:
    try:
        return float(text.replace("_", ""))
    except ValueError:
        try:
            return float(int(text, 0))
        except ValueError:
            return None
