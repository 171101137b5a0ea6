"""Local result store: every download becomes a ``result_id`` backed by a small SQLite file.

Rows are written in batches (memory stays flat), read back by page with optional column selection,
equality filters and ordering, and exported as CSV or JSON. Values keep their JSON type: strings are TEXT,
numbers INTEGER or REAL, and booleans, objects and arrays JSON text in a BLOB (columns have no affinity).
The folder's total size is bounded: the oldest results are evicted first.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargo_mcp.api.vocabulary import InputError

DEFAULT_MAX_BYTES = 2 * 1024**3


class ResultNotFound(InputError):
    """The result id never existed or was evicted."""


BATCH = 1000


@dataclass
class ResultMeta:
    result_id: str
    columns: list[str]
    rows: int
    created_at: float
    description: str
    extra: dict[str, Any] = field(default_factory=dict)


class ResultStore:
    """Results under ``root`` (a private temporary folder by default)."""

    def __init__(self, root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._owned = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="cargo-mcp-results-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes

    def close(self) -> None:
        """Remove the folder when the store created it (results live as long as the server)."""
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def path(self, result_id: str) -> Path:
        result_id = result_id.strip()
        if not result_id.startswith("r_") or not result_id[2:].isalnum():
            raise InputError(f"result_id {result_id!r} is not a result id (they look like r_3f9c2a…).")
        return self.root / f"{result_id}.sqlite"

    def create(self, columns: list[str], rows: Iterable[dict[str, Any]], description: str, **extra: Any) -> ResultMeta:
        """Store ``rows`` (streamed) under a new id; a failure leaves nothing behind."""
        result_id = "r_" + secrets.token_hex(6)
        final = self.path(result_id)
        tmp = final.with_suffix(".partial")
        columns = list(columns)
        try:
            count = _write(tmp, columns, rows)
            meta = ResultMeta(result_id, columns, count, time.time(), description, extra)
            with sqlite3.connect(tmp) as db:
                db.execute("CREATE TABLE meta (doc TEXT)")
                db.execute("INSERT INTO meta VALUES (?)", (json.dumps(meta.__dict__),))
            tmp.rename(final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._evict(keep=result_id)
        return meta

    def result_ids(self) -> list[str]:
        """The stored result ids, newest first."""
        files = sorted(self.root.glob("r_*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.stem for p in files]

    def meta(self, result_id: str) -> ResultMeta:
        with self._open(result_id) as db:
            doc = json.loads(db.execute("SELECT doc FROM meta").fetchone()[0])
        return ResultMeta(**doc)

    def read(
        self,
        result_id: str,
        *,
        offset: int = 0,
        limit: int = 100,
        columns: list[str] | None = None,
        where: dict[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
    ) -> tuple[list[str], list[dict[str, Any]], int]:
        """A page of rows, the columns shown, and how many rows match ``where``."""
        meta = self.meta(result_id)
        shown = columns or meta.columns
        unknown = [c for c in [*shown, *(where or {}), *([order_by] if order_by else [])] if c not in meta.columns]
        if unknown:
            raise InputError(f"unknown column(s) {unknown} in result {result_id}; columns are {meta.columns}.")
        index = _index(meta)
        clauses, params = [], []
        for c, wanted in (where or {}).items():  # a list means any of its values
            values = wanted if isinstance(wanted, list) else [wanted]
            match = f"{index[c]} IS ? OR CAST({index[c]} AS TEXT) IS ?"
            clauses.append("(" + " OR ".join([match] * len(values)) + ")")
            params += [p for v in values for p in (_stored(v), _text(v))]
        cond = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        select = ", ".join(index[c] for c in shown)
        with self._open(result_id) as db:
            order = " ORDER BY rid"
            if order_by:
                key = index[order_by]
                if _all_numeric(db, key):  # numbers sort as numbers, also when a CSV file held them as text
                    key = f"CAST({key} AS REAL)"
                order = f" ORDER BY {key} {'DESC' if descending else 'ASC'}, rid"
            total = db.execute(f"SELECT count(*) FROM rows{cond}", params).fetchone()[0]
            if not shown:
                return shown, [], total
            cur = db.execute(f"SELECT {select} FROM rows{cond}{order} LIMIT ? OFFSET ?", [*params, limit, offset])
            page = [dict(zip(shown, map(_value, r), strict=True)) for r in cur]
        return shown, page, total

    def empty_rows(self, result_id: str, columns: list[str], by: str | None) -> dict[Any, int]:
        """How many rows have every one of ``columns`` empty (NULL or ''), per value of ``by`` (or under None)."""
        meta = self.meta(result_id)
        index = _index(meta)
        empty = " AND ".join(f"({index[c]} IS NULL OR {index[c]} = '')" for c in columns) or "1"
        key = index.get(by or "", "NULL")
        with self._open(result_id) as db:
            rows = db.execute(f"SELECT {key}, count(*) FROM rows WHERE {empty} GROUP BY 1 ORDER BY 2 DESC").fetchall()
        return {_value(k): int(n) for k, n in rows}

    def iter_rows(self, result_id: str) -> tuple[list[str], Iterator[list[Any]]]:
        """The columns and every row in download order, values with their JSON types."""
        meta = self.meta(result_id)
        select = ", ".join(f"c{i}" for i in range(len(meta.columns)))

        def rows() -> Iterator[list[Any]]:
            with self._open(result_id) as db:
                for row in db.execute(f"SELECT {select} FROM rows ORDER BY rid"):
                    yield [_value(v) for v in row]

        return meta.columns, rows()

    def csv_text(self, result_id: str, max_bytes: int) -> str:
        """The whole result as CSV text, refused beyond ``max_bytes``."""
        columns, rows = self.iter_rows(result_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(csv_cells(row))
            if out.tell() > max_bytes:
                raise InputError(
                    f"result {result_id} is larger than {max_bytes:,} bytes as CSV; page it with read_result "
                    "or save it with download_outputs(save_to=…)."
                )
        return out.getvalue()

    def _open(self, result_id: str) -> sqlite3.Connection:
        path = self.path(result_id)
        if not path.exists():
            raise ResultNotFound(
                f"no result {result_id!r}: it never existed or was evicted; run download_outputs again."
            )
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def _evict(self, keep: str) -> None:
        files = sorted(self.root.glob("r_*.sqlite"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.max_bytes or p.stem == keep:
                continue
            total -= p.stat().st_size
            p.unlink(missing_ok=True)


def _write(path: Path, columns: list[str], rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows in batches; a key not seen before becomes a new column (``columns`` grows in place)."""
    known = set(columns)
    count = 0
    batch: list[list[Any]] = []

    def flush(db: sqlite3.Connection) -> None:
        nonlocal count
        if batch:
            names = ", ".join(f"c{i}" for i in range(len(columns)))
            marks = ", ".join("?" for _ in columns)
            db.executemany(
                f"INSERT INTO rows ({names}) VALUES ({marks})", [r + [None] * (len(columns) - len(r)) for r in batch]
            )
            count += len(batch)
            batch.clear()

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        cols = "".join(f", c{i}" for i in range(len(columns)))
        db.execute(f"CREATE TABLE rows (rid INTEGER PRIMARY KEY{cols})")
        for row in rows:
            if not known.issuperset(row):
                flush(db)
                for key in row:
                    if key not in known:
                        known.add(key)
                        db.execute(f"ALTER TABLE rows ADD COLUMN c{len(columns)}")
                        columns.append(key)
            batch.append([_stored(row.get(c)) for c in columns])
            if len(batch) >= BATCH:
                flush(db)
        flush(db)
    return count


