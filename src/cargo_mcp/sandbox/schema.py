"""ClickHouse DDL and matching Arrow schemas for the sandbox's four SQL tables.

The tables and columns are Cargo's SQL contract (:data:`cargo_mcp.api.sql.TABLES`); ``ORDER_BY`` gives the
ReplacingMergeTree sorting key. :func:`arrow_schema` returns the Arrow schema in the same column order, which
``INSERT INTO t SELECT * FROM Python(tbl)`` requires (``SELECT *`` maps columns by position).

Arrow conventions: UUIDs are strings; timestamps are ``pa.timestamp("ms", tz="UTC")``, so a column
may hold tz-aware UTC ``datetime`` values or integer epoch milliseconds; JSON columns are strings.
"""

from __future__ import annotations

import pyarrow as pa

from cargo_mcp.api.sql import TABLES

# ReplacingMergeTree (rows of all four tables are updated in place upstream, and FINAL
# must work); the sorting key ends with the row's identity so that no two rows ever collapse.
ORDER_BY: dict[str, str] = {
    "spans": "(workspace_uuid, execution_started_at, run_uuid, execution_index)",
    "runs": "(workspace_uuid, created_at, uuid)",
    "batches": "(workspace_uuid, created_at, uuid)",
    "records": "(workspace_uuid, created_at, run_uuid)",
}


def _unwrap(ch_type: str, wrapper: str) -> str | None:
    prefix = wrapper + "("
    if ch_type.startswith(prefix) and ch_type.endswith(")"):
        return ch_type[len(prefix) : -1]
    return None


def _arrow_type(ch_type: str) -> tuple[pa.DataType, bool]:
    """Arrow type for a ClickHouse type, and whether its values may be null."""
    for wrapper in ("LowCardinality", "Nullable"):
        inner = _unwrap(ch_type, wrapper)
        if inner is not None:
            t, nullable = _arrow_type(inner)
            return t, nullable or wrapper == "Nullable"
    inner = _unwrap(ch_type, "Array")
    if inner is not None:
        t, nullable = _arrow_type(inner)
        return pa.list_(pa.field("item", t, nullable=nullable)), False
    if ch_type.startswith("DateTime64("):
        return pa.timestamp("ms", tz="UTC"), False
    simple = {
        "String": pa.string(),
        "Float64": pa.float64(),
        "UInt32": pa.uint32(),
        "Int32": pa.int32(),
        "Bool": pa.bool_(),
    }
    return simple[ch_type], False


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table``, in DDL column order."""
    fields = []
    for name, ch_type in TABLES[table]:
        t, nullable = _arrow_type(ch_type)
        fields.append(pa.field(name, t, nullable=nullable))
    return pa.schema(fields)


def create_table_sql(database: str, table: str) -> str:
    """``CREATE TABLE`` statement for ``database.table``."""
    cols = ",\n    ".join(f"`{name}` {ch_type}" for name, ch_type in TABLES[table])
    engine = f"ENGINE = ReplacingMergeTree ORDER BY {ORDER_BY[table]}"
    return f"CREATE TABLE `{database}`.`{table}` (\n    {cols}\n)\n{engine}"
