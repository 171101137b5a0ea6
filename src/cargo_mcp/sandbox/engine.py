"""The sandbox's SQL engine: an embedded ClickHouse (chdb) with one private database per workspace.

**One ``Engine`` per process.** chdb runs a single embedded server per process, bound to one data
path; every session and connection shares its catalog. Create the engine once at start-up (in the
main thread), never ``fork()`` afterwards (use ``spawn``; serve with one worker), and ``close()`` it
at shutdown.

Isolation of a user query (``Engine.query``):

1. a fresh read-only connection per query, with the caps in its connection string and
   ``database=<the workspace's private database>`` (a fresh connection also sidesteps chdb's
   leftover-partial-output bug after a failed query);
2. a validator on ClickHouse's own parser (``parseQueryToJSON``): one ``SELECT`` statement, no
   ``INTO OUTFILE``/``FORMAT``/``SETTINGS``, no table functions, no database-qualified names, no
   file/host/introspection/dictionary functions;
3. the parser's canonical text (``formatQuery``) runs wrapped as
   ``SELECT * FROM (\\n<q>\\n) LIMIT <MAX_RESULT_ROWS + 1>``, so results are cut at exactly
   ``MAX_RESULT_ROWS`` rows.

The caps are Cargo's (:mod:`cargo_mcp.api.sql`). Error texts keep ClickHouse's ``Code: N. DB::Exception: …
(NAME)`` form; the internal database name reads ``orchestration`` and the depth cap reads Cargo's (the
wrapper costs one level).
"""

from __future__ import annotations

import atexit
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cargo_mcp.api import sql as contract

# chdb (a 0.5 GB library) and pyarrow load with the first Engine: a cached sandbox serves its API while
# its engine starts behind it, and the HTTP app imports this module for QueryError only.
if TYPE_CHECKING:
    import pyarrow as pa

PUBLIC_DATABASE = "orchestration"

CAPS = (
    "readonly=1"
    f"&max_execution_time={contract.MAX_EXECUTION_SECONDS}"
    f"&max_rows_to_read={contract.MAX_ROWS_READ}"
    f"&max_columns_to_read={contract.MAX_COLUMNS_READ}"
    f"&max_subquery_depth={contract.MAX_SUBQUERY_DEPTH + 1}"  # the LIMIT wrapper costs one level
    "&max_memory_usage=4000000000"
    "&output_format_json_quote_64bit_integers=0"
)

# Databases a qualified name must never reach (lower case); ``ws_*`` is checked separately.
_SYSTEM_DATABASES = {"system", "information_schema"}
_KNOWN_DATABASES = {*_SYSTEM_DATABASES, "default", PUBLIC_DATABASE, "_temporary_and_external_tables"}

# Scalar functions that read files, reveal the host or the server, or reach other databases.
_DENIED_FUNCTIONS = {
    "file",
    "hostname",
    "fqdn",
    "fullhostname",
    "getmacro",
    "serveruuid",
    "currentdatabase",
    "current_database",
    "database",
    "schema",
    "currentschemas",
    "current_schemas",
    "demangle",
    "logtrace",
    "catboostevaluate",
    "hascolumnintable",
    "getoskernelversion",
    "getclienthttpheader",
    "trap",
}
_DENIED_PREFIXES = (
    "dict",  # dictGet*, dictHas, dictIsIn, ...
    "joinget",
    "addressto",
    "filesystem",
    "getserver",  # getServerSetting, getServerPort
    "getsetting",
    "getmergetreesetting",
    "__",  # internal functions
)

