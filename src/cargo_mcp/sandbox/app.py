"""The sandbox's ASGI app: Cargo's ``/v1`` paths, payloads, errors and caps over a synthetic workspace."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cargo_mcp.api import requests as p
from cargo_mcp.api.models import TERMINAL_STATUSES
from cargo_mcp.api.sql import EXPORT_CAP
from cargo_mcp.sandbox import outputs, select, serialize
from cargo_mcp.sandbox.engine import QueryError, QueryResult
from cargo_mcp.sandbox.faults import FaultMiddleware, Faults
from cargo_mcp.sandbox.files import FileStore, access_denied
from cargo_mcp.sandbox.workspace import BatchRec, RunRec, SandboxWorkspace, WorkflowRec

Handler = Callable[[Request, SandboxWorkspace], Awaitable[Response]]


class ApiError(Exception):
    """An error answered as Cargo does: ``{errorMessage, reason}`` with an HTTP status."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


def ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what.capitalize()} not found.", f"{what}NotFound")


async def body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ApiError(
            400,
            f"Invalid request: the body is not valid JSON ({e.msg} at position {e.pos}).",
            "invalidPayload",
        ) from None


def query_params(request: Request) -> dict[str, Any]:
    """GET parameters, accepting both ``key[]=a`` and repeated ``key=a`` for arrays."""
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key.endswith("[]"):
            out.setdefault(key[:-2], []).append(value)
        elif key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    for k, v in list(out.items()):
        if k in ("workflowUuids", "statuses", "includedDataKinds", "excludedDataKinds") and not isinstance(v, list):
            out[k] = [v]
    return out


def parse(model: type[p.R], data: Any) -> p.R:
    try:
        return p.parse(model, data)
    except p.PayloadError as e:
        raise ApiError(400, str(e), "invalidPayload") from None


def path_uuid(request: Request) -> str:
    raw = request.path_params["uuid"]
    try:
        return p.check_uuid(raw)
    except ValueError as e:
        raise ApiError(400, f"Invalid request: uuid: {e}.", "invalidPayload") from None


def _workflow(ws: SandboxWorkspace, uuid: str | None) -> WorkflowRec:
    wf = ws.workflows_by_uuid.get(uuid or "")
    if wf is None:
        raise ApiError(404, "Workflow not found.", "workflowNotFound")
    return wf


def _run(ws: SandboxWorkspace, r: Request) -> RunRec:
    run = ws.runs_by_uuid.get(path_uuid(r))
    if run is None:
        raise not_found("run")
    return run


def _batch(ws: SandboxWorkspace, r: Request) -> BatchRec:
    b = ws.batches_by_uuid.get(path_uuid(r))
    if b is None:
        raise not_found("batch")
    return b


def _owner(ws: SandboxWorkspace, r: Request, what: Literal["tool", "play"]) -> WorkflowRec:
    """The workflow of the tool or play named by the path's uuid."""
    uuid = path_uuid(r)
    wf = next((w for w in ws.workflows if (w.tool_uuid if what == "tool" else w.play_uuid) == uuid), None)
    if wf is None:
        raise not_found(what)
    return wf


# Runs a user's SQL in a workspace: ``Engine.query``, or a sandbox's that waits for its tables to load.
Sql = Callable[[str, str], QueryResult]
# Told as an API request arrives (False) and once it is answered (True).
Activity = Callable[[bool], None]


def _idle(_answered: bool) -> None:
    pass


