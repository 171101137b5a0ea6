"""Save a stored result as a CSV or JSON file inside a folder the user allowed, atomically.

The file is written under a random temporary name created exclusively (never following a link) in the
folder opened once as a directory descriptor, and renamed into place relative to that descriptor. The
folder's real path is checked again just before the rename: when it was swapped for a link or another
folder meanwhile, nothing is written and the call fails.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.clip import echo
from cargo_mcp.results.store import ResultStore, csv_cells

PATH_MAX_CHARS = 4096
CHECK_EVERY = 1000  # rows between two calls of write()'s ``check``
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# Where the platform can open, rename and stat relative to a directory descriptor (not on Windows).
_AT = {os.open, os.rename, os.stat, os.unlink} <= os.supports_dir_fd
SHARED_SERVER_OFF = (
    "saving files is off on this shared HTTP server (its operator can enable it with CARGO_MCP_EXPORT_DIR, and "
    "for per-caller Cargo tokens also --allow-caller-file-writes), so save_result cannot write here. The whole "
    "result is readable as the CSV resource cargo://results/<result_id>, or page it with read_result."
)


def allowed_folders(export_dir: Path | None, client_roots: list[Path], *, narrow_only: bool) -> list[Path]:
    """The folders save_result may write into.

    A client root that is a whole file system (``/``, ``C:\\``) is refused. Over HTTP (``narrow_only``) the
    client's roots may only narrow ``export_dir``: the roots inside it, else ``export_dir`` itself (roots
    elsewhere are paths on the client's machine), and without ``export_dir`` nothing may be written. On stdio
    the client's roots are the user's own folders and count beside ``export_dir``.
    """
    roots = [r.resolve() for r in client_roots if r.resolve() != Path(r.resolve().anchor)]
    if not narrow_only:
        return ([export_dir] if export_dir else []) + roots
    if export_dir is None:
        return []
    inside = [r for r in roots if r.is_relative_to(export_dir.resolve())]
    return inside or [export_dir]


def target(save_to: str, roots: list[Path], overwrite: bool, *, shared: bool = False) -> Path:
    """The absolute path to write, or :class:`InputError` when it is outside every allowed root."""
    if not roots and shared:
        raise InputError(SHARED_SERVER_OFF)
    if not roots:
        raise InputError(
            "saving files is not enabled for this server. Ask the user to add "
            '"CARGO_MCP_EXPORT_DIR": "<folder>" to this server\'s "env" in their MCP client configuration '
            "(claude_desktop_config.json, .cursor/mcp.json, …) and restart it, or use a client that shares its "
            "workspace roots. Meanwhile the whole result is readable as the CSV resource "
            "cargo://results/<result_id>."
        )
    if "\x00" in save_to:
        raise InputError(f"path {echo(save_to)} contains a NUL character; give a file name such as results.csv.")
    if len(save_to) > PATH_MAX_CHARS:
        raise InputError(
            f"path {echo(save_to)} is longer than {PATH_MAX_CHARS:,} characters; give a short file name "
            "such as results.csv."
        )
    try:
        return _target(save_to, roots, overwrite)
    except OSError as e:  # a name too long for the file system, a folder without access, …
        raise InputError(f"path {echo(save_to)} cannot be used: {e.strerror or e}; choose another name.") from None


def _target(save_to: str, roots: list[Path], overwrite: bool) -> Path:
    raw = Path(save_to).expanduser()
    candidates = [raw] if raw.is_absolute() else [root / raw for root in roots]
    for path in candidates:
        resolved = path.resolve()
        root = next((r for r in roots if resolved.is_relative_to(r.resolve())), None)
        if root is None:
            continue
        if resolved.is_dir():
            raise InputError(
                f"path {echo(save_to)} is a folder; give a file name inside it, such as "
                f"{echo(save_to.rstrip('/') + '/results.csv')}."
            )
        if not resolved.parent.is_dir():
            raise InputError(f"the folder of path {echo(save_to)} does not exist.")
        if resolved.exists() and not overwrite:
            raise InputError(
                f"{echo(str(resolved))} already exists; choose another name, or pass overwrite=true to replace it "
                "(ask the user first: the file is lost)."
            )
        return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise InputError(f"path {echo(save_to)} is outside the allowed folders ({allowed}); save inside one of them.")


def write(
    store: ResultStore,
    result_id: str,
    path: Path,
    fmt: str,
    *,
    overwrite: bool = False,
    check: Callable[[], None] = lambda: None,
) -> int:
    """Write the whole result to ``path`` (from :func:`target`) atomically; return its size in bytes.

    ``check`` is called now and then while writing (it may raise to abandon the file, e.g. on cancel).
    On any failure nothing is left: no partial file, no file outside the folder.
    """
    try:
        with _Folder(path.parent) as folder, store.rows_of(result_id) as (columns, rows):
            tmp = f".{path.name[:40]}.{secrets.token_hex(8)}.partial"  # short: a long name still fits NAME_MAX
            fd = folder.create(tmp)
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                    _rows(out, fmt, columns, rows, check)
                    out.flush()
                    os.fsync(out.fileno())
                    size = os.fstat(out.fileno()).st_size
                folder.check()
                if not overwrite and folder.exists(path.name):
                    raise InputError(
                        f"{echo(str(path))} was created by someone else while saving; nothing was written. "
                        "Pass overwrite=true to replace it or choose another name."
                    )
                folder.replace(tmp, path.name)
            except BaseException:
                folder.unlink(tmp)
                raise
    except OSError as e:
        raise InputError(
            f"could not write {echo(str(path))}: {e.strerror or e}; nothing was written. Check the folder "
            "(free space, permissions) and save again, or save under another name."
        ) from None
    return size


def _rows(out: IO[str], fmt: str, columns: list[str], rows: Iterator[list[Any]], check: Callable[[], None]) -> None:
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
    else:
        out.write("[")
    for i, row in enumerate(rows):
        if i % CHECK_EVERY == 0:
            check()
        if fmt == "csv":
            writer.writerow(csv_cells(row))
        else:
            out.write(("," if i else "") + "\n" + json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
    if fmt != "csv":
        out.write("\n]\n")


class _Folder:
    """The export folder, opened once; :meth:`check` fails unless its path still leads to that same folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if os.path.realpath(path) != str(path):  # the open below refuses a link only as the last component
            raise self._moved()
        self.fd = os.open(path, _FOLDER) if _AT else None
        st = os.fstat(self.fd) if self.fd is not None else os.stat(path, follow_symlinks=False)
        self._id = st.st_dev, st.st_ino
        try:
            self.check()  # the folder opened is the one at the path
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def check(self) -> None:
        if os.path.realpath(self.path) != str(self.path):
            raise self._moved()
        st = os.stat(self.path, follow_symlinks=False)
        if (st.st_dev, st.st_ino) != self._id:
            raise self._moved()

    def _moved(self) -> InputError:
        real = os.path.realpath(self.path)
        where = f" (it now leads to {echo(real)})" if real != str(self.path) else ""
        return InputError(
            f"the folder {echo(str(self.path))} was replaced or turned into a link while saving{where}; "
            "nothing was written. Check the folder and save again."
        )

    def create(self, name: str) -> int:
        """A new file opened for writing: exclusive, so an existing file or link of that name is never followed."""
        try:
            if self.fd is not None:
                return os.open(name, _CREATE, 0o666, dir_fd=self.fd)
            return os.open(self.path / name, _CREATE, 0o666)
        except FileExistsError:
            raise InputError(
                f"a file named {echo(name)} already exists in {echo(str(self.path))} (a temporary name nobody "
                "else should use: possibly a planted link); nothing was written. Remove it and save again."
            ) from None

    def exists(self, name: str) -> bool:
        try:
            if self.fd is not None:
                os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            else:
                os.stat(self.path / name, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def replace(self, src: str, dst: str) -> None:
        if self.fd is not None:
            os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        else:
            os.replace(self.path / src, self.path / dst)

    def unlink(self, name: str) -> None:
        with suppress(FileNotFoundError):
            if self.fd is not None:
                os.unlink(name, dir_fd=self.fd)
            else:
                os.unlink(self.path / name)
