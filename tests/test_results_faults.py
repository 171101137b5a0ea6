"""Downloads survive transient faults of the file host; hostile download URLs and answers are clean errors."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.requests import DownloadRunOutputs
from cargo_mcp.results.download import download_outputs
from cargo_mcp.results.fetch import FetchPolicy, check_url, loopback_origin
from cargo_mcp.results.store import ResultStore
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY, tool_text

pytestmark = pytest.mark.anyio
Faults = Callable[..., None]
FILES = "/files/"
DOWNLOAD = "/v1/orchestration/runs/download-outputs"


def batch_of(sb: Sandbox) -> tuple[str, int]:
    batch = max(sb.workspaces[0].batches, key=lambda b: b.runs_count if b.status == "success" else 0)
    return batch.uuid, len(sb.workspaces[0].runs_of_batch[batch.uuid])


def direct(sb: Sandbox, timeout: float = 5.0) -> tuple[CargoClient, httpx.AsyncClient, FetchPolicy, DownloadRunOutputs]:
    """What download_outputs needs, without the MCP server: a Cargo client, a file client, the policy, a body."""
    batch = max(sb.workspaces[0].batches, key=lambda b: b.runs_count if b.status == "success" else 0)
    body = DownloadRunOutputs(workflow_uuid=batch.workflow.uuid, batch_uuid=batch.uuid, format="csv")
    policy = FetchPolicy(loopback_origins=(str(loopback_origin(sb.base_url)),))
    api = CargoClient(sb.base_url, sb.workspaces[0].token, retry=FAST_RETRY)
    return api, httpx.AsyncClient(timeout=httpx.Timeout(timeout)), policy, body


@pytest.fixture
async def env(shared_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[tuple[Client, Path, Path]]:
    exports, results = tmp_path / "exports", tmp_path / "results"
    exports.mkdir()
    settings = remote_settings(shared_sandbox, export_dir=exports, results_dir=results)
    server = build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))
    async with Client(server) as client:
        yield client, exports, results


def leftovers(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob("*")]


async def download(client: Client, args: dict[str, Any]) -> tuple[bool, str, dict[str, Any], list[str]]:
    messages: list[str] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    r = await client.call_tool("download_outputs", args, progress_callback=progress)
    return bool(r.is_error), tool_text(r), r.structured_content or {}, messages


TRANSIENT = [
    pytest.param({"kind": "status", "status": 429, "retryAfter": 0.05}, "HTTP 429", id="429"),
    pytest.param({"kind": "status", "status": 500}, "HTTP 500", id="500"),
    pytest.param({"kind": "status", "status": 502}, "HTTP 502", id="502"),
    pytest.param({"kind": "status", "status": 503}, "HTTP 503", id="503"),
    pytest.param({"kind": "status", "status": 504}, "HTTP 504", id="504"),
    pytest.param({"kind": "drop"}, "the connection dropped", id="drop"),
]


@pytest.mark.parametrize("times", [1, 2])
@pytest.mark.parametrize(("fault", "cause"), TRANSIENT)
async def test_transient_file_faults_are_retried(
    env: tuple[Client, Path, Path],
    shared_sandbox: Sandbox,
    faults: Faults,
    fault: dict[str, Any],
    cause: str,
    times: int,
) -> None:
    client, exports, _ = env
    batch, runs = batch_of(shared_sandbox)
    assert shared_sandbox.faults is not None
    before = shared_sandbox.faults.hits
    faults(path=FILES, count=times, **fault)
    failed, text, out, messages = await download(client, {"batch_uuid": batch, "format": "csv"})
    assert not failed, text
    saved = await client.call_tool("save_result", {"result_id": out["result_id"], "path": "out.csv"})
    assert not saved.is_error, saved.content
    assert out["total"] == runs and (exports / "out.csv").stat().st_size == (saved.structured_content or {})["bytes"]
    assert shared_sandbox.faults.hits - before == times
    retrying = [m for m in messages if "retrying" in m]
    assert len(retrying) == times and all(cause in m for m in retrying), messages
    assert f"(attempt {times + 1} of {FAST_RETRY.max_attempts})" in retrying[-1]


@pytest.mark.parametrize(("fault", "cause"), TRANSIENT)
async def test_too_many_file_faults_are_a_clean_error(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults, fault: dict[str, Any], cause: str
) -> None:
    client, exports, results = env
    batch, runs = batch_of(shared_sandbox)
    faults(path=FILES, count=FAST_RETRY.max_attempts, **fault)
    failed, text, _, _ = await download(client, {"batch_uuid": batch})
    assert failed and "Traceback" not in text
    assert f"runs 1-{runs:,} of {runs:,} could not be fetched after {FAST_RETRY.max_attempts} attempts" in text
    assert cause in text and "Nothing was kept" in text and "Next step: Call download_outputs again" in text
    assert "/files/" not in text and "signature" not in text
    assert leftovers(exports, results) == []  # no partial file, no orphan result


async def test_a_page_already_fetched_is_kept_while_a_later_page_is_retried(
    shared_sandbox: Sandbox, faults: Faults, tmp_path: Path
) -> None:
    """Three pages; page 2's file fails twice: page 1 is not fetched again, and every run arrives once."""
    api, http, policy, body = direct(shared_sandbox)
    _, runs = batch_of(shared_sandbox)
    chunk = -(-runs // 3)
    store = ResultStore(tmp_path)
    messages: list[str] = []

    async def progress(done: int, pages: int, message: str) -> None:
        messages.append(message)
        if done == 1 and message.startswith("fetched"):
            faults(path=FILES, kind="status", status=503, count=2)

    async with (
        api,
        http,
        download_outputs(
            api, http, policy, store, body, runs, fmt="csv", description="t", progress=progress, chunk=chunk
        ) as meta,
    ):
        with store.rows_of(meta.result_id) as (columns, rows):
            uuids = [row[columns.index("runUuid")] for row in rows]
    assert len(uuids) == len(set(uuids)) == runs
    page2 = f"runs {chunk + 1:,}-{2 * chunk:,} of {runs:,}"
    assert messages == [
        f"fetched runs 1-{chunk:,} of {runs:,}",
        f"{page2}: the file host answered HTTP 503; retrying in " + messages[1].split("retrying in ")[1],
        f"{page2}: the file host answered HTTP 503; retrying in " + messages[2].split("retrying in ")[1],
        f"fetched {page2}",
        f"fetched runs {2 * chunk + 1:,}-{runs:,} of {runs:,}",
    ]


async def test_a_hung_file_host_times_out_and_is_retried(
    shared_sandbox: Sandbox, faults: Faults, tmp_path: Path
) -> None:
    api, http, policy, body = direct(shared_sandbox, timeout=1.0)
    _, runs = batch_of(shared_sandbox)
    messages: list[str] = []

    async def progress(done: int, pages: int, message: str) -> None:
        messages.append(message)

    faults(path=FILES, kind="hang", seconds=3, count=1)
    started = time.monotonic()
    async with (
        api,
        http,
        download_outputs(
            api, http, policy, ResultStore(tmp_path), body, runs, fmt="csv", description="t", progress=progress
        ) as meta,
    ):
        assert meta.rows == runs
    assert 1 <= time.monotonic() - started < 3
    assert any("the file host did not answer in time; retrying" in m for m in messages), messages


async def test_an_expired_url_is_replaced_by_a_fresh_one(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, _, _ = env
    batch, runs = batch_of(shared_sandbox)
    faults(path=FILES, kind="expired_url", count=2)
    failed, text, out, messages = await download(client, {"batch_uuid": batch, "limit": 1})
    assert not failed and out["total"] == runs, text
    assert sum("retrying with a fresh download URL" in m for m in messages) == 2


async def test_a_retry_after_beyond_the_budget_is_named(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, exports, results = env
    batch, _ = batch_of(shared_sandbox)
    faults(path=FILES, kind="status", status=429, retryAfter=120, count=1)
    started = time.monotonic()
    failed, text, _, _ = await download(client, {"batch_uuid": batch})
    assert failed and "the file host asked to retry after 120 s, longer than cargo-mcp waits" in text, text
    assert time.monotonic() - started < 10 and leftovers(exports, results) == []


async def test_cargo_asking_to_retry_after_120_s_is_named(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, _, _ = env
    batch, _ = batch_of(shared_sandbox)
    faults(path=DOWNLOAD, kind="status", status=429, retryAfter=120, count=1)
    started = time.monotonic()
    failed, text, _, _ = await download(client, {"batch_uuid": batch})
    assert failed and "HTTP 429" in text and "Cargo asked to retry after 120 s" in text, text
    assert "Next step: Wait 120 s, then call again." in text and time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999/files/x.csv?signature=s", "not a valid URL (Port out of range"),
        ("http://127.0.0.1:abc/files/x.csv?signature=s", "not a valid URL"),
        ("http://127.0.0.1:0/files/x.csv?signature=s", "not a valid URL (port 0)"),
        ("https://files.evil.example/a\x00b.csv?signature=s", "a space or a control character"),
        ("http://[::1/files/x.csv?signature=s", "not a valid URL"),
        ("https://files.evil.example/" + "a" * 5000 + "?signature=s", "not an allowed download host"),
    ],
)
async def test_bad_download_urls_are_clean_errors(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults, url: str, message: str
) -> None:
    client, exports, results = env
    batch, _ = batch_of(shared_sandbox)
    faults(path=DOWNLOAD, kind="body", body={"url": url}, count=1)
    failed, text, _, _ = await download(client, {"batch_uuid": batch})
    assert failed and text.startswith("Error executing tool download_outputs: ") and "Traceback" not in text
    assert message in text and "signature" not in text and "\x00" not in text and len(text) < 600, text
    assert leftovers(exports, results) == []


async def test_loopback_urls_only_for_the_sandboxs_own_port(
    env: tuple[Client, Path, Path], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, _, _ = env
    batch, _ = batch_of(shared_sandbox)
    with socket.socket() as listener:  # another local service: it must never be contacted
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        faults(path=DOWNLOAD, kind="body", body={"url": f"http://127.0.0.1:{port}/files/x.csv?signature=s"})
        failed, text, _, _ = await download(client, {"batch_uuid": batch})
        assert failed and f"127.0.0.1:{port} is a loopback address other than the one allowed" in text, text
        origin = loopback_origin(shared_sandbox.base_url)
        assert origin is not None and origin in text
        with pytest.raises(TimeoutError):
            listener.accept()


async def test_fetch_policy_loopback_origins() -> None:
    policy = FetchPolicy(loopback_origins=("127.0.0.1:8765",))
    await check_url("http://127.0.0.1:8765/files/f?signature=s", policy)
    for url in ("http://127.0.0.1:8766/f", "http://localhost:8765/f", "http://127.0.0.1/f", "http://[::1]:8765/f"):
        with pytest.raises(CargoApiError, match="loopback address other than the one allowed"):
            await check_url(url, policy)
    assert loopback_origin("http://[::1]:9/x") == "[::1]:9" and loopback_origin("https://a.getcargo.io/") is None
