"""Turn a ClickHouse error from Cargo's SQL endpoint into the next step for the model (docs/cargo-contract.md §7.5)."""

from __future__ import annotations

import difflib
import re

from cargo_mcp.api.sql import (
    MAX_COLUMNS_READ,
    MAX_EXECUTION_SECONDS,
    MAX_ROWS_READ,
    MAX_SUBQUERY_DEPTH,
    TABLES,
    table_list,
)
from cargo_mcp.guard.advice import TIME_COLUMNS

TABLE_LIST = f"{table_list('and')} (no schema prefix)"
_CODE = re.compile(r"Code:\s*(\d+)")
_IDENTIFIER = re.compile(r"(?:[Ii]dentifier|column)\s+[`'\"]?([A-Za-z_][\w.]*)[`'\"]?")
_TABLE_WORD = re.compile(r"\b(" + "|".join(TABLES) + r")\b")


def next_step(error_message: str, sql: str) -> str:
    """What to change in ``sql`` given Cargo's ``error_message`` (a ClickHouse ``Code: N. …`` text)."""
    match = _CODE.search(error_message)
    code = int(match.group(1)) if match else None
    text = error_message.upper()
    if code == 60 or "UNKNOWN_TABLE" in text or "DOESN'T EXIST" in text:
        return f"The tables are {TABLE_LIST}; query one of them or a WITH … AS (…) name."
    if code == 47 or "UNKNOWN_IDENTIFIER" in text or "MISSING COLUMNS" in text:
        return _unknown_identifier(error_message, sql)
    if code == 161 or "TOO_MANY_COLUMNS" in text or "NUMBER OF COLUMNS TO READ" in text:
        width = len(TABLES["runs"])
        return (
            f"At most {MAX_COLUMNS_READ} columns may be read: list the columns you need instead of SELECT * "
            f"(runs has {width})."
        )
    if code == 158 or "TOO_MANY_ROWS" in text or "MEMORY_LIMIT" in text or code == 241:
        return (
            f"The query read more than {MAX_ROWS_READ:,} rows: add a time predicate "
            f"({_time_hint(sql)}) or filter by workflow_uuid / batch_uuid."
        )
    if code == 159 or "TIMEOUT" in text:
        return (
            f"The query ran past {MAX_EXECUTION_SECONDS} s: narrow the time window, filter by workflow or batch, "
            "and aggregate early."
        )
    if code == 167 or "TOO_DEEP_SUBQUERIES" in text:
        return f"Subqueries nest at most {MAX_SUBQUERY_DEPTH} deep: flatten them with WITH … AS (…) or joins."
    if code in (497, 164) or "ACCESS_DENIED" in text or "READONLY" in text:
        return (
            f"Cargo's SQL is read-only and limited to {TABLE_LIST}: no table functions, "
            "system tables, dictionaries or settings."
        )
    if code == 46 or "UNKNOWN_FUNCTION" in text:
        return "That function does not exist; ClickHouse function names are case-sensitive (e.g. countIf, toDate)."
    if code in (43, 53, 386) or any(k in text for k in ("ILLEGAL_TYPE", "TYPE_MISMATCH", "NO_COMMON_TYPE")):
        return "Argument types do not match: cast with toString(), toDateTime(), toFloat64() or compare like with like."
    if code == 62 or "SYNTAX" in text:
        return "Fix the syntax at the position ClickHouse names; read cargo://sql/schema for example queries."
    return "Fix the SQL as ClickHouse's message says; read cargo://sql/schema for the tables, columns and caps."


def _unknown_identifier(error_message: str, sql: str) -> str:
    match = _IDENTIFIER.search(error_message)
    name = match.group(1).split(".")[-1] if match else None
    tables = sorted(set(_TABLE_WORD.findall(sql))) or sorted(TABLES)
    columns = [c for t in tables for c, _ in TABLES[t]]
    close: list[str] = []
    if name:  # spans spell run-level names with execution_ (created_at → execution_started_at)
        spans_name = "execution_started_at" if name.startswith("created") else f"execution_{name}"
        close = ([spans_name] if spans_name in columns else []) + difflib.get_close_matches(name, columns, n=3)
        close = list(dict.fromkeys(close))
    prefix = f"Did you mean {', '.join(close)}? " if close else ""
    listing = "; ".join(f"{t}: {', '.join(c for c, _ in TABLES[t])}" for t in tables)
    unknown = f"{name!r} is not a column here. " if name else ""
    return f"{unknown}{prefix}Columns — {listing}."


def _time_hint(sql: str) -> str:
    tables = [t for t in _TABLE_WORD.findall(sql) if t in TIME_COLUMNS]
    column = TIME_COLUMNS[tables[0]][0] if tables else "created_at"
    return f"e.g. WHERE {column} > now() - INTERVAL 7 DAY"