# Root statement kinds, for the rejection text.
_STATEMENT_KINDS = {
    "InsertQuery": "INSERT",
    "CreateQuery": "CREATE",
    "DropQuery": "DROP",
    "AlterQuery": "ALTER",
    "RenameQuery": "RENAME",
    "OptimizeQuery": "OPTIMIZE",
    "SystemQuery": "SYSTEM",
    "KillQueryQuery": "KILL QUERY",
    "ShowTablesQuery": "SHOW",
    "ExplainQuery": "EXPLAIN",
    "SetQuery": "SET",
    "UseQuery": "USE",
    "DescribeQuery": "DESCRIBE",
    "ExistsQuery": "EXISTS",
    "DeleteQuery": "DELETE",
    "UpdateQuery": "UPDATE",
    "WatchQuery": "WATCH",
    "CheckQuery": "CHECK",
    "GrantQuery": "GRANT",
    "UndropQuery": "UNDROP",
}
# AST node types ending in "Query" that may appear inside a SELECT; any other "*Query" is a statement.
_ALLOWED_QUERY_NODES = {
    "SelectWithUnionQuery",
    "SelectQuery",
    "SelectIntersectExceptQuery",
    "TablesInSelectQuery",
}

_WS_DB_RE = re.compile(r"ws_[0-9a-f]{16}")
_CODE_RE = re.compile(r"Code: (\d+)\.")
_AST_KIND_RE = re.compile(r"AST node of type '(\w+)'")


def _esc(value: str) -> str:
    """TSV escaping for a ``{q:String}`` parameter (else a newline or ``\\N`` truncates the value)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _access_denied(what: str) -> str:
    return f"Code: 497. DB::Exception: default: Not enough privileges. {what}. (ACCESS_DENIED)"


class QueryError(Exception):
    """A query failed; ``message`` is ClickHouse-style text, ``code`` its ``Code: N`` number."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        m = _CODE_RE.search(message)
        self.code: int | None = int(m.group(1)) if m else None


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[dict[str, object]]
    truncated: bool
    elapsed_ms: float


class _Rejected(Exception):
    pass


