"""The on-disk sandbox cache: a cached start equals a fresh build at the same moment; broken entries are rebuilt."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cargo_mcp.api.sql import TABLES
from cargo_mcp.sandbox.cache import SandboxCache
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import SandboxWorkspace

SEED, SCALE = 11, 0.02
T0 = 1_780_000_000.25  # generation time of the cached entry
T1 = T0 + 3 * 86_400 + 1234.5  # a later start


def snapshot(sb: Sandbox) -> dict[str, Any]:
    """Everything a client can see: the generated objects and every SQL row (timestamps as epoch seconds)."""
    assert sb.wait_for_tables(60)
    rows = {}
    for ws in sb.workspaces:
        for table in TABLES:
            key = [c for c, _ in TABLES[table]][:1] + ["execution_index"] * (table == "spans")
            got = sb.engine.internal_query(ws.uuid, f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
            rows[f"{ws.name}.{table}"] = [{k: _epoch(v) for k, v in r.items()} for r in got]
    return {"objects": [_plain(ws) for ws in sb.workspaces], "rows": rows}


def _epoch(v: Any) -> Any:
    if isinstance(v, str) and len(v) == 23 and v[4] == "-" and v[10] == " ":
        return datetime.strptime(v, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
    if isinstance(v, list):
        return [_epoch(x) for x in v]
    return v


def _plain(obj: Any, seen: set[int] | None = None) -> Any:
    """Records as nested dicts; a record met again (a shared reference) is named, not repeated."""
    seen = set() if seen is None else seen
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if id(obj) in seen:
            return ("ref", type(obj).__name__, getattr(obj, "uuid", None))
        seen.add(id(obj))
        return {f.name: _plain(getattr(obj, f.name), seen) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [_plain(x, seen) for x in obj]
    if isinstance(obj, dict):
        return {k: _plain(v, seen) for k, v in obj.items()}
    return obj


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Equal, with floats (timestamps) within a millisecond: a moved time is not bit-identical to a fresh one."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, abs_tol=0.0011), f"{where}: {a} != {b}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_linked(ws: SandboxWorkspace) -> None:
    """Records refer to the same objects the workspace lists (identity survives the cache)."""
    workflows = {id(w) for w in ws.workflows}
    batches = {id(b) for b in ws.batches}
    for run in ws.runs:
        assert id(run.workflow) in workflows and any(run.release is r for r in run.workflow.releases)
        assert run.batch is None or id(run.batch) in batches
    for b in ws.batches:
        assert id(b.workflow) in workflows and b in b.workflow.batches
    assert ws.runs_by_uuid[ws.runs[-1].uuid] is ws.runs[-1]


@pytest.fixture(scope="module")
def fresh() -> dict[str, Any]:
    sb = Sandbox(seed=SEED, scale=SCALE, now=T1)
    try:
        return snapshot(sb)
    finally:
        sb.close()


def build_cache(root: Path) -> None:
    sb = Sandbox(seed=SEED, scale=SCALE, now=T0, cache=root)
    sb.close()
    assert sb.cache_note.startswith("built and cached") and SandboxCache(root, SEED, SCALE).ready()


def test_a_cached_start_equals_a_fresh_build_at_that_moment(tmp_path: Path, fresh: dict[str, Any]) -> None:
    build_cache(tmp_path)
    sb = Sandbox(seed=SEED, scale=SCALE, now=T1, cache=tmp_path, token="chosen-token")
    try:
        assert sb.cache_note.startswith("loaded from the cache")
        assert sb.workspaces[0].token == "chosen-token" and sb.by_token["chosen-token"] is sb.workspaces[0]
        for ws in sb.workspaces:
            assert_linked(ws)
        got = snapshot(sb)
        got["objects"][0]["token"] = fresh["objects"][0]["token"]
        assert_same(fresh, got)
    finally:
        sb.close()
    # The chosen token is never written into the cache.
    meta = json.loads((SandboxCache(tmp_path, SEED, SCALE).path / "meta.json").read_text())
    assert "chosen-token" not in json.dumps(meta)
    assert b"chosen-token" not in (SandboxCache(tmp_path, SEED, SCALE).path / "workspaces.pickle").read_bytes()


def garble(path: Path) -> None:
    """Overwrite bytes in the middle of a file, keeping its size."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated_table", "garbled_pickle", "bad_meta"])
def test_a_broken_entry_is_rebuilt(tmp_path: Path, damage: str) -> None:
    build_cache(tmp_path)
    entry = SandboxCache(tmp_path, SEED, SCALE).path
    if damage == "truncated_table":
        table = entry / "0-spans.arrow"
        table.write_bytes(table.read_bytes()[:1000])
    elif damage == "garbled_pickle":
        garble(entry / "workspaces.pickle")
    else:
        (entry / "meta.json").write_text("{not json")
    sb = Sandbox(seed=SEED, scale=SCALE, now=T1, cache=tmp_path)
    try:
        assert sb.cache_note.startswith("cache unreadable") and sb.cache_note.endswith("rebuilt")
        count = sb.engine.internal_query(sb.workspaces[0].uuid, "SELECT count() AS n FROM runs")[0]["n"]
        assert count == len(sb.workspaces[0].runs) > 500
    finally:
        sb.close()
    again = Sandbox(seed=SEED, scale=SCALE, now=T1, cache=tmp_path)
    try:
        assert again.cache_note.startswith("loaded from the cache")
    finally:
        again.close()


def test_unreadable_cached_tables_are_built_from_the_workspaces(tmp_path: Path, fresh: dict[str, Any]) -> None:
    build_cache(tmp_path)
    entry = SandboxCache(tmp_path, SEED, SCALE).path
    garble(entry / "0-runs.arrow")  # same size: found only when the engine reads it, after the start
    sb = Sandbox(seed=SEED, scale=SCALE, now=T1, cache=tmp_path)
    try:
        assert sb.cache_note.startswith("loaded from the cache")
        assert_same(fresh, snapshot(sb))  # the same data, SQL included
        assert not entry.exists()  # the next start builds a new entry
    finally:
        sb.close()


def test_the_key_holds_seed_scale_and_version(tmp_path: Path) -> None:
    a, b, c = (SandboxCache(tmp_path, s, x) for s, x in ((7, 1.0), (8, 1.0), (7, 0.5)))
    assert len({a.key, b.key, c.key}) == 3
    from cargo_mcp import __version__

    assert a.key.startswith(f"{__version__}-seed7-scale1-")


def test_an_unwritable_cache_folder_only_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    sb = Sandbox(seed=SEED, scale=SCALE, now=T0, cache=blocker / "cache")
    try:
        assert sb.cache_note.startswith("not cached: NotADirectoryError")
        assert len(sb.workspaces[0].runs) > 500 and not (blocker / "cache").exists()
    finally:
        sb.close()
