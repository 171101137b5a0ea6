"""The guard: one read-only statement over Cargo's four tables, bounded, re-rendered, with advice.

``check`` answers before any network call. It refuses, with a sentence naming the construct and what to send
instead: text over ``MAX_STATEMENT_BYTES`` or ``MAX_STATEMENT_TOKENS`` (before parsing), several statements, writes
and admin statements, SETTINGS / FORMAT / INTO OUTFILE, table functions, system and schema-prefixed or unknown
tables, dictionary and introspection functions, generators and fills whose size it cannot prove small, and text it
cannot read safely. What it sends is re-rendered from its own tokens (see :mod:`cargo_mcp.guard.render`). Every step
is linear in the statement's size; a ``deadline`` turns a check still running then into a refusal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokenizer_core import Token, TokenType

from cargo_mcp.api.sql import MAX_RESULT_ROWS
from cargo_mcp.guard.advice import advise
from cargo_mcp.guard.dialect import DIALECT
from cargo_mcp.guard.limit import bound
from cargo_mcp.guard.limits import GUARD_DEADLINE_S, MAX_STATEMENT_BYTES, MAX_STATEMENT_TOKENS
from cargo_mcp.guard.memory import collection_paused, release
from cargo_mcp.guard.render import RenderError, clip, render, statements
from cargo_mcp.guard.rules import READ_STATEMENTS, STATEMENTS
from cargo_mcp.guard.scope import Scopes
from cargo_mcp.guard.tree import rejection

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns on stderr when it falls back to a Command
_NOT_A_QUERY = "Only SELECT (or WITH … SELECT) is allowed; got {kw}. Instead, send a SELECT"


@dataclass
class Verdict:
    """The guard's answer: ``sql`` is what will be sent (rewritten, with the LIMIT applied)."""

    allowed: bool
    reason: str | None
    sql: str
    limit_applied: int | None = None
    advice: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DeadlineExceeded(Exception):
    """The check ran past its deadline."""


def deadline_refusal(seconds: float) -> str:
    return (
        f"The guard could not check this statement within {seconds:g} s, so it is not sent. Instead, simplify it: "
        "fewer terms, shorter value lists (a subquery over the tables instead), fewer nested subqueries."
    )


def check(sql: str, max_rows: int = 1000, *, deadline: float | None = None) -> Verdict:
    """Allow one read-only SELECT; bound its outermost LIMIT to ``min(max_rows, MAX_RESULT_ROWS)``. ``deadline``
    is a ``time.monotonic()`` instant after which the check stops with a refusal."""
    reason = _size_rejection(sql)
    if reason is not None:
        return Verdict(False, reason, sql)

    def tick() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded

    try:
        with collection_paused():
            return _checked_text(sql, max_rows, tick)
    except DeadlineExceeded:
        return Verdict(False, deadline_refusal(GUARD_DEADLINE_S), sql)


def _size_rejection(sql: str, what: str = "The statement is") -> str | None:
    """Text over ClickHouse's query-size limit is refused before any parsing; so is text that is not Unicode."""
    if len(sql) <= MAX_STATEMENT_BYTES:  # else it is longer in bytes too, and not worth encoding
        try:
            size = len(sql.encode("utf-8"))
        except UnicodeEncodeError as e:
            return (
                f"The SQL holds {sql[e.start]!r}, a lone surrogate that is not a character. "
                "Instead, send valid Unicode text."
            )
        if size <= MAX_STATEMENT_BYTES:
            return None
    shown = f"{len(sql):,} characters" if len(sql) > MAX_STATEMENT_BYTES else f"{size:,} bytes"
    return (
        f"{what} {shown}, over the {MAX_STATEMENT_BYTES:,}-byte ({MAX_STATEMENT_BYTES // 1024} KiB) limit on "
        "one ClickHouse query (max_query_size), so it is not checked or sent. Instead, shorten it: replace long "
        "value lists with a subquery over the tables (e.g. uuid IN (SELECT run_uuid FROM spans WHERE …)), or split "
        "it into queries."
    )


