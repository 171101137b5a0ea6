"""The benchmark command's own logic: interleaving order, targets and ratios, the tables it renders, and how it
replaces sections of the document. (The figures themselves are measured by `python -m bench`, not here.)"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from bench.interleave import interleaved, quantile, schedule
from bench.journeys import McpPath
from bench.report import Row, Section, Target, render_doc, render_section, write_doc


def test_rounds_run_every_variant_in_the_same_order() -> None:
    order = [name for _, name in schedule(["A", "B", "C"], 3)]
    assert order == ["A", "B", "C"] * 3


def test_a_slow_baseline_keeps_its_place_in_the_rounds_it_runs_in() -> None:
    order = list(schedule(["A", "B", "C"], 4, every={"C": 2}))
    assert order == [(0, "A"), (0, "B"), (0, "C"), (1, "A"), (1, "B"), (2, "A"), (2, "B"), (2, "C"), (3, "A"), (3, "B")]


def test_interleaved_keeps_no_warmup_samples_and_calls_in_round_order() -> None:
    calls: list[str] = []

    def variant(name: str):  # type: ignore[no-untyped-def]
        async def call() -> None:
            calls.append(name)

        return call

    samples = anyio.run(lambda: interleaved({"x": variant("x"), "y": variant("y")}, 3, warmup=2))
    assert calls == ["x", "y"] * 5
    assert {k: len(v) for k, v in samples.items()} == {"x": 3, "y": 3}


def test_quantile() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert quantile(xs, 0.99) == pytest.approx(99.01)
    assert quantile([4.0], 0.99) == 4.0


@pytest.mark.parametrize(
    ("target", "figure", "baseline", "met"),
    [
        (Target("<=", 1.5, "ratio"), 3.0, 2.0, True),
        (Target("<=", 1.5, "ratio"), 3.1, 2.0, False),
        (Target(">=", 50, "speedup"), 10.0, 500.0, True),
        (Target(">=", 50, "speedup"), 10.0, 499.0, False),
        (Target("<", 100), 100.0, None, False),
        (Target("<=", 0), 0.0, None, True),
        (Target("<=", 1.5, "ratio"), 3.0, None, None),
    ],
)
def test_targets(target: Target, figure: float, baseline: float | None, met: bool | None) -> None:
    assert target.met(figure, baseline) is met


def test_table_row_has_figure_baseline_ratio_target_and_verdict() -> None:
    rows = [Row("get_batch over stdio", 3.0, "ms", 2.0, "direct", Target("<=", 1.5, "ratio"), note="1 API call")]
    table = render_section(Section("Per call", rows))
    assert "| get_batch over stdio (1 API call) | 3.00 ms | 2.00 ms (direct) | 1.50× | ≤ 1.5× direct | met |" in table
    assert "Not met" not in table


def test_a_missed_target_carries_its_explanation_and_a_met_one_is_not_profiled() -> None:
    profiled: list[str] = []

    def why() -> str:
        profiled.append("slow")
        return "80% waiting for the API"

    def fast_why() -> str:
        profiled.append("fast")
        return ""

    rows = [
        Row("slow", 30.0, "ms", 10.0, "direct", Target("<=", 1.5, "ratio"), why=why),
        Row("fast", 1.0, "ms", 10.0, "CLI", Target(">=", 5, "speedup"), why=fast_why),
    ]
    table = render_section(Section("Per call", rows))
    assert "| slow | 30.0 ms | 10.0 ms (direct) | 3.00× | ≤ 1.5× direct | **not met** |" in table
    assert "| fast | 1.00 ms | 10.0 ms (CLI) | 0.10× (÷10) | ≥ 5× faster | met |" in table
    assert "- **slow**: 80% waiting for the API" in table
    assert profiled == ["slow"]


def test_a_figure_not_measured_says_so_and_is_not_judged() -> None:
    row = Row("cached start", None, "s", 9.0, "cold", Target("<=", 2), note="not available: no cache")
    table = render_section(Section("Start-up", [row]))
    assert "| cached start (not available: no cache) | not available | 9.00 s (cold) | — | ≤ 2 s | — |" in table


def test_a_section_replaces_its_namesake_and_leaves_the_others_in_place() -> None:
    old = "# B\n\nold header\n\n## One\n\nold one\n\n## Two\n\nold two\n"
    doc = render_doc("# B\n\nnew header\n", ["## Two\n\nnew two\n", "## Three\n\nnew three\n"], old)
    assert doc == "# B\n\nnew header\n\n## One\n\nold one\n\n## Two\n\nnew two\n\n## Three\n\nnew three\n"


def test_a_full_run_rewrites_the_whole_document(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\nold header\n\n## Old script\n\nstale\n\n## Two\n\nold two\n")
    write_doc("# B\n\nnew header\n", ["## Two\n\nnew two\n"], doc, keep_others=False)
    assert doc.read_text() == "# B\n\nnew header\n\n## Two\n\nnew two\n"


@pytest.mark.parametrize(
    ("text", "offset", "shown"),
    [
        ("2,176 row(s); showing 1-100 (next_offset=100)\n[left out: rows[57:] (43 more row(s))]", 0, 57),
        ("showing 58-100 (offset=57)\n[left out: rows[20:] (23 more row(s))]", 57, 77),
        ("showing 78-100 (offset=77)", 77, 100),
        ("2,176 row(s); showing 1,001-1,100 (offset=1000)", 1000, 1100),
    ],
)
def test_the_journey_reads_on_where_the_answer_says_rows_were_left_out(text: str, offset: int, shown: int) -> None:
    path = McpPath(client=None)  # type: ignore[arg-type]
    path.last = text
    assert path.rows_shown(offset) == shown
