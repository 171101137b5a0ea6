"""The generated sandbox on disk, so that a second start takes about a second instead of a rebuild.

One folder per (package version, seed, scale, generator source digest) under the user cache folder
(``CARGO_MCP_SANDBOX_CACHE`` overrides it): ``workspaces.pickle`` (the generated workspaces),
one ClickHouse Native file per workspace table, and ``meta.json`` (written last) with the generation time
and the file sizes. A folder is built under a temporary name and renamed into place, so a reader sees a
complete entry or none. Loading moves every timestamp by the time since generation, so the data is
"relative to start-up" as a fresh build is; a cache that cannot be read is removed and rebuilt.

The folder is as trusted as the user's own files (it is created private, ``0700``): it holds pickles.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import pickle
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import platformdirs

import cargo_mcp
from cargo_mcp import __version__
from cargo_mcp.guard.tables import TABLES
from cargo_mcp.sandbox import workspace
from cargo_mcp.sandbox.engine import Engine
from cargo_mcp.sandbox.workspace import SandboxWorkspace

FORMAT = 1
KEEP_ENTRIES = 3  # other (older) keys beyond these are removed when a new entry is written
STALE_TMP_SECONDS = 3600.0
_OBJECTS = "workspaces.pickle"
_META = "meta.json"
# The code whose change changes the generated data (the digest is part of the key).
_SOURCES = ("sandbox", "api/models.py", "guard/tables.py")


class CacheUnreadable(Exception):
    """A cache entry exists but cannot be used; the message says why."""


def default_root() -> Path:
    """``<user cache folder>/cargo-mcp/sandbox`` (e.g. ``~/.cache/cargo-mcp/sandbox`` on Linux)."""
    return platformdirs.user_cache_path("cargo-mcp") / "sandbox"


def source_digest() -> str:
    """A digest of the generator's source files: an edited generator never reads an old cache."""
    package = Path(cargo_mcp.__file__).parent
    h = hashlib.sha256()
    for rel in _SOURCES:
        target = package / rel
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


class SandboxCache:
    """The cache entry of one (seed, scale) under ``root``."""

    def __init__(self, root: Path, seed: int, scale: float) -> None:
        self.root = root
        self.key = f"{__version__}-seed{seed}-scale{scale:g}-{source_digest()}"
        self.path = root / self.key

    def ready(self) -> bool:
        """Whether a complete entry exists (it may still turn out unreadable when loaded)."""
        return (self.path / _META).is_file()

    # -- reading ---------------------------------------------------------------------------

    def load(self, engine: Engine, now: float) -> list[SandboxWorkspace]:
        """Load the entry into ``engine`` and return its workspaces, with timestamps moved to ``now``.

        Raises :class:`FileNotFoundError` when there is no entry and :class:`CacheUnreadable` when it is
        broken (the entry is then removed; ``engine`` may hold part of it: discard the engine).
        """
        try:
            meta = json.loads((self.path / _META).read_text())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            self._discard()
            raise CacheUnreadable(f"meta.json unreadable ({e})") from None
        try:
            return self._load(meta, engine, now)
        except Exception as e:
            self._discard()
            raise CacheUnreadable(f"{type(e).__name__}: {e}") from None

    def _load(self, meta: dict[str, Any], engine: Engine, now: float) -> list[SandboxWorkspace]:
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        for name, size in meta["files"].items():
            if (self.path / name).stat().st_size != size:
                raise ValueError(f"{name} has the wrong size")
        shift_ms = round((now - float(meta["now"])) * 1000)
        loaded: dict[str, Any] = {}
        # Unpickling holds the GIL while the engine's inserts release it: do both at once.
        reader = threading.Thread(target=_unpickle, args=(self.path / _OBJECTS, shift_ms / 1000, loaded), daemon=True)
        reader.start()
        try:
            for i, uuid in enumerate(meta["workspaces"]):
                engine.add_workspace(uuid)
                for table in TABLES:
                    engine.load_file(uuid, table, self.path / _table_file(i, table), shift_ms)
        finally:
            reader.join()
        if "error" in loaded:
            raise loaded["error"]
        workspaces: list[SandboxWorkspace] = loaded["workspaces"]
        if [ws.uuid for ws in workspaces] != meta["workspaces"]:
            raise ValueError("workspaces.pickle does not match meta.json")
        _touch(self.path / _META)
        return workspaces

    # -- writing ---------------------------------------------------------------------------

    def writer(self, workspaces: list[SandboxWorkspace], now: float) -> CacheWriter:
        """A writer for a freshly generated sandbox (``now`` is its generation time)."""
        return CacheWriter(self, workspaces, now)

    def _discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _prune(self) -> None:
        """Remove stale temporary folders and all but the most recently used entries."""
        entries = []
        for p in self.root.iterdir():
            if p.name.startswith("."):
                if time.time() - p.stat().st_mtime > STALE_TMP_SECONDS:
                    shutil.rmtree(p, ignore_errors=True)
            elif p != self.path and (p / _META).is_file():
                entries.append(((p / _META).stat().st_mtime, p))
        for _, p in sorted(entries, reverse=True)[KEEP_ENTRIES - 1 :]:
            shutil.rmtree(p, ignore_errors=True)


