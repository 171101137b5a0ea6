"""Sandbox start-up: a fresh process builds the default workspace, loads the SQL engine and serves HTTP.

Target (issue 3): ready in < 10 s. Run: `uv run python bench/sandbox_startup.py [--runs 3]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

PROBE = r"""
import json, time
t0 = time.perf_counter()
from cargo_mcp.sandbox.workspace import build_sandbox
from cargo_mcp.sandbox import tables
from cargo_mcp.sandbox.server import Sandbox
t1 = time.perf_counter()
sb = Sandbox()
t2 = time.perf_counter()
sb.serve_in_thread()
t3 = time.perf_counter()
ws = sb.workspaces[0]
spans = sum(len(r.executions) for r in ws.runs)
print(json.dumps({"import": t1 - t0, "build_and_load": t2 - t1, "serve": t3 - t2, "total": t3 - t0,
                  "runs": len(ws.runs), "spans": spans, "batches": len(ws.batches)}))
sb.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    first = results[0]
    total = [r["total"] for r in results]
    body = "\n".join(
        [
            f"Fresh process, default workspace ({first['runs']:,} runs, {first['spans']:,} spans, "
            f"{first['batches']} batches) plus the small second workspace; {args.runs} runs.",
            "",
            "| phase | median s |",
            "|---|---:|",
            f"| imports | {statistics.median(r['import'] for r in results):.2f} |",
            f"| generate + build tables + load chdb | {statistics.median(r['build_and_load'] for r in results):.2f} |",
            f"| start HTTP | {statistics.median(r['serve'] for r in results):.2f} |",
            f"| **total** | **{statistics.median(total):.2f}** (max {max(total):.2f}) |",
            "",
            f"Target < 10 s: {'met' if max(total) < 10 else 'MISSED'}.",
        ]
    )
    write_section("Sandbox start-up", body)
    print(body)


if __name__ == "__main__":
    main()
