"""The tool manual as sent in tools/list: JSON schemas without what pydantic generates for nothing.

Everywhere: no generated ``title``s, no ``additionalProperties: true`` (the default), ``anyOf: [X, null]`` as X
with ``"type": [X's type, "null"]``. Input schemas: an optional argument is one left out of ``required``, so
``null`` is not spelled out (it is still accepted). Output schemas validate the structured content; the text
answer is what explains it (docs/answers.md defines its conventions once), so they carry each top-level field's
type and nothing else: no descriptions, ``required`` or defaults (every key is always present), and a nested
model is typed as an object. tests/test_manual.py keeps the sizes in budget.
"""

from __future__ import annotations

import json
from typing import Any

NULL = {"type": "null"}
OBJECT = {"type": "object"}
OUTPUT_NOISE = ("description", "required", "default", "$defs")


def lean(schema: dict[str, Any], *, output: bool) -> dict[str, Any]:
    """``schema`` (a JSON schema object) without generated noise; the input is not changed."""
    if output and "$ref" in schema:
        return dict(OBJECT)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if (key == "additionalProperties" and value is True) or (key == "default" and value is None):
            continue
        if output and key in OUTPUT_NOISE:
            continue
        if key in ("properties", "$defs"):  # names → schemas
            out[key] = {name: lean(sub, output=output) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = lean(value, output=output)
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [lean(sub, output=output) for sub in value]
        else:
            out[key] = value
    return _fold_null(out, keep=output)


def _fold_null(schema: dict[str, Any], keep: bool) -> dict[str, Any]:
    """``anyOf: [X, null]`` with a typed X as X, whose type also allows null when ``keep``."""
    options = schema.get("anyOf")
    if not options or len(options) != 2 or NULL not in options:
        return schema
    (other,) = [o for o in options if o != NULL]
    kind = other.get("type")
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if not isinstance(kind, str) or set(other) & set(rest):
        return schema
    return {**other, "type": [kind, "null"] if keep else kind, **rest}


# The budgets of the manual (issue 14): the whole tools/list result, and the part a model reads.
TOTAL_BUDGET = 24_000
READ_BUDGET = 12_000


def size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON, as it goes over the wire."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def sizes(listed: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Per tool of a tools/list result (wire form): its bytes, and those of its description and input schema."""
    return {t["name"]: (size(t), size(t.get("description", "")) + size(t["inputSchema"])) for t in listed["tools"]}
