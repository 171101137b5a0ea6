"""The Cargo API client: one pooled ``httpx.AsyncClient``, auth and workspace headers, retries.

It speaks Cargo's wire format exactly (cargo-api.md §1 and §6) and knows nothing about MCP.
Errors are :class:`~cargo_mcp.api.errors.CargoError`; the token never appears in them.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
import httpx

from cargo_mcp import __version__
from cargo_mcp.api.errors import CargoApiError, CargoError, CargoNetworkError, NotCargoError
from cargo_mcp.api.models import (
    Batch,
    GetRunResult,
    Play,
    Release,
    Run,
    RunMetric,
    Tool,
    Workflow,
    Workspace,
)
from cargo_mcp.api.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

DEFAULT_BASE_URL = "https://api.getcargo.io"
SLOW_QUERY_SECONDS = 5.0
# (level, message): told about retries and slow queries while they happen (the server sends them to its client)
Notice = Callable[[Literal["info", "notice", "warning"], str], Awaitable[None]]
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
ORCH = "/orchestration"


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
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one call with retries on 429/502/503/504 and connection errors; return parsed JSON."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = await self._http.request(
                    method,
                    path,
                    json=_drop_none(body) if body is not None else None,
                    params=tuple(query_string(params)) if params else None,
                )
            except httpx.TransportError as e:
                wait = self._next_wait(attempt, started, None)
                if wait is None:
                    raise CargoNetworkError(
                        f"could not reach Cargo at {self.base_url} for {method} {path}: "
                        f"{_transport_reason(e)} (after {attempt} attempt{'s' * (attempt > 1)}).",
                        hint="Check the network and CARGO_API_BASE_URL, then retry.",
                    ) from None
                await self._retrying(method, path, _transport_reason(e), attempt, wait)
                continue
            if resp.status_code in RETRY_STATUSES:
                wait = self._next_wait(attempt, started, parse_retry_after(resp.headers.get("retry-after")))
                if wait is not None:
                    await self._retrying(method, path, f"HTTP {resp.status_code}", attempt, wait)
                    continue
            return _parse(resp, method, path, self.base_url)

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
        return GetRunResult.model_validate(await self.request("GET", f"{ORCH}/runs/{uuid}"))

    async def list_runs(self, filters: dict[str, Any], limit: int, offset: int) -> tuple[list[Run], int]:
        data = await self.request("POST", f"{ORCH}/runs/list", body={**filters, "limit": limit, "offset": offset})
        return [Run.model_validate(r) for r in data["runs"]], int(data.get("count", len(data["runs"])))

    async def count_runs(self, filters: dict[str, Any]) -> int:
        return int((await self.request("POST", f"{ORCH}/runs/count", body=filters))["count"])

    async def download_run_outputs(self, payload: dict[str, Any]) -> str:
        return str((await self.request("POST", f"{ORCH}/runs/download-outputs", body=payload))["url"])

    async def download_batch(self, batch_uuid: str, payload: dict[str, Any]) -> str:
        data = await self.request("POST", f"{ORCH}/batches/{batch_uuid}/download", body=payload)
        return str(data["url"])

    async def run_metrics(self, payload: dict[str, Any]) -> list[RunMetric]:
        data = await self.request("POST", f"{ORCH}/runs/metrics", body=payload)
        return [RunMetric.model_validate(m) for m in data["runMetrics"]]

    async def get_batch(self, uuid: str) -> Batch:
        return Batch.model_validate((await self.request("GET", f"{ORCH}/batches/{uuid}"))["batch"])

    async def list_batches(self, **params: Any) -> list[Batch]:
        data = await self.request("GET", f"{ORCH}/batches/list", params=params)
        return [Batch.model_validate(b) for b in data["batches"]]

    async def get_release(self, uuid: str) -> Release:
        return Release.model_validate((await self.request("GET", f"{ORCH}/releases/{uuid}"))["release"])

    async def list_releases(self, **params: Any) -> list[Release]:
        data = await self.request("GET", f"{ORCH}/releases/list", params=params)
        return [Release.model_validate(r) for r in data["releases"]]

    async def deployed_release(self, workflow_uuid: str) -> Release:
        data = await self.request("GET", f"{ORCH}/releases/deployed", params={"workflowUuid": workflow_uuid})
        return Release.model_validate(data["release"])

    async def list_workflows(self) -> list[Workflow]:
        data = await self.request("GET", f"{ORCH}/workflows/list")
        return [Workflow.model_validate(w) for w in data["workflows"]]

    async def list_tools(self) -> list[Tool]:
        return [Tool.model_validate(t) for t in (await self.request("GET", f"{ORCH}/tools/list"))["tools"]]

    async def list_plays(self) -> list[Play]:
        return [Play.model_validate(p) for p in (await self.request("GET", f"{ORCH}/plays/list"))["plays"]]

    async def query(self, sql: str) -> list[dict[str, Any]]:
        started = time.monotonic()
        rows: list[dict[str, Any]] = (await self.request("POST", f"{ORCH}/query", body={"query": sql}))["rows"]
        took = time.monotonic() - started
        if took >= SLOW_QUERY_SECONDS and self._notice is not None:
            shown = " ".join(sql.split())
            await self._notice("notice", f"slow SQL query ({took:.1f} s, {len(rows):,} rows): {shown[:200]}")
        return rows

    async def current_workspace(self) -> Workspace:
        data = await self.request("GET", "/workspaceManagement/workspaces/current")
        return Workspace.model_validate(data["workspace"])


def _tls(base_url: str) -> ssl.SSLContext | bool:
    """Plain http (the sandbox, a Cargo on localhost) needs no CA bundle: a context that trusts nothing (any TLS
    connection would fail closed) spares loading it, which costs seconds on a busy machine. https: the default."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if base_url.startswith("http://") else True


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _transport_reason(e: httpx.TransportError) -> str:
    if isinstance(e, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(e, httpx.ConnectError):
        return "connection refused or host unreachable"
    return "the connection was dropped"


def _parse(resp: httpx.Response, method: str, path: str, base_url: str) -> Any:
    _refuse_if_not_cargo(resp, method, path, base_url)
    data: Any
    try:
        data = resp.json() if resp.content else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        if resp.is_success:
            raise CargoApiError(
                f"Cargo answered {method} {path} with a body that is not valid JSON.",
                status=resp.status_code,
                hint="This is a transient server problem; retry the call.",
            ) from None
        data = {}
    if resp.is_success:
        return data
    body = data if isinstance(data, dict) else {}
    message = body.get("errorMessage") or resp.reason_phrase or "Unknown error"
    raise CargoApiError(str(message), status=resp.status_code, reason=body.get("reason"))


def _refuse_if_not_cargo(resp: httpx.Response, method: str, path: str, base_url: str) -> None:
    """An HTML page below 500, or a 404/405 without Cargo's ``{errorMessage, reason}`` body, is not Cargo."""
    if resp.status_code >= 500:
        return
    html = "html" in resp.headers.get("content-type", "") or resp.content.lstrip()[:1] == b"<"
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
