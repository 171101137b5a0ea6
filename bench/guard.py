"""SQL guard latency: every corpus statement (legitimate and adversarial) checked many times.

Target (issue 5): the guard adds < 5 ms at p99 per query. Run: `uv run python bench/guard.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.guard_corpus
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from tests.guard_corpus import ADVERSARIAL, LEGIT

ROUNDS = 30


def main() -> None:
    t0 = time.perf_counter()
    from cargo_mcp.guard.sql import check

    import_ms = (time.perf_counter() - t0) * 1000
    legit = [q.replace("{workflow_uuid}", "w").replace("{batch_uuid}", "b").replace("{run_uuid}", "r") for q in LEGIT]
    corpus = {"legitimate": legit, "adversarial": [sql for sql, _ in ADVERSARIAL]}
    for queries in corpus.values():  # warm sqlglot's caches
        for q in queries:
            check(q)
    rows = []
    every: list[float] = []
    for name, queries in corpus.items():
        times = []
        for _ in range(ROUNDS):
            for q in queries:
                t = time.perf_counter()
                check(q)
                times.append((time.perf_counter() - t) * 1000)
        every += times
        rows.append((name, len(queries), times))
    rows.append(("all", sum(len(q) for q in corpus.values()), every))

    def q(times: list[float], p: float) -> float:
        return statistics.quantiles(times, n=1000)[int(p * 10) - 1]

    body = [
        f"`check(sql)` on the corpus of `tests/guard_corpus.py`, {ROUNDS} rounds after one warm-up round; "
        f"first import of the guard (sqlglot) {import_ms:.0f} ms, paid once on the first `execute_query`.",
        "",
        "| statements | count | median ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, count, times in rows:
        body.append(f"| {name} | {count} | {statistics.median(times):.2f} | {q(times, 99):.2f} | {max(times):.2f} |")
    p99 = q(every, 99)
    body += ["", f"Target p99 < 5 ms: {'met' if p99 < 5 else 'MISSED'} ({p99:.2f} ms)."]
    write_section("SQL guard latency", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