class CacheWriter:
    """Writes one entry in two steps: the workspaces (Python, while the engine loads) and the tables."""

    def __init__(self, cache: SandboxCache, workspaces: list[SandboxWorkspace], now: float) -> None:
        self.cache = cache
        self.workspaces = workspaces
        self.now = now
        self.tmp = cache.root / f".{cache.key}.{os.getpid()}-{secrets.token_hex(4)}"

    def write_objects(self) -> None:
        """Pickle the workspaces into the temporary folder."""
        self.cache.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tmp.mkdir(mode=0o700)
        with open(self.tmp / _OBJECTS, "wb") as f:
            _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(self.workspaces)

    def finish(self, engine: Engine) -> None:
        """Dump the tables, write meta.json and move the entry into place (a concurrent writer may win)."""
        try:
            for i, ws in enumerate(self.workspaces):
                for table in TABLES:
                    engine.dump(ws.uuid, table, self.tmp / _table_file(i, table))
            files = {p.name: p.stat().st_size for p in self.tmp.iterdir()}
            uuids = [ws.uuid for ws in self.workspaces]
            meta = {"format": FORMAT, "now": self.now, "workspaces": uuids, "files": files}
            (self.tmp / _META).write_text(json.dumps(meta, indent=1))
            self.cache._prune()
            with suppress(OSError):  # another process finished the same entry first
                self.tmp.rename(self.cache.path)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


# Runs and executions (~300,000 objects) are pickled as (class, field values) and rebuilt by a loader
# that moves their timestamp fields (``*_at``) as it goes: about twice as fast as pickle's default for
# slotted dataclasses, and no second pass. Workflows, releases and batches refer to each other (cycles,
# which this form cannot express) and are few: pickled as usual, moved when their workspace is rebuilt.
_BY_VALUE: tuple[type, ...] = (workspace.RunRec, workspace.ExecRec, SandboxWorkspace)
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _BY_VALUE}


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        fields = _FIELDS.get(type(obj))
        if fields is None:
            return NotImplemented
        return type(obj), tuple(getattr(obj, f) for f in fields)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, seconds: float) -> None:
        super().__init__(file)
        self._builders = {(cls.__module__, cls.__qualname__): _builder(cls, seconds) for cls in _BY_VALUE}

    def find_class(self, module: str, name: str) -> Any:
        return self._builders.get((module, name)) or super().find_class(module, name)


def _builder(cls: type, seconds: float) -> Callable[..., Any]:
    """``cls(*values)`` with its ``*_at`` fields moved by ``seconds``."""
    moved = [i for i, f in enumerate(_FIELDS[cls]) if f.endswith("_at")]

    def build(*values: Any) -> Any:
        v = list(values)
        for i in moved:
            if v[i] is not None:
                v[i] += seconds
        obj = cls(*v)
        if isinstance(obj, SandboxWorkspace):
            _move_the_rest(obj, seconds)
        return obj

    return build


def _move_the_rest(ws: SandboxWorkspace, seconds: float) -> None:
    """Move the workspace's clock, its workflows, releases and batches; then rebuild its lookups."""
    ws.now += seconds
    for wf in ws.workflows:
        wf.created_at += seconds
        for rel in wf.releases:
            rel.created_at += seconds
            rel.deployed_at = None if rel.deployed_at is None else rel.deployed_at + seconds
    for b in ws.batches:
        b.created_at += seconds
        b.finished_at = None if b.finished_at is None else b.finished_at + seconds
    ws.index()


def _table_file(workspace: int, table: str) -> str:
    return f"{workspace}-{table}.native.zst"


def _unpickle(path: Path, seconds: float, out: dict[str, Any]) -> None:
    try:
        with _gc_paused(), open(path, "rb") as f:
            out["workspaces"] = _Unpickler(f, seconds).load()
    except Exception as e:
        out["error"] = e


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Creating ~300,000 objects triggers the cyclic GC hundreds of times for nothing: pause it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _touch(path: Path) -> None:
    with suppress(OSError):
        os.utime(path)