class Api:
    """Route handlers over the sandbox's parts: its workspaces by token, SQL, files and faults."""

    def __init__(
        self,
        by_token: Mapping[str, SandboxWorkspace],
        sql: Sql,
        files: FileStore,
        faults: Faults | None,
        activity: Activity = _idle,
    ) -> None:
        self.by_token, self.sql, self.files, self.fault_rules = by_token, sql, files, faults
        self.activity = activity

    # --- runs -------------------------------------------------------------------------------
    async def run_get(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok(serialize.get_run(ws, _run(ws, r)).wire())

    async def runs_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListRuns, await body(r))
        runs = select.match_runs(ws, q)
        return ok(
            {
                "runs": [serialize.run(ws, x).wire() for x in select.page(runs, q.limit, q.offset, 20, 1000)],
                "count": len(runs),
            }
        )

    async def runs_count(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"count": len(select.match_runs(ws, parse(p.RunFilters, await body(r))))})

    async def runs_download(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.DownloadRuns, await body(r))
        _workflow(ws, q.workflow_uuid)
        runs = self._capped(select.match_runs(ws, q))
        return self._file(r, outputs.ndjson_runs(ws, runs), "application/x-ndjson", "ndjson")

    async def runs_download_outputs(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.DownloadRunOutputs, await body(r))
        wf = _workflow(ws, q.workflow_uuid)
        slug = self._output_slug(wf, q.output_node_slug)
        runs = select.match_runs(ws, q)
        if q.offset or q.limit is not None:
            runs = runs[q.offset or 0 : (q.offset or 0) + q.limit if q.limit is not None else None]
        runs = self._capped(runs)
        return self._outputs(r, runs, slug, q.format)

    async def runs_metrics(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.RunMetrics, await body(r))
        _workflow(ws, q.workflow_uuid)
        runs = select.match_runs(
            ws,
            p.RunFilters(
                workflowUuid=q.workflow_uuid,
                releaseUuid=q.release_uuid,
                batchUuid=q.batch_uuid,  # type: ignore[call-arg]
                createdAfter=q.created_after,
                createdBefore=q.created_before,
            ),
        )
        return ok({"runMetrics": [x.wire() for x in serialize.metrics(runs)]})

    # --- batches ----------------------------------------------------------------------------
    async def batch_get(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"batch": serialize.batch(ws, _batch(ws, r)).wire()})

    async def batches_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListBatches, query_params(r))
        items = select.page(select.match_batches(ws, q), q.limit, q.offset, 50, 1000)
        return ok({"batches": [serialize.batch(ws, b).wire() for b in items]})

    async def batch_download(self, r: Request, ws: SandboxWorkspace) -> Response:
        b = _batch(ws, r)
        q = parse(p.OutputNode, await body(r))
        if b.status not in TERMINAL_STATUSES:
            raise ApiError(400, "Batch not finished.", "batchNotFinished")
        slug = self._output_slug(b.workflow, q.output_node_slug)
        runs = sorted(ws.runs_of_batch.get(b.uuid, []), key=lambda x: (-x.created_at, x.uuid))
        return self._outputs(r, runs, slug, "csv")

    # --- releases, workflows, tools, plays ------------------------------------------------
    async def release_get(self, r: Request, ws: SandboxWorkspace) -> Response:
        rel = ws.releases_by_uuid.get(path_uuid(r))
        if rel is None or ws.workflows_by_uuid[rel.workflow_uuid].spec.kind == "adhoc":
            raise ApiError(404, "Release not found.", "releaseNotFound")
        return ok({"release": serialize.release(ws, rel).wire()})

    async def releases_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListReleases, query_params(r))
        rels = [
            rel
            for w in ws.workflows
            if w.spec.kind != "adhoc"
            for rel in w.releases
            if (not q.workflow_uuid or rel.workflow_uuid == q.workflow_uuid)
            and (not q.statuses or rel.status in q.statuses)
            and (not q.user_uuid or rel.user_uuid == q.user_uuid)
        ]
        rels.sort(key=lambda x: -x.created_at)
        return ok(
            {"releases": [serialize.release(ws, x).wire() for x in select.page(rels, q.limit, q.offset, 50, 500)]}
        )

    async def release_deployed(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.DeployedRelease, query_params(r))
        wf = ws.workflows_by_uuid.get(q.workflow_uuid)
        if wf is None or wf.deployed is None:
            raise ApiError(404, "Deployed release not found.", "releaseNotFound")
        return ok({"release": serialize.release(ws, wf.deployed).wire()})

    async def workflows_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        parse(p.Empty, query_params(r))
        return ok({"workflows": [serialize.workflow(ws, w).wire() for w in ws.workflows]})

    async def tools_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        parse(p.Empty, query_params(r))
        return ok({"tools": [serialize.tool(ws, w).wire() for w in ws.workflows if w.tool_uuid]})

    async def tool_get(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"tool": serialize.tool(ws, _owner(ws, r, "tool")).wire()})

    async def plays_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListPlays, query_params(r))
        plays = [
            w
            for w in ws.workflows
            if w.play_uuid
            and (q.model_uuid is None or w.model_uuid == q.model_uuid)
            and (q.segment_uuid is None or w.segment_uuid == q.segment_uuid)
            and (q.is_enabled is None or q.is_enabled)
            and (q.schedule_type is None or q.schedule_type == "cron")
        ]
        return ok({"plays": [serialize.play(ws, w).wire() for w in plays]})

    async def play_get(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"play": serialize.play(ws, _owner(ws, r, "play")).wire()})

    # --- SQL, spans, records -----------------------------------------------------------------
    async def query(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.Query, await body(r))
        try:
            res = await anyio.to_thread.run_sync(self.sql, ws.uuid, q.query)
        except QueryError as e:
            raise ApiError(400, e.message, "queryFailed") from None
        return ok({"rows": res.rows})

    async def spans_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListSpans, await body(r))
        hits = list(select.match_spans(ws, q))
        maximum = 1000 if q.trace_uuid else 500
        items = select.page(hits, q.limit, q.offset, 50, maximum)
        return ok({"spans": [serialize.span(ws, run, i).wire() for run, i, _ in items], "count": len(hits)})

    async def spans_count(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.SpanFilters, await body(r))
        return ok({"count": sum(1 for _ in select.match_spans(ws, q))})

    async def records_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.ListRecords, await body(r) if r.method == "POST" else query_params(r))
        recs = select.match_records(ws, q)
        items = select.page(recs, q.limit, q.offset, 20, 1000)
        return ok({"records": [serialize.record(ws, x).wire() for x in items], "count": len(recs)})

    async def records_count(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"count": len(select.match_records(ws, parse(p.RecordFilters, await body(r))))})

    async def records_download_outputs(self, r: Request, ws: SandboxWorkspace) -> Response:
        q = parse(p.DownloadRecordOutputs, await body(r))
        wf = _workflow(ws, q.workflow_uuid)
        slug = self._output_slug(wf, q.output_node_slug)
        recs = select.match_records(ws, q)
        if not recs:
            raise ApiError(400, "No records found matching the given filters.", "noRecordsFound")
        if len(recs) > EXPORT_CAP:
            message = f"Export is limited to {EXPORT_CAP:,} records. Please narrow your filters."
            raise ApiError(400, message, "tooManyRecords")
        return self._outputs(r, recs, slug, q.format)

    # --- identity ------------------------------------------------------------------------------
    async def user_current(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"user": serialize.user(ws).wire()})

    async def workspace_user_current(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"user": serialize.workspace_user(ws).wire()})

    async def workspace_current(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"workspace": serialize.workspace(ws).wire()})

    async def workspaces_list(self, r: Request, ws: SandboxWorkspace) -> Response:
        return ok({"workspaces": [serialize.workspace(ws).wire()]})

    # --- helpers -------------------------------------------------------------------------------
    def _capped(self, runs: list[RunRec]) -> list[RunRec]:
        if not runs:
            raise ApiError(400, "No runs found matching the given filters.", "noRunsFound")
        if len(runs) > EXPORT_CAP:
            raise ApiError(400, f"Export is limited to {EXPORT_CAP:,} runs. Please narrow your filters.", "tooManyRuns")
        return runs

    def _output_slug(self, wf: WorkflowRec, slug: str | None) -> str:
        if slug is None:
            slug = outputs.default_output_slug(wf)
            if slug is None:
                raise ApiError(400, "Node not found: the workflow has no output node.", "nodeNotFound")
        elif not outputs.slug_exists(wf, slug):
            raise ApiError(
                400,
                f"Node not found: no node with slug {slug!r} in this workflow's releases.",
                "nodeNotFound",
            )
        return slug

    def _outputs(self, r: Request, runs: list[RunRec], slug: str, fmt: str) -> Response:
        columns, rows = outputs.rows(runs, slug)
        data, ctype = outputs.encode(columns, rows, fmt)
        return self._file(r, data, ctype, fmt)

    def _file(self, r: Request, data: bytes, ctype: str, ext: str) -> Response:
        base = str(r.base_url).rstrip("/")
        return ok({"url": self.files.put(base, data, ctype, ext)})

    # --- auth wrapper ----------------------------------------------------------------------------
    def authed(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.activity(False)
            try:
                ws = self._workspace(request)
                return await handler(request, ws)
            except ApiError as e:
                return JSONResponse({"errorMessage": e.message, "reason": e.reason}, status_code=e.status)
            finally:
                self.activity(True)

        return endpoint

    def _workspace(self, request: Request) -> SandboxWorkspace:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Not authorized: send 'Authorization: Bearer <API token>'.", "unauthorized")
        ws = self.by_token.get(token.strip())
        if ws is None:
            raise ApiError(401, "Not authorized: the API token is invalid or revoked.", "unauthorized")
        selected = request.headers.get("selected-workspace-uuid")
        if selected and selected.lower() != ws.uuid:
            raise ApiError(403, f"Forbidden: this token cannot access workspace {selected}.", "forbidden")
        return ws

    async def file(self, request: Request) -> Response:
        got = self.files.get(
            request.path_params["file_id"],
            request.query_params.get("expires", ""),
            request.query_params.get("signature", ""),
        )
        if isinstance(got, str):
            return Response(access_denied(got), status_code=403, media_type="application/xml")
        return Response(got.body, media_type=got.content_type)

    async def faults(self, request: Request) -> Response:
        if self.fault_rules is None:
            return JSONResponse({"errorMessage": "Fault injection is disabled."}, status_code=404)
        if request.method == "DELETE":
            self.fault_rules.clear()
            return JSONResponse({"ok": True})
        try:
            self.fault_rules.add(await request.json())
        except ValueError as e:
            return JSONResponse({"errorMessage": str(e)}, status_code=400)
        return JSONResponse({"ok": True})


def create_app(
    by_token: Mapping[str, SandboxWorkspace],
    sql: Sql,
    files: FileStore,
    faults: Faults | None = None,
    activity: Activity = _idle,
) -> Any:
    """Build the ASGI app (wrapped in fault injection when ``faults`` is given)."""
    api = Api(by_token, sql, files, faults, activity)
    o = "/v1/orchestration"
    table: list[tuple[str, str, Handler]] = [
        ("GET", f"{o}/runs/{{uuid}}", api.run_get),
        ("POST", f"{o}/runs/list", api.runs_list),
        ("POST", f"{o}/runs/count", api.runs_count),
        ("POST", f"{o}/runs/download", api.runs_download),
        ("POST", f"{o}/runs/download-runs", api.runs_download),  # the seeds' path; alias for tolerance
        ("POST", f"{o}/runs/download-outputs", api.runs_download_outputs),
        ("POST", f"{o}/runs/metrics", api.runs_metrics),
        ("GET", f"{o}/batches/list", api.batches_list),
        ("GET", f"{o}/batches/{{uuid}}", api.batch_get),
        ("POST", f"{o}/batches/{{uuid}}/download", api.batch_download),
        ("GET", f"{o}/releases/list", api.releases_list),
        ("GET", f"{o}/releases/deployed", api.release_deployed),
        ("GET", f"{o}/releases/{{uuid}}", api.release_get),
        ("GET", f"{o}/workflows/list", api.workflows_list),
        ("GET", f"{o}/tools/list", api.tools_list),
        ("GET", f"{o}/tools/{{uuid}}", api.tool_get),
        ("GET", f"{o}/plays/list", api.plays_list),
        ("GET", f"{o}/plays/{{uuid}}", api.play_get),
        ("POST", f"{o}/query", api.query),
        ("POST", f"{o}/spans/list", api.spans_list),
        ("POST", f"{o}/spans/count", api.spans_count),
        ("POST", f"{o}/records/list", api.records_list),
        ("GET", f"{o}/records/list", api.records_list),
        ("POST", f"{o}/records/count", api.records_count),
        ("POST", f"{o}/records/download-outputs", api.records_download_outputs),
        ("GET", "/v1/userManagement/users/current", api.user_current),
        ("GET", "/v1/workspaceManagement/users/current", api.workspace_user_current),
        ("GET", "/v1/workspaceManagement/workspaces/current", api.workspace_current),
        ("GET", "/v1/workspaceManagement/workspaces/list", api.workspaces_list),
    ]
    routes = [Route(path, api.authed(h), methods=[method]) for method, path, h in table]
    routes += [
        Route("/files/{file_id}", api.file, methods=["GET"]),
        Route("/_sandbox/faults", api.faults, methods=["POST", "DELETE"]),
    ]
    app: Any = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    if faults is not None:
        app = FaultMiddleware(app, faults)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in Cargo's error shape too (no reason: none is documented for them)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    what = "is not allowed on" if status == 405 else "has no endpoint at"
    return JSONResponse({"errorMessage": f"{request.method} {what} {request.url.path}."}, status)
