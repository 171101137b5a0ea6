"""Counts over a stored result: what read_result's empty-cell counts and group_by, and download_outputs' release
split, cost on a large result (30 columns, a seventh of the cells empty)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Row, Target
from cargo_mcp.results.store import ResultStore

COLUMNS = 30
TARGET_MS = 2000  # a read_result call on a result of CARGO_MCP_MAX_RUNS rows stays interactive
SPLIT_TARGET_MS = 5000  # the release split runs once per download, which itself takes longer at this size


def timed(fn: Callable[[], Any], n: int = 3) -> float:
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def measure(rows: int, folder: Path) -> tuple[list[Row], list[str]]:
    store = ResultStore(folder)
    cols = ["runUuid", *(f"c{i}" for i in range(1, COLUMNS))]
    data = (
        {"runUuid": f"run-{i}", **{c: None if (i + j) % 7 == 0 else f"v{i % 50}" for j, c in enumerate(cols[1:])}}
        for i in range(rows)
    )
    rid = store.create(cols, data, "bench").result_id
    minority = {f"run-{i}": "old" for i in range(0, rows, 5)}  # a fifth of the runs on another release
    try:
        first_page = timed(lambda: store.read(rid, limit=100))
        calls = {
            "empty cells of every column, first call": timed(lambda: store.empty_cells(rid, cols, None), n=1),
            "empty cells with a where, first call": timed(lambda: store.empty_cells(rid, cols, {"c1": "v3"}), n=1),
            "group_by one column": timed(lambda: store.groups(rid, ["c3"], None)),
            "group_by two columns": timed(lambda: store.groups(rid, ["c3", "c4"], None)),
        }
        split = timed(lambda: store.filled_by_group(rid, "runUuid", minority, "new", cols[1:]))
    finally:
        store.close()
    slowest = max(calls, key=calls.__getitem__)
    out = [
        Row(f"read_result on {rows:,} rows, slowest call", calls[slowest], "ms", first_page, "a first page of 100",
            Target("<", TARGET_MS), note=slowest, why=", ".join(f"{k} {v:,.0f} ms" for k, v in calls.items())),
        Row(f"release split of a {rows:,}-row download", split, "ms", first_page, "a first page of 100",
            Target("<", SPLIT_TARGET_MS), note="once per download_outputs"),
    ]  # fmt: skip
    notes = [
        f"read_result on a stored result of {rows:,} rows × {COLUMNS} columns (medians of 3; first calls: one): "
        + ", ".join(f"{k} {v:,.0f} ms" for k, v in calls.items())
        + "."
    ]
    return out, notes
