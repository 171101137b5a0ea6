"""Echoing a caller's input in a message: quoted, escaped and clipped, so a huge argument cannot make a huge error."""

from __future__ import annotations

ECHO_MAX = 80


def echo(value: str, most: int = ECHO_MAX) -> str:
    """``value`` as a quoted literal (control, BiDi and zero-width characters escaped), cut after ``most``
    characters with its full length noted: ``'aaaa…'… (5,000 characters)``."""
    if len(value) <= most:
        return repr(value)
    return f"{value[:most]!r}… ({len(value):,} characters)"
