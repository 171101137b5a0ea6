"""What the tools talk to: the Cargo client (or the embedded sandbox), the file fetcher, caches."""

from __future__ import annotations

import copy
import dataclasses
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.results.fetch import FetchPolicy, loopback_origin
from cargo_mcp.results.s3 import S3Mirror
from cargo_mcp.results.store import ResultStore
from cargo_mcp.settings import Settings

if TYPE_CHECKING:
    from cargo_mcp.sandbox.server import Sandbox

CATALOG_TTL = 30.0


class Backend:
    """Shared per-process state: one pooled Cargo client and one file client (created lazily)."""

    def __init__(self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None):
        self.settings = settings
        self.retry = retry
        self.timeout = timeout
        self.fetch_policy = FetchPolicy(
            allowed_host_suffixes=settings.download_hosts, max_bytes=settings.max_download_bytes
        )
        self.store = ResultStore(
            settings.results_dir,
            settings.results_max_bytes,
            max_age=settings.results_max_age,
            mirror=S3Mirror(settings.results_s3, max_bytes=settings.results_max_bytes, max_age=settings.results_max_age)
            if settings.results_s3
            else None,
        )
        self._view_of: Backend | None = None
        self._sandbox: Future[Sandbox] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: CargoClient | None = None
        self._files: httpx.AsyncClient | None = None
        self._lock = anyio.Lock()
        self.cache: dict[str, tuple[float, Any]] = {}

    @property
    def mode(self) -> str:
        return "sandbox" if self.settings.sandbox else "cargo"

    def start(self) -> None:
        """Begin building the embedded sandbox in the background (sandbox mode only)."""
        if self.settings.sandbox and self._sandbox is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cargo-sandbox")
            self._sandbox = self._pool.submit(_start_sandbox, self.settings.sandbox_seed)

    def for_caller(self, scope: str, token: str | None, export_dir: Path | None) -> Backend:
        """This backend as one HTTP caller sees it: results scoped to ``scope``; with the caller's own Cargo
        ``token`` also its own client and caches (the file fetcher is shared: it sends no credentials)."""
        view = copy.copy(self)
        view._view_of = self
        view.store = self.store.scoped(scope)
        view.settings = dataclasses.replace(self.settings, export_dir=export_dir)
        view._files = self.files()
        if token is not None:
            view.settings = dataclasses.replace(view.settings, token=token, workspace_uuid=None, sandbox=False)
            view._client, view._lock, view.cache, view._sandbox, view._pool = None, anyio.Lock(), {}, None, None
        return view

    async def cargo(self) -> CargoClient:
        return await self.client()

    async def client(self) -> CargoClient:
        """The Cargo client; in sandbox mode the first call waits until the sandbox is up."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                base, token = self.settings.base_url, self.settings.token or ""
                if self.settings.sandbox:
                    self.start()
                    assert self._sandbox is not None
                    sandbox = await anyio.to_thread.run_sync(self._sandbox.result)
                    base, token = sandbox.base_url, sandbox.workspaces[0].token
                kwargs: dict[str, Any] = {"workspace_uuid": self.settings.workspace_uuid, "retry": self.retry}
                if self.timeout is not None:
                    kwargs["timeout"] = self.timeout
                self._client = CargoClient(base, token, **kwargs)
                local = loopback_origin(base)  # the sandbox's (or a local Cargo's) files: that origin only
                self.fetch_policy = replace(self.fetch_policy, loopback_origins=(local,) if local else ())
        return self._client

    def files(self) -> httpx.AsyncClient:
        """A separate client for signed URLs: no Cargo auth header may ever reach a file host."""
        if self._files is None:
            self._files = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False)
        return self._files

    def cached(self, key: str) -> Any | None:
        hit = self.cache.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < CATALOG_TTL else None

    def remember(self, key: str, value: Any) -> Any:
        self.cache[key] = (time.monotonic(), value)
        return value

    async def aclose(self) -> None:
        if self._view_of is not None:  # a caller's view closes only its own client
            if self._client is not None and self._client is not self._view_of._client:
                await self._client.aclose()
            return
        self.store.close()
        if self._client is not None:
            await self._client.aclose()
        if self._files is not None:
            await self._files.aclose()
        if self._sandbox is not None:
            sandbox = await anyio.to_thread.run_sync(self._sandbox.result)
            sandbox.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _start_sandbox(seed: int) -> Sandbox:
    from cargo_mcp.sandbox.server import Sandbox

    started = time.monotonic()
    sandbox = Sandbox(seed=seed)
    url = sandbox.serve_in_thread()
    print(
        f"cargo-mcp: embedded sandbox ready at {url} in {time.monotonic() - started:.1f} s "
        "(synthetic data, not your Cargo workspace).",
        file=sys.stderr,
    )
    return sandbox
