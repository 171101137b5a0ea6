"""Where a node sits: the SELECTs, lambdas, CTEs and WITH clauses around it, indexed in one pass over the tree.

A left-deep chain (``a IN (x) OR b IN (y) OR …``, ``SELECT … UNION ALL SELECT …``) puts each term under thousands
of plain nodes, so walking up from every IN term or table made the check quadratic. Here each node points at its
nearest enclosing *scope node* — a node that changes what a name can mean — so a question about a node costs the
number of scopes around it (bounded by how deep the parser lets queries nest), and answers are memoised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TypeVar

from sqlglot import exp

from cargo_mcp.api.sql import TABLES

_TABLE_COLUMNS = {name: frozenset(c for c, _ in columns) for name, columns in TABLES.items()}
E = TypeVar("E", bound=exp.Expr)


def _is_scope(node: exp.Expr) -> bool:
    """Nodes the up-walks look at: queries with a WITH, SELECTs and their clauses, JOINs' parts, lambdas, CTEs with
    their body and its branches (WITH RECURSIVE tells the anchor from the recursive step), derived tables."""
    parent = node.parent
    return (
        isinstance(node, exp.Select | exp.Lambda | exp.CTE)
        or isinstance(node.args.get("with_"), exp.With)
        or isinstance(parent, exp.Select | exp.CTE | exp.Join)
        or (parent is not None and isinstance(parent.parent, exp.CTE))
        or _is_derived_table(node)
    )


def _is_derived_table(node: exp.Expr) -> bool:
    return isinstance(node, exp.Subquery) and isinstance(node.parent, exp.From | exp.Join)


def sources(select: exp.Select) -> list[exp.Expr]:
    """The tables and subqueries in a SELECT's FROM and JOINs (ARRAY JOIN included)."""
    found = [select.args["from_"].this] if select.args.get("from_") else []
    found += [j.this for j in select.args.get("joins") or []]
    return [src for src in found if isinstance(src, exp.Table | exp.Subquery)]


def output_names(query: exp.Expr) -> set[str]:
    """The column names a query or subquery produces (its first branch's, for a set operation)."""
    inner = query.this if isinstance(query, exp.Subquery) else query
    while isinstance(inner, exp.SetOperation):
        inner = inner.this
    if isinstance(inner, exp.Select):
        return {e.alias_or_name for e in inner.expressions if e.alias_or_name}
    return set()


