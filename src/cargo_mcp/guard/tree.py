"""Rules on the parsed statement: only the four tables (or CTEs), no table functions, no escapes, bounded sizes.

:func:`rejection` returns the first problem as a sentence that names the construct and says what to
send instead, or ``None`` when the statement is a plain read of Cargo's tables. It visits every node once;
questions about a node's surroundings go to :class:`~cargo_mcp.guard.scope.Scopes` (memoised), sizes to
:class:`~cargo_mcp.guard.bounds.Bounds`, so the check is linear in the statement.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sqlglot import exp

from cargo_mcp.api.sql import CAPS_SUMMARY, table_list
from cargo_mcp.guard.bounds import DATE, DAY, NUMBER, SPAN, TIME, Bounds, Range
from cargo_mcp.guard.limits import GENERATOR_MAX
from cargo_mcp.guard.render import clip
from cargo_mcp.guard.rules import (
    DENIED_FUNCTIONS,
    DENIED_PREFIXES,
    GENERATORS,
    IN_FUNCTIONS,
    KNOWN_TABLES,
    SCALAR_TWINS,
    STATEMENTS,
    TABLE_FUNCTIONS,
    VIRTUAL_COLUMNS,
    normalized,
)
from cargo_mcp.guard.scope import Scopes

TABLE_LIST = table_list("or")
_TICK = 1024  # nodes between two looks at the clock
_SHOWN = 80  # characters of an expression quoted in a refusal


def rejection(tree: exp.Expr, scopes: Scopes | None = None, tick: Callable[[], None] | None = None) -> str | None:
    """Why ``tree`` may not be sent to Cargo, or ``None``; ``tick`` is called every few hundred nodes (it raises
    to stop the check at its deadline)."""
    if not isinstance(tree, exp.Query):
        kw = clip(tree.name.upper() if isinstance(tree, exp.Command) else tree.key.upper())
        return STATEMENTS.get(kw, "{kw} is not a query. Instead, send one SELECT (or WITH … SELECT)").format(kw=kw)
    scopes = scopes or Scopes(tree)
    checker = _Checker(scopes)
    for count, node in enumerate(scopes.nodes):
        if tick is not None and count % _TICK == 0:
            tick()
        reason = checker.node_rejection(node)
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


def shown(node: exp.Expr | None) -> str:
    """An expression as ClickHouse SQL for a message, clipped."""
    if node is None:
        return ""
    if sum(1 for _ in zip(node.walk(), range(200), strict=False)) >= 200:
        return f"<a {node.key} expression>"
    text = node.sql(dialect="clickhouse")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


class _Checker:
    def __init__(self, scopes: Scopes) -> None:
        self.scopes = scopes
        self.bounds = Bounds(scopes)

    def node_rejection(self, node: exp.Expr) -> str | None:
        if isinstance(node, exp.Connector | exp.Identifier | exp.Literal):  # AND / OR chains, names, values
            return None
        if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Use):
            kw = clip(node.name.upper() if isinstance(node, exp.Command) else node.key.upper())
            return STATEMENTS.get(kw, "{kw} is not allowed inside a query. Instead, use SELECT").format(kw=kw)
        if isinstance(node, exp.Query | exp.Subquery):
            return _clause_rejection(node)
        if isinstance(node, exp.Table):
            return self._table_rejection(node)
        if isinstance(node, exp.In):
            return self._in_rejection(node)
        if (
            isinstance(node, exp.Column)
            and node.table
            and _is_system(node.table)
            and not self.scopes.is_alias(node.table, node)
        ):
            return _name_rejection(node.name, node.table, frozenset(), "column")
        if isinstance(node, exp.Column) and node.name in VIRTUAL_COLUMNS:
            return (
                f"The virtual column {node.name} describes the server's storage and is refused. "
                f"Instead, select the columns of {TABLE_LIST} (cargo://sql/schema lists them)."
            )
        if isinstance(node, exp.Column) and node.args.get("db") is not None:
            return (
                f"The three-part name {clip(node.sql())} reaches into another database. "
                "Instead, write table_or_alias.column with one of the four tables."
            )
        if isinstance(node, exp.Placeholder):
            return (
                f"Query parameters ({node.sql(dialect='clickhouse')}) are not supported by Cargo's SQL endpoint. "
                "Instead, write the value inline as a literal."
            )
        if isinstance(node, exp.Order):
            return self._fill_rejection(node)
        if isinstance(node, exp.Func):
            return self._function_rejection(node)
        return None

    def _fill_rejection(self, order: exp.Order) -> str | None:
        """``ORDER BY k WITH FILL FROM a TO b STEP s`` makes (b - a) / s rows without reading any, for each value of
        the columns before it: the product over the ORDER BY must be provably at most GENERATOR_MAX."""
        total = 1.0
        for ordered in order.expressions:
            fill = ordered.args.get("with_fill") if isinstance(ordered, exp.Ordered) else None
            if not isinstance(fill, exp.WithFill):
                continue
            rows, problem = self._fill_rows(ordered.this, fill)
            if problem is not None:
                return (
                    f"ORDER BY {shown(ordered.this)} WITH FILL: {problem}, so the guard cannot prove it generates "
                    f"at most {GENERATOR_MAX:,} rows. Instead, give FROM and TO that fold to constants "
                    "(e.g. FROM now() - INTERVAL 7 DAY TO now()) and a STEP such that (TO - FROM) / STEP is small."
                )
            total *= rows
            if total > GENERATOR_MAX:
                data = not (fill.args.get("from_") and fill.args.get("to"))
                why = " (without FROM and TO it fills between the data's own values, as far as their type allows)"
                return (
                    f"ORDER BY … WITH FILL would generate up to {total:,.0f} rows{why if data else ''}, "
                    f"more than {GENERATOR_MAX:,}. Instead, fill a smaller range (FROM … TO …) or a larger STEP."
                )
        return None

    def _fill_rows(self, key: exp.Expr, fill: exp.WithFill) -> tuple[float, str | None]:
        """(most rows the fill makes, None) or (0, why the guard cannot bound them). A missing FROM or TO is the
        data's first or last key value: only the key's type bounds it."""
        bounds = self.bounds
        start_node, end_node, step_node = (fill.args.get(k) or None for k in ("from_", "to", "step"))
        values = bounds.of(key)
        start = bounds.of(start_node) if start_node else values
        end = bounds.of(end_node) if end_node else values
        # the key's type decides the STEP's unit (days for a Date); when it is not known, seconds (the smaller)
        timed = {start.kind, end.kind} & {DATE, TIME}
        kind = values.kind if values.kind in (DATE, TIME) else (TIME if timed else NUMBER)
        if kind == DATE:  # a number next to a Date counts days
            start, end = (_days(r) for r in (start, end))
        step = bounds.of(step_node) if step_node else Range(1.0, 1.0)
        if step.kind != SPAN and kind == DATE:
            step = _days(step)
        smallest = 0.0 if step.lo <= 0 <= step.hi else min(abs(step.lo), abs(step.hi))
        span = max(end.hi - start.lo, start.hi - end.lo)
        for side, node, value in (("FROM", start_node, start), ("TO", end_node, end)):
            if not value.bounded:
                if node is None:
                    return 0, f"without {side} it fills to the data's own {'first' if side == 'FROM' else 'last'} value"
                return 0, f"{side} {shown(node)} does not fold to a bounded value"
        if not math.isfinite(smallest) or smallest <= 0:
            return 0, f"STEP {shown(step_node)} does not fold to a non-zero constant"
        return max(span, 0.0) / smallest + 1, None

    def _table_rejection(self, table: exp.Table) -> str | None:
        if isinstance(table.parent, exp.Join) and table.parent.args.get("kind") == "ARRAY":
            db = table.args["db"].name if table.args.get("db") else ""
            if db and _is_system(db) and not self.scopes.is_alias(db, table):
                return _name_rejection(table.name, db, self.scopes.ctes_in_scope(table), "ARRAY JOIN")
            return None  # ARRAY JOIN unfolds a column, not a table
        if isinstance(table.this, exp.Func):
            name = clip(table.this.name or table.this.sql_name())
            return (
                f"The table function {name}() is denied by Cargo (table functions read outside the workspace). "
                f"Instead, select FROM {TABLE_LIST}."
            )
        if table.args.get("catalog") is not None:
            return (
                f"The name {clip(table.sql())} has too many parts. "
                f"Instead, select FROM {TABLE_LIST} without a prefix."
            )
        db = table.args["db"].name if table.args.get("db") else None
        ctes = frozenset() if db is not None or table.name in KNOWN_TABLES else self.scopes.ctes_in_scope(table)
        return _name_rejection(table.name, db, ctes, "FROM")

    def _in_rejection(self, node: exp.In) -> str | None:
        """``x IN t`` and ``x IN ((db.t))`` read a table in ClickHouse: check those names as tables."""
        field = _qualified(_unwrapped(node.args.get("field")))
        if field is not None:
            db, name = field
            if db is not None:
                return _name_rejection(name, db, frozenset(), "IN")
            return _name_rejection(name, None, self.scopes.ctes_in_scope(node), "IN")
        for item in node.expressions:
            reason = self._in_target_rejection(_unwrapped(item), node)
            if reason is not None:
                return reason
        return None

    def _in_target_rejection(self, target: exp.Expr | None, node: exp.Expr) -> str | None:
        """A name on the right of IN is a table unless it is a value in scope (a column of a table read here, an
        alias, a lambda parameter); a qualifier must be an alias of a table in scope."""
        named = _qualified(target)
        if named is None:
            return None
        db, name = named
        if db is not None:
            if _is_system(db) or not self.scopes.is_alias(db, node):  # old analyzers read system.x even aliased
                return _name_rejection(name, db, frozenset(), "IN")
            return None
        if self.scopes.is_value_name(name, node):
            return None
        return _name_rejection(name, None, self.scopes.ctes_in_scope(node), "IN")

    def _function_rejection(self, node: exp.Func) -> str | None:
        called = function_names(node)
        written = _written_name(node)
        name = clip(written or node.sql_name())
        spelling, family = next((DENIED_FUNCTIONS[n] for n in called if n in DENIED_FUNCTIONS), (name, None))
        if family is None and written:
            family = next((f for prefix, f in DENIED_PREFIXES.items() if written.lower().startswith(prefix)), None)
        if family is not None:
            spelling = clip(written or spelling)
            return (
                f"{spelling}() is one of the {family} Cargo denies. "
                f"Instead, compute the value from the columns of {TABLE_LIST}."
            )
        if called & (TABLE_FUNCTIONS - SCALAR_TWINS):
            return (
                f"{name}() is a table function, denied by Cargo wherever it appears. "
                f"Instead, read {TABLE_LIST} (use a subquery for IN)."
            )
        if called & IN_FUNCTIONS:
            args = list(node.expressions)
            return self._in_target_rejection(_unwrapped(args[1]), node) if len(args) > 1 else None
        return self._size_rejection(node, name, called)

    def _size_rejection(self, node: exp.Func, name: str, called: set[str]) -> str | None:
        """A generator's size (elements, bytes or slots) must be provably at most GENERATOR_MAX."""
        args: list[exp.Expr] = [a for a in node.iter_expressions() if not isinstance(a, exp.DataType)]
        sized = next((n for n in called if n in GENERATORS), None)
        if sized == "range":
            size, sizing = self._range_size(args), args
        elif sized == "timeslots":
            size, sizing = self._time_slots(args), args[1:]
        elif sized == "mappopulateseries":  # every key from the smallest to the largest (or to max)
            keys = self.bounds.elements(args[0]) if args else Range(-math.inf, math.inf)
            top = self.bounds.of(args[2]).hi if len(args) > 2 else keys.hi
            size, sizing = max(top - keys.lo + 1, 0.0), args
        elif sized == "h3kring" and len(args) > 1:  # the cells within k steps: 3k(k+1) + 1
            k = self.bounds.of(args[1]).hi
            size, sizing = 3 * k * (k + 1) + 1, [args[1]]
        elif sized is not None and len(args) > GENERATORS[sized]:
            sizing = [args[GENERATORS[sized]]]
            size = self.bounds.of(sizing[0]).hi
            if sized == "repeat" and isinstance(args[0], exp.Literal) and args[0].is_string:
                size *= max(1, len(str(args[0].this)))  # bytes: the copies of the string
        else:
            return None
        if size <= GENERATOR_MAX:
            return None
        whole = sized in ("range", "timeslots", "mappopulateseries")
        call = f"{name}({', '.join(shown(a) for a in (args if whole else sizing))})"
        if math.isfinite(size) and all(self.bounds.of(a).lo == self.bounds.of(a).hi for a in sizing):
            return (
                f"{call} builds a value larger than {GENERATOR_MAX:,} elements in memory. "
                "Instead, use a smaller argument or aggregate over the tables' rows."
            )
        reach = f"it can reach {size:,.0f}" if math.isfinite(size) else "it depends on values the guard cannot bound"
        return (
            f"{call}: the guard cannot prove its size is at most {GENERATOR_MAX:,} ({reach}). "
            f"Instead, write the size as a constant or bound it, e.g. least(…, {GENERATOR_MAX})."
        )

    def _range_size(self, args: list[exp.Expr]) -> float:
        """``range(end)``, ``range(start, end[, step])``: the number of elements."""
        if not args:
            return 0.0
        values = [self.bounds.of(a) for a in args]
        start, end = (values[0], values[1]) if len(values) > 1 else (Range(0.0, 0.0), values[0])
        step = values[2] if len(values) > 2 else Range(1.0, 1.0)
        smallest = 1.0 if step.lo <= 0 <= step.hi else max(1.0, min(abs(step.lo), abs(step.hi)))
        up, down = max(end.hi - start.lo, 0.0), max(start.hi - end.lo, 0.0)
        return (up if step.lo > 0 else down if step.hi < 0 else max(up, down)) / smallest

    def _time_slots(self, args: list[exp.Expr]) -> float:
        """``timeSlots(start, duration[, size])``: duration / size + 1 slots (size 1800 s by default)."""
        if len(args) < 2:
            return 0.0
        duration = self.bounds.of(args[1])
        size = self.bounds.of(args[2]) if len(args) > 2 else Range(1800.0, 1800.0)
        if size.lo <= 0:
            return math.inf
        return max(duration.hi, 0.0) / size.lo + 1


def _days(value: Range) -> Range:
    """A plain number read as days (Date arithmetic)."""
    return Range(value.lo * DAY, value.hi * DAY, DATE) if value.kind == NUMBER else value


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


def _name_rejection(name: str, db: str | None, ctes: frozenset[str], where: str) -> str | None:
    if db is None and (name in KNOWN_TABLES or name in ctes):
        return None
    name, db = clip(name), clip(db) if db is not None else None
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
    if normalized(name) in TABLE_FUNCTIONS:
        return f"The table function {name}() is denied by Cargo. Instead, select FROM {TABLE_LIST}."
    if name.lower() in KNOWN_TABLES:
        return f"Unknown table {name}: table names are case-sensitive. Instead, write {name.lower()}."
    return (
        f"Unknown table {name} ({where} {name}). Instead, use one of {TABLE_LIST}, or a name defined in WITH … AS (…)."
    )
