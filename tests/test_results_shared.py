"""The result store across replicas and callers: scopes, the S3-compatible mirror (a real moto server on loopback),
and eviction by age and size in the folder and in the bucket."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from cargo_mcp.results.s3 import S3Location, S3Mirror
from cargo_mcp.results.store import ResultNotFound, ResultStore, ResultStoreUnavailable
from cargo_mcp.settings import ConfigError, Settings

ROWS = [{"recordId": f"r{i}", "n": i, "ok": i % 2 == 0, "tags": ["a", str(i)]} for i in range(250)]


def keys(where: S3Location) -> list[str]:
    client = boto3.client("s3", endpoint_url=where.endpoint_url, region_name=where.region)
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=where.bucket).get("Contents", []))


def replica(tmp_path: Path, name: str, where: S3Location, **limits: Any) -> ResultStore:
    mirror = S3Mirror(where, max_bytes=limits.get("max_bytes", 10**9), max_age=limits.get("max_age", 3600.0))
    return ResultStore(tmp_path / name, mirror=mirror, **limits)


def test_a_result_made_on_one_replica_reads_on_another(tmp_path: Path, bucket: S3Location) -> None:
    a, b = replica(tmp_path, "a", bucket).scoped("alice"), replica(tmp_path, "b", bucket).scoped("alice")
    meta = a.create(["recordId", "n", "ok", "tags"], iter(ROWS), "test rows")
    assert keys(bucket) == [f"test/results/alice/{meta.result_id}.sqlite"]
    assert not (tmp_path / "b" / "alice" / f"{meta.result_id}.sqlite").exists()
    columns, rows, total = b.read(meta.result_id, offset=240, limit=5, order_by="n")
    assert total == 250 and columns == ["recordId", "n", "ok", "tags"]
    assert rows[0] == {"recordId": "r240", "n": 240, "ok": True, "tags": ["a", "240"]}
    assert b.meta(meta.result_id).description == "test rows"
    assert b.csv_text(meta.result_id, 10**6) == a.csv_text(meta.result_id, 10**6)
    assert (tmp_path / "b" / "alice" / f"{meta.result_id}.sqlite").exists()  # kept locally once fetched


def test_scopes_never_see_each_other(tmp_path: Path, bucket: S3Location) -> None:
    base_a, base_b = replica(tmp_path, "a", bucket), replica(tmp_path, "b", bucket)
    meta = base_a.scoped("alice").create(["n"], iter([{"n": 1}]), "alice's")
    for other in (base_a.scoped("bob"), base_b.scoped("bob"), base_a, base_b):
        with pytest.raises(ResultNotFound, match="never existed or was evicted"):
            other.read(meta.result_id)
    assert base_b.scoped("alice").read(meta.result_id)[2] == 1
    with pytest.raises(ValueError, match="credential hash"):
        base_a.scoped("../alice")


def test_local_scopes_without_a_mirror(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r")
    meta = store.scoped("alice").create(["n"], iter([{"n": 1}]), "x")
    with pytest.raises(ResultNotFound):
        store.scoped("bob").meta(meta.result_id)
    with pytest.raises(ResultNotFound):
        store.meta(meta.result_id)
    assert store.scoped("alice").meta(meta.result_id).rows == 1


def test_folder_eviction_by_age_and_size_covers_every_scope(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r", max_age=3600.0)
    old = store.scoped("alice").create(["n"], iter([{"n": 1}]), "old")
    path = store.scoped("alice").path(old.result_id)
    hours_ago = time.time() - 7200
    os.utime(path, (hours_ago, hours_ago))
    fresh = store.scoped("bob").create(["n"], iter([{"n": 2}]), "fresh")
    assert not path.exists()
    assert store.scoped("bob").meta(fresh.result_id).rows == 1
    one = store.scoped("bob").path(fresh.result_id).stat().st_size
    small = ResultStore(tmp_path / "s", max_bytes=int(one * 2.5))
    ids = [small.scoped(f"s{i % 2}").create(["n"], iter([{"n": i}]), "x").result_id for i in range(4)]
    alive = [i for n, i in enumerate(ids) if small.scoped(f"s{n % 2}").path(i).exists()]
    assert alive == ids[-2:]


def test_bucket_eviction_by_age(tmp_path: Path, bucket: S3Location) -> None:
    store = replica(tmp_path, "a", bucket, max_age=1.5).scoped("alice")
    first = store.create(["n"], iter([{"n": 1}]), "first")
    time.sleep(2.6)  # S3 timestamps have whole seconds
    second = store.create(["n"], iter([{"n": 2}]), "second")
    assert keys(bucket) == [f"test/results/alice/{second.result_id}.sqlite"]
    with pytest.raises(ResultNotFound):
        replica(tmp_path, "b", bucket).scoped("alice").meta(first.result_id)


def test_bucket_eviction_by_size_keeps_the_newest(tmp_path: Path, bucket: S3Location) -> None:
    probe = ResultStore(tmp_path / "probe").create(["recordId", "n", "ok", "tags"], iter(ROWS), "size")
    one = ResultStore(tmp_path / "probe").path(probe.result_id).stat().st_size
    store = replica(tmp_path, "a", bucket, max_bytes=int(one * 2.5)).scoped("alice")
    ids = []
    for _ in range(4):
        ids.append(store.create(["recordId", "n", "ok", "tags"], iter(ROWS), "x").result_id)
        time.sleep(1.05)  # distinct LastModified seconds, so "oldest" is well defined
    assert keys(bucket) == sorted(f"test/results/alice/{i}.sqlite" for i in ids[-2:])


def test_an_unusable_bucket_is_a_clear_error_and_leaves_no_result(tmp_path: Path, bucket: S3Location) -> None:
    missing = S3Location(bucket="no-such-bucket-here", endpoint_url=bucket.endpoint_url, region="us-east-1")
    store = replica(tmp_path, "a", missing).scoped("alice")
    with pytest.raises(ResultStoreUnavailable, match=r"'no-such-bucket-here'.*NoSuchBucket.*credentials"):
        store.create(["n"], iter([{"n": 1}]), "x")
    assert list((tmp_path / "a").glob("**/r_*")) == []
    with pytest.raises(ResultStoreUnavailable, match="no-such-bucket-here"):
        S3Mirror(missing, max_bytes=1, max_age=1).check()


def test_s3_settings_from_the_environment() -> None:
    env = {
        "CARGO_MCP_RESULTS_S3_BUCKET": "b",
        "CARGO_MCP_RESULTS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "CARGO_MCP_RESULTS_S3_PREFIX": "/team/results/",
        "CARGO_MCP_RESULTS_S3_REGION": "eu-west-1",
        "CARGO_MCP_RESULTS_MAX_AGE": "90m",
    }
    settings = Settings.from_env(env)
    assert settings.results_s3 == S3Location("b", "team/results/", "http://127.0.0.1:9000", "eu-west-1")
    assert settings.results_max_age == 5400.0
    assert Settings.from_env({}).results_s3 is None
    with pytest.raises(ConfigError, match="CARGO_MCP_RESULTS_MAX_AGE must be a positive duration"):
        Settings.from_env({"CARGO_MCP_RESULTS_MAX_AGE": "soon"})
    with pytest.raises(ConfigError, match="ENDPOINT_URL must be an http"):
        Settings.from_env({"CARGO_MCP_RESULTS_S3_BUCKET": "b", "CARGO_MCP_RESULTS_S3_ENDPOINT_URL": "minio:9000"})
