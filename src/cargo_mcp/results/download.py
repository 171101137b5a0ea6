"""Download every run matching a filter, past Cargo's export cap, into the result store.

Pages of at most ``EXPORT_CAP`` runs are requested with ``limit``/``offset`` under a fixed ``createdBefore`` so
they are stable; each page's file is streamed to disk, then all pages are merged in order into one
stored result. A failed page fails the whole download: nothing partial is stored or shown.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.sql import EXPORT_CAP
from cargo_mcp.results.fetch import FetchPolicy, UrlExpired, fetch_to_file
from cargo_mcp.results.parse import read_rows
from cargo_mcp.results.store import ResultMeta, ResultStore

Progress = Callable[[int, int, str], Awaitable[None]]


async def download_outputs(
    client: CargoClient,
    http: httpx.AsyncClient,
    policy: FetchPolicy,
    store: ResultStore,
    payload: dict[str, Any],
    total: int,
    *,
    fmt: str,
    description: str,
    progress: Progress | None = None,
    chunk: int = EXPORT_CAP,
) -> ResultMeta:
    """Fetch all ``total`` runs of ``payload`` (a download-outputs body without limit/offset)."""
    payload = dict(payload)
    if total > chunk and "createdBefore" not in payload:
        payload["createdBefore"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    pages = [(offset, min(chunk, total - offset)) for offset in range(0, total, chunk)]
    workdir = Path(tempfile.mkdtemp(prefix="cargo-mcp-dl-", dir=store.root))
    try:
        files = []
        for i, (offset, size) in enumerate(pages, 1):
            path = workdir / f"page-{i}.{fmt}"
            await _fetch_page(client, http, policy, {**payload, "limit": size, "offset": offset}, path)
            files.append((path, size, offset))
            if progress is not None:
                await progress(i, len(pages), f"fetched runs {offset + 1}-{offset + size} of {total}")
        return await anyio.to_thread.run_sync(_store, store, files, fmt, description, payload, total)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _fetch_page(
    client: CargoClient, http: httpx.AsyncClient, policy: FetchPolicy, body: dict[str, Any], dest: Path
) -> None:
    """One page; a refused (expired) URL is requested again once."""
    for attempt in (1, 2):
        url = await client.download_run_outputs(body)
        try:
            await fetch_to_file(http, url, policy, dest)
            return
        except UrlExpired:
            if attempt == 2:
                raise


def _store(
    store: ResultStore,
    files: list[tuple[Path, int, int]],
    fmt: str,
    description: str,
    payload: dict[str, Any],
    total: int,
) -> ResultMeta:
    first_columns: list[str] = []

    def rows() -> Iterator[dict[str, Any]]:
        for n, (path, expected, offset) in enumerate(files):
            columns, items = read_rows(path, fmt)
            if n == 0:
                first_columns.extend(columns)
            got = 0
            for row in items:
                got += 1
                yield row
            if got != expected:
                header = f" (its header: {', '.join(columns)[:120]})" if got == 0 else ""
                raise CargoApiError(
                    f"runs {offset + 1}-{offset + expected} came back as a file of {got} rows instead of "
                    f"{expected}{header}: the file is malformed or the matching runs changed during the download, "
                    "so nothing was kept.",
                    hint="Download again; if it repeats, add created_before (a fixed end time) or narrow the filters.",
                )

    gen = rows()
    first = next(gen, None)
    if first is None:
        return store.create(first_columns, iter(()), description, filters=payload, total=total)

    def chained() -> Iterator[dict[str, Any]]:
        yield first
        yield from gen

    return store.create(list(first_columns) or list(first), chained(), description, filters=payload, total=total)
