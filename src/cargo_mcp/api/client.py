"""The Cargo API client: one pooled ``httpx.AsyncClient``, auth and workspace headers, retries.

It speaks Cargo's wire format exactly (docs/cargo-contract.md §1 and §6) and knows nothing about MCP:
requests are the models of :mod:`cargo_mcp.api.requests`, answers are read into :mod:`cargo_mcp.api.models`.
Errors are :class:`~cargo_mcp.api.errors.CargoError`; an answer the models cannot read is a
``CargoShapeError``. The token never appears in an error.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx
from pydantic import TypeAdapter, ValidationError

from cargo_mcp import __version__, metrics
from cargo_mcp.api.errors import CargoApiError, CargoError, CargoNetworkError, CargoShapeError, NotCargoError
from cargo_mcp.api.models import Batch, GetRunResult, Play, Release, Run, RunMetric, Tool, Workflow, Workspace
from cargo_mcp.api.requests import (
    DeployedRelease,
    DownloadRunOutputs,
    DownloadRuns,
    ListBatches,
    ListReleases,
    ListRuns,
    Query,
    Request,
    RunFilters,
    RunMetrics,
)
from cargo_mcp.api.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after, seconds
from cargo_mcp.clip import echo, shorten

DEFAULT_BASE_URL = "https://api.getcargo.io"
SLOW_QUERY_SECONDS = 5.0
# (level, message): told about retries and slow queries while they happen (the server sends them to its client)
Notice = Callable[[Literal["info", "notice", "warning"], str], Awaitable[None]]
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
ORCH = "/orchestration"
MESSAGE_MAX = 2000  # characters of Cargo's errorMessage kept in an error (ClickHouse quotes whole statements)
REDIRECT_HINT = (
    "Check CARGO_API_BASE_URL: Cargo's API does not redirect, so this address is not Cargo's API (a proxy, a login "
    "page, a moved host, or http:// where https:// belongs). Set it to the API's own base URL, then retry."
)


def query_string(params: dict[str, Any]) -> list[tuple[str, str]]:
    """GET parameters as the official client sends them: nulls dropped, arrays as ``key[]=``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            out.extend((f"{key}[]", _scalar(v)) for v in value)
        else:
            out.append((key, _scalar(value)))
    return out


