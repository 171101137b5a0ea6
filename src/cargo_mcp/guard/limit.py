"""Bound the rows of an allowed query: the outermost LIMIT becomes at most ``cap``."""

from __future__ import annotations

from sqlglot import exp


def bound(tree: exp.Expr, text: str, cap: int) -> tuple[str, int | None]:
    """``(sql to send, limit applied or None)`` for the rendered statement ``text`` parsed as ``tree``.

    A plain SELECT with no LIMIT/OFFSET gets `` LIMIT cap`` appended; one whose literal LIMIT is within the cap
    is left alone. Anything else — a larger or computed LIMIT, ``LIMIT n WITH TIES`` (which may return more than n
    rows), an OFFSET alone, a UNION (whose trailing LIMIT ClickHouse applies to the last SELECT only) — is
    wrapped: ``SELECT * FROM (…) LIMIT cap``.
    """
    if isinstance(tree, exp.Select):
        limit, offset = tree.args.get("limit"), tree.args.get("offset")
        if limit is None and offset is None:
            return f"{text} LIMIT {cap}", cap
        count = _literal_count(limit)
        if count is not None and count <= cap:
            return text, None
    return f"SELECT * FROM ({text}) LIMIT {cap}", cap


def _literal_count(limit: exp.Expr | None) -> int | None:
    options = limit.args.get("limit_options") if isinstance(limit, exp.Limit) else None
    if isinstance(limit, exp.Limit) and not (options and options.args.get("with_ties")):
        value = limit.expression
        if isinstance(value, exp.Literal) and value.is_int:
            return int(value.this)
    return None
