"""Peak memory growth while downloading 100,000 rows of ~2 KB into the result store (CSV and JSON).

A loopback server streams a generated ~200 MB file; the same fetch → parse → store pipeline that
download_outputs uses consumes it. Peak RSS is read from the kernel (ru_maxrss) in a fresh process.
Usage: uv run python bench/results_memory.py [--rows 100000]
Writes the "Results retrieval" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROW_BYTES = 2000


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(rows: int, fmt: str) -> dict[str, float]:
    import anyio
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    from cargo_mcp.results.fetch import FetchPolicy, fetch_to_file, loopback_origin
    from cargo_mcp.results.parse import read_rows
    from cargo_mcp.results.store import ResultStore

    pad = "x" * (ROW_BYTES - 120)

    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield b"recordId,recordTitle,runUuid,runStatus,payload\r\n"
            for i in range(rows):
                yield f"rec_{i},Company {i},{i:08d}-0000-4000-8000-000000000000,success,{pad}\r\n".encode()
        else:
            yield b"["
            for i in range(rows):
                row = {"recordId": f"rec_{i}", "recordTitle": f"Company {i}", "runStatus": "success", "payload": pad}
                yield (("," if i else "") + json.dumps(row)).encode()
            yield b"]"

    app = Starlette(routes=[Route("/f", lambda r: StreamingResponse(body()))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/f"
    store = ResultStore(Path(tempfile.mkdtemp()), max_bytes=10 * 1024**3)
    base = rss_mb()

    async def run() -> tuple[int, int]:
        dest = store.root / f"page.{fmt}"
        async with httpx.AsyncClient(timeout=120) as http:
            size = await fetch_to_file(http, url, FetchPolicy(loopback_origins=(str(loopback_origin(url)),), max_bytes=10 * 1024**3), dest)
        columns, items = read_rows(dest, fmt)
        meta = await anyio.to_thread.run_sync(lambda: store.create(columns, items, "bench"))
        return size, meta.rows

    t0 = time.perf_counter()
    size, stored = anyio.run(run)
    return {"bytes": size, "rows": stored, "seconds": time.perf_counter() - t0, "growth_mb": rss_mb() - base}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--worker", choices=["csv", "json"])
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(a.rows, a.worker)))
        return
    from report import write_section

    results = {}
    for fmt in ("csv", "json"):
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(a.rows), "--worker", fmt],
            capture_output=True,
            text=True,
            check=True,
        )
        results[fmt] = json.loads(out.stdout.strip().splitlines()[-1])
    rows = "\n".join(
        f"| {fmt.upper()} | {r['rows']:,} | {r['bytes'] / 1e6:.0f} MB | {r['seconds']:.1f} s | **{r['growth_mb']:.1f} MB** |"
        for fmt, r in results.items()
    )
    body = f"""
{a.rows:,} rows of ~{ROW_BYTES:,} bytes streamed from a loopback server through `fetch_to_file` →
`read_rows` → `ResultStore.create` (the `download_outputs` pipeline). Target: peak memory growth < 100 MB.

| Format | Rows stored | File | Time | Peak RSS growth |
|---|---|---|---|---|
{rows}
"""
    write_section("Results retrieval", body)
    print(body)


if __name__ == "__main__":
    main()
