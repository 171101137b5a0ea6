"""The benchmark document: rows with figure, baseline, ratio, target and verdict, one table per theme.

`render_section` draws one theme; `write_doc` puts sections into docs/benchmarks.md, replacing those of the
same title and keeping the others (so `--only THEME` updates one theme).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

_OPS = {"<=": "≤", "<": "<", ">=": "≥", "==": "="}


@dataclass(frozen=True)
class Target:
    """What a figure must satisfy: ``op`` ``value`` applied to the figure, or to the ratio figure/baseline
    (``on="ratio"``), or to the speed-up baseline/figure (``on="speedup"``)."""

    op: str
    value: float
    on: str = "figure"
    text: str = ""  # how the target reads in the table; default derived from op, value and the row's unit

    def met(self, figure: float, baseline: float | None) -> bool | None:
        """True/False, or None when the quantity it applies to cannot be computed."""
        if self.on == "figure":
            x: float | None = figure
        elif baseline is None or baseline == 0 or figure == 0:
            x = None
        else:
            x = figure / baseline if self.on == "ratio" else baseline / figure
        if x is None:
            return None
        return {"<=": x <= self.value, "<": x < self.value, ">=": x >= self.value, "==": x == self.value}[self.op]

    def describe(self, unit: str, baseline_name: str) -> str:
        if self.text:
            return self.text
        v = f"{self.value:,g}"
        if self.on == "ratio":
            return f"{_OPS[self.op]} {v}× {baseline_name}".rstrip()
        if self.on == "speedup":
            return f"{_OPS[self.op]} {v}× faster"
        return f"{_OPS[self.op]} {v} {unit}".rstrip()


@dataclass
class Row:
    """One measured figure beside its baseline. ``why`` (text, or a callable giving it) explains a missed
    target from a profile; it is only evaluated when the target is not met."""

    name: str
    figure: float | None  # None: not measured (``note`` says why)
    unit: str = ""
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None
    note: str = ""
    why: str | Callable[[], str] = ""

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.baseline:
            return None
        return self.figure / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None or self.figure is None:
            return None
        return self.target.met(self.figure, self.baseline)


@dataclass
class Section:
    """One theme: its rows, the text around the table, and the conditions it was measured in."""

    title: str
    rows: list[Row] = field(default_factory=list)
    intro: str = ""
    notes: list[str] = field(default_factory=list)
    stamp: str = ""


def fmt(value: float, unit: str = "") -> str:
    """A figure with its unit, at a precision that suits its size."""
    if unit == "B":
        return f"{value:,.0f} B"
    if unit in ("ms", "s", "MB", "KB", "/s", "×") or not unit:
        a = abs(value)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 or a == 0 else 3
        text = f"{value:,.{digits}f}"
        return f"{text}{unit}" if unit in ("×", "/s") else f"{text} {unit}".rstrip()
    return f"{value:,.0f} {unit}" if float(value).is_integer() else f"{value:,.2f} {unit}"


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio == 0:
        return "0×"
    if ratio < 1:
        return f"{ratio:.2f}× (÷{1 / ratio:,.0f})" if ratio < 0.5 else f"{ratio:.2f}×"
    return f"{ratio:,.2f}×" if ratio < 100 else f"{ratio:,.0f}×"


def verdict(met: bool | None) -> str:
    return "—" if met is None else "met" if met else "**not met**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_section(section: Section) -> str:
    """The theme as markdown: heading, stamp, intro, the table, notes, and an explanation per missed target."""
    out = [f"## {section.title}", ""]
    if section.stamp:
        out += [section.stamp, ""]
    if section.intro:
        out += [section.intro.strip(), ""]
    out += ["| Measurement | Figure | Baseline | Ratio | Target | Met |", "|---|---:|---:|---:|---|---|"]
    missed: list[str] = []
    for r in section.rows:
        figure = fmt(r.figure, r.unit) if r.figure is not None else "not available"
        if r.baseline is not None:
            baseline = f"{fmt(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline_name else fmt(r.baseline, r.unit)
        else:
            baseline = "—"
        target = r.target.describe(r.unit, r.baseline_name) if r.target else "—"
        name = f"{r.name} ({r.note})" if r.note else r.name
        cells = (name, figure, baseline, ratio_text(r.ratio), target, verdict(r.met))
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if r.met is False:
            why = r.why() if callable(r.why) else r.why
            missed.append(f"- **{r.name}**: {why or 'no profile recorded.'}")
    if section.notes:
        out += ["", *(n.strip() for n in section.notes)]
    if missed:
        out += ["", "Not met, and where the time or memory goes:", "", *missed]
    return "\n".join(out).rstrip() + "\n"


def render_doc(header: str, sections: Sequence[str], existing: str = "") -> str:
    """``header`` then the sections; sections of ``existing`` whose titles are not among ``sections`` stay, in
    their place."""
    new = {_title(s): s for s in sections}
    kept = _split(existing)[1] if existing else []
    merged: list[str] = []
    for s in kept:
        t = _title(s)
        merged.append(new.pop(t) if t in new else s)
    merged += new.values()
    return header.rstrip() + "\n\n" + "\n".join(s.rstrip() + "\n" for s in merged)


def header_of(existing: str) -> str:
    return _split(existing)[0]


def write_doc(header: str, sections: Sequence[str], path: Path = DOC, *, keep_others: bool = True) -> None:
    """Write the document; ``keep_others``: keep the existing sections not among ``sections`` (else drop them)."""
    existing = path.read_text() if keep_others and path.exists() else ""
    path.write_text(render_doc(header, sections, existing).rstrip() + "\n")


def _split(text: str) -> tuple[str, list[str]]:
    parts = re.split(r"(?m)^(?=## )", text)
    return parts[0], [p for p in parts[1:] if p.strip()]


def _title(section: str) -> str:
    return section.splitlines()[0].removeprefix("## ").strip()
