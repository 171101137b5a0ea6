"""The result store under concurrency and cancellation, and read_result with hostile arguments."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
from mcp import Client

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.requests import DownloadRunOutputs
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results import download, parse
from cargo_mcp.results.download import download_outputs
from cargo_mcp.results.fetch import FetchPolicy, loopback_origin
from cargo_mcp.results.store import ResultNotFound, ResultStore
from cargo_mcp.sandbox.server import Sandbox
from tests.support import FAST_RETRY, tool_text

pytestmark = pytest.mark.anyio


def rows(n: int, width: int = 200) -> Iterator[dict[str, Any]]:
    return ({"i": i, "text": "x" * width} for i in range(n))


def sizes(store: ResultStore) -> int:
    return sum(p.stat().st_size for p in store.root.glob("r_*.sqlite"))


def small_store(tmp_path: Path) -> tuple[ResultStore, int]:
    """A store whose cap holds about one result of 300 rows."""
    probe = ResultStore(tmp_path / "probe")
    one = probe.path(probe.create(["i", "text"], rows(300), "probe").result_id).stat().st_size
    return ResultStore(tmp_path / "store", max_bytes=int(one * 1.5)), one


def test_eviction_skips_a_result_being_read(tmp_path: Path) -> None:
    store, _ = small_store(tmp_path)
    a = store.create(["i", "text"], rows(300), "a").result_id
    with store.rows_of(a) as (_, reading):
        first = next(reading)
        b = store.create(["i", "text"], rows(300), "b").result_id  # over the cap: a would be the one evicted
        assert store.path(a).exists()
        assert [first, *reading][-1][0] == 299
    c = store.create(["i", "text"], rows(300), "c").result_id  # nobody reads a now: it goes, then b
    assert not store.path(a).exists() and store.path(c).exists()
    with pytest.raises(ResultNotFound, match="evicted"):
        store.read(a)
    assert b != c


def test_a_download_folder_removed_while_the_store_is_listed_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent downloads (50 HTTP sessions) remove their temporary folders while another call's eviction lists
    the store: the eviction must not fail that call (it raised FileNotFoundError from glob)."""
    store, _ = small_store(tmp_path)
    (store.root / "cargo-mcp-dl-finishing").mkdir()
    scandir = os.scandir

    def vanishing(path: Any = ".") -> Any:
        if "cargo-mcp-dl-" in os.fspath(path):
            raise FileNotFoundError(2, "No such file or directory", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", vanishing)
    a = store.create(["i", "text"], rows(300), "a").result_id
    b = store.create(["i", "text"], rows(300), "b").result_id  # over the cap: evicts a, listing the folder
    assert store.path(b).exists() and not store.path(a).exists()  # the eviction still ran


def test_a_result_gone_names_the_call_that_made_it(tmp_path: Path) -> None:
    store, _ = small_store(tmp_path)
    a = store.create(["i", "text"], rows(300), "a", made_by="inspect_failures").result_id
    store.create(["i", "text"], rows(300), "b", made_by="download_outputs")
    store.create(["i", "text"], rows(300), "c")  # a and b are evicted
    with pytest.raises(ResultNotFound, match=r"was evicted; run inspect_failures again\.$"):
        store.read(a)
    with pytest.raises(ResultNotFound, match=r"run the call that made it again \(download_outputs, inspect_failures"):
        store.read(ResultStore.new_id())  # never made here: every call that makes results is named


def test_eviction_skips_a_result_held_by_its_call(tmp_path: Path) -> None:
    store, _ = small_store(tmp_path)
    a = store.new_id()
    with store.hold(a):
        store.create(["i", "text"], rows(300), "a", result_id=a)
        store.create(["i", "text"], rows(300), "b")
        assert store.read(a, limit=1)[2] == 300
    store.create(["i", "text"], rows(300), "c")
    assert not store.path(a).exists()


def test_files_being_written_count_toward_the_cap(tmp_path: Path) -> None:
    store, one = small_store(tmp_path)
    a = store.create(["i", "text"], rows(300), "a").result_id
    partial = store.root / "r_0123456789ab.partial"  # another call's result, still being written
    partial.write_bytes(b"\0" * one)
    store.create(["i", "text"], rows(10), "b")
    assert not store.path(a).exists()  # 1 result + the partial + b exceed the cap
    assert partial.exists()  # never deleted: it is not finished


def test_concurrent_creates_and_reads_never_lose_a_held_result(tmp_path: Path) -> None:
    store, _ = small_store(tmp_path)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for _ in range(8):
                result_id = store.new_id()
                with store.hold(result_id):
                    store.create(["i", "text"], rows(300), f"w{n}", result_id=result_id)
                    assert store.read(result_id, offset=299)[1][0]["i"] == 299
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store.create(["i", "text"], rows(300), "after")  # nothing is held now: back under the cap
    assert sizes(store) <= store.max_bytes


def client_for(sb: Sandbox) -> tuple[CargoClient, httpx.AsyncClient, FetchPolicy, DownloadRunOutputs, int]:
    batch = max(sb.workspaces[0].batches, key=lambda b: b.runs_count if b.status == "success" else 0)
    body = DownloadRunOutputs(workflow_uuid=batch.workflow.uuid, batch_uuid=batch.uuid, format="csv")
    policy = FetchPolicy(loopback_origins=(str(loopback_origin(sb.base_url)),))
    api = CargoClient(sb.base_url, sb.workspaces[0].token, retry=FAST_RETRY)
    return api, httpx.AsyncClient(), policy, body, len(sb.workspaces[0].runs_of_batch[batch.uuid])


async def test_a_download_finishing_keeps_its_result_while_another_one_stores(
    shared_sandbox: Sandbox, tmp_path: Path
) -> None:
    api, http, policy, body, runs = client_for(shared_sandbox)
    store = ResultStore(tmp_path, max_bytes=1)  # every new result evicts every other one it may
    async with api, http:
        async with download_outputs(api, http, policy, store, body, runs, fmt="csv", description="a") as a:
            async with download_outputs(api, http, policy, store, body, runs, fmt="csv", description="b") as b:
                assert store.read(a.result_id, limit=1)[2] == runs  # a's call is still answering: a stays
            assert store.read(b.result_id, limit=1)[2] == runs
        async with download_outputs(api, http, policy, store, body, runs, fmt="csv", description="c") as c:
            assert [p.stem for p in tmp_path.glob("r_*.sqlite")] == [c.result_id]


@pytest.mark.parametrize("when", ["storing", "answering"])
async def test_a_cancel_leaves_no_orphan_result(
    shared_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    api, http, policy, body, runs = client_for(shared_sandbox)
    store = ResultStore(tmp_path)
    read_rows = parse.read_rows
    reached: list[str] = []

    def cancelling(path: Path, fmt: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
        columns, items = read_rows(path, fmt)

        def gen() -> Iterator[dict[str, Any]]:
            for i, row in enumerate(items):
                if i == 10 and when == "storing":
                    anyio.from_thread.run_sync(scope.cancel)  # the client cancels while rows are stored
                yield row

        return columns, gen()

    monkeypatch.setattr(download, "read_rows", cancelling)
    async with api, http:
        with anyio.CancelScope() as scope:
            async with download_outputs(api, http, policy, store, body, runs, fmt="csv", description="x") as meta:
                reached.append(meta.result_id)
                scope.cancel()
                await anyio.sleep(1)
    assert scope.cancelled_caught
    assert len(reached) == (0 if when == "storing" else 1)
    assert list(tmp_path.iterdir()) == []  # no result, no partial file, no page file


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    r = await client.call_tool(name, args)
    return bool(r.is_error), tool_text(r), r.structured_content or {}


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ({"offset": 2**63}, "is past the end"),
        ({"offset": 2**62}, "is past the end"),
        ({"result_id": "r_" + "a" * 5000}, "… (5,002 characters) is not a result id"),
        ({"result_id": "r_ab\x00cd"}, r"'r_ab\x00cd' is not a result id"),
        ({"result_id": "x" * 5000}, "… (5,000 characters) is not a result id"),
        ({"result_id": "r_\u202e123456789ab"}, r"'r_\u202e123456789ab' is not a result id"),
    ],
)
async def test_read_result_with_hostile_arguments(
    mcp_client: Client, shared_sandbox: Sandbox, args: dict[str, Any], expect: str
) -> None:
    batch = shared_sandbox.workspaces[0].batches[0].uuid
    _, _, out = await call(mcp_client, "download_outputs", {"batch_uuid": batch, "limit": 0})
    failed, text, _ = await call(mcp_client, "read_result", {"result_id": out["result_id"], **args})
    assert expect in text and "Traceback" not in text and len(text) < 400, text
    assert failed == ("result_id" in args)
    assert text != "Error executing tool read_result"
    if "offset" in args:
        failed, text, _ = await call(mcp_client, "download_outputs", {"batch_uuid": batch, **args})
        assert not failed and "is past the end" in text, text


def test_result_ids_are_checked_before_any_file_access(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    for bad in ("r_" + "a" * 5000, "../r_0123456789ab", "r_0123456789AB", "r_0123456789a", "r_0123456789ab\x00"):
        with pytest.raises(InputError, match="is not a result id"):
            store.read(bad)
    with pytest.raises(ResultNotFound):
        store.read("  r_0123456789ab ")


def test_integers_past_64_bits_are_kept_and_found(tmp_path: Path) -> None:
    big = [2**63, -(2**63) - 1, 2**70, 2**63 - 1, True, 1.5]
    store = ResultStore(tmp_path)
    meta = store.create(["n"], iter({"n": v} for v in big), "big numbers")
    _, page, total = store.read(meta.result_id, limit=10)
    assert [r["n"] for r in page] == big and total == len(big)
    for value in big:
        _, found, n = store.read(meta.result_id, where={"n": value})
        assert n == 1 and found[0]["n"] == value and type(found[0]["n"]) is type(value)


def test_where_lists_match_any_value_and_are_bounded(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    rows: list[dict[str, Any]] = [{"k": "a"}, {"k": None}, {"k": 3}, {"k": "3"}]
    meta = store.create(["k"], iter(rows), "where")
    assert store.read(meta.result_id, where={"k": ["a", None]})[2] == 2
    assert store.read(meta.result_id, where={"k": [3]})[2] == 2  # a CSV holds 3 as "3": both match
    assert store.read(meta.result_id, where={"k": []})[2] == 0
    assert store.read(meta.result_id, where={"k": list(range(1000))})[2] == 2
    with pytest.raises(InputError, match=r"where\['k'\] lists 1,001 values, more than 1,000"):
        store.read(meta.result_id, where={"k": list(range(1001))})
    with pytest.raises(InputError, match=r"unknown column\(s\) \['x', 'y'\] in columns"):
        store.read(meta.result_id, columns=["k", "x", "y", "x"] * 1000)
    with pytest.raises(InputError, match=r"unknown column\(s\) \['x'\] in order_by"):
        store.read(meta.result_id, order_by="x")
    _, page, _ = store.read(meta.result_id, columns=["k"] * 5000)
    assert page[0] == {"k": "a"}
