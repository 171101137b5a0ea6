"""Peak memory growth of a download: rows of ~2 KB streamed from a loopback server through the pipeline
download_outputs uses (fetch_to_file → read_rows → ResultStore.create), in a fresh process so that the peak
resident size (the kernel's VmHWM: ru_maxrss would keep the forking parent's peak) is this download's. Run by the scale theme as `python -m bench.memory FORMAT ROWS`;
prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROW_BYTES = 2000


def peak_mb() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # where /proc is missing: bytes on macOS
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def download(rows: int, fmt: str) -> dict[str, float]:
    import anyio
    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
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

    async def file(_: Request) -> StreamingResponse:
        return StreamingResponse(body())

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/f", file)]), host="127.0.0.1", port=0,
                                           log_level="warning"))  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/f"
    with tempfile.TemporaryDirectory(prefix="cargo-mcp-bench-memory-") as tmp:
        store = ResultStore(Path(tmp), max_bytes=10 * 1024**3)
        base = peak_mb()
        policy = FetchPolicy(loopback_origins=(str(loopback_origin(url)),), max_bytes=10 * 1024**3)
        fetched: dict[str, float] = {}

        async def run() -> tuple[int, int]:
            dest = store.root / f"page.{fmt}"
            async with httpx.AsyncClient(timeout=300) as http:
                size = await fetch_to_file(http, url, policy, dest)
            fetched["growth"] = peak_mb() - base
            columns, items = read_rows(dest, fmt)
            meta = await anyio.to_thread.run_sync(lambda: store.create(columns, items, "bench"))
            return size, meta.rows

        t0 = time.perf_counter()
        size, stored = anyio.run(run)
        took = time.perf_counter() - t0
        store.close()
    server.should_exit = True
    return {"bytes": size, "rows": stored, "seconds": took, "growth_mb": peak_mb() - base,
            "fetch_growth_mb": fetched["growth"]}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(download(int(sys.argv[2]), sys.argv[1])))