def _scalar(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


class CargoClient:
    """Async client for ``{base_url}/v1``. Use as an async context manager or call :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        workspace_uuid: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        notice: Notice | None = None,
    ) -> None:
        headers = {
            "authorization": f"Bearer {token}",
            "x-cargo-origin": "cargo-mcp",
            "x-cargo-origin-version": __version__,
            "user-agent": f"cargo-mcp/{__version__}",
        }
        if workspace_uuid:
            headers["selected-workspace-uuid"] = workspace_uuid
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._notice = notice
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/v1",
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            verify=_tls(self.base_url),
        )

    async def __aenter__(self) -> CargoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport -----------------------------------------------------------------------
    async def request(
        self, method: str, path: str, *, body: Request | None = None, params: Request | None = None
    ) -> Answer:
        """Send one call with retries on 429/502/503/504 and connection errors; return the JSON answer."""
        json_body = body.wire() if body is not None else None
        query = tuple(query_string(params.wire())) if params is not None else None
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = await self._http.request(method, path, json=json_body, params=query or None)
            except httpx.TransportError as e:
                metrics.CARGO_RESPONSES.labels("network").inc()
                wait = self._next_wait(attempt, started, None)
                if wait is None:
                    raise CargoNetworkError(
                        f"could not reach Cargo at {self.base_url} for {method} {path}: "
                        f"{_transport_reason(e)} (after {attempt} attempt{'s' * (attempt > 1)}).",
                        hint="Check the network and CARGO_API_BASE_URL, then retry.",
                    ) from None
                metrics.CARGO_RETRIES.inc()
                await self._retrying(method, path, _transport_reason(e), attempt, wait)
                continue
            metrics.CARGO_RESPONSES.labels(str(resp.status_code)).inc()
            asked = None
            if resp.status_code in RETRY_STATUSES:
                asked = parse_retry_after(resp.headers.get("retry-after"))
                wait = self._next_wait(attempt, started, asked)
                if wait is not None:
                    metrics.CARGO_RETRIES.inc()
                    await self._retrying(method, path, f"HTTP {resp.status_code}", attempt, wait)
                    continue
            return Answer(_parse(resp, method, path, self.base_url, asked), f"{method} {path}")

    async def _retrying(self, method: str, path: str, why: str, attempt: int, wait: float) -> None:
        if self._notice is not None:
            await self._notice(
                "warning",
                f"Cargo {method} {path}: {why}; retry {attempt + 1} of {self.retry.max_attempts} in {wait:.1f} s",
            )
        await anyio.sleep(wait)

    def _next_wait(self, attempt: int, started: float, retry_after: float | None) -> float | None:
        if attempt >= self.retry.max_attempts:
            return None
        wait = self.retry.backoff(attempt, retry_after)
        if time.monotonic() - started + wait > self.retry.max_total:
            return None
        return wait

    # --- orchestration endpoints ---------------------------------------------------------
    async def get_run(self, uuid: str) -> GetRunResult:
        return (await self.request("GET", f"{ORCH}/runs/{uuid}")).whole(_GET_RUN)

    async def list_runs(self, query: ListRuns) -> tuple[list[Run], int]:
        """One page of runs, and how many match in all."""
        answer = await self.request("POST", f"{ORCH}/runs/list", body=query)
        runs = answer.get("runs", _RUNS)
        return runs, answer.get("count", _INT, default=len(runs))

    async def count_runs(self, filters: RunFilters) -> int:
        return (await self.request("POST", f"{ORCH}/runs/count", body=filters)).get("count", _INT)

    async def download_run_outputs(self, payload: DownloadRunOutputs) -> str:
        """The signed URL of one node's output file (at most ``EXPORT_CAP`` runs a call)."""
        return (await self.request("POST", f"{ORCH}/runs/download-outputs", body=payload)).get("url", _STR)

    async def download_runs(self, payload: DownloadRuns) -> str:
        """The signed URL of a file of whole runs (runContext included)."""
        return (await self.request("POST", f"{ORCH}/runs/download", body=payload)).get("url", _STR)

    async def run_metrics(self, filters: RunMetrics) -> list[RunMetric]:
        return (await self.request("POST", f"{ORCH}/runs/metrics", body=filters)).get("runMetrics", _METRICS)

    async def get_batch(self, uuid: str) -> Batch:
        return (await self.request("GET", f"{ORCH}/batches/{uuid}")).get("batch", _BATCH)

    async def list_batches(self, query: ListBatches) -> list[Batch]:
        """One page of batches (Cargo gives no total)."""
        return (await self.request("GET", f"{ORCH}/batches/list", params=query)).get("batches", _BATCHES)

    async def get_release(self, uuid: str) -> Release:
        return (await self.request("GET", f"{ORCH}/releases/{uuid}")).get("release", _RELEASE)

    async def list_releases(self, query: ListReleases) -> list[Release]:
        return (await self.request("GET", f"{ORCH}/releases/list", params=query)).get("releases", _RELEASES)

    async def deployed_release(self, workflow_uuid: str) -> Release:
        query = DeployedRelease(workflow_uuid=workflow_uuid)
        return (await self.request("GET", f"{ORCH}/releases/deployed", params=query)).get("release", _RELEASE)

    async def list_workflows(self) -> list[Workflow]:
        return (await self.request("GET", f"{ORCH}/workflows/list")).get("workflows", _WORKFLOWS)

    async def list_tools(self) -> list[Tool]:
        return (await self.request("GET", f"{ORCH}/tools/list")).get("tools", _TOOLS)

    async def list_plays(self) -> list[Play]:
        return (await self.request("GET", f"{ORCH}/plays/list")).get("plays", _PLAYS)

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """The rows of one SQL query (checked by the guard before)."""
        started = time.monotonic()
        rows = (await self.request("POST", f"{ORCH}/query", body=Query(query=sql))).get("rows", _ROWS)
        took = time.monotonic() - started
        if took >= SLOW_QUERY_SECONDS and self._notice is not None:
            shown = " ".join(sql.split())
            await self._notice("notice", f"slow SQL query ({took:.1f} s, {len(rows):,} rows): {shown[:200]}")
        return rows

    async def current_workspace(self) -> Workspace:
        """The workspace of this client's token: how the HTTP server checks a caller's own token."""
        return (await self.request("GET", "/workspaceManagement/workspaces/current")).get("workspace", _WORKSPACE)


T = TypeVar("T")
_GET_RUN = TypeAdapter(GetRunResult)
_RUNS = TypeAdapter(list[Run])
_INT = TypeAdapter(int)
_STR = TypeAdapter(str)
_METRICS = TypeAdapter(list[RunMetric])
_BATCH = TypeAdapter(Batch)
_BATCHES = TypeAdapter(list[Batch])
_RELEASE = TypeAdapter(Release)
_RELEASES = TypeAdapter(list[Release])
_WORKFLOWS = TypeAdapter(list[Workflow])
_TOOLS = TypeAdapter(list[Tool])
_PLAYS = TypeAdapter(list[Play])
_WORKSPACE = TypeAdapter(Workspace)
_ROWS = TypeAdapter(list[dict[str, Any]])


class Answer:
    """A successful JSON answer: every way it differs from the wire models is a :class:`CargoShapeError`."""

    def __init__(self, data: Any, endpoint: str) -> None:
        self.data = data
        self.endpoint = endpoint

    def whole(self, adapter: TypeAdapter[T]) -> T:
        """The answer itself, read by ``adapter``."""
        return self._read(self._object(), adapter)

    def get(self, key: str, adapter: TypeAdapter[T], *, default: T | None = None) -> T:
        """The value under ``key``, read by ``adapter``; ``default`` when it is absent (required if no default)."""
        data = self._object()
        if key in data:
            return self._read(data[key], adapter)
        if default is None:
            raise CargoShapeError(f"missing key {key!r}", self.endpoint)
        return default

    def _object(self) -> dict[str, Any]:
        if not isinstance(self.data, dict):
            kind = "null" if self.data is None else "an array" if isinstance(self.data, list) else "a scalar"
            raise CargoShapeError(f"expected a JSON object, got {kind}", self.endpoint)
        return self.data

    def _read(self, value: Any, adapter: TypeAdapter[T]) -> T:
        try:
            return adapter.validate_python(value)
        except ValidationError as e:
            first = e.errors(include_url=False, include_input=False)[0]
            where = ".".join([e.title, *map(str, first["loc"])])
            raise CargoShapeError(f"{where}: {first['msg']}", self.endpoint) from None


def _place(location: str) -> str:
    """Where a redirect points, without its query string (it may carry a token), quoted and clipped."""
    try:
        p = urlsplit(location)
    except ValueError:
        return "an unreadable location"
    if not (p.netloc or p.path):
        return "no location"
    return echo(f"{p.scheme}://{p.netloc}{p.path}" if p.netloc else p.path)


def _tls(base_url: str) -> ssl.SSLContext | bool:
    """Plain http (the sandbox, a Cargo on localhost) needs no CA bundle: a context that trusts nothing (any TLS
    connection would fail closed) spares loading it, which costs seconds on a busy machine. https: the default."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if base_url.startswith("http://") else True


def _transport_reason(e: httpx.TransportError) -> str:
    if isinstance(e, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(e, httpx.ConnectError):
        return "connection refused or host unreachable"
    return "the connection was dropped"


def _parse(resp: httpx.Response, method: str, path: str, base_url: str, retry_after: float | None = None) -> Any:
    if 300 <= resp.status_code < 400:  # never followed: the token would go along
        raise CargoApiError(
            f"Cargo answered {method} {path} with a redirect (HTTP {resp.status_code}) to "
            f"{_place(resp.headers.get('location', ''))}; cargo-mcp does not follow redirects on Cargo's API.",
            status=resp.status_code,
            hint=REDIRECT_HINT,
        )
    _refuse_if_not_cargo(resp, method, path, base_url)
    data: Any
    try:
        data = resp.json() if resp.content else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        if resp.is_success:
            raise CargoApiError(
                f"Cargo answered {method} {path} with a body that is not valid JSON.",
                status=resp.status_code,
                hint="This is usually a transient server problem: retry the call. If it repeats, check that "
                "CARGO_API_BASE_URL is Cargo's API.",
            ) from None
        data = {}
    if resp.is_success:
        return data
    body = data if isinstance(data, dict) else {}
    reason = body.get("reason") if isinstance(body.get("reason"), str) and len(body["reason"]) <= 80 else None
    message = shorten(str(body.get("errorMessage") or resp.reason_phrase or "Unknown error"), MESSAGE_MAX)
    if retry_after is not None:  # given up with Cargo's wait unmet: say how long it asked for
        wait = seconds(retry_after)
        raise CargoApiError(
            f"{message.rstrip('.')}; Cargo asked to retry after {wait} s.",
            status=resp.status_code,
            reason=reason,
            hint=f"Wait {wait} s, then call again.",
        )
    raise CargoApiError(message, status=resp.status_code, reason=reason)


def _refuse_if_not_cargo(resp: httpx.Response, method: str, path: str, base_url: str) -> None:
    """An HTML page below 500, or a 404/405 without Cargo's ``{errorMessage, reason}`` body, is not Cargo."""
    if resp.status_code >= 500:
        return
    start = resp.content.lstrip()[:15].lower()
    html = "html" in resp.headers.get("content-type", "") or start.startswith((b"<!doctype html", b"<html"))
    if html:
        what = "an HTML page"
    elif resp.status_code in (404, 405) and not _cargo_error_body(resp):
        what = "a body without Cargo's errorMessage/reason"
    else:
        return
    raise NotCargoError(
        f"{base_url} does not answer like Cargo's API: {method} {path} got HTTP {resp.status_code} with {what}.",
        status=resp.status_code,
        hint=f"Set CARGO_API_BASE_URL to Cargo's API ({DEFAULT_BASE_URL}, the default) or remove it.",
    )


def _cargo_error_body(resp: httpx.Response) -> bool:
    try:
        data = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and bool({"errorMessage", "reason"} & data.keys())


__all__ = ["CargoClient", "CargoError", "query_string"]
