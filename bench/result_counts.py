"""Counts over a stored result: what read_result's empty-cell counts and group_by, and download_outputs' release
split, cost on a large result (200,000 rows of 30 columns by default).

Usage: uv run python bench/result_counts.py [--rows 200000]
Writes the "Counts over a stored result" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_section

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    rows = ap.parse_args().rows
    store = ResultStore(Path(tempfile.mkdtemp(prefix="cargo-mcp-bench-")))
    cols = ["runUuid", *(f"c{i}" for i in range(1, COLUMNS))]
    data = (
        {"runUuid": f"run-{i}", **{c: None if (i + j) % 7 == 0 else f"v{i % 50}" for j, c in enumerate(cols[1:])}}
        for i in range(rows)
    )
    rid = store.create(cols, data, "bench").result_id
    minority = {f"run-{i}": "old" for i in range(0, rows, 5)}  # a fifth of the runs on another release
    cold = timed(lambda: store.empty_cells(rid, cols, {"c1": "v3"}), n=1)
    results = [
        ("first page (100 rows)", timed(lambda: store.read(rid, limit=100))),
        ("empty cells of every column, first call", timed(lambda: store.empty_cells(rid, cols, None), n=1)),
        ("empty cells again (kept per result and where)", timed(lambda: store.empty_cells(rid, cols, None))),
        ("empty cells with a where, first call", cold),
        ("group_by one column", timed(lambda: store.groups(rid, ["c3"], None))),
        ("group_by two columns", timed(lambda: store.groups(rid, ["c3", "c4"], None))),
        (
            "release split: columns filled per release",
            timed(lambda: store.filled_by_group(rid, "runUuid", minority, "new", cols[1:])),
        ),
    ]
    store.close()
    *reads, (_, split) = results
    worst = max(ms for _, ms in reads)
    body = [
        f"A stored result of {rows:,} rows of {COLUMNS} columns (a seventh of the cells empty); medians of 3 calls "
        f"(first calls: one). Targets: each read_result call < {TARGET_MS:,} ms; the release split of a download "
        f"(once per download_outputs call) < {SPLIT_TARGET_MS:,} ms. Load average during the run: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| call | ms |",
        "|---|---:|",
        *(f"| {name} | {ms:,.0f} |" for name, ms in results),
        "",
        f"Slowest read_result call {worst:,.0f} ms: target {'met' if worst < TARGET_MS else 'MISSED'}; "
        f"release split {split:,.0f} ms: target {'met' if split < SPLIT_TARGET_MS else 'MISSED'}.",
    ]
    write_section("Counts over a stored result", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
