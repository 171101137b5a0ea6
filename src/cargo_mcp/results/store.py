"""Local result store: every download becomes a ``result_id`` backed by a small SQLite file.

Rows are written in batches (memory stays flat), read back by page with optional column selection,
equality filters and ordering, and exported as CSV or JSON. Values keep their JSON type: strings are TEXT,
numbers INTEGER or REAL, and booleans, objects and arrays JSON text in a BLOB (columns have no affinity).
The folder's total size is bounded (results being written and downloads in progress count): the oldest
results are evicted first, except those in use — held by a reader or by the call that is creating them;
so are results past the age limit.

A store may be *scoped* (:meth:`ResultStore.scoped`): each HTTP caller's results live in a subfolder named
by the caller's credential hash, invisible to every other scope. A *mirror* (an S3-compatible bucket,
``results/s3.py``) receives every finished result and serves the ones this process has not seen, so a
handle works on every replica.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cargo_mcp.api.vocabulary import InputError, unknown_names
from cargo_mcp.clip import echo

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_AGE = 24 * 3600.0
SQLITE_MAX_INT = 2**63 - 1
WHERE_VALUES_MAX = 1000  # values one where column may list (each is a bound parameter, twice)
_ID = re.compile(r"r_[0-9a-f]{12}")
# Files under the store's folder that count toward its size: results, results being written, download pages.
# (A scope's results are one folder down.)
_SIZED = ("r_*.sqlite", "r_*.partial", "*/r_*.sqlite", "*/r_*.partial", "cargo-mcp-dl-*/*")
_GLOB_TRIES = 3  # listings of the store's folder retried when a folder in it vanishes meanwhile


class ResultNotFound(InputError):
    """The result id never existed or was evicted."""


class ResultStoreUnavailable(Exception):
    """The shared result store (the mirror) could not be used; the message says what to do."""


class ResultMirror(Protocol):
    """Where finished results are copied so that other processes read them (``name``: ``scope/id.sqlite``)."""

    def put(self, name: str, path: Path) -> None: ...

    def get(self, name: str, dest: Path) -> bool: ...

    def delete(self, name: str) -> None: ...

    def evict(self) -> None: ...


BATCH = 1000
EMPTY_COUNTS_KEPT = 256  # (result, where) pairs whose empty cells are kept
ORIGINS_KEPT = 4096  # result ids whose making call is remembered (to name it once the result is gone)
MAKERS = "download_outputs, inspect_failures (a re-run body) or execute_query"  # the calls that store a result


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

    def __init__(
        self,
        root: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        mirror: ResultMirror | None = None,
    ) -> None:
        self._owned = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="cargo-mcp-results-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.mirror = mirror
        self.scope = ""
        self._held: Counter[str] = Counter()
        self._empty: dict[tuple[str, str], dict[str, int]] = {}  # empty_cells by result and where, oldest first
        self._made_by: dict[str, str] = {}  # the call that made each result, oldest first
        self._lock = threading.Lock()

    def scoped(self, scope: str) -> ResultStore:
        """The same store seen by one caller: only the results created under ``scope`` exist for it."""
        if not scope.isalnum():
            raise ValueError("a result scope is a credential hash (letters and digits)")
        view = copy.copy(self)  # shares the folder, the limits, the mirror and what is held
        view._owned = False
        view.scope = scope
        return view

    def close(self) -> None:
        """Remove the folder when the store created it (results live as long as the server)."""
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def path(self, result_id: str) -> Path:
        result_id = result_id.strip()
        if not _ID.fullmatch(result_id):
            raise InputError(
                f"result_id {echo(result_id)} is not a result id: they look like r_3f9c2a1b4d5e "
                "(the result_id of a download_outputs answer)."
            )
        return self.root / self.scope / f"{result_id}.sqlite"

    @staticmethod
    def new_id() -> str:
        return "r_" + secrets.token_hex(6)

    @contextmanager
    def hold(self, result_id: str) -> Iterator[None]:
        """Keep ``result_id`` from eviction while the block runs (it need not exist yet)."""
        result_id = result_id.strip()
        with self._lock:
            self._held[result_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[result_id] -= 1
                if not self._held[result_id]:
                    del self._held[result_id]

    def create(
        self,
        columns: list[str],
        rows: Iterable[dict[str, Any]],
        description: str,
        *,
        result_id: str | None = None,
        made_by: str | None = None,
        **extra: Any,
    ) -> ResultMeta:
        """Store ``rows`` (streamed) under ``result_id`` (default: a new id); a failure leaves nothing behind.
        ``made_by``: the call that made it, named when the result is asked for after its eviction.

        Older results may be evicted to stay under the size cap; hold ``result_id`` beforehand to keep the
        new one from a concurrent call's eviction until the caller is done with it.
        """
        result_id = result_id or self.new_id()
        final = self.path(result_id)
        final.parent.mkdir(exist_ok=True)
        tmp = final.with_suffix(".partial")
        columns = list(columns)
        with self.hold(result_id):
            try:
                count = _write(tmp, columns, rows)
                meta = ResultMeta(result_id, columns, count, time.time(), description, extra)
                with sqlite3.connect(tmp) as db:
                    db.execute("CREATE TABLE meta (doc TEXT)")
                    db.execute("INSERT INTO meta VALUES (?)", (json.dumps(meta.__dict__),))
                tmp.rename(final)
                if made_by is not None:
                    self._remember(result_id, made_by)
                if self.mirror is not None:
                    self.mirror.put(self._name(final), final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                final.unlink(missing_ok=True)
                raise
            self._evict()
        if self.mirror is not None:
            self.mirror.evict()
        return meta

    def delete(self, result_id: str) -> None:
        """Remove a result (a download that did not complete must not leave one behind)."""
        path = self.path(result_id)
        path.unlink(missing_ok=True)
        if self.mirror is not None:
            self.mirror.delete(self._name(path))

    def result_ids(self) -> list[str]:
        """This scope's stored result ids, newest first."""
        files = sorted((self.root / self.scope).glob("r_*.sqlite"), key=_mtime, reverse=True)
        return [p.stem for p in files]

    def meta(self, result_id: str) -> ResultMeta:
        with self._open(result_id) as db:
            return _meta(db)

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
        """A page of rows, the columns shown, and how many rows match ``where`` (past the end: no rows)."""
        with self._open(result_id) as db:
            meta = _meta(db)
            shown = list(dict.fromkeys(columns)) if columns else meta.columns
            sort = [order_by] if order_by else []
            for arg, named in (("columns", shown), ("where", list(where or {})), ("order_by", sort)):
                _known(meta.result_id, meta.columns, named, arg)
            index = _index(meta)
            cond, params = _where(index, where)
            select = ", ".join(index[c] for c in shown)
            order = " ORDER BY rid"
            if order_by:
                key = index[order_by]
                if _all_numeric(db, key):  # numbers sort as numbers, also when a CSV file held them as text
                    key = f"CAST({key} AS REAL)"
                order = f" ORDER BY {key} {'DESC' if descending else 'ASC'}, rid"
            total = db.execute(f"SELECT count(*) FROM rows{cond}", params).fetchone()[0]
            if not shown:
                return shown, [], total
            cur = db.execute(
                f"SELECT {select} FROM rows{cond}{order} LIMIT ? OFFSET ?",
                [*params, min(limit, SQLITE_MAX_INT), min(offset, SQLITE_MAX_INT)],
            )
            page = [dict(zip(shown, map(_value, r), strict=True)) for r in cur]
        return shown, page, total

    def empty_cells(self, result_id: str, columns: list[str], where: dict[str, Any] | None) -> dict[str, int]:
        """How many rows matching ``where`` have each of ``columns`` empty (NULL or ''); columns with none left out.

        A result never changes: the counts of all its columns are kept per ``where`` (paging asks again)."""
        key = (result_id.strip(), json.dumps(where, sort_keys=True, default=str))
        with self._open(result_id) as db:
            with self._lock:
                counts = self._empty.get(key)
            if counts is None:
                meta = _meta(db)
                _known(meta.result_id, meta.columns, list(where or {}), "where")
                index = _index(meta)
                cond, params = _where(index, where)
                sums = ", ".join(f"sum({_empty(index[c])})" for c in meta.columns) or "0"
                found = db.execute(f"SELECT {sums} FROM rows{cond}", params).fetchone()
                counts = {c: int(n or 0) for c, n in zip(meta.columns, found, strict=False)}
                with self._lock:
                    self._empty[key] = counts
                    while len(self._empty) > EMPTY_COUNTS_KEPT:
                        del self._empty[next(iter(self._empty))]
        _known(key[0], list(counts), columns, "columns")
        return {c: counts[c] for c in columns if counts[c]}

    def groups(
        self, result_id: str, by: list[str], where: dict[str, Any] | None, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[dict[str, Any], int]], int, int]:
        """Rows matching ``where`` counted per distinct combination of ``by`` (NULL and '' are one empty value,
        None), most frequent first: a page of ``(values, count)``, the number of groups and of matching rows."""
        with self._open(result_id) as db:
            meta = _meta(db)
            _known(meta.result_id, meta.columns, by, "group_by")
            _known(meta.result_id, meta.columns, list(where or {}), "where")
            index = _index(meta)
            cond, params = _where(index, where)
            keys = ", ".join(f"CASE WHEN {_empty(index[c])} THEN NULL ELSE {index[c]} END" for c in by)
            positions = ", ".join(str(i) for i in range(1, len(by) + 1))
            grouped = f"SELECT {keys}, count(*) AS n FROM rows{cond} GROUP BY {positions}"
            groups, matching = db.execute(f"SELECT count(*), ifnull(sum(n), 0) FROM ({grouped})", params).fetchone()
            page = db.execute(
                f"{grouped} ORDER BY n DESC, {positions} LIMIT ? OFFSET ?",
                [*params, min(limit, SQLITE_MAX_INT), min(offset, SQLITE_MAX_INT)],
            ).fetchall()
        out = [(dict(zip(by, map(_value, row[:-1]), strict=True)), int(row[-1])) for row in page]
        return out, int(groups), int(matching)

    def empty_rows(self, result_id: str, columns: list[str], by: str | None) -> dict[Any, int]:
        """How many rows have every one of ``columns`` empty (NULL or ''), per value of ``by`` (or under None)."""
        with self._open(result_id) as db:
            index = _index(_meta(db))
            empty = " AND ".join(f"({index[c]} IS NULL OR {index[c]} = '')" for c in columns) or "1"
            key = index.get(by or "", "NULL")
            rows = db.execute(f"SELECT {key}, count(*) FROM rows WHERE {empty} GROUP BY 1 ORDER BY 2 DESC").fetchall()
        return {_value(k): int(n) for k, n in rows}

    def filled_by_group(
        self, result_id: str, key: str, groups: Mapping[str, Any], default: Any, columns: list[str]
    ) -> dict[Any, tuple[int, set[str]]]:
        """Rows grouped by ``groups[<the row's key value>]`` (``default`` when absent): each group's row count and
        which of ``columns`` are non-empty (not NULL nor '') in at least one of its rows."""
        with self._open(result_id) as db:
            meta = _meta(db)
            _known(meta.result_id, meta.columns, [key, *columns], "columns")
            index = _index(meta)
            db.execute("CREATE TEMP TABLE grp (k PRIMARY KEY, g)")  # the result itself stays read-only
            db.executemany("INSERT INTO grp VALUES (?, ?)", groups.items())
            filled = "".join(f", max({index[c]} != '')" for c in columns)  # NULL and '' are not filled
            found = db.execute(
                f"SELECT grp.k IS NULL, grp.g, count(*){filled} FROM rows LEFT JOIN grp ON grp.k = rows.{index[key]} "
                "GROUP BY 1, 2"
            ).fetchall()
        return {
            (default if unmatched else g): (int(n), {c for c, f in zip(columns, flags, strict=True) if f})
            for unmatched, g, n, *flags in found
        }

    @contextmanager
    def rows_of(self, result_id: str) -> Iterator[tuple[list[str], Iterator[list[Any]]]]:
        """The columns and every row in download order (values with their JSON types), for the block's duration."""
        with self._open(result_id) as db:
            meta = _meta(db)
            select = ", ".join(f"c{i}" for i in range(len(meta.columns)))
            cursor = db.execute(f"SELECT {select} FROM rows ORDER BY rid")
            yield meta.columns, ([_value(v) for v in row] for row in cursor)

    def csv_text(self, result_id: str, max_bytes: int) -> str:
        """The whole result as CSV text, refused beyond ``max_bytes``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        with self.rows_of(result_id) as (columns, rows):
            writer.writerow(columns)
            for row in rows:
                writer.writerow(csv_cells(row))
                if out.tell() > max_bytes:
                    raise InputError(
                        f"result {result_id} is larger than {max_bytes:,} bytes as CSV; page it with read_result "
                        "or save it with save_result(result_id, path)."
                    )
        return out.getvalue()

    @contextmanager
    def _open(self, result_id: str) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the result, held (safe from eviction) and closed after the block."""
        path = self.path(result_id)
        with self.hold(result_id):
            if not path.exists() and self.mirror is not None:
                path.parent.mkdir(exist_ok=True)
                self.mirror.get(self._name(path), path)
            if not path.exists():
                made_by = self._made_by.get(result_id.strip())
                again = f"run {made_by} again" if made_by else f"run the call that made it again ({MAKERS})"
                raise ResultNotFound(f"no result {echo(result_id.strip())}: it never existed or was evicted; {again}.")
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                yield db
            finally:
                db.close()

    def _remember(self, result_id: str, made_by: str) -> None:
        with self._lock:
            self._made_by[result_id] = made_by
            while len(self._made_by) > ORIGINS_KEPT:
                del self._made_by[next(iter(self._made_by))]

    def _name(self, path: Path) -> str:
        """A result file's name relative to the store's folder (its mirror key)."""
        return path.relative_to(self.root).as_posix()

    def _evict(self) -> None:
        """Across every scope, delete the results past the age limit, then the oldest until the folder fits the
        cap; results in use and files being written stay."""
        with self._lock:
            sizes = {p: _size(p) for pattern in _SIZED for p in _glob(self.root, pattern)}
            total = sum(sizes.values())
            done = sorted((p for p in sizes if p.suffix == ".sqlite"), key=_mtime)
            now = time.time()
            for p in done:  # oldest first
                if total <= self.max_bytes and now - _mtime(p) <= self.max_age:
                    break
                if p.stem in self._held:
                    continue
                p.unlink(missing_ok=True)
                total -= sizes[p]


