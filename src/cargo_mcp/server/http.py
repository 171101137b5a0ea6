"""Streamable HTTP: the ASGI app around the SDK's transport.

Every request gets a request id (``X-Request-Id``, echoed; made here when absent or malformed) and one
access-log line. ``/healthz`` (the process is up) and ``/readyz`` (Cargo, or the embedded sandbox, answers)
are unauthenticated and say nothing but ``ok`` / ``ready`` / ``not ready``. Everything else goes through
:class:`Gate`: the Host and Origin allow-lists (421 / 403; on every bind address, not only loopback), then
authentication (401 with ``WWW-Authenticate``), then the MCP endpoint with the caller's own services.
Prometheus metrics are served on a separate port (``--metrics-port``, loopback unless told otherwise).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import prometheus_client
import uvicorn
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cargo_mcp import metrics
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.console import say
from cargo_mcp.http_settings import HEALTH_PATH, MCP_PATH, METRICS_PATH, READY_PATH, HttpSettings, is_loopback
from cargo_mcp.logs import REQUEST_ID
from cargo_mcp.logs import configure as configure_logs
from cargo_mcp.server.auth import SHARED_SCOPE, Authenticator, BearerTokens, Caller, JwtVerifier, Refusal
from cargo_mcp.server.callers import Callers
from cargo_mcp.server.health import banners
from cargo_mcp.settings import Settings

if TYPE_CHECKING:
    from cargo_mcp.server.services import Services

CALLER = "cargo_mcp.caller"
SERVICES = "cargo_mcp.services"
REQUEST = "cargo_mcp.request_id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
READY_TTL = 5.0
READY_TIMEOUT = 3.0
WILDCARD_BINDS = ("0.0.0.0", "::", "")
# Idle keep-alive connections stay open this long: longer than load balancers' idle timeouts (often 60 s),
# so the balancer, not the server, closes them and no request races a closing connection.
KEEP_ALIVE = 75
log = logging.getLogger("cargo_mcp.http")


def transport_security(http: HttpSettings) -> TransportSecuritySettings:
    """Host and Origin allow-lists: the bind address (loopback names for a loopback or wildcard bind) and the
    operator's ``--allowed-hosts`` / ``--allowed-origins``; each host with any port."""
    if http.host in WILDCARD_BINDS or is_loopback(http.host):
        names = ["127.0.0.1", "localhost", "[::1]"]
        if http.host not in WILDCARD_BINDS:
            names.append(_bracketed(http.host))
    else:
        names = [_bracketed(http.host)]
    names += list(http.allowed_hosts)
    hosts: list[str] = []
    origins: list[str] = []
    for name in dict.fromkeys(names):
        bare = name.removesuffix(":*")
        hosts += [bare] if _has_port(bare) else [bare, f"{bare}:*"]
        origins += [f"{scheme}://{bare}{port}" for scheme in ("http", "https") for port in ("", ":*")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys([*origins, *http.allowed_origins])),
    )


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _has_port(host: str) -> bool:
    return bool(re.search(r"(^\[.*\]|^[^:\[]*):\d+$", host))


class Gate:
    """Host/Origin checks, then authentication, then the MCP app with the caller's services in the scope."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings, auth: Authenticator, callers: Callers):
        self.app = app
        self.security = TransportSecurityMiddleware(security)
        self.auth = auth
        self.callers = callers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bad = await self.security.validate_request(request, is_post=False)
        if bad is not None:
            metrics.HTTP_REFUSALS.labels("host" if bad.status_code == 421 else "origin").inc()
            await bad(scope, receive, send)
            return
        caller: Caller | Refusal = Caller(SHARED_SCOPE)
        if self.auth.enabled:
            caller = await self.auth.authenticate(request.headers)
        if isinstance(caller, Refusal):
            metrics.HTTP_REFUSALS.labels(caller.reason).inc()
            await self._refuse(caller)(scope, receive, send)
            return
        scope[CALLER] = caller
        if self.auth.enabled:  # the SDK binds a session to the principal that opened it
            principal = AccessToken(token=caller.scope, client_id=caller.scope, scopes=[])
            scope["user"] = AuthenticatedUser(principal)
        async with self.callers.use(caller) as services:
            scope[SERVICES] = services
            await self.app(scope, receive, send)

    def _refuse(self, refusal: Refusal) -> Response:
        body = json.dumps({"error": refusal.error, "error_description": refusal.description})
        headers = {"www-authenticate": self.auth.challenge(refusal)} if refusal.status in (401, 403) else {}
        return Response(body, status_code=refusal.status, media_type="application/json", headers=headers)


class RequestLog:
    """A request id for every request (header ``X-Request-Id`` both ways) and one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope[REQUEST] = request_id
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            caller = scope.get(CALLER)
            probe = scope["path"] in (HEALTH_PATH, READY_PATH)
            log.log(
                logging.DEBUG if probe else logging.INFO,
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "caller": caller.label if isinstance(caller, Caller) else None,
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )
            REQUEST_ID.reset(token)


