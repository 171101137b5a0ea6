"""Shared deployments over real loopback HTTP: authentication, per-caller isolation through every tool, Host and
Origin checks on a non-127.0.0.1 bind, stateless replicas behind a round-robin proxy with the S3 store, health,
readiness, metrics, JSON logs and the files policy."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError
from mcp.types import ListRootsResult, Root
from prometheus_client.parser import text_string_to_metric_families
from pydantic import FileUrl

from cargo_mcp.cli import main
from cargo_mcp.http_settings import HttpSettings, OAuthSettings
from cargo_mcp.logs import JsonFormatter, Redact
from cargo_mcp.results.s3 import S3Location
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.auth import credential_scope
from cargo_mcp.server.http import http_app, start_metrics
from cargo_mcp.settings import Settings
from tests.loopback import ISSUER, RESOURCE, Keys, RoundRobin, mcp_over_http, serving
from tests.support import FAST_RETRY, TOOLS, resource_text

pytestmark = pytest.mark.anyio
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


def own_calls(sb: Sandbox, workspace: int) -> dict[str, dict[str, Any]]:
    """One valid call of each Cargo-backed tool, with ids of this workspace only."""
    ws = sb.workspaces[workspace]
    run = next(r for r in ws.runs if r.status == "error" and r.batch is not None)
    assert run.batch is not None
    wf, batch = run.workflow.uuid, run.batch.uuid
    return {
        "get_workflow_nodes": {"batch_uuid": batch},
        "list_batches": {"workflow": wf, "limit": 2},
        "get_batch": {"batch_uuid": batch},
        "count_runs": {"workflow": wf, "batch_uuid": batch},
        "list_runs": {"batch_uuid": batch, "limit": 2},
        "get_run": {"run_uuid": run.uuid},
        "get_run_metrics": {"workflow": wf, "batch_uuid": batch},
        "list_releases": {"workflow": wf},
        "download_outputs": {"batch_uuid": batch, "limit": 2},
        "inspect_failures": {"batch_uuid": batch},
        "trace_run": {"run_uuid": run.uuid},
    }


@pytest.fixture
def tokens_server(shared_sandbox: Sandbox) -> Iterator[str]:
    settings = Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url)
    http = HttpSettings(tokens=("old-token-0123456789", "new-token-9876543210"))
    with serving(http_app(settings, http, retry=FAST_RETRY)) as url:
        yield url


async def test_no_credential_or_a_wrong_one_gets_401(tokens_server: str) -> None:
    async with httpx.AsyncClient(base_url=tokens_server, headers=MCP_HEADERS) as http:
        for headers in ({}, {"authorization": "Bearer wrong-token"}, {"authorization": "old-token-0123456789"}):
            r = await http.post("/mcp", json=INITIALIZE, headers=headers)
            assert r.status_code == 401
            assert r.headers["www-authenticate"].startswith('Bearer realm="cargo-mcp", error="invalid_token"')
            assert r.json()["error"] == "invalid_token" and "token" not in r.headers["www-authenticate"].split(",")[0]
        r = await http.post("/mcp", json=INITIALIZE, headers={"authorization": "Bearer new-token-9876543210"})
        assert r.status_code == 200
    for token in ("old-token-0123456789", "new-token-9876543210"):  # both rotation tokens work end to end
        async with mcp_over_http(f"{tokens_server}/mcp", {"authorization": f"Bearer {token}"}) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            assert not (await client.call_tool("list_workflows", {})).is_error


async def test_oauth_resource_server(shared_sandbox: Sandbox, keys: Keys) -> None:
    settings = Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url)
    http = HttpSettings(oauth=OAuthSettings(ISSUER, RESOURCE, keys.url, ("mcp:read",)))
    with serving(http_app(settings, http, retry=FAST_RETRY)) as url:
        async with httpx.AsyncClient(base_url=url, headers=MCP_HEADERS) as client:
            meta = (await client.get("/.well-known/oauth-protected-resource/mcp")).json()
            assert meta["resource"] == RESOURCE and meta["authorization_servers"] == [ISSUER]
            assert meta["scopes_supported"] == ["mcp:read"]
            refused = await client.post("/mcp", json=INITIALIZE)
            assert refused.status_code == 401
            challenge = refused.headers["www-authenticate"]
            assert 'resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"' in challenge
            narrow = await client.post("/mcp", json=INITIALIZE, headers={"authorization": f"Bearer {keys.token(scope='x')}"})
            assert narrow.status_code == 403 and "insufficient_scope" in narrow.headers["www-authenticate"]
        async with mcp_over_http(f"{url}/mcp", {"authorization": f"Bearer {keys.token()}"}) as client:
            assert not (await client.call_tool("list_workflows", {})).is_error


@pytest.fixture
def callers_server(shared_sandbox: Sandbox, tmp_path: Path) -> Iterator[str]:
    settings = Settings(token=None, base_url=shared_sandbox.base_url, results_dir=tmp_path / "results")
    with serving(http_app(settings, HttpSettings(caller_tokens="header"), retry=FAST_RETRY)) as url:
        yield url


async def test_caller_tokens_missing_or_refused_by_cargo_get_401(callers_server: str, shared_sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=callers_server, headers=MCP_HEADERS) as http:
        r = await http.post("/mcp", json=INITIALIZE)
        assert r.status_code == 401 and "X-Cargo-Api-Token" in r.json()["error_description"]
        r = await http.post("/mcp", json=INITIALIZE, headers={"x-cargo-api-token": "not-a-cargo-token"})
        assert r.status_code == 401 and "Cargo refused" in r.json()["error_description"]
        assert "www-authenticate" in r.headers
        good = {"x-cargo-api-token": shared_sandbox.workspaces[1].token}
        assert (await http.post("/mcp", json=INITIALIZE, headers=good)).status_code == 200


async def test_two_callers_see_only_their_own_workspace(callers_server: str, shared_sandbox: Sandbox) -> None:
    url = f"{callers_server}/mcp"
    sb = shared_sandbox
    a_headers = {"x-cargo-api-token": sb.workspaces[0].token}
    b_headers = {"x-cargo-api-token": sb.workspaces[1].token}
    async with mcp_over_http(url, a_headers) as a, mcp_over_http(url, b_headers) as b:
        # the catalog: A loads (and caches) its own first; B still sees only its own
        a_names = text(await a.call_tool("list_workflows", {}))
        b_names = text(await b.call_tool("list_workflows", {}))
        assert "Lead scorer" in a_names and "Lead scorer" not in b_names and "Globex" not in a_names
        b_nodes = await b.call_tool("get_workflow_nodes", {"workflow": "Lead scorer"})
        assert b_nodes.is_error
        assert not (await a.call_tool("get_workflow_nodes", {"workflow": "Lead scorer"})).is_error
        # SQL sees one workspace's tables
        for client, ws in ((a, sb.workspaces[0]), (b, sb.workspaces[1])):
            r = await client.call_tool("execute_query", {"sql": "SELECT count() AS n FROM runs"})
            assert not r.is_error and r.structured_content["rows"] == [{"n": len(ws.runs)}]
        # every id-taking tool: one's own ids work, the other's are unknown
        for own, other, mine in ((a, b, 0), (b, a, 1)):
            for tool, args in own_calls(sb, mine).items():
                mine_result = await own.call_tool(tool, args)
                assert not mine_result.is_error, (tool, text(mine_result))
                theirs = await other.call_tool(tool, args)
                assert theirs.is_error or theirs.structured_content.get("count") == 0, (tool, text(theirs))
        # result handles, as a tool and as a resource
        download = await a.call_tool("download_outputs", own_calls(sb, 0)["download_outputs"])
        result_id = download.structured_content["result_id"]
        assert not (await a.call_tool("read_result", {"result_id": result_id})).is_error
        stolen = await b.call_tool("read_result", {"result_id": result_id})
        assert stolen.is_error and "never existed or was evicted" in text(stolen)
        stolen = await b.call_tool("save_result", {"result_id": result_id, "path": "stolen.csv"})
        assert stolen.is_error and "never existed or was evicted" in text(stolen)
        assert (await a.read_resource(f"cargo://results/{result_id}")).contents
        with pytest.raises(MCPError, match="never existed or was evicted"):
            await b.read_resource(f"cargo://results/{result_id}")
    covered = {"list_workflows", "execute_query", "read_result", "save_result", *own_calls(sb, 0)}
    assert covered == TOOLS


async def test_a_session_is_bound_to_the_caller_that_opened_it(callers_server: str, shared_sandbox: Sandbox) -> None:
    a = {"x-cargo-api-token": shared_sandbox.workspaces[0].token}
    b = {"x-cargo-api-token": shared_sandbox.workspaces[1].token}
    async with httpx.AsyncClient(base_url=callers_server, headers=MCP_HEADERS) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=a)
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await http.post("/mcp", json=ping, headers={**a, **session})).status_code == 200
        assert (await http.post("/mcp", json=ping, headers={**b, **session})).status_code == 404


async def test_foreign_host_and_origin_on_a_bind_other_than_127_0_0_1(shared_sandbox: Sandbox) -> None:
    settings = Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url)
    http = HttpSettings(host="127.0.0.2", tokens=("t0k3n-for-the-host-test",))
    auth = {"authorization": "Bearer t0k3n-for-the-host-test", **MCP_HEADERS}
    with serving(http_app(settings, http, retry=FAST_RETRY), host="127.0.0.2") as url:
        async with httpx.AsyncClient(base_url=url, headers=auth) as client:
            port = url.rsplit(":", 1)[1]
            assert (await client.post("/mcp", json=INITIALIZE)).status_code == 200
            r = await client.post("/mcp", json=INITIALIZE, headers={"host": "evil.example"})
            assert r.status_code == 421
            r = await client.post("/mcp", json=INITIALIZE, headers={"host": f"evil.example:{port}"})
            assert r.status_code == 421
            r = await client.post("/mcp", json=INITIALIZE, headers={"origin": "http://evil.example"})
            assert r.status_code == 403
            r = await client.post("/mcp", json=INITIALIZE, headers={"origin": f"http://127.0.0.2:{port}"})
            assert r.status_code == 200
            # the checks come before authentication: a foreign Host learns nothing about the credentials
            r = await client.post("/mcp", json=INITIALIZE, headers={"host": "evil.example", "authorization": "x"})
            assert r.status_code == 421


async def test_two_stateless_replicas_behind_a_round_robin_proxy(
    shared_sandbox: Sandbox, bucket: S3Location, tmp_path: Path
) -> None:
    def replica(name: str) -> Any:
        settings = Settings(
            token=shared_sandbox.workspaces[0].token,
            base_url=shared_sandbox.base_url,
            results_dir=tmp_path / name,
            results_s3=bucket,
        )
        return http_app(settings, HttpSettings(stateless=True, tokens=("replica-token-abcdef",)), retry=FAST_RETRY)

    calls = own_calls(shared_sandbox, 0)
    with serving(replica("a")) as a, serving(replica("b")) as b:
        proxy = RoundRobin([a, b])
        with serving(proxy.app) as front:
            async with mcp_over_http(f"{front}/mcp", {"authorization": "Bearer replica-token-abcdef"}) as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                listed = await client.call_tool("list_workflows", {})
                batch = await client.call_tool("get_batch", calls["get_batch"])
                download = await client.call_tool("download_outputs", {**calls["download_outputs"], "limit": 3})
                page = await client.call_tool("read_result", {"result_id": download.structured_content["result_id"]})
                again = await client.call_tool("read_result", {"result_id": download.structured_content["result_id"]})
                csv_text = await client.read_resource(f"cargo://results/{download.structured_content['result_id']}")
    assert not any(r.is_error for r in (listed, batch, download, page, again)), text(download) + text(page)
    assert page.structured_content["matching"] == download.structured_content["total"]
    assert page.structured_content["rows"][:3] == download.structured_content["rows"]
    assert resource_text(csv_text).count("\n") == download.structured_content["total"] + 1
    where = {method: index for index, method in proxy.served}
    assert {index for index, _ in proxy.served} == {0, 1}
    downloaded_on = where["tools/call:download_outputs"]
    read_on = [i for i, m in proxy.served if m == "tools/call:read_result"]
    assert set(read_on) == {0, 1} and downloaded_on in read_on  # read on both replicas, one of them not its maker
    assert not list((tmp_path / "a").glob("**/mcp-session*"))


async def test_health_readiness_and_metrics(shared_sandbox: Sandbox, faults: Any) -> None:
    settings = Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url)
    http = HttpSettings(tokens=("metrics-test-token-1",), metrics_port=0)
    metrics_url = start_metrics(http)
    assert metrics_url is not None and metrics_url.startswith("http://127.0.0.1:")
    before = scrape(metrics_url)
    with serving(http_app(settings, http, retry=FAST_RETRY)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            assert (health.status_code, health.text) == (200, "ok") and (ready.status_code, ready.text) == (200, "ready")
            assert "cargo" not in health.text + ready.text and "x-request-id" in health.headers
        async with mcp_over_http(f"{url}/mcp", {"authorization": "Bearer metrics-test-token-1"}) as mcp:
            batch = own_calls(shared_sandbox, 0)["get_batch"]
            faults(path=f"/v1/orchestration/batches/{batch['batch_uuid']}", kind="status", status=503, count=1)
            assert not (await mcp.call_tool("get_batch", batch)).is_error  # one retry, then success
            assert (await mcp.call_tool("execute_query", {"sql": "DROP TABLE runs"})).is_error
    after = scrape(metrics_url)

    def grew(name: str, **labels: str) -> float:
        return after.get((name, tuple(sorted(labels.items()))), 0.0) - before.get((name, tuple(sorted(labels.items()))), 0.0)

    assert grew("cargo_mcp_tool_calls_total", tool="get_batch") == 1
    assert grew("cargo_mcp_tool_calls_total", tool="execute_query") == 1
    assert grew("cargo_mcp_tool_errors_total", tool="execute_query") == 1
    assert grew("cargo_mcp_tool_errors_total", tool="get_batch") == 0
    assert grew("cargo_mcp_cargo_retries_total") >= 1
    assert grew("cargo_mcp_cargo_responses_total", status="503") >= 1
    assert grew("cargo_mcp_guard_refusals_total") == 1
    assert grew("cargo_mcp_tool_duration_seconds_count", tool="get_batch") == 1
    assert ("process_resident_memory_bytes", ()) in after


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


async def test_readiness_fails_when_cargo_does_not_answer() -> None:
    settings = Settings(token="t", base_url="http://127.0.0.1:9")
    with serving(http_app(settings, HttpSettings(), retry=FAST_RETRY)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.text) == (503, "not ready")
            assert (await client.get("/healthz")).status_code == 200


async def test_json_logs_carry_request_ids_and_no_secrets(shared_sandbox: Sandbox) -> None:
    cargo_token = shared_sandbox.workspaces[0].token
    settings = Settings(token=cargo_token, base_url=shared_sandbox.base_url)
    http = HttpSettings(tokens=("log-test-token-42",))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact([cargo_token, *http.tokens]))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level, root.level = root.level, logging.INFO
    try:
        with serving(http_app(settings, http, retry=FAST_RETRY)) as url:
            async with httpx.AsyncClient(base_url=url, headers=MCP_HEADERS) as client:
                refused = await client.post("/mcp", json=INITIALIZE, headers={"authorization": "Bearer guess-1"})
                ok = await client.post(
                    "/mcp",
                    json=INITIALIZE,
                    headers={"authorization": "Bearer log-test-token-42", "x-request-id": "req-abc.123"},
                )
            logging.getLogger("cargo_mcp.test").info("echo %s and Bearer %s", cargo_token, "log-test-token-42")
    finally:
        root.removeHandler(handler)
        root.level = old_level
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert ok.headers["x-request-id"] == "req-abc.123" and len(refused.headers["x-request-id"]) == 32
    access = {line.get("request_id"): line for line in lines if line["logger"] == "cargo_mcp.http"}
    assert access["req-abc.123"]["status"] == 200 and access["req-abc.123"]["path"] == "/mcp"
    assert access[refused.headers["x-request-id"]]["status"] == 401
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    raw = out.getvalue()
    assert cargo_token not in raw and "log-test-token-42" not in raw and "guess-1" not in raw
    assert any(line["message"] == "echo *** and Bearer ***" for line in lines)


@pytest.fixture
def writer_server(shared_sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    exports = tmp_path / "exports"
    (exports / "team" / "reports").mkdir(parents=True)
    settings = Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url, export_dir=exports)
    with serving(http_app(settings, HttpSettings(tokens=("writer-token-0042",)), retry=FAST_RETRY)) as url:
        yield url, exports


async def save(client: Any, download: dict[str, Any], path: str) -> Any:
    """Download, then save_result the download to ``path``: the answer of save_result."""
    fetched = await client.call_tool("download_outputs", {**download, "limit": 0})
    assert not fetched.is_error, text(fetched)
    return await client.call_tool("save_result", {"result_id": fetched.structured_content["result_id"], "path": path})


async def test_client_roots_only_narrow_the_export_folder(
    writer_server: tuple[str, Path], shared_sandbox: Sandbox, tmp_path: Path
) -> None:
    url, exports = writer_server
    batch = own_calls(shared_sandbox, 0)["download_outputs"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    def roots(*uris: str) -> Any:
        async def answer(_: Any) -> ListRootsResult:
            return ListRootsResult(roots=[Root(uri=FileUrl(u)) for u in uris])

        return answer

    headers = {"authorization": "Bearer writer-token-0042"}
    async with mcp_over_http(f"{url}/mcp", headers, mode="legacy", list_roots_callback=roots("file:///")) as client:
        wide = await save(client, batch, str(outside / "x.csv"))
        assert wide.is_error and "outside the allowed folders" in text(wide) and not (outside / "x.csv").exists()
        ok = await save(client, batch, "all.csv")
        assert not ok.is_error and (exports / "all.csv").exists()  # '/' refused: the export folder alone
    narrow = roots(f"file://{exports / 'team' / 'reports'}", f"file://{outside}")
    async with mcp_over_http(f"{url}/mcp", headers, mode="legacy", list_roots_callback=narrow) as client:
        refused = await save(client, batch, str(exports / "top.csv"))
        assert refused.is_error and not (exports / "top.csv").exists()
        elsewhere = await save(client, batch, str(outside / "y.csv"))
        assert elsewhere.is_error and not (outside / "y.csv").exists()
        ok = await save(client, batch, "r.csv")
        assert not ok.is_error and (exports / "team" / "reports" / "r.csv").exists()


@pytest.mark.parametrize("allowed", [False, True])
async def test_callers_with_their_own_tokens_write_files_only_when_allowed(
    shared_sandbox: Sandbox, tmp_path: Path, allowed: bool
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    settings = Settings(token=None, base_url=shared_sandbox.base_url, export_dir=exports)
    http = HttpSettings(caller_tokens="header", caller_file_writes=allowed)
    token = shared_sandbox.workspaces[0].token
    with serving(http_app(settings, http, retry=FAST_RETRY)) as url:
        async with mcp_over_http(f"{url}/mcp", {"x-cargo-api-token": token}) as client:
            result = await save(client, own_calls(shared_sandbox, 0)["download_outputs"], "mine.csv")
    own_folder = exports / credential_scope("cargo", token)
    if allowed:
        assert not result.is_error and (own_folder / "mine.csv").exists()
        assert not (exports / "mine.csv").exists()
    else:
        assert result.is_error and "saving files is off on this shared HTTP server" in text(result)
        assert list(exports.iterdir()) == []


def test_http_beyond_loopback_refuses_to_start_without_authentication(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("CARGO_MCP_", "CARGO_API_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARGO_API_TOKEN", "t")
    assert main(["serve", "--http", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "refusing to serve HTTP on 0.0.0.0 without authentication" in err
    assert "--dangerously-allow-unauthenticated" in err
    assert HttpSettings(host="0.0.0.0", tokens=("x",)).refusal() is None
    assert HttpSettings(host="10.1.2.3", caller_tokens="header").refusal() is None
    assert HttpSettings(host="0.0.0.0", allow_unauthenticated=True).refusal() is None
    assert HttpSettings(host="127.0.0.1").refusal() is None and HttpSettings(host="::1").refusal() is None
    monkeypatch.delenv("CARGO_API_TOKEN")
    assert main(["serve", "--http", "--caller-tokens", "header"]) == 2  # no Cargo API to check tokens with
    assert "per-caller Cargo tokens need a Cargo API" in capsys.readouterr().err


def test_allowed_folders_policy(tmp_path: Path) -> None:
    from cargo_mcp.results.export import allowed_folders

    export, inside, other = tmp_path / "exports", tmp_path / "exports" / "team", tmp_path / "other"
    for folder in (inside, other):
        folder.mkdir(parents=True)
    root = Path("/")
    assert allowed_folders(export, [root, other], narrow_only=False) == [export, other.resolve()]  # stdio
    assert allowed_folders(None, [root], narrow_only=False) == []
    assert allowed_folders(export, [], narrow_only=True) == [export]
    assert allowed_folders(export, [root], narrow_only=True) == [export]
    assert allowed_folders(export, [other], narrow_only=True) == [export]
    assert allowed_folders(export, [inside, other], narrow_only=True) == [inside.resolve()]
    assert allowed_folders(None, [inside], narrow_only=True) == []
