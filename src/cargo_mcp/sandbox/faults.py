"""Fault injection for tests (off unless the sandbox is created with ``faults=True``).

``POST /_sandbox/faults`` with ``{"path": "/v1/orchestration/runs/count", "kind": ..., "count": N}``
makes the next N requests whose path starts with ``path`` misbehave. Kinds: ``status``
(``status``, optional ``retryAfter`` seconds), ``hang`` (``seconds``, then served normally),
``drop`` (the connection closes mid-response), ``malformed`` (200 with invalid JSON), ``body`` (200 with
the JSON given as ``body``: a well-formed answer of an unexpected shape), ``redirect`` (302 to ``location``)
and ``expired_url`` (403 as a signed URL past its expiry answers; use ``path: "/files/"``). ``DELETE``
clears all.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from cargo_mcp.sandbox.files import EXPIRED, access_denied


@dataclass
class Fault:
    path: str
    kind: str
    count: int = 1
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    body: Any = None
    location: str = ""


class Faults:
    """The pending faults, consumed in order of registration."""

    KINDS = ("status", "hang", "drop", "malformed", "body", "redirect", "expired_url")

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self.hits = 0

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}, got {kind!r}")
        f = Fault(
            path=str(spec.get("path", "/")),
            kind=kind,
            count=int(spec.get("count", 1)),
            status=int(spec.get("status", 503)),
            retry_after=spec.get("retryAfter"),
            seconds=float(spec.get("seconds", 0)),
            body=spec.get("body"),
            location=str(spec.get("location", "")),
        )
        with self._lock:
            self._rules.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for f in self._rules:
                if f.count > 0 and path.startswith(f.path):
                    f.count -= 1
                    self.hits += 1
                    return f
        return None


class FaultMiddleware:
    """ASGI middleware applying :class:`Faults` to matching requests."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        f = self.faults.take(scope["path"])
        if f is None:
            await self.app(scope, receive, send)
        elif f.kind == "hang":
            await anyio.sleep(f.seconds)
            await self.app(scope, receive, send)
        elif f.kind == "status":
            body = json.dumps({"errorMessage": f"Injected fault: HTTP {f.status}"} if f.status < 500 else {}).encode()
            retry = [(b"retry-after", str(f.retry_after).encode())] if f.retry_after is not None else []
            await _respond(send, f.status, body, retry)
        elif f.kind == "malformed":
            await _respond(send, 200, b'{"runs": [{"uuid": ')
        elif f.kind == "body":
            await _respond(send, 200, json.dumps(f.body).encode())
        elif f.kind == "redirect":
            await _respond(send, 302, b"", [(b"location", f.location.encode())])
        elif f.kind == "expired_url":
            await _respond(send, 403, access_denied(EXPIRED), content_type=b"application/xml")
        else:  # drop: promise a body, send part of it, then give up -> the server closes the connection
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
            raise ConnectionAbortedError("injected connection drop")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json",
) -> None:
    head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