class Scopes:
    """The scope index of one parsed statement; ``nodes`` lists every node, breadth first (parents first)."""

    def __init__(self, tree: exp.Expr) -> None:
        self.nodes: list[exp.Expr] = []
        self._up: dict[int, exp.Expr | None] = {id(tree): None}
        self._scope: set[int] = set()
        self._selects: dict[int, tuple[exp.Select, ...]] = {}
        self._names: dict[int, frozenset[str]] = {}
        self._aliases: dict[int, frozenset[str]] = {}
        self._ctes: dict[tuple[int, bool], frozenset[str]] = {}
        queue = deque([tree])
        while queue:
            node = queue.popleft()
            self.nodes.append(node)
            if _is_scope(node):
                self._scope.add(id(node))
            up = node if id(node) in self._scope else self._up[id(node)]
            for child in node.iter_expressions():
                self._up[id(child)] = up
                queue.append(child)

    def of_type(self, *kinds: type[E]) -> list[E]:
        """Every node of these types, breadth first."""
        return [n for n in self.nodes if isinstance(n, kinds)]

    def chain(self, node: exp.Expr) -> Iterator[exp.Expr]:
        """The scope nodes strictly above ``node``, nearest first."""
        up = self._up.get(id(node))
        while up is not None:
            yield up
            up = self._up[id(up)]

    def enclosing_selects(self, node: exp.Expr) -> tuple[exp.Select, ...]:
        """The SELECTs whose FROM items ``node`` can see, nearest first: up the tree, but not past a derived table
        (a subquery in FROM / JOIN sees none of its siblings)."""
        return () if _is_derived_table(node) else self._selects_below(self._up.get(id(node)))

    def _selects_below(self, scope: exp.Expr | None) -> tuple[exp.Select, ...]:
        """``enclosing_selects`` of a plain node whose nearest scope node is ``scope`` (memoised per scope)."""
        pending: list[exp.Expr] = []
        while scope is not None and id(scope) not in self._selects:
            pending.append(scope)
            scope = None if _is_derived_table(scope) else self._up[id(scope)]
        found = self._selects[id(scope)] if scope is not None else ()
        for node in reversed(pending):
            outer = () if _is_derived_table(node) else found
            found = ((node,) if isinstance(node, exp.Select) else ()) + outer
            self._selects[id(node)] = found
        return found

    def selects_above(self, node: exp.Expr) -> Iterator[exp.Select]:
        """Every SELECT above ``node``, nearest first, derived tables or not."""
        return (s for s in self.chain(node) if isinstance(s, exp.Select))

    def is_alias(self, qualifier: str, node: exp.Expr) -> bool:
        """``qualifier`` names a table or subquery in FROM / JOIN of a SELECT enclosing ``node``: an alias counts only
        where it is in scope, so ``system.x`` is not excused by an unrelated ``… FROM runs AS system``."""
        return any(qualifier in self._source_aliases(s) for s in self.enclosing_selects(node))

    def _source_aliases(self, select: exp.Select) -> frozenset[str]:
        if id(select) not in self._aliases:
            self._aliases[id(select)] = frozenset(src.alias for src in sources(select) if src.alias)
        return self._aliases[id(select)]

    def is_value_name(self, name: str, node: exp.Expr) -> bool:
        """A bare ``name`` at ``node`` can be a value: a column of a table read in scope, an output name of a CTE or
        subquery read in scope, a projection alias of an enclosing SELECT or a lambda parameter."""
        if any(name in self._select_names(s) for s in self.enclosing_selects(node)):
            return True
        return any(name in {p.name for p in s.expressions} for s in self.chain(node) if isinstance(s, exp.Lambda))

    def _select_names(self, select: exp.Select) -> frozenset[str]:
        if id(select) not in self._names:
            ctes: dict[str, exp.Expr] = {}
            for outer in reversed((select, *self.enclosing_selects(select))):
                with_ = outer.args.get("with_")
                if isinstance(with_, exp.With):
                    ctes |= {c.alias: c.this for c in with_.expressions if c.alias}
            names = {e.alias for e in select.expressions if isinstance(e, exp.Alias) and e.alias}
            for src in sources(select):
                if isinstance(src, exp.Table) and src.name in TABLES and not src.args.get("db"):
                    names |= _TABLE_COLUMNS[src.name]
                elif isinstance(src, exp.Table) and src.name in ctes:
                    names |= output_names(ctes[src.name])
                else:
                    names |= output_names(src)
            self._names[id(select)] = frozenset(names)
        return self._names[id(select)]

    def ctes_in_scope(self, node: exp.Expr) -> frozenset[str]:
        """Names of the table CTEs (``WITH t AS (SELECT …)``) of the queries enclosing ``node``; scalar ``WITH x AS
        expr`` names are values, not tables. A CTE's body does not see its own name, except the recursive step (the
        branch after the anchor) of a WITH RECURSIVE union."""
        own = id(node) in self._scope  # a plain node answers as its nearest scope node's children do
        key = (id(node) if own else id(self._up.get(id(node))), own)
        if key not in self._ctes:
            found: set[str] = set()
            hidden: set[str] = set()
            path: list[exp.Expr] = [node]
            for parent in self.chain(node):
                if isinstance(parent, exp.CTE) and parent.alias and not _in_recursive_step(parent, path):
                    hidden.add(parent.alias)
                with_ = None if isinstance(parent, exp.CTE) else parent.args.get("with_")
                if isinstance(with_, exp.With):
                    found |= {c.alias for c in with_.expressions if c.alias and not c.args.get("scalar")} - hidden
                path.append(parent)
            self._ctes[key] = frozenset(found)
        return self._ctes[key]

    def is_array_joined(self, name: str, node: exp.Expr) -> bool:
        """An ARRAY JOIN of an enclosing SELECT names array elements ``name``."""
        return any(name in _array_join_names(s) for s in self.enclosing_selects(node))

    def column_types(self, column: exp.Column) -> tuple[str, ...]:
        """The ClickHouse types of ``column`` when it can only be a column of Cargo's tables: qualified by one of them
        (or its alias), or bare in the nearest SELECT that reads anything when that SELECT reads only those tables
        and no ARRAY JOIN renames it. Empty when it may be anything else (a CTE's or subquery's output)."""
        for select in self.enclosing_selects(column):
            read = sources(select)
            if column.table:
                read = [s for s in read if s.alias_or_name == column.table]
            elif column.name in _array_join_names(select):
                return ()
            if not read:
                continue
            plain = [s.name for s in read if self._is_table(s)]
            if len(plain) < len(read):
                return ()
            return tuple(t for name in plain for c, t in TABLES[name] if c == column.name)
        return ()

    def _is_table(self, source: exp.Expr) -> bool:
        """``source`` reads one of Cargo's tables (not a CTE of that name, not a subquery)."""
        return (
            isinstance(source, exp.Table)
            and source.name in TABLES
            and not source.args.get("db")
            and source.name not in self.ctes_in_scope(source)
        )

    def bound_value(self, column: exp.Column) -> exp.Expr | None:
        """The expression a bare name is bound to by a scalar ``WITH expr AS name`` or a projection ``expr AS name``
        of an enclosing SELECT (not the projection the name itself sits in)."""
        chain = list(self.chain(column))
        for select in self.enclosing_selects(column):
            with_ = select.args.get("with_")
            for cte in with_.expressions if isinstance(with_, exp.With) else []:
                value = cte.this
                if cte.alias == column.name and cte.args.get("scalar") and isinstance(value, exp.Expr):
                    return value
            inside = next((s for s in chain if s.parent is select), None)
            for e in select.expressions:
                bound = e.this
                if (
                    isinstance(e, exp.Alias)
                    and e.alias == column.name
                    and e is not inside
                    and isinstance(bound, exp.Expr)
                ):
                    return bound
        return None


def _array_join_names(select: exp.Select) -> set[str]:
    """Names an ARRAY JOIN of ``select`` gives to array elements (``ARRAY JOIN arr AS x`` or ``ARRAY JOIN arr``)."""
    names: set[str] = set()
    for join in select.args.get("joins") or []:
        if join.args.get("kind") == "ARRAY":
            names |= {e.alias_or_name for e in [join.this, *join.expressions] if e.alias_or_name}
    return names


def _in_recursive_step(cte: exp.CTE, path: list[exp.Expr]) -> bool:
    """``path`` (from the node up to the CTE's body) runs through the non-anchor branch of WITH RECURSIVE."""
    with_, body = cte.parent, cte.this
    if not (isinstance(with_, exp.With) and with_.args.get("recursive") and isinstance(body, exp.Union)):
        return False
    return len(path) >= 2 and path[-1] is body and path[-2] is not body.this
