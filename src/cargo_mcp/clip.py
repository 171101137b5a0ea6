"""Echoing a caller's input in a message: quoted, escaped and clipped, so a huge argument cannot make a huge error."""

from __future__ import annotations

ECHO_MAX = 80
LISTED_MAX = 10


def echo(value: str, most: int = ECHO_MAX) -> str:
    """``value`` as a quoted literal (control, BiDi and zero-width characters escaped), cut after ``most``
    characters with its full length noted: ``'aaaa…'… (5,000 characters)``."""
    if len(value) <= most:
        return repr(value)
    return f"{value[:most]!r}… ({len(value):,} characters)"


def shorten(text: str, most: int) -> str:
    """``text`` cut to about ``most`` characters, keeping its start and its end (where a message names its code)."""
    if len(text) <= most:
        return text
    tail = most // 5
    return f"{text[: most - tail]} … ({len(text) - most:,} characters left out) … {text[-tail:]}"


def listing(values: list[str], most: int = LISTED_MAX) -> str:
    """The first ``most`` values, each echoed, and how many more there are: ``'a', 'b' and 3 more``."""
    shown = ", ".join(echo(v) for v in values[:most])
    return f"{shown} and {len(values) - most:,} more" if len(values) > most else shown