def _checked_text(sql: str, max_rows: int, tick: Callable[[], None]) -> Verdict:
    try:
        found = statements(sql)
    except RenderError as e:
        return Verdict(False, str(e), sql)
    if not found:
        return Verdict(False, "The SQL is empty. Instead, send one SELECT statement.", sql)
    count = sum(len(tokens) for tokens in found)
    if count > MAX_STATEMENT_TOKENS:
        return Verdict(
            False,
            f"The statement has {count:,} tokens (names, values, operators); the guard checks at most "
            f"{MAX_STATEMENT_TOKENS:,}, so it is not sent. Instead, replace long value lists or chains of OR terms "
            "with a subquery over the tables (e.g. uuid IN (SELECT run_uuid FROM spans WHERE …)), or split it.",
            sql,
        )
    if len(found) > 1:
        return Verdict(
            False,
            f"Multiple statements ({len(found)}, separated by ';') are refused. Instead, send one statement per call.",
            sql,
        )
    tokens = found[0]
    try:
        text = render(sql, tokens)
    except RenderError as e:
        return Verdict(False, str(e), sql)
    reason = _statement_rejection(tokens)
    if reason is not None:
        return Verdict(False, reason, sql)
    try:
        return _checked(sql, text, tokens, max(1, min(max_rows, MAX_RESULT_ROWS)), tick)
    except DeadlineExceeded:
        raise
    except Exception as e:
        kind = "too deeply nested" if isinstance(e, RecursionError) else f"{type(e).__name__} in the SQL parser"
        return Verdict(
            False,
            f"The guard could not analyse this statement ({kind}), so it is not sent. Instead, simplify it: "
            "fewer nested parentheses, calls or subqueries, and functions with their documented arguments.",
            sql,
        )


def _checked(sql: str, text: str, tokens: list[Token], cap: int, tick: Callable[[], None]) -> Verdict:
    tick()
    try:
        trees = DIALECT.parse(text)
    except ParseError as e:
        return Verdict(False, _parse_failure(tokens, e), sql)
    tick()
    if len(trees) != 1 or trees[0] is None:
        return Verdict(False, "The SQL must be exactly one statement. Instead, send one SELECT.", sql)
    scopes = Scopes(trees[0])
    try:
        return _verdict(sql, text, trees[0], scopes, cap, tick)
    finally:
        release(scopes.nodes)


def _verdict(sql: str, text: str, tree: exp.Expr, scopes: Scopes, cap: int, tick: Callable[[], None]) -> Verdict:
    reason = rejection(tree, scopes, tick)
    if reason is not None:
        return Verdict(False, reason, sql)
    sent, applied = bound(tree, text, cap)
    reason = _size_rejection(sent, "As it would be sent (re-rendered, with its LIMIT) the statement is")
    if reason is not None:
        return Verdict(False, reason, sql)
    tick()
    return Verdict(True, None, sent, applied, advise(tree, scopes))


def _statement_rejection(tokens: list[Token]) -> str | None:
    first = next((t for t in tokens if t.token_type != TokenType.L_PAREN), tokens[0])
    keyword = clip(first.text.upper())
    if keyword not in READ_STATEMENTS:
        return STATEMENTS.get(keyword, _NOT_A_QUERY).format(kw=keyword) + "."
    for tok, following in pairwise(tokens):
        if tok.token_type == TokenType.INTO and following.text.upper() == "OUTFILE":
            return "INTO OUTFILE writes a file on the server and is refused. Instead, remove it; rows come back to you."
    return None


def _parse_failure(tokens: list[Token], error: ParseError) -> str:
    """A parse error, named precisely when a refused clause is what broke the parse."""
    for tok, following in zip(tokens, [*tokens[1:], None], strict=True):
        opens_call = following is not None and following.token_type == TokenType.L_PAREN
        word = tok.text.upper()
        if word in ("SETTINGS", "FORMAT") and not opens_call:
            return (
                f"A {word} clause is refused (it could change Cargo's caps or output). "
                "Instead, remove it; the caps are fixed and results come back as JSON rows."
            )
    first = str(error).splitlines()[0]
    return f"The SQL does not parse as ClickHouse: {first}. Instead, fix the syntax near that position."
