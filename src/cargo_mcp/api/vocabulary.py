"""The user's words → Cargo's wire values: status synonyms, node-status filters, dates, UUIDs.

Every function either returns the wire value (plus a note when it translated something) or raises
:class:`InputError` with a message that says what was wrong and what to send instead.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cargo_mcp.api.models import BATCH_STATUSES, NODE_FILTER_STATUSES, RUN_STATUSES, ExecutionsFilter
from cargo_mcp.api.requests import UUID_RE, iso
from cargo_mcp.clip import LISTED_MAX, echo

TEXT_MAX = 1000  # characters of a name, id, title, slug or search text: longer is no such value


class InputError(ValueError):
    """A tool argument that cannot be turned into a valid Cargo request."""


RUN_STATUS_SYNONYMS: dict[str, str] = {
    **{s: s for s in RUN_STATUSES},
    "finished": "success",
    "completed": "success",
    "complete": "success",
    "succeeded": "success",
    "successful": "success",
    "succeed": "success",
    "done": "success",
    "ok": "success",
    "failed": "error",
    "failure": "error",
    "failures": "error",
    "fail": "error",
    "errored": "error",
    "errors": "error",
    "canceled": "cancelled",
    "canceling": "cancelling",
    "queued": "pending",
    "waiting": "pending",
    "in_progress": "running",
    "in-progress": "running",
    "started": "running",
    "active": "running",
    "skip": "skipped",
}

BATCH_STATUS_SYNONYMS: dict[str, str] = {
    **{s: s for s in BATCH_STATUSES},
    **{k: v for k, v in RUN_STATUS_SYNONYMS.items() if v in BATCH_STATUSES},
}

NODE_STATUS_SYNONYMS: dict[str, str] = {
    **{s: s for s in NODE_FILTER_STATUSES},
    **{k: v for k, v in RUN_STATUS_SYNONYMS.items() if v in ("success", "error", "pending")},
    "running": "pending",
    "not_run": "absent",
    "not run": "absent",
    "never_ran": "absent",
    "missing": "absent",
    "skipped": "absent",
    "none": "absent",
}


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value.strip()))


def uuid_arg(value: str, field: str) -> str:
    """A lower-cased UUID, or :class:`InputError` naming the field."""
    v = value.strip().lower()
    if not UUID_RE.match(v):
        raise InputError(
            f"{field} must be a UUID like 3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f, got {echo(value)}. "
            "Copy it from a previous answer (list_workflows, get_batch, list_runs)."
        )
    return v


def text_arg(value: str | None, field: str) -> str | None:
    """A text argument (name, id, title, slug) without surrounding spaces, ``None`` when empty; :class:`InputError`
    naming the field for one over TEXT_MAX characters or with a control character (NUL included)."""
    if value is None or not (v := value.strip()):
        return None
    if len(v) > TEXT_MAX:
        raise InputError(f"{field} {echo(v)} is longer than {TEXT_MAX:,} characters: send the value itself.")
    bad = next((i for i, c in enumerate(v) if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise InputError(
            f"{field} {echo(v)} contains the control character U+{ord(v[bad]):04X} at position {bad + 1}: "
            "send it without control characters."
        )
    return v


def run_statuses(values: list[str] | None) -> tuple[list[str] | None, list[str]]:
    """Normalize run status words; returns the wire statuses and notes on what was translated."""
    return _statuses(values, RUN_STATUS_SYNONYMS, RUN_STATUSES, "run")


def batch_statuses(values: list[str] | None) -> tuple[list[str] | None, list[str]]:
    """Normalize batch status words; returns the wire statuses and notes on what was translated."""
    return _statuses(values, BATCH_STATUS_SYNONYMS, BATCH_STATUSES, "batch")


def _statuses(
    values: list[str] | None, synonyms: dict[str, str], known: tuple[str, ...], what: str
) -> tuple[list[str] | None, list[str]]:
    if not values:
        return None, []
    out: list[str] = []
    notes: list[str] = []
    for raw in (part for value in values for part in value.split(",") if part.strip()):  # "success,error" too
        key = raw.strip().lower().replace(" ", "_")
        wire = synonyms.get(key)
        if wire is None:
            raise InputError(
                f"unknown {what} status {echo(raw.strip())} in statuses. Use one of {', '.join(known)} "
                "(synonyms such as 'failed' → error and 'finished' → success are accepted)."
            )
        if wire != key:
            notes.append(f"status {raw!r} was read as {wire!r}")
        if wire not in out:
            out.append(wire)
    return out, notes


def executions_filter(node_status: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
    """Compile ``{"enrich": "error", "score": "absent"}`` into Cargo's ``executionsFilter``.

    A value may also be ``{"status": "error", "contains": "429"}`` (error message or title contains).
    All conditions must hold (AND).
    """
    if not node_status:
        return None, []
    if "groups" in node_status:  # Cargo's own executionsFilter, pasted as is
        return _raw_filter(node_status), ["node_status was read as Cargo's executionsFilter, sent as given"]
    conditions: list[dict[str, Any]] = []
    notes: list[str] = []
    for raw_slug, spec in node_status.items():
        slug = text_arg(raw_slug, "a node_status slug")
        if slug is None:
            raise InputError("node_status has an empty node slug: use the slugs get_workflow_nodes shows.")
        at = f"node_status[{echo(slug)}]"
        contains = None
        if isinstance(spec, dict):
            unknown = set(spec) - {"status", "contains", "value"}
            if unknown or "status" not in spec:
                raise InputError(
                    f"{at} must be a status word or {{'status': ..., 'contains': ...}}, got {echo(repr(spec))}."
                )
            contains, spec = spec.get("contains", spec.get("value")), spec["status"]
            if contains is not None and not isinstance(contains, str | int | float):
                raise InputError(f"{at}['contains'] must be text, got {echo(repr(contains))}.")
            contains = text_arg(str(contains), f"{at}['contains']") if contains is not None else None
        if not isinstance(spec, str):
            raise InputError(f"{at} must be a string such as 'error', got {echo(repr(spec))}.")
        key = spec.strip().lower()
        wire = NODE_STATUS_SYNONYMS.get(key)
        if wire is None:
            raise InputError(
                f"{at} = {echo(spec)} is not a node status. Use one of "
                f"{', '.join(NODE_FILTER_STATUSES)} ('absent' = the node never ran)."
            )
        if wire != key:
            notes.append(f"node_status {slug}={spec!r} was read as {wire!r}")
        cond: dict[str, Any] = {"kind": "node", "nodeSlug": slug, "status": wire}
        if contains:
            cond["value"] = contains
        conditions.append(cond)
    wire_filter = {"conjonction": "and", "groups": [{"conjonction": "and", "conditions": conditions}]}
    ExecutionsFilter.model_validate(wire_filter)
    return wire_filter, notes


def _raw_filter(given: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = ExecutionsFilter.model_validate(given)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise InputError(
            f"node_status looks like Cargo's executionsFilter but {where}: {first['msg']}. Send either "
            '{"<node slug>": "error"} or {"conjonction": "and", "groups": [{"conjonction": "and", "conditions": '
            '[{"kind": "node", "nodeSlug": "<slug>", "status": "error"}]}]}.'
        ) from None
    return parsed.model_dump(mode="json", by_alias=True, exclude_none=True)


def filter_slugs(wire_filter: dict[str, Any] | None) -> list[str]:
    """The node slugs an executionsFilter names."""
    groups = (wire_filter or {}).get("groups", [])
    return list(dict.fromkeys(c["nodeSlug"] for g in groups for c in g.get("conditions", [])))


_RELATIVE = re.compile(
    r"^(?:last\s+|past\s+|-)?(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)(?:\s+ago)?$"
)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def when(value: str, field: str, now: datetime | None = None) -> str:
    """An ISO-8601 UTC timestamp from ISO-8601 input or a relative form (``24h``, ``7d``, ``today``).

    A whole day (``2026-11-30``, ``today``, ``yesterday``) starts at 00:00 UTC; in a ``*_before`` field it
    ends there instead (the next midnight), so ``created_before="2026-11-30"`` includes that day.
    """
    now = now or datetime.now(UTC)
    try:
        return _when(value, field, now)
    except ValueError:
        raise InputError(
            f"{field} = {echo(value)} is not a date (today is {now:%A %Y-%m-%d} UTC).{_instead(value, now)} Send "
            "ISO-8601 (2026-11-24T08:00:00Z or 2026-11-24) or a relative age such as '30m', '24h', '7d', '2w', "
            "'today', 'yesterday'."
        ) from None
    except OverflowError:
        raise InputError(
            f"{field} = {echo(value)} is out of range: send a date between the years 1 and 9999, or a shorter "
            "relative age."
        ) from None


def when_read(value: str, field: str, now: datetime | None = None) -> tuple[str, list[str]]:
    """:func:`when`, and a note saying what a relative form (``yesterday``, ``7d``) was read as."""
    got = when(value, field, now)
    return got, [] if re.match(r"\d{4}-\d\d-\d\d", value.strip()) else [f"{field} {value.strip()!r} was read as {got}"]


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_LAST = {"hour": "1h", "day": "24h", "week": "7d", "month": "30d", "year": "365d"}
_PARTS_OF_DAYS = {"last night": "yesterday", "yesterday evening": "yesterday", "this morning": "today"}


def _instead(value: str, now: datetime) -> str:
    """What to send for a relative date :func:`when` does not read: a weekday's date, a unit's age, the day of a
    part of a day (its whole day: a window starts at 00:00 UTC)."""
    words = value.strip().lower().split()
    said = " ".join(words)
    if said in _PARTS_OF_DAYS:
        return f" For {said} send '{_PARTS_OF_DAYS[said]}' (the whole day, from 00:00 UTC) or an age such as '12h'."
    last = words[-1].rstrip("s") if words else ""
    if last in _WEEKDAYS:
        back = (now.weekday() - _WEEKDAYS.index(last)) % 7 or 7
        day = now.date() - timedelta(days=back)
        return f" For last {last.capitalize()} send '{day.isoformat()}'."
    if last in _LAST and len(words) == 2 and words[0] in ("last", "past", "previous"):
        return f" For the last {last} send '{_LAST[last]}'."
    return ""


def _when(value: str, field: str, now: datetime) -> str:
    v = value.strip().lower()
    if v == "now":
        return iso(now)
    day_end = timedelta(days=1) if field.endswith("_before") else timedelta(0)
    if v == "today":
        return iso(datetime.combine(now.date(), datetime.min.time(), UTC) + day_end)
    if v == "yesterday":
        return iso(datetime.combine(now.date() - timedelta(days=1), datetime.min.time(), UTC) + day_end)
    m = _RELATIVE.match(v)
    if m:
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)[0]]
        return iso(now - timedelta(seconds=seconds))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        d = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time()) + day_end
    else:
        d = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return iso(d if d.tzinfo else d.replace(tzinfo=UTC))


def closest(name: str, known: list[str]) -> str | None:
    """The known name meant by ``name``: the same but for case, else the closest one case-insensitively."""
    by_low = {k.lower(): k for k in reversed(known)}
    low = name.strip().lower()
    close = [low] if low in by_low else difflib.get_close_matches(low, list(by_low), n=1)
    return by_low[close[0]] if close else None


def unknown_names(names: list[str], known: list[str]) -> str:
    """Unknown names echoed, each with the known one it may mean: ``'status' (did you mean 'runStatus'?)``."""
    said = []
    for name in names[:LISTED_MAX]:
        meant = closest(name, known)
        said.append(echo(name) + (f" (did you mean {meant!r}?)" if meant else ""))
    more = len(names) - LISTED_MAX
    return ", ".join(said) + (f" and {more:,} more" if more > 0 else "")


def suggestion(name: str, known: list[str]) -> str:
    """The end of an "unknown X" sentence: the closest known name, or the known names."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known) or 'none'}."
