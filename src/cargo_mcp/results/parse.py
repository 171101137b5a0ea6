"""Parse download-outputs files (CSV with a header row, or a JSON array of row objects)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from cargo_mcp.api.errors import CargoApiError


def parse_table(data: bytes, fmt: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (file order) and rows; raises :class:`CargoApiError` on a malformed file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _malformed(fmt, "it is not UTF-8") from None
    if fmt == "csv":
        return _csv(text)
    return _json(text)


def _csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if header is None:
            return [], []
        rows = []
        for n, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                raise _malformed("csv", f"line {n} has {len(values)} fields, the header has {len(header)}")
            rows.append(dict(zip(header, values, strict=True)))
    except csv.Error as e:
        raise _malformed("csv", str(e)) from None
    return header, rows


def _json(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as e:
        raise _malformed("json", f"{e.msg} at position {e.pos}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise _malformed("json", "expected an array of row objects")
    columns: dict[str, None] = {}
    for row in data:
        columns.update(dict.fromkeys(row))
    return list(columns), data


def _malformed(fmt: str, why: str) -> CargoApiError:
    return CargoApiError(
        f"The downloaded {fmt.upper()} file is malformed: {why}.",
        hint="Retry the download; if it persists, try the other format.",
    )
