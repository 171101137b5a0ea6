"""Result files mirrored in an S3-compatible bucket, so a handle created on one replica reads on every replica.

The result store keeps writing and reading SQLite files in its local folder; this mirror uploads each
finished file (``<prefix><scope>/<result_id>.sqlite``) and downloads it on a replica that does not have
it yet. The bucket is bounded like the folder: objects older than the age limit go, then the oldest
until the total is under the size limit (checked at most once a minute, on writes). A bucket lifecycle
rule is a good second line; see docs/deploy.md.

boto3 (the AWS SDK for Python, in the optional extra ``s3``): the store is synchronous and runs in worker
threads, which is boto3's model; it reads credentials from the standard AWS variables and files and speaks
to any S3-compatible server through ``endpoint_url``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargo_mcp.results.store import ResultStoreUnavailable

EVICT_EVERY = 60.0
log = logging.getLogger("cargo_mcp.results")
CHUNK = 1024 * 1024
_CODE = re.compile(r"An error occurred \((\w+)\)")


@dataclass(frozen=True)
class S3Location:
    """Where the mirror lives: bucket, key prefix, endpoint (None: AWS) and region."""

    bucket: str
    prefix: str = "cargo-mcp/results/"
    endpoint_url: str | None = None
    region: str | None = None


class S3Mirror:
    """The store's :class:`~cargo_mcp.results.store.ResultMirror` on S3."""

    def __init__(self, where: S3Location, *, max_bytes: int, max_age: float) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - depends on the install
            raise ResultStoreUnavailable(
                "CARGO_MCP_RESULTS_S3_BUCKET is set but boto3 is not installed: install the 's3' extra "
                "(pip install 'cargo-ai-mcp[s3]')."
            ) from None
        self.where = where
        self.prefix = where.prefix if not where.prefix or where.prefix.endswith("/") else where.prefix + "/"
        self.max_bytes = max_bytes
        self.max_age = max_age
        config = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self._s3: Any = boto3.client("s3", endpoint_url=where.endpoint_url, region_name=where.region, config=config)
        self._last_evict = 0.0
        self._lock = threading.Lock()

    def key(self, name: str) -> str:
        return self.prefix + name

    def check(self) -> None:
        """Fail fast when the bucket cannot be reached with these credentials."""
        self._call(self._s3.head_bucket, Bucket=self.where.bucket)

    def put(self, name: str, path: Path) -> None:
        self._call(self._s3.upload_file, str(path), self.where.bucket, self.key(name))

    def get(self, name: str, dest: Path) -> bool:
        """Download ``name`` into ``dest`` (keeping the object's age); False when the bucket does not have it."""
        from botocore.exceptions import ClientError

        tmp = dest.with_name(f".{dest.name}.{threading.get_ident()}.fetching")
        try:
            obj = self._s3.get_object(Bucket=self.where.bucket, Key=self.key(name))
            with tmp.open("wb") as out:
                for chunk in obj["Body"].iter_chunks(CHUNK):
                    out.write(chunk)
        except ClientError as e:
            tmp.unlink(missing_ok=True)
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._unavailable(e) from None
        except Exception as e:
            tmp.unlink(missing_ok=True)
            raise self._unavailable(e) from None
        modified = obj["LastModified"].timestamp()
        os.utime(tmp, (modified, modified))
        os.replace(tmp, dest)
        return True

    def delete(self, name: str) -> None:
        """Best effort (it runs while another error is on its way): a leftover object ages out anyway."""
        try:
            self._s3.delete_object(Bucket=self.where.bucket, Key=self.key(name))
        except Exception as e:
            log.warning("could not delete %s from the result bucket: %s", name, type(e).__name__)

    def evict(self) -> None:
        """Delete objects past the age limit, then the oldest until the total fits (at most once a minute)."""
        with self._lock:
            if time.monotonic() - self._last_evict < EVICT_EVERY:
                return
            self._last_evict = time.monotonic()
        objects = self._call(self._list)
        objects.sort(key=lambda o: o["LastModified"])
        now = time.time()
        total = sum(int(o["Size"]) for o in objects)
        doomed = []
        for o in objects:
            if now - o["LastModified"].timestamp() > self.max_age or total > self.max_bytes:
                doomed.append({"Key": o["Key"]})
                total -= int(o["Size"])
        for i in range(0, len(doomed), 1000):
            self._call(self._s3.delete_objects, Bucket=self.where.bucket, Delete={"Objects": doomed[i : i + 1000]})

    def _list(self) -> list[dict[str, Any]]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.where.bucket, Prefix=self.prefix)
        return [o for page in pages for o in page.get("Contents", [])]

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise self._unavailable(e) from None

    def _unavailable(self, e: Exception) -> ResultStoreUnavailable:
        """A token-free sentence: the S3 error code (``NoSuchBucket``, ``AccessDenied``…) or the failure's kind."""
        code = getattr(e, "response", {}).get("Error", {}).get("Code") or next(iter(_CODE.findall(str(e))), None)
        return ResultStoreUnavailable(
            f"the shared result store (bucket {self.where.bucket!r}) failed: {code or type(e).__name__}. Retry; if it "
            "persists, the operator should check the bucket, its endpoint and the AWS credentials."
        )