def _glob(root: Path, pattern: str) -> list[Path]:
    """``root.glob(pattern)``, where a folder may vanish while it is listed (a concurrent download's temporary
    folder, removed when it is stored): listed again, and skipped if it keeps vanishing."""
    for _ in range(_GLOB_TRIES):
        try:
            return list(root.glob(pattern))
        except FileNotFoundError:
            continue
    return []


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # removed meanwhile
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _meta(db: sqlite3.Connection) -> ResultMeta:
    return ResultMeta(**json.loads(db.execute("SELECT doc FROM meta").fetchone()[0]))


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


def _known(result_id: str, known: list[str], columns: list[str], arg: str) -> None:
    """Refuse column names the result does not have, naming the argument that sent them."""
    unknown = list(dict.fromkeys(c for c in columns if c not in known))
    if unknown:
        raise InputError(
            f"unknown column(s) [{unknown_names(unknown, known)}] in {arg}; result {result_id} has the columns {known}."
        )


def _empty(column: str) -> str:
    return f"({column} IS NULL OR {column} = '')"


def _where(index: dict[str, str], where: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of exact matches, all of which must hold: a list means any of its values; null or ''
    match an empty cell (NULL or '')."""
    clauses, params = [], []
    for c, wanted in (where or {}).items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if len(values) > WHERE_VALUES_MAX:
            raise InputError(
                f"where[{echo(c)}] lists {len(values):,} values, more than {WHERE_VALUES_MAX:,}: split the "
                "read, or filter with execute_query."
            )
        col = index[c]
        exact = [v for v in values if v is not None and v != ""]
        matches = [_empty(col)] if len(exact) < len(values) else []
        if exact:
            marks = ", ".join("?" * len(exact))
            matches.append(f"{col} IN ({marks}) OR CAST({col} AS TEXT) IN ({marks})")
            params += [*map(_stored, exact), *map(_text, exact)]
        clauses.append("(" + " OR ".join(matches or ["0"]) + ")")
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


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
    if value is None or isinstance(value, str | float) or (isinstance(value, int) and _fits(value)):
        return value
    return json.dumps(value, ensure_ascii=False).encode()


def _fits(value: int) -> bool:
    """An int SQLite keeps as INTEGER (a bool is JSON true/false, and an int past 64 bits is kept as JSON text)."""
    return not isinstance(value, bool) and -SQLITE_MAX_INT - 1 <= value <= SQLITE_MAX_INT


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
