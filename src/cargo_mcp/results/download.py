"""Download every run matching a filter, past Cargo's export cap, into the result store.

Pages of at most ``EXPORT_CAP`` runs are requested with ``limit``/``offset`` under a fixed ``createdBefore`` so
they are stable; each page's file is streamed to disk, then all pages are merged in order into one
stored result. A page whose file host fails transiently (429, 5xx, a dropped connection, a timeout) is
fetched again with backoff, and an expired URL is replaced by a fresh one, within the client's retry
policy; pages already fetched are kept meanwhile. A page that still fails fails the whole download:
nothing partial is stored or shown.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.requests import DownloadRunOutputs
from cargo_mcp.api.retry import RetryPolicy, seconds
from cargo_mcp.api.sql import EXPORT_CAP
from cargo_mcp.results.fetch import FetchPolicy, FetchRetryable, UrlExpired, fetch_to_file
from cargo_mcp.results.parse import read_rows
from cargo_mcp.results.store import ResultMeta, ResultStore

CHECK_EVERY = 1000  # rows stored between two looks at whether the call was cancelled
Progress = Callable[[int, int, str], Awaitable[None]]


@asynccontextmanager
async def download_outputs(
    client: CargoClient,
    http: httpx.AsyncClient,
    policy: FetchPolicy,
    store: ResultStore,
    payload: DownloadRunOutputs,
    total: int,
    *,
    fmt: str,
    description: str,
    progress: Progress | None = None,
    chunk: int = EXPORT_CAP,
) -> AsyncIterator[ResultMeta]:
    """Fetch all ``total`` runs of ``payload`` (a download-outputs body without limit/offset) into a result.

    The result is the caller's for the block: kept from eviction while it runs, deleted when the block
    fails or is cancelled (so no result is left that no answer names).
    """
    if total > chunk and payload.created_before is None:
        payload = payload.model_copy(update={"created_before": datetime.now(UTC)})
    pages = [(offset, min(chunk, total - offset)) for offset in range(0, total, chunk)]
    result_id = store.new_id()
    with store.hold(result_id):
        workdir = Path(tempfile.mkdtemp(prefix="cargo-mcp-dl-", dir=store.root))
        try:
            files = []
            for i, (offset, size) in enumerate(pages, 1):
                path = workdir / f"page-{i}.{fmt}"
                what = f"runs {offset + 1:,}-{offset + size:,} of {total:,}"
                notify = partial(progress, i - 1, len(pages)) if progress is not None else _quiet
                body = payload.model_copy(update={"limit": size, "offset": offset})
                await _fetch_page(client, http, policy, body, path, what, notify)
                files.append((path, size, offset))
                if progress is not None:
                    await progress(i, len(pages), f"fetched {what}")
            meta = await anyio.to_thread.run_sync(
                _store, store, result_id, files, fmt, description, payload.wire(), total
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        try:
            await anyio.lowlevel.checkpoint()  # a cancel that arrived while storing lands here
            yield meta
        except BaseException:
            store.delete(result_id)
            raise


async def _fetch_page(
    client: CargoClient,
    http: httpx.AsyncClient,
    policy: FetchPolicy,
    body: DownloadRunOutputs,
    dest: Path,
    what: str,
    notify: Callable[[str], Awaitable[None]],
) -> None:
    """One page, tried up to ``client.retry.max_attempts`` times, within ``max_total`` seconds of the first failure."""
    retry: RetryPolicy = client.retry
    url: str | None = None
    first_failure: float | None = None
    attempt = 0
    while True:
        attempt += 1
        if url is None:
            url = await client.download_run_outputs(body)
        try:
            await fetch_to_file(http, url, policy, dest)
            return
        except FetchRetryable as e:
            now = time.monotonic()
            first_failure = first_failure if first_failure is not None else now
            if isinstance(e, UrlExpired):
                url, wait = None, 0.0  # a fresh URL is the cure: ask Cargo again right away
            else:
                wait = retry.backoff(attempt, e.retry_after)
            over_budget = now - first_failure + wait > retry.max_total
            if attempt >= retry.max_attempts or over_budget:
                raise _gave_up(e, what, attempt, e.retry_after if over_budget else None) from None
            again = "with a fresh download URL" if url is None else f"in {seconds(wait)} s"
            await notify(f"{what}: {e.cause}; retrying {again} (attempt {attempt + 1} of {retry.max_attempts})")
            await anyio.sleep(wait)


async def _quiet(message: str) -> None:
    """No progress callback: say nothing."""


def _gave_up(e: FetchRetryable, what: str, attempts: int, asked: float | None) -> CargoApiError:
    tries = f"{attempts} attempt{'s' * (attempts > 1)}"
    waited = (
        "" if asked is None else f"; the file host asked to retry after {seconds(asked)} s, longer than cargo-mcp waits"
    )
    if isinstance(e, UrlExpired):
        hint = "Check that this computer's clock is right (signed URLs expire), then call download_outputs again."
    elif asked is not None:
        hint = f"Wait {seconds(asked)} s, then call download_outputs again."
    else:
        hint = "Call download_outputs again in a minute; if it keeps failing, check the network or narrow the filters."
    return CargoApiError(
        f"The file for {what} could not be fetched after {tries}: {e.cause}{waited}. Nothing was kept.",
        status=e.status,
        hint=hint,
    )


def _store(
    store: ResultStore,
    result_id: str,
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
                if got % CHECK_EVERY == 0:
                    anyio.from_thread.check_cancelled()  # stop early: the caller is gone
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

    kept: dict[str, Any] = {"result_id": result_id, "made_by": "download_outputs", "filters": payload, "total": total}
    gen = rows()
    first = next(gen, None)
    if first is None:
        return store.create(first_columns, iter(()), description, **kept)

    def chained() -> Iterator[dict[str, Any]]:
        yield first
        yield from gen

    columns = list(first_columns) or list(first)
    return store.create(columns, chained(), description, **kept)
