"""What the tools talk to: the Cargo client (or the embedded sandbox), the file fetcher, caches."""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.to_thread
import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.results.fetch import FetchPolicy
from cargo_mcp.results.store import ResultStore
from cargo_mcp.server import notify
from cargo_mcp.server.embedded import EmbeddedSandbox
from cargo_mcp.server.health import Health
from cargo_mcp.settings import Settings

CATALOG_TTL = 30.0


class Backend:
    """Shared per-process state: one pooled Cargo client and one file client (created lazily)."""

    def __init__(self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None):
        self.settings = settings
        self.retry = retry
        self.timeout = timeout
        self.fetch_policy = FetchPolicy(
            allowed_host_suffixes=settings.download_hosts,
            allow_loopback=settings.sandbox or _is_local(settings.base_url),
            max_bytes=settings.max_download_bytes,
        )
        self.store = ResultStore(settings.results_dir, settings.results_max_bytes)
        self.health = Health(settings)
        self._sandbox: EmbeddedSandbox | None = None
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
            self._sandbox = EmbeddedSandbox(self.settings)

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
                    sandbox = await self._sandbox.ready()
                    base, token = sandbox.base_url, sandbox.workspaces[0].token
                kwargs: dict[str, Any] = {
                    "workspace_uuid": self.settings.workspace_uuid,
                    "retry": self.retry,
                    "notice": notify.log,
                }
                if self.timeout is not None:
                    kwargs["timeout"] = self.timeout
                self._client = CargoClient(base, token, **kwargs)
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
        self.store.close()
        if self._client is not None:
            await self._client.aclose()
        if self._files is not None:
            await self._files.aclose()
        if self._sandbox is not None:
            await anyio.to_thread.run_sync(self._sandbox.close)


def _is_local(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("127.0.0.1", "localhost", "::1")
