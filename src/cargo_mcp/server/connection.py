"""The server's one Cargo client, made on first use: in sandbox mode once the embedded sandbox is up.

The sandbox is built in a background thread from :meth:`CargoConnection.start` (the server answers
``initialize`` and ``tools/list`` meanwhile); the first tool call waits for it. ``cargo_mcp.sandbox`` is imported
only then, so the real-API path never loads it.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx

from cargo_mcp.api.client import DEFAULT_TIMEOUT, CargoClient
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.settings import Settings

if TYPE_CHECKING:
    from cargo_mcp.sandbox.server import Sandbox


class CargoConnection:
    """Gives the one :class:`CargoClient`; concurrent first calls make it once."""

    def __init__(self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None):
        self.settings = settings
        self._retry = retry
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._sandbox: Future[Sandbox] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: CargoClient | None = None
        self._lock = anyio.Lock()

    def start(self) -> None:
        """Begin building the embedded sandbox in the background (sandbox mode only)."""
        if self.settings.sandbox and self._sandbox is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cargo-sandbox")
            self._sandbox = self._pool.submit(_start_sandbox, self.settings.sandbox_seed)

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
                self._client = CargoClient(
                    base, token, workspace_uuid=self.settings.workspace_uuid, retry=self._retry, timeout=self._timeout
                )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
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
