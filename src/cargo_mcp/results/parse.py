"""Stream rows out of download-outputs files (CSV with a header row, or a JSON array of row objects).

Both readers hold one row at a time, so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cargo_mcp.api.errors import CargoApiError

CHUNK = 256 * 1024


def read_rows(path: Path, fmt: str) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The file's columns and an iterator over its rows; malformed content raises :class:`CargoApiError`."""
    if fmt == "csv":
        return _csv(path)
    return _json(path)


def _csv(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    handle = path.open("r", encoding="utf-8-sig", newline="")
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as e:
        handle.close()
        raise _malformed("csv", str(e)) from None
    if header is None:
        handle.close()
        return [], iter(())

    def rows() -> Iterator[dict[str, Any]]:
        with handle:
            try:
                for values in reader:
                    if not values:
                        continue
                    if len(values) != len(header):
                        raise _malformed(
                            "csv", f"line {reader.line_num} has {len(values)} fields, the header has {len(header)}"
                        )
                    yield dict(zip(header, values, strict=True))
            except (csv.Error, UnicodeDecodeError) as e:
                raise _malformed("csv", str(e)) from None

    return header, rows()


def _json(path: Path) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """A JSON array of objects, decoded element by element; columns come from the first row."""
    items = _json_array(path)
    first = next(items, None)
    if first is None:
        return [], iter(())

    def rows() -> Iterator[dict[str, Any]]:
        yield first
        yield from items

    return list(first), rows()


def _json_array(path: Path) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    with path.open("r", encoding="utf-8-sig") as handle:
        buf = _fill(handle, "")
        pos = _skip(buf, 0)
        if not buf[pos:].startswith("["):
            raise _malformed("json", "expected an array of row objects")
        pos += 1
        first = True
        while True:
            buf, pos = _compact(handle, buf, pos)
            pos = _skip(buf, pos)
            if buf[pos : pos + 1] == "]":
                return
            if not first:
                if buf[pos : pos + 1] != ",":
                    raise _malformed("json", f"expected ',' or ']' near {buf[pos : pos + 20]!r}")
                pos = _skip(buf, pos + 1)
            first = False
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as e:
                    more = handle.read(CHUNK)
                    if not more:
                        raise _malformed("json", f"{e.msg} (the file ends early)") from None
                    buf += more
            if not isinstance(obj, dict):
                raise _malformed("json", "expected an array of row objects")
            pos = end
            yield obj


def _fill(handle: io.TextIOBase, buf: str) -> str:
    return buf + handle.read(CHUNK)


def _compact(handle: io.TextIOBase, buf: str, pos: int) -> tuple[str, int]:
    buf = buf[pos:]
    if len(buf) < CHUNK:
        buf = _fill(handle, buf)
    return buf, 0


def _skip(buf: str, pos: int) -> int:
    while pos < len(buf) and buf[pos] in " \t\r\n":
        pos += 1
    return pos


def _malformed(fmt: str, why: str) -> CargoApiError:
    return CargoApiError(
        f"The downloaded {fmt.upper()} file is malformed: {why}.",
        hint="Retry the download; if it persists, try the other format.",
    )
