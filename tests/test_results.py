"""Results retrieval: result handles, pages past the export cap, files, resources and every failure mode."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.results.fetch import FetchPolicy, UrlExpired, fetch_to_file, loopback_origin
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.render import UNTRUSTED_BEGIN
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY, resource_text, tool_text

pytestmark = pytest.mark.anyio
Faults = Callable[..., None]


def company(sb: Sandbox) -> str:
    return next(w.uuid for w in sb.workspaces[0].workflows if w.spec.key == "company_enrichment")


def big_batch(sb: Sandbox) -> str:
    return max(sb.workspaces[0].batches, key=lambda b: b.runs_count if b.status == "success" else 0).uuid


@pytest.fixture
async def export_client(shared_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[tuple[Client, Path, Path]]:
    """A client whose server may save into ``tmp/exports`` and keeps results in ``tmp/results``."""
    exports, results = tmp_path / "exports", tmp_path / "results"
    exports.mkdir()
    settings = remote_settings(
        shared_sandbox, export_dir=exports, results_dir=results, max_download_bytes=50 * 1024 * 1024
    )
    server = build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))
    async with Client(server) as client:
        yield client, exports, results


async def call(client: Client, name: str, args: dict[str, Any], **kw: Any) -> tuple[bool, str, dict[str, Any]]:
    r = await client.call_tool(name, args, **kw)
    return bool(r.is_error), tool_text(r), r.structured_content or {}


async def test_past_the_export_cap_with_progress(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox
) -> None:
    client, _, _ = export_client
    wf = company(shared_sandbox)
    expected = sorted(r.uuid for r in shared_sandbox.workspaces[0].runs_of_workflow[wf])
    assert len(expected) > 10_000
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((p, total, message))

    failed, text, out = await call(
        client, "download_outputs", {"workflow": wf, "limit": 5}, progress_callback=progress
    )
    assert not failed, text
    assert out["total"] == len(expected) and "exceed the 10,000-run export cap" in text
    assert [p for p, _, _ in seen] == [1, 2] and seen[-1][1] == 2
    rows = []
    offset: int | None = 0
    while offset is not None:
        failed, text, page = await call(
            client,
            "read_result",
            {"result_id": out["result_id"], "offset": offset, "limit": 1000, "columns": ["runUuid"]},
        )
        assert not failed, text
        rows += [r["runUuid"] for r in page["rows"]]
        offset = page["next_offset"]
    assert sorted(rows) == expected  # no duplicate, no missing run


async def test_read_result_filters_sorts_and_selects(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox
) -> None:
    client, _, _ = export_client
    batch = big_batch(shared_sandbox)
    failed, text, out = await call(client, "download_outputs", {"batch_uuid": batch, "limit": 0})
    assert not failed and out["rows"] == [] and out["total"] > 0
    runs = shared_sandbox.workspaces[0].runs_of_batch[batch]
    errors = sorted(r.record_id for r in runs if r.status == "error")
    failed, text, page = await call(
        client,
        "read_result",
        {
            "result_id": out["result_id"],
            "where": {"runStatus": "error"},
            "order_by": "recordId",
            "columns": ["recordId", "runStatus"],
            "limit": 1000,
        },
    )
    assert not failed, text
    assert page["matching"] == len(errors) and [r["recordId"] for r in page["rows"]] == errors
    assert page["columns"] == ["recordId", "runStatus"]
    failed, text, page = await call(
        client, "read_result", {"result_id": out["result_id"], "order_by": "-recordId", "limit": 3}
    )
    ids = [r["recordId"] for r in page["rows"]]
    assert ids == sorted(ids, reverse=True)
    failed, text, _ = await call(client, "read_result", {"result_id": out["result_id"], "columns": ["nope"]})
    assert failed and "unknown column(s) ['nope']" in text
    failed, text, _ = await call(client, "download_outputs", {"batch_uuid": batch, "columns": ["runstatus"]})
    assert failed and "unknown column(s) ['runstatus' (did you mean 'runStatus'?)]" in text
    failed, text, _ = await call(client, "read_result", {"result_id": "r_000000000000"})
    assert failed and "no result 'r_000000000000'" in text


async def test_values_keep_their_json_types(export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox) -> None:
    client, exports, _ = export_client
    args = {"workflow": company(shared_sandbox), "statuses": ["success"], "created_after": "7d", "limit": 50}
    failed, text, out = await call(client, "download_outputs", args)
    assert not failed, text
    lines = text.splitlines()
    header = lines[lines.index(UNTRUSTED_BEGIN) + 1]
    assert header.startswith("recordTitle | runStatus | name") and "input." not in header  # outputs first
    outputs = [c for c in out["columns"] if c not in ("recordId", "recordTitle", "runUuid", "runStatus")]
    assert header.split(" | ") == ["recordTitle", "runStatus"] + [c for c in outputs if not c.startswith("input.")]
    assert "[left out: rows[*].{recordId,runUuid,input." in text  # the columns not shown, and the call for them
    failed, text, _ = await call(
        client, "save_result", {"result_id": out["result_id"], "path": "typed.json", "format": "json"}
    )
    assert not failed, text
    row = next(r for r in out["rows"] if r.get("qualified") is not None)
    assert isinstance(row["qualified"], bool) and isinstance(row["employees"], int)
    saved = json.loads((exports / "typed.json").read_text())
    assert len(saved) == out["total"] and saved[: len(out["rows"])] == out["rows"]
    by_bool = await call(client, "read_result", {"result_id": out["result_id"], "where": {"qualified": True}})
    by_text = await call(client, "read_result", {"result_id": out["result_id"], "where": {"qualified": "true"}})
    expected = sum(1 for r in saved if r.get("qualified") is True)
    assert by_bool[2]["matching"] == by_text[2]["matching"] == expected > 0
    n = row["employees"]
    assert (await call(client, "read_result", {"result_id": out["result_id"], "where": {"employees": n}}))[2][
        "matching"
    ]
    _, _, page = await call(
        client, "read_result", {"result_id": out["result_id"], "order_by": "-employees", "limit": 20}
    )
    sizes = [r["employees"] for r in page["rows"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == max(r["employees"] or 0 for r in saved)
    res = await client.read_resource(f"cargo://results/{out['result_id']}")
    first = next(csv.DictReader(io.StringIO(resource_text(res))))
    assert first["qualified"] in ("true", "false", "") and first["employees"] == str(saved[0]["employees"])


async def test_result_resource_is_csv(export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox) -> None:
    client, _, _ = export_client
    failed, text, out = await call(
        client, "download_outputs", {"batch_uuid": big_batch(shared_sandbox), "limit": 1, "format": "csv"}
    )
    assert not failed, text
    templates = await client.list_resource_templates()
    assert any(t.uri_template == "cargo://results/{result_id}" for t in templates.resource_templates)
    res = await client.read_resource(f"cargo://results/{out['result_id']}")
    body = resource_text(res)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == out["total"] and list(rows[0]) == out["columns"]
    with pytest.raises(Exception, match="no result 'r_000000000000'"):
        await client.read_resource("cargo://results/r_000000000000")


async def test_save_result_writes_inside_the_allowed_folder_only(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox, tmp_path: Path
) -> None:
    client, exports, _ = export_client
    failed, text, out = await call(client, "download_outputs", {"batch_uuid": big_batch(shared_sandbox), "limit": 0})
    assert not failed, text
    args = {"result_id": out["result_id"], "path": "batch.csv"}
    failed, text, saved_as = await call(client, "save_result", args)
    assert not failed, text
    saved = exports / "batch.csv"
    assert saved_as["path"] == str(saved) and saved.stat().st_size == saved_as["bytes"] and not saved_as["replaced"]
    assert sum(1 for _ in csv.DictReader(saved.open(newline=""))) == out["total"] == saved_as["rows"]
    assert text.startswith(f"Wrote {saved} (csv): {out['total']:,} row(s)")
    failed, text, _ = await call(client, "save_result", args)
    assert failed and "already exists; choose another name, or pass overwrite=true" in text
    assert saved.stat().st_size == saved_as["bytes"]  # untouched
    failed, text, again = await call(client, "save_result", {**args, "overwrite": True, "format": "json"})
    assert not failed and again["replaced"] and text.startswith("Replaced") and saved.read_text().startswith("[")
    outside = tmp_path / "elsewhere.csv"
    failed, text, _ = await call(client, "save_result", {**args, "path": str(outside)})
    assert failed and "outside the allowed folders" in text and str(exports) in text and not outside.exists()
    failed, text, _ = await call(client, "save_result", {**args, "path": "../escape.csv"})
    assert failed and "outside the allowed folders" in text
    failed, text, _ = await call(client, "save_result", {**args, "result_id": "r_000000000000"})
    assert failed and "no result 'r_000000000000'" in text


async def test_save_result_without_roots_is_refused(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    failed, text, out = await call(mcp_client, "download_outputs", {"batch_uuid": big_batch(shared_sandbox)})
    assert not failed, text
    failed, text, _ = await call(mcp_client, "save_result", {"result_id": out["result_id"], "path": "x.csv"})
    assert failed and "CARGO_MCP_EXPORT_DIR" in text


def leftovers(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob("*") if p.is_file()]


async def test_chunk_failing_midway_leaves_nothing(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, exports, results = export_client

    async def progress(p: float, total: float | None, message: str | None) -> None:
        if p == 1:  # the first page arrived: make the next one fail (500 is not retried)
            faults(path="/v1/orchestration/runs/download-outputs", kind="status", status=500, count=1)

    args = {"workflow": company(shared_sandbox), "format": "csv"}
    failed, text, _ = await call(client, "download_outputs", args, progress_callback=progress)
    assert failed and "HTTP 500" in text
    assert leftovers(exports, results) == []


@pytest.mark.parametrize(
    ("fault", "fmt", "message"),
    [
        ({"kind": "malformed"}, "json", "malformed"),
        ({"kind": "malformed"}, "csv", "the file is malformed"),
        ({"kind": "drop"}, "csv", "connection dropped"),
        ({"kind": "status", "status": 403}, "csv", "expired or its signature is invalid"),
        (
            {"kind": "redirect", "location": "https://evil.example.com/steal?x=1"},
            "csv",
            "redirected to 'evil.example.com'",
        ),
    ],
)
async def test_bad_files_give_clear_errors_and_no_partial_file(
    export_client: tuple[Client, Path, Path],
    shared_sandbox: Sandbox,
    faults: Faults,
    fault: dict[str, Any],
    fmt: str,
    message: str,
) -> None:
    client, exports, results = export_client
    faults(path="/files/", count=5, **fault)
    args = {"batch_uuid": big_batch(shared_sandbox), "format": fmt}
    failed, text, _ = await call(client, "download_outputs", args)
    assert failed and message in text, text
    assert leftovers(exports, results) == []


async def test_an_expired_url_is_requested_once_more(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, _, _ = export_client
    batch = big_batch(shared_sandbox)
    assert shared_sandbox.faults is not None
    before = shared_sandbox.faults.hits
    faults(path="/files/", kind="status", status=403, count=1)  # the first signed URL is refused
    failed, text, out = await call(client, "download_outputs", {"batch_uuid": batch, "limit": 1})
    assert not failed, text
    assert out["total"] == len(shared_sandbox.workspaces[0].runs_of_batch[batch])
    assert shared_sandbox.faults.hits - before == 1


async def test_oversize_file(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    settings = remote_settings(shared_sandbox, results_dir=tmp_path, max_download_bytes=2000)
    async with Client(build_server(settings)) as client:
        failed, text, _ = await call(client, "download_outputs", {"batch_uuid": big_batch(shared_sandbox)})
    assert failed and "larger than the 2,000-byte cap" in text and "CARGO_MCP_MAX_DOWNLOAD_BYTES" in text
    assert leftovers(tmp_path) == []


async def test_tampered_url_is_refused(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    ws = shared_sandbox.workspaces[0]
    body = {"workflowUuid": company(shared_sandbox), "limit": 3}
    r = httpx.post(
        shared_sandbox.base_url + "/v1/orchestration/runs/download-outputs",
        json=body,
        headers={"authorization": f"Bearer {ws.token}"},
    )
    url = r.json()["url"]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    dest = tmp_path / "f.csv"
    sandbox = FetchPolicy(loopback_origins=(str(loopback_origin(url)),))
    async with httpx.AsyncClient() as http:
        with pytest.raises(UrlExpired) as e:
            await fetch_to_file(http, tampered, sandbox, dest)
        assert "signature=" not in str(e.value) and not dest.exists()
        assert await fetch_to_file(http, url, sandbox, dest) > 0


async def test_redirects_and_foreign_hosts_are_refused(tmp_path: Path) -> None:
    app = Starlette(routes=[Route("/f", lambda r: RedirectResponse("https://evil.example.com/steal?x=1"))])
    dest = tmp_path / "f.csv"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        with pytest.raises(CargoApiError, match=r"redirected to 'evil\.example\.com'; redirects are not followed"):
            await fetch_to_file(
                http, "http://127.0.0.1/f?signature=abc", FetchPolicy(loopback_origins=("127.0.0.1:80",)), dest
            )
    assert not dest.exists()
    strict = FetchPolicy()
    for url, why in [
        ("http://bucket.s3.amazonaws.com/f?signature=abc", "not https"),
        ("https://files.evil.example/f?signature=abc", "not an allowed download host"),
        ("https://10.0.0.8/f?signature=abc", "bare IP address"),
        ("http://127.0.0.1:9/f?signature=abc", "not https"),
        ("https://localhost.getcargo.io.evil.example/f", "not an allowed download host"),
    ]:
        with pytest.raises(CargoApiError, match=why) as e:
            await fetch_to_file(httpx.AsyncClient(), url, strict, dest)
        assert "signature=abc" not in str(e.value)
    private = FetchPolicy(allowed_host_suffixes=("localhost",))
    with pytest.raises(CargoApiError, match="resolves to a private or link-local address"):
        await fetch_to_file(httpx.AsyncClient(), "https://localhost/f?signature=abc", private, dest)


async def test_csv_numbers_sort_as_numbers_and_where_takes_a_list(
    export_client: tuple[Client, Path, Path], shared_sandbox: Sandbox
) -> None:
    client, _, _ = export_client
    args = {"workflow": company(shared_sandbox), "created_after": "7d", "format": "csv", "limit": 0}
    failed, text, out = await call(client, "download_outputs", args)
    assert not failed, text
    _, _, page = await call(
        client, "read_result", {"result_id": out["result_id"], "order_by": "-input.employees", "limit": 5}
    )
    sizes = [int(r["input.employees"]) for r in page["rows"]]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 999  # 5009 before 997, not text order
    both = await call(
        client, "read_result", {"result_id": out["result_id"], "where": {"runStatus": ["success", "error"]}}
    )
    ok_ = await call(client, "read_result", {"result_id": out["result_id"], "where": {"runStatus": "success"}})
    err = await call(client, "read_result", {"result_id": out["result_id"], "where": {"runStatus": "error"}})
    assert both[2]["matching"] == ok_[2]["matching"] + err[2]["matching"] > 0
    spaced = await call(client, "read_result", {"result_id": f"  {out['result_id']} ", "limit": 1})
    assert not spaced[0], spaced[1]
