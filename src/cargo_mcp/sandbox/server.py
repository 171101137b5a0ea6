"""The embedded sandbox: workspaces + SQL engine + signed files + the ASGI app, served on loopback."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from cargo_mcp.sandbox.app import create_app
from cargo_mcp.sandbox.cache import CacheUnreadable, Loaded, SandboxCache, gc_paused
from cargo_mcp.sandbox.engine import Engine, QueryResult
from cargo_mcp.sandbox.faults import Faults
from cargo_mcp.sandbox.files import FileStore
from cargo_mcp.sandbox.workspace import SandboxWorkspace, build_sandbox

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

ENGINE_IDLE = 1.0  # seconds without API requests (after a first answer) before a cached sandbox starts its engine …
ENGINE_WAIT = 5.0  # … or this long after its workspaces were loaded, whichever comes first

Step = Callable[[float, str], None]  # (fraction done, what happens now); called from the building thread


class Sandbox:
    """A Cargo-API-compatible local workspace (two tenants). Create it in the main thread.

    With ``cache`` (a folder) the generated data is read from there when present, and written there
    (while the engine loads) when not. A cached start is ready once the workspaces are in memory: the
    SQL tables load in the background and SQL queries (:meth:`query`) wait for them.
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
        self._engine: Engine | None = None
        self._tables_loaded = threading.Event()
        self._sql_wanted = threading.Event()
        self._answered = threading.Event()
        self._last_request = time.monotonic()
        self._loader: threading.Thread | None = None
        workspaces = self._from_cache(now, step)
        if workspaces is None:
            workspaces = self._generate(seed, scale, now, step)
            self._tables_loaded.set()
        if token:
            workspaces[0].token = token
        self.workspaces = workspaces
        # The records live as long as the sandbox: spare the cyclic GC scanning them (a full pass over
        # ~1M objects takes about a second and would stall whatever request it lands in).
        gc.freeze()
        self.by_token = {ws.token: ws for ws in self.workspaces}
        self.files = FileStore(ttl=url_ttl)
        self.faults = Faults() if faults else None
        self.app = create_app(self.by_token, self.query, self.files, self.faults, self.note_request)
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
            loaded = self.cache.load(now)
        except (FileNotFoundError, CacheUnreadable) as e:
            self.cache_note = f"cache unreadable ({e}); rebuilt"
            return None
        self.cache_note = f"loaded from the cache in {self.cache.path}"
        self._loader = threading.Thread(target=self._load_tables, args=(loaded,), daemon=True)
        self._loader.start()
        return loaded.workspaces

    def _load_tables(self, loaded: Loaded) -> None:
        """Start the engine and load the cached tables; if they cannot be read, the same tables built from
        the workspaces in memory.

        Importing chdb holds the GIL for a while, so it waits: until the API has answered a first request
        and been quiet for ENGINE_IDLE since (the first call is answered first), or until someone needs the
        tables (:meth:`wait_for_tables`), at most ENGINE_WAIT.
        """
        deadline = time.monotonic() + ENGINE_WAIT
        while not self._sql_wanted.is_set() and time.monotonic() < deadline:
            idle = time.monotonic() - self._last_request
            if self._answered.is_set() and idle >= ENGINE_IDLE:
                break
            self._sql_wanted.wait(min(ENGINE_IDLE, max(ENGINE_IDLE - idle, 0.05)))
        try:
            self._engine = engine = Engine()
            try:
                loaded.tables(engine)
            except CacheUnreadable as e:
                log.warning("the cached sandbox tables are unreadable (%s); building them from the workspaces", e)
                for ws in loaded.workspaces:
                    engine.drop_workspace(ws.uuid)
                self._load_engine(loaded.workspaces, _arrow_tables(loaded.workspaces))
        finally:
            self._tables_loaded.set()

    @property
    def engine(self) -> Engine:
        """The SQL engine with every table loaded (after a cached start, this waits for the loading)."""
        self.wait_for_tables()
        if self._engine is None:
            raise RuntimeError("the sandbox's SQL engine did not start (see the log)")
        return self._engine

    def _generate(self, seed: int, scale: float, now: float, step: Step) -> list[SandboxWorkspace]:
        self._engine = Engine()
        step(0.05, "generating the synthetic workspaces (first start; cached afterwards)")
        # Tokens are set afterwards, so that the cache never holds a chosen token.
        workspaces = build_sandbox(seed=seed, now=now, scale=scale)
        step(0.35, "building the SQL tables")
        built = _arrow_tables(workspaces)
        step(0.75, "loading the SQL engine")
        writing = None
        if self.cache is not None:  # the engine's inserts release the GIL: write the cache meanwhile
            writing = threading.Thread(target=self._write_cache, args=(workspaces, built, now), daemon=True)
            writing.start()
        self._load_engine(workspaces, built)
        if writing is not None:
            writing.join()
        return workspaces

    def _load_engine(self, workspaces: list[SandboxWorkspace], built: list[dict[str, pa.Table]]) -> None:
        assert self._engine is not None
        for ws, ws_tables in zip(workspaces, built, strict=True):
            self._engine.add_workspace(ws.uuid)
            for name, table in ws_tables.items():
                self._engine.load(ws.uuid, name, table)

    def _write_cache(self, workspaces: list[SandboxWorkspace], built: list[dict[str, pa.Table]], now: float) -> None:
        assert self.cache is not None
        try:
            self.cache.write(workspaces, built, now)
        except Exception as e:  # a read-only or full disk only means no cache: say so, go on
            self.cache_note = f"not cached: {type(e).__name__}: {e}"
            log.warning("could not write the sandbox cache in %s (%s)", self.cache.root, e)

    def query(self, workspace_uuid: str, sql: str) -> QueryResult:
        """Run a user's SQL (see :meth:`Engine.query`), once the tables are loaded."""
        return self.engine.query(workspace_uuid, sql)

    def note_request(self, answered: bool) -> None:
        """An API request arrives, or has been answered (the engine's start waits for a quiet moment)."""
        self._last_request = time.monotonic()
        if answered:
            self._answered.set()

    def wait_for_tables(self, timeout: float | None = None) -> bool:
        """Block until the SQL tables are loaded (immediately after a fresh build); False on timeout."""
        self._sql_wanted.set()
        return self._tables_loaded.wait(timeout)

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a background thread; return the base URL (``http://host:port``)."""
        try:  # bound here, so a port in use is this OSError, not a uvicorn log line
            listening = _listen(host, port)
        except OSError as e:
            why = os.strerror(e.errno).lower() if e.errno else str(e)
            raise OSError(e.errno, f"the sandbox cannot listen on {host}:{port} ({why}); choose another port") from e
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listening]}, daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                listening.close()
                raise OSError(f"the sandbox could not start serving on {host}:{port}")
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        return self.base_url

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(5)
        if self._loader is not None:
            self._loader.join()
        if self._engine is not None:
            self._engine.close()
        gc.unfreeze()


def _arrow_tables(workspaces: list[SandboxWorkspace]) -> list[dict[str, pa.Table]]:
    # pyarrow (with numpy, pandas) loads here, not when a cached sandbox starts serving its API.
    from cargo_mcp.sandbox.tables import workspace_tables

    with gc_paused():  # millions of short-lived column values: the collector would scan the records each time
        return [workspace_tables(ws) for ws in workspaces]


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket made as asyncio makes its own: with protocol IPPROTO_TCP, so that asyncio sets
    TCP_NODELAY on every accepted connection (with protocol 0 it does not, and each small response then waits
    ~40 ms for a delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock
