"""SQL guard latency: every statement of tests/guard_corpus.py (legitimate and adversarial) checked in
interleaved rounds beside sqlglot's parse of the same statement (the floor of any check), and the worst case:
statements of several shapes at the 256 KiB limit and at the token limit."""

from __future__ import annotations

import statistics
import time
from typing import Any

import sqlglot

from bench.interleave import quantile
from bench.profile import import_times, profile_call, shares
from bench.report import Row, Target
from tests.guard_corpus import ADVERSARIAL, LEGIT, SHAPES, shape

P99_TARGET_MS = 5.0
WORST_TARGET_MS = 1000.0
ROOM = 32  # bytes left for the LIMIT the guard appends, so that a statement at the limit is checked in full


def measure(rounds: int, shape_runs: int) -> tuple[list[Row], list[str]]:
    from cargo_mcp.guard.dialect import DIALECT
    from cargo_mcp.guard.limits import MAX_STATEMENT_BYTES, MAX_STATEMENT_TOKENS
    from cargo_mcp.guard.sql import check

    import_ms = import_times("import cargo_mcp.guard.sql")[0] * 1000  # in a fresh interpreter
    legit = [q.replace("{workflow_uuid}", "w").replace("{batch_uuid}", "b").replace("{run_uuid}", "r") for q in LEGIT]
    corpus = legit + [sql for sql, _ in ADVERSARIAL]

    def parse(q: str) -> Any:
        try:
            return sqlglot.parse(q, dialect=DIALECT)
        except Exception:  # adversarial statements break sqlglot in many ways: the time until then counts
            return None

    for q in corpus:  # warm sqlglot's caches
        check(q)
        parse(q)
    guard: list[list[float]] = [[] for _ in corpus]
    floor: list[list[float]] = [[] for _ in corpus]
    for _ in range(rounds):
        for i, q in enumerate(corpus):  # interleaved: the check, then the parse, statement by statement
            for fn, into in ((check, guard), (parse, floor)):
                t = time.perf_counter()
                fn(q)
                into[i].append((time.perf_counter() - t) * 1000)
    typical = [statistics.median(s) for s in guard]  # each statement's median: the guard's cost without the noise
    typical_floor = [statistics.median(s) for s in floor]
    raw = [x for s in guard for x in s]

    worst: list[tuple[float, float, str, str, bool, str]] = []  # CPU ms, wall ms, shape, limit, allowed, SQL
    for name in SHAPES:
        for limit, tokens in (("256 KiB", None), (f"{MAX_STATEMENT_TOKENS:,} tokens", MAX_STATEMENT_TOKENS - 10)):
            sql = shape(name, max_bytes=MAX_STATEMENT_BYTES - ROOM, max_tokens=tokens)
            wall, cpu = [], []
            for _ in range(shape_runs):
                t, c = time.perf_counter(), time.process_time()
                verdict = check(sql)
                wall.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
            worst.append((statistics.median(cpu), statistics.median(wall), name, limit, verdict.allowed, sql))
    slowest = max(worst)
    p99, floor_p99 = quantile(typical, 0.99), quantile(typical_floor, 0.99)
    rows = [
        Row("guard `check`, p99 of each statement's median", p99, "ms", floor_p99, "sqlglot parse alone",
            Target("<", P99_TARGET_MS), note=f"{len(corpus)} statements × {rounds} rounds",
            why=f"the raw p99 over every check is {quantile(raw, 0.99):.2f} ms; the parse alone takes {floor_p99:.2f} ms at p99."),
        Row("guard `check`, median", statistics.median(typical), "ms", statistics.median(typical_floor),
            "sqlglot parse alone"),
        Row("guard worst case up to 256 KiB, CPU time", slowest[0], "ms", target=Target("<=", WORST_TARGET_MS),
            note=f"{slowest[2]} at {slowest[3]}; wall {slowest[1]:.0f} ms",
            why=lambda: f"the slowest shape is {slowest[2]} at {slowest[3]}; profile of its check (own time per "
            f"package): {shares(profile_call(lambda: check(slowest[5])), 5)}."),
    ]  # fmt: skip
    notes = [
        f"The guard's first import (sqlglot) takes {import_ms:.0f} ms, paid once by the first `execute_query` (in "
        f"its worker thread). Worst cases (median of {shape_runs}):",
        "",
        "| shape | limit | CPU ms | wall ms | verdict |",
        "|---|---|---:|---:|---|",
        *(f"| {n} | {lim} | {c:.0f} | {w:.0f} | {'allowed' if ok else 'refused'} |" for c, w, n, lim, ok, _ in worst),
    ]
    return rows, notes