def _index(meta: ResultMeta) -> dict[str, str]:
    """Result column name → its SQLite column (c0, c1, …)."""
    return {c: f"c{i}" for i, c in enumerate(meta.columns)}


def _all_numeric(db: sqlite3.Connection, column: str) -> bool:
    """Every non-empty value of ``column`` is a number or a text that spells one."""
    text_number = f"(trim({column}) GLOB '*[0-9]*' AND NOT trim({column}) GLOB '*[^0-9.eE+-]*')"
    query = (
        f"SELECT count(*) FROM rows WHERE {column} IS NOT NULL AND {column} != '' "
        f"AND typeof({column}) NOT IN ('integer', 'real') AND NOT {text_number}"
    )
    return int(db.execute(query).fetchone()[0]) == 0


def _stored(value: Any) -> str | int | float | bytes | None:
    """How a JSON value is kept: natively when SQLite has the type, else as JSON text in a BLOB."""
    if value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return json.dumps(value, ensure_ascii=False).encode()


def _value(stored: Any) -> Any:
    return json.loads(stored) if isinstance(stored, bytes) else stored


def _text(value: Any) -> str | None:
    """The text form of a value: what a CSV file holds for it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def csv_cells(row: list[Any]) -> list[str | None]:
    """A row's values as CSV cells (objects, arrays and booleans as JSON text)."""
    return [_text(v) for v in row]
