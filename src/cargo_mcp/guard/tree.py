"""Rules on the parsed statement: only the four tables (or CTEs), no table functions, no escapes.

:func:`rejection` returns the first problem as a sentence that names the construct and says what to
send instead, or ``None`` when the statement is a plain read of Cargo's tables.
"""

from __future__ import annotations

from sqlglot import exp

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
    normalized,
)

TABLE_LIST = "runs, batches, spans or records"


def rejection(tree: exp.Expr) -> str | None:
    """Why ``tree`` may not be sent to Cargo, or ``None``."""
    if not isinstance(tree, exp.Query):
        kw = tree.name.upper() if isinstance(tree, exp.Command) else tree.key.upper()
        return STATEMENTS.get(kw, "{kw} is not a query. Instead, send one SELECT (or WITH … SELECT)").format(kw=kw)
    ctes = {cte.alias for cte in tree.find_all(exp.CTE) if cte.alias}
    for node in tree.walk():
        reason = _node_rejection(node, ctes)
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


def _node_rejection(node: exp.Expr, ctes: set[str]) -> str | None:
    if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Use):
        kw = node.name.upper() if isinstance(node, exp.Command) else node.key.upper()
        return STATEMENTS.get(kw, "{kw} is not allowed inside a query. Instead, use SELECT").format(kw=kw)
    if isinstance(node, exp.Query | exp.Subquery):
        return _clause_rejection(node)
    if isinstance(node, exp.Table):
        return _table_rejection(node, ctes)
    if isinstance(node, exp.In):
        return _in_rejection(node, ctes)
    if isinstance(node, exp.Column) and node.table and _is_system(node.table) and not _is_alias(node.table, node):
        return _name_rejection(node.name, node.table, ctes, "column")
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
        return _function_rejection(node, ctes)
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


def _in_rejection(node: exp.In, ctes: set[str]) -> str | None:
    """``x IN t`` and ``x IN (db.t)`` read a table in ClickHouse: check those names as tables."""
    field = node.args.get("field")
    if isinstance(field, exp.Column):
        return _name_rejection(field.name, field.table or None, ctes, "IN")
    for item in node.expressions:
        if isinstance(item, exp.Column) and item.table and not _is_alias(item.table, node):
            return _name_rejection(item.name, item.table, ctes, "IN")
    return None


def _in_function_rejection(node: exp.Func, ctes: set[str]) -> str | None:
    """``globalIn(x, t)``, ``notIn(x, db.t)``, …: the second argument is checked as ``x IN t`` would be."""
    args = list(node.expressions)
    target = args[1] if len(args) > 1 else None
    if isinstance(target, exp.Paren):
        target = target.this
    if isinstance(target, exp.Column) and not (target.table and _is_alias(target.table, node)):
        return _name_rejection(target.name, target.table or None, ctes, "IN")
    return None


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


def _function_rejection(node: exp.Func, ctes: set[str]) -> str | None:
    names = function_names(node)
    written = _written_name(node)
    shown = written or node.sql_name()
    denied = next((DENIED_FUNCTIONS[n] for n in names if n in DENIED_FUNCTIONS), None)
    if denied is None and written:
        lower = written.lower()
        denied = next((v for prefix, v in DENIED_PREFIXES.items() if lower.startswith(prefix)), None)
        denied = (written, denied[1]) if denied else None
    if denied is not None:
        spelling, family = denied
        return (
            f"{spelling}() is one of the {family} Cargo denies. "
            "Instead, compute the value from the columns of runs, batches, spans or records."
        )
    if names & (TABLE_FUNCTIONS - SCALAR_TWINS):
        return (
            f"{shown}() is a table function, denied by Cargo wherever it appears. "
            f"Instead, read {TABLE_LIST} (use a subquery for IN)."
        )
    if names & IN_FUNCTIONS:
        return _in_function_rejection(node, ctes)
    if names & GENERATORS:
        for arg in node.iter_expressions():
            if isinstance(arg, exp.Literal) and not arg.is_string and _number(arg.this) > GENERATOR_MAX:
                return (
                    f"{shown}({arg.this}) builds a value larger than {GENERATOR_MAX:,} elements in memory. "
                    "Instead, use a smaller argument or aggregate over the tables' rows."
                )
    return None


def _number(text: str) -> float:
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return float(int(text, 0)) if text[:2].lower() in ("0x", "0b") else 0.0
