"""Save a stored result as a CSV or JSON file inside a folder the user allowed, atomically."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results.store import ResultStore, csv_cells


def target(save_to: str, roots: list[Path], overwrite: bool) -> Path:
    """The absolute path to write, or :class:`InputError` when it is outside every allowed root."""
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
