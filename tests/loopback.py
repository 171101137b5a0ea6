"""Real HTTP on loopback for tests: an ASGI app served by uvicorn in a thread, a round-robin proxy, MCP clients."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import httpx2
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

START_TIMEOUT = 30.0
ISSUER = "https://auth.example.test"
RESOURCE = "https://mcp.example.test/mcp"


@contextmanager
def serving(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` (its lifespan included) on ``host`` and a free port; yield ``http://host:port``."""
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on {host} did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class RoundRobin:
    """A tiny reverse proxy: each request goes to the next upstream; ``served`` records which one answered."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self._next = itertools.cycle(range(len(upstreams)))
        self.served: list[tuple[int, str]] = []  # (upstream index, MCP method or path)
        self._http: httpx.AsyncClient | None = None
        routes = [Route("/{path:path}", self.forward, methods=["GET", "POST", "DELETE"])]
        self.app = Starlette(routes=routes, lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=60.0) as http:  # on the serving thread's event loop
            self._http = http
            yield

    async def forward(self, request: Request) -> Response:
        index = next(self._next)
        assert self._http is not None
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        upstream = await self._http.request(
            request.method, self.upstreams[index] + request.url.path, content=body, headers=headers
        )
        method = _method(body) or request.url.path
        self.served.append((index, method))
        drop = ("content-length", "transfer-encoding", "connection", "content-encoding")
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k not in drop},
        )


def _method(body: bytes) -> str | None:
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict):
        name = (doc.get("params") or {}).get("name")
        return f"{doc.get('method')}:{name}" if name else doc.get("method")
    return None


@asynccontextmanager
async def mcp_over_http(url: str, headers: dict[str, str] | None = None, **kw: Any) -> AsyncIterator[Client]:
    """An MCP client on ``url`` (the /mcp endpoint) sending ``headers`` with every request."""
    http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(60.0))
    async with http, Client(streamable_http_client(url, http_client=http), **kw) as client:
        yield client


class Keys:
    """An OAuth issuer's signing key with its JWKS served over loopback HTTP."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def token(self, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": RESOURCE, "sub": "user-1", "exp": now + 300, "iat": now, "scope": "mcp:read"}
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key or self.key, "RS256", {"kid": "k1"})
