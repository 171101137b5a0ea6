"""The embedded sandbox: workspaces + SQL engine + signed files + the ASGI app, served on loopback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from cargo_mcp.sandbox import tables
from cargo_mcp.sandbox.app import create_app
from cargo_mcp.sandbox.cache import CacheUnreadable, CacheWriter, SandboxCache
from cargo_mcp.sandbox.engine import Engine
from cargo_mcp.sandbox.faults import Faults
from cargo_mcp.sandbox.files import FileStore
from cargo_mcp.sandbox.workspace import SandboxWorkspace, build_sandbox

log = logging.getLogger(__name__)

Step = Callable[[float, str], None]  # (fraction done, what happens now); called from the building thread


class Sandbox:
    """A Cargo-API-compatible local workspace (two tenants). Create it in the main thread.

    With ``cache`` (a folder) the generated data is read from there when present and written there
    otherwise (the write finishes in the background; :meth:`close` waits for it).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        scale: float = 1.0,
        token: str | None = None,
        url_ttl: float = 300.0,
        faults: bool = False,
        now: float | None = None,
        cache: Path | None = None,
        on_step: Step | None = None,
    ) -> None:
        now = now or time.time()
        step = on_step or (lambda _f, _m: None)
        self.cache = SandboxCache(cache, seed, scale) if cache is not None else None
        self.cache_note = ""  # how the cache was used, for the start-up message
        self.engine = Engine()
        self._writer: threading.Thread | None = None
        workspaces = self._from_cache(now, step)
        if workspaces is None:
            workspaces = self._generate(seed, scale, now, step)
        if token:
            workspaces[0].token = token
        self.workspaces = workspaces
        self.by_token = {ws.token: ws for ws in self.workspaces}
        self.files = FileStore(ttl=url_ttl)
        self.faults = Faults() if faults else None
        self.app = create_app(self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def _from_cache(self, now: float, step: Step) -> list[SandboxWorkspace] | None:
        if self.cache is None:
            return None
        if not self.cache.ready():
            self.cache_note = f"built and cached in {self.cache.path}"
            return None
        step(0.1, "loading the cached sandbox")
        try:
            workspaces = self.cache.load(self.engine, now)
        except (FileNotFoundError, CacheUnreadable) as e:
            self.cache_note = f"cache unreadable ({e}); rebuilt"
            self.engine.close()  # it may hold part of the entry
            self.engine = Engine()
            return None
        self.cache_note = f"loaded from the cache in {self.cache.path}"
        return workspaces

    def _generate(self, seed: int, scale: float, now: float, step: Step) -> list[SandboxWorkspace]:
        step(0.05, "generating the synthetic workspaces (first start; cached afterwards)")
        # Tokens are set afterwards, so that the cache never holds a chosen token.
        workspaces = build_sandbox(seed=seed, now=now, scale=scale)
        step(0.35, "building the SQL tables")
        built = [tables.workspace_tables(ws) for ws in workspaces]
        step(0.75, "loading the SQL engine")
        writer = self.cache.writer(workspaces, now) if self.cache is not None else None
        pickled: list[str | None] = []
        pickling = None
        if writer is not None:  # the engine's inserts release the GIL: pickle meanwhile
            pickling = threading.Thread(target=lambda: pickled.append(_failure(writer.write_objects)), daemon=True)
            pickling.start()
        for ws, ws_tables in zip(workspaces, built, strict=True):
            self.engine.add_workspace(ws.uuid)
            for name, table in ws_tables.items():
                self.engine.load(ws.uuid, name, table)
        if writer is not None and pickling is not None:
            pickling.join()
            self._writer = threading.Thread(target=self._finish_cache, args=(writer, pickled[0]), daemon=True)
            self._writer.start()  # dumping the tables releases the GIL too; it runs while the sandbox serves
        return workspaces

    def _finish_cache(self, writer: CacheWriter, failed: str | None) -> None:
        failed = failed or _failure(lambda: writer.finish(self.engine))
        if failed:
            writer.abandon()
            where = writer.tmp.parent
            log.warning("could not write the sandbox cache in %s (%s); the next start builds it again", where, failed)

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a background thread; return the base URL (``http://host:port``)."""
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(f"the sandbox could not listen on {host}:{port} (is the port in use?)")
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        return self.base_url

    def wait_for_cache(self, timeout: float | None = None) -> None:
        """Block until the cache entry being written (if any) is complete."""
        if self._writer is not None and self._writer.is_alive():
            self._writer.join(timeout)

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(5)
        self.wait_for_cache(60)
        self.engine.close()


def _failure(fn: Callable[[], None]) -> str | None:
    """Run a cache-writing step; a failure (disk full, read-only folder) only means no cache: say why."""
    try:
        fn()
    except Exception as e:  # OSError, or the engine closed under the writer
        return f"{type(e).__name__}: {e}"
    return None