async def caller_services(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """MCP middleware: run the request with the services the gate chose for its caller; stamp the request id."""
    scope = getattr(ctx.request, "scope", None) or {}
    token = REQUEST_ID.set(scope.get(REQUEST))
    try:
        services = scope.get(SERVICES)
        if services is not None and services is not ctx.lifespan_context:
            ctx = dataclasses.replace(ctx, lifespan_context=services)
        return await call_next(ctx)
    finally:
        REQUEST_ID.reset(token)


def tool_metrics(mcp: MCPServer[Any]) -> ServerMiddleware[Any]:
    """MCP middleware: count and time every tool call, by tool (names the server does not have: 'unknown')."""
    tools: set[str] = set()

    async def count(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        if not tools:
            tools.update(t.name for t in await mcp.list_tools())
        name = str((ctx.params or {}).get("name", ""))
        tool = name if name in tools else "unknown"
        metrics.TOOL_CALLS.labels(tool).inc()
        started = time.perf_counter()
        failed = True
        try:
            result = await call_next(ctx)
            failed = isinstance(result, dict) and bool(result.get("isError"))
            return result
        finally:
            elapsed = time.perf_counter() - started
            metrics.TOOL_SECONDS.labels(tool).observe(elapsed)
            if failed:
                metrics.TOOL_ERRORS.labels(tool).inc()
            log.info(
                "tool %s %s",
                tool,
                "error" if failed else "ok",
                extra={"tool": tool, "ok": not failed, "duration_ms": round(elapsed * 1000, 2)},
            )

    return count


class Readiness:
    """Whether Cargo (or the embedded sandbox) answers HTTP at all; remembered for a few seconds."""

    def __init__(self, services: Callable[[], Services | None]) -> None:
        self._services = services
        self._probe = httpx.AsyncClient(timeout=READY_TIMEOUT, follow_redirects=False)
        self._at = -READY_TTL
        self._ready = False
        self._lock = anyio.Lock()

    async def ready(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._at >= READY_TTL:
                self._ready = await self._check()
                self._at = time.monotonic()
            return self._ready

    async def _check(self) -> bool:
        services = self._services()
        if services is None:
            return False
        try:
            with anyio.fail_after(READY_TIMEOUT):
                base = (await services.cargo()).base_url
                # any HTTP answer counts: without a credential Cargo answers 401, which proves it is there
                response = await self._probe.get(f"{base}/v1/workspaceManagement/workspaces/current")
        except (TimeoutError, httpx.HTTPError):
            return False
        return response.status_code < 500

    async def aclose(self) -> None:
        await self._probe.aclose()


class ServicesHolder:
    """Keeps the services the server's lifespan made, for readiness and the per-caller registry."""

    def __init__(self, make: Callable[[], Services]) -> None:
        self._make = make
        self.services: Services | None = None

    def make(self) -> Services:
        self.services = self._make()
        return self.services

    def get(self) -> Services:
        if self.services is None:
            raise RuntimeError("the server's services are not running")
        return self.services


def authenticator(http: HttpSettings, callers: Callers) -> Authenticator:
    oauth = http.oauth
    return Authenticator(
        tokens=BearerTokens(http.tokens) if http.tokens else None,
        oauth=JwtVerifier(oauth.issuer, oauth.resource, oauth.jwks_url) if oauth else None,
        required_scopes=oauth.scopes if oauth else (),
        caller_tokens=http.caller_tokens,
        verify_cargo=callers.verify if http.caller_tokens else None,
        resource_metadata_url=str(build_resource_metadata_url(AnyHttpUrl(oauth.resource))) if oauth else None,
    )


def build_app(mcp: MCPServer[Any], http: HttpSettings, holder: ServicesHolder, callers: Callers) -> Starlette:
    """The ASGI app serving ``mcp`` (built with ``holder.make`` as its services factory) under ``http``."""
    at = mcp.middleware.index(banners)  # outside the banners, so that they read the caller's services
    mcp.middleware[at:at] = [tool_metrics(mcp), caller_services]
    security = transport_security(http)
    sdk_app = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=http.stateless,
        json_response=http.stateless,
        transport_security=security,
        host=http.host,
    )
    readiness = Readiness(lambda: holder.services)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        ready = await readiness.ready()
        return PlainTextResponse("ready" if ready else "not ready", status_code=200 if ready else 503)

    routes: list[Route | Mount] = [Route(HEALTH_PATH, healthz), Route(READY_PATH, readyz)]
    if http.oauth is not None:
        # the SDK's settings model keeps the URLs as written (an issuer is compared as an exact string)
        oauth = AuthSettings.model_validate(
            {
                "issuer_url": http.oauth.issuer,
                "resource_server_url": http.oauth.resource,
                "validate_token_resource": False,
            }
        )
        assert oauth.resource_server_url is not None
        routes += create_protected_resource_routes(
            resource_url=oauth.resource_server_url,
            authorization_servers=[oauth.issuer_url],
            scopes_supported=list(http.oauth.scopes) or None,
            resource_name="cargo-mcp",
        )
    routes.append(Mount("/", app=Gate(sdk_app, security, authenticator(http, callers), callers)))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            try:
                yield
            finally:
                await callers.aclose()
                await readiness.aclose()

    return Starlette(routes=routes, middleware=[Middleware(RequestLog)], lifespan=lifespan)


def caller_export_dir(export_dir: Path | None, scope: str, own_token: bool, file_writes: bool) -> Path | None:
    """Where a caller may save files: the export folder; for callers with their own Cargo token only when the
    operator allowed it, and then in the caller's own subfolder."""
    if export_dir is None or not own_token:
        return export_dir
    if not file_writes:
        return None
    folder = export_dir / scope
    folder.mkdir(exist_ok=True)
    return folder


def http_app(
    settings: Settings,
    http: HttpSettings,
    *,
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout | None = None,
) -> Starlette:
    """The whole HTTP app for these settings (``retry`` and ``timeout`` let tests make Cargo calls quick)."""
    from cargo_mcp.server.app import build_server
    from cargo_mcp.server.services import Services

    holder = ServicesHolder(lambda: Services(settings, retry=retry, timeout=timeout))

    def for_caller(base: Services, scope: str, token: str | None) -> Services:
        export = caller_export_dir(base.settings.export_dir, scope, token is not None, http.caller_file_writes)
        return base.for_caller(scope, token, export_dir=export)

    mcp = build_server(settings, services_factory=holder.make)
    return build_app(mcp, http, holder, Callers(holder.get, for_caller))


def start_metrics(http: HttpSettings) -> str | None:
    """Serve Prometheus metrics on their own port (prometheus-client's threaded server); return the URL."""
    if http.metrics_port is None:
        return None
    server, _ = prometheus_client.start_http_server(http.metrics_port, addr=http.metrics_host)
    return f"http://{_bracketed(http.metrics_host)}:{server.server_port}{METRICS_PATH}"


def serve_http(settings: Settings, http: HttpSettings) -> None:
    """Run the HTTP server until interrupted (logs configured, metrics started)."""
    configure_logs(http.log_format, secrets=[settings.token or "", *http.tokens])
    metrics_url = start_metrics(http)
    mode = "stateless" if http.stateless else "sessions"
    auth = ", ".join(
        name
        for name, on in (
            ("server tokens", bool(http.tokens)),
            ("OAuth", http.oauth is not None),
            (f"caller Cargo tokens ({http.caller_tokens})", http.caller_tokens is not None),
        )
        if on
    )
    say(
        f"streamable HTTP on http://{_bracketed(http.host)}:{http.port}{MCP_PATH} ({mode}; "
        f"authentication: {auth or 'none'})" + (f"; metrics at {metrics_url}" if metrics_url else "")
    )
    if http.host in WILDCARD_BINDS and not http.allowed_hosts:
        say(
            "note: only loopback Host names are accepted; list the names clients use in "
            "--allowed-hosts (CARGO_MCP_HTTP_ALLOWED_HOSTS)."
        )
    uvicorn.run(
        http_app(settings, http),
        host=http.host,
        port=http.port,
        proxy_headers=bool(http.forwarded_allow_ips),
        forwarded_allow_ips=list(http.forwarded_allow_ips) or None,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE,
        lifespan="on",
    )
