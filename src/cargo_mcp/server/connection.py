"""The server's one Cargo client, made on first use: in sandbox mode once the embedded sandbox is up.

The sandbox is built (or loaded from its cache) in a background thread from :meth:`CargoConnection.start` (the
server answers ``initialize`` and ``tools/list`` meanwhile); the first tool calls wait for it and send progress
while they do. ``cargo_mcp.sandbox`` is imported only then, so the real-API path never loads it.
"""

from __future__ import annotations

import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx

from cargo_mcp.api.client import DEFAULT_TIMEOUT, CargoClient
from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.console import say
from cargo_mcp.server import notify
from cargo_mcp.settings import Settings

if TYPE_CHECKING:
    from cargo_mcp.sandbox.server import Sandbox

POLL_SECONDS = 0.25
PROGRESS_EVERY = 1.0  # seconds between progress notifications while one step of the sandbox's start runs


class CargoConnection:
    """Gives the one :class:`CargoClient`; concurrent first calls make it once."""

    def __init__(self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None):
        self.settings = settings
        self._retry = retry
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._sandbox: EmbeddedSandbox | None = None
        self._client: CargoClient | None = None
        self._lock = anyio.Lock()

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
                self._client = CargoClient(
                    base,
                    token,
                    workspace_uuid=self.settings.workspace_uuid,
                    retry=self._retry,
                    timeout=self._timeout,
                    notice=notify.log,  # retries and slow queries reach the client as log notifications
                )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._sandbox is not None:
            await anyio.to_thread.run_sync(self._sandbox.close)


class EmbeddedSandbox:
    """Builds (or loads from its cache) and serves the sandbox on loopback, off the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.step = (0.0, "starting the embedded sandbox")  # (fraction done, what happens now)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cargo-sandbox")
        self._future = self._pool.submit(self._start)

    def _start(self) -> Sandbox:
        from cargo_mcp.sandbox.cache import default_root
        from cargo_mcp.sandbox.server import Sandbox

        started = time.monotonic()
        sandbox = Sandbox(
            seed=self.settings.sandbox_seed,
            cache=self.settings.sandbox_cache or default_root(),
            on_step=self._on_step,
        )
        self._on_step(0.95, "starting the sandbox's HTTP server")
        url = sandbox.serve_in_thread(port=self.settings.sandbox_port)
        reach = f"; token {sandbox.workspaces[0].token}" if self.settings.sandbox_port else ""
        say(
            f"embedded sandbox ready at {url} in {time.monotonic() - started:.1f} s "
            f"({sandbox.cache_note}{reach}; synthetic data, not your Cargo workspace)."
        )
        return sandbox

    def _on_step(self, fraction: float, message: str) -> None:
        self.step = (fraction, message)

    async def ready(self) -> Sandbox:
        """The running sandbox; while it starts, send the caller progress and log notifications."""
        if not self._future.done():
            await self._wait()
        try:
            return self._future.result()
        except Exception as e:
            raise CargoError(
                f"the embedded sandbox could not start: {e}",
                hint="See the server's stderr; set CARGO_API_TOKEN to use Cargo instead of the sandbox.",
            ) from None

    async def _wait(self) -> None:
        began = time.monotonic()
        await notify.log("info", f"waiting for the embedded sandbox: {self.step[1]}")
        sent, sent_at, last = -1.0, 0.0, ""
        while not self._future.done():
            fraction, message = self.step
            if message != last or time.monotonic() - sent_at >= PROGRESS_EVERY:
                # Progress must grow with every notification: creep on while one step takes long.
                sent, sent_at, last = min(99.0, max(fraction * 100, sent + 0.5)), time.monotonic(), message
                await notify.progress(sent, 100, f"sandbox: {message} ({sent_at - began:.0f} s)")
            # Wakes the moment the sandbox is up; otherwise looks at its step again shortly.
            await anyio.to_thread.run_sync(futures.wait, [self._future], POLL_SECONDS)
        await notify.progress(100, 100, "sandbox ready")
        note = self._future.result().cache_note if self._future.exception() is None else "it failed"
        await notify.log("info", f"the embedded sandbox is ready after {time.monotonic() - began:.1f} s ({note})")

    def close(self) -> None:
        """Stop the sandbox (waiting for it to finish starting, and for its cache to be written)."""
        try:
            sandbox = self._future.result()
        except Exception:
            sandbox = None
        if sandbox is not None:
            sandbox.close()
        self._pool.shutdown(wait=False)
