"""The benchmarks: `uv run python -m bench` measures every theme and rewrites docs/benchmarks.md."""
