"""The README's main job, `cargo-ai-mcp demo`, as a user runs it: a fresh process, no token, the embedded sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_walks_the_three_journeys_on_the_sandbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env["CARGO_MCP_SANDBOX_CACHE"] = str(tmp_path)  # a cold start, and nothing written to the real cache
    proc = subprocess.run(
        [sys.executable, "-m", "cargo_mcp.cli", "demo"], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "BACKEND: the embedded SANDBOX" in out and "SANDBOX" in proc.stderr  # said on both channels
    for heading in ("Journey 1", "Journey 2", "Journey 3"):
        assert f"## {heading}" in out
    for tool in ("get_workflow_nodes", "inspect_failures", "trace_run", "download_outputs", "read_result"):
        assert f"→ {tool}(" in out
    assert "Output node candidates:" in out and "FAILED" in out and "Demo finished" in out
    counted = re.search(r"→ count_runs\(.*\n\s+([\d,]+) run\(s\) match", out)
    stored = re.search(r"→ download_outputs\(.*\n\s+([\d,]+) row\(s\)( = [\d,]+ distinct record\(s\) [^\n]*)? in result", out)
    assert counted and stored and counted.group(1) == stored.group(1)  # same filter, same number of runs
