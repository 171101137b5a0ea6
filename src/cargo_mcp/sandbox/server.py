"""The embedded sandbox: workspaces + SQL engine + signed files + the ASGI app, served on loopback."""

from __future__ import annotations

import threading
import time

import uvicorn

from cargo_mcp.sandbox import tables
from cargo_mcp.sandbox.app import create_app
from cargo_mcp.sandbox.engine import Engine
from cargo_mcp.sandbox.faults import Faults
from cargo_mcp.sandbox.files import FileStore
from cargo_mcp.sandbox.workspace import build_sandbox


class Sandbox:
    """A Cargo-API-compatible local workspace (two tenants). Create it in the main thread."""

    def __init__(
        self,
        *,
        seed: int = 7,
        scale: float = 1.0,
        token: str | None = None,
        url_ttl: float = 300.0,
        faults: bool = False,
        now: float | None = None,
    ) -> None:
        self.workspaces = build_sandbox(seed=seed, now=now or time.time(), scale=scale, tokens=(token, None))
        self.by_token = {ws.token: ws for ws in self.workspaces}
        self.engine = Engine()
        for ws in self.workspaces:
            self.engine.add_workspace(ws.uuid)
            for name, table in tables.workspace_tables(ws).items():
                self.engine.load(ws.uuid, name, table)
        self.files = FileStore(ttl=url_ttl)
        self.faults = Faults() if faults else None
        self.app = create_app(self.by_token, self.engine, self.files, self.faults)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a background thread; return the base URL (``http://host:port``)."""
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        return self.base_url

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(5)
        self.engine.close()
