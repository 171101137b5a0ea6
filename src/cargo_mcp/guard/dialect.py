"""sqlglot's ClickHouse dialect, extended to parse ``LIMIT n [OFFSET m] BY … LIMIT k`` (a per-group limit, then a
row limit).

Stock sqlglot stores both clauses under one ``limit`` key and rejects the second as a duplicate, and it reads
``LIMIT n OFFSET m BY x`` as a row limit plus an offset. Here a LIMIT that carries ``BY`` expressions (after an
OFFSET or not) is stored under ``limit_by``, so ``limit`` is always the row limit.
The guard never generates SQL from the tree (it re-renders the user's tokens), so no generator change is needed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.parsers.clickhouse import ClickHouseParser
from sqlglot.tokenizer_core import TokenType


def _parse_limit_clause(parser: Any) -> tuple[str, exp.Expr | None]:
    limit = parser._parse_limit()
    if isinstance(limit, exp.Limit) and limit.args.get("expressions"):
        return "limit_by", limit
    if isinstance(limit, exp.Limit) and parser._curr and parser._curr.token_type == TokenType.OFFSET:
        index = parser._index
        offset = parser._parse_offset()
        if isinstance(offset, exp.Offset) and offset.args.get("expressions"):  # LIMIT n OFFSET m BY …
            by = exp.Limit(expression=limit.expression, offset=offset.expression, expressions=offset.expressions)
            return "limit_by", by
        parser._retreat(index)
    return "limit", limit


class CargoClickHouse(ClickHouse):
    """ClickHouse as Cargo runs it, for parsing only."""

    class Parser(ClickHouseParser):
        QUERY_MODIFIER_PARSERS: ClassVar[dict[TokenType, Any]] = {
            **ClickHouseParser.QUERY_MODIFIER_PARSERS,
            TokenType.LIMIT: _parse_limit_clause,
        }


DIALECT = CargoClickHouse()
