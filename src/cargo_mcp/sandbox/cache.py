"""The generated sandbox on disk, so that a second start takes about a second instead of a rebuild.

One folder per (package version, seed, scale, generator source digest) under the user cache folder
(``CARGO_MCP_SANDBOX_CACHE`` overrides it): ``workspaces.pickle`` (the generated workspaces),
one Arrow IPC file (zstd) per workspace table, and ``meta.json`` (written last) with the generation time
and the file sizes. It is written while the engine loads the fresh build, so it is complete when the
sandbox is ready. A folder is built under a temporary name and renamed into place, so a reader sees a
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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

import cargo_mcp
from cargo_mcp import __version__
from cargo_mcp.api.sql import TABLES
from cargo_mcp.sandbox import workspace
from cargo_mcp.sandbox.workspace import SandboxWorkspace

if TYPE_CHECKING:  # the key and the entry's state need neither (doctor reads them)
    import pyarrow as pa

    from cargo_mcp.sandbox.engine import Engine

FORMAT = 1
KEEP_ENTRIES = 3  # entries kept, the most recently used; older ones go when a new one is written
STALE_TMP_SECONDS = 3600.0
_OBJECTS = "workspaces.pickle"
_META = "meta.json"
# The code and data whose change changes the generated data (the digest is part of the key).
_SOURCES = ("sandbox", "api/models.py", "api/sql.py")
_SOURCE_SUFFIXES = (".py", ".toml")


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
        found = (p for p in target.rglob("*") if p.suffix in _SOURCE_SUFFIXES) if target.is_dir() else [target]
        for path in sorted(found):
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

    def load(self, now: float) -> Loaded:
        """The entry's workspaces, with timestamps moved to ``now``; its tables follow with :meth:`Loaded.tables`.

        Raises :class:`FileNotFoundError` when there is no entry and :class:`CacheUnreadable` when it is
        broken (the entry is then removed).
        """
        try:
            meta = json.loads((self.path / _META).read_text())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
            for name, size in meta["files"].items():
                if (self.path / name).stat().st_size != size:
                    raise ValueError(f"{name} has the wrong size")
            shift_ms = round((now - float(meta["now"])) * 1000)
            with gc_paused(), open(self.path / _OBJECTS, "rb") as f:
                workspaces: list[SandboxWorkspace] = _Unpickler(f, shift_ms / 1000).load()
            if [ws.uuid for ws in workspaces] != meta["workspaces"]:
                raise ValueError("workspaces.pickle does not match meta.json")
        except FileNotFoundError as e:
            if e.filename == str(self.path / _META):
                raise
            self._discard()
            raise CacheUnreadable(f"{type(e).__name__}: {e}") from None
        except Exception as e:  # whatever a damaged file makes the readers raise
            self._discard()
            raise CacheUnreadable(f"{type(e).__name__}: {e}") from None
        _touch(self.path / _META)
        return Loaded(self, workspaces, shift_ms)

    # -- writing ---------------------------------------------------------------------------

    def write(self, workspaces: list[SandboxWorkspace], tables: list[dict[str, pa.Table]], now: float) -> None:
        """Write a freshly generated sandbox (``now``: its generation time) under a temporary name, then move
        it into place; a concurrent writer of the same entry may win. Raises OSError when the folder is not
        writable (nothing is left behind)."""
        import pyarrow.ipc as ipc

        tmp = self.root / f".{self.key}.{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp.mkdir(mode=0o700)
            with open(tmp / _OBJECTS, "wb") as f:
                _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(workspaces)
            options = ipc.IpcWriteOptions(compression="zstd")
            for i, ws_tables in enumerate(tables):
                for name in TABLES:
                    with ipc.new_file(tmp / _table_file(i, name), ws_tables[name].schema, options=options) as out:
                        out.write_table(ws_tables[name])
            files = {p.name: p.stat().st_size for p in tmp.iterdir()}
            meta = {"format": FORMAT, "now": now, "workspaces": [ws.uuid for ws in workspaces], "files": files}
            (tmp / _META).write_text(json.dumps(meta, indent=1))
            self._prune()
            with suppress(OSError):  # another process finished the same entry first
                tmp.rename(self.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

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


class Loaded:
    """A cache entry's workspaces, already in memory; its tables still to be loaded into an engine."""

    def __init__(self, cache: SandboxCache, workspaces: list[SandboxWorkspace], shift_ms: int) -> None:
        self.cache = cache
        self.workspaces = workspaces
        self.shift_ms = shift_ms

    def tables(self, engine: Engine) -> None:
        """Create each workspace's database in ``engine`` and load its tables from the entry.

        Raises :class:`CacheUnreadable` (and removes the entry) when a file cannot be read; ``engine`` may
        then hold part of the data (drop those workspaces).
        """
        try:
            for i, ws in enumerate(self.workspaces):
                engine.add_workspace(ws.uuid)
                for table in TABLES:
                    engine.load_file(ws.uuid, table, self.cache.path / _table_file(i, table), self.shift_ms)
        except Exception as e:
            self.cache._discard()
            raise CacheUnreadable(f"{type(e).__name__}: {e}") from None


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
    return f"{workspace}-{table}.arrow"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Creating ~300,000 long-lived objects triggers the cyclic GC hundreds of times for nothing: pause it."""
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