class Engine:
    """The process's single chdb engine holding every sandbox workspace (see the module docstring).

    Thread-safe: ``query`` opens its own connection, so queries run in parallel (they release the
    GIL; call them through ``anyio.to_thread.run_sync``). Owner-side work (DDL, loads) is serialized.
    """

    def __init__(self) -> None:
        self._path = tempfile.mkdtemp(prefix="cargo-sandbox-")
        self._owner: Any
        try:
            from chdb import session as chdb_session

            self._owner = chdb_session.Session(self._path)  # type: ignore[no-untyped-call]
        except BaseException:
            shutil.rmtree(self._path, ignore_errors=True)
            raise
        self._lock = threading.RLock()
        self._databases: dict[str, str] = {}
        self._inflight: set[str] = set()
        self._inflight_lock = threading.Lock()
        self._closed = False
        self._table_only_functions = self._load_table_only_functions()
        # An engine left open at exit would leave its directory behind; close it then.
        atexit.register(self.close)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill in-flight queries, close the engine and remove its files. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            atexit.unregister(self.close)
            try:
                with self._inflight_lock:
                    busy = bool(self._inflight)
                if busy:
                    self._kill("%/* sbx:%")
            finally:
                try:
                    self._owner.close()
                finally:
                    shutil.rmtree(self._path, ignore_errors=True)

    def cancel(self, query_id: str) -> None:
        """Kill the running ``query(..., query_id=query_id)``; it then fails with ``Code: 394``."""
        if not re.fullmatch(r"[0-9A-Za-z_-]+", query_id):
            raise ValueError(f"bad query id {query_id!r}")
        self._kill(f"%/* sbx:{query_id} */%")

    def _kill(self, pattern: str) -> None:
        conn = _connect(self._path)
        try:
            conn.query(
                f"KILL QUERY WHERE query LIKE '{pattern}' AND query NOT LIKE '%system.processes%' "
                "AND query NOT ILIKE 'KILL%' SYNC"
            )
        finally:
            conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the sandbox engine is closed")

    def _load_table_only_functions(self) -> frozenset[str]:
        res = self._owner.query(
            "SELECT groupArray(lower(name)) AS n FROM system.table_functions "
            "WHERE lower(name) NOT IN (SELECT lower(name) FROM system.functions)",
            "JSONEachRow",
        )
        return frozenset(json.loads(res.bytes())["n"])

    # -- workspaces and loading --------------------------------------------------------------

    def add_workspace(self, workspace_uuid: str) -> None:
        """Create the workspace's private database (``ws_<16 random hex>``) with the four tables."""
        from cargo_mcp.sandbox.schema import create_table_sql

        with self._lock:
            self._check_open()
            if workspace_uuid in self._databases:
                raise ValueError(f"workspace {workspace_uuid} already exists")
            db = "ws_" + secrets.token_hex(8)
            self._owner.query(f"CREATE DATABASE `{db}`")
            for table in contract.TABLES:
                self._owner.query(create_table_sql(db, table))
            self._databases[workspace_uuid] = db

    def drop_workspace(self, workspace_uuid: str) -> None:
        """Remove the workspace's database and everything in it (no-op for an unknown workspace)."""
        with self._lock:
            self._check_open()
            db = self._databases.pop(workspace_uuid, None)
            if db is not None:
                self._owner.query(f"DROP DATABASE IF EXISTS `{db}`")

    def _db(self, workspace_uuid: str) -> str:
        try:
            return self._databases[workspace_uuid]
        except KeyError:
            raise KeyError(f"unknown sandbox workspace {workspace_uuid}") from None

    def load(self, workspace_uuid: str, table: str, columns: Mapping[str, list[Any]] | pa.Table) -> None:
        """Append rows to ``table``; ``columns`` maps every column name to its values.

        Timestamps may be tz-aware ``datetime`` values or integer epoch milliseconds. A ready
        ``pa.Table`` is accepted too (cast to the table's schema).
        """
        if table not in contract.TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(contract.TABLES)}")
        import pyarrow as pa

        from cargo_mcp.sandbox.schema import arrow_schema

        target = arrow_schema(table)
        names = list(columns.column_names) if isinstance(columns, pa.Table) else list(columns)
        missing = [n for n in target.names if n not in names]
        extra = [n for n in names if n not in target.names]
        if missing or extra:
            raise ValueError(f"{table}: missing columns {missing}, unexpected columns {extra}")
        if isinstance(columns, pa.Table):
            tbl = columns.select(target.names).cast(target)
        else:
            tbl = pa.table({n: columns[n] for n in target.names}, schema=target)
        if tbl.num_rows == 0:
            return
        with self._lock:
            self._check_open()
            db = self._db(workspace_uuid)
            # ``Python(tbl)`` looks the local variable ``tbl`` up by name in this thread's frames. Rows are
            # unique by their sorting key, so merging them on insert (optimize_on_insert) would only cost time.
            self._owner.query(f"INSERT INTO `{db}`.`{table}` SELECT * FROM Python(tbl) SETTINGS optimize_on_insert=0")

    def load_file(self, workspace_uuid: str, table: str, path: Path, shift_ms: int = 0) -> None:
        """Append the rows of an Arrow IPC file of ``table`` (its columns in order), every timestamp moved by
        ``shift_ms`` milliseconds. ClickHouse reads the file itself (no Python objects, no pandas), on one
        thread: it runs behind a serving sandbox, which needs the other core."""
        if table not in contract.TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(contract.TABLES)}")
        moved = []
        for name, ch_type in contract.TABLES[table]:
            if "DateTime64" in ch_type:
                step = f"toIntervalMillisecond({int(shift_ms)})"
                expr = f"arrayMap(t -> t + {step}, `{name}`)" if ch_type.startswith("Array(") else f"`{name}` + {step}"
                moved.append(f"{expr} AS `{name}`")
        columns = f"* REPLACE ({', '.join(moved)})" if moved and shift_ms else "*"
        with self._lock:
            self._check_open()
            db = self._db(workspace_uuid)
            self._owner.query(
                f"INSERT INTO `{db}`.`{table}` SELECT {columns} FROM file('{_literal(str(path))}', 'Arrow') "
                "SETTINGS optimize_on_insert=0, max_threads=1, max_insert_threads=1"
            )

    # -- queries -----------------------------------------------------------------------------

    def internal_query(
        self, workspace_uuid: str, sql: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Trusted query on the workspace's database: no validator, no caps, no truncation.

        ``params`` fill ``{name:Type}`` placeholders (values as text).
        """
        self._check_open()
        db = self._db(workspace_uuid)
        conn = _connect(f"{self._path}?database={db}&output_format_json_quote_64bit_integers=0")
        try:
            kwargs = {"params": {k: _esc(v) for k, v in params.items()}} if params else {}
            res = conn.query(sql, "JSONCompact", **kwargs)
        except Exception as e:
            raise QueryError(self._public_error(str(e))) from None
        finally:
            conn.close()
        raw = res.bytes()
        if not raw:
            return []
        out = json.loads(raw)
        names = [m["name"] for m in out["meta"]]
        return [dict(zip(names, row, strict=True)) for row in out["data"]]

    def query(self, workspace_uuid: str, sql: str, *, query_id: str | None = None) -> QueryResult:
        """Run a user's SQL in the workspace, sandboxed and capped; raise :class:`QueryError`."""
        self._check_open()
        db = self._db(workspace_uuid)
        if query_id is not None and not re.fullmatch(r"[0-9A-Za-z_-]+", query_id):
            raise ValueError(f"bad query id {query_id!r}")
        qid = query_id or uuid.uuid4().hex
        start = time.perf_counter()
        conn = _connect(f"{self._path}?{CAPS}&database={db}")
        try:
            canonical = self._validate(conn, sql)
            text = f"SELECT /* sbx:{qid} */ * FROM (\n{canonical}\n) LIMIT {contract.MAX_RESULT_ROWS + 1}"
            with self._inflight_lock:
                self._inflight.add(qid)
            try:
                res = conn.query(text, "JSONCompact")
            except Exception as e:
                raise QueryError(self._public_error(str(e))) from None
            finally:
                with self._inflight_lock:
                    self._inflight.discard(qid)
        finally:
            conn.close()
        out = json.loads(res.bytes())
        columns = [m["name"] for m in out["meta"]]
        types = [m["type"] for m in out["meta"]]
        data = out["data"]
        cap = contract.MAX_RESULT_ROWS
        truncated = len(data) > cap
        rows: list[dict[str, object]] = [dict(zip(columns, row, strict=True)) for row in data[:cap]]
        elapsed_ms = (time.perf_counter() - start) * 1000
        return QueryResult(columns=columns, types=types, rows=rows, truncated=truncated, elapsed_ms=elapsed_ms)

    # -- validation --------------------------------------------------------------------------

    def _validate(self, conn: Any, sql: str) -> str:
        """Parse ``sql`` with ClickHouse's parser; return its canonical text or raise QueryError."""
        try:
            res = conn.query(
                "SELECT parseQueryToJSON({q:String}) AS ast, formatQuery({q:String}) AS sql",
                "JSONEachRow",
                params={"q": _esc(sql)},
            )
        except Exception as e:
            raise QueryError(self._parse_error(str(e))) from None
        row = json.loads(res.bytes())
        ast = json.loads(row["ast"])
        try:
            self._check_ast(ast)
        except _Rejected as r:
            raise QueryError(self._public_error(str(r))) from None
        canonical: str = row["sql"]
        return canonical

    def _parse_error(self, message: str) -> str:
        kind = _AST_KIND_RE.search(message)
        if kind:
            what = _STATEMENT_KINDS.get(kind.group(1), kind.group(1).removesuffix("Query").upper())
            return _access_denied(f"{what} queries are not allowed, only SELECT")
        if "INSERT with inline data" in message:
            return _access_denied("INSERT queries are not allowed, only SELECT")
        # Drop the validator's own query text, which ClickHouse appends as "In scope ...".
        start = message.find(": In scope SELECT parseQueryToJSON(")
        end = message.rfind(" AS sql. (")
        if start != -1 and end != -1:
            head = message[:start].rstrip(" .")
            message = head + ". " + message[end + len(" AS sql. ") :]
        return self._public_error(message)

    def _check_ast(self, ast: dict[str, Any]) -> None:
        root = ast.get("type")
        if root != "SelectWithUnionQuery":
            what = _STATEMENT_KINDS.get(str(root), str(root).removesuffix("Query").upper())
            raise _Rejected(_access_denied(f"{what} queries are not allowed, only SELECT"))
        for node in _walk(ast):
            self._check_node(node)

    def _check_node(self, node: dict[str, Any]) -> None:
        if node.get("out_file") is not None or node.get("is_into_outfile_with_stdout"):
            raise _Rejected(_access_denied("INTO OUTFILE is not allowed"))
        if node.get("format_ast") is not None:
            raise _Rejected(_access_denied("FORMAT is not allowed"))
        if node.get("settings_ast") is not None or node.get("settings") is not None:
            raise _Rejected(_access_denied("SETTINGS is not allowed"))
        kind = node.get("type")
        if kind == "SetQuery":
            raise _Rejected(_access_denied("SETTINGS is not allowed"))
        if isinstance(kind, str) and kind.endswith("Query") and kind not in _ALLOWED_QUERY_NODES:
            what = _STATEMENT_KINDS.get(kind, kind.removesuffix("Query").upper())
            raise _Rejected(_access_denied(f"{what} queries are not allowed, only SELECT"))
        table_function = node.get("table_function")
        if table_function is not None:
            name = table_function.get("name", "?") if isinstance(table_function, dict) else "?"
            raise _Rejected(_access_denied(f"Table function {name} is not allowed"))
        if kind == "TableIdentifier":
            parts = node.get("name_parts") or []
            if len(parts) > 1:
                raise _Rejected(self._qualified_table_error(parts[0], parts[1]))
        elif kind == "Identifier":
            parts = node.get("name_parts") or []
            if len(parts) > 1 and self._is_database(parts[0]):
                raise _Rejected(self._qualified_table_error(parts[0], parts[1]))
        elif kind == "Function":
            name = str(node.get("name", ""))
            low = name.lower()
            if low in _DENIED_FUNCTIONS or low.startswith(_DENIED_PREFIXES) or low in self._table_only_functions:
                raise _Rejected(_access_denied(f"Function {name} is not allowed"))

    def _is_database(self, name: str) -> bool:
        low = name.lower()
        return low in _KNOWN_DATABASES or low.startswith("ws_") or name in self._databases.values()

    def _qualified_table_error(self, database: str, table: str) -> str:
        if database.lower() in _SYSTEM_DATABASES:
            return _access_denied(
                f"To execute this query, it's necessary to have the grant SELECT ON {database}.{table}"
            )
        return f"Code: 60. DB::Exception: Table {database}.{table} doesn't exist. (UNKNOWN_TABLE)"

    def _public_error(self, message: str) -> str:
        """Hide internal names: any workspace database reads ``orchestration``; the depth cap reads Cargo's."""
        message = _WS_DB_RE.sub(PUBLIC_DATABASE, message)
        depth = contract.MAX_SUBQUERY_DEPTH
        message = message.replace(f"Maximum: {depth + 1}.", f"Maximum: {depth}.")
        message = message.replace(self._path, "/var/lib/clickhouse")
        message = re.sub(r"/\* sbx:[0-9A-Za-z_-]+ \*/ ?", "", message)
        return message


def _literal(text: str) -> str:
    """``text`` inside a ClickHouse single-quoted string literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _connect(conn_str: str) -> Any:
    import chdb

    return chdb.connect(conn_str)  # type: ignore[no-untyped-call]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
