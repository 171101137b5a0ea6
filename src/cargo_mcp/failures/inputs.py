"""What failed runs started with (their start node's runContext), read from one runs download: a tool's re-run
sends these records again."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.requests import DownloadRuns
from cargo_mcp.results.fetch import FetchPolicy, fetch_to_file


@dataclass(frozen=True)
class Files:
    """How signed download URLs are fetched: a client without Cargo's auth header, and the host policy."""

    http: httpx.AsyncClient
    policy: FetchPolicy


async def start_data(client: CargoClient, files: Files, workflow_uuid: str, run_uuids: list[str]) -> dict[str, Any]:
    """Each run's start data by run UUID; a run whose file line carries none is left out."""
    url = await client.download_runs(DownloadRuns(workflow_uuid=workflow_uuid, uuids=run_uuids))
    with tempfile.TemporaryDirectory(prefix="cargo-mcp-runs-") as folder:
        path = Path(folder) / "runs"
        await fetch_to_file(files.http, url, files.policy, path)
        return await anyio.to_thread.run_sync(_read, path)


def _read(path: Path) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for run in _runs(path):
        uuid, context, executions = run.get("uuid"), run.get("runContext"), run.get("executions")
        if not (isinstance(uuid, str) and isinstance(context, dict) and isinstance(executions, list)):
            continue
        steps = [e for e in executions if isinstance(e, dict)]
        start = next((e for e in steps if e.get("nodeActionSlug") == "start"), steps[0] if steps else None)
        data = context.get(start.get("nodeSlug")) if start else None
        if isinstance(data, dict):
            wanted[uuid] = data
    return wanted


def _runs(path: Path) -> Iterator[dict[str, Any]]:
    """The run objects of the file: NDJSON, or one JSON array (both are seen)."""
    with path.open(encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
        f.seek(0)
        if first.lstrip().startswith("["):
            items = json.load(f)
            yield from (x for x in items if isinstance(x, dict)) if isinstance(items, list) else ()
            return
        for line in f:
            if line.strip() and isinstance(item := json.loads(line), dict):
                yield item
