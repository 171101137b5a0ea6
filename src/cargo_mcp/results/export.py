"""Save a stored result as a CSV or JSON file inside a folder the user allowed, atomically."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results.store import ResultStore, csv_cells

SHARED_SERVER_OFF = (
    "saving files is off on this shared HTTP server (its operator can enable it with CARGO_MCP_EXPORT_DIR, and "
    "for per-caller Cargo tokens also --allow-caller-file-writes). Call download_outputs without save_to: the "
    "whole result is readable as the CSV resource cargo://results/<result_id>, or page it with read_result."
)


def allowed_folders(export_dir: Path | None, client_roots: list[Path], *, narrow_only: bool) -> list[Path]:
    """The folders ``save_to`` may write into.

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
            "workspace roots. Meanwhile call download_outputs without save_to: the whole result is readable as "
            "the CSV resource cargo://results/<result_id>."
        )
    raw = Path(save_to).expanduser()
    candidates = [raw] if raw.is_absolute() else [root / raw for root in roots]
    for path in candidates:
        resolved = path.resolve()
        root = next((r for r in roots if resolved.is_relative_to(r.resolve())), None)
        if root is None:
            continue
        if resolved.is_dir():
            raise InputError(f"save_to {save_to!r} is a folder; give a file name such as {save_to}/results.csv.")
        if not resolved.parent.is_dir():
            raise InputError(f"the folder of save_to {save_to!r} does not exist.")
        if resolved.exists() and not overwrite:
            raise InputError(f"{resolved} already exists; pass overwrite=true to replace it or choose another name.")
        return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise InputError(f"save_to {save_to!r} is outside the allowed folders ({allowed}); save inside one of them.")


def write(store: ResultStore, result_id: str, path: Path, fmt: str) -> int:
    """Write the whole result to ``path`` (temp file + rename: no partial file on failure); return bytes."""
    tmp = path.with_name(f".{path.name}.partial")
    columns, rows = store.iter_rows(result_id)
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            if fmt == "csv":
                writer = csv.writer(out, lineterminator="\r\n")
                writer.writerow(columns)
                writer.writerows(csv_cells(row) for row in rows)
            else:
                out.write("[")
                for i, row in enumerate(rows):
                    out.write(
                        ("," if i else "") + "\n" + json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
                    )
                out.write("\n]\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path.stat().st_size
