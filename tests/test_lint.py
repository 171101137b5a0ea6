"""The linters are part of the suite: ruff on src, tests and bench, and mypy --strict on src and tests (the files
and settings in pyproject's [tool.mypy]), so a finding fails `uv run pytest` like any other test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.installed import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "--no-cache", "src", "tests", "bench"), ("mypy",)],  # mypy keeps its cache in .mypy_cache
    ids=["ruff", "mypy"],
)
def test_no_findings(command: tuple[str, ...]) -> None:
    done = run(*command)
    assert done.returncode == 0, f"`uv run {' '.join(command)}` found:\n{done.stdout}{done.stderr}"
