"""SQL guard latency: every corpus statement (legitimate and adversarial) checked many times, and the worst-case
check time on statements of several shapes at the 256 KiB limit and at the token limit.

Targets (issues 5 and 15): the guard adds < 5 ms at p99 per query; no check takes more than 1 s, up to 256 KiB.
Run: `uv run python bench/guard.py`.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.guard_corpus
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from tests.guard_corpus import ADVERSARIAL, LEGIT, SHAPES, shape

ROUNDS = 30
SHAPE_RUNS = 3
ROOM = 32  # bytes left for the LIMIT the guard appends, so that a statement at the limit is checked in full


def main() -> None:
    t0 = time.perf_counter()
    from cargo_mcp.guard.dialect import DIALECT
    from cargo_mcp.guard.limits import MAX_STATEMENT_BYTES, MAX_STATEMENT_TOKENS
    from cargo_mcp.guard.sql import check

    import_ms = (time.perf_counter() - t0) * 1000
    legit = [q.replace("{workflow_uuid}", "w").replace("{batch_uuid}", "b").replace("{run_uuid}", "r") for q in LEGIT]
    corpus = {"legitimate": legit, "adversarial": [sql for sql, _ in ADVERSARIAL]}
    for queries in corpus.values():  # warm sqlglot's caches
        for q in queries:
            check(q)
    rows = []
    every: list[float] = []
    typical: list[float] = []  # each statement's median over the rounds: what the guard costs, without the noise
    for name, queries in corpus.items():
        times = []
        per_statement: list[list[float]] = [[] for _ in queries]
        for _ in range(ROUNDS):
            for i, q in enumerate(queries):
                t = time.perf_counter()
                check(q)
                per_statement[i].append((time.perf_counter() - t) * 1000)
                times.append(per_statement[i][-1])
        every += times
        typical += [statistics.median(s) for s in per_statement]
        rows.append((name, len(queries), times))
    rows.append(("all", sum(len(q) for q in corpus.values()), every))

    def q(times: list[float], p: float) -> float:
        return statistics.quantiles(times, n=1000)[int(p * 10) - 1]

    body = [
        f"`check(sql)` on the corpus of `tests/guard_corpus.py`, {ROUNDS} rounds after one warm-up round; "
        f"first import of the guard (sqlglot) {import_ms:.0f} ms, paid once on the first `execute_query` "
        "(in the guard's worker thread).",
        "",
        "| statements | count | median ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, count, times in rows:
        body.append(f"| {name} | {count} | {statistics.median(times):.2f} | {q(times, 99):.2f} | {max(times):.2f} |")
    p99, typical_p99 = q(every, 99), q(typical, 99)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body += [
        "",
        f"p99 of each statement's median over the rounds: {typical_p99:.2f} ms (the raw p99 above includes the "
        f"machine's scheduling noise: load average {load:.1f} on {os.cpu_count()} cores while measuring).",
    ]

    body += [
        "",
        f"Worst cases: one statement of each shape as large as {MAX_STATEMENT_BYTES:,} bytes allow, then as large "
        f"as {MAX_STATEMENT_TOKENS:,} tokens allow (the largest the guard checks in full); median of {SHAPE_RUNS} "
        "checks.",
        "",
        "| shape | limit | bytes | tokens | check ms | CPU ms | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    worst_wall = worst_cpu = 0.0
    for name in SHAPES:
        for limit, tokens in (("256 KiB", None), (f"{MAX_STATEMENT_TOKENS:,} tokens", MAX_STATEMENT_TOKENS - 10)):
            sql = shape(name, max_bytes=MAX_STATEMENT_BYTES - ROOM, max_tokens=tokens)
            wall, cpu = [], []
            for _ in range(SHAPE_RUNS):
                t, c = time.perf_counter(), time.process_time()
                verdict = check(sql)
                wall.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
            worst_wall, worst_cpu = max(worst_wall, statistics.median(wall)), max(worst_cpu, statistics.median(cpu))
            said = "allowed" if verdict.allowed else _gist(verdict.reason or "")
            count = len(DIALECT.tokenize(sql))
            body.append(
                f"| {name} | {limit} | {len(sql.encode()):,} | {count:,} | {statistics.median(wall):.0f} "
                f"| {statistics.median(cpu):.0f} | {said} |"
            )
    body += [
        "",
        f"Target p99 < 5 ms: {'met' if typical_p99 < 5 else 'MISSED'} per statement ({typical_p99:.2f} ms; raw "
        f"{p99:.2f} ms). Target ≤ 1 s per check up to 256 KiB: {'met' if worst_cpu <= 1000 else 'MISSED'} in CPU "
        f"time (slowest shape {worst_cpu:.0f} ms of CPU, {worst_wall:.0f} ms wall at load average {load:.1f}).",
    ]
    write_section("SQL guard latency", "\n".join(body))
    print("\n".join(body))


def _gist(reason: str) -> str:
    """The refusal's first clause, for a table cell."""
    return "refused: " + re.split(r"[(:;]|\. ", reason)[0].strip().replace("|", "/")[:60]


if __name__ == "__main__":
    main()
